use rust_decimal_macros::dec;

use super::*;
use crate::testkit::*;

fn cfg() -> ManagementConfig {
    ManagementConfig {
        enable_breakeven: true,
        enable_trailing_stop: true,
        enable_partial_close: true,
        ..ManagementConfig::default()
    }
}

fn buy_at(price: Decimal, sl: Option<Decimal>) -> Position {
    let mut p = position(1, "EURUSD", Side::Buy, dec!(1), dec!(1.10000), sl);
    p.current_price = price;
    p
}

fn sell_at(price: Decimal, sl: Option<Decimal>) -> Position {
    let mut p = position(2, "EURUSD", Side::Sell, dec!(1), dec!(1.10000), sl);
    p.current_price = price;
    p
}

fn new_sl(a: Option<PositionAction>) -> Option<Decimal> {
    match a? {
        PositionAction::ModifyStops { sl, .. } => Some(sl),
        _ => None,
    }
}

#[test]
fn breakeven_moves_the_stop_to_entry_plus_offset_after_the_trigger() {
    let eu = spec("EURUSD");
    let c = cfg();
    assert_eq!(
        breakeven(&buy_at(dec!(1.10190), Some(dec!(1.098))), &eu, &c),
        None
    );
    let a = breakeven(&buy_at(dec!(1.10200), Some(dec!(1.098))), &eu, &c);
    assert_eq!(new_sl(a), Some(dec!(1.10020)));
    let a = breakeven(&sell_at(dec!(1.09800), Some(dec!(1.102))), &eu, &c);
    assert_eq!(new_sl(a), Some(dec!(1.09980)));
    // Already at or past breakeven: nothing to do.
    assert_eq!(
        breakeven(&buy_at(dec!(1.10300), Some(dec!(1.1003))), &eu, &c),
        None
    );
}

#[test]
fn breakeven_waits_while_the_stops_level_forbids_it() {
    let mut eu = spec("EURUSD");
    eu.stops_level = 200; // 20 pips
    let c = cfg();
    assert_eq!(
        breakeven(&buy_at(dec!(1.10200), Some(dec!(1.098))), &eu, &c),
        None
    );
    assert!(breakeven(&buy_at(dec!(1.10230), Some(dec!(1.098))), &eu, &c).is_some());
}

#[test]
fn the_trailing_stop_follows_the_price_and_never_loosens() {
    let eu = spec("EURUSD");
    let c = cfg();
    // Below the 25-pip activation: nothing.
    assert_eq!(
        trailing_stop(&buy_at(dec!(1.10240), Some(dec!(1.098))), &eu, &c),
        None
    );
    let a = trailing_stop(&buy_at(dec!(1.10300), Some(dec!(1.098))), &eu, &c);
    assert_eq!(new_sl(a), Some(dec!(1.10150)));
    // The price falls back: the stop stays where it is.
    assert_eq!(
        trailing_stop(&buy_at(dec!(1.10280), Some(dec!(1.1015))), &eu, &c),
        None
    );
    // Less than one step of improvement: no modification.
    assert_eq!(
        trailing_stop(&buy_at(dec!(1.10305), Some(dec!(1.1015))), &eu, &c),
        None
    );
    let a = trailing_stop(&sell_at(dec!(1.09700), Some(dec!(1.102))), &eu, &c);
    assert_eq!(new_sl(a), Some(dec!(1.09850)));
}

#[test]
fn the_trailing_stop_is_pulled_back_to_what_the_stops_level_allows() {
    let mut eu = spec("EURUSD");
    eu.stops_level = 200;
    let a = trailing_stop(&buy_at(dec!(1.10300), Some(dec!(1.098))), &eu, &cfg());
    assert_eq!(new_sl(a), Some(dec!(1.10099)));
}

#[test]
fn nothing_is_modified_or_closed_inside_the_freeze_level() {
    let mut eu = spec("EURUSD");
    eu.freeze_level = 50;
    let mut p = buy_at(dec!(1.10300), Some(dec!(1.098)));
    p.tp = Some(dec!(1.10320));
    let c = ManagementConfig {
        max_holding_minutes: Some(1),
        ..cfg()
    };
    assert!(manage_position(&p, &eu, &c, t("2024-03-05T00:00:00Z"), false).is_empty());
    p.tp = Some(dec!(1.1100));
    assert!(!manage_position(&p, &eu, &c, t("2024-03-05T00:00:00Z"), false).is_empty());
}

#[test]
fn a_partial_close_happens_once_and_leaves_at_least_the_minimum_volume() {
    let eu = spec("EURUSD");
    let c = cfg();
    let p = buy_at(dec!(1.10300), Some(dec!(1.098)));
    let a = partial_close(&p, &eu, &c, false).unwrap();
    assert!(matches!(a, PositionAction::ClosePartial { volume, .. } if volume == dec!(0.5)));
    assert_eq!(partial_close(&p, &eu, &c, true), None);
    let mut small = p;
    small.volume = dec!(0.03);
    let a = partial_close(&small, &eu, &c, false).unwrap();
    assert!(matches!(a, PositionAction::ClosePartial { volume, .. } if volume == dec!(0.01)));
    small.volume = dec!(0.01);
    assert_eq!(partial_close(&small, &eu, &c, false), None);
}

#[test]
fn a_position_held_past_the_maximum_time_is_closed() {
    let eu = spec("EURUSD");
    let c = ManagementConfig {
        max_holding_minutes: Some(240),
        ..cfg()
    };
    let p = buy_at(dec!(1.10300), Some(dec!(1.098)));
    // Opened 08:00; four hours later it is due.
    assert_eq!(
        max_holding_time(&p, &eu, &c, t("2024-03-04T11:59:00Z")),
        None
    );
    let acts = manage_position(&p, &eu, &c, t("2024-03-04T12:00:00Z"), false);
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0].reason(), ActionReason::MaxHoldingTime);
}

#[test]
fn manage_position_takes_the_tighter_stop_move_and_the_partial_close() {
    let eu = spec("EURUSD");
    let p = buy_at(dec!(1.10400), Some(dec!(1.098)));
    let acts = manage_position(&p, &eu, &cfg(), t("2024-03-04T09:00:00Z"), false);
    assert_eq!(acts.len(), 2);
    // Trailing (1.10250) beats breakeven (1.10020).
    assert_eq!(acts[0].reason(), ActionReason::TrailingStop);
    assert_eq!(new_sl(Some(acts[0].clone())), Some(dec!(1.1025)));
    assert_eq!(acts[1].reason(), ActionReason::PartialClose);
}
