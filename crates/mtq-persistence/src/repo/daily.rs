//! Daily performance: one row per account and UTC day, replaced whole when a day is recomputed.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;

use super::{to_i32, to_u32};
use crate::error::QueryContext;
use crate::schema::daily_performance as dp;
use crate::types::{DbDecimal, DbTime};
use crate::{Result, Store};

/// The `account_id` of rows that aggregate every account together.
pub const ALL_ACCOUNTS: i64 = 0;

/// One day's results. Money is in the account currency.
#[derive(Clone, Debug, PartialEq)]
pub struct DailyPerformanceRecord {
    /// An account id, or [`ALL_ACCOUNTS`].
    pub account_id: i64,
    pub date: NaiveDate,
    pub trades: u32,
    pub wins: u32,
    pub losses: u32,
    pub gross_profit: Decimal,
    /// Negative or zero.
    pub gross_loss: Decimal,
    pub net_profit: Decimal,
    pub commission: Decimal,
    pub swap: Decimal,
    pub largest_win: Decimal,
    pub largest_loss: Decimal,
    /// Wins / trades, 0..=1.
    pub win_rate: f64,
    /// `None` when the day had no losing trade.
    pub profit_factor: Option<f64>,
    pub start_equity: Option<Decimal>,
    pub end_equity: Option<Decimal>,
    pub max_drawdown: Decimal,
    /// Percent of the peak, 0..=100.
    pub max_drawdown_pct: f64,
    pub computed_at: DateTime<Utc>,
}

/// Reading and replacing days.
pub trait DailyPerformanceRepo {
    /// Writes the day, replacing any earlier row for the same account and date.
    fn replace_day(&mut self, day: &DailyPerformanceRecord) -> Result<()>;
    /// Days in `from..=to`, oldest first.
    fn days(
        &mut self,
        account_id: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyPerformanceRecord>>;
    /// The newest day written for `account_id` (an account id or [`ALL_ACCOUNTS`]), if any:
    /// where the scheduled aggregation resumes after a restart.
    fn last_day(&mut self, account_id: i64) -> Result<Option<NaiveDate>>;
}

#[derive(Queryable)]
struct Row {
    _id: i64,
    account_id: i64,
    date: NaiveDate,
    trades: i32,
    wins: i32,
    losses: i32,
    gross_profit: DbDecimal,
    gross_loss: DbDecimal,
    net_profit: DbDecimal,
    commission: DbDecimal,
    swap: DbDecimal,
    largest_win: DbDecimal,
    largest_loss: DbDecimal,
    win_rate: f64,
    profit_factor: Option<f64>,
    start_equity: Option<DbDecimal>,
    end_equity: Option<DbDecimal>,
    max_drawdown: DbDecimal,
    max_drawdown_pct: f64,
    computed_at: DbTime,
}

const T: &str = "daily_performance";

impl DailyPerformanceRepo for Store {
    fn replace_day(&mut self, d: &DailyPerformanceRecord) -> Result<()> {
        let values = (
            (
                dp::account_id.eq(d.account_id),
                dp::date.eq(d.date),
                dp::trades.eq(to_i32(d.trades, T, "trades")?),
                dp::wins.eq(to_i32(d.wins, T, "wins")?),
                dp::losses.eq(to_i32(d.losses, T, "losses")?),
                dp::gross_profit.eq(DbDecimal(d.gross_profit)),
                dp::gross_loss.eq(DbDecimal(d.gross_loss)),
                dp::net_profit.eq(DbDecimal(d.net_profit)),
                dp::commission.eq(DbDecimal(d.commission)),
                dp::swap.eq(DbDecimal(d.swap)),
            ),
            (
                dp::largest_win.eq(DbDecimal(d.largest_win)),
                dp::largest_loss.eq(DbDecimal(d.largest_loss)),
                dp::win_rate.eq(d.win_rate),
                dp::profit_factor.eq(d.profit_factor),
                dp::start_equity.eq(d.start_equity.map(DbDecimal)),
                dp::end_equity.eq(d.end_equity.map(DbDecimal)),
                dp::max_drawdown.eq(DbDecimal(d.max_drawdown)),
                dp::max_drawdown_pct.eq(d.max_drawdown_pct),
                dp::computed_at.eq(DbTime(d.computed_at)),
            ),
        );
        // Delete then insert in one transaction: portable (no ON CONFLICT across backends) and
        // idempotent, since the unique (account_id, date) key holds at most one row.
        self.transaction(|s| {
            diesel::delete(
                dp::table.filter(dp::account_id.eq(d.account_id).and(dp::date.eq(d.date))),
            )
            .execute(&mut s.conn)
            .context("removing the previous daily performance row")?;
            diesel::insert_into(dp::table)
                .values(values)
                .execute(&mut s.conn)
                .context("writing daily performance")?;
            Ok(())
        })
    }

    fn last_day(&mut self, account_id: i64) -> Result<Option<NaiveDate>> {
        dp::table
            .filter(dp::account_id.eq(account_id))
            .select(dp::date)
            .order(dp::date.desc())
            .first(&mut self.conn)
            .optional()
            .context("finding the last aggregated day")
    }

    fn days(
        &mut self,
        account_id: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyPerformanceRecord>> {
        let rows: Vec<Row> = dp::table
            .filter(dp::account_id.eq(account_id))
            .filter(dp::date.ge(from))
            .filter(dp::date.le(to))
            .order(dp::date)
            .load(&mut self.conn)
            .context("reading daily performance")?;
        rows.into_iter()
            .map(|r| {
                Ok(DailyPerformanceRecord {
                    account_id: r.account_id,
                    date: r.date,
                    trades: to_u32(r.trades, T, "trades")?,
                    wins: to_u32(r.wins, T, "wins")?,
                    losses: to_u32(r.losses, T, "losses")?,
                    gross_profit: r.gross_profit.0,
                    gross_loss: r.gross_loss.0,
                    net_profit: r.net_profit.0,
                    commission: r.commission.0,
                    swap: r.swap.0,
                    largest_win: r.largest_win.0,
                    largest_loss: r.largest_loss.0,
                    win_rate: r.win_rate,
                    profit_factor: r.profit_factor,
                    start_equity: r.start_equity.map(|d| d.0),
                    end_equity: r.end_equity.map(|d| d.0),
                    max_drawdown: r.max_drawdown.0,
                    max_drawdown_pct: r.max_drawdown_pct,
                    computed_at: r.computed_at.0,
                })
            })
            .collect()
    }
}
