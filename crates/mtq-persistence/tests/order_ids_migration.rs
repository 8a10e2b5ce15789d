//! The migration that makes client order ids unique per account (issue 18) keeps the orders and
//! transitions a database already holds, on both backends: a database is built at the migration
//! before it, filled with orders of an account and one without, then opened by today's `Store`.

mod common;

use common::{TestDb, t};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::MigrationHarness;
use mtq_core::{ClientOrderId, OrderRequest, Side, Symbol};
use mtq_persistence::{
    AccountRepo, NewAccount, OrderRepo, OrderState, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS,
};
use rust_decimal_macros::dec;

/// The version of the migration under test; every migration before it is run by hand.
const PER_ACCOUNT_IDS: &str = "20261206000018";

/// The rows written before the migration, in the schema of the day (ids unique across the table,
/// transitions naming only the id). Times are text both backends read.
const OLD_ROWS: &str = "
INSERT INTO accounts (broker, server, login, currency, margin_mode, leverage, label, created_at)
    VALUES ('Demo Broker', 'Demo-Server', 5001234, 'USD', 'hedging', 100, 'demo', '2024-03-01T00:00:00.000000Z');
INSERT INTO orders (account_id, client_order_id, symbol, side, kind, volume, sl, deviation, magic,
    comment, filling, strategy, state, retcode, message, deal_ticket, position_ticket, filled_volume,
    fill_price, created_at, updated_at)
    VALUES ((SELECT id FROM accounts WHERE login = 5001234), 'mtq-1-a', 'EURUSD', 'buy', 'market', '0.10', '1.09', 10, 111, 'mtq-1-a', 'fok',
    'ma_cross', 'done', 10009, 'done', 77, 78, '0.10', '1.1001',
    '2024-03-01T09:01:00.000000Z', '2024-03-01T09:01:01.000000Z');
INSERT INTO orders (account_id, client_order_id, symbol, side, kind, volume, deviation, magic,
    comment, filling, state, created_at, updated_at)
    VALUES (NULL, 'mtq-1-b', 'GBPUSD', 'sell', 'market', '0.20', 10, 111, 'mtq-1-b', 'fok',
    'intent', '2024-03-01T09:02:00.000000Z', '2024-03-01T09:02:00.000000Z');
INSERT INTO order_transitions (client_order_id, time, state, retcode, message) VALUES
    ('mtq-1-a', '2024-03-01T09:01:00.000000Z', 'intent', NULL, NULL),
    ('mtq-1-a', '2024-03-01T09:01:01.000000Z', 'done', 10009, 'done'),
    ('mtq-1-b', '2024-03-01T09:02:00.000000Z', 'intent', NULL, NULL);
";

/// Runs every migration before [`PER_ACCOUNT_IDS`] on `conn`, then writes [`OLD_ROWS`].
fn build_old_database<C, DB>(conn: &mut C, source: impl MigrationSource<DB>)
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB> + SimpleConnection,
{
    let mut migrations = source.migrations().unwrap();
    migrations.sort_by_key(|m| m.name().version().to_string());
    conn.applied_migrations().unwrap();
    let mut before = 0;
    for m in migrations
        .iter()
        .filter(|m| m.name().version().to_string().as_str() < PER_ACCOUNT_IDS)
    {
        conn.run_migration(m.as_ref()).unwrap();
        before += 1;
    }
    assert!(
        before >= 5,
        "only {before} migrations precede {PER_ACCOUNT_IDS}"
    );
    conn.batch_execute(OLD_ROWS).unwrap();
}

fn old_orders_survive_the_migration(db: &TestDb) {
    let mut store = db.open();
    // The account written before the migration (found by its broker, server and login).
    let account = Some(common::demo_account(&mut store).id);
    let a = ClientOrderId::new("mtq-1-a").unwrap();
    let b = ClientOrderId::new("mtq-1-b").unwrap();

    let done = store.order(account, &a).unwrap().expect("mtq-1-a kept");
    assert_eq!(done.state, OrderState::Done);
    assert_eq!(done.account, account);
    assert_eq!(done.request.volume, dec!(0.10));
    assert_eq!(done.request.sl, Some(dec!(1.09)));
    assert_eq!(done.request.symbol.as_str(), "EURUSD");
    assert_eq!(done.position.map(|p| p.0), Some(78));
    let states: Vec<OrderState> = store
        .transitions(account, &a)
        .unwrap()
        .iter()
        .map(|tr| tr.state)
        .collect();
    assert_eq!(states, [OrderState::Intent, OrderState::Done]);

    // The order without an account keeps its own transition, and is not the account's.
    assert!(store.order(account, &b).unwrap().is_none());
    let pending = store.order(None, &b).unwrap().expect("mtq-1-b kept");
    assert_eq!(pending.state, OrderState::Intent);
    assert_eq!(store.transitions(None, &b).unwrap().len(), 1);
    assert_eq!(
        store
            .orders_in_state(None, OrderState::Intent)
            .unwrap()
            .len(),
        1
    );

    // After the migration the old id is free in a second account and still taken in the first.
    let second = store
        .ensure_account(
            &NewAccount {
                login: 7_000_001,
                label: "second".into(),
                ..common::new_demo_account()
            },
            t(10, 0),
        )
        .unwrap()
        .id;
    let again = OrderRequest::market(
        a.clone(),
        Symbol::new("EURUSD").unwrap(),
        Side::Buy,
        dec!(0.1),
    );
    store
        .record_intent(Some(second), &again, None, t(10, 1))
        .unwrap();
    assert!(
        store
            .record_intent(account, &again, None, t(10, 2))
            .is_err()
    );
    assert_eq!(
        store.order(account, &a).unwrap().unwrap().state,
        OrderState::Done,
        "the refused duplicate changed nothing"
    );
}

#[test]
fn sqlite_orders_and_transitions_survive_the_per_account_ids_migration() {
    let db = TestDb::sqlite("per_account_ids_migration");
    let path = db.url.trim_start_matches("sqlite://");
    let mut conn = SqliteConnection::establish(path).unwrap();
    conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
    build_old_database(&mut conn, SQLITE_MIGRATIONS);
    drop(conn);
    old_orders_survive_the_migration(&db);
}

#[test]
fn postgres_orders_and_transitions_survive_the_per_account_ids_migration() {
    let Some(db) = TestDb::postgres("per_account_ids_migration") else {
        return;
    };
    let mut conn = PgConnection::establish(&db.url).unwrap();
    conn.batch_execute("SET TIME ZONE 'UTC'").unwrap();
    build_old_database(&mut conn, POSTGRES_MIGRATIONS);
    drop(conn);
    old_orders_survive_the_migration(&db);
}
