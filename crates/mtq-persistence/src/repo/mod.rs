//! Repositories: small traits, one per concern, all implemented on [`Store`](crate::Store).
//! Callers that only read trades take `&mut dyn TradeRepo`, so tests can hand them a fake.

mod accounts;
mod alert_config;
mod approvals;
mod audit;
mod auth;
mod backtests;
mod daily;
mod history;
mod optimization;
mod optimization_chunks;
mod optimization_list;
mod orders;
mod signals;
mod snapshots;
mod trades;
mod trading_accounts;
mod updates;

pub use accounts::{AccountId, AccountRecord, AccountRepo, NewAccount};
pub use alert_config::{AlertConfigRepo, AlertPreference};
pub use approvals::{ApprovalRepo, MAX_APPROVALS_LISTED};
pub use audit::{AlertRecord, AuditEventRecord, AuditRepo, ConnectionStateRecord, NewAlert};
pub use auth::{
    ApiKeyRecord, ApiKeyRepo, NewApiKey, NewRefreshToken, NewUser, RefreshTokenRecord,
    RefreshTokenRepo, Rotation, UserRecord, UserRepo,
};
pub use backtests::{BacktestRunRecord, BacktestRunRepo, MAX_BACKTESTS_LISTED, NewBacktestRun};
pub use daily::{ALL_ACCOUNTS, DailyPerformanceRecord, DailyPerformanceRepo};
pub use history::{
    Cursor, EquityCurve, EventFilter, HistoryRepo, InvalidCursor, MAX_EQUITY_POINTS,
    MAX_PAGE_LIMIT, OrderFilter, OrderWithTransitions, Page, PageRequest, SignalFilter,
    TradeDetail, TradeFilter,
};
pub use optimization::{
    BestParameters, NewOptimizationResult, NewOptimizationRun, OptimizationRepo,
    OptimizationResultRecord, OptimizationRunRecord,
};
pub use optimization_chunks::{
    ChunkPlan, ChunkProgress, ChunkRecord, ChunkResults, OptimizationChunkRepo,
};
pub use optimization_list::{MAX_RUNS_LISTED, OptimizationListing};
pub use orders::{OrderRecord, OrderRepo, OrderState, OrderTransition};
pub(crate) use signals::{NewSignal, insert_signals};
pub use signals::{SignalRecord, SignalRepo};
pub(crate) use snapshots::{NewSnapshot, insert_snapshots};
pub use snapshots::{SnapshotRecord, SnapshotRepo};
pub use trades::{TradeRecord, TradeRepo, TradeStatus};
pub(crate) use trades::{apply_deal, as_read_back, insert_trade, opened_trade, trade_exists};
pub use trading_accounts::{
    BrokerKindText, ConnectionChange, ConnectionChangeRecord, NewTradingAccount, TradingAccountId,
    TradingAccountRecord, TradingAccountRepo,
};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PersistenceError;

/// A `u64` from the broker (login, ticket, magic) as the signed 64-bit column stores it.
pub(crate) fn to_i64(
    v: u64,
    table: &'static str,
    column: &'static str,
) -> Result<i64, PersistenceError> {
    i64::try_from(v).map_err(|_| PersistenceError::Data {
        table,
        column,
        value: v.to_string(),
        reason: "larger than the largest signed 64-bit value the column holds".into(),
    })
}

/// A signed column value back as the broker's `u64`.
pub(crate) fn to_u64(
    v: i64,
    table: &'static str,
    column: &'static str,
) -> Result<u64, PersistenceError> {
    u64::try_from(v).map_err(|_| PersistenceError::Data {
        table,
        column,
        value: v.to_string(),
        reason: "negative, but the broker's value is unsigned".into(),
    })
}

/// An integer column back as a count or code.
pub(crate) fn to_u32(
    v: i32,
    table: &'static str,
    column: &'static str,
) -> Result<u32, PersistenceError> {
    u32::try_from(v).map_err(|_| PersistenceError::Data {
        table,
        column,
        value: v.to_string(),
        reason: "negative, but the value is unsigned".into(),
    })
}

/// A count or code as an integer column.
pub(crate) fn to_i32(
    v: u32,
    table: &'static str,
    column: &'static str,
) -> Result<i32, PersistenceError> {
    i32::try_from(v).map_err(|_| PersistenceError::Data {
        table,
        column,
        value: v.to_string(),
        reason: "larger than the 32-bit column holds".into(),
    })
}

/// An enum's serde name (`buy`, `stop_limit`, `hedging`), the form stored in text columns.
pub(crate) fn enum_text<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => format!("<unserializable: {e}>"),
    }
}

/// The inverse of [`enum_text`].
pub(crate) fn parse_enum<T: DeserializeOwned>(
    s: &str,
    table: &'static str,
    column: &'static str,
) -> Result<T, PersistenceError> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| {
        PersistenceError::Data {
            table,
            column,
            value: s.to_string(),
            reason: e.to_string(),
        }
    })
}

/// Parses a text column with `FromStr` (symbols, currencies, timeframes).
pub(crate) fn parse_text<T>(
    s: &str,
    table: &'static str,
    column: &'static str,
) -> Result<T, PersistenceError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| PersistenceError::Data {
        table,
        column,
        value: s.to_string(),
        reason: e.to_string(),
    })
}
