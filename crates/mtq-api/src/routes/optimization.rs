//! What the optimiser stored (`mtq-trader optimize --database-url ...`): its runs, each run's
//! best results, and the best parameters per symbol, strategy and timeframe. Read-only; any
//! authenticated caller.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use mtq_persistence::{
    BestParameters, MAX_RUNS_LISTED, OptimizationListing, OptimizationRepo,
    OptimizationResultRecord, OptimizationRunRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::extract::QueryParams;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::ApiState;

/// The most results of one run a request may ask for.
pub const MAX_RESULTS: u32 = 500;

/// JSON the optimiser wrote as text, back as JSON (as the text it is, should it not parse).
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OptimizationResultView {
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    pub score: f64,
    #[schema(value_type = String)]
    pub net_profit: rust_decimal::Decimal,
    pub profit_factor: Option<f64>,
    pub sharpe: Option<f64>,
    pub max_drawdown_pct: f64,
    pub trades: u32,
    pub win_rate: f64,
}

impl From<&OptimizationResultRecord> for OptimizationResultView {
    fn from(r: &OptimizationResultRecord) -> Self {
        let x = &r.result;
        Self {
            parameters: json(&x.parameters),
            score: x.score,
            net_profit: x.net_profit,
            profit_factor: x.profit_factor,
            sharpe: x.sharpe,
            max_drawdown_pct: x.max_drawdown_pct,
            trades: x.trades,
            win_rate: x.win_rate,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OptimizationRunView {
    pub id: i64,
    pub symbol: String,
    pub strategy: String,
    pub timeframe: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// What was maximised (`sharpe`, `net_profit`, ...).
    pub objective: String,
    /// The parameter ranges searched.
    #[schema(value_type = Object)]
    pub parameter_space: serde_json::Value,
    /// `running`, `finished`, `failed`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The best-scoring result, or the `limit` best on the run's own route.
    pub results: Vec<OptimizationResultView>,
}

impl OptimizationRunView {
    fn new(r: &OptimizationRunRecord, results: &[OptimizationResultRecord]) -> Self {
        Self {
            id: r.id,
            symbol: r.run.symbol.to_string(),
            strategy: r.run.strategy.clone(),
            timeframe: r.run.timeframe.to_string(),
            period_start: r.run.period_start,
            period_end: r.run.period_end,
            objective: r.run.objective.clone(),
            parameter_space: json(&r.run.parameter_space),
            status: r.status.clone(),
            started_at: r.run.started_at,
            finished_at: r.finished_at,
            results: results.iter().map(OptimizationResultView::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    /// 1 to 200 runs, or 1 to 500 results of one run (default 50).
    pub limit: Option<u32>,
}

fn limit(q: &LimitQuery, max: u32) -> ApiResult<u32> {
    match q.limit.unwrap_or(50) {
        n @ 1.. if n <= max => Ok(n),
        _ => Err(ApiError::invalid("limit", format!("limit is 1 to {max}"))),
    }
}

/// The newest optimisation runs, each with its best result.
#[utoipa::path(get, path = "/api/v1/optimizations", tag = "optimization", security(("bearer" = [])),
    params(LimitQuery),
    responses((status = 200, body = Vec<OptimizationRunView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn runs(
    _c: Caller,
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<LimitQuery>,
) -> ApiResult<Json<Vec<OptimizationRunView>>> {
    let n = limit(&q, MAX_RUNS_LISTED)?;
    let got = state
        .with_store(move |s| {
            let runs = s.recent_runs(n)?;
            let mut out = Vec::with_capacity(runs.len());
            for r in runs {
                let best = s.top_results(r.id, 1)?;
                out.push(OptimizationRunView::new(&r, &best));
            }
            Ok(out)
        })
        .await?;
    Ok(Json(got))
}

/// One optimisation run with its `limit` best results, best score first.
#[utoipa::path(get, path = "/api/v1/optimizations/{id}", tag = "optimization", security(("bearer" = [])),
    params(("id" = i64, Path), LimitQuery),
    responses((status = 200, body = OptimizationRunView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn run(
    _c: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<LimitQuery>,
) -> ApiResult<Json<OptimizationRunView>> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid("id", format!("run id `{id}` is not a whole number")))?;
    let n = limit(&q, MAX_RESULTS)?;
    let got = state
        .with_store(move |s| {
            let Some(r) = s.run(id)? else {
                return Ok(None);
            };
            let top = s.top_results(id, n)?;
            Ok(Some(OptimizationRunView::new(&r, &top)))
        })
        .await?;
    got.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no optimisation run {id}")))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BestParametersView {
    pub symbol: String,
    pub strategy: String,
    pub timeframe: String,
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    pub score: f64,
    /// The optimisation run that found them.
    pub run_id: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

impl From<&BestParameters> for BestParametersView {
    fn from(b: &BestParameters) -> Self {
        Self {
            symbol: b.symbol.to_string(),
            strategy: b.strategy.clone(),
            timeframe: b.timeframe.to_string(),
            parameters: json(&b.parameters),
            score: b.score,
            run_id: b.run_id,
            updated_at: b.updated_at,
        }
    }
}

/// The best parameters per symbol, strategy and timeframe, as the optimiser last stored them.
#[utoipa::path(get, path = "/api/v1/best-parameters", tag = "optimization", security(("bearer" = [])),
    responses((status = 200, body = Vec<BestParametersView>), (status = 401, body = Problem)))]
pub async fn best_parameters(
    _c: Caller,
    State(state): State<ApiState>,
) -> ApiResult<Json<Vec<BestParametersView>>> {
    let got = state.with_store(|s| s.all_best_parameters()).await?;
    Ok(Json(got.iter().map(BestParametersView::from).collect()))
}
