//! # mtq-backtest: backtests on the live trader's own code
//!
//! Owns historical data import (MT5 bar and tick exports, generic OHLCV CSV, a binary cache
//! beside each file), the backtest driver that runs `mtq-orchestrator`'s [`TraderCore`] against
//! `mtq-sim`'s [`Simulator`] bar by bar with no async, the report files, and the optimiser
//! (parallel grid and seeded random search, walk-forward). The command-line arguments and entry
//! points `mtq-trader` wires up live in `cli`, behind the `cli` feature.
//!
//! It does not decide, size or check trades itself: the strategy, filters, risk checks and sizing
//! are the trader core's, exactly as live. The one exception is [`Sizing::Equity`], which sizes
//! at the fill price as the Python backtesting libraries do (see `docs/backtesting.md`).
//!
//! [`TraderCore`]: mtq_orchestrator::TraderCore
//! [`Simulator`]: mtq_sim::Simulator
//!
//! ```
//! use mtq_backtest::{Backtest, SetupOptions, Sizing, Stats};
//! use mtq_core::{Bar, Timeframe};
//!
//! // A sine wave of M5 bars: the crossover flips with each swing.
//! let bars: Vec<Bar> = (0..2_000)
//!     .map(|i| {
//!         let t = chrono::DateTime::from_timestamp(1_704_067_200 + i * 300, 0).unwrap();
//!         let c = 1.1 + 0.004 * (i as f64 / 40.0).sin();
//!         Bar { time: t, open: c, high: c + 0.0002, low: c - 0.0002, close: c,
//!               tick_volume: 10, real_volume: 0, spread: 5 }
//!     })
//!     .collect();
//! let setup = SetupOptions {
//!     symbol: "EURUSD".into(),
//!     strategy: Some("crossover".into()),
//!     params: vec![("fast_period".into(), "5".into()), ("slow_period".into(), "20".into())],
//!     timeframe: Timeframe::M5,
//!     sizing: Some("fixed:0.1".parse::<Sizing>().unwrap()),
//!     ..SetupOptions::default()
//! }
//! .build()?;
//! let result = Backtest::new(setup)?.run(&bars);
//! let stats = Stats::of(&result);
//! assert!(stats.trades > 10);
//! // Every trade opened at a bar's open, one bar after its signal.
//! assert!(result.trades.iter().all(|t| t.entry_time.timestamp() % 300 == 0));
//! # Ok::<(), mtq_backtest::BacktestError>(())
//! ```

#[cfg(feature = "cli")]
pub mod cli;
pub mod data;
mod driver;
mod error;
pub mod ml;
pub mod optimize;
mod quote;
mod refused;
mod report;
mod settings;
mod stats;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
mod trades;

pub use driver::{Backtest, BacktestResult, EquityDetail};
pub use error::BacktestError;
pub use refused::{Refused, RefusedAt};
pub use report::{
    ReportFiles, trades_csv, write_optimization_html, write_report, write_report_with_bars,
    write_walk_forward_html,
};
pub use settings::{
    BacktestSetup, FillTiming, SetupOptions, Sizing, load_spec, param_value, parse_param,
    plain_base,
};
pub use stats::Stats;
pub use trades::TradeRecord;
