//! # mtq-strategies: MTQ's strategies
//!
//! Owns the [`Strategy`] trait, every strategy the seed systems run, their stop-loss and
//! take-profit rules ([`StopsConfig`]), the signal [`filters`] that wrap any strategy, and the
//! [`registry`] that builds one from config by name. For optimisers it also owns the [`shared`]
//! indicator series: computed once over one bar series and read by every parameter set's
//! strategy ([`registry::build_entry_shared`]).
//!
//! It does **not** size, check or send orders (that is `mtq-risk` and the trader core), read a
//! clock, or do I/O. Indicators come from `mtq-indicators`' streaming handles, so a closed bar
//! costs O(1) and nothing allocates after warm-up except a signal's reason.
//!
//! ```
//! use mtq_core::{Bar, SignalKind, SymbolSpec, Timeframe};
//! use mtq_strategies::{Context, registry};
//! use serde_json::json;
//!
//! // A TradingMTQ `currencies` entry; risk keys such as `risk_percent` are ignored here.
//! let entry = json!({"strategy_type": "crossover", "fast_period": 2, "slow_period": 4,
//!                    "sl_pips": 30, "tp_pips": 60, "risk_percent": 1.0});
//! let mut strategy = registry::build_entry(&entry)?;
//!
//! let spec = SymbolSpec::builtin("EURUSD").unwrap();
//! let ctx = Context::new(&spec, Timeframe::H1);
//! let closes = [1.1000, 1.0990, 1.0980, 1.0970, 1.0960, 1.1000, 1.1030];
//! let mut signals = Vec::new();
//! for (i, &c) in closes.iter().enumerate() {
//!     let bar = Bar { time: chrono::DateTime::UNIX_EPOCH + chrono::Duration::hours(i as i64),
//!                     open: c, high: c + 0.0005, low: c - 0.0005, close: c,
//!                     tick_volume: 100, real_volume: 0, spread: 10 };
//!     if let Some(s) = strategy.on_bar(&bar, &ctx) {
//!         signals.push((i, s));
//!     }
//! }
//! let (i, buy) = &signals[0];
//! assert_eq!((*i, buy.kind), (5, SignalKind::Buy)); // SMA(2) 1.0980 over SMA(4) 1.09775
//! assert!((buy.sl.unwrap() - (1.1000 - 0.0030)).abs() < 1e-9); // 30 pips below the close
//! # Ok::<(), mtq_strategies::StrategyError>(())
//! ```
//!
//! Unknown names are refused with the list of valid ones, and bad parameters name the field and
//! value:
//!
//! ```
//! let err = mtq_strategies::registry::build("crossover", &serde_json::json!({"fast_period": "x"}))
//!     .unwrap_err().to_string();
//! assert!(err.contains("`fast_period` must be a whole number of 0 or more, got \"x\""), "{err}");
//! ```

mod config;
mod error;
pub mod filters;
mod higher;
mod params;
pub mod registry;
pub mod shared;
pub mod stops;
pub mod strategies;
mod strategy;
#[cfg(test)]
mod testkit;

pub use config::{StrategyConfig, StrategyParams};
pub use error::{ParamError, StrategyError};
pub use filters::{FilterSettings, Filtered};
pub use higher::{HigherTimeframes, HigherViews, MAX_HIGHER};
pub use params::MaType;
pub use stops::{StopMode, StopsConfig};
pub use strategy::{Context, HigherBars, HigherNeed, Strategy, history_bars};
