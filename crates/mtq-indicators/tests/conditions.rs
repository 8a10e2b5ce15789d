//! Market conditions: trend, volatility regime, sessions across daylight saving, liquidity.

mod common;

use common::series;
use mtq_indicators::conditions::{
    Liquidity, LiquidityConfig, LiquidityMonitor, Regime, Session, TrendConfig, TrendDetector,
    TrendState, VolatilityConfig, VolatilityRegime, market_open, sessions_at,
};
use mtq_indicators::stream::{Indicator, run};

use mtq_core::testkit::at as t;

#[test]
fn a_steady_rally_is_bullish_a_sell_off_bearish_and_a_flat_market_ranging() {
    let up: Vec<f64> = (0..200).map(|i| 1.1 + 0.0004 * f64::from(i)).collect();
    let down: Vec<f64> = up.iter().rev().copied().collect();
    let flat: Vec<f64> = (0..200)
        .map(|i| 1.1 + 0.0003 * (f64::from(i) * 0.9).sin())
        .collect();
    let state = |closes: &[f64]| {
        let out = run(
            TrendDetector::new(TrendConfig::default()).unwrap(),
            &series().wick(0.0002).closes(closes),
        );
        out.last().copied().flatten().unwrap().state
    };
    assert_eq!(state(&up), TrendState::Bullish);
    assert_eq!(state(&down), TrendState::Bearish);
    assert_eq!(state(&flat), TrendState::Ranging);
}

#[test]
fn a_volatility_spike_reads_extreme_and_calm_reads_low() {
    let mut closes: Vec<f64> = (0..150)
        .map(|i| 1.1 + 0.0002 * (f64::from(i) * 0.7).sin())
        .collect();
    let calm = series().wick(0.0001).closes(&closes);
    let config = VolatilityConfig {
        window: 50,
        ..Default::default()
    };
    let mut regime = VolatilityRegime::new(config).unwrap();
    regime.warm_up(&calm);
    closes.extend([1.11, 1.09, 1.12, 1.08]);
    let wild = series().wick(0.002).closes(&closes);
    let reading = regime.update(wild[wild.len() - 1]).unwrap();
    assert_eq!(reading.regime, Regime::Extreme);
    let mut quiet = VolatilityRegime::new(config).unwrap();
    let decaying: Vec<f64> = (0..150)
        .map(|i| 1.1 + 0.01 * (f64::from(i) * 0.7).sin() / f64::from(i + 1))
        .collect();
    let last = run(quiet.clone(), &series().wick(0.0).closes(&decaying))
        .last()
        .copied()
        .flatten()
        .unwrap();
    assert_eq!(last.regime, Regime::Low);
    quiet.reset();
}

#[test]
fn london_and_new_york_hours_move_with_their_own_daylight_saving() {
    // 2024-03-12: New York already on EDT (since 10 March), London still on GMT (until 31 March).
    let s = sessions_at(t("2024-03-12T12:30:00Z"));
    assert!(s.contains(Session::NewYork), "08:30 EDT");
    assert!(s.contains(Session::London), "12:30 GMT");
    assert!(s.is_overlap());
    // 2024-01-10, both on standard time: 12:30 UTC is 07:30 in New York.
    assert!(!sessions_at(t("2024-01-10T12:30:00Z")).contains(Session::NewYork));
    // London opens at 08:00 local: 07:00 UTC in summer, 08:00 UTC in winter.
    assert!(sessions_at(t("2024-07-10T07:15:00Z")).contains(Session::London));
    assert!(!sessions_at(t("2024-01-10T07:15:00Z")).contains(Session::London));
    // Sydney's summer is the northern winter: 07:00 AEDT (UTC+11) is 20:00 UTC the day before.
    assert!(sessions_at(t("2024-01-09T20:30:00Z")).contains(Session::Sydney));
    assert!(
        !sessions_at(t("2024-07-09T20:30:00Z")).contains(Session::Sydney),
        "06:30 AEST"
    );
    assert!(sessions_at(t("2024-01-10T01:00:00Z")).contains(Session::Tokyo));
}

#[test]
fn no_session_is_open_over_the_weekend() {
    assert!(
        market_open(t("2024-01-12T21:59:00Z")),
        "Friday 16:59 New York"
    );
    assert!(
        !market_open(t("2024-01-12T22:00:00Z")),
        "Friday 17:00 New York closes the week"
    );
    assert!(
        sessions_at(t("2024-01-13T12:00:00Z")).is_empty(),
        "Saturday"
    );
    assert!(!market_open(t("2024-01-14T21:59:00Z")));
    assert!(
        market_open(t("2024-01-14T22:00:00Z")),
        "Sunday 17:00 New York opens it"
    );
    assert!(
        market_open(t("2024-07-14T21:00:00Z")),
        "17:00 EDT is 21:00 UTC in summer"
    );
}

#[test]
fn low_volume_and_wide_spreads_read_thin_against_the_same_session_norm() {
    let config = LiquidityConfig {
        samples: 5,
        ..Default::default()
    };
    let mut monitor = LiquidityMonitor::new(config).unwrap();
    // Wednesday 14:00-15:15 UTC, all in the London/New York overlap.
    let mut bars: Vec<_> = (0..6)
        .map(|i| series().tick_volume(100).bar(i, 1.1, 1.1002, 1.0998, 1.1))
        .collect();
    for b in &mut bars {
        b.time += chrono::Duration::hours(14 + 24);
    }
    for b in &bars[..5] {
        assert_eq!(monitor.update(*b), None, "no norm yet");
    }
    let mut thin = bars[5];
    thin.tick_volume = 20;
    let r = monitor.peek(thin).unwrap();
    assert_eq!(r.level, Liquidity::Thin);
    assert!((r.volume_ratio - 0.2).abs() < 1e-12);
    let mut deep = bars[5];
    deep.tick_volume = 300;
    assert_eq!(monitor.peek(deep).unwrap().level, Liquidity::Deep);
    let mut wide = bars[5];
    wide.spread = 40;
    assert_eq!(monitor.update(wide).unwrap().level, Liquidity::Thin);
}
