//! The model's walk-forward: train on each in-sample window, trade the out-of-sample window
//! after it twice (the base strategy alone, and behind the model), and compare.
//!
//! Each window's model sees only its in-sample bars (a label near the window's end reads no bar
//! past it), and each out-of-sample run starts from the configured deposit, so the windows are
//! independent and the difference is the model's alone.

use chrono::{DateTime, Duration, Utc};
use mtq_core::{Bar, Decimal};
use mtq_ml::train::Dataset;
use mtq_ml::{Metrics, MlFiltered, MlSettings, TrainOptions};
use serde::Serialize;

use crate::{Backtest, BacktestError, BacktestSetup, Stats};

/// Window lengths, how each window's model is trained, and how it filters.
#[derive(Clone, Debug)]
pub struct MlWalkOptions {
    pub in_sample: Duration,
    pub out_of_sample: Duration,
    /// Training of each window's model (its `train_fraction` of the in-sample window is trained
    /// on; 1 uses all of it).
    pub train: TrainOptions,
    /// The filter: threshold, exit_below, size_by_confidence (its `models` only name the model).
    pub settings: MlSettings,
}

/// One window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MlWindow {
    pub index: usize,
    pub in_sample_from: DateTime<Utc>,
    pub in_sample_to: DateTime<Utc>,
    pub out_of_sample_from: DateTime<Utc>,
    pub out_of_sample_to: DateTime<Utc>,
    pub train_rows: usize,
    /// The window's model scored on the out-of-sample rows (labels read no bar past the
    /// window); `None` when no out-of-sample bar has a label.
    pub model_out_of_sample: Option<Metrics>,
    pub without_model: Stats,
    pub with_model: Stats,
    /// Net profit with the model less net profit without it.
    pub difference: Decimal,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MlWalkForward {
    pub windows: Vec<MlWindow>,
    pub net_profit_without: Decimal,
    pub net_profit_with: Decimal,
    pub difference: Decimal,
    pub trades_without: u64,
    pub trades_with: u64,
    /// Windows where the model's run made more than the base strategy's.
    pub windows_better: usize,
    /// Whether the model made more out of sample, over all windows, than the strategy alone.
    pub helps: bool,
    /// The verdict in one sentence.
    pub verdict: String,
}

fn index_at(bars: &[Bar], t: DateTime<Utc>) -> usize {
    bars.partition_point(|b| b.time < t)
}

/// Runs the comparison over `bars` (closed bars of the setup's timeframe).
pub fn walk_forward(
    setup: &BacktestSetup,
    bars: &[Bar],
    opts: &MlWalkOptions,
) -> Result<MlWalkForward, BacktestError> {
    if opts.in_sample <= Duration::zero() || opts.out_of_sample <= Duration::zero() {
        return Err(BacktestError::input(
            "--wf-in-sample / --wf-out-of-sample",
            "both windows must be at least one day",
        ));
    }
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Err(BacktestError::input(
            "--data",
            "no bars to walk forward over",
        ));
    };
    let c = setup
        .config
        .currencies
        .first()
        .ok_or_else(|| BacktestError::Config("the configuration has no symbol entry".into()))?;
    let mut windows = Vec::new();
    let mut is_from = first.time;
    loop {
        let is_to = is_from + opts.in_sample;
        if is_to > last.time {
            break;
        }
        let oos_to = is_to + opts.out_of_sample;
        let (a, b, c_end) = (
            index_at(bars, is_from),
            index_at(bars, is_to),
            index_at(bars, oos_to),
        );
        if c_end <= b {
            break;
        }
        let trained = super::train_on(setup, &bars[a..b], &opts.train)?;
        let model_out_of_sample = score(
            setup,
            &bars[a..c_end],
            b - a,
            &trained.model,
            opts.settings.threshold,
        )?;
        let base = Backtest::new(setup.clone())?;
        let warm = base.warmup_bars();
        let without = base.run(&bars[b.saturating_sub(warm)..c_end]);
        let strategy = c
            .strategy
            .build()
            .map_err(|e| BacktestError::input("--strategy", e.to_string()))?;
        let filtered = MlFiltered::with_models(
            strategy,
            &opts.settings,
            setup.timeframe,
            vec![(1.0, trained.model)],
        )?;
        let ml = Backtest::new(setup.clone())?.with_strategy(Box::new(filtered))?;
        let warm = ml.warmup_bars();
        let with = ml.run(&bars[b.saturating_sub(warm)..c_end]);
        let (without, with) = (Stats::of(&without), Stats::of(&with));
        windows.push(MlWindow {
            index: windows.len(),
            in_sample_from: is_from,
            in_sample_to: is_to,
            out_of_sample_from: is_to,
            out_of_sample_to: oos_to.min(last.time),
            train_rows: trained.train_rows,
            model_out_of_sample,
            difference: with.net_profit - without.net_profit,
            without_model: without,
            with_model: with,
        });
        is_from += opts.out_of_sample;
    }
    if windows.is_empty() {
        return Err(BacktestError::input(
            "--wf-in-sample",
            format!(
                "the data ({} to {}) is shorter than one in-sample window and one out-of-sample \
                 bar",
                first.time.format("%Y-%m-%d"),
                last.time.format("%Y-%m-%d")
            ),
        ));
    }
    let net_profit_without: Decimal = windows.iter().map(|w| w.without_model.net_profit).sum();
    let net_profit_with: Decimal = windows.iter().map(|w| w.with_model.net_profit).sum();
    let difference = net_profit_with - net_profit_without;
    let windows_better = windows
        .iter()
        .filter(|w| w.difference > Decimal::ZERO)
        .count();
    let helps = difference > Decimal::ZERO;
    let n = windows.len();
    let verdict = if helps {
        format!(
            "the model helped out of sample: net profit {net_profit_with} with it against \
             {net_profit_without} without ({difference:+}), better in {windows_better} of {n} \
             windows"
        )
    } else {
        format!(
            "the model does NOT help: out of sample it made {net_profit_with} against \
             {net_profit_without} for the strategy alone ({difference:+}), better in \
             {windows_better} of {n} windows; trade the strategy without it"
        )
    };
    Ok(MlWalkForward {
        trades_without: windows.iter().map(|w| w.without_model.trades).sum(),
        trades_with: windows.iter().map(|w| w.with_model.trades).sum(),
        windows,
        net_profit_without,
        net_profit_with,
        difference,
        windows_better,
        helps,
        verdict,
    })
}

/// The model's classification metrics on the rows of `bars` from `from` on (labels read no bar
/// past the slice).
fn score(
    setup: &BacktestSetup,
    bars: &[Bar],
    from: usize,
    model: &mtq_ml::ModelDir,
    threshold: f64,
) -> Result<Option<Metrics>, BacktestError> {
    let c = setup
        .config
        .currencies
        .first()
        .ok_or_else(|| BacktestError::Config("the configuration has no symbol entry".into()))?;
    let mut base = c
        .strategy
        .build()
        .map_err(|e| BacktestError::input("--strategy", e.to_string()))?;
    let signals =
        mtq_ml::train::strategy_signals(base.as_mut(), bars, &setup.spec, setup.timeframe);
    let data = Dataset::build(bars, setup.timeframe, &signals, model.manifest.label)?
        .between(from, usize::MAX);
    if data.is_empty() {
        return Ok(None);
    }
    let mut p = Vec::with_capacity(data.len());
    for x in &data.x {
        let row: mtq_ml::features::Row = x
            .as_slice()
            .try_into()
            .map_err(|_| BacktestError::Config(format!("a feature row of {} columns", x.len())))?;
        p.push(model.predict(&row)?);
    }
    Ok(Some(Metrics::of(&p, &data.y, threshold)))
}
