//! Liveness, readiness, version and configuration.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::problem::{ApiResult, Problem};
use crate::state::ApiState;

/// How stale the trader's last cycle may be before `/readyz` says not ready.
pub const READY_STALE_SECS: i64 = 120;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// Every served trader's last cycle is at most two minutes old (absent without a trader).
    pub loop_fresh: Option<bool>,
    /// Every served trader's broker is connected (absent without a trader).
    pub broker_connected: Option<bool>,
    pub database_writable: bool,
    /// Each account this server serves with a trader, in the order `GET /accounts` lists them.
    pub accounts: Vec<AccountReadiness>,
}

/// One account's part of the readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountReadiness {
    pub name: String,
    pub ready: bool,
    pub loop_fresh: bool,
    pub broker_connected: bool,
}

/// Ready to trade: every account's loop is fresh and its broker connected, and the database
/// writable. With several accounts (`accounts:`), one account whose terminal is away makes the
/// process not ready, and the body says which.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<ApiState>) -> impl IntoResponse {
    let database_writable = state
        .with_store(|s| {
            use diesel_probe::Probe;
            s.probe()
        })
        .await
        .is_ok();
    let now = chrono::Utc::now();
    let accounts: Vec<AccountReadiness> = state
        .accounts()
        .iter()
        .filter_map(|a| {
            let snap = a.control.as_ref()?.snapshot();
            let loop_fresh = snap
                .health
                .loop_alive
                .is_some_and(|t| (now - t).num_seconds() <= READY_STALE_SECS);
            let broker_connected = snap.health.broker_connected;
            Some(AccountReadiness {
                name: a.name.clone(),
                ready: loop_fresh && broker_connected,
                loop_fresh,
                broker_connected,
            })
        })
        .collect();
    let traded = !accounts.is_empty();
    let loop_fresh = traded.then(|| accounts.iter().all(|a| a.loop_fresh));
    let broker_connected = traded.then(|| accounts.iter().all(|a| a.broker_connected));
    let ready = database_writable && accounts.iter().all(|a| a.ready);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            loop_fresh,
            broker_connected,
            database_writable,
            accounts,
        }),
    )
}

/// A cheap database round trip for readiness.
mod diesel_probe {
    use mtq_persistence::{AccountRepo, Store};

    pub(super) trait Probe {
        fn probe(&mut self) -> mtq_persistence::Result<()>;
    }

    impl Probe for Store {
        fn probe(&mut self) -> mtq_persistence::Result<()> {
            self.accounts().map(|_| ())
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub name: String,
    pub version: String,
    pub api: String,
}

/// The server's version.
#[utoipa::path(get, path = "/api/v1/version", tag = "system", security(("bearer" = [])),
    responses((status = 200, body = Version), (status = 401, body = Problem)))]
pub async fn version(_caller: Caller) -> Json<Version> {
    Json(Version {
        name: "mtq".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        api: "v1".into(),
    })
}

/// The running configuration, with secrets removed.
#[utoipa::path(get, path = "/api/v1/config", tag = "system", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = Problem)))]
pub async fn config(
    _caller: Caller,
    State(state): State<ApiState>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(state.options().redacted_config.clone()))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// The least severe level shown: `error`, `warn`, `info` (default), `debug` or `trace`.
    pub level: Option<String>,
    /// Only lines logged after this time (RFC 3339).
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// The newest lines, 1 to 5000 (default 500).
    pub limit: Option<u32>,
}

/// The process's recent log lines, oldest first (admin).
#[utoipa::path(get, path = "/api/v1/logs", tag = "system", security(("bearer" = [])),
    params(LogQuery),
    responses((status = 200, body = [crate::logs::LogLine]), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn logs(
    crate::auth::Admin(_c): crate::auth::Admin,
    State(state): State<ApiState>,
    crate::extract::QueryParams(q): crate::extract::QueryParams<LogQuery>,
) -> ApiResult<Json<Vec<crate::logs::LogLine>>> {
    use crate::problem::ApiError;
    let level = q.level.as_deref().unwrap_or("info");
    let max = crate::logs::severity(level).ok_or_else(|| {
        ApiError::invalid(
            "level",
            format!("level `{level}`: use error, warn, info, debug or trace"),
        )
    })?;
    let limit = q.limit.unwrap_or(500);
    if limit == 0 || limit as usize > crate::logs::LOG_LINES {
        return Err(ApiError::invalid(
            "limit",
            format!("limit is 1 to {}", crate::logs::LOG_LINES),
        ));
    }
    let buf = state.options().logs.as_ref().ok_or_else(|| {
        ApiError::conflict(
            "logs_off",
            "this server keeps no log lines (started without the log buffer)",
        )
    })?;
    Ok(Json(buf.recent(max, q.since, limit as usize)))
}
