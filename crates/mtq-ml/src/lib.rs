//! # mtq-ml: models that filter and manage a strategy's trades
//!
//! Owns the declared [`features`] (streaming for live trading and backtests, batch for
//! training, equal bit for bit), the training [`labels`] (forward return beyond a threshold, or
//! the base strategy's trade outcome: meta-labelling), MTQ's own [`forest`] (a random forest
//! trained and evaluated in-process), the model [`manifest`] checked against the pipeline at
//! load, [`train`]ing with a time-ordered split and its [`metrics`], and [`MlFiltered`]: the
//! entry filter, weighted ensemble and position manager that wrap any
//! [`Strategy`](mtq_strategies::Strategy). A trader's symbols share each model through a
//! [`ModelPool`], which runs a bar close's inferences for all of them in one batch.
//!
//! It does **not** size or send orders, read a clock or do network I/O: a model is files on
//! disk (`manifest.json` + `forest.json`, or + an ONNX graph run through tract: [`onnx`]), read
//! once when the strategy is built. Everything is
//! off unless a symbol's configuration has an `ml:` section.
//!
//! ```
//! use mtq_core::{SymbolSpec, Timeframe};
//! use mtq_core::testkit::{monday, random_walk};
//! use mtq_ml::{LabelSpec, TrainOptions, ForestParams, train};
//!
//! let bars = random_walk(3000, 1, Timeframe::H1, monday(), 1.1, 10);
//! let spec = SymbolSpec::builtin("EURUSD").unwrap();
//! let mut base = mtq_strategies::registry::build("crossover", &serde_json::json!({}))?;
//! let signals = train::strategy_signals(base.as_mut(), &bars, &spec, Timeframe::H1);
//! let opts = TrainOptions {
//!     name: "demo".into(), version: "1".into(),
//!     label: LabelSpec::ForwardReturn { horizon: 6, threshold: 0.0005 },
//!     forest: ForestParams { trees: 10, ..ForestParams::default() },
//!     train_fraction: 0.7, threshold: 0.55,
//! };
//! let span = mtq_ml::manifest::TrainingSpan { symbol: "EURUSD".into(), timeframe: "H1".into(),
//!     strategy: "crossover".into(), from: bars[0].time, to: bars[2999].time, rows: 0 };
//! let trained = train::train(&bars, Timeframe::H1, &signals, span, &opts)?;
//! let m = trained.test.unwrap();
//! assert!(m.auc > 0.0 && m.auc < 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
pub mod features;
mod filter;
pub mod forest;
pub mod labels;
pub mod manifest;
pub mod metrics;
pub mod onnx;
pub mod pool;
pub mod train;

pub use error::MlError;
pub use filter::{MlFiltered, MlSettings, MlStatus, ModelRef, OnFailure};
pub use forest::{Forest, ForestParams};
pub use labels::LabelSpec;
pub use manifest::{Manifest, Model, ModelDir};
pub use metrics::Metrics;
pub use onnx::{Layout, ModelInput, OnnxModel, OnnxSpec};
pub use pool::{BatchStats, ModelPool, SharedModel};
pub use train::{Dataset, TrainOptions, Trained};
