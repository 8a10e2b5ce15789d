//! Requests an MT5 server would refuse are refused with its return codes.

mod testkit;

use mtq_core::{ExecutionMode, FillPolicy, OrderKind, OrderRequest, Side, SymbolSpec, TradeMode};
use mtq_sim::{MarketHours, SimConfig, Simulator, WeeklyCalendar};
use rust_decimal_macros::dec;
use testkit::*;

fn sim_spec(cfg: SimConfig, edit: impl FnOnce(&mut SymbolSpec)) -> Simulator {
    let mut spec = mtq_core::testkit::eurusd();
    edit(&mut spec);
    let mut s = Simulator::new(cfg, [spec]).unwrap();
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &flat_bar(minute(0), 1.1));
    s
}

#[test]
fn volumes_outside_min_max_or_off_step_get_10014() {
    let (mut s, _) = eurusd();
    for v in [dec!(0.001), dec!(0.015), dec!(100.01), dec!(0), dec!(-1)] {
        assert_eq!(
            retcode(s.send_order(&market("EURUSD", Side::Buy, v)).unwrap_err()),
            10014,
            "{v}"
        );
    }
}

#[test]
fn stops_inside_the_stops_level_or_on_the_wrong_side_get_10016() {
    let mut s = sim_spec(SimConfig::default(), |sp| sp.stops_level = 50);
    let too_close = OrderRequest {
        sl: Some(dec!(1.0996)),
        ..market("EURUSD", Side::Buy, dec!(0.1))
    };
    assert_eq!(retcode(s.send_order(&too_close).unwrap_err()), 10016);
    let wrong_side = OrderRequest {
        tp: Some(dec!(1.09)),
        ..market("EURUSD", Side::Buy, dec!(0.1))
    };
    assert_eq!(retcode(s.send_order(&wrong_side).unwrap_err()), 10016);
    let off_grid = OrderRequest {
        sl: Some(dec!(1.090001)),
        ..market("EURUSD", Side::Buy, dec!(0.1))
    };
    assert_eq!(retcode(s.send_order(&off_grid).unwrap_err()), 10016);
    let ok = OrderRequest {
        sl: Some(dec!(1.0995)),
        tp: Some(dec!(1.1005)),
        ..market("EURUSD", Side::Buy, dec!(0.1))
    };
    assert!(
        s.send_order(&ok).is_ok(),
        "exactly the stops level away is allowed"
    );
}

#[test]
fn not_enough_free_margin_gets_10019() {
    let (mut s, _) = eurusd();
    // 10,000 USD at 1:100 carries about 9 lots.
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Buy, dec!(9.5)))
                .unwrap_err()
        ),
        10019
    );
    assert!(s.send_order(&market("EURUSD", Side::Buy, dec!(8))).is_ok());
}

#[test]
fn orders_outside_the_weekly_calendar_get_10018() {
    let cfg = SimConfig {
        market_hours: MarketHours::Weekly(WeeklyCalendar::forex()),
        ..SimConfig::default()
    };
    let mut s = sim_with(cfg, &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &flat_bar(minute(0), 1.1)); // Monday
    assert!(
        s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
            .is_ok()
    );
    s.set_time("2024-03-09T10:00:00Z".parse().unwrap()); // Saturday
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
                .unwrap_err()
        ),
        10018
    );
}

#[test]
fn a_symbol_without_quotes_gets_10021() {
    let mut s = sim_with(SimConfig::default(), &["EURUSD"]);
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
                .unwrap_err()
        ),
        10021
    );
}

#[test]
fn a_filling_mode_the_symbol_does_not_allow_gets_10030() {
    let mut s = sim_spec(SimConfig::default(), |sp| {
        sp.filling = mtq_core::FillingFlags(mtq_core::FillingFlags::IOC);
    });
    let fok = market("EURUSD", Side::Buy, dec!(0.1));
    assert_eq!(retcode(s.send_order(&fok).unwrap_err()), 10030);
    let ret = OrderRequest {
        filling: FillPolicy::Return,
        ..fok.clone()
    };
    assert_eq!(
        retcode(s.send_order(&ret).unwrap_err()),
        10030,
        "RETURN is not allowed under market execution"
    );
    assert!(
        s.send_order(&OrderRequest {
            filling: FillPolicy::Ioc,
            ..fok
        })
        .is_ok()
    );
}

#[test]
fn modifying_inside_the_freeze_level_gets_10029() {
    let mut s = sim_spec(SimConfig::default(), |sp| sp.freeze_level = 20);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    let req = OrderRequest {
        sl: Some(dec!(1.0990)),
        ..market("EURUSD", Side::Buy, dec!(0.1))
    };
    let t = s.send_order(&req).unwrap().position.unwrap();
    assert!(s.modify_position(t, Some(dec!(1.0985)), None).is_ok());
    s.on_bar(id, &flat_bar(minute(1), 1.0986)); // bid 10 points above the stop, inside the 20-point freeze level
    assert_eq!(
        retcode(s.modify_position(t, Some(dec!(1.0980)), None).unwrap_err()),
        10029
    );
}

#[test]
fn cancelling_a_pending_order_within_the_freeze_level_gets_10029() {
    let mut s = sim_spec(SimConfig::default(), |sp| sp.freeze_level = 20);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    let o = s
        .send_order(&pending(
            "EURUSD",
            Side::Sell,
            OrderKind::Stop,
            dec!(0.1),
            dec!(1.0990),
        ))
        .unwrap()
        .order
        .unwrap();
    s.on_bar(id, &flat_bar(minute(1), 1.0991));
    assert_eq!(retcode(s.cancel_order(o).unwrap_err()), 10029);
    s.on_bar(id, &flat_bar(minute(2), 1.1));
    assert!(s.cancel_order(o).is_ok());
    assert_eq!(s.pending_order_count(), 0);
}

#[test]
fn unchanged_stops_get_10025_and_unknown_positions_10036() {
    let (mut s, _) = eurusd();
    let t = s
        .send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
        .unwrap()
        .position
        .unwrap();
    assert_eq!(
        retcode(s.modify_position(t, None, None).unwrap_err()),
        10025
    );
    assert_eq!(
        retcode(
            s.modify_position(mtq_core::Ticket(999), Some(dec!(1.09)), None)
                .unwrap_err()
        ),
        10036
    );
    assert_eq!(
        retcode(s.close_position(mtq_core::Ticket(999), None).unwrap_err()),
        10036
    );
}

#[test]
fn closing_more_than_the_position_gets_10038() {
    let (mut s, _) = eurusd();
    let t = s
        .send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
        .unwrap()
        .position
        .unwrap();
    assert_eq!(
        retcode(s.close_position(t, Some(dec!(0.2))).unwrap_err()),
        10038
    );
    assert_eq!(
        retcode(s.close_position(t, Some(dec!(0.015))).unwrap_err()),
        10014
    );
}

#[test]
fn pending_prices_on_the_wrong_side_get_10015_and_past_expirations_10022() {
    let (mut s, _) = eurusd();
    let above = pending(
        "EURUSD",
        Side::Buy,
        OrderKind::Limit,
        dec!(0.1),
        dec!(1.1010),
    );
    assert_eq!(retcode(s.send_order(&above).unwrap_err()), 10015);
    let below = pending(
        "EURUSD",
        Side::Buy,
        OrderKind::Stop,
        dec!(0.1),
        dec!(1.0990),
    );
    assert_eq!(retcode(s.send_order(&below).unwrap_err()), 10015);
    let off_grid = pending(
        "EURUSD",
        Side::Buy,
        OrderKind::Limit,
        dec!(0.1),
        dec!(1.090001),
    );
    assert_eq!(retcode(s.send_order(&off_grid).unwrap_err()), 10015);
    let mut expired = pending("EURUSD", Side::Buy, OrderKind::Limit, dec!(0.1), dec!(1.09));
    expired.expiration = Some(minute(0));
    assert_eq!(retcode(s.send_order(&expired).unwrap_err()), 10022);
    let mut no_limit = pending(
        "EURUSD",
        Side::Buy,
        OrderKind::StopLimit,
        dec!(0.1),
        dec!(1.1050),
    );
    assert_eq!(retcode(s.send_order(&no_limit).unwrap_err()), 10015);
    no_limit.stop_limit = Some(dec!(1.1060));
    assert_eq!(
        retcode(s.send_order(&no_limit).unwrap_err()),
        10015,
        "a buy stop-limit's limit sits below its trigger"
    );
}

#[test]
fn trade_modes_and_autotrading_switches_refuse_with_their_codes() {
    let mut s = sim_spec(SimConfig::default(), |sp| {
        sp.trade_mode = TradeMode::LongOnly;
    });
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Sell, dec!(0.1)))
                .unwrap_err()
        ),
        10042
    );
    let mut s = sim_spec(SimConfig::default(), |sp| {
        sp.trade_mode = TradeMode::ShortOnly;
    });
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
                .unwrap_err()
        ),
        10043
    );
    let mut s = sim_spec(SimConfig::default(), |sp| {
        sp.trade_mode = TradeMode::CloseOnly;
    });
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
                .unwrap_err()
        ),
        10044
    );
    let mut s = sim_spec(SimConfig::default(), |sp| {
        sp.trade_mode = TradeMode::Disabled;
    });
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
                .unwrap_err()
        ),
        10017
    );
    let mut s = sim_spec(
        SimConfig {
            client_autotrading: false,
            ..SimConfig::default()
        },
        |_| {},
    );
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
                .unwrap_err()
        ),
        10027
    );
    let mut s = sim_spec(
        SimConfig {
            server_autotrading: false,
            ..SimConfig::default()
        },
        |_| {},
    );
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
                .unwrap_err()
        ),
        10026
    );
}

#[test]
fn account_limits_on_positions_and_pending_orders_get_10040_and_10033() {
    let mut s = sim_spec(
        SimConfig {
            max_positions: 1,
            max_pending_orders: 1,
            ..SimConfig::default()
        },
        |_| {},
    );
    s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
        .unwrap();
    assert_eq!(
        retcode(
            s.send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
                .unwrap_err()
        ),
        10040
    );
    s.send_order(&pending(
        "EURUSD",
        Side::Buy,
        OrderKind::Limit,
        dec!(0.1),
        dec!(1.09),
    ))
    .unwrap();
    let second = pending("EURUSD", Side::Buy, OrderKind::Limit, dec!(0.1), dec!(1.08));
    assert_eq!(retcode(s.send_order(&second).unwrap_err()), 10033);
}

#[test]
fn instant_execution_requotes_beyond_the_deviation() {
    let mut s = sim_spec(SimConfig::default(), |sp| {
        sp.execution = ExecutionMode::Instant;
    });
    let stale = OrderRequest {
        price: Some(dec!(1.0990)),
        deviation: 5,
        ..market("EURUSD", Side::Buy, dec!(0.1))
    };
    assert_eq!(retcode(s.send_order(&stale).unwrap_err()), 10004);
    let fresh = OrderRequest {
        price: Some(dec!(1.1001)),
        ..stale
    };
    assert!(s.send_order(&fresh).is_ok());
}

#[test]
fn an_unknown_symbol_is_named_in_the_error() {
    let (mut s, _) = eurusd();
    let err = s
        .send_order(&market("GBPUSD", Side::Buy, dec!(0.1)))
        .unwrap_err();
    assert!(err.to_string().contains("GBPUSD"), "{err}");
}

#[test]
fn a_stop_limits_limit_keeps_the_stops_level_from_its_trigger() {
    // When the trigger is reached a limit order is placed at the limit price, so it must keep
    // the stops level from the trigger as any limit order keeps it from the market (MetaQuotes,
    // "Requirements and Limitations in Making Trades").
    let mut s = sim_spec(SimConfig::default(), |sp| sp.stops_level = 20);
    let order = |side, trigger, limit| OrderRequest {
        stop_limit: Some(limit),
        ..pending("EURUSD", side, OrderKind::StopLimit, dec!(0.1), trigger)
    };
    // Bid 1.1000, ask 1.1001.
    for (side, trigger, limit, want) in [
        (Side::Buy, dec!(1.1050), dec!(1.1050), Some(10015)),
        (Side::Buy, dec!(1.1050), dec!(1.10481), Some(10015)),
        (Side::Buy, dec!(1.1050), dec!(1.10480), None),
        (Side::Sell, dec!(1.0950), dec!(1.0950), Some(10015)),
        (Side::Sell, dec!(1.0950), dec!(1.09519), Some(10015)),
        (Side::Sell, dec!(1.0950), dec!(1.09520), None),
    ] {
        let got = s
            .send_order(&order(side, trigger, limit))
            .err()
            .map(retcode);
        assert_eq!(got, want, "{side:?} trigger {trigger} limit {limit}");
    }
    // With no stops level the limit still cannot sit on the trigger itself.
    let mut s = sim_spec(SimConfig::default(), |_| {});
    let at_trigger = order(Side::Buy, dec!(1.1050), dec!(1.1050));
    assert_eq!(retcode(s.send_order(&at_trigger).unwrap_err()), 10015);
}

#[test]
fn exactly_at_the_freeze_level_a_position_is_frozen_one_point_further_it_is_not() {
    let mut s = sim_spec(SimConfig::default(), |sp| sp.freeze_level = 20);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    let req = OrderRequest {
        sl: Some(dec!(1.0990)),
        ..market("EURUSD", Side::Buy, dec!(0.1))
    };
    let t = s.send_order(&req).unwrap().position.unwrap();
    s.on_bar(id, &flat_bar(minute(1), 1.0992)); // the bid exactly 20 points above the stop
    assert_eq!(
        retcode(s.modify_position(t, Some(dec!(1.0980)), None).unwrap_err()),
        10029
    );
    s.on_bar(id, &flat_bar(minute(2), 1.09921));
    assert!(s.modify_position(t, Some(dec!(1.0980)), None).is_ok());
}
