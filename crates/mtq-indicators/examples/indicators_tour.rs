//! A tour of mtq-indicators on a synthetic EURUSD-like M5 series: batch and streaming standard
//! indicators, seed indicators, market conditions and multi-timeframe bars.
//!
//! Run: `cargo run -p mtq-indicators --example indicators_tour`

use chrono::{DateTime, Duration, Utc};
use mtq_core::{Bar, Timeframe};
use mtq_indicators::conditions::{
    LiquidityConfig, LiquidityMonitor, TrendConfig, TrendDetector, VolatilityConfig,
    VolatilityRegime, sessions_at,
};
use mtq_indicators::seeds::{self, PivotKind, TwoPoleConfig};
use mtq_indicators::stream::{Ema, Indicator, SuperTrend};
use mtq_indicators::{IndicatorError, Resampler, batch};

fn synthetic_m5(n: usize) -> Vec<Bar> {
    let start: DateTime<Utc> = "2024-03-04T00:00:00Z".parse().unwrap_or_default();
    let mut price = 1.0850;
    (0..n)
        .map(|i| {
            let x = f64::from(u32::try_from(i).unwrap_or(u32::MAX));
            let open = price;
            price += 0.00025 * (x * 0.05).sin() + 0.00015 * (x * 0.61).cos();
            let close = (price * 1e5).round() / 1e5;
            Bar {
                time: start + Duration::minutes(5 * i64::from(u32::try_from(i).unwrap_or(0))),
                open,
                high: open.max(close) + 0.00012,
                low: open.min(close) - 0.00012,
                close,
                tick_volume: 80 + u64::from(u32::try_from(i % 50).unwrap_or(0)),
                real_volume: 0,
                spread: 6,
            }
        })
        .collect()
}

fn main() -> Result<(), IndicatorError> {
    let bars = synthetic_m5(2_000);
    let close: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let high: Vec<f64> = bars.iter().map(|b| b.high).collect();
    let low: Vec<f64> = bars.iter().map(|b| b.low).collect();
    let last = bars.len() - 1;

    // Batch: whole series.
    let ema = batch::ema(&close, 50)?;
    let macd = batch::macd(&close, 12, 26, 9)?;
    let atr = batch::atr(&high, &low, &close, 14)?;
    println!(
        "last close {:.5}  EMA50 {:.5}  MACD hist {:+.6}  ATR14 {:.5}",
        close[last], ema[last], macd.hist[last], atr[last]
    );

    // Streaming: the same EMA, live.
    let mut live = Ema::new(50)?;
    live.warm_up(&close[..last]);
    let v = live.update(close[last]);
    println!(
        "streaming EMA50 {v:?} (batch bits equal: {})",
        v.map(f64::to_bits) == Some(ema[last].to_bits())
    );
    let mut st = SuperTrend::new(10, 3.0)?;
    let trend = st.warm_up(&bars);
    println!("SuperTrend {trend:?}");

    // Seeds.
    let tp = seeds::two_pole(&close, TwoPoleConfig::default())?;
    println!("two-pole oscillator {:?}", tp[last]);
    let structure = seeds::market_structure(&bars, 5, 5)?;
    let breaks = structure
        .iter()
        .flatten()
        .filter(|s| s.event.is_some())
        .count();
    println!(
        "structure breaks: {breaks}, trend now {:?}",
        structure[last].and_then(|s| s.trend)
    );
    let gaps = seeds::fair_value_gaps(&bars, 0.0001, 20)?;
    println!(
        "fair value gaps found: {}",
        gaps.iter()
            .flatten()
            .filter(|g| g.created.is_some())
            .count()
    );
    let pivots = seeds::pivots(
        &bars,
        PivotKind::Classic,
        Timeframe::M5,
        Timeframe::D1,
        7200,
    )?;
    println!("daily pivots now: {:?}", pivots[last]);

    // Market conditions.
    let mut trend = TrendDetector::new(TrendConfig::default())?;
    let mut vol = VolatilityRegime::new(VolatilityConfig::default())?;
    let mut liq = LiquidityMonitor::new(LiquidityConfig::default())?;
    let (mut t, mut r, mut q) = (None, None, None);
    for b in &bars {
        t = trend.update(*b);
        r = vol.update(*b);
        q = liq.update(*b);
    }
    println!("trend {t:?}\nvolatility {r:?}\nliquidity {q:?}");
    println!(
        "sessions at the last bar: {:?}",
        sessions_at(bars[last].time).iter().collect::<Vec<_>>()
    );

    // Multi-timeframe: H1 bars from M5, each visible only once closed.
    let mut h1 = Resampler::new(Timeframe::M5, Timeframe::H1, 7200)?;
    let mut closed = 0;
    for b in &bars {
        closed += h1.update(b)?.count();
    }
    println!(
        "H1 bars closed: {closed}, forming: {:?}",
        h1.forming().map(|b| b.time)
    );
    Ok(())
}
