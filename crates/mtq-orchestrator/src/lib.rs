//! # mtq-orchestrator: the trader
//!
//! Owns the path from a decision to an order at the broker, and the bookkeeping that makes it
//! safe: the [`OrderExecutor`] writes an [`Intent`] for every order *before* sending it, gives it
//! a client order id that travels in the MT5 comment with the account's magic number, retries
//! only when the broker says the order did not execute (requotes with a fresh price, no
//! connection, too many requests), and resolves an unknown outcome (timeout, connection lost
//! after sending) by reading the broker's deals, orders and positions, never by resending.
//! The same signal always yields the same id ([`signal_order_id`]) and the [`IntentStore`] keeps
//! ids unique, so one signal can never become two orders.
//!
//! It does not decide what to trade (strategies), how much (risk) or persist anything itself:
//! the store is a trait the database implements.
//!
//! ```
//! use std::sync::Arc;
//! use mtq_core::{Bar, ClientOrderId, ManualClock, OrderRequest, Side, Symbol, SymbolSpec, Timeframe};
//! use mtq_orchestrator::{IntentState, MemoryIntentStore, OrderExecutor, RetryPolicy, Submission};
//! use mtq_sim::{SimBroker, SimConfig, Simulator};
//! use rust_decimal_macros::dec;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let sim = Simulator::new(SimConfig::default(), [SymbolSpec::builtin("EURUSD").unwrap()]).unwrap();
//! let broker = Arc::new(SimBroker::new(sim));
//! let t = "2024-03-04T10:00:00Z".parse().unwrap();
//! let bar = Bar { time: t, open: 1.1, high: 1.1, low: 1.1, close: 1.1, tick_volume: 1, real_volume: 0, spread: 10 };
//! broker.push_bar(&Symbol::new("EURUSD").unwrap(), Timeframe::M5, bar).unwrap();
//!
//! let executor = OrderExecutor::new(broker, Arc::new(MemoryIntentStore::new()), Arc::new(ManualClock::new(t)), RetryPolicy::default());
//! let id = ClientOrderId::new("mtq-0001").unwrap();
//! let order = OrderRequest::market(id, Symbol::new("EURUSD").unwrap(), Side::Buy, dec!(0.1));
//! let first = executor.submit(order.clone()).await.unwrap();
//! assert!(matches!(first.intent().state, IntentState::Filled { .. }));
//! // The same id again is caught before it reaches the broker.
//! assert!(matches!(executor.submit(order).await.unwrap(), Submission::Duplicate(_)));
//! # });
//! ```

pub mod config;
pub mod control;
mod core;
mod executor;
mod ids;
pub mod live;
mod market_wait;
pub mod paper;
mod patient;
mod reason;
mod reconcile;
mod retry;
mod store;

pub use control::{
    Actor, ControlCommand, ControlHandle, ControlOutcome, ControlPort, ControlRefusal,
    ControlRequest, LiveQuote, LiveSnapshot, Role, SignalTest, SymbolState, TradingState,
    control_channel,
};
pub use core::{
    Command, CoreError, CoreEvent, EntryRefusal, MarketView, QUIET_CHUNK, QuietBars, Quote,
    TraderCore,
};
pub use executor::{ActionResult, ExecError, OrderExecutor, Submission};
pub use ids::{MAX_PREFIX_LEN, check_prefix, signal_order_id};
pub use live::{
    CollectEvents, ConnectionJournal, ConnectionWatch, CycleReport, EventOutlet, FleetMember,
    LinkProbe, LiveError, LiveHealth, LiveOptions, LiveTrader, MANUAL_ID_SEPARATOR,
    PortfolioBreach, PortfolioGuard, RiskMemory, SessionSummary, StartupReport, TradeLedger,
    currency_exposure, manual_order_id, portfolio_breach, run_live, watch_connection,
};
pub use patient::{TransientRetry, is_transient};
pub use reason::CommandReason;
pub use reconcile::find_at_broker;
pub use retry::RetryPolicy;
pub use store::{
    Inserted, Intent, IntentState, IntentStore, MemoryIntentStore, StoreCause, StoreError,
};
