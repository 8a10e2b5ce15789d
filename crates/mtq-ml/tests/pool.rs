//! A trader's symbols behind one shared model ([`ModelPool`]): a bar close prepared for every
//! symbol first (`Strategy::prepare_bar`) runs the wanted windows in batches, and each symbol's
//! signal, reason and probability are exactly what the symbol gives with a model of its own,
//! one bar at a time.

use std::path::{Path, PathBuf};

use mtq_core::testkit::{PositionBuilder, monday, random_walk};
use mtq_core::{Bar, Side, Signal, SymbolSpec, Timeframe};
use mtq_ml::{MlFiltered, MlSettings, ModelPool, ModelRef, OnFailure};
use mtq_strategies::{Context, Strategy};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

fn settings(models: &[&str]) -> MlSettings {
    MlSettings {
        models: models
            .iter()
            .map(|m| ModelRef {
                path: fixture(m),
                weight: 1.0,
            })
            .collect(),
        threshold: 0.45,
        exit_below: Some(0.55),
        size_by_confidence: true,
        on_failure: OnFailure::Stop,
    }
}

/// A fast crossover: an entry every few bars, so the gate reads the models often.
fn base() -> Box<dyn Strategy> {
    mtq_strategies::registry::build(
        "crossover",
        &serde_json::json!({"fast_period": 2, "slow_period": 5}),
    )
    .unwrap()
}

const SYMBOLS: usize = 7;
const BARS: usize = 420;

/// Symbol `k`'s bars: its own seeded walk.
fn walks() -> Vec<Vec<Bar>> {
    (0..SYMBOLS)
        .map(|k| random_walk(BARS, 100 + k as u64, Timeframe::H1, monday(), 1.1, 10))
        .collect()
}

/// On some bars a symbol holds a losing position, so the position manager reads the models too.
fn positions(k: usize, i: usize) -> Vec<mtq_core::Position> {
    if (i + k).is_multiple_of(3) {
        let side = if i.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        vec![
            PositionBuilder::new("EURUSD", side)
                .profit(mtq_core::Decimal::new(-35, 1))
                .build(),
        ]
    } else {
        Vec::new()
    }
}

/// Every symbol's signals, bar by bar: `prepared` tells every symbol of the bar close before
/// asking any of them; otherwise each takes its bar alone.
// Bar `i` of every symbol's series in turn: the index is the bar close, not one series.
#[allow(clippy::needless_range_loop)]
fn run(filters: &mut [MlFiltered], bars: &[Vec<Bar>], prepared: bool) -> Vec<Option<Signal>> {
    let spec = SymbolSpec::builtin("EURUSD").unwrap();
    let mut out = Vec::new();
    for i in 0..BARS {
        let held: Vec<_> = (0..filters.len()).map(|k| positions(k, i)).collect();
        if prepared {
            for (k, f) in filters.iter_mut().enumerate() {
                let ctx = Context::new(&spec, Timeframe::H1).with_positions(&held[k]);
                f.prepare_bar(&bars[k][i], &ctx);
            }
        }
        for (k, f) in filters.iter_mut().enumerate() {
            let ctx = Context::new(&spec, Timeframe::H1).with_positions(&held[k]);
            out.push(f.on_bar(&bars[k][i], &ctx));
        }
    }
    out
}

#[test]
fn a_bar_close_prepared_for_all_symbols_gives_each_what_its_own_model_gives() {
    let bars = walks();
    for models in [&["lstm"][..], &["gru"], &["lstm", "gru", "rf"]] {
        let s = settings(models);
        let mut alone: Vec<MlFiltered> = (0..SYMBOLS)
            .map(|_| MlFiltered::new(base(), &s, Timeframe::H1).unwrap())
            .collect();
        let pool = ModelPool::new();
        let mut shared: Vec<MlFiltered> = (0..SYMBOLS)
            .map(|_| MlFiltered::new_in(base(), &s, Timeframe::H1, &pool).unwrap())
            .collect();
        assert_eq!(
            pool.len(),
            models.len(),
            "{models:?}: each model loaded once"
        );
        let want = run(&mut alone, &bars, false);
        let got = run(&mut shared, &bars, true);
        assert_eq!(want.len(), got.len());
        let mut read = 0;
        for (n, (w, g)) in want.iter().zip(&got).enumerate() {
            assert_eq!(
                w,
                g,
                "{models:?}: symbol {}, bar {}",
                n % SYMBOLS,
                n / SYMBOLS
            );
            read += usize::from(
                g.as_ref()
                    .and_then(|s| s.ml.as_ref())
                    .is_some_and(|m| m.probability.is_some()),
            );
        }
        // The models were read on many bars (entries and the position manager), and those
        // reads went through batches of several symbols' windows.
        assert!(read > 200, "{models:?}: {read} signals read the models");
        let stats = pool.stats();
        assert!(stats.batches > 50, "{models:?}: {stats:?}");
        assert!(stats.windows >= 3 * stats.batches, "{models:?}: {stats:?}");
        // The same filters one bar at a time from here (a backtest's way) still agree.
        let mut more = walks();
        for b in &mut more {
            for bar in b.iter_mut() {
                bar.time += chrono::Duration::hours(i64::try_from(BARS).unwrap());
            }
        }
        assert_eq!(
            run(&mut alone, &more, false),
            run(&mut shared, &more, false)
        );
    }
}

#[test]
fn a_symbol_that_leaves_frees_its_window_for_the_next_without_touching_the_others() {
    let bars = walks();
    let s = settings(&["lstm"]);
    let pool = ModelPool::new();
    let mut shared: Vec<MlFiltered> = (0..3)
        .map(|_| MlFiltered::new_in(base(), &s, Timeframe::H1, &pool).unwrap())
        .collect();
    let mut alone: Vec<MlFiltered> = (0..3)
        .map(|_| MlFiltered::new(base(), &s, Timeframe::H1).unwrap())
        .collect();
    let first = |v: &mut Vec<MlFiltered>, prepared| run(&mut v[..], &bars[..3], prepared);
    assert_eq!(first(&mut alone, false), first(&mut shared, true));
    // The middle symbol goes; a new one takes its slot from nothing.
    drop(shared.remove(1));
    drop(alone.remove(1));
    shared.insert(
        1,
        MlFiltered::new_in(base(), &s, Timeframe::H1, &pool).unwrap(),
    );
    alone.insert(1, MlFiltered::new(base(), &s, Timeframe::H1).unwrap());
    let mut later = bars[3..6].to_vec();
    for b in &mut later {
        for bar in b.iter_mut() {
            bar.time += chrono::Duration::hours(i64::try_from(BARS).unwrap());
        }
    }
    assert_eq!(
        run(&mut alone, &later, false),
        run(&mut shared, &later, true)
    );
}
