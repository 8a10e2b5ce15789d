//! Walk-forward analysis: optimise on an in-sample window, trade the best set on the
//! out-of-sample window that follows, roll forward by the out-of-sample length, and stitch the
//! out-of-sample results into one equity curve (each window starts with the equity the previous
//! one ended with).
//!
//! Each in-sample optimisation shares indicator series between its parameter sets over that
//! window's bars alone (a cache per window, see [the optimiser's docs](super)), so a window's
//! averages start from its own first bar as they would without sharing. The one out-of-sample
//! backtest per window runs on streaming indicators.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use mtq_analytics::{EquityPoint, drawdown};
use mtq_core::{Bar, Decimal};
use serde::Serialize;
use serde_json::Value;

use super::{OptimizeOptions, ParamSet, SetupFactory, optimize};
use crate::driver::BacktestResult;
use crate::stats::to_f64;
use crate::{Backtest, BacktestError, Stats, TradeRecord};

/// Window lengths and the optimisation run in each in-sample window.
#[derive(Clone, Debug)]
pub struct WalkForwardOptions {
    pub in_sample: Duration,
    pub out_of_sample: Duration,
    pub optimize: OptimizeOptions,
}

/// One window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WalkWindow {
    pub index: usize,
    pub in_sample_from: DateTime<Utc>,
    pub in_sample_to: DateTime<Utc>,
    pub out_of_sample_from: DateTime<Utc>,
    pub out_of_sample_to: DateTime<Utc>,
    /// The best eligible in-sample set; `None` when no set had enough trades (the window then
    /// does not trade).
    pub best: Option<Value>,
    pub in_sample_score: Option<f64>,
    pub in_sample_net_profit: Option<Decimal>,
    pub out_of_sample: Option<Stats>,
}

/// How one parameter moved across windows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StabilityRow {
    pub name: String,
    /// The chosen value in each window that had a best set.
    pub values: Vec<Value>,
    pub distinct: usize,
    /// The most frequent value and the share of windows that chose it (0 to 1).
    pub mode: Option<Value>,
    pub mode_share: f64,
    /// Numeric parameters: mean, sample standard deviation and coefficient of variation
    /// (std / |mean|; lower is more stable).
    pub mean: Option<f64>,
    pub std_dev: Option<f64>,
    pub cv: Option<f64>,
}

/// The whole walk-forward result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WalkForward {
    pub windows: Vec<WalkWindow>,
    /// Statistics of the stitched out-of-sample trades and equity.
    pub out_of_sample: Stats,
    pub stability: Vec<StabilityRow>,
    #[serde(skip)]
    pub equity: Vec<EquityPoint>,
    #[serde(skip)]
    pub trades: Vec<TradeRecord>,
    /// Out-of-sample net profit / in-sample net profit, both per day: how much of the in-sample
    /// edge survived (1.0 = all of it).
    pub efficiency: Option<f64>,
}

fn index_at(bars: &[Bar], t: DateTime<Utc>) -> usize {
    bars.partition_point(|b| b.time < t)
}

/// One window's place in the bars: the in-sample bars `in_sample` are optimised, the best set
/// trades `in_sample.end..out_of_sample_end` (after its warm-up bars).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowPlan {
    pub index: usize,
    pub in_sample_from: DateTime<Utc>,
    pub in_sample_to: DateTime<Utc>,
    pub out_of_sample_to: DateTime<Utc>,
    pub in_sample: std::ops::Range<usize>,
    pub out_of_sample_end: usize,
}

/// The windows of a walk-forward over `bars`: they depend on the bars' times alone, so they can
/// be optimised in any order, on any machine, before [`stitch`] joins them.
pub fn plan_windows(
    bars: &[Bar],
    in_sample: Duration,
    out_of_sample: Duration,
) -> Result<Vec<WindowPlan>, BacktestError> {
    if in_sample <= Duration::zero() || out_of_sample <= Duration::zero() {
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
    let mut plans = Vec::new();
    let mut is_from = first.time;
    loop {
        let is_to = is_from + in_sample;
        if is_to > last.time {
            break;
        }
        let oos_to = is_to + out_of_sample;
        plans.push(WindowPlan {
            index: plans.len(),
            in_sample_from: is_from,
            in_sample_to: is_to,
            out_of_sample_to: oos_to,
            in_sample: index_at(bars, is_from)..index_at(bars, is_to),
            out_of_sample_end: index_at(bars, oos_to),
        });
        is_from += out_of_sample;
    }
    if plans.is_empty() {
        return Err(BacktestError::input(
            "--wf-in-sample",
            format!(
                "the data ({} to {}) is shorter than one in-sample window",
                first.time.format("%Y-%m-%d"),
                last.time.format("%Y-%m-%d")
            ),
        ));
    }
    Ok(plans)
}

/// What [`stitch`] needs of a window's best in-sample set.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowBest {
    /// The parameters as a JSON object.
    pub params: Value,
    pub score: f64,
    pub net_profit: Decimal,
}

impl WindowBest {
    pub fn of(e: &super::Evaluation) -> Self {
        Self {
            params: e.params.clone(),
            score: e.score,
            net_profit: e.stats.net_profit,
        }
    }
}

/// Runs the walk-forward over `bars`.
pub fn walk_forward(
    factory: &SetupFactory,
    bars: &[Bar],
    opts: &WalkForwardOptions,
) -> Result<WalkForward, BacktestError> {
    let plans = plan_windows(bars, opts.in_sample, opts.out_of_sample)?;
    let mut bests = Vec::with_capacity(plans.len());
    for p in &plans {
        let opt = optimize(factory, &bars[p.in_sample.clone()], &opts.optimize)?;
        bests.push(opt.best().map(WindowBest::of));
    }
    stitch(
        factory,
        bars,
        opts.in_sample,
        opts.out_of_sample,
        &plans,
        &bests,
    )
}

/// Trades each window's best set (`bests[i]` for `plans[i]`; `None` when no set had enough
/// trades) on its out-of-sample bars, each window starting with the equity the previous one
/// ended with, and joins them: the second half of [`walk_forward`], also run by a distributed
/// run's coordinator once workers optimised the windows.
pub fn stitch(
    factory: &SetupFactory,
    bars: &[Bar],
    in_sample: Duration,
    out_of_sample: Duration,
    plans: &[WindowPlan],
    bests: &[Option<WindowBest>],
) -> Result<WalkForward, BacktestError> {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Err(BacktestError::input(
            "--data",
            "no bars to walk forward over",
        ));
    };
    if plans.len() != bests.len() || plans.is_empty() {
        return Err(BacktestError::input(
            "walk-forward",
            format!("{} windows but {} best sets", plans.len(), bests.len()),
        ));
    }
    let deposit = factory.base().sim.deposit;
    let mut balance = deposit;
    let mut windows = Vec::new();
    let mut equity = vec![EquityPoint {
        time: first.time + in_sample,
        equity: deposit,
    }];
    let mut trades = Vec::new();
    let (mut is_profit_per_day, mut oos_profit_per_day) = (0.0, 0.0);
    for (p, best) in plans.iter().zip(bests) {
        let (b, c) = (p.in_sample.end, p.out_of_sample_end);
        let is_to = p.in_sample_to;
        let mut window = WalkWindow {
            index: windows.len(),
            in_sample_from: p.in_sample_from,
            in_sample_to: is_to,
            out_of_sample_from: is_to,
            out_of_sample_to: p.out_of_sample_to.min(last.time),
            best: best.as_ref().map(|e| e.params.clone()),
            in_sample_score: best.as_ref().map(|e| e.score),
            in_sample_net_profit: best.as_ref().map(|e| e.net_profit),
            out_of_sample: None,
        };
        if let Some(best) = best
            && c > b
        {
            let params: ParamSet = best
                .params
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            let mut setup = factory.setup(&params).map_err(BacktestError::Config)?;
            setup.sim.deposit = balance;
            let bt = Backtest::new(setup)?;
            let warm = bt.warmup_bars();
            let result = bt.run(&bars[b.saturating_sub(warm)..c]);
            let stats = Stats::of(&result);
            let days = |d: Duration| (d.num_seconds() as f64 / 86_400.0).max(1.0);
            is_profit_per_day += to_f64(best.net_profit) / days(in_sample);
            oos_profit_per_day += to_f64(stats.net_profit) / days(out_of_sample);
            balance = result.final_equity;
            equity.extend(result.equity.iter().filter(|p| p.time >= is_to).copied());
            trades.extend(result.trades);
            window.out_of_sample = Some(stats);
        }
        windows.push(window);
    }
    let dd = drawdown(&equity);
    let stitched = BacktestResult {
        symbol: factory.base().symbol.clone(),
        strategy: String::new(),
        params: Value::Null,
        initial_balance: deposit,
        final_balance: balance,
        final_equity: balance,
        trades: trades.clone(),
        equity: equity.clone(),
        max_drawdown_pct: dd.max_percent,
        max_drawdown_money: dd.max_money,
        bars: 0,
        warmup_bars: 0,
        signals: 0,
        refusals: BTreeMap::new(),
        order_failures: BTreeMap::new(),
        refused: Vec::new(),
        first_bar: None,
        last_bar: None,
    };
    let stability = stability(&windows);
    Ok(WalkForward {
        out_of_sample: Stats::of(&stitched),
        efficiency: (is_profit_per_day.abs() > f64::EPSILON)
            .then(|| oos_profit_per_day / is_profit_per_day),
        windows,
        stability,
        equity,
        trades,
    })
}

fn stability(windows: &[WalkWindow]) -> Vec<StabilityRow> {
    let mut names: Vec<String> = Vec::new();
    for w in windows {
        if let Some(Value::Object(m)) = &w.best {
            for k in m.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let values: Vec<Value> = windows
                .iter()
                .filter_map(|w| w.best.as_ref()?.get(&name).cloned())
                .collect();
            let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
            for (i, v) in values.iter().enumerate() {
                counts.entry(v.to_string()).or_insert((0, i)).0 += 1;
            }
            let mode = counts
                .values()
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
                .map(|&(n, i)| (values[i].clone(), n));
            let nums: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
            let numeric = !nums.is_empty() && nums.len() == values.len();
            let n = nums.len() as f64;
            let mean = numeric.then(|| nums.iter().sum::<f64>() / n);
            let std_dev = mean
                .filter(|_| nums.len() >= 2)
                .map(|m| (nums.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
            let cv = match (mean, std_dev) {
                (Some(m), Some(s)) if m.abs() > f64::EPSILON => Some(s / m.abs()),
                _ => None,
            };
            StabilityRow {
                distinct: counts.len(),
                mode_share: mode
                    .as_ref()
                    .map_or(0.0, |(_, k)| *k as f64 / values.len().max(1) as f64),
                mode: mode.map(|(v, _)| v),
                name,
                values,
                mean,
                std_dev,
                cv,
            }
        })
        .collect()
}
