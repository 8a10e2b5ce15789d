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
