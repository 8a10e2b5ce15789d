//! Models in backtests: [`train_on`] trains a model on a backtest's bars with its strategy
//! (`mtq-trader ml train`), and [`walk_forward`] trains on each in-sample window and trades the
//! out-of-sample window after it with and without the model, to say plainly whether the model
//! helps (`mtq-trader ml walk-forward`).
//!
//! A backtest of a configuration whose symbol has an `ml:` section filters through its models
//! like the live trader does (the trader core builds the strategy), and so does every set an
//! optimisation evaluates.

#[cfg(feature = "cli")]
pub mod cli;
mod walk;

use mtq_core::Bar;
use mtq_ml::manifest::TrainingSpan;
use mtq_ml::{TrainOptions, Trained};

use crate::{BacktestError, BacktestSetup};

pub use walk::{MlWalkForward, MlWalkOptions, MlWindow, walk_forward};

/// Trains a model on `bars` with the setup's strategy (its signals are a feature, and the
/// labels of meta-labelling): a time-ordered split as `opts` says.
pub fn train_on(
    setup: &BacktestSetup,
    bars: &[Bar],
    opts: &TrainOptions,
) -> Result<Trained, BacktestError> {
    let c = setup
        .config
        .currencies
        .first()
        .ok_or_else(|| BacktestError::Config("the configuration has no symbol entry".into()))?;
    let mut base = c
        .strategy
        .build()
        .map_err(|e| BacktestError::input("--strategy", e.to_string()))?;
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Err(BacktestError::input("--data", "no bars to train on"));
    };
    let signals =
        mtq_ml::train::strategy_signals(base.as_mut(), bars, &setup.spec, setup.timeframe);
    let span = TrainingSpan {
        symbol: setup.symbol.to_string(),
        timeframe: setup.timeframe.to_string(),
        strategy: c.strategy_type.clone(),
        from: first.time,
        to: last.time,
        rows: 0,
    };
    Ok(mtq_ml::train::train(
        bars,
        setup.timeframe,
        &signals,
        span,
        opts,
    )?)
}
