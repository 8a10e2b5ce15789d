use serde_json::json;

use super::*;

#[test]
fn every_listed_strategy_builds_with_its_defaults_under_its_own_name() {
    assert_eq!(names().len(), 14);
    for name in names() {
        let s = build(name, &Value::Null).unwrap();
        assert_eq!(s.name(), name);
        assert!(s.warmup_bars() > 0, "{name}");
        assert_eq!(s.params(), info(name).unwrap().defaults(), "{name}");
    }
}

#[test]
fn an_unknown_name_is_refused_with_the_valid_names() {
    let err = build("crosover", &Value::Null).unwrap_err().to_string();
    assert!(err.contains("\"crosover\""), "{err}");
    assert!(err.contains("crossover, position, rsi, macd"), "{err}");
    assert!(err.contains("j_hook"), "{err}");
}

#[test]
fn a_value_of_the_wrong_type_names_the_key_and_the_value() {
    let err = build("rsi", &json!({"rsi_period": 14, "oversold": "low"})).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("strategy `rsi`: `oversold` must be a number, got \"low\""),
        "{text}"
    );
    let err = build("bollinger", &json!({"mode": "fade"}))
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("`mode` must be `mean_reversion` or `breakout`, got \"fade\""),
        "{err}"
    );
}

#[test]
fn an_invalid_value_names_the_field_and_the_value() {
    let err = build("crossover", &json!({"fast_period": 0}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`fast_period` must be a whole number of bars from 1 to 100000, got 0"),
        "{err}"
    );
    let err = build("macd", &json!({"sl_pips": 0}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("strategy `macd`: `sl_pips` must be a number above 0, got 0"),
        "{err}"
    );
}

#[test]
fn parameters_that_are_not_a_map_are_refused() {
    let err = build("rsi", &json!([1, 2])).unwrap_err().to_string();
    assert!(err.contains("must be a map"), "{err}");
}

#[test]
fn a_tradingmtq_currencies_entry_builds_as_it_is() {
    let yaml = "
symbol: EURUSD
enabled: true
risk_percent: 1.0
strategy_type: position
timeframe: M5
fast_period: 5
slow_period: 15
sl_pips: 30
tp_pips: 60
cooldown_seconds: 60
allow_position_stacking: false
max_positions_same_direction: 1
";
    let entry: Value = serde_norway::from_str(yaml).unwrap();
    let s = build_entry(&entry).unwrap();
    assert_eq!(s.name(), "position");
    let p = s.params();
    assert_eq!(
        (p["fast_period"].clone(), p["slow_period"].clone()),
        (json!(5), json!(15))
    );
    assert_eq!(
        (p["sl_pips"].clone(), p["tp_pips"].clone()),
        (json!(30.0), json!(60.0))
    );
    assert_eq!(p["stop_mode"], json!("fixed_pips"));
}

#[test]
fn an_entry_without_a_strategy_type_is_refused() {
    let err = build_entry(&json!({"fast_period": 3}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("(missing)") && err.contains("crossover"),
        "{err}"
    );
}

#[test]
fn stop_modes_are_chosen_in_config() {
    let s = build(
        "j_hook",
        &json!({"stop_mode": "structure", "structure_rr": 3}),
    )
    .unwrap();
    assert_eq!(s.params()["stop_mode"], json!("structure"));
    let err = build("j_hook", &json!({"stop_mode": "trailing"}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`stop_mode` must be one of") && err.contains("got \"trailing\""),
        "{err}"
    );
}

#[test]
fn a_filters_section_wraps_the_strategy_and_shows_in_its_params() {
    let s = build(
        "crossover",
        &json!({"filters": {"max_spread_pips": 2.0, "htf_trend": {"timeframe": "H4"}}}),
    )
    .unwrap();
    assert_eq!(s.name(), "crossover");
    assert_eq!(s.params()["filters"]["max_spread_pips"], json!(2.0));
    assert_eq!(s.higher_timeframes()[0].timeframe, mtq_core::Timeframe::H4);
    let err = build("crossover", &json!({"filters": {"max_sprad": 2}})).unwrap_err();
    assert!(err.to_string().contains("`filters`") && err.to_string().contains("max_sprad"));
}

#[test]
fn the_listing_shows_every_strategy_its_parameters_and_the_shared_settings() {
    let text = describe();
    for name in names() {
        assert!(text.contains(name), "{name}");
    }
    assert!(
        text.contains("fast_period=10 ma_type=\"sma\" slow_period=20"),
        "{text}"
    );
    assert!(text.contains("sl_pips=50.0") && text.contains("cooldown_bars"));
}

#[test]
fn history_covers_the_higher_timeframe_the_strategy_reads() {
    let s = build("macd_mtf", &json!({"htf_timeframe": "H4"})).unwrap();
    // 34 H4 bars of MACD(12,26,9) need (34 + 1) * 4 H1 bars.
    assert_eq!(
        crate::history_bars(s.as_ref(), mtq_core::Timeframe::H1),
        140
    );
}

/// `on_bars` takes exactly the bars `take` allows, up to a signal, and leaves every strategy as
/// `on_bar` one bar at a time would: the same signals on the same bars, whatever the runs'
/// lengths and wherever `take` refuses (the refused bar is offered again by the next run).
#[test]
fn runs_with_refusals_give_the_signals_of_bars_one_at_a_time() {
    let closes: Vec<f64> = (0..900)
        .map(|i| {
            let x = f64::from(i);
            1.1 + 0.004 * (x / 9.0).sin() + 0.0015 * (x / 2.7).sin() + 0.0004 * (x * 1.3).cos()
        })
        .collect();
    let bars = crate::testkit::series().closes(&closes);
    let spec = mtq_core::testkit::eurusd();
    let ctx = crate::Context::new(&spec, mtq_core::Timeframe::H1);
    for name in names() {
        let mut one = build(name, &Value::Null).unwrap();
        let expected: Vec<(usize, mtq_core::Signal)> = bars
            .iter()
            .enumerate()
            .filter_map(|(i, b)| one.on_bar(b, &ctx).map(|s| (i, s)))
            .collect();
        let mut runs = build(name, &Value::Null).unwrap();
        let mut got = Vec::new();
        let (mut at, mut call) = (0, 0usize);
        while at < bars.len() {
            call += 1;
            // Runs of 1 to 23 bars; every fifth run refuses its first bar, every other third
            // run its fifth.
            let len = 1 + call * 7 % 23;
            let chunk = &bars[at..bars.len().min(at + len)];
            let refuse = if call % 5 == 0 {
                Some(0)
            } else {
                (call % 3 == 0).then_some(4)
            };
            let mut asked = Vec::new();
            let (taken, signal) = runs.on_bars(chunk, &ctx, &mut |k| {
                asked.push(k);
                Some(k) != refuse
            });
            assert_eq!(
                asked,
                (0..asked.len()).collect::<Vec<_>>(),
                "{name}: asked in order"
            );
            assert!(taken <= chunk.len(), "{name}");
            match (&signal, refuse) {
                (Some(_), _) => {
                    assert_eq!(asked.len(), taken, "{name}: no bar asked past the signal");
                }
                (None, Some(r)) if r < chunk.len() => {
                    assert_eq!(taken, r, "{name}: stops at the refusal");
                }
                (None, _) => assert_eq!(taken, chunk.len(), "{name}: takes the whole run"),
            }
            if let Some(s) = signal {
                got.push((at + taken - 1, s));
            }
            at += taken;
            if taken == 0 {
                // Refused at once: the next run offers the same bar again.
                assert_eq!(refuse, Some(0), "{name}");
            }
        }
        assert_eq!(got, expected, "{name}");
        assert!(
            !expected.is_empty() || name != "crossover",
            "the series crosses"
        );
    }
}
