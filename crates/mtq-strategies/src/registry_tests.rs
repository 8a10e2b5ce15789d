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
