//! Training in MTQ: rows from a bar series and a base strategy, a time-ordered split with an
//! embargo, a forest, and the test metrics.

use mtq_core::{Bar, Signal, SymbolSpec, Timeframe};
use mtq_strategies::{Context, Strategy};
use serde::{Deserialize, Serialize};

use crate::MlError;
use crate::features::{self, FEATURES, Row};
use crate::forest::{Forest, ForestParams};
use crate::labels::{self, LabelSpec};
use crate::manifest::{FORMAT, Manifest, Model, ModelDir, ModelKind, Scaling, TrainingSpan};
use crate::metrics::Metrics;

/// Labelled rows in time order.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Index of each row's bar in the series.
    pub bar: Vec<usize>,
    pub x: Vec<Vec<f64>>,
    pub y: Vec<bool>,
}

/// The base strategy's signal on every bar, as the trader core would feed it (no positions, no
/// higher-timeframe bars).
pub fn strategy_signals(
    strategy: &mut dyn Strategy,
    bars: &[Bar],
    spec: &SymbolSpec,
    timeframe: Timeframe,
) -> Vec<Option<Signal>> {
    let ctx = Context::new(spec, timeframe);
    bars.iter().map(|b| strategy.on_bar(b, &ctx)).collect()
}

impl Dataset {
    /// Rows with features and a label; see [`LabelSpec`].
    pub fn build(
        bars: &[Bar],
        timeframe: Timeframe,
        signals: &[Option<Signal>],
        label: LabelSpec,
    ) -> Result<Self, MlError> {
        let kinds: Vec<_> = signals.iter().map(|s| s.as_ref().map(|s| s.kind)).collect();
        let rows = features::batch(bars, timeframe, &kinds)?;
        let labels: Vec<Option<bool>> = match label {
            LabelSpec::ForwardReturn { horizon, threshold } => {
                labels::forward_return(bars, horizon, threshold)
            }
            LabelSpec::Meta { max_hold } => signals
                .iter()
                .enumerate()
                .map(|(i, s)| labels::trade_outcome(bars, i, s.as_ref()?, max_hold))
                .collect(),
        };
        let mut d = Dataset::default();
        for (i, (row, label)) in rows.iter().zip(&labels).enumerate() {
            if let (Some(row), Some(label)) = (row, label) {
                d.bar.push(i);
                d.x.push(row.to_vec());
                d.y.push(*label);
            }
        }
        Ok(d)
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The rows whose bar index lies in `from..to`.
    pub fn between(&self, from: usize, to: usize) -> Dataset {
        let mut d = Dataset::default();
        for k in 0..self.len() {
            if (from..to).contains(&self.bar[k]) {
                d.bar.push(self.bar[k]);
                d.x.push(self.x[k].clone());
                d.y.push(self.y[k]);
            }
        }
        d
    }
}

/// How `ml train` trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub name: String,
    pub version: String,
    pub label: LabelSpec,
    pub forest: ForestParams,
    /// Share of the labelled bars (the earliest) trained on; the rest is the test set.
    pub train_fraction: f64,
    /// The threshold the precision is reported at (the filter's).
    pub threshold: f64,
}

/// What training produced.
#[derive(Debug, Clone)]
pub struct Trained {
    pub model: ModelDir,
    pub train_rows: usize,
    /// Test-set metrics; `None` when the test set is empty (train_fraction 1).
    pub test: Option<Metrics>,
}

/// Trains on `bars[..]` (time order). The test set starts `label.horizon()` bars after the last
/// training bar, so that no training label reads a bar the test set is scored on.
pub fn train(
    bars: &[Bar],
    timeframe: Timeframe,
    signals: &[Option<Signal>],
    span: TrainingSpan,
    opts: &TrainOptions,
) -> Result<Trained, MlError> {
    if !(0.0..=1.0).contains(&opts.train_fraction) || opts.train_fraction == 0.0 {
        return Err(MlError::Input(format!(
            "train fraction {} must be above 0 and at most 1",
            opts.train_fraction
        )));
    }
    let data = Dataset::build(bars, timeframe, signals, opts.label)?;
    let first = data.bar.first().copied().unwrap_or(0);
    let last = data.bar.last().copied().unwrap_or(0) + 1;
    // The fraction is within (0, 1]: the product is a bar count no larger than the span.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let cut = first + ((last - first) as f64 * opts.train_fraction).round() as usize;
    let horizon = opts.label.horizon();
    let train = data.between(0, cut.saturating_sub(horizon));
    let test = data.between(cut, usize::MAX);
    let forest = Forest::fit(&train.x, &train.y, opts.forest)?;
    let model = ModelDir {
        manifest: Manifest {
            format: FORMAT,
            name: opts.name.clone(),
            version: opts.version.clone(),
            kind: ModelKind::Forest,
            features: FEATURES.iter().map(|s| (*s).to_string()).collect(),
            scaling: Scaling::None,
            window: 1,
            label: opts.label,
            training: TrainingSpan {
                rows: train.len(),
                ..span
            },
            metrics: serde_json::Value::Null,
            onnx: None,
        },
        model: Model::Forest(forest),
    };
    let test_metrics = if test.is_empty() {
        None
    } else {
        let p = test
            .x
            .iter()
            .map(|x| {
                let row: Row = x
                    .as_slice()
                    .try_into()
                    .map_err(|_| MlError::Input(format!("a row of {} features", x.len())))?;
                model.predict(&row)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Some(Metrics::of(&p, &test.y, opts.threshold))
    };
    let mut model = model;
    model.manifest.metrics = serde_json::to_value(test_metrics).unwrap_or_default();
    Ok(Trained {
        model,
        train_rows: train.len(),
        test: test_metrics,
    })
}
