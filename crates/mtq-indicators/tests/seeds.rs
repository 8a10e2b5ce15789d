//! Hand-checked values and invariants for the indicators beyond TA-Lib's standard set.

mod common;

use common::series;
use mtq_core::Timeframe;
use mtq_indicators::seeds::{self, BreakKind, PivotKind, PivotLevels, SwingKind};
use mtq_indicators::stream::Indicator;
use mtq_indicators::{Direction, batch};

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn zero_lag_ema_of_a_linear_ramp_has_no_lag_after_warm_up() {
    let ramp: Vec<f64> = (0..200).map(|i| 1.1 + 0.0001 * f64::from(i)).collect();
    for period in [5, 9, 21] {
        let z = batch::zlema(&ramp, period).unwrap();
        let e = batch::ema(&ramp, period).unwrap();
        for i in 60..ramp.len() {
            assert!(
                (z[i] - ramp[i]).abs() < 1e-9,
                "period {period} bar {i}: {} vs {}",
                z[i],
                ramp[i]
            );
            // ...whereas a plain EMA trails by (period - 1) / 2 bars.
            assert!(ramp[i] - e[i] > 0.0001 * 1.9);
        }
    }
}

#[test]
#[allow(clippy::needless_range_loop)] // three series indexed together
fn supertrend_flips_exactly_where_the_close_crosses_its_band() {
    let closes: Vec<f64> = (0..300)
        .map(|i| 1.1 + 0.01 * (f64::from(i) / 15.0).sin() + 0.001 * (f64::from(i) * 1.7).sin())
        .collect();
    let bars = series().wick(0.0005).closes(&closes);
    let h: Vec<f64> = bars.iter().map(|b| b.high).collect();
    let l: Vec<f64> = bars.iter().map(|b| b.low).collect();
    let st = batch::supertrend(&h, &l, &closes, 10, 2.0).unwrap();
    let mut flips = 0;
    for t in 11..closes.len() {
        let (prev, now) = (st.direction[t - 1], st.direction[t]);
        if prev == -1 {
            assert_eq!(now == 1, closes[t] > st.line[t - 1], "bar {t}");
        } else {
            assert_eq!(now == -1, closes[t] < st.line[t - 1], "bar {t}");
        }
        flips += usize::from(prev != now);
        // The line sits below price in an uptrend and above it in a downtrend.
        assert!(if now == 1 {
            st.line[t] <= closes[t]
        } else {
            st.line[t] >= closes[t]
        });
    }
    assert!(
        flips >= 4,
        "the sine wave should flip the trend several times, got {flips}"
    );
}

#[test]
fn heikin_ashi_matches_hand_computed_candles() {
    let o = [1.0, 1.2, 1.1];
    let h = [1.5, 1.4, 1.3];
    let l = [0.9, 1.0, 0.8];
    let c = [1.2, 1.1, 0.9];
    let ha = batch::heikin_ashi(&o, &h, &l, &c).unwrap();
    // Bar 0: close (1+1.5+0.9+1.2)/4 = 1.15, open (1+1.2)/2 = 1.1.
    assert!(near(ha.close[0], 1.15) && near(ha.open[0], 1.1));
    // Bar 1: open = (1.1 + 1.15)/2 = 1.125, close = (1.2+1.4+1.0+1.1)/4 = 1.175.
    assert!(near(ha.open[1], 1.125) && near(ha.close[1], 1.175));
    assert!(near(ha.high[1], 1.4) && near(ha.low[1], 1.0));
    // Bar 2: open = (1.125 + 1.175)/2 = 1.15, close = 1.025, high = max(1.3, 1.15) = 1.3.
    assert!(near(ha.open[2], 1.15) && near(ha.close[2], 1.025) && near(ha.high[2], 1.3));
}

#[test]
fn pivot_levels_match_the_published_formulas() {
    let (h, l, c) = (1.1100, 1.0900, 1.1050);
    let p = (h + l + c) / 3.0;
    let classic = PivotLevels::compute(PivotKind::Classic, h, l, c);
    assert!(
        near(classic.pivot, p) && near(classic.r1, 2.0 * p - l) && near(classic.s1, 2.0 * p - h)
    );
    assert!(near(classic.r2, p + 0.02) && near(classic.s2, p - 0.02));
    assert!(near(classic.r3, h + 2.0 * (p - l)) && near(classic.s3, l - 2.0 * (h - p)));
    assert_eq!(classic.r4, None);
    let fib = PivotLevels::compute(PivotKind::Fibonacci, h, l, c);
    assert!(
        near(fib.r1, p + 0.382 * 0.02) && near(fib.s2, p - 0.618 * 0.02) && near(fib.r3, p + 0.02)
    );
    let cam = PivotLevels::compute(PivotKind::Camarilla, h, l, c);
    assert!(near(cam.r1, c + 1.1 * 0.02 / 12.0) && near(cam.s3, c - 1.1 * 0.02 / 4.0));
    assert!(near(cam.r4.unwrap(), c + 1.1 * 0.02 / 2.0) && near(cam.s4.unwrap(), c - 0.011));
}

#[test]
fn daily_pivots_use_only_the_previous_closed_day() {
    // H1 bars over two days; the first day's range is 1.0..2.0 with close 1.5.
    let bars: Vec<_> = (0..48)
        .map(|i| {
            let day1 = i < 24;
            let (hi, lo) = if day1 {
                (
                    if i == 5 { 2.0 } else { 1.6 },
                    if i == 7 { 1.0 } else { 1.4 },
                )
            } else {
                (3.1, 2.9)
            };
            let c = if day1 { 1.5 } else { 3.0 };
            let mut b = series().tick_volume(10).bar(0, c, hi, lo, c);
            b.time = "2024-03-05T00:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
                + chrono::Duration::hours(i);
            b
        })
        .collect();
    let levels = seeds::pivots(&bars, PivotKind::Classic, Timeframe::H1, Timeframe::D1, 0).unwrap();
    assert!(
        levels[..23].iter().all(Option::is_none),
        "no level before the first day closed"
    );
    let expected = PivotLevels::compute(PivotKind::Classic, 2.0, 1.0, 1.5);
    assert_eq!(
        levels[23],
        Some(expected),
        "the last H1 bar of the day closes the day"
    );
    assert!(levels[24..47].iter().all(|l| *l == Some(expected)));
}

#[test]
fn a_swing_high_is_confirmed_right_bars_later_and_a_flat_top_counts_once() {
    let highs = [1.0, 1.1, 1.3, 1.3, 1.2, 1.1, 1.0];
    let bars: Vec<_> = highs
        .iter()
        .enumerate()
        .map(|(i, h)| {
            series()
                .tick_volume(1)
                .bar(i, h - 0.05, *h, h - 0.1, h - 0.05)
        })
        .collect();
    let points = seeds::swings(&bars, 2, 2).unwrap();
    let found: Vec<(usize, seeds::Swing)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.and_then(|p| p.high).map(|s| (i, s)))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let (confirmed_at, swing) = found[0];
    assert_eq!(
        (confirmed_at, swing.index, swing.kind),
        (4, 2, SwingKind::High)
    );
    assert!(near(swing.price, 1.3));
}

/// Closes that make a swing high at 1.20, a swing low at 1.10, break the high (BOS up), make a
/// higher low at 1.15 and then collapse through it (CHoCH down).
fn structure_scenario() -> Vec<mtq_core::Bar> {
    let closes = [
        1.12, 1.14, 1.16, 1.20, 1.17, 1.14, 1.10, 1.12, 1.15, 1.18, 1.22, 1.19, 1.15, 1.17, 1.19,
        1.20, 1.16, 1.12, 1.08,
    ];
    series().wick(0.0).closes(&closes)
}

#[test]
fn market_structure_reports_bos_with_the_trend_and_choch_against_it() {
    let states = seeds::market_structure(&structure_scenario(), 1, 1).unwrap();
    let events: Vec<_> = states.iter().flatten().filter_map(|s| s.event).collect();
    assert!(events.len() >= 2, "{events:?}");
    assert_eq!(
        (events[0].kind, events[0].direction),
        (BreakKind::Bos, Direction::Bullish)
    );
    assert!(near(events[0].swing.price, 1.20));
    assert_eq!(
        events[0].index, 10,
        "the close at 1.22 is the first above 1.20"
    );
    let choch = events
        .iter()
        .find(|e| e.kind == BreakKind::Choch)
        .expect("a change of character");
    assert_eq!(choch.direction, Direction::Bearish);
    assert_eq!(
        states.last().unwrap().unwrap().trend,
        Some(Direction::Bearish)
    );
}

#[test]
fn an_order_block_is_the_last_opposite_candle_before_the_break_and_dies_when_closed_through() {
    let config = seeds::OrderBlockConfig {
        swing_left: 1,
        swing_right: 1,
        ..Default::default()
    };
    let bars = structure_scenario();
    let updates = seeds::order_blocks(&bars, config).unwrap();
    let first = updates
        .iter()
        .flatten()
        .find_map(|u| u.created)
        .expect("a block on the first break");
    assert_eq!(first.direction, Direction::Bullish);
    // From the swing high at bar 3 to the breaking bar 10, the last down-close candle is bar 6.
    assert_eq!(first.time, bars[6].time);
    assert!(near(first.bottom, bars[6].low) && near(first.top, bars[6].high));
    // The final collapse closes at 1.08, below the block's low (1.10): it is mitigated.
    let mut obs = seeds::OrderBlocks::new(config).unwrap();
    obs.warm_up(&bars);
    assert!(!obs.active().iter().any(|o| o.time == first.time));
    let mitigated: usize = updates.iter().flatten().map(|u| u.mitigated).sum();
    assert!(mitigated >= 1);
}

#[test]
fn a_fair_value_gap_is_the_range_between_candle_one_and_candle_three_until_filled() {
    let bars = vec![
        series().tick_volume(1).bar(0, 1.100, 1.102, 1.099, 1.101),
        series().tick_volume(1).bar(1, 1.101, 1.110, 1.101, 1.109),
        series().tick_volume(1).bar(2, 1.109, 1.112, 1.105, 1.111),
        series().tick_volume(1).bar(3, 1.111, 1.113, 1.106, 1.112),
        series().tick_volume(1).bar(4, 1.112, 1.112, 1.101, 1.103),
    ];
    let updates = seeds::fair_value_gaps(&bars, 0.001, 10).unwrap();
    assert_eq!(updates[0], None);
    let gap = updates[2]
        .unwrap()
        .created
        .expect("bullish gap on the third candle");
    assert_eq!(gap.direction, Direction::Bullish);
    assert!(near(gap.bottom, 1.102) && near(gap.top, 1.105));
    assert_eq!(
        updates[3].unwrap().filled,
        0,
        "a low of 1.106 does not reach the gap"
    );
    assert_eq!(updates[4].unwrap().filled, 1, "a low of 1.101 fills it");
    assert!(
        seeds::fair_value_gaps(&bars, 0.01, 10).unwrap()[2]
            .unwrap()
            .created
            .is_none()
    );
}

#[test]
fn two_pole_oscillator_is_zero_on_a_flat_market_and_bounded_on_a_noisy_one() {
    let flat = vec![1.1; 80];
    let out = seeds::two_pole(&flat, seeds::TwoPoleConfig::default()).unwrap();
    assert!(out.iter().flatten().all(|v| v.value.abs() < 1e-12));
    let noisy: Vec<f64> = (0..400)
        .map(|i| 1.1 + 0.002 * (f64::from(i) * 0.37).sin() + 0.0001 * f64::from(i % 7))
        .collect();
    let out = seeds::two_pole(&noisy, seeds::TwoPoleConfig::default()).unwrap();
    assert_eq!(
        out.iter().position(Option::is_some),
        Some(52),
        "2 x (25 - 1) + 4"
    );
    assert!(out.iter().flatten().all(|v| v.value.abs() < 5.0));
    assert!(
        out.iter().flatten().any(|v| v.cross.is_some()),
        "a sine wave produces crosses"
    );
}

#[test]
fn momentum_bias_leans_up_in_a_rally_and_down_in_a_sell_off() {
    let up: Vec<f64> = (0..120).map(|i| 1.1 + 0.0005 * f64::from(i)).collect();
    let last = *seeds::momentum_bias(&series().wick(0.0002).closes(&up), Default::default())
        .unwrap()
        .last()
        .unwrap();
    let last = last.unwrap();
    assert_eq!(last.bias(), Some(Direction::Bullish));
    assert!(last.down.abs() < 1e-9 && last.up > 0.0);
    let down: Vec<f64> = up.iter().rev().copied().collect();
    let last =
        seeds::momentum_bias(&series().wick(0.0002).closes(&down), Default::default()).unwrap();
    assert_eq!(
        last.last().unwrap().unwrap().bias(),
        Some(Direction::Bearish)
    );
}
