//! MT5's rule book for trade requests: the trade mode, the stops level and the freeze level.
//!
//! One copy, used by the simulator (which refuses as an MT5 server would) and by the MT5 connector
//! (which refuses before sending, so a request MT5 would refuse never leaves). The filling choice
//! lives with [`SymbolSpec`]; volume and price normalisation are [`SymbolSpec`] methods.
//!
//! Written from MetaQuotes' "Requirements and Limitations in Making Trades" (MQL4/MQL5 book,
//! appendix; <https://www.mql5.com/en/book/automation/experts/experts_requirements>). Distances
//! are in price, levels in points (`SYMBOL_TRADE_STOPS_LEVEL`, `SYMBOL_TRADE_FREEZE_LEVEL`).
//!
//! **Stops level**: a request is refused unless, with `S = StopsLevel * Point`:
//!
//! | order | open price | stop loss | take profit |
//! | --- | --- | --- | --- |
//! | Buy (position) | | `Bid - SL >= S` | `TP - Bid >= S` |
//! | Sell (position) | | `SL - Ask >= S` | `Ask - TP >= S` |
//! | BuyLimit | `Ask - Open >= S` | `Open - SL >= S` | `TP - Open >= S` |
//! | SellLimit | `Open - Bid >= S` | `SL - Open >= S` | `Open - TP >= S` |
//! | BuyStop | `Open - Ask >= S` | `Open - SL >= S` | `TP - Open >= S` |
//! | SellStop | `Bid - Open >= S` | `SL - Open >= S` | `Open - TP >= S` |
//!
//! A position is measured against the price it closes at (a buy at the bid, a sell at the ask);
//! a pending order's stops against its open price. A stop-limit order is a stop whose trigger
//! places a limit order at its stop-limit price, so that limit price keeps the stops level from
//! the trigger as a limit order keeps it from the market, and its SL and TP are measured from the
//! limit price, where the position will open. Beyond the book, a distance of zero is refused even
//! when the level is zero: a stop or limit at the very price it is measured against is on neither
//! side of it (the server refuses it as invalid stops or price).
//!
//! **Freeze level**: with `F = FreezeLevel * Point`, a position may be neither modified nor closed
//! unless `Bid - SL > F` and `TP - Bid > F` (buy) or `SL - Ask > F` and `Ask - TP > F` (sell), and
//! a pending order may be neither modified nor deleted unless its open price is more than `F` from
//! the market (`Ask - Open > F` for a buy limit, `Open - Bid > F` for a sell limit,
//! `Open - Ask > F` for a buy stop, `Bid - Open > F` for a sell stop). The inequality is strict:
//! **at exactly the freeze level the order is frozen**. The distances are signed, as in the book:
//! a level on the wrong side of the price is frozen too. A freeze level of zero freezes nothing.
//!
//! **Trade mode** (`SYMBOL_TRADE_MODE_*`): `Disabled` refuses everything (10017), `CloseOnly`
//! refuses opening (10044), `LongOnly` refuses opening a sell (10042), `ShortOnly` a buy (10043).
//!
//! ```
//! use mtq_core::rules::{self, Quote};
//! use mtq_core::{Retcode, Side, SymbolSpec};
//! use rust_decimal_macros::dec;
//!
//! let mut spec = SymbolSpec::builtin("EURUSD").unwrap();
//! spec.stops_level = 10;
//! let quote = Quote { bid: dec!(1.08000), ask: dec!(1.08012) };
//! // A buy closes at the bid: an SL 10 points under it is allowed, 9 points is not.
//! assert!(rules::position_stops(&spec, Side::Buy, quote, Some(dec!(1.07990)), None).is_ok());
//! let err = rules::position_stops(&spec, Side::Buy, quote, Some(dec!(1.07991)), None).unwrap_err();
//! assert_eq!(err.retcode(), Retcode::InvalidStops);
//! ```

use std::fmt;

use crate::{Decimal, OrderKind, Retcode, Side, Symbol, SymbolSpec, TradeMode};

/// The current bid and ask, normalised to the symbol's digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub bid: Decimal,
    pub ask: Decimal,
}

impl Quote {
    /// The price a position of `side` closes at: a buy at the bid, a sell at the ask.
    pub fn closing(self, side: Side) -> Decimal {
        match side {
            Side::Buy => self.bid,
            Side::Sell => self.ask,
        }
    }

    /// The price a pending order of `side` is measured against and triggers on: buy orders
    /// against the ask, sell orders against the bid.
    pub fn trigger(self, side: Side) -> Decimal {
        match side {
            Side::Buy => self.ask,
            Side::Sell => self.bid,
        }
    }
}

/// Which of a position's or order's two protective levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopKind {
    StopLoss,
    TakeProfit,
}

impl StopKind {
    /// Signed distance of `level` from `reference` on the side where it belongs for `side`
    /// (positive when on the right side): a buy's stop loss below, its take profit above.
    fn distance(self, side: Side, reference: Decimal, level: Decimal) -> Decimal {
        let below = match self {
            StopKind::StopLoss => reference - level,
            StopKind::TakeProfit => level - reference,
        };
        // `below * sign` without a multiplication: the product by 1 or -1 is `below` or its
        // negation, and a zero product is `Decimal::ZERO` (scale 0), as `Mul` gives it.
        if below.is_zero() {
            Decimal::ZERO
        } else if side.sign() < 0 {
            -below
        } else {
            below
        }
    }
}

impl fmt::Display for StopKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopKind::StopLoss => "stop loss",
            StopKind::TakeProfit => "take profit",
        })
    }
}

/// The two distance rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DistanceRule {
    /// `SYMBOL_TRADE_STOPS_LEVEL`: how close a new level may be placed (at least the level).
    StopsLevel,
    /// `SYMBOL_TRADE_FREEZE_LEVEL`: how close the market may be before nothing may change
    /// (more than the level).
    FreezeLevel,
}

impl fmt::Display for DistanceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DistanceRule::StopsLevel => "stops level",
            DistanceRule::FreezeLevel => "freeze level",
        })
    }
}

/// The price a rule measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A position's or order's stop loss or take profit.
    Stop(StopKind),
    /// A pending order's open (trigger) price.
    OrderPrice(OrderKind),
    /// A stop-limit order's limit price.
    StopLimitPrice,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Stop(k) => k.fmt(f),
            Subject::OrderPrice(kind) => write!(f, "the {kind:?} price"),
            Subject::StopLimitPrice => f.write_str("the stop-limit price"),
        }
    }
}

/// The price a distance was measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reference {
    Bid,
    Ask,
    OrderPrice,
    Trigger,
}

impl Reference {
    fn closing(side: Side) -> Self {
        match side {
            Side::Buy => Reference::Bid,
            Side::Sell => Reference::Ask,
        }
    }

    fn market(side: Side) -> Self {
        match side {
            Side::Buy => Reference::Ask,
            Side::Sell => Reference::Bid,
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reference::Bid => "the bid",
            Reference::Ask => "the ask",
            Reference::OrderPrice => "the order price",
            Reference::Trigger => "the trigger",
        })
    }
}

/// A request the rule book refuses, with the retcode an MT5 server gives for it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    /// A price too close to (or on the wrong side of) the price it is measured from.
    #[error(
        "{symbol}: {subject} {price} is {points} points from {reference} {reference_price}; the symbol's {rule} is {level} points{}",
        if *points <= Decimal::ZERO { " (and it must be on the other side)" } else { "" }
    )]
    TooClose {
        symbol: Symbol,
        rule: DistanceRule,
        subject: Subject,
        price: Decimal,
        reference: Reference,
        reference_price: Decimal,
        /// Signed: zero or negative when on the wrong side.
        points: Decimal,
        level: u32,
    },
    /// The symbol's trade mode forbids the request.
    #[error("{symbol}: trade mode is {mode:?}")]
    TradeMode { symbol: Symbol, mode: TradeMode },
}

impl RuleViolation {
    /// The return code an MT5 server gives for this refusal.
    pub fn retcode(&self) -> Retcode {
        match self {
            RuleViolation::TooClose {
                rule: DistanceRule::FreezeLevel,
                ..
            } => Retcode::Frozen,
            RuleViolation::TooClose {
                subject: Subject::Stop(_),
                ..
            } => Retcode::InvalidStops,
            RuleViolation::TooClose { .. } => Retcode::InvalidPrice,
            RuleViolation::TradeMode { mode, .. } => match mode {
                TradeMode::Disabled => Retcode::TradeDisabled,
                TradeMode::CloseOnly => Retcode::CloseOnly,
                TradeMode::LongOnly => Retcode::LongOnly,
                TradeMode::ShortOnly => Retcode::ShortOnly,
                // Never built for Full; the generic refusal if it were.
                TradeMode::Full => Retcode::Reject,
            },
        }
    }
}

/// What a request does, for the trade mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeAction {
    /// Opens (or adds to) a position of this side, at market or by a pending order.
    Open(Side),
    /// Closes or modifies a position, or modifies or deletes a pending order.
    Manage,
}

/// Whether the symbol's trade mode allows `action`.
pub fn trade_mode(spec: &SymbolSpec, action: TradeAction) -> Result<(), RuleViolation> {
    let refused = matches!(
        (spec.trade_mode, action),
        (TradeMode::Disabled, _)
            | (TradeMode::CloseOnly, TradeAction::Open(_))
            | (TradeMode::LongOnly, TradeAction::Open(Side::Sell))
            | (TradeMode::ShortOnly, TradeAction::Open(Side::Buy))
    );
    if refused {
        return Err(RuleViolation::TradeMode {
            symbol: spec.symbol.clone(),
            mode: spec.trade_mode,
        });
    }
    Ok(())
}

/// One measured distance, before the rule is applied.
struct Measure {
    subject: Subject,
    price: Decimal,
    reference: Reference,
    reference_price: Decimal,
    /// Signed, positive on the side where the price belongs.
    distance: Decimal,
}

/// The stops level: the distance is positive and at least the level.
fn keeps_stops_level(spec: &SymbolSpec, m: Measure) -> Result<(), RuleViolation> {
    let min = spec.point * Decimal::from(spec.stops_level);
    if m.distance > Decimal::ZERO && m.distance >= min {
        return Ok(());
    }
    Err(too_close(
        spec,
        DistanceRule::StopsLevel,
        spec.stops_level,
        m,
    ))
}

/// The freeze level: the distance is more than the level (a level of zero freezes nothing).
fn outside_freeze_level(spec: &SymbolSpec, m: Measure) -> Result<(), RuleViolation> {
    if spec.freeze_level == 0 {
        return Ok(());
    }
    let freeze = spec.point * Decimal::from(spec.freeze_level);
    if m.distance > freeze {
        return Ok(());
    }
    Err(too_close(
        spec,
        DistanceRule::FreezeLevel,
        spec.freeze_level,
        m,
    ))
}

fn too_close(spec: &SymbolSpec, rule: DistanceRule, level: u32, m: Measure) -> RuleViolation {
    RuleViolation::TooClose {
        symbol: spec.symbol.clone(),
        rule,
        subject: m.subject,
        price: m.price,
        reference: m.reference,
        reference_price: m.reference_price,
        points: spec.price_to_points(m.distance).normalize(),
        level,
    }
}

fn stop_measures(
    side: Side,
    reference: Reference,
    reference_price: Decimal,
    sl: Option<Decimal>,
    tp: Option<Decimal>,
) -> impl Iterator<Item = Measure> {
    [(StopKind::StopLoss, sl), (StopKind::TakeProfit, tp)]
        .into_iter()
        .filter_map(move |(kind, level)| {
            level.map(|price| Measure {
                subject: Subject::Stop(kind),
                price,
                reference,
                reference_price,
                distance: kind.distance(side, reference_price, price),
            })
        })
}

/// The stops level for the SL and TP of a position of `side` (or a market order opening one),
/// measured from the price it closes at.
pub fn position_stops(
    spec: &SymbolSpec,
    side: Side,
    quote: Quote,
    sl: Option<Decimal>,
    tp: Option<Decimal>,
) -> Result<(), RuleViolation> {
    let reference = Reference::closing(side);
    stop_measures(side, reference, quote.closing(side), sl, tp)
        .try_for_each(|m| keeps_stops_level(spec, m))
}

/// The stops level for the SL and TP of a pending order of `side` that opens at `open` (the
/// limit price of a stop-limit order).
pub fn order_stops(
    spec: &SymbolSpec,
    side: Side,
    open: Decimal,
    sl: Option<Decimal>,
    tp: Option<Decimal>,
) -> Result<(), RuleViolation> {
    stop_measures(side, Reference::OrderPrice, open, sl, tp)
        .try_for_each(|m| keeps_stops_level(spec, m))
}

/// Signed distance of a pending order's price from the market, positive on its side: limits
/// below the ask (buy) or above the bid (sell), stops the other way.
fn pending_measure(side: Side, kind: OrderKind, price: Decimal, quote: Quote) -> Measure {
    let market = quote.trigger(side);
    let above = matches!(
        (side, kind),
        (Side::Sell, OrderKind::Limit) | (Side::Buy, OrderKind::Stop | OrderKind::StopLimit)
    );
    let distance = if above {
        price - market
    } else {
        market - price
    };
    Measure {
        subject: Subject::OrderPrice(kind),
        price,
        reference: Reference::market(side),
        reference_price: market,
        distance,
    }
}

/// The stops level for placing a pending order of `side` and `kind` at `price`. A market order
/// has no price to check.
pub fn order_price(
    spec: &SymbolSpec,
    side: Side,
    kind: OrderKind,
    price: Decimal,
    quote: Quote,
) -> Result<(), RuleViolation> {
    if kind == OrderKind::Market {
        return Ok(());
    }
    keeps_stops_level(spec, pending_measure(side, kind, price, quote))
}

/// The stops level for a stop-limit order's limit price: on the far side of the trigger (below
/// it for a buy, above for a sell), as a limit order placed when the market reaches the trigger.
pub fn stop_limit_price(
    spec: &SymbolSpec,
    side: Side,
    trigger: Decimal,
    limit: Decimal,
) -> Result<(), RuleViolation> {
    keeps_stops_level(
        spec,
        Measure {
            subject: Subject::StopLimitPrice,
            price: limit,
            reference: Reference::Trigger,
            reference_price: trigger,
            distance: (trigger - limit) * Decimal::from(side.sign()),
        },
    )
}

/// The freeze level for closing or modifying a position of `side` whose current stops are `sl`
/// and `tp`.
pub fn position_freeze(
    spec: &SymbolSpec,
    side: Side,
    quote: Quote,
    sl: Option<Decimal>,
    tp: Option<Decimal>,
) -> Result<(), RuleViolation> {
    let reference = Reference::closing(side);
    stop_measures(side, reference, quote.closing(side), sl, tp)
        .try_for_each(|m| outside_freeze_level(spec, m))
}

/// The freeze level for modifying or deleting a pending order of `side` and `kind` at `price`.
pub fn order_freeze(
    spec: &SymbolSpec,
    side: Side,
    kind: OrderKind,
    price: Decimal,
    quote: Quote,
) -> Result<(), RuleViolation> {
    if kind == OrderKind::Market {
        return Ok(());
    }
    outside_freeze_level(spec, pending_measure(side, kind, price, quote))
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
