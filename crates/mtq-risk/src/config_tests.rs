use super::*;
use crate::SymbolRiskConfig;

#[test]
fn defaults_are_valid() {
    RiskConfig::default().validate().unwrap();
    SymbolRiskConfig::default().validate("EURUSD").unwrap();
}

#[test]
fn a_seed_currencies_entry_reads_with_its_own_key_names() {
    let yaml = "
risk_percent: 0.5
max_position_size: 1.0
min_position_size: 0.01
strategy_type: position
sl_pips: 30
cooldown_seconds: 120
allow_position_stacking: true
max_positions_same_direction: 3
trading_hours:
  start: \"08:00\"
  end: \"17:00\"
";
    let c: SymbolRiskConfig = serde_norway::from_str(yaml).unwrap();
    c.validate("EURUSD").unwrap();
    assert_eq!(c.risk_percent, Decimal::new(5, 1));
    assert_eq!(c.cooldown_seconds, 120);
    assert!(c.allow_position_stacking);
    assert_eq!(c.trading_hours.len(), 1);
}

#[test]
fn the_seed_emergency_and_modifications_sections_read() {
    let yaml = "
global:
  max_concurrent_trades: 3
  portfolio_risk_percent: 5.0
emergency:
  emergency_stop: false
  close_all_on_stop: true
  max_daily_loss_percent: 5.0
  stop_on_daily_loss: true
  max_drawdown_percent: 10.0
  stop_on_max_drawdown: true
modifications:
  enable_breakeven: true
  breakeven_trigger_pips: 30
  breakeven_offset_pips: 5
  enable_trailing_stop: true
  trailing_stop_pips: 20
  trailing_activation_pips: 40
  enable_partial_close: true
  partial_close_trigger_pips: 50
  partial_close_percent: 50
";
    let c: RiskConfig = serde_norway::from_str(yaml).unwrap();
    c.validate().unwrap();
    assert!(c.emergency.close_all_on_stop);
    assert_eq!(c.global.max_concurrent_trades, 3);
}

#[test]
fn validation_errors_name_the_key_and_the_value() {
    let c = SymbolRiskConfig {
        risk_percent: Decimal::from(150),
        ..SymbolRiskConfig::default()
    };
    let err = c.validate("USDJPY").unwrap_err().to_string();
    assert!(
        err.contains("currencies.USDJPY.risk_percent") && err.contains("150"),
        "{err}"
    );

    let c = SymbolRiskConfig {
        stacking_risk_multiplier: Decimal::new(12, 1),
        ..SymbolRiskConfig::default()
    };
    let err = c.validate("EURUSD").unwrap_err().to_string();
    assert!(
        err.contains("stacking_risk_multiplier") && err.contains("1.2"),
        "{err}"
    );

    let mut c = RiskConfig::default();
    c.emergency.max_daily_loss_percent = Some(Decimal::ZERO);
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("emergency.max_daily_loss_percent"), "{err}");
}

#[test]
fn configs_round_trip_through_json_with_sessions_and_timezones() {
    let yaml = "
trading_hours:
  - start: \"22:00\"
    end: \"06:00\"
    days: [Mon, Tue]
    timezone: America/New_York
  - start: \"08:00:30\"
    end: \"12:00\"
";
    let c: SymbolRiskConfig = serde_norway::from_str(yaml).unwrap();
    c.validate("EURUSD").unwrap();
    assert_eq!(c.trading_hours.len(), 2);
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        json.contains("\"08:00:30\"") && json.contains("America/New_York"),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<SymbolRiskConfig>(&json).unwrap(), c);

    let mut r = RiskConfig::default();
    r.global.trading_day.timezone = chrono_tz::America::New_York;
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<RiskConfig>(&json).unwrap(), r);
}

#[test]
fn a_session_with_no_days_or_no_length_is_refused_by_key() {
    let yaml = "trading_hours:\n  start: \"08:00\"\n  end: \"08:00\"\n";
    let c: SymbolRiskConfig = serde_norway::from_str(yaml).unwrap();
    let err = c.validate("GBPUSD").unwrap_err().to_string();
    assert!(
        err.contains("currencies.GBPUSD.trading_hours[0].end"),
        "{err}"
    );
    let yaml = "trading_hours:\n  start: \"08:00\"\n  end: \"09:00\"\n  days: []\n";
    let c: SymbolRiskConfig = serde_norway::from_str(yaml).unwrap();
    let err = c.validate("GBPUSD").unwrap_err().to_string();
    assert!(err.contains("trading_hours[0].days"), "{err}");
}
