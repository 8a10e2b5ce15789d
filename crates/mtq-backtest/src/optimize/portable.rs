//! An optimisation described in values a worker on another machine rebuilds it from.
//!
//! [`PortableSetup`] is [`SetupOptions`] with the files it names already read (the base
//! configuration as loaded, the symbol's specification), so the worker needs neither file nor
//! the submitter's environment. [`PortableSearch`] is the grid or sample and the ranking.
//! [`SetEvaluator`] evaluates parameter sets by their index in [`parameter_sets`]' order with the
//! same code as [`optimize`](super::optimize): the same setup factory, indicator series shared
//! over the same bars, the same fallback to streaming indicators; so a set evaluated on a worker
//! equals the same set evaluated locally, bit for bit.

use std::ops::Range;
use std::sync::Arc;

use mtq_core::{Bar, Decimal, Symbol, SymbolSpec, Timeframe};
use mtq_strategies::shared::SeriesCache;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Evaluation, Objective, OptimizeOptions, ParamRange, ParamSet, Search, SetupFactory,
    evaluate_on, parameter_sets,
};
use crate::settings::{FillTiming, SetupOptions, Sizing};
use crate::{BacktestError, BacktestSetup};

/// [`SetupOptions`] with its files read: everything a backtest setup is built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortableSetup {
    pub symbol: String,
    pub strategy: Option<String>,
    pub params: Vec<(String, String)>,
    pub timeframe: Timeframe,
    pub initial_balance: Option<Decimal>,
    pub leverage: Option<u32>,
    pub commission_per_lot: Option<Decimal>,
    pub commission_rate: Option<Decimal>,
    pub spread_points: Option<u32>,
    pub slippage_points: Option<u32>,
    /// `fixed:LOTS`, `risk:PERCENT` or `equity:FRACTION`.
    pub sizing: Option<String>,
    /// Fill at the signal bar's close instead of the next bar's open.
    pub fill_at_close: bool,
    pub server_offset_secs: i32,
    /// The base configuration as `--config` loaded it (or the plain base).
    pub base: Value,
    pub spec: SymbolSpec,
}

impl SetupOptions {
    /// These options with their files read, for a worker to rebuild the setup from.
    pub fn portable(&self) -> Result<PortableSetup, BacktestError> {
        let symbol = Symbol::new(&self.symbol).map_err(|e| {
            BacktestError::input(format!("--symbol {}", self.symbol), e.to_string())
        })?;
        Ok(PortableSetup {
            symbol: self.symbol.clone(),
            strategy: self.strategy.clone(),
            params: self.params.clone(),
            timeframe: self.timeframe,
            initial_balance: self.initial_balance,
            leverage: self.leverage,
            commission_per_lot: self.commission_per_lot,
            commission_rate: self.commission_rate,
            spread_points: self.spread_points,
            slippage_points: self.slippage_points,
            sizing: self.sizing.map(|s| s.to_string()),
            fill_at_close: self.fill == FillTiming::SignalClose,
            server_offset_secs: self.server_offset_secs,
            base: self.base_config()?,
            spec: crate::settings::load_spec(&symbol, self.symbol_spec.as_deref())?,
        })
    }
}

impl PortableSetup {
    /// The setup, exactly as [`SetupOptions::build`] made it on the submitting machine.
    pub fn build(&self) -> Result<BacktestSetup, BacktestError> {
        let symbol = Symbol::new(&self.symbol)
            .map_err(|e| BacktestError::input(format!("symbol {}", self.symbol), e.to_string()))?;
        let sizing = self
            .sizing
            .as_deref()
            .map(str::parse::<Sizing>)
            .transpose()
            .map_err(|e| BacktestError::input("sizing", e))?;
        let options = SetupOptions {
            symbol: self.symbol.clone(),
            symbol_spec: None,
            strategy: self.strategy.clone(),
            params: self.params.clone(),
            config: None,
            timeframe: self.timeframe,
            initial_balance: self.initial_balance,
            leverage: self.leverage,
            commission_per_lot: self.commission_per_lot,
            commission_rate: self.commission_rate,
            spread_points: self.spread_points,
            slippage_points: self.slippage_points,
            sizing,
            fill: if self.fill_at_close {
                FillTiming::SignalClose
            } else {
                FillTiming::NextOpen
            },
            server_offset_secs: self.server_offset_secs,
        };
        options.build_from(symbol, self.spec.clone(), self.base.clone())
    }
}

/// The grid or sample searched and how sets are ranked, as values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortableSearch {
    /// `(name, values)` in the ranges' order.
    pub ranges: Vec<(String, Vec<Value>)>,
    /// `None` for the whole grid, else `(samples, seed)`.
    pub sample: Option<(usize, u64)>,
    pub objective: String,
    pub min_trades: u64,
}

impl PortableSearch {
    pub fn of(opts: &OptimizeOptions) -> Self {
        Self {
            ranges: opts
                .ranges
                .iter()
                .map(|r| (r.name.clone(), r.values.clone()))
                .collect(),
            sample: match opts.search {
                Search::Grid => None,
                Search::Random { samples, seed } => Some((samples, seed)),
            },
            objective: opts.objective.name().to_string(),
            min_trades: opts.min_trades,
        }
    }

    /// The optimiser's options (`jobs` threads, no progress bar).
    pub fn options(&self, jobs: Option<usize>) -> Result<OptimizeOptions, BacktestError> {
        Ok(OptimizeOptions {
            ranges: self
                .ranges
                .iter()
                .map(|(name, values)| ParamRange {
                    name: name.clone(),
                    values: values.clone(),
                })
                .collect(),
            search: match self.sample {
                None => Search::Grid,
                Some((samples, seed)) => Search::Random { samples, seed },
            },
            objective: self
                .objective
                .parse::<Objective>()
                .map_err(|e| BacktestError::input("objective", e))?,
            min_trades: self.min_trades,
            jobs,
            progress: false,
        })
    }
}

/// Evaluates parameter sets by index, as [`optimize`](super::optimize) would.
#[derive(Debug)]
pub struct SetEvaluator {
    factory: SetupFactory,
    bars: Vec<Bar>,
    cache: Option<Arc<SeriesCache>>,
    sets: Vec<ParamSet>,
    objective: Objective,
    min_trades: u64,
    pool: Option<rayon::ThreadPool>,
}

impl SetEvaluator {
    /// An evaluator over `bars` for the sets `opts` enumerates, on `opts.jobs` threads (one
    /// when not given: a worker process is one core's worth).
    pub fn new(
        factory: SetupFactory,
        bars: Vec<Bar>,
        opts: &OptimizeOptions,
    ) -> Result<Self, BacktestError> {
        let cache = factory.cache_for(&bars);
        let pool = match opts.jobs {
            Some(n) if n > 1 => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| BacktestError::input("--jobs", e.to_string()))?,
            ),
            _ => None,
        };
        Ok(Self {
            sets: parameter_sets(&opts.ranges, opts.search),
            factory,
            bars,
            cache,
            objective: opts.objective,
            min_trades: opts.min_trades,
            pool,
        })
    }

    /// Parameter sets in the search.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }

    /// The sets at `range` (clipped to the search), each with its evaluation or the strategy's
    /// reason for refusing it. `stop` is asked between sets; when it says so, `None`.
    pub fn evaluate(
        &self,
        range: Range<usize>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Option<Vec<(usize, Result<Evaluation, String>)>> {
        let range = range.start.min(self.sets.len())..range.end.min(self.sets.len());
        let before = self.cache.as_ref().map_or(0, |c| c.resyncs() + c.strays());
        let out = self.run(range.clone(), self.cache.as_ref(), stop)?;
        let after = self.cache.as_ref().map_or(0, |c| c.resyncs() + c.strays());
        if after > before {
            // As the optimiser does: a shared strategy met bars other than the cache's, so the
            // sets run again on their own indicators.
            return self.run(range, None, stop);
        }
        Some(out)
    }

    fn run(
        &self,
        range: Range<usize>,
        cache: Option<&Arc<SeriesCache>>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Option<Vec<(usize, Result<Evaluation, String>)>> {
        let one = |i: usize| -> Option<(usize, Result<Evaluation, String>)> {
            if stop() {
                return None;
            }
            let r = evaluate_on(
                &self.factory,
                &self.sets[i],
                &self.bars,
                cache,
                self.objective,
                self.min_trades,
            );
            Some((i, r))
        };
        match &self.pool {
            Some(pool) => pool.install(|| range.into_par_iter().map(one).collect()),
            None => range.map(one).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::{optimize, parse_range};
    use crate::testkit;

    fn options() -> SetupOptions {
        SetupOptions {
            symbol: "EURUSD".into(),
            strategy: Some("crossover".into()),
            params: vec![("sl_pips".into(), "30".into())],
            timeframe: Timeframe::M5,
            sizing: Some("risk:1".parse().unwrap()),
            commission_per_lot: Some(Decimal::new(7, 0)),
            ..SetupOptions::default()
        }
    }

    #[test]
    fn a_portable_setup_survives_json_and_builds_the_same_setup() {
        let o = options();
        let p = o.portable().unwrap();
        let back: PortableSetup =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let (a, b) = (o.build().unwrap(), back.build().unwrap());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn sets_evaluated_by_index_in_chunks_equal_the_local_optimisation() {
        let bars = testkit::bench_bars(3_000);
        let opts = OptimizeOptions {
            ranges: vec![
                parse_range("fast_period=4..12:4").unwrap(),
                parse_range("slow_period=10,20,30").unwrap(),
            ],
            search: Search::Grid,
            objective: Objective::NetProfit,
            min_trades: 1,
            jobs: Some(1),
            progress: false,
        };
        let factory = SetupFactory::new(options().build().unwrap());
        let local = optimize(&factory, &bars, &opts).unwrap();
        let search = PortableSearch::of(&opts);
        let remote_opts: PortableSearch =
            serde_json::from_str(&serde_json::to_string(&search).unwrap()).unwrap();
        let remote = SetupFactory::new(options().portable().unwrap().build().unwrap());
        let ev = SetEvaluator::new(remote, bars, &remote_opts.options(Some(2)).unwrap()).unwrap();
        let mut got = Vec::new();
        for start in (0..ev.len()).step_by(4) {
            got.extend(ev.evaluate(start..start + 4, &|| false).unwrap());
        }
        assert_eq!(got.len(), 9);
        let valid: Vec<Evaluation> = got.into_iter().filter_map(|(_, r)| r.ok()).collect();
        assert_eq!(valid.len(), local.results.len());
        for e in &local.results {
            let twin = valid.iter().find(|v| v.params == e.params).unwrap();
            assert_eq!(twin.score.to_bits(), e.score.to_bits());
            assert_eq!(twin.stats, e.stats);
        }
    }

    #[test]
    fn a_stop_request_abandons_the_chunk() {
        let bars = testkit::bench_bars(500);
        let opts = OptimizeOptions {
            ranges: vec![parse_range("fast_period=4..8:2").unwrap()],
            search: Search::Grid,
            objective: Objective::NetProfit,
            min_trades: 1,
            jobs: None,
            progress: false,
        };
        let ev =
            SetEvaluator::new(SetupFactory::new(options().build().unwrap()), bars, &opts).unwrap();
        assert!(ev.evaluate(0..3, &|| true).is_none());
    }
}
