//! [`Store`]: one open database, the object every repository trait is implemented on.

use std::time::{Duration, Instant};

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
    lost: Option<Lost>,
}

/// The connection was lost: when to try again, and how long to wait after that try fails.
#[derive(Clone, Copy, Debug)]
struct Lost {
    next_attempt: Instant,
    backoff: Duration,
}

/// First wait between reconnection attempts after one failed; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between reconnection attempts: a server back from a restart is used again
/// within this long.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
            lost: None,
        })
    }

    /// Drops the connection and opens a fresh one, e.g. after the server restarted.
    pub fn reconnect(&mut self) -> Result<()> {
        self.conn = connect(&self.url)?;
        self.lost = None;
        Ok(())
    }

    /// Notes that the connection is gone: the next [`Store::reconnecting`] call reconnects first.
    pub fn mark_connection_lost(&mut self) {
        self.lost.get_or_insert(Lost {
            next_attempt: Instant::now(),
            backoff: FIRST_BACKOFF,
        });
    }

    /// Whether the last statement lost the connection and no reconnection has succeeded since.
    pub fn is_connection_lost(&self) -> bool {
        self.lost.is_some()
    }

    /// Runs `f` over a connection that heals itself: this is how every long-lived handle (the
    /// intent store, the trade ledger, the event writer's sink) survives a database restart.
    ///
    /// When `f` fails because of the connection ([`PersistenceError::is_transient`]), the
    /// connection is dropped and opened again at once, and `f` runs once more on the new one.
    /// While the database stays away, later calls fail fast without waiting (the caller decides
    /// what to refuse meanwhile) and try to reconnect with exponential backoff, from
    /// 100 ms up to 5 s between attempts, so the first call after the server is back succeeds.
    /// `f` must be safe to run twice (each repository call is one statement or one transaction).
    pub fn reconnecting<T>(&mut self, mut f: impl FnMut(&mut Store) -> Result<T>) -> Result<T> {
        if let Some(lost) = self.lost {
            if Instant::now() < lost.next_attempt {
                return Err(PersistenceError::Reconnecting {
                    url: self.url.redacted(),
                    retry_in: lost.next_attempt.saturating_duration_since(Instant::now()),
                });
            }
            self.try_reconnect()?;
        }
        match f(self) {
            Err(e) if e.is_transient() => {
                tracing::warn!(database = %self.url, error = %e, "database connection lost; reconnecting");
                self.lost = Some(Lost {
                    next_attempt: Instant::now(),
                    backoff: FIRST_BACKOFF,
                });
                if self.try_reconnect().is_err() {
                    return Err(e);
                }
                let again = f(self);
                if matches!(&again, Err(e) if e.is_transient()) {
                    self.lost = Some(Lost {
                        next_attempt: Instant::now() + FIRST_BACKOFF,
                        backoff: FIRST_BACKOFF,
                    });
                }
                again
            }
            other => other,
        }
    }

    /// One reconnection attempt; on failure the next is scheduled after the doubled backoff.
    fn try_reconnect(&mut self) -> Result<()> {
        match connect(&self.url) {
            Ok(conn) => {
                self.conn = conn;
                if self.lost.take().is_some() {
                    tracing::info!(database = %self.url, "database connection restored");
                }
                Ok(())
            }
            Err(e) => {
                let backoff = self.lost.map_or(FIRST_BACKOFF, |l| l.backoff);
                self.lost = Some(Lost {
                    next_attempt: Instant::now() + backoff,
                    backoff: (backoff * 2).min(MAX_BACKOFF),
                });
                Err(e)
            }
        }
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
        f.debug_struct("Store")
            .field("url", &self.url)
            .field("connection_lost", &self.lost.is_some())
            .finish()
    }
}
