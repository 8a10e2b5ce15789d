//! # mtq: the MTQ trading platform as one library
//!
//! Re-exports the public API of every MTQ crate under one name, for Rust tools that embed a
//! trader, run backtests or read MTQ's database, and adds what joins the trader to the
//! database: [`db::DbIntentStore`] (order intents written before each order is sent, so a restart
//! reconciles instead of resending), [`db::DbLedger`] (what the records show open, so a restart
//! restores trade records a crash lost) and [`db::DbOutlet`] (the trader's events into the
//! batching writer).
//!
//! ```
//! use std::sync::Arc;
//! use mtq::orchestrator::config::{self, ConfigSource, DEFAULT_CONFIG};
//! use mtq::orchestrator::paper::{run_paper_session, CollectEvents, PaperOptions};
//! use mtq::orchestrator::MemoryIntentStore;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let cfg = config::load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[]).unwrap();
//! let opts = PaperOptions { weeks: 1, kill_file: None, ..PaperOptions::default() };
//! let events = Arc::new(CollectEvents::default());
//! let summary = run_paper_session(Arc::new(cfg), &opts, Arc::new(MemoryIntentStore::new()), events.clone())
//!     .await
//!     .unwrap();
//! assert!(summary.orders_filled > 0);
//! # });
//! ```

pub mod accounts;
pub mod db;

pub use mtq_analytics as analytics;
pub use mtq_backtest as backtest;
pub use mtq_connector as connector;
pub use mtq_core as core;
pub use mtq_indicators as indicators;
pub use mtq_mt5 as mt5;
pub use mtq_orchestrator as orchestrator;
pub use mtq_persistence as persistence;
pub use mtq_risk as risk;
pub use mtq_sim as sim;
pub use mtq_strategies as strategies;

/// The names most programs need.
pub mod prelude {
    pub use mtq_connector::{BarRange, Broker, BrokerError};
    pub use mtq_core::{
        AccountInfo, Bar, Clock, Decimal, DomainEvent, EventKind, ManualClock, OrderRequest,
        Position, Side, Symbol, SymbolSpec, SystemClock, Tick, Timeframe,
    };
    pub use mtq_orchestrator::config::{AppConfig, ConfigSource};
    pub use mtq_orchestrator::{
        EventOutlet, LiveOptions, LiveTrader, MemoryIntentStore, OrderExecutor, SessionSummary,
        TraderCore, run_live,
    };
    pub use mtq_persistence::Store;
    pub use mtq_sim::{SimBroker, SimConfig, Simulator};

    pub use crate::db::{DbIntentStore, DbLedger, DbOutlet};
}
