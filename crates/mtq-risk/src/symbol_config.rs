//! One symbol's risk settings: the risk keys of a TradingMTQ `currencies` entry.

use mtq_core::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, RiskBase, SizingMode, ensure, non_negative, percent, positive};
use crate::session::{TradingSession, one_or_many_sessions};

/// One symbol's risk settings (the risk keys of a `currencies` entry). Unknown keys are ignored
/// here so the same entry can also feed the strategy's settings; the application config
/// (`mtq-orchestrator`'s `config`) refuses keys that neither the risk nor the strategy knows.
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
