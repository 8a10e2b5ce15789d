//! The alert history (`alert_history`): every delivery of an operator notification and how
//! it went, newest first.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use mtq_persistence::{AlertRecord, AuditRepo};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::extract::QueryParams;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::ApiState;

/// The most deliveries one page may ask for.
pub const MAX_ALERTS: u32 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// 1 to 500, 100 by default.
    pub limit: Option<u32>,
    /// Only deliveries older than this id (the previous page's `next`).
    pub before: Option<i64>,
    /// `telegram`, `webhook` or `email`.
    pub channel: Option<String>,
}

/// One delivery and its outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: i64,
    pub time: DateTime<Utc>,
    pub channel: String,
    /// `kill_switch_tripped`, `position_opened`, ..., `test`.
    pub event_type: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    pub title: String,
    pub message: String,
    pub delivered: bool,
    pub attempts: u32,
    /// Identical alerts the dedup window folded into this one.
    pub repeats: u32,
    pub error: Option<String>,
}

impl From<AlertRecord> for AlertView {
    fn from(r: AlertRecord) -> Self {
        let a = r.alert;
        Self {
            id: r.id,
            time: a.time,
            channel: a.channel,
            event_type: a.event_type,
            severity: a.severity,
            title: a.title,
            message: a.message,
            delivered: a.delivered,
            attempts: a.attempts,
            repeats: a.repeats,
            error: a.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    pub items: Vec<AlertView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next: Option<i64>,
}

/// The alert history, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])),
    params(AlertQuery),
    responses((status = 200, body = AlertPage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn history(
    _c: Caller,
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<AlertQuery>,
) -> ApiResult<Json<AlertPage>> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_ALERTS {
        return Err(ApiError::invalid(
            "limit",
            format!("limit is 1 to {MAX_ALERTS}"),
        ));
    }
    if let Some(c) = &q.channel
        && !["telegram", "webhook", "email"].contains(&c.as_str())
    {
        return Err(ApiError::invalid(
            "channel",
            format!("unknown channel `{c}`: use telegram, webhook or email"),
        ));
    }
    let (before, channel) = (q.before, q.channel);
    let rows = state
        .with_store(move |s| s.recent_alerts(i64::from(limit) + 1, before, channel.as_deref()))
        .await?;
    let more = rows.len() > limit as usize;
    let items: Vec<AlertView> = rows
        .into_iter()
        .take(limit as usize)
        .map(AlertView::from)
        .collect();
    let next = if more {
        items.last().map(|a| a.id)
    } else {
        None
    };
    Ok(Json(AlertPage { items, next }))
}
