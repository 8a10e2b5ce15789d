//! What `mtq-trader backtest --database-url ...` stored: its runs, newest first, and each run with
//! its statistics, settings and equity curve. Read-only; any authenticated caller.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use mtq_persistence::{BacktestRunRecord, BacktestRunRepo, MAX_BACKTESTS_LISTED};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::extract::QueryParams;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::ApiState;

/// JSON the backtest wrote as text, back as JSON (as the text it is, should it not parse).
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

/// A stored backtest: what was tested and its headline figures (the run's own route adds its
/// statistics, settings and equity curve).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BacktestRunView {
    pub id: i64,
    pub symbol: String,
    pub strategy: String,
    pub timeframe: String,
    /// The strategy's effective parameters.
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub bars: u64,
    pub trades: u64,
    #[schema(value_type = String)]
    pub net_profit: rust_decimal::Decimal,
    pub return_pct: f64,
    /// Percent of trades that made money (0 to 100).
    pub win_rate: f64,
    pub profit_factor: Option<f64>,
    pub sharpe: Option<f64>,
    pub max_drawdown_pct: f64,
    /// Where its report was written, if anywhere.
    pub report_dir: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `report.json`'s statistics (on `/backtests/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub stats: Option<serde_json::Value>,
    /// What the run was given: data files, sizing, costs, fill (on `/backtests/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// `[[time, equity], ...]`, at most 500 points (on `/backtests/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub equity: Option<serde_json::Value>,
}

impl BacktestRunView {
    fn new(r: &BacktestRunRecord, whole: bool) -> Self {
        let x = &r.run;
        Self {
            id: r.id,
            symbol: x.symbol.to_string(),
            strategy: x.strategy.clone(),
            timeframe: x.timeframe.to_string(),
            parameters: json(&x.parameters),
            period_start: x.period_start,
            period_end: x.period_end,
            bars: x.bars,
            trades: x.trades,
            net_profit: x.net_profit,
            return_pct: x.return_pct,
            win_rate: x.win_rate,
            profit_factor: x.profit_factor,
            sharpe: x.sharpe,
            max_drawdown_pct: x.max_drawdown_pct,
            report_dir: x.report_dir.clone(),
            created_at: x.created_at,
            stats: whole.then(|| json(&x.stats)),
            settings: whole.then(|| json(&x.settings)),
            equity: whole.then(|| json(&x.equity)),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BacktestListQuery {
    /// 1 to 200 runs (default 50).
    pub limit: Option<u32>,
}

/// The newest stored backtests, newest first.
#[utoipa::path(get, path = "/api/v1/backtests", tag = "optimization", security(("bearer" = [])),
    params(BacktestListQuery),
    responses((status = 200, body = Vec<BacktestRunView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn runs(
    _c: Caller,
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<BacktestListQuery>,
) -> ApiResult<Json<Vec<BacktestRunView>>> {
    let n = match q.limit.unwrap_or(50) {
        n @ 1.. if n <= MAX_BACKTESTS_LISTED => n,
        _ => {
            return Err(ApiError::invalid(
                "limit",
                format!("limit is 1 to {MAX_BACKTESTS_LISTED}"),
            ));
        }
    };
    let got = state.with_store(move |s| s.recent_backtests(n)).await?;
    Ok(Json(
        got.iter().map(|r| BacktestRunView::new(r, false)).collect(),
    ))
}

/// One stored backtest with its statistics, settings and equity curve.
#[utoipa::path(get, path = "/api/v1/backtests/{id}", tag = "optimization", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = BacktestRunView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn run(
    _c: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<BacktestRunView>> {
    let id: i64 = id.parse().map_err(|_| {
        ApiError::invalid("id", format!("backtest id `{id}` is not a whole number"))
    })?;
    let got = state.with_store(move |s| s.backtest(id)).await?;
    got.map(|r| Json(BacktestRunView::new(&r, true)))
        .ok_or_else(|| ApiError::not_found(format!("no backtest run {id}")))
}
