//! Optimisation: every combination of parameter ranges (grid) or a seeded sample of them
//! (random), evaluated in parallel with rayon, ranked by an objective with a minimum trade count;
//! and walk-forward analysis over rolling in-sample / out-of-sample windows.
//!
//! **Determinism.** Parameter sets are enumerated in a fixed order (the ranges' order, the last
//! range varying fastest), a random sample is drawn with SplitMix64 from the seed, each set runs
//! its own single-threaded backtest, and results are collected by index: the same inputs and
//! seed give the same ranking on any number of threads.
//!
//! **Shared work.** The bars are loaded once and shared by reference; the configuration is parsed
//! and validated once, and each parameter set patches only its strategy entry, parsed into typed
//! parameters ([`StrategyConfig`]) once when the set's setup is made. Indicator series
//! are computed once and shared by every parameter set that needs them: [`optimize`] builds one
//! [`SeriesCache`] over the bars it evaluates, and each set's backtest runs a strategy built on
//! it ([`StrategyConfig::build_shared`], handed to the trader core with
//! [`Backtest::with_strategy`]). A strategy that can read shared series (`crossover`,
//! `position`) takes its moving averages from the cache, computed with TA-Lib's batch functions
//! the first time any set asks for that type and period; the others run as they would alone.
//! The results are the same bit for bit (streaming and batch TA-Lib agree; tests compare whole
//! optimisations with sharing on and off). Walk-forward optimises each in-sample window with its
//! own cache, over that window's bars, since an EMA computed from the first bar of the whole
//! series differs from one started at the window's first bar. If the bars cannot back a cache
//! (times not strictly increasing, a non-finite close), or a shared strategy met a bar outside
//! the cache's series (which the optimiser's own loop rules out), the sets run on streaming
//! indicators instead. [`SetupFactory::sharing_indicators`] switches sharing off.
//!
//! [`SeriesCache`]: mtq_strategies::shared::SeriesCache
//! [`StrategyConfig`]: mtq_strategies::StrategyConfig
//! [`StrategyConfig::build_shared`]: mtq_strategies::StrategyConfig::build_shared

mod objective;
mod portable;
mod range;
mod walk;

use std::sync::Arc;

use mtq_core::{Bar, SplitMix64};
use mtq_orchestrator::config::{AppConfig, CurrencyConfig};
use mtq_strategies::shared::SeriesCache;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

pub use objective::Objective;
pub use portable::{PortableSearch, PortableSetup, SetEvaluator};
pub use range::{ParamRange, grid_size, parse_range};
pub use walk::{
    StabilityRow, WalkForward, WalkForwardOptions, WalkWindow, WindowBest, WindowPlan,
    plan_windows, stitch, walk_forward,
};

use crate::settings::{BacktestSetup, param_value};
use crate::{Backtest, BacktestError, EquityDetail, Stats};

/// Grid or seeded random sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    Grid,
    /// `samples` distinct combinations drawn from the grid with `seed`.
    Random {
        samples: usize,
        seed: u64,
    },
}

/// One parameter set, in the ranges' order.
pub type ParamSet = Vec<(String, Value)>;

/// The parameter set as a JSON object (what `optimization_results.parameters` stores).
pub fn params_json(p: &ParamSet) -> Value {
    Value::Object(p.iter().cloned().collect::<Map<String, Value>>())
}

/// One evaluated parameter set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    pub params: Value,
    pub score: f64,
    /// Enough trades to be ranked.
    pub eligible: bool,
    pub stats: Stats,
}

/// Everything an optimisation returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Optimization {
    pub objective: Objective,
    pub min_trades: u64,
    /// Combinations in the grid.
    pub grid_size: usize,
    /// Sets evaluated (all of the grid, or the sample).
    pub evaluated: usize,
    /// Sets the strategy refused (e.g. `fast_period` not below `slow_period`), with the first
    /// reason.
    pub invalid: usize,
    pub invalid_reason: Option<String>,
    /// Valid sets, best first (eligible ones by score, then ineligible ones).
    pub results: Vec<Evaluation>,
}

impl Optimization {
    /// The best eligible set.
    pub fn best(&self) -> Option<&Evaluation> {
        self.results.first().filter(|e| e.eligible)
    }
}

/// The parameter sets to evaluate, in a fixed order.
pub fn parameter_sets(ranges: &[ParamRange], search: Search) -> Vec<ParamSet> {
    let total = grid_size(ranges);
    let indices: Vec<usize> = match search {
        Search::Grid => (0..total).collect(),
        Search::Random { samples, .. } if samples >= total => (0..total).collect(),
        Search::Random { samples, seed } => {
            // Distinct grid indices drawn from the seed (redrawn on a repeat), evaluated in grid
            // order.
            let mut rng = SplitMix64::new(seed);
            let mut chosen = std::collections::BTreeSet::new();
            while chosen.len() < samples {
                let max = u64::try_from(total - 1).unwrap_or(u64::MAX);
                if let Ok(i) = usize::try_from(rng.below_inclusive(max)) {
                    chosen.insert(i);
                }
            }
            chosen.into_iter().collect()
        }
    };
    indices
        .into_iter()
        .map(|mut i| {
            let mut set = vec![(String::new(), Value::Null); ranges.len()];
            for (k, r) in ranges.iter().enumerate().rev() {
                let n = r.values.len();
                set[k] = (r.name.clone(), r.values[i % n].clone());
                i /= n;
            }
            set
        })
        .collect()
}

/// Builds per-set backtest setups cheaply: the base configuration is parsed once; each set
/// patches the strategy's entry and is checked by building the strategy.
#[derive(Clone, Debug)]
pub struct SetupFactory {
    base: BacktestSetup,
    /// Strategies read indicator series shared between sets (see the module docs).
    share: bool,
}

impl SetupFactory {
    /// A factory over `base`, sharing indicator series between sets.
    pub fn new(base: BacktestSetup) -> Self {
        Self { base, share: true }
    }

    /// Whether [`optimize`] and [`walk_forward`] share indicator series between parameter sets
    /// (on by default). Off, every set's strategy computes its own streaming indicators: the
    /// same results, for comparisons.
    #[must_use]
    pub fn sharing_indicators(mut self, share: bool) -> Self {
        self.share = share;
        self
    }

    pub fn shares_indicators(&self) -> bool {
        self.share
    }

    pub fn base(&self) -> &BacktestSetup {
        &self.base
    }

    /// The cache the sets over `bars` share, when sharing is on and the bars can back one.
    fn cache_for(&self, bars: &[Bar]) -> Option<Arc<SeriesCache>> {
        if !self.share {
            return None;
        }
        SeriesCache::new(bars).ok().map(Arc::new)
    }

    /// The backtest for `params`, its strategy reading `cache`'s series when given one.
    fn backtest(
        &self,
        params: &ParamSet,
        cache: Option<&Arc<SeriesCache>>,
    ) -> Result<Backtest, String> {
        let setup = self.setup(params)?;
        let shared = match (cache, setup.config.currencies.first()) {
            // The symbol's models (`ml:`), if any, filter the shared strategy as they filter the
            // one the core builds.
            (Some(cache), Some(c)) => Some(
                c.strategy
                    .build_shared(cache)
                    .and_then(|s| c.with_ml(s))
                    .map_err(|e| e.to_string())?,
            ),
            _ => None,
        };
        let bt = Backtest::new(setup).map_err(|e| e.to_string())?;
        match shared {
            Some(strategy) => bt.with_strategy(strategy).map_err(|e| e.to_string()),
            None => Ok(bt),
        }
    }

    /// The setup for `params`, or why the strategy refuses them.
    pub fn setup(&self, params: &ParamSet) -> Result<BacktestSetup, String> {
        let mut config: AppConfig = (*self.base.config).clone();
        let c = config
            .currencies
            .first_mut()
            .ok_or_else(|| "the configuration has no symbol entry".to_string())?;
        if let Value::Object(m) = &mut c.entry {
            for (k, v) in params {
                m.insert(k.clone(), v.clone());
            }
        }
        if params.iter().any(|(k, _)| RISK_KEYS.contains(&k.as_str())) {
            c.risk = serde_json::from_value(c.entry.clone()).map_err(|e| e.to_string())?;
            c.risk
                .validate(c.symbol.as_str())
                .map_err(|e| e.to_string())?;
        }
        // The grid point becomes typed parameters, checked by building the strategy once.
        c.strategy = CurrencyConfig::parse_strategy(&c.entry).map_err(|e| e.to_string())?;
        c.build_strategy().map_err(|e| e.to_string())?;
        Ok(BacktestSetup {
            config: Arc::new(config),
            ..self.base.clone()
        })
    }
}

/// Keys of a `currencies` entry that are risk settings rather than strategy parameters.
const RISK_KEYS: [&str; 14] = [
    "sizing_mode",
    "risk_percent",
    "risk_base",
    "fixed_volume",
    "equity_fraction",
    "max_position_size",
    "min_position_size",
    "commission_per_lot",
    "cooldown_seconds",
    "allow_position_stacking",
    "max_positions_same_direction",
    "max_total_positions",
    "stacking_risk_multiplier",
    "max_spread_pips",
];

/// Runs one backtest for `params` over `bars` with a daily equity curve; `Err` when the strategy
/// refuses the parameters.
pub fn evaluate(
    factory: &SetupFactory,
    params: &ParamSet,
    bars: &[Bar],
    objective: Objective,
    min_trades: u64,
) -> Result<Evaluation, String> {
    evaluate_on(factory, params, bars, None, objective, min_trades)
}

/// As [`evaluate`], the strategy reading its indicator series from `cache` when it can. `cache`
/// must be over `bars` (see [`SeriesCache`]).
pub fn evaluate_shared(
    factory: &SetupFactory,
    params: &ParamSet,
    bars: &[Bar],
    cache: &Arc<SeriesCache>,
    objective: Objective,
    min_trades: u64,
) -> Result<Evaluation, String> {
    evaluate_on(factory, params, bars, Some(cache), objective, min_trades)
}

fn evaluate_on(
    factory: &SetupFactory,
    params: &ParamSet,
    bars: &[Bar],
    cache: Option<&Arc<SeriesCache>>,
    objective: Objective,
    min_trades: u64,
) -> Result<Evaluation, String> {
    let result = factory
        .backtest(params, cache)?
        .with_equity_detail(EquityDetail::Daily)
        .run(bars);
    let stats = Stats::of(&result);
    let eligible = stats.trades >= min_trades;
    Ok(Evaluation {
        params: params_json(params),
        score: objective.score(&stats),
        eligible,
        stats,
    })
}

/// Options of [`optimize`].
#[derive(Clone, Debug)]
pub struct OptimizeOptions {
    pub ranges: Vec<ParamRange>,
    pub search: Search,
    pub objective: Objective,
    pub min_trades: u64,
    /// Worker threads; `None` for one per core.
    pub jobs: Option<usize>,
    /// Draw a progress bar on standard error (only when it is a terminal).
    pub progress: bool,
}

/// Evaluates every parameter set in parallel and ranks them, sharing indicator series between
/// sets unless the factory says not to (see the module docs).
pub fn optimize(
    factory: &SetupFactory,
    bars: &[Bar],
    opts: &OptimizeOptions,
) -> Result<Optimization, BacktestError> {
    optimize_on(factory, bars, opts, factory.cache_for(bars))
}

/// [`optimize`] with the cache given (`None`: streaming indicators).
fn optimize_on(
    factory: &SetupFactory,
    bars: &[Bar],
    opts: &OptimizeOptions,
    cache: Option<Arc<SeriesCache>>,
) -> Result<Optimization, BacktestError> {
    let sets = parameter_sets(&opts.ranges, opts.search);
    let bar = progress_bar(opts.progress, sets.len());
    let pool = match opts.jobs {
        Some(n) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| BacktestError::input("--jobs", e.to_string()))?,
        ),
        None => None,
    };
    let run_all = |cache: Option<&Arc<SeriesCache>>| {
        let run = || -> Vec<Result<Evaluation, String>> {
            sets.par_iter()
                .map(|p| {
                    let r = evaluate_on(factory, p, bars, cache, opts.objective, opts.min_trades);
                    bar.inc(1);
                    r
                })
                .collect()
        };
        match &pool {
            Some(pool) => pool.install(run),
            None => run(),
        }
    };
    let mut outcomes = run_all(cache.as_ref());
    if let Some(c) = &cache
        && c.resyncs() + c.strays() > 0
    {
        // A shared strategy was fed bars other than the cache's, in order: its signals may
        // differ from streaming ones, so the sets run again on their own indicators.
        bar.set_position(0);
        outcomes = run_all(None);
    }
    bar.finish_and_clear();
    let mut results = Vec::with_capacity(outcomes.len());
    let (mut invalid, mut invalid_reason) = (0, None);
    for o in outcomes {
        match o {
            Ok(e) => results.push(e),
            Err(reason) => {
                invalid += 1;
                invalid_reason.get_or_insert(reason);
            }
        }
    }
    rank(&mut results);
    Ok(Optimization {
        objective: opts.objective,
        min_trades: opts.min_trades,
        grid_size: grid_size(&opts.ranges),
        evaluated: sets.len(),
        invalid,
        invalid_reason,
        results,
    })
}

/// Eligible first, then by score (highest first); ties keep enumeration order (stable sort).
fn rank(results: &mut [Evaluation]) {
    results.sort_by(|a, b| {
        b.eligible
            .cmp(&a.eligible)
            .then(b.score.total_cmp(&a.score))
    });
}

fn progress_bar(show: bool, len: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX));
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} sets ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The ranges as the `parameter_space` JSON of `optimization_runs`.
pub fn parameter_space(ranges: &[ParamRange], search: Search) -> String {
    let space: Map<String, Value> = ranges
        .iter()
        .map(|r| (r.name.clone(), Value::Array(r.values.clone())))
        .collect();
    let search = match search {
        Search::Grid => serde_json::json!({"kind": "grid"}),
        Search::Random { samples, seed } => {
            serde_json::json!({"kind": "random", "samples": samples, "seed": seed})
        }
    };
    serde_json::json!({"ranges": space, "search": search}).to_string()
}

/// A `--param`-style value list for a range given as `a,b,c`.
pub(crate) fn list_values(s: &str) -> Vec<Value> {
    s.split(',').map(|v| param_value(v.trim())).collect()
}

#[cfg(test)]
mod tests;
