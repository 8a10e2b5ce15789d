//! Position-management rules as pure functions of (position, symbol spec, config[, time]) to
//! actions: breakeven, a trailing stop that never loosens, one partial close per position and an
//! exit after a maximum holding time. Every action respects the stops and freeze levels at the
//! position's current price (see [`crate::levels`]); a rule that cannot act acceptably now returns
//! nothing and is asked again at the next price.

use chrono::{DateTime, Duration, Utc};
use mtq_core::{Decimal, Position, Side, SymbolSpec};

use crate::action::{ActionReason, PositionAction};
use crate::config::ManagementConfig;
use crate::levels::{is_frozen, sl_allowed, tightens, tightest_sl};

/// Profit in pips at the position's current price (negative while losing).
pub fn profit_pips(pos: &Position, spec: &SymbolSpec) -> Decimal {
    let move_ = match pos.side {
        Side::Buy => pos.current_price - pos.open_price,
        Side::Sell => pos.open_price - pos.current_price,
    };
    spec.price_to_pips(move_)
}

fn move_stop(pos: &Position, sl: Decimal, reason: ActionReason) -> PositionAction {
    PositionAction::ModifyStops {
        ticket: pos.ticket,
        symbol: pos.symbol.clone(),
        sl,
        tp: pos.tp,
        reason,
    }
}

/// Moves the stop loss to entry plus `breakeven_offset_pips` once the profit reaches
/// `breakeven_trigger_pips`, if that tightens the stop and the broker would accept it now.
pub fn breakeven(
    pos: &Position,
    spec: &SymbolSpec,
    cfg: &ManagementConfig,
) -> Option<PositionAction> {
    if !cfg.enable_breakeven || profit_pips(pos, spec) < cfg.breakeven_trigger_pips {
        return None;
    }
    let offset = spec.pips_to_price(cfg.breakeven_offset_pips);
    let target = spec.normalize_price(match pos.side {
        Side::Buy => pos.open_price + offset,
        Side::Sell => pos.open_price - offset,
    });
    let acceptable = tightens(pos.side, pos.sl, target)
        && sl_allowed(pos, spec, target)
        && !is_frozen(pos, spec);
    acceptable.then(|| move_stop(pos, target, ActionReason::Breakeven))
}

/// Trails the stop `trailing_stop_pips` behind the price once the profit reaches
/// `trailing_activation_pips`. The stop only ever tightens, by at least `trailing_step_pips`,
/// and is pulled back to the tightest level the stops level allows.
pub fn trailing_stop(
    pos: &Position,
    spec: &SymbolSpec,
    cfg: &ManagementConfig,
) -> Option<PositionAction> {
    if !cfg.enable_trailing_stop || profit_pips(pos, spec) < cfg.trailing_activation_pips {
        return None;
    }
    let distance = spec.pips_to_price(cfg.trailing_stop_pips);
    let tick = spec.tick_size;
    // Round away from the price, so the stop keeps at least the configured distance.
    let candidate = match pos.side {
        Side::Buy => ((pos.current_price - distance) / tick).floor() * tick,
        Side::Sell => ((pos.current_price + distance) / tick).ceil() * tick,
    };
    let limit = tightest_sl(pos, spec);
    let sl = match pos.side {
        Side::Buy => candidate.min(limit),
        Side::Sell => candidate.max(limit),
    }
    .normalize();
    if sl <= Decimal::ZERO || !tightens(pos.side, pos.sl, sl) || is_frozen(pos, spec) {
        return None;
    }
    if let Some(old) = pos.sl {
        let step = spec.pips_to_price(cfg.trailing_step_pips);
        if (sl - old).abs() < step {
            return None;
        }
    }
    sl_allowed(pos, spec, sl).then(|| move_stop(pos, sl, ActionReason::TrailingStop))
}

/// Closes `partial_close_percent` of the volume once the profit reaches
/// `partial_close_trigger_pips`, unless `already_closed` says this position had its partial
/// close. The closed volume is rounded down to the volume step and leaves at least the minimum
/// volume open; a position too small to split is left alone.
pub fn partial_close(
    pos: &Position,
    spec: &SymbolSpec,
    cfg: &ManagementConfig,
    already_closed: bool,
) -> Option<PositionAction> {
    if !cfg.enable_partial_close
        || already_closed
        || profit_pips(pos, spec) < cfg.partial_close_trigger_pips
        || is_frozen(pos, spec)
    {
        return None;
    }
    let step = spec.volume_step;
    let floor = |v: Decimal| (v / step).floor() * step;
    let mut volume = floor(pos.volume * cfg.partial_close_percent / Decimal::ONE_HUNDRED);
    if pos.volume - volume < spec.volume_min {
        volume = floor(pos.volume - spec.volume_min);
    }
    (volume >= spec.volume_min).then(|| PositionAction::ClosePartial {
        ticket: pos.ticket,
        symbol: pos.symbol.clone(),
        volume: volume.normalize(),
        reason: ActionReason::PartialClose,
    })
}

/// Closes the position once it has been open `max_holding_minutes`.
pub fn max_holding_time(
    pos: &Position,
    spec: &SymbolSpec,
    cfg: &ManagementConfig,
    now: DateTime<Utc>,
) -> Option<PositionAction> {
    let minutes = i64::try_from(cfg.max_holding_minutes?).unwrap_or(i64::MAX);
    let held = now - pos.open_time;
    let limit = Duration::try_minutes(minutes).unwrap_or(Duration::MAX);
    (held >= limit && !is_frozen(pos, spec)).then(|| PositionAction::Close {
        ticket: pos.ticket,
        symbol: pos.symbol.clone(),
        volume: pos.volume,
        reason: ActionReason::MaxHoldingTime,
    })
}

/// Every rule for one position at once: a time exit alone when it is due; otherwise the tighter
/// of the breakeven and trailing stop moves, then the partial close.
pub fn manage_position(
    pos: &Position,
    spec: &SymbolSpec,
    cfg: &ManagementConfig,
    now: DateTime<Utc>,
    partial_already_closed: bool,
) -> Vec<PositionAction> {
    if let Some(exit) = max_holding_time(pos, spec, cfg, now) {
        return vec![exit];
    }
    let stop_of = |a: &PositionAction| match a {
        PositionAction::ModifyStops { sl, .. } => Some(*sl),
        _ => None,
    };
    let moves = [breakeven(pos, spec, cfg), trailing_stop(pos, spec, cfg)];
    let best = moves
        .into_iter()
        .flatten()
        .reduce(|a, b| match (stop_of(&a), stop_of(&b)) {
            (Some(sa), Some(sb)) if tightens(pos.side, Some(sa), sb) => b,
            _ => a,
        });
    best.into_iter()
        .chain(partial_close(pos, spec, cfg, partial_already_closed))
        .collect()
}

#[cfg(test)]
#[path = "manage_tests.rs"]
mod tests;
