//! [`Store`]: one open database, the object every repository trait is implemented on.

use diesel::Connection;
use diesel::connection::TransactionManager;

use crate::conn::{AnyConnection, connect};
use crate::{DatabaseUrl, PersistenceError, Result};

/// An open, migrated MTQ database: one connection, SQLite or PostgreSQL.
///
/// A `Store` is not shared between threads: give each component (event writer, API, aggregator)
/// its own, all opened from the same URL. On SQLite, WAL mode lets them read while one writes.
pub struct Store {
    pub(crate) conn: AnyConnection,
    url: DatabaseUrl,
}

type Tm = <AnyConnection as Connection>::TransactionManager;

impl Store {
    /// Opens the database at `url` (see [`DatabaseUrl::parse`] for the accepted forms), creating
    /// the SQLite file if needed, and runs pending migrations.
    pub fn open(url: &str) -> Result<Self> {
        Self::open_url(&DatabaseUrl::parse(url)?)
    }

    /// Like [`Store::open`], with a parsed URL.
    pub fn open_url(url: &DatabaseUrl) -> Result<Self> {
        let conn = connect(url)?;
        tracing::debug!(database = %url, "database opened and migrated");
        Ok(Self {
            conn,
            url: url.clone(),
        })
    }

    /// Drops the connection and opens a fresh one, e.g. after the server restarted.
    pub fn reconnect(&mut self) -> Result<()> {
        self.conn = connect(&self.url)?;
        Ok(())
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.url.backend()
    }

    /// The URL this store was opened with (prints without a password).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The diesel connection, for queries the repositories do not offer.
    pub fn connection(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    /// Runs `f` in a transaction: committed if it returns `Ok`, rolled back otherwise. Nested
    /// calls become savepoints.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let ctx = |error| PersistenceError::Query {
            context: "transaction",
            error,
        };
        crate::conn::begin_transaction(&mut self.conn).map_err(ctx)?;
        match f(self) {
            Ok(value) => {
                Tm::commit_transaction(&mut self.conn).map_err(ctx)?;
                Ok(value)
            }
            Err(e) => {
                // The original error is what the caller needs; a failed rollback is logged.
                if let Err(rollback) = Tm::rollback_transaction(&mut self.conn) {
                    tracing::warn!(error = %rollback, "rollback failed");
                }
                Err(e)
            }
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}
