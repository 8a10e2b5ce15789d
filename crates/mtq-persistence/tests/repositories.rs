//! The repository suite: every scenario runs on SQLite, and on PostgreSQL when
//! `MTQ_TEST_DATABASE_URL` is set (each test in its own schema).

mod common;

use chrono::{Duration, NaiveDate};
use common::fixtures::*;
use common::{TestDb, demo_account, t};
use diesel::QueryableByName;
use diesel::RunQueryDsl;
use mtq_core::{Refusal, Retcode, SignalRefusal, Symbol, Ticket, Timeframe};
use mtq_persistence::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

on_both_backends!(
    migrations_create_every_table_and_reopening_is_harmless,
    accounts_are_registered_once_per_broker_server_and_login,
    money_and_times_round_trip_exactly,
    signals_keep_their_refusal_reason,
    signals_keep_the_model_reading_that_filtered_them,
    an_order_moves_from_intent_to_done_with_its_tickets,
    unknown_outcomes_are_listed_for_reconciliation,
    a_client_order_id_is_recorded_once,
    client_order_ids_are_unique_per_account_not_across_accounts,
    the_latest_order_states_come_newest_first_per_account,
    a_trade_accumulates_partial_closes_until_fully_closed,
    closed_trades_are_selected_by_exit_time,
    rewriting_a_day_replaces_it,
    optimisation_runs_keep_results_and_one_best_set,
    alerts_and_connection_states_are_kept_in_order,
    an_alert_preference_is_replaced_not_duplicated,
);

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn migrations_create_every_table_and_reopening_is_harmless(db: &TestDb) {
    let mut store = db.open();
    for table in table_names() {
        let c: Count = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result(store.connection())
            .unwrap_or_else(|e| panic!("table {table}: {e}"));
        assert_eq!(c.n, 0, "{table} starts empty");
    }
    demo_account(&mut store);
    drop(store);
    let mut again = db.open();
    assert_eq!(again.accounts().unwrap().len(), 1);
}

fn accounts_are_registered_once_per_broker_server_and_login(db: &TestDb) {
    let mut store = db.open();
    let a = demo_account(&mut store);
    let b = demo_account(&mut store);
    assert_eq!(a.id, b.id);
    assert_eq!(a.login, 5_001_234);
    assert_eq!(store.account(a.id).unwrap(), Some(a));
    assert_eq!(store.account(AccountId(999)).unwrap(), None);
}

fn money_and_times_round_trip_exactly(db: &TestDb) {
    let mut store = db.open();
    let amounts = [
        dec!(0.1) + dec!(0.2),
        dec!(-1234.56),
        dec!(10000.10),
        dec!(0.00001),
        dec!(123456789012.12345678),
        dec!(0),
    ];
    let base = t(12, 0) + Duration::microseconds(123_456);
    for (i, amount) in amounts.iter().enumerate() {
        let mut info = account_info(*amount);
        info.margin_level = None;
        let at = base + Duration::seconds(i64::try_from(i).unwrap());
        store.record_snapshot(None, at, &info).unwrap();
    }
    let back = store
        .snapshots(None, base, base + Duration::hours(1))
        .unwrap();
    let equities: Vec<Decimal> = back.iter().map(|s| s.equity).collect();
    assert_eq!(equities, amounts);
    assert_eq!(back[1].equity.to_string(), "-1234.56");
    assert_eq!(back[2].equity.to_string(), "10000.10", "the scale survives");
    assert_eq!(back[0].time, base, "microseconds survive");
    assert_eq!(back[0].margin_level, None);
    let before = store
        .snapshot_before(None, base + Duration::seconds(2))
        .unwrap()
        .unwrap();
    assert_eq!(before.equity, dec!(-1234.56));
}

fn signals_keep_their_refusal_reason(db: &TestDb) {
    let mut store = db.open();
    let a = demo_account(&mut store);
    store
        .record_signal(Some(a.id), &signal("ma"), None, t(9, 0))
        .unwrap();
    let spread = SignalRefusal::Risk(Refusal::SpreadTooWide {
        symbol: Symbol::new("EURUSD").unwrap(),
        spread_pips: dec!(3.2),
        max_pips: dec!(2),
    });
    store
        .record_signal(Some(a.id), &signal("rsi"), Some(&spread), t(9, 1))
        .unwrap();
    let got = store
        .signals_between(Some(a.id), t(0, 0), t(23, 0))
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].signal, signal("ma"));
    assert_eq!(got[0].refusal, None);
    // The row keeps the sentence a refusal was stored as before refusals were typed.
    assert_eq!(
        got[1].refusal.as_deref(),
        Some("EURUSD: spread 3.2 pips is wider than the 2 pips allowed")
    );
    assert_eq!(got[1].signal.entry, Some(1.08125));
}

fn signals_keep_the_model_reading_that_filtered_them(db: &TestDb) {
    let mut store = db.open();
    let a = demo_account(&mut store);
    let mut read = signal("ma");
    read.ml = Some(mtq_core::ModelReading {
        model: "eurusd-rf@2+eurusd-meta@1".into(),
        probability: Some(0.6125),
        status: mtq_core::ModelStatus::Active,
    });
    let mut failed = signal("ma");
    failed.ml = Some(mtq_core::ModelReading {
        model: "models/eurusd-rf".into(),
        probability: None,
        status: mtq_core::ModelStatus::FallenBack,
    });
    for (i, s) in [&read, &failed, &signal("ma")].into_iter().enumerate() {
        let minute = u32::try_from(i).unwrap();
        store
            .record_signal(Some(a.id), s, None, t(9, minute))
            .unwrap();
    }
    let got = store
        .signals_between(Some(a.id), t(0, 0), t(23, 0))
        .unwrap();
    let got: Vec<_> = got.into_iter().map(|r| r.signal.ml).collect();
    assert_eq!(got, vec![read.ml, failed.ml, None]);
}

fn an_order_moves_from_intent_to_done_with_its_tickets(db: &TestDb) {
    let mut store = db.open();
    let a = demo_account(&mut store);
    store
        .record_intent(Some(a.id), &request(1), Some("ma"), t(9, 1))
        .unwrap();
    let o = store.order(Some(a.id), &coid(1)).unwrap().unwrap();
    assert_eq!(o.state, OrderState::Intent);
    assert_eq!(o.request, request(1));
    assert!(
        store
            .record_outcome(Some(a.id), &coid(1), &outcome(77), t(10, 0))
            .unwrap()
    );
    let o = store.order(Some(a.id), &coid(1)).unwrap().unwrap();
    assert_eq!(o.state, OrderState::Done);
    assert_eq!(o.retcode, Some(Retcode::Done));
    assert_eq!(o.position, Some(Ticket(77)));
    assert_eq!(o.fill_price, Some(dec!(1.08127)));
    assert_eq!(o.strategy.as_deref(), Some("ma"));
    let states: Vec<_> = store
        .transitions(Some(a.id), &coid(1))
        .unwrap()
        .into_iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(states, [OrderState::Intent, OrderState::Done]);
    assert!(
        !store
            .record_outcome(Some(a.id), &coid(2), &outcome(78), t(10, 0))
            .unwrap(),
        "unknown id"
    );
}

fn unknown_outcomes_are_listed_for_reconciliation(db: &TestDb) {
    let mut store = db.open();
    store
        .record_intent(None, &request(1), None, t(9, 1))
        .unwrap();
    store
        .record_intent(None, &request(2), None, t(9, 2))
        .unwrap();
    store
        .record_intent(None, &request(3), None, t(9, 3))
        .unwrap();
    store
        .record_failure(
            None,
            &coid(1),
            Some(Retcode::Timeout),
            "request timed out",
            t(9, 5),
        )
        .unwrap();
    store
        .record_failure(
            None,
            &coid(2),
            Some(Retcode::NoMoney),
            "not enough money",
            t(9, 5),
        )
        .unwrap();
    let unknown = store.orders_in_state(None, OrderState::Unknown).unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].request.client_order_id, coid(1));
    assert_eq!(
        store
            .orders_in_state(None, OrderState::Failed)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.orders_in_state(None, OrderState::Intent).unwrap()[0]
            .request
            .client_order_id,
        coid(3)
    );
}

fn a_client_order_id_is_recorded_once(db: &TestDb) {
    let mut store = db.open();
    store
        .record_intent(None, &request(1), None, t(9, 1))
        .unwrap();
    let err = store
        .record_intent(None, &request(1), None, t(9, 2))
        .unwrap_err();
    assert!(err.to_string().contains("order intent"), "{err}");
}

fn client_order_ids_are_unique_per_account_not_across_accounts(db: &TestDb) {
    let mut store = db.open();
    let a = Some(demo_account(&mut store).id);
    let b = Some(
        store
            .ensure_account(
                &NewAccount {
                    login: 7_000_001,
                    label: "second".into(),
                    ..common::new_demo_account()
                },
                t(0, 0),
            )
            .unwrap()
            .id,
    );
    // The same id in two accounts (and among orders recorded without one) is three orders.
    for account in [a, b, None] {
        store
            .record_intent(account, &request(1), None, t(9, 1))
            .unwrap();
    }
    for account in [a, b, None] {
        let err = store
            .record_intent(account, &request(1), None, t(9, 2))
            .unwrap_err();
        assert!(
            err.to_string().contains("order intent"),
            "{account:?}: {err}"
        );
    }
    // An answer reaches only its own account's order, with its own transitions.
    assert!(
        store
            .record_outcome(b, &coid(1), &outcome(78), t(10, 0))
            .unwrap()
    );
    assert_eq!(
        store.order(b, &coid(1)).unwrap().unwrap().state,
        OrderState::Done
    );
    for other in [a, None] {
        let o = store.order(other, &coid(1)).unwrap().unwrap();
        assert_eq!((o.account, o.state), (other, OrderState::Intent));
        assert_eq!(store.transitions(other, &coid(1)).unwrap().len(), 1);
    }
    assert_eq!(store.transitions(b, &coid(1)).unwrap().len(), 2);
    assert!(
        !store
            .record_state(a, &coid(2), OrderState::Failed, None, "x", t(10, 1))
            .unwrap(),
        "another id of the account is not found"
    );
}

fn the_latest_order_states_come_newest_first_per_account(db: &TestDb) {
    let mut store = db.open();
    let a = Some(demo_account(&mut store).id);
    for (n, account, state) in [
        (1, a, OrderState::Failed),
        (2, a, OrderState::Done),
        (3, None, OrderState::Failed),
        (4, a, OrderState::Unknown),
        (5, a, OrderState::Failed),
    ] {
        let at = t(9, u32::try_from(n).unwrap());
        store.record_intent(account, &request(n), None, at).unwrap();
        store
            .record_state(account, &coid(n), state, None, "test", at)
            .unwrap();
    }
    assert_eq!(
        store.latest_order_states(a, 3).unwrap(),
        vec![OrderState::Failed, OrderState::Unknown, OrderState::Done]
    );
    assert_eq!(
        store.latest_order_states(None, 10).unwrap(),
        vec![OrderState::Failed]
    );
}

fn a_trade_accumulates_partial_closes_until_fully_closed(db: &TestDb) {
    let mut store = db.open();
    let a = Some(demo_account(&mut store).id);
    store.open_trade(a, &position(77, 1), Some("ma")).unwrap();
    assert!(
        store
            .modify_stops(a, Ticket(77), Some(dec!(1.08127)), None)
            .unwrap()
    );
    let pip = Some(dec!(0.0001));
    let half = dec!(0.05);
    let d1 = closing_deal(1, 77, half, dec!(1.08327), dec!(10.00), t(11, 0));
    assert!(store.apply_close(a, &d1, pip).unwrap());
    let tr = store.trade(a, Ticket(77)).unwrap().unwrap();
    assert_eq!(tr.status, TradeStatus::Open);
    assert_eq!(store.open_trades(a).unwrap().len(), 1);
    let d2 = closing_deal(2, 77, half, dec!(1.08527), dec!(20.00), t(12, 0));
    assert!(store.apply_close(a, &d2, pip).unwrap());
    let tr = store.trade(a, Ticket(77)).unwrap().unwrap();
    assert_eq!(tr.status, TradeStatus::Closed);
    assert_eq!(tr.exit_price, Some(dec!(1.08427)), "volume-weighted exit");
    assert_eq!(tr.profit, dec!(30.00));
    assert_eq!(tr.commission, dec!(-0.70));
    assert_eq!(tr.swap, dec!(-0.24));
    assert_eq!(tr.net_profit(), dec!(29.06));
    assert_eq!(tr.pips, Some(dec!(30.0)));
    assert_eq!(tr.sl, Some(dec!(1.08127)));
    assert_eq!(tr.tp, None);
    assert_eq!(tr.exit_time, Some(t(12, 0)));
    assert!(store.open_trades(a).unwrap().is_empty());
    let stray = closing_deal(3, 999, half, dec!(1.1), dec!(1), t(12, 0));
    assert!(!store.apply_close(a, &stray, pip).unwrap());
}

fn closed_trades_are_selected_by_exit_time(db: &TestDb) {
    let mut store = db.open();
    for (ticket, hour) in [(1, 10), (2, 14), (3, 20)] {
        store
            .open_trade(None, &position(ticket, ticket), None)
            .unwrap();
        let deal = closing_deal(
            ticket + 100,
            ticket,
            dec!(0.10),
            dec!(1.09),
            dec!(5),
            t(hour, 0),
        );
        store.apply_close(None, &deal, None).unwrap();
    }
    let got = store.closed_trades(None, t(12, 0), t(20, 0)).unwrap();
    assert_eq!(
        got.iter().map(|t| t.ticket).collect::<Vec<_>>(),
        [Ticket(2)]
    );
    assert_eq!(
        store.closed_trade_span(None).unwrap(),
        Some((t(10, 0), t(20, 0)))
    );
}

fn rewriting_a_day_replaces_it(db: &TestDb) {
    let mut store = db.open();
    let date = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let mut day = DailyPerformanceRecord {
        account_id: ALL_ACCOUNTS,
        date,
        trades: 2,
        wins: 1,
        losses: 1,
        gross_profit: dec!(30),
        gross_loss: dec!(-10),
        net_profit: dec!(20),
        commission: dec!(-0.7),
        swap: dec!(0),
        largest_win: dec!(30),
        largest_loss: dec!(-10),
        win_rate: 0.5,
        profit_factor: Some(3.0),
        start_equity: Some(dec!(10000)),
        end_equity: Some(dec!(10020)),
        max_drawdown: dec!(10),
        max_drawdown_pct: 0.1,
        computed_at: t(23, 0),
    };
    store.replace_day(&day).unwrap();
    day.net_profit = dec!(25);
    store.replace_day(&day).unwrap();
    let days = store.days(ALL_ACCOUNTS, date, date).unwrap();
    assert_eq!(days, vec![day]);
}

fn optimisation_runs_keep_results_and_one_best_set(db: &TestDb) {
    let mut store = db.open();
    let run = NewOptimizationRun {
        symbol: eurusd(),
        strategy: "ma".into(),
        timeframe: Timeframe::H1,
        period_start: t(0, 0),
        period_end: t(23, 0),
        objective: "sharpe".into(),
        parameter_space: r#"{"fast":[5,20]}"#.into(),
        started_at: t(1, 0),
    };
    let id = store.start_run(&run).unwrap();
    let result = |score: f64| NewOptimizationResult {
        parameters: format!(r#"{{"fast":{score}}}"#),
        score,
        net_profit: dec!(12.5),
        profit_factor: Some(1.5),
        sharpe: None,
        max_drawdown_pct: 3.0,
        trades: 40,
        win_rate: 0.55,
    };
    store
        .record_results(id, &[result(1.0), result(3.0), result(2.0)])
        .unwrap();
    store.finish_run(id, "finished", t(2, 0)).unwrap();
    let top = store.top_results(id, 2).unwrap();
    assert_eq!(
        top.iter().map(|r| r.result.score).collect::<Vec<_>>(),
        [3.0, 2.0]
    );
    let stored = store.run(id).unwrap().unwrap();
    assert_eq!((stored.run, stored.status.as_str()), (run, "finished"));
    let mut best = BestParameters {
        symbol: eurusd(),
        strategy: "ma".into(),
        timeframe: Timeframe::H1,
        parameters: top[0].result.parameters.clone(),
        score: 3.0,
        run_id: Some(id),
        updated_at: t(2, 0),
    };
    store.set_best_parameters(&best).unwrap();
    best.score = 4.0;
    store.set_best_parameters(&best).unwrap();
    assert_eq!(
        store
            .best_parameters(&eurusd(), "ma", Timeframe::H1)
            .unwrap(),
        Some(best)
    );
}

fn alerts_and_connection_states_are_kept_in_order(db: &TestDb) {
    let mut store = db.open();
    let a = demo_account(&mut store).id;
    store
        .record_connection(a, t(8, 0), true, "bridge connected")
        .unwrap();
    store
        .record_connection(a, t(9, 0), false, "heartbeat lost")
        .unwrap();
    let states = store.connection_states(a, t(0, 0), t(23, 0)).unwrap();
    assert_eq!(
        states.iter().map(|s| s.connected).collect::<Vec<_>>(),
        [true, false]
    );
    let alert = NewAlert {
        account: Some(a),
        time: t(9, 0),
        channel: "log".into(),
        severity: "critical".into(),
        title: "disconnected".into(),
        message: "heartbeat lost".into(),
        delivered: false,
        error: Some("no channel configured".into()),
        event_type: "broker_disconnected".into(),
        attempts: 3,
        repeats: 2,
    };
    store.record_alert(&alert).unwrap();
    assert_eq!(store.alerts(t(0, 0), t(23, 0)).unwrap()[0].alert, alert);
    let later = NewAlert {
        time: t(10, 0),
        channel: "telegram".into(),
        delivered: true,
        error: None,
        ..alert.clone()
    };
    store.record_alert(&later).unwrap();
    let newest = store.recent_alerts(10, None, None).unwrap();
    assert_eq!(
        newest
            .iter()
            .map(|r| r.alert.channel.as_str())
            .collect::<Vec<_>>(),
        ["telegram", "log"]
    );
    let page = store.recent_alerts(10, Some(newest[0].id), None).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].alert, alert);
    assert_eq!(store.recent_alerts(10, None, Some("log")).unwrap().len(), 1);
}

fn an_alert_preference_is_replaced_not_duplicated(db: &TestDb) {
    let mut store = db.open();
    let pref = AlertPreference {
        channel: "telegram".into(),
        event_type: "position_opened".into(),
        level: "silent".into(),
        updated_at: t(9, 0),
        updated_by: "cli".into(),
    };
    store.set_alert_preference(&pref).unwrap();
    let off = AlertPreference {
        level: "off".into(),
        updated_at: t(10, 0),
        ..pref.clone()
    };
    store.set_alert_preference(&off).unwrap();
    assert_eq!(store.alert_preferences().unwrap(), [off]);
    // The database refuses a level that is none of on, silent, off.
    let bad = AlertPreference {
        level: "loud".into(),
        ..pref
    };
    assert!(store.set_alert_preference(&bad).is_err());
    assert!(
        store
            .clear_alert_preference("telegram", "position_opened")
            .unwrap()
    );
    assert!(store.alert_preferences().unwrap().is_empty());
}
