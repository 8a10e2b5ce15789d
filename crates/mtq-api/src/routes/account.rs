//! The account, its positions and pending orders, its risk and equity curve: from the trader's
//! newest snapshot and the database.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use mtq_persistence::HistoryRepo;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::extract::QueryParams;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::{ApiState, DEFAULT_ACCOUNT};
use crate::views::{AccountView, EquityPoint, PendingOrderView, PositionView, tag};

fn snapshot(state: &ApiState) -> ApiResult<std::sync::Arc<mtq_orchestrator::LiveSnapshot>> {
    state.snapshot().ok_or_else(|| {
        ApiError::conflict(
            "no_trader",
            "this server runs without a trader (serve --no-trade): live state is unavailable",
        )
    })
}

/// The accounts this server serves.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = [String]), (status = 401, body = Problem)))]
pub async fn list(_c: Caller, State(state): State<ApiState>) -> Json<Vec<String>> {
    let name = state
        .snapshot()
        .map_or_else(|| DEFAULT_ACCOUNT.to_string(), |s| s.account_name.clone());
    Json(vec![name])
}

/// Balance, equity, margin, connection and trading state.
#[utoipa::path(get, path = "/api/v1/accounts/{account}", tag = "accounts", security(("bearer" = [])),
    params(("account" = String, Path, description = "the account name (`default`)")),
    responses((status = 200, body = AccountView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn get(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
) -> ApiResult<Json<AccountView>> {
    state.account(&account)?;
    let s = snapshot(&state)?;
    Ok(Json(AccountView::from_snapshot(&s)))
}

/// Open positions.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/positions", tag = "positions", security(("bearer" = [])),
    params(("account" = String, Path)),
    responses((status = 200, body = [PositionView]), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn positions(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<PositionView>>> {
    state.account(&account)?;
    let s = snapshot(&state)?;
    Ok(Json(s.positions.iter().map(PositionView::from).collect()))
}

/// Parses a ticket in a path: anything but a number names no position.
pub(crate) fn ticket(raw: &str) -> ApiResult<u64> {
    raw.parse::<u64>().map_err(|_| {
        ApiError::not_found(format!("no position with ticket `{raw}`")).with_field("ticket")
    })
}

/// One open position.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/positions/{ticket}", tag = "positions", security(("bearer" = [])),
    params(("account" = String, Path), ("ticket" = u64, Path)),
    responses((status = 200, body = PositionView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn position(
    _c: Caller,
    State(state): State<ApiState>,
    Path((account, t)): Path<(String, String)>,
) -> ApiResult<Json<PositionView>> {
    state.account(&account)?;
    let t = ticket(&t)?;
    let s = snapshot(&state)?;
    s.positions
        .iter()
        .find(|p| p.ticket.0 == t)
        .map(|p| Json(PositionView::from(p)))
        .ok_or_else(|| {
            ApiError::not_found(format!("no open position with ticket {t}")).with_field("ticket")
        })
}

/// Pending orders waiting at the broker.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/pending-orders", tag = "orders", security(("bearer" = [])),
    params(("account" = String, Path)),
    responses((status = 200, body = [PendingOrderView]), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn pending(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<PendingOrderView>>> {
    state.account(&account)?;
    let s = snapshot(&state)?;
    Ok(Json(s.pending.iter().map(PendingOrderView::from).collect()))
}

/// Risk limits, how much of each is used, and exposure by currency.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RiskView {
    pub daily_pnl: Decimal,
    pub daily_loss_limit: Option<Decimal>,
    /// Share of the daily-loss limit used, 0..1 (absent without a limit).
    pub daily_loss_used: Option<Decimal>,
    pub drawdown_pct: Decimal,
    pub drawdown_limit_pct: Option<Decimal>,
    pub kill_switch: String,
    /// Net lots per currency: a buy of EURUSD is long EUR and short USD.
    pub exposure: BTreeMap<String, Decimal>,
}

#[utoipa::path(get, path = "/api/v1/accounts/{account}/risk", tag = "risk", security(("bearer" = [])),
    params(("account" = String, Path)),
    responses((status = 200, body = RiskView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn risk(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
) -> ApiResult<Json<RiskView>> {
    state.account(&account)?;
    let s = snapshot(&state)?;
    let mut exposure: BTreeMap<String, Decimal> = BTreeMap::new();
    for p in &s.positions {
        if let Some((base, quote)) = p.symbol.currency_pair() {
            let sign = if tag(&p.side) == "buy" {
                Decimal::ONE
            } else {
                -Decimal::ONE
            };
            *exposure.entry(base.as_str().to_string()).or_default() += sign * p.volume;
            *exposure.entry(quote.as_str().to_string()).or_default() -= sign * p.volume;
        }
    }
    let used = s.daily_loss_limit.filter(|l| !l.is_zero()).map(|l| {
        let loss = (-s.daily_pnl).max(Decimal::ZERO);
        (loss / l.abs()).min(Decimal::ONE)
    });
    Ok(Json(RiskView {
        daily_pnl: s.daily_pnl,
        daily_loss_limit: s.daily_loss_limit,
        daily_loss_used: used,
        drawdown_pct: s.drawdown_pct,
        drawdown_limit_pct: s.drawdown_limit_pct,
        kill_switch: s.kill_switch.clone(),
        exposure,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EquityQuery {
    /// Start (RFC 3339); default 30 days ago.
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339); default now.
    pub to: Option<DateTime<Utc>>,
    /// Seconds between points (at least 60); default 3600.
    pub step: Option<u32>,
}

/// The equity curve from recorded snapshots.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/equity", tag = "accounts", security(("bearer" = [])),
    params(("account" = String, Path), EquityQuery),
    responses((status = 200, body = [EquityPoint]), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn equity(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    QueryParams(q): QueryParams<EquityQuery>,
) -> ApiResult<Json<Vec<EquityPoint>>> {
    state.account(&account)?;
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q.from.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(ApiError::invalid("from", "`from` must be before `to`"));
    }
    let step = q.step.unwrap_or(3600);
    if step < 60 {
        return Err(ApiError::invalid("step", "`step` is at least 60 seconds"));
    }
    let acc = state.db_account();
    let curve = state
        .with_store(move |s| s.equity_curve(acc, from, to, Duration::seconds(i64::from(step))))
        .await?;
    Ok(Json(curve.points.iter().map(EquityPoint::from).collect()))
}
