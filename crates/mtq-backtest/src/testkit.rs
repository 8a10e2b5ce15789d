//! Fixtures for this crate's tests, benchmarks and examples (feature `testkit`): mtq-core's seeded
//! random walk, bars as CSV text for the importer, and the speed figures' bars and setup.

use chrono::DateTime;
use mtq_core::{Bar, Timeframe};

/// The seeded random walk every crate's tests use: see [`mtq_core::testkit::random_walk`]. It
/// was a copy of the same algorithm here; the golden results of this crate's tests pin its bars.
pub use mtq_core::testkit::random_walk;

/// The bars as a generic OHLCV CSV text (`time,open,high,low,close,volume,spread`).
pub fn to_csv(bars: &[Bar]) -> String {
    let mut s = String::with_capacity(bars.len() * 64 + 48);
    s.push_str("time,open,high,low,close,volume,spread\n");
    for b in bars {
        s.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            b.time.format("%Y-%m-%d %H:%M:%S"),
            b.open,
            b.high,
            b.low,
            b.close,
            b.tick_volume,
            b.spread
        ));
    }
    s
}

/// `n` M5 bars of the seeded walk the speed figures use: the `backtest` benchmark, the
/// `backtest_bars` example and the allocation test (seed 7, from 2023-01-02, around 1.10,
/// spread 8 points).
pub fn bench_bars(n: usize) -> Vec<Bar> {
    let start = DateTime::from_timestamp(1_672_617_600, 0).unwrap_or_default(); // 2023-01-02
    random_walk(n, 7, Timeframe::M5, start, 1.1, 8)
}

/// The crossover backtest of the speed figures: EURUSD M5, SMA `fast`/`slow`, SL 20 and TP 40
/// pips, 1% risk sizing, everything else the defaults.
pub fn crossover_setup(
    fast: usize,
    slow: usize,
) -> Result<crate::BacktestSetup, crate::BacktestError> {
    crate::SetupOptions {
        symbol: "EURUSD".into(),
        strategy: Some("crossover".into()),
        params: vec![
            ("fast_period".into(), fast.to_string()),
            ("slow_period".into(), slow.to_string()),
            ("sl_pips".into(), "20".into()),
            ("tp_pips".into(), "40".into()),
        ],
        timeframe: Timeframe::M5,
        sizing: Some(crate::Sizing::Risk(1.into())),
        ..crate::SetupOptions::default()
    }
    .build()
}
