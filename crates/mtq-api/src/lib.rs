//! # mtq-api: the operator API
//!
//! Owns MTQ's HTTP surface: REST under `/api/v1/accounts/{account}/...` (each account the
//! process runs, `default` for a one-account file), the WebSocket `/api/v1/ws`, `/healthz` and
//! `/readyz`, authentication (API keys and dashboard users), roles, rate limits, RFC 9457
//! problem documents, and the OpenAPI 3.1 document generated from the handlers (served at
//! `/api/openapi.json`, with a vendored Swagger UI at `/api/docs`). It also keeps the process's
//! recent log lines ([`LogBuffer`], fed by a `tracing` layer) for admins, and computes the
//! indicators the dashboard's chart draws over journalled bars (`routes::bars`).
//!
//! It does **not** trade, call the broker or write SQL: commands go to the live driver through
//! its control channel ([`mtq_orchestrator::ControlHandle`]), which executes them between cycles
//! with the same executor, intents and records as the strategy's orders; live state comes from
//! the driver's published snapshot and event stream; history comes from `mtq-persistence`'s
//! repositories. Binding the listener and deciding what may be exposed is `mtq-trader serve`'s
//! job.
//!
//! **Roles.** viewer reads, trader also steers (pause, close, modify, manual orders, trip the
//! kill switch), admin also resets the kill switch and reloads the configuration. Every route
//! but `/healthz`, `/readyz`, `/api/docs`, login and refresh needs credentials.
//!
//! ```
//! use mtq_api::{ApiOptions, ApiState, create_api_key};
//! use mtq_orchestrator::Role;
//! use mtq_persistence::Store;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("mtq-api-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let url = format!("sqlite://{}", dir.join("api.db").display());
//! let key = create_api_key(&mut Store::open(&url)?, "grafana", Role::Viewer)?;
//! assert!(key.key.starts_with("mtq_")); // shown once; only its argon2id hash is stored
//!
//! // No trader behind it (`serve --no-trade`): history only.
//! let state = ApiState::new(Store::open(&url)?, None, ApiOptions::new(vec![7; 32]))?;
//! let (_router, openapi) = mtq_api::router(state);
//! assert!(openapi.paths.paths.contains_key("/api/v1/accounts/{account}/trades"));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```

mod auth;
mod extract;
pub mod logs;
pub mod metrics;
mod problem;
pub mod routes;
mod secret;
mod state;
mod views;
pub mod ws;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{
    ACCESS_TTL, Admin, Caller, CreatedKey, MIN_JWT_SECRET, MIN_PASSWORD, REFRESH_TTL, RateLimits,
    TICKET_TTL, Trader, create_api_key, create_user,
};
pub use logs::{LOG_LINES, LogBuffer, LogLayer, LogLine};
pub use problem::{ApiError, ApiResult, Problem};
pub use secret::{hash_secret, new_jwt_secret};
pub use state::{
    ApiOptions, ApiState, AuthFailureHook, BODY_LIMIT, DEFAULT_ACCOUNT, ServedAccount,
};
pub use views::*;
pub use ws::{CLOSE_SLOW, WS_HEARTBEAT, WsEnvelope};

/// Why the API could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ApiSetupError {
    #[error("the JWT secret has {0} bytes: it needs at least {MIN_JWT_SECRET}")]
    WeakJwtSecret(usize),
    #[error("the JWT key could not be built: {0}")]
    Jwt(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("a password needs at least {0} characters")]
    WeakPassword(usize),
    #[error("user name `{0}`: use 1 to 64 of A-Z a-z 0-9 . _ -")]
    BadUsername(String),
    #[error(
        "CORS origin `{0}` is not a valid origin (scheme://host[:port], no `*`, no trailing slash)"
    )]
    BadOrigin(String),
    #[error(transparent)]
    Database(#[from] mtq_persistence::PersistenceError),
}

/// The whole API as one router (serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`, which login's per-IP limit needs) and
/// its OpenAPI document.
pub fn router(state: ApiState) -> (Router, OpenApi) {
    let (routes, mut openapi) = routes::table().split_for_parts();
    openapi.info.title = "MTQ operator API".into();
    openapi.info.version = env!("CARGO_PKG_VERSION").into();
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "an API key `mtq_<id>_<secret>` or an access token from /api/v1/auth/login",
                ))
                .build(),
        ),
    );
    let cors = cors_layer(&state.options().cors_origins);
    let app = routes
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi.clone()))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(
            // Paths only: query strings can carry a WebSocket ticket, and headers carry secrets.
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
            }),
        )
        .with_state(state);
    let app = match cors {
        Some(c) => app.layer(c),
        None => app,
    };
    (app, openapi)
}

/// Checks CORS origins as `serve` must before it starts: `scheme://host[:port]`, never `*`.
pub fn validate_origins(origins: &[String]) -> Result<(), ApiSetupError> {
    for o in origins {
        let ok = (o.starts_with("http://") || o.starts_with("https://"))
            && !o.ends_with('/')
            && !o.contains('*')
            && HeaderValue::from_str(o).is_ok();
        if !ok {
            return Err(ApiSetupError::BadOrigin(o.clone()));
        }
    }
    Ok(())
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter(|o| validate_origins(std::slice::from_ref(o)).is_ok())
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if list.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(list))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("idempotency-key"),
            ]),
    )
}
