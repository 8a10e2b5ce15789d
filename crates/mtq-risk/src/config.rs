//! Risk configuration. Every struct deserializes with defaults for what is left out and is checked
//! once with `validate`, whose error names the key and the value to fix. Key names follow the
//! TradingMTQ `currencies.yaml` layout: `global`, `emergency`, `modifications` and one
//! [`crate::SymbolRiskConfig`] per `currencies` entry.

use std::collections::BTreeMap;
use std::fmt;

use mtq_core::{Currency, Decimal};
use serde::{Deserialize, Serialize};

use crate::session::TradingDayConfig;

/// A config value that cannot be used, with the key to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("risk config: `{field}` = {value} {reason}")]
pub struct ConfigError {
    /// Dotted path of the key, e.g. `currencies.EURUSD.risk_percent`.
    pub field: String,
    pub value: String,
    pub reason: &'static str,
}

pub(crate) fn ensure(
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

pub(crate) fn percent(field: impl fmt::Display, v: Decimal) -> Result<(), ConfigError> {
    ensure(
        v > Decimal::ZERO && v <= Decimal::ONE_HUNDRED,
        field,
        v,
        "must be a percentage above 0 and at most 100",
    )
}

pub(crate) fn non_negative(field: impl fmt::Display, v: Decimal) -> Result<(), ConfigError> {
    ensure(v >= Decimal::ZERO, field, v, "must not be negative")
}

pub(crate) fn positive(field: impl fmt::Display, v: Decimal) -> Result<(), ConfigError> {
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

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
