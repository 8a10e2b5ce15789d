//! Account snapshots: balance and equity over time, the equity curve.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mtq_core::AccountInfo;
use rust_decimal::Decimal;

use super::{AccountId, to_i32, to_u32};
use crate::AnyConnection;
use crate::conn::insert_chunked;
use crate::error::QueryContext;
use crate::schema::account_snapshots as snaps;
use crate::types::{DbDecimal, DbTime};
use crate::{Result, Store};

/// Balance and equity at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotRecord {
    pub account: Option<AccountId>,
    pub time: DateTime<Utc>,
    pub balance: Decimal,
    pub equity: Decimal,
    pub margin: Decimal,
    pub free_margin: Decimal,
    pub margin_level: Option<Decimal>,
    pub leverage: u32,
}

/// The equity curve.
pub trait SnapshotRepo {
    fn record_snapshot(
        &mut self,
        account: Option<AccountId>,
        time: DateTime<Utc>,
        info: &AccountInfo,
    ) -> Result<()>;
    /// Snapshots in `from..to`, oldest first; all accounts when `None`.
    fn snapshots(
        &mut self,
        account: Option<AccountId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SnapshotRecord>>;
    /// The last snapshot before `time`: the equity a day starts from.
    fn snapshot_before(
        &mut self,
        account: Option<AccountId>,
        time: DateTime<Utc>,
    ) -> Result<Option<SnapshotRecord>>;
}

type Row = (
    Option<i64>,
    DbTime,
    DbDecimal,
    DbDecimal,
    DbDecimal,
    DbDecimal,
    Option<DbDecimal>,
    i32,
);

fn columns() -> (
    snaps::account_id,
    snaps::time,
    snaps::balance,
    snaps::equity,
    snaps::margin,
    snaps::free_margin,
    snaps::margin_level,
    snaps::leverage,
) {
    (
        snaps::account_id,
        snaps::time,
        snaps::balance,
        snaps::equity,
        snaps::margin,
        snaps::free_margin,
        snaps::margin_level,
        snaps::leverage,
    )
}

fn record(r: Row) -> Result<SnapshotRecord> {
    Ok(SnapshotRecord {
        account: r.0.map(AccountId),
        time: r.1.0,
        balance: r.2.0,
        equity: r.3.0,
        margin: r.4.0,
        free_margin: r.5.0,
        margin_level: r.6.map(|d| d.0),
        leverage: to_u32(r.7, "account_snapshots", "leverage")?,
    })
}

/// A snapshot to record: its time and the account's figures.
pub(crate) type NewSnapshot<'a> = (DateTime<Utc>, &'a AccountInfo);

/// Inserts snapshots in order, in multi-row statements (the event writer gathers a batch's).
pub(crate) fn insert_snapshots(
    conn: &mut AnyConnection,
    account: Option<AccountId>,
    rows: &[NewSnapshot<'_>],
) -> Result<()> {
    let account = account.map(|a| a.0);
    let values = rows
        .iter()
        .map(|&(time, a)| {
            Ok((
                snaps::account_id.eq(account),
                snaps::time.eq(DbTime(time)),
                snaps::balance.eq(DbDecimal(a.balance)),
                snaps::equity.eq(DbDecimal(a.equity)),
                snaps::margin.eq(DbDecimal(a.margin)),
                snaps::free_margin.eq(DbDecimal(a.free_margin)),
                snaps::margin_level.eq(a.margin_level.map(DbDecimal)),
                snaps::leverage.eq(to_i32(a.leverage, "account_snapshots", "leverage")?),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    insert_chunked!(conn, snaps::table, values, "recording an account snapshot")
}

impl SnapshotRepo for Store {
    fn record_snapshot(
        &mut self,
        account: Option<AccountId>,
        time: DateTime<Utc>,
        a: &AccountInfo,
    ) -> Result<()> {
        insert_snapshots(&mut self.conn, account, &[(time, a)])
    }

    fn snapshots(
        &mut self,
        account: Option<AccountId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SnapshotRecord>> {
        let mut q = snaps::table
            .filter(snaps::time.ge(DbTime(from)))
            .filter(snaps::time.lt(DbTime(to)))
            .order((snaps::time, snaps::id))
            .select(columns())
            .into_boxed();
        if let Some(a) = account {
            q = q.filter(snaps::account_id.eq(a.0));
        }
        let rows: Vec<Row> = q
            .load(&mut self.conn)
            .context("reading account snapshots")?;
        rows.into_iter().map(record).collect()
    }

    fn snapshot_before(
        &mut self,
        account: Option<AccountId>,
        time: DateTime<Utc>,
    ) -> Result<Option<SnapshotRecord>> {
        let mut q = snaps::table
            .filter(snaps::time.lt(DbTime(time)))
            .order((snaps::time.desc(), snaps::id.desc()))
            .select(columns())
            .into_boxed();
        if let Some(a) = account {
            q = q.filter(snaps::account_id.eq(a.0));
        }
        let row: Option<Row> = q
            .first(&mut self.conn)
            .optional()
            .context("reading the last account snapshot")?;
        row.map(record).transpose()
    }
}
