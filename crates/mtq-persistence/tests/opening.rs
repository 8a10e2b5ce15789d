//! Opening databases: SQLite settings, and clear errors for bad URLs and unreachable servers.

mod common;

use common::TestDb;
use diesel::{QueryableByName, RunQueryDsl};
use mtq_persistence::Store;

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = diesel::sql_types::Text)]
    journal_mode: String,
}

#[test]
fn sqlite_databases_run_in_wal_mode() {
    let db = TestDb::sqlite("wal");
    let mut store = db.open();
    let mode: JournalMode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(store.connection())
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
    assert_eq!(store.backend(), "sqlite");
}

#[test]
fn a_missing_directory_is_named_in_the_error() {
    let err = Store::open("sqlite:///nonexistent-mtq-dir/x/mtq.db").unwrap_err();
    assert!(
        err.to_string()
            .contains("directory /nonexistent-mtq-dir/x does not exist"),
        "{err}"
    );
}

#[test]
fn an_unreachable_server_is_reported_without_the_password() {
    let err = Store::open("postgres://mtq:s3cret@127.0.0.1:1/mtq")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot open database postgres://mtq:***@127.0.0.1:1/mtq"),
        "{err}"
    );
    assert!(!err.contains("s3cret"));
}
