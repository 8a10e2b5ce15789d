//! Position sizing: how many lots an entry may trade.

use std::fmt;

use mtq_core::{AccountInfo, Decimal, FxRates, Position, Side, Symbol, SymbolSpec};

use crate::Refusal;
use crate::SymbolRiskConfig;
use crate::config::{RiskBase, SizingMode};
use crate::money::{loss_per_lot, overflow, required_margin};
use crate::refusal::shown;

/// How far sizing may exceed the risk budget, in the account currency: only the rounding of
/// 28-digit decimal exchange rates, far below any account's smallest unit.
pub const MONEY_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 10);

/// Decimal places kept from the raw volume before rounding down to the step.
const VOLUME_NOISE_DP: u32 = 12;

/// What sizing needs to know about one intended entry.
#[derive(Clone, Copy)]
pub struct SizingRequest<'a> {
    pub spec: &'a SymbolSpec,
    pub side: Side,
    /// The price the entry is expected to fill at (the ask for a buy, the bid for a sell).
    pub entry: Decimal,
    pub sl: Option<Decimal>,
    pub account: &'a AccountInfo,
    pub rates: &'a dyn FxRates,
    /// Positions already open on this symbol in `side`'s direction; each scales the risk by
    /// `stacking_risk_multiplier`. See [`same_direction_count`].
    pub stacked: usize,
}

impl fmt::Debug for SizingRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SizingRequest")
            .field("symbol", &self.spec.symbol)
            .field("side", &self.side)
            .field("entry", &self.entry)
            .field("sl", &self.sl)
            .field("account_currency", &self.account.currency)
            .field("stacked", &self.stacked)
            .finish_non_exhaustive()
    }
}

/// A sized entry. Money is in the account currency.
#[derive(Clone, Debug, PartialEq)]
pub struct SizedVolume {
    /// Lots, on the symbol's volume grid and within its limits.
    pub volume: Decimal,
    /// What the trade loses if its stop loss is hit, commission included; `None` without a stop.
    pub risk: Option<Decimal>,
    /// The most the trade was allowed to risk (risk-percent mode only).
    pub budget: Option<Decimal>,
    /// Margin the trade ties up at its entry price.
    pub required_margin: Decimal,
}

/// Why a configuration cannot trade without a stop loss (`stop_mode: none`), found at load.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoplessConfigError {
    /// Risk-percent sizing measures the risk to the stop: without one there is nothing to size by.
    #[error(
        "risk-percent sizing needs a stop loss; use fixed lots or equity sizing with stop_mode: none"
    )]
    RiskPercentSizing,
    /// A position without a stop has unbounded risk, which a portfolio risk cap below 100% cannot
    /// bound.
    #[error(
        "global.portfolio_risk_percent {0} cannot cap positions without a stop loss (their risk is unbounded); set it to 100 to trade with stop_mode: none"
    )]
    PortfolioRiskCap(Decimal),
}

/// Checks that a symbol whose entries carry no stop loss can be sized and risk-checked: not by
/// risk percent, and not under a portfolio risk cap (`portfolio_risk_percent` below 100).
pub fn check_stopless_entries(
    cfg: &SymbolRiskConfig,
    portfolio_risk_percent: Decimal,
) -> Result<(), StoplessConfigError> {
    if cfg.sizing_mode == SizingMode::RiskPercent {
        return Err(StoplessConfigError::RiskPercentSizing);
    }
    if portfolio_risk_percent < Decimal::ONE_HUNDRED {
        return Err(StoplessConfigError::PortfolioRiskCap(
            portfolio_risk_percent,
        ));
    }
    Ok(())
}

/// Positions on `symbol` in `side`'s direction: the `stacked` count for a new entry.
pub fn same_direction_count(positions: &[Position], symbol: &Symbol, side: Side) -> usize {
    positions
        .iter()
        .filter(|p| &p.symbol == symbol && p.side == side)
        .count()
}

/// Sizes an entry under `cfg`'s mode. The volume is rounded down to the volume step and capped at
/// `volume_max` and `max_position_size`; when that leaves less than the minimum volume the entry is
/// refused, never rounded up, so in risk-percent mode the trade never risks more than its budget.
pub fn size_position(
    cfg: &SymbolRiskConfig,
    req: &SizingRequest<'_>,
) -> Result<SizedVolume, Refusal> {
    let spec = req.spec;
    let ccy = req.account.currency;
    let commission = cfg.commission_per_lot;
    if let Some(sl) = req.sl.filter(|sl| *sl <= Decimal::ZERO) {
        // A fixed stop farther from the entry than the price itself (a stock that has moved
        // by a factor since the stop was chosen).
        return Err(Refusal::InvalidPrice {
            symbol: spec.symbol.clone(),
            what: "the stop loss (farther from the entry than the price itself; a strategy that exits on its signal wants stop_mode: none)".into(),
            price: sl,
        });
    }
    let sl_loss = match req.sl {
        Some(sl) => Some(loss_per_lot(spec, req.side, req.entry, sl, ccy, req.rates)?),
        None => None,
    };
    // Entry and exit commission: a stopped-out trade pays both.
    let risk_per_lot = sl_loss.map(|l| l + commission + commission);
    let margin_per_lot = required_margin(
        spec,
        Decimal::ONE,
        req.entry,
        req.account.leverage,
        ccy,
        req.rates,
    )?;
    let cap = |v: Decimal| cfg.max_position_size.map_or(v, |max| v.min(max));

    let (volume, budget) = match cfg.sizing_mode {
        SizingMode::RiskPercent => {
            let per_lot = risk_per_lot.ok_or_else(|| Refusal::NoStopLoss {
                symbol: spec.symbol.clone(),
            })?;
            let budget = risk_budget(cfg, req)?;
            // Rates such as 1/1.1 have no exact decimal form, so the quotient can land a few units
            // of the 28th digit below a whole step (0.54999... for 0.55): round that noise away,
            // then make sure the rounded volume is still within budget.
            let raw = budget
                .checked_div(per_lot)
                .ok_or_else(|| overflow("dividing the risk budget by the loss per lot"))?
                .round_dp(VOLUME_NOISE_DP);
            let volume = normalize(spec, cfg, cap(raw)).and_then(|v| {
                let v = if v * per_lot > budget + MONEY_TOLERANCE {
                    v - spec.volume_step
                } else {
                    v
                };
                (v >= min_volume(spec, cfg)).then_some(v)
            });
            let volume = volume.ok_or_else(|| {
                let min_volume = min_volume(spec, cfg);
                Refusal::MinimumVolumeTooRisky {
                    symbol: spec.symbol.clone(),
                    min_volume,
                    risk_at_min: shown(min_volume * per_lot),
                    budget: shown(budget),
                    currency: ccy,
                }
            })?;
            (volume, Some(budget))
        }
        SizingMode::FixedVolume => {
            let v = normalize(spec, cfg, cap(cfg.fixed_volume));
            (
                v.ok_or_else(|| below_min(spec, cfg, cfg.fixed_volume))?,
                None,
            )
        }
        SizingMode::FractionOfEquity => {
            let allowance = req.account.free_margin * cfg.equity_fraction;
            let raw = if allowance <= Decimal::ZERO {
                Decimal::ZERO
            } else {
                allowance
                    .checked_div(margin_per_lot + commission)
                    .ok_or_else(|| overflow("dividing the free margin by the margin per lot"))?
            };
            let v = normalize(spec, cfg, cap(raw));
            (
                v.ok_or_else(|| below_min(spec, cfg, raw.round_dp(4).normalize()))?,
                None,
            )
        }
    };
    Ok(SizedVolume {
        volume,
        risk: risk_per_lot.map(|r| r * volume),
        budget,
        required_margin: margin_per_lot * volume,
    })
}

/// The money a risk-percent entry may lose: `risk_percent` of the risk base, scaled by
/// `stacking_risk_multiplier` once per position already open in the same direction.
pub fn risk_budget(cfg: &SymbolRiskConfig, req: &SizingRequest<'_>) -> Result<Decimal, Refusal> {
    let (name, base) = match cfg.risk_base {
        RiskBase::Balance => ("balance", req.account.balance),
        RiskBase::Equity => ("equity", req.account.equity),
    };
    if base <= Decimal::ZERO {
        return Err(Refusal::NoRiskCapital {
            base: name.into(),
            amount: base,
            currency: req.account.currency,
        });
    }
    let mut budget = base
        .checked_mul(cfg.risk_percent)
        .ok_or_else(|| overflow("computing the risk budget"))?
        / Decimal::ONE_HUNDRED;
    for _ in 0..req.stacked {
        budget *= cfg.stacking_risk_multiplier;
        if budget.is_zero() {
            break;
        }
    }
    Ok(budget)
}

fn min_volume(spec: &SymbolSpec, cfg: &SymbolRiskConfig) -> Decimal {
    cfg.min_position_size
        .map_or(spec.volume_min, |m| m.max(spec.volume_min))
}

fn normalize(spec: &SymbolSpec, cfg: &SymbolRiskConfig, volume: Decimal) -> Option<Decimal> {
    spec.normalize_volume(volume)
        .filter(|v| *v >= min_volume(spec, cfg))
}

fn below_min(spec: &SymbolSpec, cfg: &SymbolRiskConfig, volume: Decimal) -> Refusal {
    Refusal::BelowMinimumVolume {
        symbol: spec.symbol.clone(),
        volume,
        min_volume: min_volume(spec, cfg),
    }
}

#[cfg(test)]
#[path = "sizing_tests.rs"]
mod tests;
