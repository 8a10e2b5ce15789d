//! Deterministic synthetic bars for tests, benchmarks and examples: a seeded random walk with
//! a slow sine drift, so moving-average strategies trade regularly.

use chrono::{DateTime, Duration, Utc};
use mtq_core::{Bar, SplitMix64, Timeframe};

/// `n` bars of `timeframe` from `start`, skipping weekends (Saturday and Sunday), bid prices
/// around `base` with 5-digit rounding and a spread of `spread` points.
pub fn random_walk(
    n: usize,
    seed: u64,
    timeframe: Timeframe,
    start: DateTime<Utc>,
    base: f64,
    spread: u32,
) -> Vec<Bar> {
    use chrono::Datelike;
    let mut rng = SplitMix64::new(seed);
    let step = timeframe.duration();
    let round = |p: f64| (p * 100_000.0).round() / 100_000.0;
    let mut out = Vec::with_capacity(n);
    let mut t = start;
    let mut price = base;
    let mut i = 0u64;
    while out.len() < n {
        if matches!(t.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
            t += Duration::days(1);
            t = timeframe.open_time(t, 0);
            continue;
        }
        let drift = 0.00004 * ((i as f64) / 300.0).sin();
        let shock = (rng.next_f64() - 0.5) * 0.0006;
        let open = round(price);
        let close = round(price + drift + shock);
        let wick_up = rng.next_f64() * 0.0003;
        let wick_down = rng.next_f64() * 0.0003;
        out.push(Bar {
            time: t,
            open,
            high: round(open.max(close) + wick_up),
            low: round(open.min(close) - wick_down),
            close,
            tick_volume: 100 + rng.next_u64() % 100,
            real_volume: 0,
            spread,
        });
        price = close;
        t += step;
        i += 1;
    }
    out
}

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
