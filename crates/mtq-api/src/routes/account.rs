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
use crate::state::ApiState;
use crate::views::{AccountView, EquityPoint, PendingOrderView, PositionView, tag};

fn snapshot(state: &ApiState) -> ApiResult<std::sync::Arc<mtq_orchestrator::LiveSnapshot>> {
    state.snapshot().ok_or_else(|| {
        ApiError::conflict(
            "no_trader",
            "this server runs without a trader (serve --no-trade): live state is unavailable",
        )
    })
}

/// One account as `GET /accounts` lists it: its connection state and its figures.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountListItem {
    pub name: String,
    /// `connected`, `disconnected`, `starting` (no broker read yet) or `not_running` (no
    /// trader in this process for it).
    pub connection: String,
    /// Why, as the account's connection journal last said (`the broker does not answer`).
    pub connection_reason: Option<String>,
    /// When the connection state last changed.
    pub connection_changed_at: Option<DateTime<Utc>>,
    /// When its driver was last seen alive.
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// `sim` or `mt5`, once registered.
    pub broker_kind: Option<String>,
    pub login: Option<u64>,
    pub server: Option<String>,
    pub currency: Option<String>,
    pub balance: Option<Decimal>,
    pub equity: Option<Decimal>,
    pub daily_pnl: Option<Decimal>,
    pub open_positions: usize,
    /// `running`, `entries_paused` or `stopped` (absent without a trader).
    pub trading: Option<String>,
    /// `active`, `reduce_only` or `halted` (absent without a trader).
    pub kill_switch: Option<String>,
}

/// Every account this server serves, with its connection state.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = [AccountListItem]), (status = 401, body = Problem)))]
pub async fn list(
    _c: Caller,
    State(state): State<ApiState>,
) -> ApiResult<Json<Vec<AccountListItem>>> {
    use mtq_persistence::TradingAccountRepo;
    let rows = state.with_store(|s| s.trading_accounts()).await?;
    let items = state
        .accounts()
        .iter()
        .map(|served| {
            let row = rows.iter().find(|r| r.name == served.name);
            let snap = served.control.as_ref().map(|c| c.snapshot());
            let connection = match &snap {
                None => "not_running",
                Some(s) if s.health.broker_connected && s.account.is_some() => "connected",
                Some(s)
                    if s.account.is_none() && row.is_none_or(|r| r.state_changed_at.is_none()) =>
                {
                    "starting"
                }
                Some(_) => "disconnected",
            };
            let info = snap.as_ref().and_then(|s| s.account.as_ref());
            AccountListItem {
                name: served.name.clone(),
                connection: connection.into(),
                connection_reason: row.map(|r| r.state_reason.clone()),
                connection_changed_at: row.and_then(|r| r.state_changed_at),
                last_heartbeat: snap
                    .as_ref()
                    .and_then(|s| s.health.loop_alive)
                    .or_else(|| row.and_then(|r| r.last_heartbeat)),
                broker_kind: row.map(|r| r.broker_kind.as_str().to_string()),
                login: info.map(|a| a.login).or_else(|| row.and_then(|r| r.login)),
                server: info
                    .map(|a| a.server.clone())
                    .or_else(|| row.map(|r| r.server.clone()).filter(|s| !s.is_empty())),
                currency: info
                    .map(|a| a.currency.as_str().to_string())
                    .or_else(|| row.map(|r| r.currency.as_str().to_string())),
                balance: info.map(|a| a.balance),
                equity: info.map(|a| a.equity),
                daily_pnl: snap
                    .as_ref()
                    .filter(|s| s.account.is_some())
                    .map(|s| s.daily_pnl),
                open_positions: snap.as_ref().map_or(0, |s| s.positions.len()),
                trading: snap.as_ref().map(|s| tag(&s.trading)),
                kill_switch: snap.as_ref().map(|s| s.kill_switch.clone()),
            }
        })
        .collect();
    Ok(Json(items))
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
    let state = state.account(&account)?;
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
    let state = state.account(&account)?;
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
    let state = state.account(&account)?;
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
    let state = state.account(&account)?;
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
    let state = state.account(&account)?;
    let s = snapshot(&state)?;
    Ok(Json(risk_view(&s)))
}

/// An account's risk figures from its trader's snapshot.
pub(crate) fn risk_view(s: &mtq_orchestrator::LiveSnapshot) -> RiskView {
    let exposure = mtq_orchestrator::currency_exposure(&s.positions)
        .into_iter()
        .map(|(c, lots)| (c.as_str().to_string(), lots))
        .collect();
    let used = s.daily_loss_limit.filter(|l| !l.is_zero()).map(|l| {
        let loss = (-s.daily_pnl).max(Decimal::ZERO);
        (loss / l.abs()).min(Decimal::ONE)
    });
    RiskView {
        daily_pnl: s.daily_pnl,
        daily_loss_limit: s.daily_loss_limit,
        daily_loss_used: used,
        drawdown_pct: s.drawdown_pct,
        drawdown_limit_pct: s.drawdown_limit_pct,
        kill_switch: s.kill_switch.clone(),
        exposure,
    }
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
    let state = state.account(&account)?;
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
