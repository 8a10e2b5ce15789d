//! # mtq-persistence: MTQ's database
//!
//! Owns the schema (`migrations/sqlite` and `migrations/postgres` at the repository root,
//! embedded and run at start), the repositories the trader, API, optimiser and aggregator read
//! and write through, and the batching [`EventWriter`] that records domain events. It does not
//! compute statistics (that is `mtq-analytics`) nor decide anything about trading.
//!
//! **One code path, two backends.** [`Store::open`] takes a URL: `sqlite://PATH` (the embedded
//! default, a file in WAL mode) or `postgres://USER@HOST:PORT/DB`. Every query is written once
//! against diesel's `MultiConnection` ([`AnyConnection`]). Both C libraries are built from
//! source (`bundled`), so no system SQLite or libpq is needed to build.
//!
//! **Default database:** [`DEFAULT_DATABASE_URL`] = `sqlite://mtq.db`, the file `mtq.db` in the
//! working directory, unless the configuration or `--database-url` names another.
//!
//! **Exact money, UTC times.** `Decimal` columns are `NUMERIC` on PostgreSQL and decimal `TEXT`
//! on SQLite ([`Money`]); times are `TIMESTAMPTZ` and fixed-width RFC 3339 text ([`UtcTimestamp`]).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use mtq_core::{AccountInfo, Currency, MarginMode};
//! use mtq_persistence::{AccountRepo, NewAccount, SnapshotRepo, Store};
//! use rust_decimal_macros::dec;
//!
//! # fn main() -> Result<(), mtq_persistence::PersistenceError> {
//! let dir = std::env::temp_dir().join(format!("mtq-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let mut store = Store::open(&format!("sqlite://{}", dir.join("doc.db").display()))?;
//!
//! let now = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
//! let account = store.ensure_account(
//!     &NewAccount {
//!         broker: "Demo Broker".into(),
//!         server: "Demo-Server".into(),
//!         login: 5_001_234,
//!         currency: Currency::USD,
//!         margin_mode: MarginMode::Hedging,
//!         leverage: 100,
//!         label: "demo".into(),
//!     },
//!     now,
//! )?;
//! let info = AccountInfo {
//!     login: 5_001_234,
//!     server: "Demo-Server".into(),
//!     currency: Currency::USD,
//!     balance: dec!(10000.10),
//!     equity: dec!(10012.35),
//!     margin: dec!(0),
//!     free_margin: dec!(10012.35),
//!     margin_level: None,
//!     leverage: 100,
//!     margin_mode: MarginMode::Hedging,
//! };
//! store.record_snapshot(Some(account.id), now, &info)?;
//! let curve = store.snapshots(Some(account.id), now, now + chrono::Duration::days(1))?;
//! assert_eq!(curve[0].equity, dec!(10012.35)); // exact, cents and all
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! Feeding the writer: open a store, wrap it in a [`StoreSink`] for the account, spawn an
//! [`EventWriter`], and send every [`mtq_core::DomainEvent`] to the [`EventSender`] it returns.
//! Drop the senders and [`EventWriter::join`] to flush at shutdown.

mod conn;
mod csv;
mod deferred;
mod error;
mod repo;
mod schema;
mod sink;
mod store;
mod types;
mod url;
mod writer;

#[allow(unreachable_pub, missing_debug_implementations)]
pub use conn::{AnyConnection, MultiBackend, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
pub use csv::{CsvExportError, TRADE_CSV_HEADER, trade_csv_row, write_trades_csv};
pub use error::{PersistenceError, Result};
pub use repo::*;
pub use sink::{EventSink, StoreSink};
pub use store::Store;
pub use types::{Money, UtcTimestamp};
pub use url::{DEFAULT_DATABASE_URL, DatabaseUrl, redact};
pub use writer::{
    EventSender, EventWriter, WriterConfig, WriterReport, WriterStats, WriterStopped,
};

/// The table names the migrations create.
pub fn table_names() -> &'static [&'static str] {
    &schema::TABLES
}
