//! Model speed on a bar close: features plus a 100-tree forest's probability for 20 symbols
//! (the issue-22 goal: under 1 ms on one core), and the parts alone.
//!
//! `cargo bench -p mtq-ml --bench ml`; results and method: docs/benchmarks.md, "ML features and
//! forest inference (issue 22)".

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mtq_core::testkit::{monday, random_walk};
use mtq_core::{Bar, SignalKind, Timeframe};
use mtq_ml::LabelSpec;
use mtq_ml::features::FeatureStream;
use mtq_ml::forest::{Forest, ForestParams};
use mtq_ml::train::Dataset;

const SYMBOLS: usize = 20;

/// A 100-tree forest (the defaults: depth 6, 20 rows a leaf) trained on 5,000 H1 bars.
fn forest() -> Forest {
    let bars = random_walk(5000, 3, Timeframe::H1, monday(), 1.1, 10);
    let signals = vec![None; bars.len()];
    let data = Dataset::build(
        &bars,
        Timeframe::H1,
        &signals,
        LabelSpec::ForwardReturn {
            horizon: 12,
            threshold: 0.0005,
        },
    )
    .unwrap();
    Forest::fit(&data.x, &data.y, ForestParams::default()).unwrap()
}

fn bar_close(c: &mut Criterion) {
    let forest = forest();
    // 20 symbols, each warmed up on its own walk; the benchmark feeds each its next bar.
    let series: Vec<Vec<Bar>> = (0..SYMBOLS)
        .map(|s| random_walk(3000, 100 + s as u64, Timeframe::H1, monday(), 1.1, 10))
        .collect();
    let mut streams: Vec<FeatureStream> = series
        .iter()
        .map(|bars| {
            let mut f = FeatureStream::new(Timeframe::H1).unwrap();
            for b in &bars[..2000] {
                f.update(b, None);
            }
            f
        })
        .collect();
    let mut g = c.benchmark_group("ml");
    g.sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut k = 2000;
    g.bench_function("features_and_forest_100_trees_20_symbols", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for (s, stream) in streams.iter_mut().enumerate() {
                let bar = &series[s][k];
                if let Some(row) = stream.update(bar, Some(SignalKind::Buy)) {
                    sum += forest.predict(row).unwrap();
                }
            }
            k = if k + 1 < 3000 { k + 1 } else { 2000 };
            black_box(sum)
        });
    });
    let row = *streams[0].last().unwrap();
    g.bench_function("forest_100_trees_one_row", |b| {
        b.iter(|| black_box(forest.predict(black_box(&row)).unwrap()));
    });
    g.finish();
}

criterion_group!(benches, bar_close);
criterion_main!(benches);
