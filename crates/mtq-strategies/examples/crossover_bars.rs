//! `crossover` over a million bars, for counting instructions per bar where wall-clock time is
//! too noisy to trust (a shared machine):
//!
//! ```text
//! cargo build --release -p mtq-strategies --example crossover_bars
//! valgrind --tool=callgrind --toggle-collect='*run_bars*' \
//!     target/release/examples/crossover_bars [sma|sma_no_cross|ema][_shared] [bars]
//! ```
//!
//! Only `run_bars` (the per-bar loop, as the `strategies` benchmark runs it) is counted, so the
//! instruction total divided by the bar count is the cost of one bar, warm-up included. The
//! `_shared` cases build the strategy on a [`SeriesCache`] whose series are computed before
//! `run_bars` (by an optimiser's first parameter set), so only reading them is counted.

use std::hint::black_box;

use chrono::DateTime;
use mtq_core::testkit::{Series, eurusd};
use mtq_core::{Bar, Timeframe};
use std::sync::Arc;

use mtq_strategies::shared::SeriesCache;
use mtq_strategies::{Context, Strategy, registry};
use serde_json::json;

/// The benchmark's random walk (xorshift), or its rising variant where the averages never cross.
fn bars(n: usize, rising: bool) -> Vec<Bar> {
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
            let close = if rising {
                1.0 + f64::from(u32::try_from(i).unwrap_or(0)) * 1e-7
            } else {
                price
            };
            let (high, low) = (open.max(price) + 0.0003, open.min(price) - 0.0003);
            series.bar(i, open, high, low, close)
        })
        .collect()
}

#[inline(never)]
fn run_bars(s: &mut dyn Strategy, bars: &[Bar], ctx: &Context<'_>) -> usize {
    bars.iter()
        .filter(|bar| s.on_bar(black_box(bar), ctx).is_some())
        .count()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "sma".into());
    let n = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let (base, shared) = match case.strip_suffix("_shared") {
        Some(base) => (base, true),
        None => (case.as_str(), false),
    };
    let (params, rising) = match base {
        "sma_no_cross" => (json!({}), true),
        "ema" => (json!({"ma_type": "ema"}), false),
        _ => (json!({}), false),
    };
    let bars = bars(n, rising);
    let spec = eurusd();
    let mut s = if shared {
        let cache = Arc::new(SeriesCache::new(&bars).expect("the bars' times increase"));
        // Building computes both series, before the counted loop.
        registry::build_shared("crossover", &params, &cache)
    } else {
        registry::build("crossover", &params)
    }
    .expect("default parameters are valid");
    let ctx = Context::new(&spec, Timeframe::H1);
    let signals = run_bars(s.as_mut(), &bars, &ctx);
    println!("{case}: {n} bars, {signals} signals");
}
