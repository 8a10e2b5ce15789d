//! # mtq-mt5: the MetaTrader 5 connector
//!
//! MT5's programs can only open *outbound* sockets, so MTQ listens on 127.0.0.1 and the
//! `MtqBridge` Expert Advisor (source in `bridge/MtqBridge.mq5`) connects to it and relays
//! requests to the terminal's trade and market functions. The wire protocol (version 1,
//! newline-delimited JSON) is specified in `docs/mt5-bridge.md`.
//!
//! This crate owns:
//! - [`Mt5Broker`], which implements [`mtq_connector::Broker`]: authentication by a shared
//!   [`Token`], one terminal at a time, request/reply correlation with timeouts, heartbeats and
//!   dead-peer detection, and reconnection. An order whose reply was lost is reported as an unknown
//!   outcome ([`mtq_connector::BrokerError::outcome_unknown`]) and never sent again.
//! - Every trading decision: symbol names with broker suffixes, server time converted to UTC,
//!   the filling mode from the symbol's flags and execution mode, normalised volumes and prices,
//!   stops and freeze level checks, the magic number and the client order id in the comment.
//! - With the `fake` feature, [`fake::FakeTerminal`]: a scriptable terminal speaking the real
//!   protocol over TCP, for tests here and in other crates.
//!
//! It does not retry or reconcile (the orchestrator's order executor does), and it does not
//! decide what to trade.
//!
//! ```no_run
//! use std::time::Duration;
//! use mtq_connector::Broker;
//! use mtq_mt5::{Mt5Broker, Mt5Config, Token};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = Mt5Config::new(5555, Token::new("a-long-shared-secret")?).with_suffix(".m");
//! let broker = Mt5Broker::listen(cfg).await?;
//! let hello = broker.wait_connected(Duration::from_secs(60)).await?;
//! println!("terminal build {} on {}", hello.terminal_build, hello.server);
//! let account = broker.account().await?;
//! println!("{} {}", account.balance, account.currency);
//! # Ok(())
//! # }
//! ```

mod broker;
mod codec;
mod config;
mod error;
mod events;
mod protocol;
mod redact;
mod refusals;
mod session;
mod symbols;
mod trade;
mod wire;

#[cfg(feature = "fake")]
pub mod fake;

pub use broker::{Mt5Broker, OrderCheck, ResolvedSymbol};
pub use codec::{DEFAULT_MAX_LINE, DecodeError, Frame, Inbound, InboundKind, LineDecoder, decode};
pub use config::{Mt5Config, SymbolMapping, Token};
pub use error::Mt5Error;
pub use events::{Mt5Event, TradeTransaction};
pub use protocol::{Hello, PROTOCOL_VERSION, RequestKind};
pub use refusals::RefusalReason;
pub use session::SessionStats;
pub use symbols::SymbolSource;
