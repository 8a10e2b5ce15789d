//! Multi-timeframe bars: MT5 alignment, and nothing visible before it closed.

mod common;

use chrono::Duration;
use common::series;
use mtq_core::{Bar, Timeframe};
use mtq_indicators::IndicatorError;
use mtq_indicators::resample::{Resampler, resample};

use mtq_core::testkit::at as t;

fn m5_bars(start: &str, n: i64) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            let c = 1.1 + 0.0001 * f64::from(i32::try_from(i).unwrap());
            let mut b = series()
                .tick_volume(2)
                .bar(0, c - 0.00005, c + 0.0002, c - 0.0002, c);
            b.time = t(start) + Duration::minutes(5 * i);
            b
        })
        .collect()
}

#[test]
fn an_h1_bar_is_emitted_on_the_m5_bar_that_closes_it_and_not_before() {
    let bars = m5_bars("2024-03-06T13:00:00Z", 24);
    let mut r = Resampler::new(Timeframe::M5, Timeframe::H1, 0).unwrap();
    for (i, b) in bars.iter().enumerate() {
        let closed: Vec<Bar> = r.update(b).unwrap().collect();
        if i == 11 || i == 23 {
            assert_eq!(closed.len(), 1, "bar {i}");
            let h1 = closed[0];
            let first = &bars[i - 11];
            assert_eq!(h1.time, first.time);
            assert_eq!(h1.open.to_bits(), first.open.to_bits());
            assert_eq!(h1.close.to_bits(), b.close.to_bits());
            assert_eq!(h1.tick_volume, 24);
            // No look-ahead: the H1 bar holds nothing from a source bar later than this one.
            assert!(
                bars[i - 11..=i]
                    .iter()
                    .all(|s| s.high <= h1.high && s.low >= h1.low)
            );
        } else {
            assert!(closed.is_empty(), "bar {i} must not close an H1 bar");
            assert!(r.forming().is_some());
        }
    }
}

#[test]
fn h4_and_d1_follow_the_broker_server_offset() {
    // Server at UTC+2: H4 bars open at 22:00, 02:00, 06:00 ... UTC; D1 at 22:00 UTC.
    let bars = m5_bars("2024-03-05T22:00:00Z", 12 * 24);
    let h4 = resample(&bars, Timeframe::M5, Timeframe::H4, 7200).unwrap();
    assert_eq!(h4.len(), 6);
    assert_eq!(h4[0].time, t("2024-03-05T22:00:00Z"));
    assert_eq!(h4[1].time, t("2024-03-06T02:00:00Z"));
    let d1 = resample(&bars, Timeframe::M5, Timeframe::D1, 7200).unwrap();
    assert_eq!(d1.len(), 1);
    assert_eq!(d1[0].time, t("2024-03-05T22:00:00Z"));
    assert_eq!(d1[0].tick_volume, 2 * 12 * 24);
}

#[test]
fn m5_to_m15_chains_with_m15_to_h1() {
    let bars = m5_bars("2024-03-06T00:00:00Z", 12 * 6);
    let m15 = resample(&bars, Timeframe::M5, Timeframe::M15, 0).unwrap();
    let via_m15 = resample(&m15, Timeframe::M15, Timeframe::H1, 0).unwrap();
    let direct = resample(&bars, Timeframe::M5, Timeframe::H1, 0).unwrap();
    assert_eq!(via_m15, direct);
    assert_eq!(direct.len(), 6);
}

#[test]
fn a_gap_in_the_source_closes_the_unfinished_period_when_the_next_one_starts() {
    let mut bars = m5_bars("2024-03-06T13:00:00Z", 10); // 13:00..13:45, 13:50/13:55 missing
    let mut late = bars[9];
    late.time = t("2024-03-06T14:55:00Z"); // the only bar of the 14:00 hour, and its last
    bars.push(late);
    let h1 = resample(&bars, Timeframe::M5, Timeframe::H1, 0).unwrap();
    assert_eq!(
        h1.iter().map(|b| b.time).collect::<Vec<_>>(),
        [t("2024-03-06T13:00:00Z"), t("2024-03-06T14:00:00Z")]
    );
}

#[test]
fn resampler_refuses_lower_targets_and_out_of_order_bars() {
    assert!(matches!(
        Resampler::new(Timeframe::H1, Timeframe::M15, 0),
        Err(IndicatorError::NotHigherTimeframe { .. })
    ));
    let bars = m5_bars("2024-03-06T13:00:00Z", 2);
    let mut r = Resampler::new(Timeframe::M5, Timeframe::H1, 0).unwrap();
    r.update(&bars[1]).unwrap();
    let err = r.update(&bars[0]).unwrap_err();
    assert!(err.to_string().contains("time order"), "{err}");
}
