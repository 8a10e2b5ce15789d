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
    /// The trader's last cycle is at most two minutes old (absent without a trader).
    pub loop_fresh: Option<bool>,
    pub broker_connected: Option<bool>,
    pub database_writable: bool,
}

/// Ready to trade: the loop is fresh, the broker connected and the database writable.
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
    let snap = state.snapshot();
    let loop_fresh = snap.as_ref().map(|s| {
        s.health
            .loop_alive
            .is_some_and(|t| (chrono::Utc::now() - t).num_seconds() <= READY_STALE_SECS)
    });
    let broker_connected = snap.as_ref().map(|s| s.health.broker_connected);
    let ready = database_writable && loop_fresh.unwrap_or(true) && broker_connected.unwrap_or(true);
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
