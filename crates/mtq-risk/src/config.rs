//! Risk configuration. Every struct deserializes with defaults for what is left out and is checked
//! once with `validate`, whose error names the key and the value to fix. Key names follow the
//! TradingMTQ `currencies.yaml` layout: `global`, `emergency`, `modifications` and one
//! [`SymbolRiskConfig`] per `currencies` entry.

use std::collections::BTreeMap;
use std::fmt;

use mtq_core::{Currency, Decimal};
use serde::{Deserialize, Serialize};

use crate::session::{TradingDayConfig, TradingSession, one_or_many_sessions};

/// A config value that cannot be used, with the key to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("risk config: `{field}` = {value} {reason}")]
pub struct ConfigError {
    /// Dotted path of the key, e.g. `currencies.EURUSD.risk_percent`.
    pub field: String,
    pub value: String,
    pub reason: &'static str,
}

fn ensure(
    ok: bool,
    field: impl fmt::Display,
    value: impl fmt::Display,
    reason: &'static str,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            field: field.to_string(),
            value: value.to_string(),
            reason,
        })
    }
}

fn percent(field: impl fmt::Display, v: Decimal) -> Result<(), ConfigError> {
    ensure(
        v > Decimal::ZERO && v <= Decimal::ONE_HUNDRED,
        field,
        v,
        "must be a percentage above 0 and at most 100",
    )
}

fn non_negative(field: impl fmt::Display, v: Decimal) -> Result<(), ConfigError> {
    ensure(v >= Decimal::ZERO, field, v, "must not be negative")
}

fn positive(field: impl fmt::Display, v: Decimal) -> Result<(), ConfigError> {
    ensure(v > Decimal::ZERO, field, v, "must be greater than zero")
}

/// What the money behind `risk_percent` is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskBase {
    #[default]
    Balance,
    Equity,
}

/// How a symbol's order volume is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizingMode {
    /// Risk `risk_percent` of the risk base between entry and stop loss.
    #[default]
    RiskPercent,
    /// Always `fixed_volume` lots.
    FixedVolume,
    /// The largest volume whose margin plus entry commission fits in `equity_fraction` of the
    /// free margin.
    FractionOfEquity,
}

/// Where the kill switch goes when a trigger fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopAction {
    /// No new entries; stops may still be tightened and positions reduced or closed.
    ReduceOnly,
    /// No new entries and no management; `close_all_on_stop` closes everything.
    Halt,
}

/// The whole risk section set: portfolio limits, emergency controls, position management.
/// Unknown keys are left to the application config that embeds these sections (it may
/// `#[serde(flatten)]` this struct beside its own `currencies`, `broker` and other sections).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskConfig {
    pub global: PortfolioConfig,
    pub emergency: EmergencyConfig,
    pub modifications: ManagementConfig,
}

impl RiskConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.global.validate()?;
        self.emergency.validate()?;
        self.modifications.validate()
    }
}

/// Portfolio-wide limits (the `global` section).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortfolioConfig {
    /// Open positions allowed across all symbols.
    pub max_concurrent_trades: u32,
    /// Largest total open risk (entry to stop loss of every position) in percent of the balance.
    pub portfolio_risk_percent: Decimal,
    /// Largest net exposure to any one currency, in percent of equity (1000 = ten times equity).
    /// `None` switches the cap off.
    pub max_currency_exposure_percent: Option<Decimal>,
    /// Per-currency caps overriding `max_currency_exposure_percent`.
    pub currency_exposure_caps: BTreeMap<Currency, Decimal>,
    /// Free margin that must remain after a new trade, in the account currency.
    pub min_free_margin: Decimal,
    /// Margin level (equity / margin, percent) that must remain after a new trade.
    pub min_margin_level_percent: Option<Decimal>,
    /// When the daily loss limit's day begins.
    pub trading_day: TradingDayConfig,
}

impl Default for PortfolioConfig {
    fn default() -> Self {
        Self {
            max_concurrent_trades: 5,
            portfolio_risk_percent: Decimal::from(5),
            max_currency_exposure_percent: Some(Decimal::from(1000)),
            currency_exposure_caps: BTreeMap::new(),
            min_free_margin: Decimal::ZERO,
            min_margin_level_percent: Some(Decimal::from(200)),
            trading_day: TradingDayConfig::default(),
        }
    }
}

impl PortfolioConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let g = "global";
        ensure(
            self.max_concurrent_trades > 0,
            format!("{g}.max_concurrent_trades"),
            self.max_concurrent_trades,
            "must be at least 1",
        )?;
        percent(
            format!("{g}.portfolio_risk_percent"),
            self.portfolio_risk_percent,
        )?;
        if let Some(v) = self.max_currency_exposure_percent {
            positive(format!("{g}.max_currency_exposure_percent"), v)?;
        }
        for (ccy, v) in &self.currency_exposure_caps {
            positive(format!("{g}.currency_exposure_caps.{ccy}"), *v)?;
        }
        non_negative(format!("{g}.min_free_margin"), self.min_free_margin)?;
        if let Some(v) = self.min_margin_level_percent {
            non_negative(format!("{g}.min_margin_level_percent"), v)?;
        }
        Ok(())
    }

    /// The exposure cap for `currency` in percent of equity, if any.
    pub fn exposure_cap_percent(&self, currency: Currency) -> Option<Decimal> {
        self.currency_exposure_caps
            .get(&currency)
            .copied()
            .or(self.max_currency_exposure_percent)
    }
}

/// Emergency controls and the kill switch's triggers (the `emergency` section).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmergencyConfig {
    /// Stop all trading now (the kill switch halts).
    pub emergency_stop: bool,
    /// Close every open position when the kill switch halts.
    pub close_all_on_stop: bool,
    /// Largest loss since the trading day began, in percent of that day's starting equity.
    pub max_daily_loss_percent: Option<Decimal>,
    /// Largest loss since the trading day began, in the account currency.
    pub max_daily_loss_money: Option<Decimal>,
    /// Trip the kill switch (not only refuse entries) when the daily loss limit is reached.
    pub stop_on_daily_loss: bool,
    pub daily_loss_action: StopAction,
    /// Largest fall of equity from its peak, in percent of the peak.
    pub max_drawdown_percent: Option<Decimal>,
    pub stop_on_max_drawdown: bool,
    pub drawdown_action: StopAction,
    /// Order failures in a row that trip the kill switch.
    pub max_consecutive_order_failures: Option<u32>,
    pub order_failure_action: StopAction,
}

impl Default for EmergencyConfig {
    fn default() -> Self {
        Self {
            emergency_stop: false,
            close_all_on_stop: false,
            max_daily_loss_percent: Some(Decimal::from(5)),
            max_daily_loss_money: None,
            stop_on_daily_loss: true,
            daily_loss_action: StopAction::ReduceOnly,
            max_drawdown_percent: Some(Decimal::from(10)),
            stop_on_max_drawdown: true,
            drawdown_action: StopAction::Halt,
            max_consecutive_order_failures: Some(5),
            order_failure_action: StopAction::Halt,
        }
    }
}

impl EmergencyConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let e = "emergency";
        if let Some(v) = self.max_daily_loss_percent {
            percent(format!("{e}.max_daily_loss_percent"), v)?;
        }
        if let Some(v) = self.max_daily_loss_money {
            positive(format!("{e}.max_daily_loss_money"), v)?;
        }
        if let Some(v) = self.max_drawdown_percent {
            percent(format!("{e}.max_drawdown_percent"), v)?;
        }
        if let Some(n) = self.max_consecutive_order_failures {
            ensure(
                n > 0,
                format!("{e}.max_consecutive_order_failures"),
                n,
                "must be at least 1 (leave it out to switch the trigger off)",
            )?;
        }
        Ok(())
    }
}

/// Position-management rules (the `modifications` section). Distances are in pips.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManagementConfig {
    pub enable_breakeven: bool,
    /// Profit in pips after which the stop moves to entry.
    pub breakeven_trigger_pips: Decimal,
    /// Pips beyond entry (in the position's favour) the breakeven stop is placed at.
    pub breakeven_offset_pips: Decimal,
    pub enable_trailing_stop: bool,
    /// Profit in pips after which the stop starts trailing.
    pub trailing_activation_pips: Decimal,
    /// Distance in pips the stop trails behind the price.
    pub trailing_stop_pips: Decimal,
    /// Smallest stop improvement in pips worth a modification.
    pub trailing_step_pips: Decimal,
    pub enable_partial_close: bool,
    /// Profit in pips at which part of the position is closed (once per position).
    pub partial_close_trigger_pips: Decimal,
    /// Share of the volume closed then.
    pub partial_close_percent: Decimal,
    /// Close a position held this long; `None` holds indefinitely.
    pub max_holding_minutes: Option<u64>,
}

impl Default for ManagementConfig {
    fn default() -> Self {
        Self {
            enable_breakeven: false,
            breakeven_trigger_pips: Decimal::from(20),
            breakeven_offset_pips: Decimal::from(2),
            enable_trailing_stop: false,
            trailing_activation_pips: Decimal::from(25),
            trailing_stop_pips: Decimal::from(15),
            trailing_step_pips: Decimal::ONE,
            enable_partial_close: false,
            partial_close_trigger_pips: Decimal::from(30),
            partial_close_percent: Decimal::from(50),
            max_holding_minutes: None,
        }
    }
}

impl ManagementConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let m = "modifications";
        positive(
            format!("{m}.breakeven_trigger_pips"),
            self.breakeven_trigger_pips,
        )?;
        non_negative(
            format!("{m}.breakeven_offset_pips"),
            self.breakeven_offset_pips,
        )?;
        ensure(
            self.breakeven_offset_pips < self.breakeven_trigger_pips,
            format!("{m}.breakeven_offset_pips"),
            self.breakeven_offset_pips,
            "must be below breakeven_trigger_pips, or the stop would sit beyond the price",
        )?;
        non_negative(
            format!("{m}.trailing_activation_pips"),
            self.trailing_activation_pips,
        )?;
        positive(format!("{m}.trailing_stop_pips"), self.trailing_stop_pips)?;
        non_negative(format!("{m}.trailing_step_pips"), self.trailing_step_pips)?;
        positive(
            format!("{m}.partial_close_trigger_pips"),
            self.partial_close_trigger_pips,
        )?;
        ensure(
            self.partial_close_percent > Decimal::ZERO
                && self.partial_close_percent < Decimal::ONE_HUNDRED,
            format!("{m}.partial_close_percent"),
            self.partial_close_percent,
            "must be above 0 and below 100 (100 is a full close)",
        )?;
        if let Some(v) = self.max_holding_minutes {
            ensure(
                v > 0,
                format!("{m}.max_holding_minutes"),
                v,
                "must be at least 1 (leave it out to hold indefinitely)",
            )?;
        }
        Ok(())
    }
}

/// One symbol's risk settings (the risk keys of a `currencies` entry). Unknown keys are ignored
/// so the same entry can also feed the strategy's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SymbolRiskConfig {
    pub sizing_mode: SizingMode,
    /// Percent of the risk base lost if the stop loss is hit.
    pub risk_percent: Decimal,
    pub risk_base: RiskBase,
    /// Lots per order in `fixed_volume` mode.
    pub fixed_volume: Decimal,
    /// Share (0 to 1) of the free margin an order may use in `fraction_of_equity` mode.
    pub equity_fraction: Decimal,
    /// Largest order in lots, below the symbol's `volume_max`.
    pub max_position_size: Option<Decimal>,
    /// Smallest order in lots; a smaller sized volume is refused, never rounded up.
    pub min_position_size: Option<Decimal>,
    /// Commission per lot per side, in the account currency.
    pub commission_per_lot: Decimal,
    /// Seconds after an entry on this symbol before the next one.
    pub cooldown_seconds: u64,
    /// Allow a further position in the direction of an open one.
    pub allow_position_stacking: bool,
    /// Open positions allowed in one direction when stacking.
    pub max_positions_same_direction: u32,
    /// Open positions allowed on this symbol, both directions.
    pub max_total_positions: u32,
    /// Risk multiplier per position already open in the same direction (0 to 1): the second
    /// position risks `risk_percent * m`, the third `* m^2`.
    pub stacking_risk_multiplier: Decimal,
    /// Widest spread in pips at which an entry is sent.
    pub max_spread_pips: Option<Decimal>,
    /// Windows for new entries; empty means around the clock.
    #[serde(deserialize_with = "one_or_many_sessions")]
    pub trading_hours: Vec<TradingSession>,
}

impl Default for SymbolRiskConfig {
    fn default() -> Self {
        Self {
            sizing_mode: SizingMode::RiskPercent,
            risk_percent: Decimal::ONE,
            risk_base: RiskBase::Balance,
            fixed_volume: Decimal::new(1, 2),
            equity_fraction: Decimal::new(1, 1),
            max_position_size: None,
            min_position_size: None,
            commission_per_lot: Decimal::ZERO,
            cooldown_seconds: 60,
            allow_position_stacking: false,
            max_positions_same_direction: 1,
            max_total_positions: 5,
            stacking_risk_multiplier: Decimal::new(5, 1),
            max_spread_pips: None,
            trading_hours: Vec::new(),
        }
    }
}

impl SymbolRiskConfig {
    /// Checks the entry for `symbol`; errors name `currencies.<symbol>.<key>`.
    pub fn validate(&self, symbol: &str) -> Result<(), ConfigError> {
        let f = |key: &str| format!("currencies.{symbol}.{key}");
        percent(f("risk_percent"), self.risk_percent)?;
        positive(f("fixed_volume"), self.fixed_volume)?;
        ensure(
            self.equity_fraction > Decimal::ZERO && self.equity_fraction <= Decimal::ONE,
            f("equity_fraction"),
            self.equity_fraction,
            "must be above 0 and at most 1",
        )?;
        if let Some(v) = self.max_position_size {
            positive(f("max_position_size"), v)?;
        }
        if let Some(v) = self.min_position_size {
            positive(f("min_position_size"), v)?;
            if let Some(max) = self.max_position_size {
                ensure(
                    v <= max,
                    f("min_position_size"),
                    v,
                    "must not exceed max_position_size",
                )?;
            }
        }
        non_negative(f("commission_per_lot"), self.commission_per_lot)?;
        ensure(
            self.max_positions_same_direction > 0,
            f("max_positions_same_direction"),
            self.max_positions_same_direction,
            "must be at least 1",
        )?;
        ensure(
            self.max_total_positions > 0,
            f("max_total_positions"),
            self.max_total_positions,
            "must be at least 1",
        )?;
        ensure(
            self.stacking_risk_multiplier > Decimal::ZERO
                && self.stacking_risk_multiplier <= Decimal::ONE,
            f("stacking_risk_multiplier"),
            self.stacking_risk_multiplier,
            "must be above 0 and at most 1: stacked positions risk less, never more",
        )?;
        if let Some(v) = self.max_spread_pips {
            positive(f("max_spread_pips"), v)?;
        }
        for (i, s) in self.trading_hours.iter().enumerate() {
            ensure(
                s.start != s.end,
                f(&format!("trading_hours[{i}].end")),
                s.end,
                "must differ from start",
            )?;
            ensure(
                !s.days.is_empty(),
                f(&format!("trading_hours[{i}].days")),
                "[]",
                "must name at least one day",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
