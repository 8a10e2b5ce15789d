//! Money: P&L conversion, commission, swap, margin, netting and stop-out.

mod testkit;

use mtq_core::{Currency, DealEntry, MarginMode, OrderRequest, Side, StaticRates};
use mtq_sim::{Commission, SimConfig, SimEvent, Simulator};
use rust_decimal_macros::dec;
use testkit::*;

#[test]
fn usdjpy_profit_is_booked_in_dollars_at_the_closing_rate() {
    let mut s = sim_with(
        SimConfig {
            default_spread_points: 0,
            ..SimConfig::default()
        },
        &["USDJPY"],
    );
    let id = s.symbol_id(&sym("USDJPY")).unwrap();
    let mut b = flat_bar(minute(0), 150.0);
    b.spread = 0;
    s.on_bar(id, &b);
    s.send_order(&market("USDJPY", Side::Buy, dec!(1))).unwrap();
    let mut b = flat_bar(minute(1), 151.5);
    b.spread = 0;
    s.on_bar(id, &b);
    let ticket = s.positions()[0].ticket;
    s.close_position(ticket, None).unwrap();
    // 1.5 JPY * 100,000 = 150,000 JPY / 151.5 = 990.10 USD.
    assert_eq!(s.balance(), dec!(10990.10));
}

#[test]
fn eurgbp_profit_is_converted_through_gbpusd() {
    let mut s = sim_with(
        SimConfig {
            default_spread_points: 0,
            ..SimConfig::default()
        },
        &["EURGBP", "GBPUSD"],
    );
    let (eg, gu) = (
        s.symbol_id(&sym("EURGBP")).unwrap(),
        s.symbol_id(&sym("GBPUSD")).unwrap(),
    );
    let mut b = flat_bar(minute(0), 1.25);
    b.spread = 0;
    s.on_bar(gu, &b);
    let mut e = flat_bar(minute(0), 0.85);
    e.spread = 0;
    s.on_bar(eg, &e);
    s.send_order(&market("EURGBP", Side::Sell, dec!(1)))
        .unwrap();
    let mut e = flat_bar(minute(1), 0.84);
    e.spread = 0;
    s.on_bar(eg, &e);
    let ticket = s.positions()[0].ticket;
    s.close_position(ticket, None).unwrap();
    // 0.01 GBP * 100,000 = 1,000 GBP = 1,250 USD.
    assert_eq!(s.balance(), dec!(11250));
}

#[test]
fn a_pair_without_a_conversion_route_is_refused_at_setup_with_advice() {
    let err = Simulator::new(SimConfig::default(), [spec("EURGBP")]).unwrap_err();
    assert!(err.to_string().contains("GBPUSD"), "{err}");
    let cfg = SimConfig {
        fallback_rates: StaticRates::new()
            .with(Currency::GBP, Currency::USD, dec!(1.25))
            .with(Currency::EUR, Currency::USD, dec!(1.08)),
        ..SimConfig::default()
    };
    assert!(Simulator::new(cfg, [spec("EURGBP")]).is_ok());
}

#[test]
fn commission_is_charged_on_entry_and_exit_deals() {
    let cfg = SimConfig {
        commission: Commission::PerLot(dec!(3.5)),
        ..SimConfig::default()
    };
    let mut s = sim_with(cfg, &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &flat_bar(minute(0), 1.1));
    s.send_order(&market("EURUSD", Side::Buy, dec!(2))).unwrap();
    assert_eq!(s.balance(), dec!(9993));
    let ticket = s.positions()[0].ticket;
    s.close_position(ticket, None).unwrap();
    // Spread cost 2 lots * 1 pip = 20, commission 2 * 3.5 * 2 = 14.
    assert_eq!(s.balance(), dec!(9966));
}

#[test]
fn swap_is_charged_each_weeknight_and_tripled_on_wednesday() {
    let mut s = sim_with(SimConfig::default(), &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &flat_bar(minute(0), 1.1)); // Monday 00:00
    s.send_order(&market("EURUSD", Side::Buy, dec!(1))).unwrap();
    // EURUSD built-in: swap_long -70 points: -0.0007 * 100,000 = -7 USD a night.
    let day = 24 * 60;
    s.on_bar(id, &flat_bar(minute(day), 1.1)); // Tuesday: Monday night
    assert_eq!(s.positions()[0].swap, dec!(-7));
    s.on_bar(id, &flat_bar(minute(3 * day), 1.1)); // Thursday: Tuesday and Wednesday (x3) nights
    assert_eq!(s.positions()[0].swap, dec!(-35));
    s.on_bar(id, &flat_bar(minute(7 * day), 1.1)); // next Monday: Thursday and Friday; weekend free
    assert_eq!(s.positions()[0].swap, dec!(-49));
    let ticket = s.positions()[0].ticket;
    s.close_position(ticket, None).unwrap();
    assert_eq!(s.deals().last().unwrap().swap, dec!(-49));
}

#[test]
fn rollover_follows_the_server_midnight_not_utc() {
    let cfg = SimConfig {
        server_utc_offset_secs: 2 * 3600,
        ..SimConfig::default()
    };
    let mut s = sim_with(cfg, &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &flat_bar(minute(12 * 60), 1.1)); // Monday 12:00 UTC
    s.send_order(&market("EURUSD", Side::Buy, dec!(1))).unwrap();
    s.on_bar(id, &flat_bar(minute(21 * 60 + 59), 1.1));
    assert_eq!(s.positions()[0].swap, dec!(0));
    s.on_bar(id, &flat_bar(minute(22 * 60), 1.1)); // 00:00 server time
    assert_eq!(s.positions()[0].swap, dec!(-7));
}

#[test]
fn margin_follows_leverage_and_contract_size() {
    let (mut s, _) = eurusd();
    s.send_order(&market("EURUSD", Side::Buy, dec!(1))).unwrap();
    let a = s.account();
    // 100,000 EUR at 1.10000 / 100.
    assert_eq!(a.margin, dec!(1100));
    assert_eq!(a.equity, dec!(9990));
    assert_eq!(a.free_margin, dec!(8890));
    assert_eq!(a.margin_level, Some(dec!(908.18)));
}

#[test]
fn stop_out_closes_the_biggest_loser_first() {
    let cfg = SimConfig {
        deposit: dec!(1000),
        leverage: 100,
        ..SimConfig::default()
    };
    let mut s = sim_with(cfg, &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &flat_bar(minute(0), 1.1));
    let small = s
        .send_order(&market("EURUSD", Side::Buy, dec!(0.2)))
        .unwrap()
        .position
        .unwrap();
    let big = s
        .send_order(&market("EURUSD", Side::Buy, dec!(0.6)))
        .unwrap()
        .position
        .unwrap();
    // Margin 880; equity must fall below 440: a 70-pip drop loses 0.8 * 700 = 560 (+8 spread).
    s.on_bar(id, &flat_bar(minute(1), 1.0930));
    let mut ev = Vec::new();
    s.drain_events(&mut ev);
    let stopped: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            SimEvent::StopOut { position, .. } => Some(*position),
            _ => None,
        })
        .collect();
    assert_eq!(stopped.first(), Some(&big));
    assert!(
        s.position(small).is_some(),
        "the smaller loser survives once the level recovers"
    );
    assert!(s.account().margin_level.unwrap() > dec!(50));
}

#[test]
fn netting_adds_reduces_and_reverses_one_position() {
    let cfg = SimConfig {
        margin_mode: MarginMode::Netting,
        default_spread_points: 0,
        ..SimConfig::default()
    };
    let mut s = sim_with(cfg, &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    let mut b = flat_bar(minute(0), 1.1);
    b.spread = 0;
    s.on_bar(id, &b);
    s.send_order(&market("EURUSD", Side::Buy, dec!(1))).unwrap();
    let mut b = flat_bar(minute(1), 1.2);
    b.spread = 0;
    s.on_bar(id, &b);
    s.send_order(&market("EURUSD", Side::Buy, dec!(1))).unwrap();
    let p = &s.positions()[0];
    assert_eq!(
        (s.open_position_count(), p.volume, p.open_price),
        (1, dec!(2), dec!(1.15))
    );
    s.send_order(&market("EURUSD", Side::Sell, dec!(0.5)))
        .unwrap();
    assert_eq!(s.positions()[0].volume, dec!(1.5));
    // Realised: 0.5 lot * 0.05 = 2,500.
    assert_eq!(s.balance(), dec!(12500));
    s.send_order(&market("EURUSD", Side::Sell, dec!(2)))
        .unwrap();
    let p = &s.positions()[0];
    assert_eq!(
        (p.side, p.volume, p.open_price),
        (Side::Sell, dec!(0.5), dec!(1.2))
    );
    assert_eq!(s.deals().last().unwrap().entry, DealEntry::InOut);
    assert_eq!(s.balance(), dec!(20000));
}

#[test]
fn partial_close_keeps_the_rest_open_with_its_ticket() {
    let (mut s, id) = eurusd();
    let t = s
        .send_order(&market("EURUSD", Side::Buy, dec!(1)))
        .unwrap()
        .position
        .unwrap();
    s.on_bar(id, &flat_bar(minute(1), 1.1011));
    s.close_position(t, Some(dec!(0.4))).unwrap();
    let p = s.position(t).unwrap();
    assert_eq!(p.volume, dec!(0.6));
    assert_eq!(s.balance(), dec!(10040));
    assert_eq!(s.account().margin, dec!(660));
}

#[test]
fn balance_equals_deposit_plus_every_deal() {
    let (mut s, id) = eurusd();
    for i in 0..20 {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let req = OrderRequest {
            sl: None,
            ..market("EURUSD", side, dec!(0.3))
        };
        s.send_order(&req).unwrap();
        s.on_bar(
            id,
            &flat_bar(
                minute(i + 1),
                1.1 + f64::from(u8::try_from(i).unwrap()) * 0.0003,
            ),
        );
    }
    for p in s.positions() {
        s.close_position(p.ticket, None).unwrap();
    }
    let sum: rust_decimal::Decimal = s.deals().iter().map(|d| d.balance_effect()).sum();
    assert_eq!(s.balance(), sum);
}
