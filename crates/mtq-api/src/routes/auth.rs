//! Login, refresh, logout and WebSocket tickets.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use chrono::Utc;
use mtq_orchestrator::Role;
use mtq_persistence::{NewRefreshToken, RefreshTokenRepo, Rotation, UserRepo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{ACCESS_TTL, Caller, REFRESH_TTL, TICKET_TTL};
use crate::extract::JsonBody;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::secret::{random_hex, sha256_hex, verify_secret};
use crate::state::ApiState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Tokens {
    pub access_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Single use: `POST /auth/refresh` replaces it.
    pub refresh_token: String,
    #[schema(value_type = String)]
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A placeholder hash to verify against for unknown users, so the answer takes as long as for
/// a known one (argon2id of a random string; it matches nothing a client can send).
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J1hJ9Q7V6r0i2bXx1m0Jw3pWcXcN2QO6qgS0cJm3b7M";

/// Logs a dashboard user in: a 15-minute access token and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = Tokens), (status = 401, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(body): JsonBody<Login>,
) -> ApiResult<Json<Tokens>> {
    state.auth().check_login(peer.ip(), &body.username)?;
    let name = body.username.clone();
    let user = state.with_store(move |s| s.user_by_name(&name)).await?;
    let phc = user
        .as_ref()
        .filter(|u| !u.is_disabled())
        .map_or(DUMMY_PHC.to_string(), |u| u.password_hash.clone());
    let pw = body.password;
    let ok = tokio::task::spawn_blocking(move || verify_secret(&pw, &phc))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(u) if ok && !u.is_disabled() => u,
        _ => {
            state.auth_failed("password");
            return Err(ApiError::unauthorized("wrong user name or password"));
        }
    };
    issue(&state, user.id, &user.username, &user.role).await
}

async fn issue(state: &ApiState, uid: i64, username: &str, role: &str) -> ApiResult<Json<Tokens>> {
    let role: Role = role.parse().map_err(ApiError::internal)?;
    let access = state.auth().issue_access(username, uid, role)?;
    let refresh = random_hex(32).map_err(ApiError::internal)?;
    let now = Utc::now();
    let row = NewRefreshToken {
        token_hash: sha256_hex(&refresh),
        user_id: uid,
        issued_at: now,
        expires_at: now + REFRESH_TTL,
    };
    state
        .with_store(move |s| s.insert_refresh_token(&row).map(|_| ()))
        .await?;
    Ok(Json(Tokens {
        access_token: access,
        expires_in: ACCESS_TTL.as_secs(),
        refresh_token: refresh,
        role,
    }))
}

/// Trades a refresh token for new tokens; the old one stops working. Replaying a used refresh
/// token revokes every token of its user.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = Tokens), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn refresh(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<Json<Tokens>> {
    let old = sha256_hex(&body.refresh_token);
    let fresh = random_hex(32).map_err(ApiError::internal)?;
    let fresh_hash = sha256_hex(&fresh);
    let now = Utc::now();
    let rotation = state
        .with_store(move |s| {
            let Some(current) = s.refresh_token(&old)? else {
                return Ok(Rotation::Unknown);
            };
            let row = NewRefreshToken {
                token_hash: fresh_hash.clone(),
                user_id: current.user_id,
                issued_at: now,
                expires_at: now + REFRESH_TTL,
            };
            s.rotate_refresh_token(&old, &row, now)
        })
        .await?;
    let record = match rotation {
        Rotation::Rotated(r) => r,
        Rotation::Expired => {
            return Err(ApiError::unauthorized(
                "the refresh token has expired: log in again",
            ));
        }
        Rotation::Unknown | Rotation::Reused { .. } => {
            return Err(ApiError::unauthorized(
                "the refresh token is invalid: log in again",
            ));
        }
    };
    let uid = record.user_id;
    let user = state
        .with_store(move |s| s.user(uid))
        .await?
        .filter(|u| !u.is_disabled())
        .ok_or_else(|| ApiError::unauthorized("the user is disabled"))?;
    let role: Role = user.role.parse().map_err(ApiError::internal)?;
    Ok(Json(Tokens {
        access_token: state.auth().issue_access(&user.username, user.id, role)?,
        expires_in: ACCESS_TTL.as_secs(),
        refresh_token: fresh,
        role,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Done {
    pub ok: bool,
}

/// Logs out: every refresh token of the calling user is revoked (access tokens expire within
/// 15 minutes).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Done), (status = 401, body = Problem)))]
pub async fn logout(caller: Caller, State(state): State<ApiState>) -> ApiResult<Json<Done>> {
    if let Some(uid) = caller.user_id {
        let now = Utc::now();
        state
            .with_store(move |s| s.revoke_user_refresh_tokens(uid, now))
            .await?;
    }
    Ok(Json(Done { ok: true }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WsTicket {
    /// Open `/api/v1/ws?ticket=<ticket>` within `expires_in` seconds; it works once.
    pub ticket: String,
    pub expires_in: u64,
}

/// A single-use, short-lived ticket to open the WebSocket from a browser.
#[utoipa::path(post, path = "/api/v1/auth/ws-ticket", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = WsTicket), (status = 401, body = Problem)))]
pub async fn ws_ticket(caller: Caller, State(state): State<ApiState>) -> ApiResult<Json<WsTicket>> {
    Ok(Json(WsTicket {
        ticket: state.auth().issue_ticket(&caller)?,
        expires_in: TICKET_TTL.as_secs(),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub id: String,
    #[schema(value_type = String)]
    pub role: Role,
}

/// Who the credentials belong to.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        id: caller.id,
        role: caller.role,
    })
}
