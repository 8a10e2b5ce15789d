//! Configured accounts and their connection state (issue 18), on SQLite and, when
//! `MTQ_TEST_DATABASE_URL` is set, on PostgreSQL.

mod common;

use common::{TestDb, demo_account, t};
use mtq_core::Currency;
use mtq_persistence::*;

on_both_backends!(
    an_account_is_registered_once_by_name_and_updated_in_place,
    every_connection_change_is_a_history_row_and_the_current_state,
    a_terminal_that_never_connected_has_its_state_without_a_broker_account,
    an_earlier_schema_keeps_its_connection_rows,
);

fn alpha(enabled: bool) -> NewTradingAccount {
    NewTradingAccount {
        name: "alpha".into(),
        enabled,
        broker_kind: BrokerKindText::Mt5,
        currency: Currency::USD,
        magic: 11,
    }
}

fn an_account_is_registered_once_by_name_and_updated_in_place(db: &TestDb) {
    let mut s = db.open();
    let a = s.register_trading_account(&alpha(true), t(0, 0)).unwrap();
    assert_eq!(a.name, "alpha");
    assert!(a.enabled && !a.connected);
    assert_eq!(a.login, None);
    let again = s.register_trading_account(&alpha(false), t(1, 0)).unwrap();
    assert_eq!(again.id, a.id);
    assert!(!again.enabled);
    assert_eq!(again.created_at, t(0, 0));
    assert_eq!(again.updated_at, t(1, 0));
    let mut beta = alpha(true);
    beta.name = "beta".into();
    beta.broker_kind = BrokerKindText::Sim;
    s.register_trading_account(&beta, t(0, 0)).unwrap();
    let names: Vec<_> = s
        .trading_accounts()
        .unwrap()
        .into_iter()
        .map(|a| (a.name, a.broker_kind))
        .collect();
    assert_eq!(
        names,
        [
            ("alpha".to_string(), BrokerKindText::Mt5),
            ("beta".to_string(), BrokerKindText::Sim)
        ]
    );
    // Linking the broker account fills in its server and login.
    let broker = demo_account(&mut s);
    s.link_broker_account(a.id, &broker, t(2, 0)).unwrap();
    let linked = s.trading_account("alpha").unwrap().unwrap();
    assert_eq!(linked.account, Some(broker.id));
    assert_eq!(linked.login, Some(5_001_234));
    assert_eq!(linked.server, "Demo-Server");
    assert!(s.trading_account("gamma").unwrap().is_none());
}

fn every_connection_change_is_a_history_row_and_the_current_state(db: &TestDb) {
    let mut s = db.open();
    let a = s.register_trading_account(&alpha(true), t(0, 0)).unwrap();
    let broker = demo_account(&mut s);
    s.link_broker_account(a.id, &broker, t(0, 0)).unwrap();
    let up = ConnectionChange {
        connected: true,
        reason: "connected".into(),
        last_heartbeat: Some(t(0, 1)),
    };
    s.record_connection_change(a.id, &up, t(0, 1)).unwrap();
    s.record_heartbeat(a.id, t(0, 5)).unwrap();
    let now = s.trading_account("alpha").unwrap().unwrap();
    assert!(now.connected);
    assert_eq!(now.last_heartbeat, Some(t(0, 5)));
    let down = ConnectionChange {
        connected: false,
        reason: "broker: the MT5 bridge is not connected".into(),
        last_heartbeat: Some(t(0, 5)),
    };
    s.record_connection_change(a.id, &down, t(0, 7)).unwrap();
    let now = s.trading_account("alpha").unwrap().unwrap();
    assert!(!now.connected);
    assert_eq!(now.state_reason, down.reason);
    assert_eq!(now.state_changed_at, Some(t(0, 7)));
    let history = s.connection_history(a.id, 10).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].connected, history[0].time), (false, t(0, 7)));
    assert_eq!((history[1].connected, history[1].time), (true, t(0, 1)));
    assert_eq!(history[0].account, Some(broker.id));
    assert_eq!(history[0].last_heartbeat, Some(t(0, 5)));
    assert_eq!(s.connection_history(a.id, 1).unwrap().len(), 1);
    // A change for an account that does not exist is an error, not a stray row.
    let missing = s.record_connection_change(TradingAccountId(9_999), &up, t(1, 0));
    assert!(missing.is_err());
}

fn a_terminal_that_never_connected_has_its_state_without_a_broker_account(db: &TestDb) {
    let mut s = db.open();
    let a = s.register_trading_account(&alpha(true), t(0, 0)).unwrap();
    let down = ConnectionChange {
        connected: false,
        reason: "waiting for the MT5 bridge on 127.0.0.1:7790".into(),
        last_heartbeat: None,
    };
    s.record_connection_change(a.id, &down, t(0, 1)).unwrap();
    let history = s.connection_history(a.id, 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].account, None);
}

fn an_earlier_schema_keeps_its_connection_rows(db: &TestDb) {
    // The older, broker-account-keyed record still works beside the configured accounts.
    let mut s = db.open();
    let broker = demo_account(&mut s);
    s.record_connection(broker.id, t(0, 0), true, "hello")
        .unwrap();
    let rows = s.connection_states(broker.id, t(0, 0), t(1, 0)).unwrap();
    assert_eq!(rows.len(), 1);
}
