//! Every rule of the book at its boundary: one point either side of each level, for buys and
//! sells, positions and pending orders, stops and freeze levels.

use super::*;
use rust_decimal_macros::dec;

const STOPS: u32 = 10;
const FREEZE: u32 = 5;

fn spec() -> SymbolSpec {
    let mut s = crate::testkit::eurusd();
    s.stops_level = STOPS;
    s.freeze_level = FREEZE;
    s
}

const QUOTE: Quote = Quote {
    bid: dec!(1.08000),
    ask: dec!(1.08012),
};
const OPEN: Decimal = dec!(1.07500);
const TRIGGER: Decimal = dec!(1.09000);

type Check = fn(&SymbolSpec, Decimal) -> Result<(), RuleViolation>;

/// One rule: what it checks, from which price, on which side the price belongs.
struct Case {
    name: &'static str,
    check: Check,
    reference: Decimal,
    /// +1 when the price belongs above the reference, -1 below.
    belongs: i64,
    rule: DistanceRule,
    /// The retcode MT5 gives when refused.
    refused: Retcode,
}

fn cases() -> Vec<Case> {
    use DistanceRule::{FreezeLevel, StopsLevel};
    use OrderKind::{Limit, Stop, StopLimit};
    use Retcode::{Frozen, InvalidPrice, InvalidStops};
    use Side::{Buy, Sell};
    let bid = QUOTE.bid;
    let ask = QUOTE.ask;
    macro_rules! case {
        ($name:expr, $reference:expr, $belongs:expr, $rule:expr, $refused:expr, $check:expr) => {
            Case {
                name: $name,
                check: $check,
                reference: $reference,
                belongs: $belongs,
                rule: $rule,
                refused: $refused,
            }
        };
    }
    vec![
        // Positions: stops level from the closing price (buy: bid, sell: ask).
        case!(
            "buy position SL",
            bid,
            -1,
            StopsLevel,
            InvalidStops,
            |s, p| { position_stops(s, Buy, QUOTE, Some(p), None) }
        ),
        case!(
            "buy position TP",
            bid,
            1,
            StopsLevel,
            InvalidStops,
            |s, p| { position_stops(s, Buy, QUOTE, None, Some(p)) }
        ),
        case!(
            "sell position SL",
            ask,
            1,
            StopsLevel,
            InvalidStops,
            |s, p| { position_stops(s, Sell, QUOTE, Some(p), None) }
        ),
        case!(
            "sell position TP",
            ask,
            -1,
            StopsLevel,
            InvalidStops,
            |s, p| { position_stops(s, Sell, QUOTE, None, Some(p)) }
        ),
        // Pending orders' stops: from the open price.
        case!(
            "buy order SL",
            OPEN,
            -1,
            StopsLevel,
            InvalidStops,
            |s, p| { order_stops(s, Buy, OPEN, Some(p), None) }
        ),
        case!("buy order TP", OPEN, 1, StopsLevel, InvalidStops, |s, p| {
            order_stops(s, Buy, OPEN, None, Some(p))
        }),
        case!(
            "sell order SL",
            OPEN,
            1,
            StopsLevel,
            InvalidStops,
            |s, p| { order_stops(s, Sell, OPEN, Some(p), None) }
        ),
        case!(
            "sell order TP",
            OPEN,
            -1,
            StopsLevel,
            InvalidStops,
            |s, p| { order_stops(s, Sell, OPEN, None, Some(p)) }
        ),
        // Pending prices: buys against the ask, sells against the bid.
        case!(
            "buy limit price",
            ask,
            -1,
            StopsLevel,
            InvalidPrice,
            |s, p| { order_price(s, Buy, Limit, p, QUOTE) }
        ),
        case!(
            "sell limit price",
            bid,
            1,
            StopsLevel,
            InvalidPrice,
            |s, p| { order_price(s, Sell, Limit, p, QUOTE) }
        ),
        case!(
            "buy stop price",
            ask,
            1,
            StopsLevel,
            InvalidPrice,
            |s, p| { order_price(s, Buy, Stop, p, QUOTE) }
        ),
        case!(
            "sell stop price",
            bid,
            -1,
            StopsLevel,
            InvalidPrice,
            |s, p| { order_price(s, Sell, Stop, p, QUOTE) }
        ),
        case!(
            "buy stop-limit trigger",
            ask,
            1,
            StopsLevel,
            InvalidPrice,
            |s, p| { order_price(s, Buy, StopLimit, p, QUOTE) }
        ),
        case!(
            "sell stop-limit trigger",
            bid,
            -1,
            StopsLevel,
            InvalidPrice,
            |s, p| { order_price(s, Sell, StopLimit, p, QUOTE) }
        ),
        case!(
            "buy stop-limit limit",
            TRIGGER,
            -1,
            StopsLevel,
            InvalidPrice,
            |s, p| { stop_limit_price(s, Buy, TRIGGER, p) }
        ),
        case!(
            "sell stop-limit limit",
            TRIGGER,
            1,
            StopsLevel,
            InvalidPrice,
            |s, p| { stop_limit_price(s, Sell, TRIGGER, p) }
        ),
        // Freeze level: a position's current SL/TP against its closing price.
        case!(
            "buy position SL frozen",
            bid,
            -1,
            FreezeLevel,
            Frozen,
            |s, p| { position_freeze(s, Buy, QUOTE, Some(p), None) }
        ),
        case!(
            "buy position TP frozen",
            bid,
            1,
            FreezeLevel,
            Frozen,
            |s, p| { position_freeze(s, Buy, QUOTE, None, Some(p)) }
        ),
        case!(
            "sell position SL frozen",
            ask,
            1,
            FreezeLevel,
            Frozen,
            |s, p| { position_freeze(s, Sell, QUOTE, Some(p), None) }
        ),
        case!(
            "sell position TP frozen",
            ask,
            -1,
            FreezeLevel,
            Frozen,
            |s, p| { position_freeze(s, Sell, QUOTE, None, Some(p)) }
        ),
        // Freeze level: a pending order's price against the market.
        case!("buy limit frozen", ask, -1, FreezeLevel, Frozen, |s, p| {
            order_freeze(s, Buy, Limit, p, QUOTE)
        }),
        case!("sell limit frozen", bid, 1, FreezeLevel, Frozen, |s, p| {
            order_freeze(s, Sell, Limit, p, QUOTE)
        }),
        case!("buy stop frozen", ask, 1, FreezeLevel, Frozen, |s, p| {
            order_freeze(s, Buy, Stop, p, QUOTE)
        }),
        case!("sell stop frozen", bid, -1, FreezeLevel, Frozen, |s, p| {
            order_freeze(s, Sell, Stop, p, QUOTE)
        }),
        case!(
            "buy stop-limit frozen",
            ask,
            1,
            FreezeLevel,
            Frozen,
            |s, p| { order_freeze(s, Buy, StopLimit, p, QUOTE) }
        ),
        case!(
            "sell stop-limit frozen",
            bid,
            -1,
            FreezeLevel,
            Frozen,
            |s, p| { order_freeze(s, Sell, StopLimit, p, QUOTE) }
        ),
    ]
}

/// Points from the reference (positive: on the side where the price belongs) and whether the
/// book allows it. Stops level: `distance >= level` (and positive). Freeze level: allowed only
/// when `distance > level`, so exactly at the level is frozen.
const STOPS_TABLE: [(i64, bool); 6] = [
    (STOPS as i64 - 1, false),
    (STOPS as i64, true),
    (STOPS as i64 + 1, true),
    (0, false),
    (-1, false),
    (-(STOPS as i64), false),
];
const FREEZE_TABLE: [(i64, bool); 5] = [
    (FREEZE as i64 - 1, false),
    (FREEZE as i64, false),
    (FREEZE as i64 + 1, true),
    (0, false),
    (-(FREEZE as i64), false),
];

#[test]
fn every_rule_holds_one_point_either_side_of_its_level() {
    let spec = spec();
    let mut checked = 0;
    for case in cases() {
        let table: &[(i64, bool)] = match case.rule {
            DistanceRule::StopsLevel => &STOPS_TABLE,
            DistanceRule::FreezeLevel => &FREEZE_TABLE,
        };
        for &(points, allowed) in table {
            let price = case.reference + spec.point * Decimal::from(points * case.belongs);
            let got = (case.check)(&spec, price);
            match (&got, allowed) {
                (Ok(()), true) => {}
                (Err(e), false) => {
                    assert_eq!(
                        e.retcode(),
                        case.refused,
                        "{}: {points} points: {e}",
                        case.name
                    );
                    let RuleViolation::TooClose { rule, .. } = e else {
                        panic!("{}: {e:?}", case.name);
                    };
                    assert_eq!(*rule, case.rule, "{}", case.name);
                }
                _ => panic!(
                    "{} at {points} points ({price}): expected {}, got {got:?}",
                    case.name,
                    if allowed { "allowed" } else { "refused" }
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 16 * STOPS_TABLE.len() + 10 * FREEZE_TABLE.len());
}

#[test]
fn a_zero_stops_level_still_wants_the_right_side_and_a_zero_freeze_level_freezes_nothing() {
    let mut s = spec();
    s.stops_level = 0;
    s.freeze_level = 0;
    let at_bid = Some(QUOTE.bid);
    let one_under = Some(QUOTE.bid - s.point);
    assert!(position_stops(&s, Side::Buy, QUOTE, at_bid, None).is_err());
    assert!(position_stops(&s, Side::Buy, QUOTE, one_under, None).is_ok());
    assert!(position_freeze(&s, Side::Buy, QUOTE, at_bid, None).is_ok());
    assert!(order_freeze(&s, Side::Buy, OrderKind::Limit, QUOTE.ask, QUOTE).is_ok());
}

#[test]
fn trade_modes_refuse_with_mt5s_codes() {
    use TradeAction::{Manage, Open};
    let cases = [
        (TradeMode::Full, Open(Side::Buy), None),
        (TradeMode::Full, Manage, None),
        (
            TradeMode::Disabled,
            Open(Side::Buy),
            Some(Retcode::TradeDisabled),
        ),
        (TradeMode::Disabled, Manage, Some(Retcode::TradeDisabled)),
        (
            TradeMode::CloseOnly,
            Open(Side::Sell),
            Some(Retcode::CloseOnly),
        ),
        (TradeMode::CloseOnly, Manage, None),
        (
            TradeMode::LongOnly,
            Open(Side::Sell),
            Some(Retcode::LongOnly),
        ),
        (TradeMode::LongOnly, Open(Side::Buy), None),
        (TradeMode::LongOnly, Manage, None),
        (
            TradeMode::ShortOnly,
            Open(Side::Buy),
            Some(Retcode::ShortOnly),
        ),
        (TradeMode::ShortOnly, Open(Side::Sell), None),
    ];
    for (mode, action, want) in cases {
        let mut s = spec();
        s.trade_mode = mode;
        let got = trade_mode(&s, action).err().map(|e| e.retcode());
        assert_eq!(got, want, "{mode:?} {action:?}");
    }
}

#[test]
fn a_refusal_names_the_symbol_the_price_and_the_level() {
    let err = position_stops(&spec(), Side::Buy, QUOTE, Some(dec!(1.07995)), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "EURUSD: stop loss 1.07995 is 5 points from the bid 1.08000; the symbol's stops level is 10 points"
    );
    let err = position_freeze(&spec(), Side::Sell, QUOTE, None, Some(dec!(1.08100))).unwrap_err();
    assert!(
        err.to_string().contains("must be on the other side")
            && err.to_string().contains("freeze level is 5 points"),
        "{err}"
    );
}

/// The signed distance is the product by the side's sign, in value and in representation (the
/// scale and the sign bit: a message prints it), zeros of any scale included.
#[test]
fn distance_is_the_product_by_the_sides_sign() {
    let values = [
        "0",
        "0.00000",
        "-0.000",
        "0.00001",
        "-0.00001",
        "1.23450",
        "-1.2345",
        "79228162514264.337593543950335",
        "-0.0000000000000000000000000001",
        "12345678901234567890.12345678",
    ];
    for reference in values {
        for level in values {
            let (r, l): (Decimal, Decimal) = (reference.parse().unwrap(), level.parse().unwrap());
            for kind in [StopKind::StopLoss, StopKind::TakeProfit] {
                for side in [Side::Buy, Side::Sell] {
                    let below = match kind {
                        StopKind::StopLoss => r - l,
                        StopKind::TakeProfit => l - r,
                    };
                    let product = below * Decimal::from(side.sign());
                    let got = kind.distance(side, r, l);
                    assert_eq!(
                        got.serialize(),
                        product.serialize(),
                        "{kind} {side:?} {r} {l}"
                    );
                }
            }
        }
    }
}
