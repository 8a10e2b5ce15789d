//! Cost of one closed bar through a strategy, as the backtest driver calls it (a
//! `Box<dyn Strategy>` from the registry, one `Context` per bar). Run:
//! `cargo bench -p mtq-strategies --bench strategies`.
//!
//! The `crossover/*_shared` cases build the strategy on a [`SeriesCache`] over the same bars, as
//! the optimiser does: the cache is built once, outside the measured loop, and its series are
//! computed by the first iteration (then reused, as by every parameter set after the first);
//! `crossover/sma_shared_cold` builds a fresh cache every iteration, so it pays for computing
//! both series, as a parameter set that shares its averages with no other would.

use std::hint::black_box;
use std::time::Duration;

use chrono::DateTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mtq_core::testkit::{Series, eurusd};
use mtq_core::{Bar, Timeframe};
use mtq_indicators::stream::{Indicator, Sma};
use mtq_strategies::shared::SeriesCache;
use mtq_strategies::{Context, registry};
use serde_json::json;
use std::sync::Arc;

const N: usize = 1_000_000;

/// A deterministic FX-like random walk (xorshift), as in the indicators' benchmark.
fn bars(n: usize) -> Vec<Bar> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut price = 1.1;
    let series = Series::new(DateTime::UNIX_EPOCH, chrono::Duration::hours(1))
        .tick_volume(1)
        .spread(10);
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = f64::from(u32::try_from(state >> 40).unwrap_or(0)) / f64::from(1u32 << 24);
            let open = price;
            price = (price + (u - 0.5) * 0.0004).clamp(0.9, 1.3);
            let (high, low) = (open.max(price) + 0.0003, open.min(price) - 0.0003);
            series.bar(i, open, high, low, price)
        })
        .collect()
}

fn per_bar(c: &mut Criterion) {
    let bars = bars(N);
    // The same bars with closes rising a hair each bar: the averages never cross, so every bar
    // takes the no-signal path.
    let rising: Vec<Bar> = bars
        .iter()
        .zip(0u32..)
        .map(|(b, i)| Bar {
            close: 1.0 + f64::from(i) * 1e-7,
            ..*b
        })
        .collect();
    let spec = eurusd();
    let mut g = c.benchmark_group("strategy_1m_bars");
    g.throughput(Throughput::Elements(N as u64));
    // What the crossover's two averages cost on their own, for scale.
    g.bench_function("baseline/sma10+sma20_updates", |b| {
        b.iter(|| {
            let mut fast = Sma::new(10).unwrap();
            let mut slow = Sma::new(20).unwrap();
            let mut acc = 0.0;
            for bar in &bars {
                acc += fast.update(black_box(bar.close)).unwrap_or(0.0);
                acc += slow.update(black_box(bar.close)).unwrap_or(0.0);
            }
            acc
        });
    });
    g.bench_function("crossover/sma_no_cross", |b| {
        b.iter(|| {
            let mut s = registry::build("crossover", &json!({})).unwrap();
            let ctx = Context::new(&spec, Timeframe::H1);
            rising
                .iter()
                .filter(|bar| s.on_bar(black_box(bar), &ctx).is_some())
                .count()
        });
    });
    let rising_cache = Arc::new(SeriesCache::new(&rising).unwrap());
    g.bench_function("crossover/sma_no_cross_shared", |b| {
        b.iter(|| {
            let mut s = registry::build_shared("crossover", &json!({}), &rising_cache).unwrap();
            let ctx = Context::new(&spec, Timeframe::H1);
            rising
                .iter()
                .filter(|bar| s.on_bar(black_box(bar), &ctx).is_some())
                .count()
        });
    });
    let cache = Arc::new(SeriesCache::new(&bars).unwrap());
    for (label, params) in [
        ("crossover/sma_shared", json!({})),
        ("crossover/ema_shared", json!({"ma_type": "ema"})),
    ] {
        g.bench_function(label, |b| {
            b.iter(|| {
                let mut s = registry::build_shared("crossover", &params, &cache).unwrap();
                let ctx = Context::new(&spec, Timeframe::H1);
                let mut n = 0usize;
                for bar in &bars {
                    n += usize::from(s.on_bar(black_box(bar), &ctx).is_some());
                }
                n
            });
        });
    }
    g.bench_function("crossover/sma_shared_cold", |b| {
        b.iter(|| {
            let cache = Arc::new(SeriesCache::new(&bars).unwrap());
            let mut s = registry::build_shared("crossover", &json!({}), &cache).unwrap();
            let ctx = Context::new(&spec, Timeframe::H1);
            let mut n = 0usize;
            for bar in &bars {
                n += usize::from(s.on_bar(black_box(bar), &ctx).is_some());
            }
            n
        });
    });
    let cases = [
        ("crossover/sma", "crossover", json!({})),
        ("crossover/ema", "crossover", json!({"ma_type": "ema"})),
        ("rsi", "rsi", json!({})),
        ("ema_trend", "ema_trend", json!({})),
        ("smart_money", "smart_money", json!({})),
    ];
    for (label, name, params) in cases {
        g.bench_function(label, |b| {
            b.iter(|| {
                let mut s = registry::build(name, &params).unwrap();
                let ctx = Context::new(&spec, Timeframe::H1);
                let mut n = 0usize;
                for bar in &bars {
                    n += usize::from(s.on_bar(black_box(bar), &ctx).is_some());
                }
                n
            });
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3));
    targets = per_bar
}
criterion_main!(benches);
