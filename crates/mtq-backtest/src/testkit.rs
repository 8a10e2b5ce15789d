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
