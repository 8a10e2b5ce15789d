//! Backtests as `mtq-trader backtest` ran them: the headline figures for listing and sorting, and
//! the whole statistics object, the settings and a thinned equity curve as JSON, for a run's page.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mtq_core::{Symbol, Timeframe};
use rust_decimal::Decimal;

use super::parse_text;
use crate::error::QueryContext;
use crate::schema::backtest_runs as runs;
use crate::types::{DbDecimal, DbTime};
use crate::{PersistenceError, Result, Store};

/// The most runs one listing returns.
pub const MAX_BACKTESTS_LISTED: u32 = 200;

/// A backtest to record. `parameters`, `stats`, `settings` and `equity` are JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct NewBacktestRun {
    pub symbol: Symbol,
    pub strategy: String,
    pub timeframe: Timeframe,
    /// The strategy's effective parameters.
    pub parameters: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub bars: u64,
    pub trades: u64,
    pub net_profit: Decimal,
    pub return_pct: f64,
    pub win_rate: f64,
    pub profit_factor: Option<f64>,
    pub sharpe: Option<f64>,
    pub max_drawdown_pct: f64,
    /// `report.json`'s `stats` object.
    pub stats: String,
    /// What the run was given: data files, sizing, costs, fill.
    pub settings: String,
    /// `[[time, equity], ...]`, thinned to a few hundred points.
    pub equity: String,
    /// Where its report was written, if anywhere.
    pub report_dir: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A stored backtest.
#[derive(Clone, Debug, PartialEq)]
pub struct BacktestRunRecord {
    pub id: i64,
    pub run: NewBacktestRun,
}

/// Stored backtests.
pub trait BacktestRunRepo {
    /// Records a backtest; returns its id.
    fn record_backtest(&mut self, run: &NewBacktestRun) -> Result<i64>;
    /// The newest `limit` runs (at most [`MAX_BACKTESTS_LISTED`]), newest first.
    fn recent_backtests(&mut self, limit: u32) -> Result<Vec<BacktestRunRecord>>;
    fn backtest(&mut self, id: i64) -> Result<Option<BacktestRunRecord>>;
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    DbTime,
    DbTime,
    i64,
    i64,
    DbDecimal,
    f64,
    f64,
    Option<f64>,
    Option<f64>,
    f64,
    String,
    String,
    String,
    Option<String>,
    DbTime,
);

const T: &str = "backtest_runs";

fn to_i64(v: u64, column: &'static str) -> Result<i64> {
    super::to_i64(v, T, column)
}

fn to_u64(v: i64, column: &'static str) -> Result<u64> {
    u64::try_from(v).map_err(|_| PersistenceError::Data {
        table: T,
        column,
        value: v.to_string(),
        reason: "a count is never negative".into(),
    })
}

fn record(r: Row) -> Result<BacktestRunRecord> {
    Ok(BacktestRunRecord {
        id: r.0,
        run: NewBacktestRun {
            symbol: parse_text(&r.1, T, "symbol")?,
            strategy: r.2,
            timeframe: parse_text(&r.3, T, "timeframe")?,
            parameters: r.4,
            period_start: r.5.0,
            period_end: r.6.0,
            bars: to_u64(r.7, "bars")?,
            trades: to_u64(r.8, "trades")?,
            net_profit: r.9.0,
            return_pct: r.10,
            win_rate: r.11,
            profit_factor: r.12,
            sharpe: r.13,
            max_drawdown_pct: r.14,
            stats: r.15,
            settings: r.16,
            equity: r.17,
            report_dir: r.18,
            created_at: r.19.0,
        },
    })
}

impl BacktestRunRepo for Store {
    fn record_backtest(&mut self, r: &NewBacktestRun) -> Result<i64> {
        let (bars, trades) = (to_i64(r.bars, "bars")?, to_i64(r.trades, "trades")?);
        crate::conn::insert_returning_id!(
            &mut self.conn,
            diesel::insert_into(runs::table).values((
                (
                    runs::symbol.eq(r.symbol.as_str()),
                    runs::strategy.eq(&r.strategy),
                    runs::timeframe.eq(r.timeframe.to_string()),
                    runs::parameters.eq(&r.parameters),
                    runs::period_start.eq(DbTime(r.period_start)),
                    runs::period_end.eq(DbTime(r.period_end)),
                    runs::bars.eq(bars),
                    runs::trades.eq(trades),
                    runs::net_profit.eq(DbDecimal(r.net_profit)),
                    runs::return_pct.eq(r.return_pct),
                ),
                (
                    runs::win_rate.eq(r.win_rate),
                    runs::profit_factor.eq(r.profit_factor),
                    runs::sharpe.eq(r.sharpe),
                    runs::max_drawdown_pct.eq(r.max_drawdown_pct),
                    runs::stats.eq(&r.stats),
                    runs::settings.eq(&r.settings),
                    runs::equity.eq(&r.equity),
                    runs::report_dir.eq(r.report_dir.as_deref()),
                    runs::created_at.eq(DbTime(r.created_at)),
                ),
            )),
            runs::id
        )
        .context("recording a backtest run")
    }

    fn recent_backtests(&mut self, limit: u32) -> Result<Vec<BacktestRunRecord>> {
        let rows: Vec<Row> = runs::table
            .order((runs::created_at.desc(), runs::id.desc()))
            .limit(i64::from(limit.min(MAX_BACKTESTS_LISTED)))
            .load(&mut self.conn)
            .context("listing backtest runs")?;
        rows.into_iter().map(record).collect()
    }

    fn backtest(&mut self, id: i64) -> Result<Option<BacktestRunRecord>> {
        let row: Option<Row> = runs::table
            .find(id)
            .first(&mut self.conn)
            .optional()
            .context("reading a backtest run")?;
        row.map(record).transpose()
    }
}
