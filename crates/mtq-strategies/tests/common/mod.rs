//! Bars the integration tests share.

use chrono::{DateTime, Duration};
use mtq_core::Bar;

/// A bounded random walk with random ranges (xorshift from a seed: no dependencies), H1 bars
/// from the epoch, moving up to `step / 2` a bar.
pub(crate) fn walk(seed: u64, n: usize, step: f64) -> Vec<Bar> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        f64::from(u32::try_from(state >> 40).unwrap_or(0)) / f64::from(1u32 << 24)
    };
    let mut price = 1.1;
    (0..n)
        .map(|i| {
            let open = price;
            price = (price + (next() - 0.5) * step).clamp(0.8, 1.4);
            Bar {
                time: DateTime::UNIX_EPOCH + Duration::hours(i64::try_from(i).unwrap_or(0)),
                open,
                high: open.max(price) + next() * 0.001,
                low: open.min(price) - next() * 0.001,
                close: price,
                tick_volume: 100,
                real_volume: 0,
                spread: 10,
            }
        })
        .collect()
}
