//! # mtq-sim: a simulated MT5 forex broker
//!
//! Owns the venue MTQ backtests on, paper-trades against, and tests everything above the
//! connector with. It behaves like an MT5 forex broker, return codes included:
//!
//! - **Accounts**: hedging or netting; balance, equity, margin, free margin, margin level; P&L,
//!   commission, swap and margin converted into the account currency from the simulated quotes
//!   (USDJPY or EURGBP in a USD account), or from fallback rates.
//! - **Prices**: bar prices are bids; ask = bid + the bar's spread (or a configured one).
//! - **Fills**: market orders at ask/bid with a slippage model (none, fixed, seeded random);
//!   limit, stop and stop-limit orders trigger along the intrabar path, and a gap through the
//!   trigger fills at the open (see [`IntrabarPath`] and the `engine::market` docs).
//! - **SL/TP** inside each bar along the path, optionally assuming the stop first; a gap through
//!   the stop fills at the open.
//! - **Costs**: commission per lot or as a rate of notional, per side; swap at the server's
//!   midnight rollover, triple on the spec's day (Wednesday), none for weekend rollovers.
//! - **Stop-out** at [`SimConfig::stop_out_level`], checked at every bar close and tick: the
//!   biggest loser goes first.
//! - **Validation** with MT5's codes: 10014 volume, 10015 price, 10016 stops, 10017/10042-10044
//!   trade mode, 10018 market closed, 10019 no money, 10022 expiration, 10026/10027 autotrading,
//!   10029 frozen, 10030 filling, 10033/10040 limits, 10036 unknown position.
//! - **Faults** (async path only): seeded requotes, rejections, latency, disconnects before or
//!   after sending, and timeouts after the order executed.
//!
//! It does not model partial fills from liquidity, hedged-margin discounts, or MT5's "reopen"
//! swap modes.
//!
//! Two ways in: [`Simulator`], synchronous and allocation-free per bar, for the backtester; and
//! [`SimBroker`], the same engine behind `Arc<dyn Broker>`.
//!
//! ```
//! use mtq_core::{Bar, ClientOrderId, OrderRequest, Side, Symbol, SymbolSpec, Retcode};
//! use mtq_sim::{SimConfig, Simulator};
//! use rust_decimal_macros::dec;
//!
//! let eurusd = SymbolSpec::builtin("EURUSD").unwrap();
//! let mut sim = Simulator::new(SimConfig::default(), [eurusd]).unwrap();
//! let id = sim.symbol_id(&Symbol::new("EURUSD").unwrap()).unwrap();
//! let bar = |t: i64, o, h, l, c| Bar {
//!     time: chrono::DateTime::from_timestamp(t, 0).unwrap(),
//!     open: o, high: h, low: l, close: c, tick_volume: 100, real_volume: 0, spread: 10,
//! };
//! sim.on_bar(id, &bar(1_700_000_000, 1.1000, 1.1010, 1.0990, 1.1005));
//!
//! // Buy 0.10 lot at the ask (1.10050 + 10 points) with a stop 20 pips below.
//! let order = OrderRequest {
//!     sl: Some(dec!(1.0985)),
//!     ..OrderRequest::market(ClientOrderId::new("demo-1").unwrap(), Symbol::new("EURUSD").unwrap(), Side::Buy, dec!(0.10))
//! };
//! let filled = sim.send_order(&order).unwrap();
//! assert_eq!((filled.retcode, filled.price), (Retcode::Done, dec!(1.1006)));
//!
//! // A bar that trades down through the stop closes the position at the stop: -21 pips, -$21.
//! sim.on_bar(id, &bar(1_700_000_060, 1.1004, 1.1006, 1.0970, 1.0980));
//! assert_eq!(sim.open_position_count(), 0);
//! assert_eq!(sim.balance(), dec!(9979));
//!
//! // Volumes off the 0.01 step are refused with MT5's code.
//! let bad = OrderRequest { volume: dec!(0.015), ..order };
//! assert_eq!(sim.send_order(&bad).unwrap_err().retcode(), Some(Retcode::InvalidVolume));
//! ```

mod broker;
mod config;
mod engine;
mod error;
pub mod synthetic;

pub use broker::SimBroker;
pub use config::{
    Commission, FaultConfig, IntrabarPath, MarketHours, SimConfig, SimSymbol, Slippage,
    WeeklyCalendar,
};
pub use engine::{AccountView, QuietView, SimEvent, Simulator, SymbolId};
pub use error::SimError;
