//! A distributed optimisation's bookkeeping: its runs grouped under one key, the chunks of
//! parameter sets it was cut into, and each chunk's results stored once.
//!
//! A chunk's results are written in one transaction with the chunk marked `done`; a chunk that
//! is already `done` (its work item was redelivered after a worker died, and both copies
//! finished) is skipped, and the unique `(run_id, set_index)` index refuses any set stored twice
//! by another path.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::optimization::{NewOptimizationResult, OptimizationRepo, OptimizationRunRecord};
use super::to_i32;
use crate::error::QueryContext;
use crate::schema::{
    optimization_chunks as chunks, optimization_results as results, optimization_runs as runs,
};
use crate::types::{DbDecimal, DbTime};
use crate::{Result, Store};

/// One chunk of a run's parameter sets: `sets` sets from `first_set` in enumeration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkPlan {
    pub chunk: u32,
    pub first_set: u64,
    pub sets: u32,
}

/// A planned chunk and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkRecord {
    pub run_id: i64,
    pub plan: ChunkPlan,
    /// `pending` or `done`.
    pub status: String,
    /// Sets of the chunk the strategy refused.
    pub invalid: u32,
    pub worker: Option<String>,
    pub seconds: Option<f64>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A finished chunk on its way to the database.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkResults {
    pub chunk: u32,
    /// `(set index, result)` for every set the strategy accepted.
    pub results: Vec<(u64, NewOptimizationResult)>,
    pub invalid: u32,
    pub worker: String,
    pub seconds: f64,
    pub finished_at: DateTime<Utc>,
}

/// Progress of one run: chunks and sets done of the planned ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkProgress {
    pub chunks: u32,
    pub chunks_done: u32,
    pub sets: u64,
    pub sets_done: u64,
}

/// Distributed optimisation bookkeeping.
pub trait OptimizationChunkRepo {
    /// Tags a run with the distributed run's key.
    fn set_distributed_run(&mut self, run_id: i64, key: &str) -> Result<()>;
    /// The runs tagged with `key`, by id.
    fn distributed_runs(&mut self, key: &str) -> Result<Vec<OptimizationRunRecord>>;
    /// Plans the run's chunks as `pending` (one transaction).
    fn plan_chunks(&mut self, run_id: i64, plan: &[ChunkPlan]) -> Result<()>;
    /// Stores a chunk's results and marks it `done`, once: `Ok(false)` when it was done
    /// already (nothing written).
    fn record_chunk(&mut self, run_id: i64, done: &ChunkResults) -> Result<bool>;
    /// Every chunk of the run, by chunk number.
    fn chunks(&mut self, run_id: i64) -> Result<Vec<ChunkRecord>>;
    fn chunk_progress(&mut self, run_id: i64) -> Result<ChunkProgress>;
    /// The run's stored results as `(set index, result)`, by set index (sets stored without an
    /// index, by a local run, are not listed).
    fn results_by_set(&mut self, run_id: i64) -> Result<Vec<(u64, NewOptimizationResult)>>;
}

type ChunkRow = (
    i64,
    i32,
    i64,
    i32,
    String,
    i32,
    Option<String>,
    Option<f64>,
    Option<DbTime>,
);

fn unsigned<T: TryFrom<i64>>(v: i64, column: &'static str) -> Result<T> {
    T::try_from(v).map_err(|_| crate::PersistenceError::Data {
        table: "optimization_chunks",
        column,
        value: v.to_string(),
        reason: "negative or too large".into(),
    })
}

impl OptimizationChunkRepo for Store {
    fn set_distributed_run(&mut self, run_id: i64, key: &str) -> Result<()> {
        diesel::update(runs::table.find(run_id))
            .set(runs::distributed_run.eq(Some(key)))
            .execute(&mut self.conn)
            .context("tagging a distributed optimisation run")?;
        Ok(())
    }

    fn distributed_runs(&mut self, key: &str) -> Result<Vec<OptimizationRunRecord>> {
        let ids: Vec<i64> = runs::table
            .select(runs::id)
            .filter(runs::distributed_run.eq(key))
            .order(runs::id)
            .load(&mut self.conn)
            .context("listing a distributed run's optimisation runs")?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.run(id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn plan_chunks(&mut self, run_id: i64, plan: &[ChunkPlan]) -> Result<()> {
        self.transaction(|s| {
            for p in plan {
                diesel::insert_into(chunks::table)
                    .values((
                        chunks::run_id.eq(run_id),
                        chunks::chunk.eq(to_i32(p.chunk, "optimization_chunks", "chunk")?),
                        chunks::first_set.eq(super::to_i64(
                            p.first_set,
                            "optimization_chunks",
                            "first_set",
                        )?),
                        chunks::sets.eq(to_i32(p.sets, "optimization_chunks", "sets")?),
                        chunks::status.eq("pending"),
                        chunks::invalid.eq(0),
                    ))
                    .execute(&mut s.conn)
                    .context("planning optimisation chunks")?;
            }
            Ok(())
        })
    }

    fn record_chunk(&mut self, run_id: i64, done: &ChunkResults) -> Result<bool> {
        let chunk = to_i32(done.chunk, "optimization_chunks", "chunk")?;
        self.transaction(|s| {
            let status: Option<String> = chunks::table
                .find((run_id, chunk))
                .select(chunks::status)
                .first(&mut s.conn)
                .optional()
                .context("reading an optimisation chunk")?;
            if status.as_deref() == Some("done") {
                return Ok(false);
            }
            for (index, r) in &done.results {
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
                        results::set_index.eq(Some(super::to_i64(
                            *index,
                            "optimization_results",
                            "set_index",
                        )?)),
                    ))
                    .execute(&mut s.conn)
                    .context("recording a chunk's optimisation results")?;
            }
            let values = (
                chunks::status.eq("done"),
                chunks::invalid.eq(to_i32(done.invalid, "optimization_chunks", "invalid")?),
                chunks::worker.eq(Some(&done.worker)),
                chunks::seconds.eq(Some(done.seconds)),
                chunks::finished_at.eq(Some(DbTime(done.finished_at))),
            );
            if status.is_some() {
                diesel::update(chunks::table.find((run_id, chunk)))
                    .set(values)
                    .execute(&mut s.conn)
                    .context("marking an optimisation chunk done")?;
            } else {
                return Err(crate::PersistenceError::Data {
                    table: "optimization_chunks",
                    column: "chunk",
                    value: done.chunk.to_string(),
                    reason: format!("run {run_id} has no such chunk planned"),
                });
            }
            Ok(true)
        })
    }

    fn chunks(&mut self, run_id: i64) -> Result<Vec<ChunkRecord>> {
        let rows: Vec<ChunkRow> = chunks::table
            .filter(chunks::run_id.eq(run_id))
            .order(chunks::chunk)
            .load(&mut self.conn)
            .context("reading optimisation chunks")?;
        rows.into_iter()
            .map(|r| {
                Ok(ChunkRecord {
                    run_id: r.0,
                    plan: ChunkPlan {
                        chunk: unsigned(i64::from(r.1), "chunk")?,
                        first_set: unsigned(r.2, "first_set")?,
                        sets: unsigned(i64::from(r.3), "sets")?,
                    },
                    status: r.4,
                    invalid: unsigned(i64::from(r.5), "invalid")?,
                    worker: r.6,
                    seconds: r.7,
                    finished_at: r.8.map(|t| t.0),
                })
            })
            .collect()
    }

    fn chunk_progress(&mut self, run_id: i64) -> Result<ChunkProgress> {
        let mut p = ChunkProgress::default();
        for c in self.chunks(run_id)? {
            p.chunks += 1;
            p.sets += u64::from(c.plan.sets);
            if c.status == "done" {
                p.chunks_done += 1;
                p.sets_done += u64::from(c.plan.sets);
            }
        }
        Ok(p)
    }

    fn results_by_set(&mut self, run_id: i64) -> Result<Vec<(u64, NewOptimizationResult)>> {
        type Row = (
            Option<i64>,
            String,
            f64,
            DbDecimal,
            Option<f64>,
            Option<f64>,
            f64,
            i32,
            f64,
        );
        let rows: Vec<Row> = results::table
            .filter(results::run_id.eq(run_id))
            .filter(results::set_index.is_not_null())
            .select((
                results::set_index,
                results::parameters,
                results::score,
                results::net_profit,
                results::profit_factor,
                results::sharpe,
                results::max_drawdown_pct,
                results::trades,
                results::win_rate,
            ))
            .order(results::set_index)
            .load(&mut self.conn)
            .context("reading optimisation results by set")?;
        rows.into_iter()
            .filter_map(|r| r.0.map(|i| (i, r)))
            .map(|(i, r)| {
                Ok((
                    unsigned(i, "set_index")?,
                    NewOptimizationResult {
                        parameters: r.1,
                        score: r.2,
                        net_profit: r.3.0,
                        profit_factor: r.4,
                        sharpe: r.5,
                        max_drawdown_pct: r.6,
                        trades: unsigned(i64::from(r.7), "trades")?,
                        win_rate: r.8,
                    },
                ))
            })
            .collect()
    }
}
