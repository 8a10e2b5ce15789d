//! SL and TP inside a bar: the intrabar path, the stop-first option, and gaps.

mod testkit;

use mtq_core::{DealReason, OrderRequest, Side};
use mtq_sim::{IntrabarPath, SimConfig};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use testkit::*;

fn buy_with(s: &mut mtq_sim::Simulator, sl: Decimal, tp: Decimal) {
    let req = OrderRequest {
        sl: Some(sl),
        tp: Some(tp),
        ..market("EURUSD", Side::Buy, dec!(1))
    };
    s.send_order(&req).unwrap();
}

fn last_exit(s: &mtq_sim::Simulator) -> (DealReason, Decimal) {
    let d = s.deals().last().unwrap();
    (d.reason, d.price)
}

#[test]
fn stop_loss_wins_when_the_low_is_nearer_the_open_and_both_are_hit() {
    let (mut s, id) = eurusd();
    buy_with(&mut s, dec!(1.0980), dec!(1.1030));
    // Open 1.1000 is 10 pips from the low and 40 from the high: low first.
    s.on_bar(id, &bar(minute(1), 1.1000, 1.1040, 1.0990 - 0.0015, 1.1020));
    assert_eq!(last_exit(&s), (DealReason::StopLoss, dec!(1.098)));
}

#[test]
fn take_profit_wins_when_the_high_is_nearer_the_open() {
    let (mut s, id) = eurusd();
    buy_with(&mut s, dec!(1.0980), dec!(1.1030));
    s.on_bar(id, &bar(minute(1), 1.1025, 1.1035, 1.0970, 1.1000));
    assert_eq!(last_exit(&s), (DealReason::TakeProfit, dec!(1.103)));
}

#[test]
fn stop_first_option_assumes_the_worst_when_both_are_inside_the_bar() {
    let cfg = SimConfig {
        intrabar: IntrabarPath::StopFirst,
        ..SimConfig::default()
    };
    let mut s = sim_with(cfg, &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &flat_bar(minute(0), 1.1));
    buy_with(&mut s, dec!(1.0980), dec!(1.1030));
    s.on_bar(id, &bar(minute(1), 1.1025, 1.1035, 1.0970, 1.1000));
    assert_eq!(last_exit(&s), (DealReason::StopLoss, dec!(1.098)));
}

#[test]
fn a_gap_through_the_stop_fills_at_the_open_not_the_stop() {
    let (mut s, id) = eurusd();
    buy_with(&mut s, dec!(1.0980), dec!(1.1030));
    s.on_bar(id, &bar(minute(1), 1.0950, 1.0960, 1.0940, 1.0955));
    assert_eq!(last_exit(&s), (DealReason::StopLoss, dec!(1.095)));
    // 1 lot bought at the ask 1.10010, out at 1.09500: -51 pips = -510 USD.
    assert_eq!(s.balance(), dec!(9490));
}

#[test]
fn sell_stops_trigger_on_the_ask_which_is_bid_plus_spread() {
    let (mut s, id) = eurusd();
    let req = OrderRequest {
        sl: Some(dec!(1.1020)),
        ..market("EURUSD", Side::Sell, dec!(1))
    };
    s.send_order(&req).unwrap();
    // Bid high 1.10195: ask high 1.10205 reaches the stop although the bid never did.
    s.on_bar(id, &bar(minute(1), 1.1000, 1.10195, 1.0995, 1.1000));
    assert_eq!(last_exit(&s), (DealReason::StopLoss, dec!(1.102)));
}

#[test]
fn a_bar_that_reaches_neither_level_leaves_the_position_open() {
    let (mut s, id) = eurusd();
    buy_with(&mut s, dec!(1.0980), dec!(1.1030));
    s.on_bar(id, &bar(minute(1), 1.1000, 1.1029, 1.0981, 1.1010));
    assert_eq!(s.open_position_count(), 1);
}

#[test]
fn ticks_trigger_stops_at_the_tick_price() {
    let (mut s, id) = eurusd();
    buy_with(&mut s, dec!(1.0980), dec!(1.1030));
    let tick = mtq_core::Tick {
        time: minute(1),
        bid: 1.0978,
        ask: 1.0979,
        last: 0.0,
        volume: 0,
    };
    s.on_tick(id, &tick);
    assert_eq!(last_exit(&s), (DealReason::StopLoss, dec!(1.0978)));
}

#[test]
fn a_position_opened_inside_a_bar_only_sees_the_rest_of_that_bar() {
    let (mut s, id) = eurusd();
    // Buy stop at 1.1030 with SL 1.1000: the bar goes down to 1.0990 first, then up to 1.1040.
    let mut req = pending(
        "EURUSD",
        Side::Buy,
        mtq_core::OrderKind::Stop,
        dec!(1),
        dec!(1.1030),
    );
    req.sl = Some(dec!(1.1000));
    s.send_order(&req).unwrap();
    s.on_bar(id, &bar(minute(1), 1.1000, 1.1040, 1.0990, 1.1035));
    // The low came before the fill, so the new position's stop was not hit.
    assert_eq!(s.open_position_count(), 1);
}
