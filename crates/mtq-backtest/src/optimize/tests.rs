// The net-profit score is the decimal profit's own f64 image, so it compares exactly.
#![allow(clippy::float_cmp)]

use std::sync::Arc;

use mtq_strategies::shared::SeriesCache;
use serde_json::json;

use super::*;
use crate::settings::SetupOptions;
use crate::testkit::random_walk;
use mtq_core::Timeframe;

#[test]
fn ranges_expand_inclusively_in_integer_and_decimal_steps() {
    let r = parse_range("fast_period=5..50:5").unwrap();
    assert_eq!(r.name, "fast_period");
    assert_eq!(r.values.len(), 10);
    assert_eq!(
        (r.values[0].clone(), r.values[9].clone()),
        (json!(5), json!(50))
    );
    let r = parse_range("sl_pips=10..11:0.25").unwrap();
    assert_eq!(
        r.values,
        vec![
            json!(10),
            json!(10.25),
            json!(10.5),
            json!(10.75),
            json!(11)
        ]
    );
    let r = parse_range("x=0.1..0.3:0.1").unwrap();
    assert_eq!(r.values, vec![json!(0.1), json!(0.2), json!(0.3)]);
    assert_eq!(
        parse_range("ma_type=sma,ema").unwrap().values,
        vec![json!("sma"), json!("ema")]
    );
    assert_eq!(parse_range("sl_pips=30").unwrap().values, vec![json!(30)]);
    for bad in [
        "fast_period",
        "=1..2",
        "a=5..1",
        "a=1..5:0",
        "a=x..5",
        "a=1..2000000:1",
    ] {
        assert!(parse_range(bad).is_err(), "{bad}");
    }
}

fn ranges() -> Vec<ParamRange> {
    vec![
        parse_range("fast_period=4..8:2").unwrap(),
        parse_range("slow_period=10,20").unwrap(),
    ]
}

#[test]
fn grid_enumerates_every_combination_last_range_fastest() {
    let sets = parameter_sets(&ranges(), Search::Grid);
    assert_eq!(sets.len(), 6);
    assert_eq!(grid_size(&ranges()), 6);
    let first: Vec<_> = sets.iter().take(3).map(params_json).collect();
    assert_eq!(
        first,
        vec![
            json!({"fast_period": 4, "slow_period": 10}),
            json!({"fast_period": 4, "slow_period": 20}),
            json!({"fast_period": 6, "slow_period": 10}),
        ]
    );
}

#[test]
fn random_sample_is_distinct_and_fixed_by_the_seed() {
    let big = vec![
        parse_range("a=1..100").unwrap(),
        parse_range("b=1..100").unwrap(),
    ];
    let s1 = parameter_sets(
        &big,
        Search::Random {
            samples: 50,
            seed: 7,
        },
    );
    let s2 = parameter_sets(
        &big,
        Search::Random {
            samples: 50,
            seed: 7,
        },
    );
    let s3 = parameter_sets(
        &big,
        Search::Random {
            samples: 50,
            seed: 8,
        },
    );
    assert_eq!(s1, s2);
    assert_ne!(s1, s3);
    let distinct: std::collections::BTreeSet<String> =
        s1.iter().map(|p| params_json(p).to_string()).collect();
    assert_eq!(distinct.len(), 50);
    // A sample as large as the grid is the grid.
    assert_eq!(
        parameter_sets(
            &ranges(),
            Search::Random {
                samples: 99,
                seed: 1
            }
        )
        .len(),
        6
    );
}

fn factory() -> SetupFactory {
    SetupFactory::new(
        SetupOptions {
            symbol: "EURUSD".into(),
            strategy: Some("crossover".into()),
            params: vec![
                ("sl_pips".into(), "30".into()),
                ("tp_pips".into(), "60".into()),
            ],
            timeframe: Timeframe::M5,
            sizing: Some(crate::Sizing::Fixed(rust_decimal::Decimal::ONE)),
            ..SetupOptions::default()
        }
        .build()
        .unwrap(),
    )
}

fn bars() -> Vec<mtq_core::Bar> {
    random_walk(
        8_000,
        3,
        Timeframe::M5,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        1.1,
        10,
    )
}

fn opts(jobs: usize) -> OptimizeOptions {
    OptimizeOptions {
        ranges: vec![
            parse_range("fast_period=5..25:10").unwrap(),
            parse_range("slow_period=10..30:10").unwrap(),
        ],
        search: Search::Grid,
        objective: Objective::NetProfit,
        min_trades: 5,
        jobs: Some(jobs),
        progress: false,
    }
}

#[test]
fn optimisation_is_deterministic_across_thread_counts_and_skips_invalid_sets() {
    let bars = bars();
    let one = optimize(&factory(), &bars, &opts(1)).unwrap();
    let two = optimize(&factory(), &bars, &opts(2)).unwrap();
    assert_eq!(one, two);
    // fast 15/25 against slow 10, and 25 against 20: the strategy refuses fast >= slow.
    assert_eq!(one.grid_size, 9);
    assert_eq!(one.invalid, 3);
    assert!(
        one.invalid_reason
            .as_deref()
            .unwrap()
            .contains("fast_period")
    );
    assert_eq!(one.results.len(), 6);
    let scores: Vec<f64> = one
        .results
        .iter()
        .filter(|e| e.eligible)
        .map(|e| e.score)
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let best = one.best().unwrap();
    assert_eq!(best.score, crate::stats::to_f64(best.stats.net_profit));
}

#[test]
fn sets_below_the_minimum_trade_count_rank_after_eligible_ones() {
    let bars = bars();
    let mut o = opts(1);
    o.min_trades = 10_000;
    let r = optimize(&factory(), &bars, &o).unwrap();
    assert!(r.results.iter().all(|e| !e.eligible));
    assert!(r.best().is_none());
}

#[test]
fn results_are_stored_in_the_optimisation_tables() {
    use mtq_persistence::{OptimizationRepo, Store};
    let dir = std::env::temp_dir().join(format!("mtq-bt-opt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("opt.db").display());
    let bars = bars();
    let f = factory();
    let o = optimize(&f, &bars, &opts(2)).unwrap();
    let id = crate::cli::store_results(&url, &f, &bars, &opts(2), &o).unwrap();
    let mut store = Store::open(&url).unwrap();
    let run = store.run(id).unwrap().unwrap();
    assert_eq!(run.status, "finished");
    assert_eq!(run.run.objective, "net_profit");
    let top = store.top_results(id, 100).unwrap();
    assert_eq!(top.len(), o.results.len());
    let best = store
        .best_parameters(&f.base().symbol, "crossover", Timeframe::M5)
        .unwrap()
        .unwrap();
    assert_eq!(best.parameters, o.best().unwrap().params.to_string());
    assert_eq!(best.run_id, Some(id));
    std::fs::remove_dir_all(&dir).ok();
}

/// `n` M15 bars of a seeded walk from 2024, and the factory's setup on M15: walk-forward data.
fn m15_walk(n: usize, seed: u64) -> (Vec<Bar>, BacktestSetup) {
    let bars = random_walk(
        n,
        seed,
        Timeframe::M15,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        1.1,
        10,
    );
    let mut base = factory().base().clone();
    base.timeframe = Timeframe::M15;
    (bars, base)
}

#[test]
fn walk_forward_rolls_windows_and_stitches_out_of_sample_equity() {
    let (bars, base) = m15_walk(12_000, 5);
    let f = SetupFactory::new(base);
    let wf = walk_forward(
        &f,
        &bars,
        &WalkForwardOptions {
            in_sample: chrono::Duration::days(60),
            out_of_sample: chrono::Duration::days(20),
            optimize: opts(2),
        },
    )
    .unwrap();
    assert!(wf.windows.len() >= 4, "{} windows", wf.windows.len());
    for w in wf.windows.windows(2) {
        assert_eq!(
            w[1].in_sample_from - w[0].in_sample_from,
            chrono::Duration::days(20)
        );
        assert_eq!(w[0].out_of_sample_from, w[0].in_sample_to);
    }
    // Every out-of-sample trade lies inside an out-of-sample window.
    for t in &wf.trades {
        assert!(
            wf.windows
                .iter()
                .any(|w| t.entry_time >= w.out_of_sample_from
                    && t.entry_time < w.out_of_sample_from + chrono::Duration::days(20))
        );
    }
    // The stitched curve is in time order and ends at the stitched final equity.
    assert!(wf.equity.windows(2).all(|w| w[0].time <= w[1].time));
    assert_eq!(
        wf.equity.last().unwrap().equity,
        wf.out_of_sample.final_equity
    );
    let traded: u64 = wf
        .windows
        .iter()
        .filter_map(|w| w.out_of_sample.as_ref())
        .map(|s| s.trades)
        .sum();
    assert_eq!(traded, wf.out_of_sample.trades);
    let names: Vec<&str> = wf.stability.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["fast_period", "slow_period"]);
    let fast = &wf.stability[0];
    assert_eq!(
        fast.values.len(),
        wf.windows.iter().filter(|w| w.best.is_some()).count()
    );
    assert!(fast.mode_share > 0.0 && fast.mode_share <= 1.0);
}

/// A 27-set grid over SMA, EMA and WMA crossovers, some sets refused (fast not below slow).
fn ma_grid() -> OptimizeOptions {
    OptimizeOptions {
        ranges: vec![
            parse_range("fast_period=4..20:8").unwrap(),
            parse_range("slow_period=12..36:12").unwrap(),
            parse_range("ma_type=sma,ema,wma").unwrap(),
        ],
        ..opts(2)
    }
}

#[test]
fn sharing_indicator_series_gives_the_same_optimisation_as_streaming_them() {
    let bars = bars();
    let shared = optimize(&factory(), &bars, &ma_grid()).unwrap();
    let streaming = optimize(&factory().sharing_indicators(false), &bars, &ma_grid()).unwrap();
    assert!(factory().shares_indicators() && factory().cache_for(&bars).is_some());
    assert!(
        factory()
            .sharing_indicators(false)
            .cache_for(&bars)
            .is_none()
    );
    assert_eq!(shared.evaluated, 27);
    assert_eq!(shared.invalid, 6);
    assert!(
        shared
            .results
            .iter()
            .filter(|e| e.stats.trades > 20)
            .count()
            >= 12
    );
    assert_eq!(shared, streaming);
}

#[test]
fn one_cache_computes_each_average_of_the_grid_once() {
    let bars = bars();
    let cache = Arc::new(SeriesCache::new(&bars).unwrap());
    let with = optimize_on(&factory(), &bars, &ma_grid(), Some(Arc::clone(&cache))).unwrap();
    // Periods 4, 12, 20, 24 and 36 (fast 12 is also a slow period) for each of three types; the
    // refused sets (fast 20 against slow 12) ask for nothing.
    assert_eq!(cache.computed(), 15);
    assert_eq!((cache.resyncs(), cache.strays()), (0, 0));
    let without = optimize_on(&factory(), &bars, &ma_grid(), None).unwrap();
    assert_eq!(with, without);
}

#[test]
fn a_cache_over_other_bars_is_caught_and_the_sets_run_on_streaming_indicators() {
    let bars = bars();
    // The same closes an hour later: no bar of the backtest is in this cache's series.
    let shifted: Vec<mtq_core::Bar> = bars
        .iter()
        .map(|b| mtq_core::Bar {
            time: b.time + chrono::Duration::hours(1),
            ..*b
        })
        .collect();
    let cache = Arc::new(SeriesCache::new(&shifted).unwrap());
    let caught = optimize_on(&factory(), &bars, &opts(2), Some(Arc::clone(&cache))).unwrap();
    assert!(cache.resyncs() + cache.strays() > 0);
    assert_eq!(
        caught,
        optimize_on(&factory(), &bars, &opts(2), None).unwrap()
    );
}

#[test]
fn bars_that_cannot_back_a_cache_are_optimised_on_streaming_indicators() {
    let mut bars = bars();
    // A repeated bar: the trader core skips it, so no cache is built and nothing is shared.
    let repeat = bars[4_000];
    bars.insert(4_000, repeat);
    assert!(factory().cache_for(&bars).is_none());
    let shared = optimize(&factory(), &bars, &opts(2)).unwrap();
    let streaming = optimize(&factory().sharing_indicators(false), &bars, &opts(2)).unwrap();
    assert_eq!(shared, streaming);
}

#[test]
fn walk_forward_is_the_same_with_and_without_shared_series() {
    let (bars, base) = m15_walk(9_000, 11);
    let wf = |share: bool| {
        walk_forward(
            &SetupFactory::new(base.clone()).sharing_indicators(share),
            &bars,
            &WalkForwardOptions {
                in_sample: chrono::Duration::days(40),
                out_of_sample: chrono::Duration::days(15),
                optimize: OptimizeOptions {
                    ranges: vec![
                        parse_range("fast_period=4,8").unwrap(),
                        parse_range("slow_period=16,32").unwrap(),
                        parse_range("ma_type=sma,ema,wma").unwrap(),
                    ],
                    ..opts(2)
                },
            },
        )
        .unwrap()
    };
    let (shared, streaming) = (wf(true), wf(false));
    assert!(
        shared.windows.len() >= 3,
        "{} windows",
        shared.windows.len()
    );
    assert!(shared.out_of_sample.trades > 0);
    // Windows, stitched statistics, stability, equity curve and trades alike.
    assert_eq!(shared, streaming);
}
