//! Pre-trade checks. Each is a function from the context and the intended entry to allow
//! (`Ok(())`) or a [`Refusal`]; [`plan_entry`] runs them around sizing in a fixed order.

use std::fmt;

use chrono::{DateTime, Utc};
use mtq_core::{AccountInfo, Decimal, FxRates, Position, Side, Symbol, SymbolSpec};

use crate::Refusal;
use crate::SymbolRiskConfig;
use crate::config::RiskConfig;
use crate::exposure::{CurrencyExposure, total_open_risk};
use crate::money::{SpecLookup, lookup, loss_per_lot, required_margin};
use crate::refusal::shown;
use crate::session::in_any_session;
use crate::sizing::{
    MONEY_TOLERANCE, SizedVolume, SizingRequest, same_direction_count, size_position,
};
use crate::state::RiskState;

/// Everything the checks read. Borrowed, so building one per signal costs nothing.
#[derive(Clone, Copy)]
pub struct CheckContext<'a> {
    pub now: DateTime<Utc>,
    pub config: &'a RiskConfig,
    /// The entry symbol's settings.
    pub symbol_config: &'a SymbolRiskConfig,
    pub state: &'a RiskState,
    pub account: &'a AccountInfo,
    /// Every open position the portfolio limits count (the account's, or this bot's magic's).
    pub positions: &'a [Position],
    pub specs: &'a dyn SpecLookup,
    pub rates: &'a dyn FxRates,
}

impl fmt::Debug for CheckContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckContext")
            .field("now", &self.now)
            .field("account", &self.account.login)
            .field("positions", &self.positions.len())
            .field("kill_switch", &self.state.kill_switch().state())
            .finish_non_exhaustive()
    }
}

/// An entry a strategy wants, before sizing.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryIntent {
    pub symbol: Symbol,
    pub side: Side,
    /// Expected fill price: the ask for a buy, the bid for a sell.
    pub entry: Decimal,
    pub sl: Option<Decimal>,
    pub bid: Decimal,
    pub ask: Decimal,
}

/// A check: allow, or the refusal. `volume` is the sized volume (zero before sizing).
pub type Check = fn(&CheckContext<'_>, &EntryIntent, Decimal) -> Result<(), Refusal>;

/// Checks that do not depend on the volume, cheapest and most fundamental first.
pub const GATE_CHECKS: [Check; 9] = [
    check_kill_switch,
    check_trading_hours,
    check_spread,
    check_cooldown,
    check_max_positions,
    check_symbol_positions,
    check_stacking,
    check_daily_loss,
    check_drawdown,
];

/// Checks of the sized trade against the book.
pub const BOOK_CHECKS: [Check; 3] = [check_margin, check_portfolio_risk, check_currency_exposure];

/// Sizes `intent` and runs every check: the gate checks, then sizing, then the book checks.
/// Returns the sized volume to send, or the first refusal.
pub fn plan_entry(ctx: &CheckContext<'_>, intent: &EntryIntent) -> Result<SizedVolume, Refusal> {
    for check in GATE_CHECKS {
        check(ctx, intent, Decimal::ZERO)?;
    }
    // The integer path where it is exact (see `exact.rs`), else the reference below.
    match crate::exact::sized_and_checked(ctx, intent) {
        Some(sized) => Ok(sized),
        None => size_and_check(ctx, intent),
    }
}

/// Sizing and the book checks in `Decimal`: the reference the integer path must equal.
pub(crate) fn size_and_check(
    ctx: &CheckContext<'_>,
    intent: &EntryIntent,
) -> Result<SizedVolume, Refusal> {
    let sized = size_position(ctx.symbol_config, &sizing_request(ctx, intent)?)?;
    for check in BOOK_CHECKS {
        check(ctx, intent, sized.volume)?;
    }
    Ok(sized)
}

/// Every refusal `volume` lots of `intent` would meet, for reports and the dashboard.
pub fn entry_refusals(
    ctx: &CheckContext<'_>,
    intent: &EntryIntent,
    volume: Decimal,
) -> Vec<Refusal> {
    GATE_CHECKS
        .iter()
        .chain(BOOK_CHECKS.iter())
        .filter_map(|check| check(ctx, intent, volume).err())
        .collect()
}

/// The sizing request for `intent` in this context.
pub fn sizing_request<'a>(
    ctx: &CheckContext<'a>,
    intent: &EntryIntent,
) -> Result<SizingRequest<'a>, Refusal> {
    Ok(SizingRequest {
        spec: lookup(ctx.specs, &intent.symbol)?,
        side: intent.side,
        entry: intent.entry,
        sl: intent.sl,
        account: ctx.account,
        rates: ctx.rates,
        stacked: same_direction_count(ctx.positions, &intent.symbol, intent.side),
    })
}

fn spec_of<'a>(ctx: &CheckContext<'a>, intent: &EntryIntent) -> Result<&'a SymbolSpec, Refusal> {
    lookup(ctx.specs, &intent.symbol)
}

pub fn check_kill_switch(
    ctx: &CheckContext<'_>,
    _: &EntryIntent,
    _: Decimal,
) -> Result<(), Refusal> {
    ctx.state.kill_switch().entry_refusal().map_or(Ok(()), Err)
}

pub fn check_trading_hours(
    ctx: &CheckContext<'_>,
    i: &EntryIntent,
    _: Decimal,
) -> Result<(), Refusal> {
    if in_any_session(&ctx.symbol_config.trading_hours, ctx.now) {
        Ok(())
    } else {
        Err(Refusal::OutsideTradingHours {
            symbol: i.symbol.clone(),
            now: ctx.now,
        })
    }
}

pub fn check_spread(ctx: &CheckContext<'_>, i: &EntryIntent, _: Decimal) -> Result<(), Refusal> {
    let Some(max_pips) = ctx.symbol_config.max_spread_pips else {
        return Ok(());
    };
    let spread_pips = spec_of(ctx, i)?.price_to_pips(i.ask - i.bid);
    if spread_pips > max_pips {
        return Err(Refusal::SpreadTooWide {
            symbol: i.symbol.clone(),
            spread_pips: spread_pips.round_dp(1).normalize(),
            max_pips,
        });
    }
    Ok(())
}

pub fn check_cooldown(ctx: &CheckContext<'_>, i: &EntryIntent, _: Decimal) -> Result<(), Refusal> {
    let cooldown = ctx.symbol_config.cooldown_seconds;
    let Some(last) = ctx.state.last_entry(&i.symbol) else {
        return Ok(());
    };
    let elapsed = (ctx.now - last).num_seconds();
    let cooldown_i = i64::try_from(cooldown).unwrap_or(i64::MAX);
    if elapsed < cooldown_i {
        return Err(Refusal::Cooldown {
            symbol: i.symbol.clone(),
            remaining_seconds: cooldown_i.saturating_sub(elapsed),
            cooldown_seconds: cooldown,
        });
    }
    Ok(())
}

pub fn check_max_positions(
    ctx: &CheckContext<'_>,
    _: &EntryIntent,
    _: Decimal,
) -> Result<(), Refusal> {
    let max = ctx.config.global.max_concurrent_trades;
    let open = ctx.positions.len();
    if open >= usize::try_from(max).unwrap_or(usize::MAX) {
        return Err(Refusal::MaxPositions { open, max });
    }
    Ok(())
}

pub fn check_symbol_positions(
    ctx: &CheckContext<'_>,
    i: &EntryIntent,
    _: Decimal,
) -> Result<(), Refusal> {
    let max = ctx.symbol_config.max_total_positions;
    let open = ctx
        .positions
        .iter()
        .filter(|p| p.symbol == i.symbol)
        .count();
    if open >= usize::try_from(max).unwrap_or(usize::MAX) {
        return Err(Refusal::MaxSymbolPositions {
            symbol: i.symbol.clone(),
            open,
            max,
        });
    }
    Ok(())
}

pub fn check_stacking(ctx: &CheckContext<'_>, i: &EntryIntent, _: Decimal) -> Result<(), Refusal> {
    let open = same_direction_count(ctx.positions, &i.symbol, i.side);
    if open == 0 {
        return Ok(());
    }
    let cfg = ctx.symbol_config;
    if !cfg.allow_position_stacking {
        return Err(Refusal::StackingNotAllowed {
            symbol: i.symbol.clone(),
            side: i.side,
        });
    }
    let max = cfg.max_positions_same_direction;
    if open >= usize::try_from(max).unwrap_or(usize::MAX) {
        return Err(Refusal::MaxSameDirection {
            symbol: i.symbol.clone(),
            side: i.side,
            open,
            max,
        });
    }
    Ok(())
}

pub fn check_daily_loss(
    ctx: &CheckContext<'_>,
    _: &EntryIntent,
    _: Decimal,
) -> Result<(), Refusal> {
    let cfg = &ctx.config.emergency;
    ctx.state
        .daily_loss_refusal(cfg, ctx.now, ctx.account)
        .map_or(Ok(()), Err)
}

pub fn check_drawdown(ctx: &CheckContext<'_>, _: &EntryIntent, _: Decimal) -> Result<(), Refusal> {
    let cfg = &ctx.config.emergency;
    ctx.state
        .drawdown_refusal(cfg, ctx.account)
        .map_or(Ok(()), Err)
}

/// Free margin after the trade (less its margin and entry commission) must stay at or above
/// `min_free_margin` and zero; the margin level after it at or above `min_margin_level_percent`.
pub fn check_margin(
    ctx: &CheckContext<'_>,
    i: &EntryIntent,
    volume: Decimal,
) -> Result<(), Refusal> {
    let a = ctx.account;
    let g = &ctx.config.global;
    let margin = required_margin(
        spec_of(ctx, i)?,
        volume,
        i.entry,
        a.leverage,
        a.currency,
        ctx.rates,
    )?;
    let commission = ctx.symbol_config.commission_per_lot * volume;
    let after = a.free_margin - margin - commission;
    let min = g.min_free_margin.max(Decimal::ZERO);
    if after < min {
        return Err(Refusal::FreeMargin {
            after: shown(after),
            min,
            currency: a.currency,
        });
    }
    if let Some(min_level) = g.min_margin_level_percent {
        let used = a.margin + margin;
        if used > Decimal::ZERO {
            let level = (a.equity - commission) * Decimal::ONE_HUNDRED / used;
            if level < min_level {
                return Err(Refusal::MarginLevel {
                    level: shown(level),
                    min: min_level,
                });
            }
        }
    }
    Ok(())
}

/// Open risk of every position plus this trade's must stay within `portfolio_risk_percent` of
/// the balance.
pub fn check_portfolio_risk(
    ctx: &CheckContext<'_>,
    i: &EntryIntent,
    volume: Decimal,
) -> Result<(), Refusal> {
    let a = ctx.account;
    let spec = spec_of(ctx, i)?;
    // An entry without a stop (`stop_mode: none`) has no bounded risk to add up; configuration
    // allows that only without a cap (100%, see `check_stopless_entries`).
    if i.sl.is_none() && ctx.config.global.portfolio_risk_percent >= Decimal::ONE_HUNDRED {
        return Ok(());
    }
    let sl = i.sl.ok_or_else(|| Refusal::NoStopLoss {
        symbol: i.symbol.clone(),
    })?;
    let new_risk = loss_per_lot(spec, i.side, i.entry, sl, a.currency, ctx.rates)? * volume;
    let open_risk = total_open_risk(ctx.positions, ctx.specs, a.currency, ctx.rates)? + new_risk;
    if a.balance <= Decimal::ZERO {
        return Err(Refusal::NoRiskCapital {
            base: "balance".into(),
            amount: a.balance,
            currency: a.currency,
        });
    }
    let limit_percent = ctx.config.global.portfolio_risk_percent;
    let budget = a.balance * limit_percent / Decimal::ONE_HUNDRED;
    if open_risk > budget + MONEY_TOLERANCE {
        return Err(Refusal::PortfolioRisk {
            open_risk: shown(open_risk),
            risk_percent: shown(open_risk * Decimal::ONE_HUNDRED / a.balance),
            limit_percent,
            currency: a.currency,
        });
    }
    Ok(())
}

/// The trade may not take the net exposure to either of its currencies beyond the cap (percent of
/// equity). A trade that reduces an exposure already beyond its cap is allowed.
pub fn check_currency_exposure(
    ctx: &CheckContext<'_>,
    i: &EntryIntent,
    volume: Decimal,
) -> Result<(), Refusal> {
    let a = ctx.account;
    let g = &ctx.config.global;
    let spec = spec_of(ctx, i)?;
    let touched = [spec.base_currency, spec.profit_currency];
    if touched.iter().all(|c| g.exposure_cap_percent(*c).is_none()) {
        return Ok(());
    }
    let before = CurrencyExposure::of_positions(ctx.positions, ctx.specs, a.currency, ctx.rates)?;
    let mut after = before.clone();
    after.add(spec, i.side, volume, i.entry, a.currency, ctx.rates)?;
    for currency in touched {
        let Some(cap_percent) = g.exposure_cap_percent(currency) else {
            continue;
        };
        let (was, now) = (before.get(currency).abs(), after.get(currency).abs());
        if now <= was {
            continue;
        }
        if a.equity <= Decimal::ZERO {
            return Err(Refusal::NoRiskCapital {
                base: "equity".into(),
                amount: a.equity,
                currency: a.currency,
            });
        }
        if now > a.equity * cap_percent / Decimal::ONE_HUNDRED {
            return Err(Refusal::CurrencyExposure {
                currency,
                exposure_percent: shown(now * Decimal::ONE_HUNDRED / a.equity),
                cap_percent,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
