//! Listing what the optimiser stored, for the dashboard: the newest runs and every best
//! parameter set. Read-only, and written over [`OptimizationRepo`]'s own readers so a row is
//! decoded in one place.

use diesel::prelude::*;

use super::optimization::{BestParameters, OptimizationRepo, OptimizationRunRecord};
use crate::error::QueryContext;
use crate::schema::{best_parameters as best, optimization_runs as runs};
use crate::{Result, Store};

/// The most runs one listing returns.
pub const MAX_RUNS_LISTED: u32 = 200;

/// Read-only listings of optimiser runs and best parameters.
pub trait OptimizationListing {
    /// The newest `limit` runs (at most [`MAX_RUNS_LISTED`]), newest start first.
    fn recent_runs(&mut self, limit: u32) -> Result<Vec<OptimizationRunRecord>>;
    /// Every symbol, strategy and timeframe's best parameters, by symbol, strategy, timeframe.
    fn all_best_parameters(&mut self) -> Result<Vec<BestParameters>>;
}

impl OptimizationListing for Store {
    fn recent_runs(&mut self, limit: u32) -> Result<Vec<OptimizationRunRecord>> {
        let ids: Vec<i64> = runs::table
            .select(runs::id)
            .order((runs::started_at.desc(), runs::id.desc()))
            .limit(i64::from(limit.min(MAX_RUNS_LISTED)))
            .load(&mut self.conn)
            .context("listing optimisation runs")?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.run(id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn all_best_parameters(&mut self) -> Result<Vec<BestParameters>> {
        let keys: Vec<(String, String, String)> = best::table
            .select((best::symbol, best::strategy, best::timeframe))
            .order((best::symbol, best::strategy, best::timeframe))
            .load(&mut self.conn)
            .context("listing best parameters")?;
        let mut out = Vec::with_capacity(keys.len());
        for (symbol, strategy, timeframe) in keys {
            const T: &str = "best_parameters";
            let symbol = super::parse_text(&symbol, T, "symbol")?;
            let timeframe = super::parse_text(&timeframe, T, "timeframe")?;
            if let Some(b) = self.best_parameters(&symbol, &strategy, timeframe)? {
                out.push(b);
            }
        }
        Ok(out)
    }
}
