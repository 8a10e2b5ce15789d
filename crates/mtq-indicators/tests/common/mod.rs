//! Test kit shared by the integration tests: series builders and float comparison.

#![allow(dead_code, unreachable_pub)]

use chrono::{DateTime, Duration, Utc};
use mtq_core::Bar;

/// Builds a bar at `i` M15 steps after 2024-01-02 00:00 UTC.
pub fn bar_at(i: usize, open: f64, high: f64, low: f64, close: f64, volume: u64) -> Bar {
    let start: DateTime<Utc> = "2024-01-02T00:00:00Z".parse().unwrap();
    Bar {
        time: start + Duration::minutes(15 * i64::try_from(i).unwrap()),
        open,
        high,
        low,
        close,
        tick_volume: volume,
        real_volume: 0,
        spread: 10,
    }
}

/// Bars from close prices: open at the previous close, high/low a fixed `wick` outside the body.
pub fn bars_from_closes(closes: &[f64], wick: f64) -> Vec<Bar> {
    let mut prev = closes.first().copied().unwrap_or(1.0);
    closes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let b = bar_at(i, prev, prev.max(c) + wick, prev.min(c) - wick, c, 100);
            prev = c;
            b
        })
        .collect()
}

/// Both NaN, or equal within `rel` relative error (absolute below `1e-300`).
pub fn close_enough(a: f64, b: f64, rel: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

/// Same bits, or both NaN.
pub fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}
