//! What can go wrong, each variant naming what to fix. Database URLs in errors are redacted.

/// Errors from opening, migrating, reading or writing the MTQ database.
#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    /// The database URL is not one MTQ understands.
    #[error(
        "database URL {url:?} is not valid: {reason} (expected sqlite://PATH or postgres://USER@HOST:PORT/DB)"
    )]
    InvalidUrl { url: String, reason: &'static str },
    /// The database could not be reached or opened.
    // The cause is part of the message, so it is not also exposed as `source()` (error reports
    // would print it twice).
    #[error("cannot open database {url}: {error}")]
    Connect {
        url: String,
        error: diesel::ConnectionError,
    },
    /// A migration failed; the database was left at the last migration that succeeded.
    #[error("running the {backend} migrations failed: {message}")]
    Migration {
        backend: &'static str,
        message: String,
    },
    /// A statement failed.
    #[error("{context}: {error}")]
    Query {
        context: &'static str,
        error: diesel::result::Error,
    },
    /// A value cannot be stored, or a stored value cannot be read back as the domain type.
    #[error("{table}.{column}: {reason} (value {value:?})")]
    Data {
        table: &'static str,
        column: &'static str,
        value: String,
        reason: String,
    },
    /// The connection was lost and the next reconnection attempt is not due yet.
    #[error("database {url} is unreachable; reconnecting (next attempt in {retry_in:?})")]
    Reconnecting {
        url: String,
        retry_in: std::time::Duration,
    },
    /// The event writer stopped; no more events can be sent to it.
    #[error("the event writer has stopped: {0}")]
    WriterStopped(String),
}

impl PersistenceError {
    /// True when the database, not the data, is the problem, so the same call may pass later on
    /// a fresh connection: a lost connection, a busy SQLite file, a server that cannot be reached.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Query { error, .. } => crate::conn::is_transient(error),
            Self::Connect { .. } | Self::Migration { .. } | Self::Reconnecting { .. } => true,
            _ => false,
        }
    }
}

/// `?` on a diesel result with a note of what was being done.
pub(crate) trait QueryContext<T> {
    fn context(self, context: &'static str) -> Result<T, PersistenceError>;
}

impl<T> QueryContext<T> for Result<T, diesel::result::Error> {
    fn context(self, context: &'static str) -> Result<T, PersistenceError> {
        self.map_err(|error| PersistenceError::Query { context, error })
    }
}

/// Shorthand for the crate's results.
pub type Result<T, E = PersistenceError> = std::result::Result<T, E>;
