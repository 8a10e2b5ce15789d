//! How orders fill: at bid/ask, with spread and slippage, pending orders and gaps.

mod testkit;

use mtq_core::{DealReason, OrderKind, Retcode, Side};
use mtq_sim::{SimConfig, SimEvent, Slippage};
use rust_decimal_macros::dec;
use testkit::*;

#[test]
fn market_buys_fill_at_the_ask_and_sells_at_the_bid() {
    let (mut s, _) = eurusd();
    let buy = s
        .send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
        .unwrap();
    assert_eq!(buy.retcode, Retcode::Done);
    assert_eq!(buy.price, dec!(1.1001));
    let sell = s
        .send_order(&market("EURUSD", Side::Sell, dec!(0.1)))
        .unwrap();
    assert_eq!(sell.price, dec!(1.1));
    assert_eq!(s.open_position_count(), 2, "hedging keeps both");
}

#[test]
fn the_configured_spread_applies_when_a_bar_has_none() {
    let cfg = SimConfig {
        default_spread_points: 25,
        ..SimConfig::default()
    };
    let mut s = sim_with(cfg, &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    let mut b = flat_bar(minute(0), 1.2);
    b.spread = 0;
    s.on_bar(id, &b);
    assert_eq!(
        s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
            .unwrap()
            .price,
        dec!(1.20025)
    );
}

#[test]
fn fixed_slippage_always_goes_against_the_trader_within_the_bar() {
    let cfg = SimConfig {
        slippage: Slippage::Fixed(3),
        ..SimConfig::default()
    };
    let mut s = sim_with(cfg, &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &bar(minute(0), 1.1, 1.1010, 1.0990, 1.1000));
    assert_eq!(
        s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
            .unwrap()
            .price,
        dec!(1.10013)
    );
    assert_eq!(
        s.send_order(&market("EURUSD", Side::Sell, dec!(0.1)))
            .unwrap()
            .price,
        dec!(1.09997)
    );
    // On a bar that closed at its low, a sell cannot slip below what traded.
    s.on_bar(id, &bar(minute(1), 1.1, 1.1010, 1.0990, 1.0990));
    assert_eq!(
        s.send_order(&market("EURUSD", Side::Sell, dec!(0.1)))
            .unwrap()
            .price,
        dec!(1.099)
    );
}

#[test]
fn random_slippage_is_bounded_and_the_same_seed_repeats_it() {
    let run = |seed| {
        let cfg = SimConfig {
            slippage: Slippage::Random {
                max_points: 5,
                seed,
            },
            ..SimConfig::default()
        };
        let mut s = sim_with(cfg, &["EURUSD"]);
        let id = s.symbol_id(&sym("EURUSD")).unwrap();
        s.on_bar(id, &bar(minute(0), 1.1, 1.11, 1.09, 1.1));
        (0..50)
            .map(|_| {
                s.send_order(&market("EURUSD", Side::Buy, dec!(0.01)))
                    .unwrap()
                    .price
            })
            .collect::<Vec<_>>()
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8));
    assert!(a.iter().all(|p| *p >= dec!(1.1001) && *p <= dec!(1.10015)));
}

#[test]
fn a_buy_limit_fills_at_its_price_when_the_ask_comes_down_to_it() {
    let (mut s, id) = eurusd();
    let placed = s
        .send_order(&pending(
            "EURUSD",
            Side::Buy,
            OrderKind::Limit,
            dec!(0.1),
            dec!(1.0980),
        ))
        .unwrap();
    assert_eq!(placed.retcode, Retcode::Placed);
    // Ask low = 1.0985 + 0.0001: not reached.
    s.on_bar(id, &bar(minute(1), 1.1, 1.1, 1.0985, 1.0990));
    assert_eq!(s.pending_order_count(), 1);
    // Ask low = 1.0970 + 0.0001: reached.
    s.on_bar(id, &bar(minute(2), 1.0990, 1.0995, 1.0970, 1.0975));
    let p = &s.positions()[0];
    assert_eq!(
        (p.side, p.open_price, p.ticket),
        (Side::Buy, dec!(1.098), placed.order.unwrap())
    );
}

#[test]
fn a_gap_through_a_stop_order_fills_at_the_gap_open() {
    let (mut s, id) = eurusd();
    s.send_order(&pending(
        "EURUSD",
        Side::Buy,
        OrderKind::Stop,
        dec!(0.1),
        dec!(1.1050),
    ))
    .unwrap();
    s.on_bar(id, &bar(minute(1), 1.1080, 1.1090, 1.1070, 1.1085));
    // Ask at the open = 1.1080 + 0.0001.
    assert_eq!(s.positions()[0].open_price, dec!(1.1081));
}

#[test]
fn a_gap_through_a_limit_fills_at_the_better_open_price() {
    let (mut s, id) = eurusd();
    s.send_order(&pending(
        "EURUSD",
        Side::Sell,
        OrderKind::Limit,
        dec!(0.1),
        dec!(1.1020),
    ))
    .unwrap();
    s.on_bar(id, &bar(minute(1), 1.1040, 1.1045, 1.1030, 1.1035));
    assert_eq!(s.positions()[0].open_price, dec!(1.104));
}

#[test]
fn a_sell_stop_limit_becomes_a_limit_at_the_trigger_and_fills_on_the_retrace() {
    let (mut s, id) = eurusd();
    let mut req = pending(
        "EURUSD",
        Side::Sell,
        OrderKind::StopLimit,
        dec!(0.1),
        dec!(1.0980),
    );
    req.stop_limit = Some(dec!(1.0990));
    let placed = s.send_order(&req).unwrap();
    // Falls to 1.0975 (trigger) and never comes back to 1.0990 in this bar.
    s.on_bar(id, &bar(minute(1), 1.0995, 1.0996, 1.0975, 1.0978));
    assert_eq!(s.open_position_count(), 0);
    let mut ev = Vec::new();
    s.drain_events(&mut ev);
    assert!(ev.contains(&SimEvent::OrderActivated {
        ticket: placed.order.unwrap()
    }));
    // Next bar rallies to 1.0995: the sell limit at 1.0990 fills.
    s.on_bar(id, &bar(minute(2), 1.0978, 1.0995, 1.0977, 1.0990));
    assert_eq!(s.positions()[0].open_price, dec!(1.099));
    assert_eq!(s.pending_order_count(), 0);
}

#[test]
fn stop_limit_can_trigger_and_fill_inside_one_bar() {
    let (mut s, id) = eurusd();
    let mut req = pending(
        "EURUSD",
        Side::Buy,
        OrderKind::StopLimit,
        dec!(0.1),
        dec!(1.1030),
    );
    req.stop_limit = Some(dec!(1.1020));
    s.send_order(&req).unwrap();
    // open 1.1000 -> low 1.0998 -> high 1.1040 (trigger) -> close 1.1010 (ask 1.1011 <= 1.1020).
    s.on_bar(id, &bar(minute(1), 1.1000, 1.1040, 1.0998, 1.1010));
    assert_eq!(s.positions()[0].open_price, dec!(1.102));
}

#[test]
fn pending_orders_expire_at_their_expiration() {
    let (mut s, id) = eurusd();
    let mut req = pending("EURUSD", Side::Buy, OrderKind::Limit, dec!(0.1), dec!(1.09));
    req.expiration = Some(minute(5));
    let placed = s.send_order(&req).unwrap();
    s.on_bar(id, &flat_bar(minute(4), 1.1));
    assert_eq!(s.pending_order_count(), 1);
    s.on_bar(id, &flat_bar(minute(5), 1.1));
    assert_eq!(s.pending_order_count(), 0);
    let mut ev = Vec::new();
    s.drain_events(&mut ev);
    assert!(ev.contains(&SimEvent::OrderExpired {
        ticket: placed.order.unwrap()
    }));
}

#[test]
fn orders_sent_between_begin_and_finish_fill_at_the_bar_open() {
    let (mut s, id) = eurusd();
    s.begin_bar(id, &bar(minute(1), 1.1020, 1.1030, 1.1010, 1.1025));
    let o = s
        .send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
        .unwrap();
    s.finish_bar(id);
    assert_eq!(o.price, dec!(1.1021));
    assert!((s.tick(id).unwrap().bid - 1.1025).abs() < 1e-12);
}

#[test]
fn triggered_pending_deals_say_why() {
    let (mut s, id) = eurusd();
    s.send_order(&pending(
        "EURUSD",
        Side::Buy,
        OrderKind::Stop,
        dec!(0.1),
        dec!(1.1005),
    ))
    .unwrap();
    s.on_bar(id, &bar(minute(1), 1.1, 1.101, 1.0995, 1.1008));
    let d = s.deals().last().unwrap();
    assert_eq!(d.reason, DealReason::PendingTriggered);
}
