//! Test databases: a fresh SQLite file, or a fresh PostgreSQL schema, per test.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use mtq_core::{Currency, MarginMode};
use mtq_persistence::{AccountRecord, AccountRepo, NewAccount, Store};

pub mod fixtures;

static NEXT: AtomicU64 = AtomicU64::new(0);

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}_{}",
        name.chars().take(20).collect::<String>(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A database only this test uses, removed when dropped.
pub struct TestDb {
    pub url: String,
    sqlite_dir: Option<PathBuf>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mtq-persist-{}", unique(name)));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            url: format!("sqlite://{}", dir.join("test.db").display()),
            sqlite_dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh schema in the database `MTQ_TEST_DATABASE_URL` names, or `None` (with a note) when
    /// the variable is not set.
    pub fn postgres(name: &str) -> Option<Self> {
        let Ok(base) = std::env::var("MTQ_TEST_DATABASE_URL") else {
            eprintln!("skipped {name} on PostgreSQL: MTQ_TEST_DATABASE_URL is not set");
            return None;
        };
        let schema = format!("mtq_t_{}", unique(name)).to_ascii_lowercase();
        let mut admin = PgConnection::establish(&base)
            .unwrap_or_else(|e| panic!("MTQ_TEST_DATABASE_URL is set but unreachable: {e}"));
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(Self {
            url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
            sqlite_dir: None,
            pg: Some((base, schema)),
        })
    }

    pub fn open(&self) -> Store {
        Store::open(&self.url).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((base, schema)) = &self.pg
            && let Ok(mut admin) = PgConnection::establish(base)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

pub fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, h, m, 0).unwrap()
}

/// The broker account of [`demo_account`], to vary in a test that needs a second one.
pub fn new_demo_account() -> NewAccount {
    NewAccount {
        broker: "Demo Broker".into(),
        server: "Demo-Server".into(),
        login: 5_001_234,
        currency: Currency::USD,
        margin_mode: MarginMode::Hedging,
        leverage: 100,
        label: "demo".into(),
    }
}

pub fn demo_account(store: &mut Store) -> AccountRecord {
    store.ensure_account(&new_demo_account(), t(0, 0)).unwrap()
}

/// Runs each named scenario `fn(&TestDb)` once on SQLite and once on PostgreSQL (when configured).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&$crate::common::TestDb::sqlite(stringify!($name))); } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if let Some(db) = $crate::common::TestDb::postgres(stringify!($name)) { super::$name(&db); }
            } )*
        }
    };
}
