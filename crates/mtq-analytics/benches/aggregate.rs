//! Aggregating one million synthetic trades: the full report (all statistics, per-symbol and
//! per-strategy breakdowns, equity curve, drawdown, daily returns, Sharpe, Sortino, Calmar).
//!
//! `CARGO_TARGET_DIR=/work/target-persist cargo bench -p mtq-analytics --bench aggregate`

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use mtq_analytics::{ClosedTrade, PerformanceReport, equity_from_trades};
use mtq_core::Symbol;
use rust_decimal::Decimal;

const TRADES: usize = 1_000_000;

fn synthetic(n: usize) -> Vec<ClosedTrade> {
    let symbols: Vec<Symbol> = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "XAUUSD"]
        .iter()
        .map(|s| Symbol::new(s).unwrap())
        .collect();
    let strategies = ["ma_crossover", "rsi", "breakout", "mean_reversion"];
    let t0 = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
    // A small linear congruential generator: reproducible P&L without a dependency.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let cents = i64::try_from(x >> 49).unwrap() - 60_000; // about -600.00 .. +710.71
            let exit = t0 + Duration::minutes(i64::try_from(i).unwrap() * 5);
            ClosedTrade {
                symbol: symbols[i % symbols.len()].clone(),
                strategy: Some(strategies[i % strategies.len()].to_string()),
                entry_time: exit - Duration::minutes(90),
                exit_time: exit,
                net_profit: Decimal::new(cents, 2),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let trades = synthetic(TRADES);
    let mut g = c.benchmark_group("analytics");
    g.sample_size(10);
    g.bench_function("report_1m_trades", |b| {
        b.iter(|| {
            let curve = equity_from_trades(Decimal::from(1_000_000), &trades);
            PerformanceReport::new(&trades, &curve)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
