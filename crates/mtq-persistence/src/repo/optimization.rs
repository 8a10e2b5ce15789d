//! Optimiser runs, their results, and the best parameters per symbol, strategy and timeframe.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mtq_core::{Symbol, Timeframe};
use rust_decimal::Decimal;

use super::{parse_text, to_i32, to_u32};
use crate::error::QueryContext;
use crate::schema::{
    best_parameters as best, optimization_results as results, optimization_runs as runs,
};
use crate::types::{DbDecimal, DbTime};
use crate::{Result, Store};

/// An optimiser run to start. `parameter_space` is JSON, as the optimiser describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOptimizationRun {
    pub symbol: Symbol,
    pub strategy: String,
    pub timeframe: Timeframe,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// What is maximised (`sharpe`, `net_profit`, ...).
    pub objective: String,
    pub parameter_space: String,
    pub started_at: DateTime<Utc>,
}

/// A stored run.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizationRunRecord {
    pub id: i64,
    pub run: NewOptimizationRun,
    /// `running`, `finished`, `failed`...
    pub status: String,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One evaluated parameter set. `parameters` is JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOptimizationResult {
    pub parameters: String,
    pub score: f64,
    pub net_profit: Decimal,
    pub profit_factor: Option<f64>,
    pub sharpe: Option<f64>,
    pub max_drawdown_pct: f64,
    pub trades: u32,
    pub win_rate: f64,
}

/// A stored result.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizationResultRecord {
    pub id: i64,
    pub run_id: i64,
    pub result: NewOptimizationResult,
}

/// The parameters the trader uses for a symbol, strategy and timeframe.
#[derive(Clone, Debug, PartialEq)]
pub struct BestParameters {
    pub symbol: Symbol,
    pub strategy: String,
    pub timeframe: Timeframe,
    /// JSON.
    pub parameters: String,
    pub score: f64,
    pub run_id: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

/// Optimiser bookkeeping.
pub trait OptimizationRepo {
    /// Records a run as `running`; returns its id.
    fn start_run(&mut self, run: &NewOptimizationRun) -> Result<i64>;
    fn record_results(&mut self, run_id: i64, results: &[NewOptimizationResult]) -> Result<()>;
    fn finish_run(&mut self, run_id: i64, status: &str, at: DateTime<Utc>) -> Result<()>;
    fn run(&mut self, run_id: i64) -> Result<Option<OptimizationRunRecord>>;
    /// The `limit` best results of a run, best score first.
    fn top_results(&mut self, run_id: i64, limit: u32) -> Result<Vec<OptimizationResultRecord>>;
    /// Replaces the best parameters for the symbol, strategy and timeframe.
    fn set_best_parameters(&mut self, best: &BestParameters) -> Result<()>;
    fn best_parameters(
        &mut self,
        symbol: &Symbol,
        strategy: &str,
        timeframe: Timeframe,
    ) -> Result<Option<BestParameters>>;
}

type RunRow = (
    i64,
    String,
    String,
    String,
    DbTime,
    DbTime,
    String,
    String,
    String,
    DbTime,
    Option<DbTime>,
    Option<String>,
);
type ResultRow = (
    i64,
    i64,
    String,
    f64,
    DbDecimal,
    Option<f64>,
    Option<f64>,
    f64,
    i32,
    f64,
    Option<i64>,
);
type BestRow = (
    i64,
    String,
    String,
    String,
    String,
    f64,
    Option<i64>,
    DbTime,
);

impl OptimizationRepo for Store {
    fn start_run(&mut self, r: &NewOptimizationRun) -> Result<i64> {
        crate::conn::insert_returning_id!(
            &mut self.conn,
            diesel::insert_into(runs::table).values((
                runs::symbol.eq(r.symbol.as_str()),
                runs::strategy.eq(&r.strategy),
                runs::timeframe.eq(r.timeframe.to_string()),
                runs::period_start.eq(DbTime(r.period_start)),
                runs::period_end.eq(DbTime(r.period_end)),
                runs::objective.eq(&r.objective),
                runs::parameter_space.eq(&r.parameter_space),
                runs::status.eq("running"),
                runs::started_at.eq(DbTime(r.started_at)),
            )),
            runs::id
        )
        .context("starting an optimisation run")
    }

    fn record_results(&mut self, run_id: i64, rs: &[NewOptimizationResult]) -> Result<()> {
        self.transaction(|s| {
            for r in rs {
                diesel::insert_into(results::table)
                    .values((
                        results::run_id.eq(run_id),
                        results::parameters.eq(&r.parameters),
                        results::score.eq(r.score),
                        results::net_profit.eq(DbDecimal(r.net_profit)),
                        results::profit_factor.eq(r.profit_factor),
                        results::sharpe.eq(r.sharpe),
                        results::max_drawdown_pct.eq(r.max_drawdown_pct),
                        results::trades.eq(to_i32(r.trades, "optimization_results", "trades")?),
                        results::win_rate.eq(r.win_rate),
                    ))
                    .execute(&mut s.conn)
                    .context("recording optimisation results")?;
            }
            Ok(())
        })
    }

    fn finish_run(&mut self, run_id: i64, status: &str, at: DateTime<Utc>) -> Result<()> {
        diesel::update(runs::table.find(run_id))
            .set((
                runs::status.eq(status),
                runs::finished_at.eq(Some(DbTime(at))),
            ))
            .execute(&mut self.conn)
            .context("finishing an optimisation run")?;
        Ok(())
    }

    fn run(&mut self, run_id: i64) -> Result<Option<OptimizationRunRecord>> {
        let row: Option<RunRow> = runs::table
            .find(run_id)
            .first(&mut self.conn)
            .optional()
            .context("reading an optimisation run")?;
        let Some(r) = row else { return Ok(None) };
        const T: &str = "optimization_runs";
        Ok(Some(OptimizationRunRecord {
            id: r.0,
            run: NewOptimizationRun {
                symbol: parse_text(&r.1, T, "symbol")?,
                strategy: r.2,
                timeframe: parse_text(&r.3, T, "timeframe")?,
                period_start: r.4.0,
                period_end: r.5.0,
                objective: r.6,
                parameter_space: r.7,
                started_at: r.9.0,
            },
            status: r.8,
            finished_at: r.10.map(|t| t.0),
        }))
    }

    fn top_results(&mut self, run_id: i64, limit: u32) -> Result<Vec<OptimizationResultRecord>> {
        let rows: Vec<ResultRow> = results::table
            .filter(results::run_id.eq(run_id))
            .order((results::score.desc(), results::id))
            .limit(i64::from(limit))
            .load(&mut self.conn)
            .context("reading optimisation results")?;
        rows.into_iter()
            .map(|r| {
                Ok(OptimizationResultRecord {
                    id: r.0,
                    run_id: r.1,
                    result: NewOptimizationResult {
                        parameters: r.2,
                        score: r.3,
                        net_profit: r.4.0,
                        profit_factor: r.5,
                        sharpe: r.6,
                        max_drawdown_pct: r.7,
                        trades: to_u32(r.8, "optimization_results", "trades")?,
                        win_rate: r.9,
                    },
                })
            })
            .collect()
    }

    fn set_best_parameters(&mut self, b: &BestParameters) -> Result<()> {
        let tf = b.timeframe.to_string();
        self.transaction(|s| {
            let key = best::symbol
                .eq(b.symbol.as_str())
                .and(best::strategy.eq(&b.strategy))
                .and(best::timeframe.eq(&tf));
            diesel::delete(best::table.filter(key))
                .execute(&mut s.conn)
                .context("replacing best parameters")?;
            diesel::insert_into(best::table)
                .values((
                    best::symbol.eq(b.symbol.as_str()),
                    best::strategy.eq(&b.strategy),
                    best::timeframe.eq(&tf),
                    best::parameters.eq(&b.parameters),
                    best::score.eq(b.score),
                    best::run_id.eq(b.run_id),
                    best::updated_at.eq(DbTime(b.updated_at)),
                ))
                .execute(&mut s.conn)
                .context("writing best parameters")?;
            Ok(())
        })
    }

    fn best_parameters(
        &mut self,
        symbol: &Symbol,
        strategy: &str,
        timeframe: Timeframe,
    ) -> Result<Option<BestParameters>> {
        let row: Option<BestRow> = best::table
            .filter(best::symbol.eq(symbol.as_str()))
            .filter(best::strategy.eq(strategy))
            .filter(best::timeframe.eq(timeframe.to_string()))
            .first(&mut self.conn)
            .optional()
            .context("reading best parameters")?;
        row.map(|r| {
            const T: &str = "best_parameters";
            Ok(BestParameters {
                symbol: parse_text(&r.1, T, "symbol")?,
                strategy: r.2,
                timeframe: parse_text(&r.3, T, "timeframe")?,
                parameters: r.4,
                score: r.5,
                run_id: r.6,
                updated_at: r.7.0,
            })
        })
        .transpose()
    }
}
