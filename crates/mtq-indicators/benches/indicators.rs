//! Speed of the typed layer against calling `ta-lib` directly, over 1M points, and of one
//! streaming update. Run: `cargo bench -p mtq-indicators --bench indicators`.

use std::hint::black_box;
use std::time::Duration;

use chrono::DateTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mtq_core::Bar;
use mtq_core::testkit::BarBuilder;
use mtq_indicators::batch;
use mtq_indicators::stream::{Atr, Ema, Indicator, Rsi};
use ta_lib::Core;

const N: usize = 1_000_000;
const PERIOD: usize = 14;

/// A deterministic FX-like series (a bounded pseudo-random walk), no dependencies.
fn series() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut price = 1.1;
    let (mut high, mut low, mut close) = (vec![], vec![], vec![]);
    for _ in 0..N {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let u = f64::from(u32::try_from(state >> 40).unwrap_or(0)) / f64::from(1u32 << 24) - 0.5;
        price = (price + u * 0.0004).clamp(0.9, 1.3);
        close.push(price);
        high.push(price + 0.0003);
        low.push(price - 0.0003);
    }
    (high, low, close)
}

fn bars(high: &[f64], low: &[f64], close: &[f64]) -> Vec<Bar> {
    (0..high.len())
        .map(|i| {
            BarBuilder::new()
                .at(DateTime::UNIX_EPOCH)
                .ohlc(close[i], high[i], low[i], close[i])
                .tick_volume(1)
                .spread(0)
                .build()
        })
        .collect()
}

fn batch_vs_direct(c: &mut Criterion) {
    let (h, l, cl) = series();
    let core = Core::new();
    let p = i32::try_from(PERIOD).unwrap();
    let mut g = c.benchmark_group("batch_1m");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("ema/mtq", |b| {
        b.iter(|| batch::ema(black_box(&cl), PERIOD).unwrap());
    });
    g.bench_function("ema/ta-lib", |b| {
        b.iter(|| {
            let mut out = vec![0.0; N];
            core.ema(0, N - 1, black_box(&cl), p, &mut out).unwrap();
            out
        });
    });
    g.bench_function("rsi/mtq", |b| {
        b.iter(|| batch::rsi(black_box(&cl), PERIOD).unwrap());
    });
    g.bench_function("rsi/ta-lib", |b| {
        b.iter(|| {
            let mut out = vec![0.0; N];
            core.rsi(0, N - 1, black_box(&cl), p, &mut out).unwrap();
            out
        });
    });
    g.bench_function("atr/mtq", |b| {
        b.iter(|| batch::atr(black_box(&h), &l, &cl, PERIOD).unwrap());
    });
    g.bench_function("atr/ta-lib", |b| {
        b.iter(|| {
            let mut out = vec![0.0; N];
            core.atr(0, N - 1, black_box(&h), &l, &cl, p, &mut out)
                .unwrap();
            out
        });
    });
    g.finish();
}

fn streaming(c: &mut Criterion) {
    let (h, l, cl) = series();
    let bars = bars(&h, &l, &cl);
    let mut g = c.benchmark_group("stream_1m");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("ema", |b| {
        b.iter(|| {
            let mut s = Ema::new(PERIOD).unwrap();
            let mut acc = 0.0;
            for x in &cl {
                acc += s.update(black_box(*x)).unwrap_or(0.0);
            }
            acc
        });
    });
    g.bench_function("rsi", |b| {
        b.iter(|| {
            let mut s = Rsi::new(PERIOD).unwrap();
            let mut acc = 0.0;
            for x in &cl {
                acc += s.update(black_box(*x)).unwrap_or(0.0);
            }
            acc
        });
    });
    g.bench_function("atr", |b| {
        b.iter(|| {
            let mut s = Atr::new(PERIOD).unwrap();
            let mut acc = 0.0;
            for bar in &bars {
                acc += s.update(black_box(*bar)).unwrap_or(0.0);
            }
            acc
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(3));
    targets = batch_vs_direct, streaming
}
criterion_main!(benches);
