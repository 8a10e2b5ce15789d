//! Trades, signals, orders and audit events from the database, newest first with cursor paging.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use mtq_persistence::{
    Cursor, EventFilter, HistoryRepo, OrderFilter, PageRequest, SignalFilter, TradeFilter,
    TradeStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::extract::QueryParams;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::ApiState;
use crate::views::{EventView, OrderView, PageView, SignalView, TradeView, TransitionView};

/// The most rows one page may ask for.
pub const MAX_LIMIT: u32 = 500;

fn page(limit: Option<u32>, cursor: Option<&str>) -> ApiResult<PageRequest> {
    let limit = limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(
            "limit",
            format!("limit is 1 to {MAX_LIMIT}"),
        ));
    }
    let after = cursor
        .map(Cursor::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("cursor", format!("cursor: {}", e.0)))?;
    Ok(PageRequest { limit, after })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TradeQuery {
    pub symbol: Option<String>,
    pub strategy: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Entry time from (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// 1 to 500 (default 100).
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

impl TradeQuery {
    fn filter(&self, state: &ApiState) -> ApiResult<TradeFilter> {
        let status = match self.status.as_deref() {
            None => None,
            Some("open") => Some(TradeStatus::Open),
            Some("closed") => Some(TradeStatus::Closed),
            Some(other) => {
                return Err(ApiError::invalid(
                    "status",
                    format!("status `{other}`: use open or closed"),
                ));
            }
        };
        Ok(TradeFilter {
            account: state.db_account(),
            symbol: self.symbol.clone(),
            strategy: self.strategy.clone(),
            status,
            from: self.from,
            to: self.to,
        })
    }
}

/// Trades, newest entry first.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/trades", tag = "history", security(("bearer" = [])),
    params(("account" = String, Path), TradeQuery),
    responses((status = 200, body = PageView<TradeView>), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn trades(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    QueryParams(q): QueryParams<TradeQuery>,
) -> ApiResult<Json<PageView<TradeView>>> {
    let state = state.account(&account)?;
    let f = q.filter(&state)?;
    let p = page(q.limit, q.cursor.as_deref())?;
    let got = state.with_store(move |s| s.trades_page(&f, p)).await?;
    Ok(Json(PageView {
        items: got.items.iter().map(TradeView::from).collect(),
        next: got.next.map(|c| c.to_string()),
    }))
}

/// The same trades as CSV (one page; follow `X-Next-Cursor`).
#[utoipa::path(get, path = "/api/v1/accounts/{account}/trades.csv", tag = "history", security(("bearer" = [])),
    params(("account" = String, Path), TradeQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn trades_csv(
    c: Caller,
    state: State<ApiState>,
    account: Path<String>,
    q: QueryParams<TradeQuery>,
) -> ApiResult<impl IntoResponse> {
    let Json(page) = trades(c, state, account, q).await?;
    let mut out = String::from(
        "id,ticket,symbol,side,volume,entry_time,entry_price,exit_time,exit_price,sl,tp,commission,swap,profit,net_profit,strategy,status,exit_reason\n",
    );
    let opt = |d: Option<String>| d.unwrap_or_default();
    for t in &page.items {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            t.id,
            t.ticket,
            csv(&t.symbol),
            t.side,
            t.volume,
            t.entry_time.to_rfc3339(),
            t.entry_price,
            opt(t.exit_time.map(|x| x.to_rfc3339())),
            opt(t.exit_price.map(|x| x.to_string())),
            opt(t.sl.map(|x| x.to_string())),
            opt(t.tp.map(|x| x.to_string())),
            t.commission,
            t.swap,
            t.profit,
            t.net_profit,
            csv(t.strategy.as_deref().unwrap_or("")),
            t.status,
            opt(t.exit_reason.clone()),
        ));
    }
    let next = page.next.unwrap_or_default();
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::HeaderName::from_static("x-next-cursor"), next),
        ],
        out,
    ))
}

/// Quotes a CSV field when it needs it.
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TradeDetailView {
    pub trade: TradeView,
    pub signal: Option<SignalView>,
    pub orders: Vec<OrderView>,
}

/// One trade with the signal that opened it and its orders.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/trades/{id}", tag = "history", security(("bearer" = [])),
    params(("account" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = TradeDetailView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn trade(
    _c: Caller,
    State(state): State<ApiState>,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<TradeDetailView>> {
    let state = state.account(&account)?;
    let not_found = || ApiError::not_found(format!("no trade with id `{id}`")).with_field("id");
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let d = state
        .with_store(move |s| s.trade_detail(n))
        .await?
        .ok_or_else(not_found)?;
    if state
        .db_account()
        .is_some_and(|a| d.trade.account != Some(a))
    {
        return Err(not_found());
    }
    Ok(Json(TradeDetailView {
        trade: TradeView::from(&d.trade),
        signal: d.signal.as_ref().map(SignalView::from),
        orders: d
            .orders
            .iter()
            .map(|o| {
                let mut v = OrderView::from(&o.order);
                v.transitions = o.transitions.iter().map(TransitionView::from).collect();
                v
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SignalQuery {
    pub symbol: Option<String>,
    pub strategy: Option<String>,
    /// `executed` or `refused`.
    pub fate: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Signals with their fate and refusal reason, newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/signals", tag = "history", security(("bearer" = [])),
    params(("account" = String, Path), SignalQuery),
    responses((status = 200, body = PageView<SignalView>), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn signals(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    QueryParams(q): QueryParams<SignalQuery>,
) -> ApiResult<Json<PageView<SignalView>>> {
    let state = state.account(&account)?;
    let executed = match q.fate.as_deref() {
        None => None,
        Some("executed") => Some(true),
        Some("refused") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid(
                "fate",
                format!("fate `{other}`: use executed or refused"),
            ));
        }
    };
    let f = SignalFilter {
        account: state.db_account(),
        symbol: q.symbol,
        strategy: q.strategy,
        executed,
        from: q.from,
        to: q.to,
    };
    let p = page(q.limit, q.cursor.as_deref())?;
    let got = state.with_store(move |s| s.signals_page(&f, p)).await?;
    Ok(Json(PageView {
        items: got.items.iter().map(SignalView::from).collect(),
        next: got.next.map(|c| c.to_string()),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    pub symbol: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Order intents and their outcomes, newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/orders", tag = "orders", security(("bearer" = [])),
    params(("account" = String, Path), OrderQuery),
    responses((status = 200, body = PageView<OrderView>), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn orders(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    QueryParams(q): QueryParams<OrderQuery>,
) -> ApiResult<Json<PageView<OrderView>>> {
    let state = state.account(&account)?;
    let f = OrderFilter {
        account: state.db_account(),
        symbol: q.symbol,
        state: None,
        from: q.from,
        to: q.to,
    };
    let p = page(q.limit, q.cursor.as_deref())?;
    let got = state.with_store(move |s| s.orders_page(&f, p)).await?;
    Ok(Json(PageView {
        items: got.items.iter().map(OrderView::from).collect(),
        next: got.next.map(|c| c.to_string()),
    }))
}

/// The order record with this row id, when it belongs to the served account.
pub(crate) async fn order_record(state: &ApiState, id: &str) -> ApiResult<OrderView> {
    let not_found = || ApiError::not_found(format!("no order with id `{id}`")).with_field("id");
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let d = state
        .with_store(move |s| s.order_detail(n))
        .await?
        .ok_or_else(not_found)?;
    if state
        .db_account()
        .is_some_and(|a| d.order.account != Some(a))
    {
        return Err(not_found());
    }
    let mut v = OrderView::from(&d.order);
    v.transitions = d.transitions.iter().map(TransitionView::from).collect();
    Ok(v)
}

/// One order intent with every state it went through.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("account" = String, Path), ("id" = i64, Path, description = "the order's `id`")),
    responses((status = 200, body = OrderView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn order(
    _c: Caller,
    State(state): State<ApiState>,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<OrderView>> {
    let state = state.account(&account)?;
    Ok(Json(order_record(&state, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// The event type (`operator_command`, `kill_switch`, `config_reloaded`, ...).
    pub kind: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

async fn events(
    state: &ApiState,
    kind: Option<String>,
    q: EventQuery,
) -> ApiResult<Json<PageView<EventView>>> {
    let f = EventFilter {
        account: state.db_account(),
        kind,
        from: q.from,
        to: q.to,
    };
    let p = page(q.limit, q.cursor.as_deref())?;
    let got = state.with_store(move |s| s.events_page(&f, p)).await?;
    Ok(Json(PageView {
        items: got.items.iter().map(EventView::from).collect(),
        next: got.next.map(|c| c.to_string()),
    }))
}

/// The audit trail: operator commands, kill-switch changes, reloads and every recorded event.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/audit", tag = "history", security(("bearer" = [])),
    params(("account" = String, Path), EventQuery),
    responses((status = 200, body = PageView<EventView>), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn audit(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    QueryParams(q): QueryParams<EventQuery>,
) -> ApiResult<Json<PageView<EventView>>> {
    let state = state.account(&account)?;
    let kind = q.kind.clone();
    events(&state, kind, q).await
}

/// The configuration's change history (reloads).
#[utoipa::path(get, path = "/api/v1/accounts/{account}/config/history", tag = "system", security(("bearer" = [])),
    params(("account" = String, Path), EventQuery),
    responses((status = 200, body = PageView<EventView>), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn config_history(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    QueryParams(q): QueryParams<EventQuery>,
) -> ApiResult<Json<PageView<EventView>>> {
    let state = state.account(&account)?;
    events(&state, Some("config_reloaded".into()), q).await
}
