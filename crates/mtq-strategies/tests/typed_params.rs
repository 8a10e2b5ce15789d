//! Strategy parameters parsed once into types: every strategy's defaults survive the trip through
//! config text, and bad parameters are refused with a message naming the strategy, the key, what
//! the value must be and the value given.

use mtq_strategies::registry::{self, STRATEGIES};
use mtq_strategies::{StrategyConfig, StrategyParams};
use proptest::prelude::*;
use serde_json::{Value, json};

#[test]
fn every_strategys_defaults_round_trip_through_config() {
    for info in &STRATEGIES {
        let defaults = info.default_params();
        assert_eq!(defaults.name(), info.name);
        // As the config file spells them, then parsed back: the same typed parameters.
        let text = serde_json::to_string(&defaults.to_value()).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let parsed = StrategyConfig::parse(info.name, &value).unwrap();
        assert_eq!(parsed.params, defaults, "{}", info.name);
        assert_eq!(parsed.filters, None, "{}", info.name);
        // An empty map means the same, and so does `null`.
        for empty in [json!({}), Value::Null] {
            assert_eq!(
                StrategyConfig::parse(info.name, &empty).unwrap().params,
                defaults,
                "{}",
                info.name
            );
        }
        // The built strategy reports the parameters it was given.
        assert_eq!(parsed.build().unwrap().params(), value, "{}", info.name);
    }
}

#[test]
fn an_entry_parses_to_the_same_params_as_its_own_keys() {
    let entry = json!({"symbol": "EURUSD", "strategy_type": "rsi", "rsi_period": 9,
                       "risk_percent": 1.0, "sl_pips": 25});
    let from_entry = registry::entry_config(&entry).unwrap();
    let own = StrategyConfig::parse("rsi", &json!({"rsi_period": 9, "sl_pips": 25})).unwrap();
    assert_eq!(from_entry, own);
    let StrategyParams::Rsi(p) = &own.params else {
        panic!("rsi parsed as {:?}", own.params)
    };
    assert_eq!((p.rsi_period, p.stops.sl_pips), (9, 25.0));
    // Strict: the caller names the foreign keys, and a key nobody claims is refused.
    let err = StrategyConfig::from_entry(&entry, |k| k == "symbol").unwrap_err();
    assert_eq!(
        err.to_string(),
        "strategy `rsi`: `risk_percent` is not a parameter of this strategy (its parameters: \
         overbought, oversold, rsi_period, sl_atr, sl_pips, stop_atr_period, stop_mode, \
         stop_swing_bars, structure_buffer_pips, structure_lookback, structure_rr, tp_atr, \
         tp_pips), got 1.0"
    );
}

/// `(strategy, params, the whole message)`.
const REFUSED: &[(&str, &str, &str)] = &[
    // Out of range.
    (
        "crossover",
        r#"{"fast_period": 0}"#,
        "strategy `crossover`: `fast_period` must be a whole number of bars from 1 to 100000, got 0",
    ),
    (
        "crossover",
        r#"{"fast_period": 30, "slow_period": 20}"#,
        "strategy `crossover`: `fast_period` must be below `slow_period` (20), got 30",
    ),
    (
        "rsi",
        r#"{"oversold": 120}"#,
        "strategy `rsi`: `oversold` must be a number from 0 to 100, got 120",
    ),
    (
        "macd",
        r#"{"sl_pips": -5}"#,
        "strategy `macd`: `sl_pips` must be a number above 0, got -5",
    ),
    (
        "smart_money",
        r#"{"use_order_blocks": false, "use_fvg": false}"#,
        "strategy `smart_money`: `use_order_blocks` must be true when `use_fvg` is false (a \
         retest needs an order block or a gap), got false",
    ),
    // Wrong type.
    (
        "crossover",
        r#"{"fast_period": -3}"#,
        "strategy `crossover`: `fast_period` must be a whole number of 0 or more, got -3",
    ),
    (
        "position",
        r#"{"slow_period": "thirty"}"#,
        "strategy `position`: `slow_period` must be a whole number of 0 or more, got \"thirty\"",
    ),
    (
        "bollinger",
        r#"{"mode": "fade"}"#,
        "strategy `bollinger`: `mode` must be `mean_reversion` or `breakout`, got \"fade\"",
    ),
    (
        "ema_trend",
        r#"{"sl_pips": "wide"}"#,
        "strategy `ema_trend`: `sl_pips` must be a number, got \"wide\"",
    ),
    (
        "crossover",
        r#"{"ma_type": "hma"}"#,
        "strategy `crossover`: `ma_type` must be one of `sma`, `ema`, `wma`, got \"hma\"",
    ),
    // Unknown key.
    (
        "crossover",
        r#"{"fast_perod": 5}"#,
        "strategy `crossover`: `fast_perod` is not a parameter of this strategy (did you mean \
         `fast_period`?), got 5",
    ),
    (
        "j_hook",
        r#"{"sl_pip": 20}"#,
        "strategy `j_hook`: `sl_pip` is not a parameter of this strategy (did you mean \
         `sl_pips`?), got 20",
    ),
    (
        "zero_lag",
        r#"{"filters": {"max_spred_pips": 2}}"#,
        "strategy `zero_lag`: `filters` has no key `max_spred_pips` (its keys: \
         `max_spread_pips`, `sessions`, `trend`, `volatility`, `htf_trend`, `cooldown_bars`), \
         got {\"max_spred_pips\":2}",
    ),
];

#[test]
fn bad_parameters_are_refused_naming_the_strategy_the_key_and_the_value() {
    for (strategy, params, says) in REFUSED {
        let params: Value = serde_json::from_str(params).unwrap();
        let err = StrategyConfig::parse(strategy, &params)
            .map(|c| c.params)
            .unwrap_err();
        assert_eq!(err.to_string(), *says, "{strategy} {params}");
        // Building from the same map refuses it the same way.
        let built = registry::build(strategy, &params).map(|s| s.name());
        assert_eq!(built.unwrap_err().to_string(), *says);
    }
}

#[test]
fn an_unknown_strategy_and_parameters_that_are_no_map_are_refused() {
    let err = StrategyConfig::parse("ma_crossover", &json!({})).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown strategy_type \"ma_crossover\"; valid names: crossover"),
        "{err}"
    );
    let err = StrategyConfig::parse("rsi", &json!(14)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "strategy `rsi`: parameters must be a map of key: value, found 14"
    );
}

proptest! {
    /// Any crossover periods the strategy accepts round-trip: parsed, written back, parsed again.
    #[test]
    fn accepted_crossover_params_round_trip(fast in 1usize..200, extra in 1usize..200, sl in 1u32..500) {
        let value = json!({"fast_period": fast, "slow_period": fast + extra, "sl_pips": sl});
        let first = StrategyConfig::parse("crossover", &value).unwrap();
        let again = StrategyConfig::parse("crossover", &first.params.to_value()).unwrap();
        prop_assert_eq!(&first, &again);
        prop_assert_eq!(first.build().unwrap().params(), first.params.to_value());
    }
}
