use chrono::Duration;
use mtq_core::Timeframe;

use super::*;
use crate::HigherBars;
use crate::testkit::series;
use mtq_core::testkit::{eurusd, ramp, wednesday};

/// A test double: proposes the given kinds on the given bars, nothing else.
#[derive(Debug)]
struct Scripted(Vec<(usize, SignalKind)>, usize);

impl Strategy for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn warmup_bars(&self) -> usize {
        0
    }
    fn params(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        let i = self.1;
        self.1 += 1;
        let (_, kind) = self.0.iter().find(|(at, _)| *at == i)?;
        Signal::new(
            ctx.spec.symbol.clone(),
            ctx.timeframe,
            bar.time,
            *kind,
            0.6,
            "scripted",
            "proposed",
        )
        .ok()
    }
}

fn filtered(script: &[(usize, SignalKind)], settings: FilterSettings) -> Filtered {
    Filtered::new(Box::new(Scripted(script.to_vec(), 0)), &settings).unwrap()
}

/// Runs over `bars` with `higher` bars (those closed by each bar's close are visible).
fn outcomes(
    f: &mut Filtered,
    bars: &[Bar],
    higher: &[HigherBars<'_>],
) -> Vec<(usize, SignalKind, String)> {
    crate::testkit::run_with(f, bars, higher, &[])
        .into_iter()
        .map(|(i, s)| (i, s.kind, s.reason))
        .collect()
}

#[test]
fn a_spread_wider_than_the_maximum_blocks_the_entry_and_says_so() {
    let mut bars = series().flat(&[1.1; 3]);
    bars[1].spread = 30; // 3 pips on a 5-digit quote
    let settings = FilterSettings {
        max_spread_pips: Some(2.0),
        ..FilterSettings::default()
    };
    let script = [(1, SignalKind::Buy), (2, SignalKind::Buy)];
    let out = outcomes(&mut filtered(&script, settings), &bars, &[]);
    assert_eq!(out[0].1, SignalKind::Hold);
    assert_eq!(
        out[0].2,
        "blocked buy: spread: spread 3.0 pips (max 2); passed: none; proposed"
    );
    assert_eq!(out[1].1, SignalKind::Buy);
    assert_eq!(
        out[1].2,
        "proposed; filters passed: spread: spread 1.0 pips (max 2)"
    );
}

#[test]
fn entries_pass_only_while_an_allowed_session_is_open() {
    // Bar 11 closes at 12:00 UTC on a Wednesday in March: London is open, Tokyo is not.
    let bars = series().flat(&[1.1; 12]);
    let script = [(11, SignalKind::Sell)];
    let london = FilterSettings {
        sessions: vec![SessionName::London],
        ..FilterSettings::default()
    };
    let tokyo = FilterSettings {
        sessions: vec![SessionName::Tokyo],
        ..FilterSettings::default()
    };
    let out = outcomes(&mut filtered(&script, london), &bars, &[]);
    assert_eq!(out[0].1, SignalKind::Sell);
    assert!(
        out[0].2.contains("session: session London open"),
        "{}",
        out[0].2
    );
    let out = outcomes(&mut filtered(&script, tokyo), &bars, &[]);
    assert_eq!(out[0].1, SignalKind::Hold);
    assert!(
        out[0]
            .2
            .starts_with("blocked sell: session: no allowed session open")
    );
}

#[test]
fn a_cooldown_blocks_entries_for_the_given_bars_after_one_passed() {
    let bars = series().flat(&[1.1; 12]);
    let script: Vec<_> = (0..12).map(|i| (i, SignalKind::Buy)).collect();
    let settings = FilterSettings {
        cooldown_bars: Some(3),
        ..FilterSettings::default()
    };
    let out = outcomes(&mut filtered(&script, settings), &bars, &[]);
    let passed: Vec<usize> = out
        .iter()
        .filter(|o| o.1 == SignalKind::Buy)
        .map(|o| o.0)
        .collect();
    assert_eq!(passed, vec![0, 3, 6, 9]);
    assert!(out[1].2.contains("cooldown, 1 of 3 bars since the last"));
}

#[test]
fn the_trend_filter_passes_buys_in_a_bullish_trend_and_blocks_sells() {
    // A steady 10-pip-a-bar rise: ADX far above 25, the EMA50 rising half an ATR a bar.
    let bars = series().closes(&ramp(1.1000, 0.0010, 80));
    let script = [(78, SignalKind::Buy), (79, SignalKind::Sell)];
    let settings = FilterSettings {
        trend: Some(TrendRequirement::WithSignal),
        ..FilterSettings::default()
    };
    let out = outcomes(&mut filtered(&script, settings), &bars, &[]);
    assert_eq!(out[0].1, SignalKind::Buy);
    assert_eq!(out[1].1, SignalKind::Hold);
    assert!(
        out[1].2.contains("trend Bullish (WithSignal wanted)"),
        "{}",
        out[1].2
    );
}

#[test]
fn the_volatility_filter_allows_only_the_listed_regimes() {
    // 125 bars of 10-pip ranges, then 100-pip ones: by bar 127 the ATR is the highest of its
    // 100-value window, the extreme regime.
    let mut hl = vec![(1.1005, 1.0995); 125];
    hl.extend([(1.1050, 1.0950); 3]);
    let bars = crate::testkit::series().high_low(&hl);
    let script = [(127, SignalKind::Buy)];
    let only = |r| FilterSettings {
        volatility: vec![r],
        ..FilterSettings::default()
    };
    let out = outcomes(&mut filtered(&script, only(RegimeName::Normal)), &bars, &[]);
    assert_eq!(out[0].1, SignalKind::Hold);
    assert!(out[0].2.contains("volatility Extreme not allowed"));
    let out = outcomes(
        &mut filtered(&script, only(RegimeName::Extreme)),
        &bars,
        &[],
    );
    assert_eq!(out[0].1, SignalKind::Buy);
}

#[test]
fn the_higher_timeframe_trend_must_agree_and_blocks_until_known() {
    // H4 bars rising steadily, all closed before the H1 bars start.
    let h4: Vec<Bar> = (0..20)
        .map(|k| {
            let c = 1.1 + 0.001 * f64::from(k);
            let mut b = series().bar(0, c, c, c, c);
            b.time = wednesday() + Duration::hours(4 * (i64::from(k) - 20));
            b
        })
        .collect();
    let views = [HigherBars {
        timeframe: Timeframe::H4,
        closed: &h4,
    }];
    let settings = FilterSettings {
        htf_trend: Some(HtfTrend {
            timeframe: Timeframe::H4,
            period: 5,
        }),
        ..FilterSettings::default()
    };
    let script = [(0, SignalKind::Buy), (1, SignalKind::Sell)];
    let bars = series().flat(&[1.1; 2]);
    let mut f = filtered(&script, settings.clone());
    assert_eq!(f.higher_timeframes()[0].timeframe, Timeframe::H4);
    let out = outcomes(&mut f, &bars, &views);
    assert_eq!(out[0].1, SignalKind::Buy);
    assert!(
        out[0].2.contains("H4 close 1.11900 above EMA(5)"),
        "{}",
        out[0].2
    );
    assert_eq!(out[1].1, SignalKind::Hold);
    let out = outcomes(&mut filtered(&script, settings), &bars, &[]);
    assert!(out[0].2.contains("H4 EMA(5) not ready"));
}

#[test]
fn exits_pass_every_filter_untouched() {
    let mut bars = series().flat(&[1.1; 2]);
    bars[0].spread = 500;
    let settings = FilterSettings {
        max_spread_pips: Some(1.0),
        ..FilterSettings::default()
    };
    let out = outcomes(
        &mut filtered(&[(0, SignalKind::Close)], settings),
        &bars,
        &[],
    );
    assert_eq!(
        (out[0].1, out[0].2.as_str()),
        (SignalKind::Close, "proposed")
    );
}

#[test]
fn filters_wrap_a_real_strategy_and_keep_its_name_and_stops() {
    let inner = crate::registry::build(
        "crossover",
        &serde_json::json!({"fast_period": 2, "slow_period": 4}),
    )
    .unwrap();
    let settings = FilterSettings {
        max_spread_pips: Some(5.0),
        ..FilterSettings::default()
    };
    let mut f = Filtered::new(inner, &settings).unwrap();
    assert_eq!(f.name(), "crossover");
    let spec = eurusd();
    let ctx = Context::new(&spec, Timeframe::H1);
    let mut closes = ramp(1.1000, -0.0010, 10);
    closes.extend(ramp(1.0930, 0.0020, 4));
    let sig = series()
        .closes(&closes)
        .iter()
        .find_map(|b| f.on_bar(b, &ctx))
        .unwrap();
    assert_eq!(sig.kind, SignalKind::Buy);
    assert!(sig.sl.is_some() && sig.reason.contains("filters passed: spread"));
}

#[test]
fn a_bad_filter_setting_is_refused_by_name() {
    let settings = FilterSettings {
        cooldown_bars: Some(0),
        ..FilterSettings::default()
    };
    let err = Filtered::new(Box::new(Scripted(vec![], 0)), &settings).unwrap_err();
    assert!(
        err.to_string().contains(
            "`filters.cooldown_bars` must be a whole number of bars from 1 to 100000, got 0"
        ),
        "{err}"
    );
}
