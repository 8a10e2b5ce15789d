//! The broker's stops and freeze levels: which stop-loss moves and closes MT5 would accept.
//!
//! MT5 checks a buy position's stop loss against the bid and a sell's against the ask, which is
//! exactly [`Position::current_price`] (the price the position would close at). The rules, from
//! MT5's trade request requirements:
//! - stops level: `bid - sl > stops_level * point` for a buy, `sl - ask > stops_level * point`
//!   for a sell;
//! - freeze level: while the price is within `freeze_level * point` of the position's current
//!   stop loss or take profit, the position may be neither modified nor closed. A freeze level of
//!   zero freezes nothing.

use mtq_core::{Decimal, Position, Side, SymbolSpec};

fn points(spec: &SymbolSpec, n: u32) -> Decimal {
    spec.points_to_price(Decimal::from(n))
}

/// Whether the position sits inside the freeze distance of its stop loss or take profit.
pub fn is_frozen(pos: &Position, spec: &SymbolSpec) -> bool {
    if spec.freeze_level == 0 {
        return false;
    }
    let freeze = points(spec, spec.freeze_level);
    let price = pos.current_price;
    let near = |level: Decimal| (price - level).abs() <= freeze;
    pos.sl.is_some_and(near) || pos.tp.is_some_and(near)
}

/// Whether MT5 would accept `sl` as the position's stop loss at its current price.
pub fn sl_allowed(pos: &Position, spec: &SymbolSpec, sl: Decimal) -> bool {
    let stops = points(spec, spec.stops_level);
    match pos.side {
        Side::Buy => pos.current_price - sl > stops,
        Side::Sell => sl - pos.current_price > stops,
    }
}

/// The tightest stop loss on the tick grid that the stops level allows at the current price.
pub fn tightest_sl(pos: &Position, spec: &SymbolSpec) -> Decimal {
    let stops = points(spec, spec.stops_level);
    let tick = spec.tick_size;
    match pos.side {
        Side::Buy => {
            let limit = pos.current_price - stops;
            let sl = (limit / tick).floor() * tick;
            if sl >= limit { sl - tick } else { sl }
        }
        Side::Sell => {
            let limit = pos.current_price + stops;
            let sl = (limit / tick).ceil() * tick;
            if sl <= limit { sl + tick } else { sl }
        }
    }
}

/// Whether `new` is a tighter stop than `old` for the position's side (any stop beats none).
pub fn tightens(side: Side, old: Option<Decimal>, new: Decimal) -> bool {
    match (side, old) {
        (_, None) => true,
        (Side::Buy, Some(old)) => new > old,
        (Side::Sell, Some(old)) => new < old,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_tightest_stop_stays_strictly_outside_the_stops_level() {
        let mut eu = spec("EURUSD");
        eu.stops_level = 30;
        let mut buy = position(1, "EURUSD", Side::Buy, dec!(1), dec!(1.1), None);
        buy.current_price = dec!(1.10500);
        assert_eq!(tightest_sl(&buy, &eu), dec!(1.10469));
        assert!(sl_allowed(&buy, &eu, dec!(1.10469)));
        assert!(!sl_allowed(&buy, &eu, dec!(1.10470)));
        let mut sell = position(2, "EURUSD", Side::Sell, dec!(1), dec!(1.1), None);
        sell.current_price = dec!(1.09500);
        assert_eq!(tightest_sl(&sell, &eu), dec!(1.09531));
        assert!(!sl_allowed(&sell, &eu, dec!(1.09530)));
    }

    #[test]
    fn a_position_near_its_stop_or_target_is_frozen() {
        let mut eu = spec("EURUSD");
        let mut buy = position(
            1,
            "EURUSD",
            Side::Buy,
            dec!(1),
            dec!(1.1),
            Some(dec!(1.0990)),
        );
        buy.current_price = dec!(1.09915);
        assert!(!is_frozen(&buy, &eu), "freeze level 0 freezes nothing");
        eu.freeze_level = 20;
        assert!(is_frozen(&buy, &eu));
        buy.current_price = dec!(1.1000);
        assert!(!is_frozen(&buy, &eu));
        buy.tp = Some(dec!(1.10010));
        assert!(is_frozen(&buy, &eu));
    }
}
