//! Opening a database: one diesel connection type over both backends, configured and migrated.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{DatabaseUrl, PersistenceError, Result};

/// The SQLite migrations, embedded in the binary and run at start.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
/// The PostgreSQL migrations, embedded in the binary and run at start.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// How long a SQLite connection waits for another connection's write lock before giving up.
/// The event writer, the aggregator and the API each hold their own connection to one file.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// A diesel connection to either backend. Queries written once against it run on both; match
/// on the variant for backend-specific SQL.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgresql(_) => f.write_str("AnyConnection::Postgresql"),
            Self::Sqlite(_) => f.write_str("AnyConnection::Sqlite"),
        }
    }
}

/// Connects to `url`, applies the connection settings and runs pending migrations.
pub(crate) fn connect(url: &DatabaseUrl) -> Result<AnyConnection> {
    let connect_err = |error| PersistenceError::Connect {
        url: url.redacted(),
        error,
    };
    let mut conn = match url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.is_dir()
            {
                return Err(PersistenceError::Connect {
                    url: url.redacted(),
                    error: diesel::ConnectionError::BadConnection(format!(
                        "directory {} does not exist",
                        dir.display()
                    )),
                });
            }
            let path = path.to_string_lossy();
            let mut c = SqliteConnection::establish(&path).map_err(connect_err)?;
            // WAL lets readers (API, aggregator) run while the writer writes; NORMAL sync is
            // durable across application crashes and only risks the last commits on power loss.
            c.batch_execute(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};"
            ))
            .map_err(|e| connect_err(diesel::ConnectionError::BadConnection(e.to_string())))?;
            AnyConnection::Sqlite(c)
        }
        DatabaseUrl::Postgres(u) => {
            let mut c = PgConnection::establish(u).map_err(connect_err)?;
            c.batch_execute("SET TIME ZONE 'UTC'")
                .map_err(|e| connect_err(diesel::ConnectionError::BadConnection(e.to_string())))?;
            AnyConnection::Postgresql(c)
        }
    };
    run_migrations(&mut conn)?;
    Ok(conn)
}

fn run_migrations(conn: &mut AnyConnection) -> Result<()> {
    let (backend, result) = match conn {
        AnyConnection::Sqlite(c) => (
            "sqlite",
            c.run_pending_migrations(SQLITE_MIGRATIONS).map(drop),
        ),
        AnyConnection::Postgresql(c) => (
            "postgres",
            c.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop),
        ),
    };
    result.map_err(|e| PersistenceError::Migration {
        backend,
        message: e.to_string(),
    })
}

/// True for errors where the database, not the data, is the problem, so the same statement may
/// pass later: a lost connection, a busy or locked SQLite file, a serialization conflict.
/// Constraint and data errors are not transient.
pub(crate) fn is_transient(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as K, Error as E};
    match e {
        E::DatabaseError(
            K::ClosedConnection | K::UnableToSendCommand | K::SerializationFailure,
            _,
        ) => true,
        E::DatabaseError(K::Unknown, info) => {
            let m = info.message().to_ascii_lowercase();
            [
                "locked",
                "busy",
                "connection",
                "terminating",
                "shutting down",
                "server closed",
            ]
            .iter()
            .any(|w| m.contains(w))
        }
        E::BrokenTransactionManager => true,
        _ => false,
    }
}

diesel::define_sql_function! {
    /// SQLite's id of the last row this connection inserted.
    fn last_insert_rowid() -> diesel::sql_types::BigInt;
}

/// Runs an INSERT and returns the new row's id: `RETURNING` on PostgreSQL, `last_insert_rowid()`
/// on SQLite (per connection, so no other connection's insert can interleave).
macro_rules! insert_returning_id {
    ($conn:expr, $insert:expr, $id:expr) => {
        match $conn {
            $crate::AnyConnection::Postgresql(c) => $insert.returning($id).get_result::<i64>(c),
            $crate::AnyConnection::Sqlite(c) => $insert.execute(c).and_then(|_| {
                diesel::select($crate::conn::last_insert_rowid()).get_result::<i64>(c)
            }),
        }
    };
}
pub(crate) use insert_returning_id;

/// Runs `$body` with `$c` bound to the backend's own connection (`&mut SqliteConnection` or
/// `&mut PgConnection`). The body is written once and compiled for each backend.
///
/// The event writer's statements go this way: diesel's `MultiConnection` rebuilds a statement's
/// SQL text on every execution, even when the prepared statement is cached, which made the
/// writer's projection several times slower than the inner connection.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::AnyConnection::Postgresql($c) => $body,
            $crate::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Rows per multi-row insert of the event writer: 17 bound columns (a signal) x 256 stays far
/// below both backends' limits on bound parameters (SQLite 32,766; PostgreSQL 65,535).
pub(crate) const INSERT_CHUNK: usize = 256;
/// The next chunk size down, for the rest of a batch.
pub(crate) const INSERT_SMALL_CHUNK: usize = 16;

/// Inserts `$rows` (a slice of value tuples) on the backend's own connection in multi-row
/// statements of fixed sizes: chunks of [`INSERT_CHUNK`] rows, then of [`INSERT_SMALL_CHUNK`],
/// then single rows. Each statement has a fixed shape, so diesel's prepared statement cache
/// keeps it; a multi-row insert of any other length would be parsed again every time. (diesel's
/// `MultiConnection` does not offer multi-row inserts, because SQLite has no DEFAULT keyword.)
/// Evaluates to `Result<()>`.
macro_rules! insert_chunked {
    ($conn:expr, $table:expr, $rows:expr, $context:expr) => {{
        use $crate::conn::{INSERT_CHUNK, INSERT_SMALL_CHUNK};
        use $crate::error::QueryContext as _;
        (|| -> $crate::Result<()> {
            let conn = $conn;
            let mut big = $rows.chunks_exact(INSERT_CHUNK);
            for chunk in &mut big {
                let chunk: &[_; INSERT_CHUNK] = chunk.try_into().expect("chunks_exact");
                let insert = diesel::insert_into($table).values(chunk);
                $crate::conn::on_backend!(&mut *conn, |c| insert.execute(c)).context($context)?;
            }
            let mut small = big.remainder().chunks_exact(INSERT_SMALL_CHUNK);
            for chunk in &mut small {
                let chunk: &[_; INSERT_SMALL_CHUNK] = chunk.try_into().expect("chunks_exact");
                let insert = diesel::insert_into($table).values(chunk);
                $crate::conn::on_backend!(&mut *conn, |c| insert.execute(c)).context($context)?;
            }
            for row in small.remainder() {
                let insert = diesel::insert_into($table).values(row);
                $crate::conn::on_backend!(&mut *conn, |c| insert.execute(c)).context($context)?;
            }
            Ok(())
        })()
    }};
}
pub(crate) use insert_chunked;

/// Begins a transaction, or a savepoint inside one. On SQLite the outermost transaction takes
/// the write lock up front (`BEGIN IMMEDIATE`): a deferred transaction that reads before it
/// writes cannot wait for another connection's write (the intent store's, the aggregator's) and
/// fails at once with "database is locked"; an immediate one waits for the busy timeout.
pub(crate) fn begin_transaction(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    if let AnyConnection::Sqlite(c) = conn {
        let depth =
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?;
        if depth.is_none() {
            return AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE");
        }
    }
    <AnyConnection as diesel::Connection>::TransactionManager::begin_transaction(conn)
}

/// The first row of a query, read without a `LIMIT`: a bound `LIMIT ?` (what diesel's `.first()`
/// sends) makes SQLite re-prepare the statement every time it runs, defeating the statement cache.
/// Only for queries that match at most a handful of rows (a unique key).
pub(crate) fn first_row<T>(
    rows: diesel::QueryResult<impl Iterator<Item = diesel::QueryResult<T>>>,
) -> diesel::QueryResult<Option<T>> {
    rows?.next().transpose()
}
