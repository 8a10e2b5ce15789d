//! Per-bar cost of the simulator's synchronous path with 0, 10 and 100 open positions.
//!
//! Run: `cargo bench -p mtq-sim --bench per_bar`. Each measurement feeds M1 bars of a seeded
//! random walk (EURUSD around 1.10, within ±2%) to `Simulator::on_bar`; positions carry SL/TP
//! 10% away so they are checked on every bar but never closed. Setup is not timed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mtq_core::testkit::{self, BarBuilder, Series};
use mtq_core::{Bar, ClientOrderId, OrderRequest, Side, Symbol};
use mtq_sim::{SimConfig, Simulator, SymbolId};
use rust_decimal_macros::dec;

const BARS: usize = 1 << 20;

fn walk() -> Vec<Bar> {
    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut x: u64 = 0x1234_5678;
    let mut price = 1.1_f64;
    let series = Series::new(start, chrono::Duration::minutes(1))
        .tick_volume(10)
        .spread(8);
    (0..BARS)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            #[allow(clippy::cast_precision_loss)]
            let step = ((x % 21) as f64 - 10.0) * 0.00001;
            let open = price;
            price = (price + step).clamp(1.08, 1.12);
            let (hi, lo) = (open.max(price) + 0.00005, open.min(price) - 0.00005);
            series.bar(i, open, hi, lo, price)
        })
        .collect()
}

fn setup(open_positions: usize) -> (Simulator, SymbolId) {
    let cfg = SimConfig {
        deposit: dec!(1_000_000),
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(cfg, [testkit::eurusd()]).unwrap();
    let id = sim.symbol_id(&Symbol::new("EURUSD").unwrap()).unwrap();
    let first = BarBuilder::new()
        .at(testkit::at("2023-12-31T23:59:00Z"))
        .flat(1.1)
        .tick_volume(1)
        .spread(8)
        .build();
    sim.on_bar(id, &first);
    for i in 0..open_positions {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let (sl, tp) = match side {
            Side::Buy => (dec!(0.99), dec!(1.21)),
            Side::Sell => (dec!(1.21), dec!(0.99)),
        };
        let req = OrderRequest {
            sl: Some(sl),
            tp: Some(tp),
            ..OrderRequest::market(
                ClientOrderId::new(&format!("b{i}")).unwrap(),
                Symbol::new("EURUSD").unwrap(),
                side,
                dec!(0.01),
            )
        };
        sim.send_order(&req).unwrap();
    }
    (sim, id)
}

fn per_bar(c: &mut Criterion) {
    let bars = walk();
    let mut group = c.benchmark_group("sim_on_bar");
    group.throughput(Throughput::Elements(1));
    for n in [0usize, 10, 100] {
        group.bench_with_input(BenchmarkId::new("open_positions", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = usize::try_from(iters).unwrap_or(usize::MAX);
                while left > 0 {
                    let chunk = left.min(BARS);
                    let (mut sim, id) = setup(n);
                    let t = Instant::now();
                    for bar in &bars[..chunk] {
                        sim.on_bar(id, black_box(bar));
                    }
                    total += t.elapsed();
                    assert_eq!(
                        sim.open_position_count(),
                        n,
                        "the benchmark must not close positions"
                    );
                    left -= chunk;
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, per_bar);
criterion_main!(benches);
