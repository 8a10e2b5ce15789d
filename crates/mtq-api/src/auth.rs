//! Who is calling: API keys, dashboard users (access JWT + rotated refresh token), WebSocket
//! tickets, roles and rate limits.
//!
//! An API key reads `mtq_<key id>_<secret>` and travels as `Authorization: Bearer <key>` or
//! `X-API-Key: <key>`; the database keeps the key id and an argon2id hash of the secret. Because
//! argon2id is slow on purpose, a verified key's SHA-256 is kept in memory and compared in
//! constant time on later requests; the key's row is still read on each request, so a revoked
//! key stops working at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mtq_orchestrator::{Actor, Role};
use mtq_persistence::{ApiKeyRecord, ApiKeyRepo, NewApiKey, NewUser, Store, UserRepo};
use serde::{Deserialize, Serialize};

use crate::ApiSetupError;
use crate::problem::ApiError;
use crate::secret::{ct_eq, hash_secret, random_hex, sha256_hex, verify_secret};
use crate::state::ApiState;

/// How long an access token lives: 15 minutes.
pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a refresh token lives: 30 days (each use replaces it).
pub const REFRESH_TTL: chrono::TimeDelta = chrono::TimeDelta::days(30);
/// How long a WebSocket ticket lives: long enough to open the socket, no longer.
pub const TICKET_TTL: Duration = Duration::from_secs(30);
/// The shortest JWT signing secret accepted (HS256 wants at least the hash's 32 bytes).
pub const MIN_JWT_SECRET: usize = 32;

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// `key:<key id>` or `user:<name>`: never a secret.
    pub id: String,
    pub role: Role,
    /// The user's row id, for logout and refresh rotation.
    pub user_id: Option<i64>,
}

impl Caller {
    /// Refuses (403) a caller weaker than `need`.
    pub fn require(&self, need: Role) -> Result<(), ApiError> {
        if self.role >= need {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} has role {}; this needs {need}",
                self.id, self.role
            )))
        }
    }

    /// The actor recorded with a command.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.id.clone(),
            role: self.role,
            via: "api".into(),
        }
    }
}

/// A request from any authenticated caller (viewer or above).
impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let presented = presented_credential(parts).ok_or_else(|| {
            ApiError::unauthorized(
                "credentials required: send `Authorization: Bearer <API key or access token>`",
            )
        })?;
        let (what, verified) = match presented {
            Credential::ApiKey(key) => ("api_key", state.auth().verify_key(state, &key).await),
            Credential::Jwt(token) => ("access_token", state.auth().verify_access(&token)),
        };
        let caller = verified.inspect_err(|e| {
            if e.status == axum::http::StatusCode::UNAUTHORIZED {
                state.auth_failed(what);
            }
        })?;
        state.auth().check_key_budget(&caller.id)?;
        Ok(caller)
    }
}

enum Credential {
    ApiKey(String),
    Jwt(String),
}

fn presented_credential(parts: &Parts) -> Option<Credential> {
    if let Some(k) = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(Credential::ApiKey(k.trim().to_string()));
    }
    let auth = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))?
        .trim();
    if token.starts_with(KEY_PREFIX) {
        Some(Credential::ApiKey(token.to_string()))
    } else {
        Some(Credential::Jwt(token.to_string()))
    }
}

const KEY_PREFIX: &str = "mtq_";

/// Splits `mtq_<id>_<secret>`.
fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    uid: i64,
    role: Role,
    iat: i64,
    exp: i64,
    typ: String,
}

/// Rate limits: how many requests an API key or user may make, how many login attempts an IP
/// may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per second per key or user.
    pub per_key_per_second: NonZeroU32,
    /// Login attempts per minute per IP address (and per user name).
    pub logins_per_minute: NonZeroU32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_key_per_second: NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
            logins_per_minute: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// Signing keys, verified-key cache, WebSocket tickets and rate limiters.
pub(crate) struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// key id -> SHA-256 of the secret verified with argon2id.
    verified: Mutex<HashMap<String, String>>,
    tickets: Mutex<HashMap<String, (Caller, Instant)>>,
    per_key: DefaultKeyedRateLimiter<String>,
    login_ip: DefaultKeyedRateLimiter<IpAddr>,
    login_user: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { .. }")
    }
}

impl Auth {
    /// `jwt_secret` signs access tokens; it must be at least [`MIN_JWT_SECRET`] bytes.
    pub(crate) fn new(jwt_secret: &[u8], limits: RateLimits) -> Result<Self, ApiSetupError> {
        if jwt_secret.len() < MIN_JWT_SECRET {
            return Err(ApiSetupError::WeakJwtSecret(jwt_secret.len()));
        }
        let enc =
            EncodingKey::from_secret(jwt_secret).map_err(|e| ApiSetupError::Jwt(e.to_string()))?;
        let dec =
            DecodingKey::from_secret(jwt_secret).map_err(|e| ApiSetupError::Jwt(e.to_string()))?;
        Ok(Self {
            encoding: enc,
            decoding: dec,
            verified: Mutex::new(HashMap::new()),
            tickets: Mutex::new(HashMap::new()),
            per_key: RateLimiter::keyed(Quota::per_second(limits.per_key_per_second)),
            login_ip: RateLimiter::keyed(Quota::per_minute(limits.logins_per_minute)),
            login_user: RateLimiter::keyed(Quota::per_minute(limits.logins_per_minute)),
        })
    }

    async fn verify_key(&self, state: &ApiState, key: &str) -> Result<Caller, ApiError> {
        let bad = || ApiError::unauthorized("the API key is unknown, revoked or malformed");
        let (id, secret) = split_key(key).ok_or_else(bad)?;
        let (id, secret) = (id.to_string(), secret.to_string());
        let record: Option<ApiKeyRecord> = state
            .with_store({
                let id = id.clone();
                move |s| s.api_key(&id)
            })
            .await?;
        let record = record.filter(|r| !r.is_revoked()).ok_or_else(bad)?;
        let digest = sha256_hex(&secret);
        let cached = self.verified.lock().ok().and_then(|m| m.get(&id).cloned());
        let ok = match cached {
            Some(d) => ct_eq(&d, &digest),
            None => {
                let phc = record.secret_hash.clone();
                let s = secret.clone();
                let ok = tokio::task::spawn_blocking(move || verify_secret(&s, &phc))
                    .await
                    .unwrap_or(false);
                if ok && let Ok(mut m) = self.verified.lock() {
                    m.insert(id.clone(), digest);
                }
                ok
            }
        };
        if !ok {
            return Err(bad());
        }
        let role = record.role.parse::<Role>().map_err(ApiError::internal)?;
        Ok(Caller {
            id: format!("key:{id}"),
            role,
            user_id: None,
        })
    }

    fn verify_access(&self, token: &str) -> Result<Caller, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("the access token has expired: refresh it")
                }
                _ => ApiError::unauthorized("the access token is invalid"),
            }
        })?;
        if data.claims.typ != "access" {
            return Err(ApiError::unauthorized("the access token is invalid"));
        }
        Ok(Caller {
            id: format!("user:{}", data.claims.sub),
            role: data.claims.role,
            user_id: Some(data.claims.uid),
        })
    }

    /// A signed access token for a user, valid for [`ACCESS_TTL`].
    pub(crate) fn issue_access(
        &self,
        user: &str,
        uid: i64,
        role: Role,
    ) -> Result<String, ApiError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.to_string(),
            uid,
            role,
            iat: now,
            exp: now + i64::try_from(ACCESS_TTL.as_secs()).unwrap_or(900),
            typ: "access".into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    fn check_key_budget(&self, id: &str) -> Result<(), ApiError> {
        self.per_key.check_key(&id.to_string()).map_err(|n| {
            ApiError::too_many(retry_secs(n.wait_time_from(DefaultClock::default().now())))
        })
    }

    /// Counts one login attempt from `ip` for `user`; 429 once either is over budget.
    pub(crate) fn check_login(&self, ip: IpAddr, user: &str) -> Result<(), ApiError> {
        let now = DefaultClock::default().now();
        self.login_ip
            .check_key(&ip)
            .map_err(|n| ApiError::too_many(retry_secs(n.wait_time_from(now))))?;
        self.login_user
            .check_key(&user.to_string())
            .map_err(|n| ApiError::too_many(retry_secs(n.wait_time_from(now))))
    }

    /// A single-use WebSocket ticket for `caller`, valid for [`TICKET_TTL`].
    pub(crate) fn issue_ticket(&self, caller: &Caller) -> Result<String, ApiError> {
        let ticket = random_hex(24).map_err(ApiError::internal)?;
        let mut m = self
            .tickets
            .lock()
            .map_err(|_| ApiError::internal("ticket table poisoned"))?;
        let now = Instant::now();
        m.retain(|_, (_, at)| now.duration_since(*at) < TICKET_TTL);
        m.insert(ticket.clone(), (caller.clone(), now));
        Ok(ticket)
    }

    /// Redeems a ticket once: a second use, an unknown or an expired ticket is `None`.
    pub(crate) fn redeem_ticket(&self, ticket: &str) -> Option<Caller> {
        let mut m = self.tickets.lock().ok()?;
        let (caller, at) = m.remove(ticket)?;
        (at.elapsed() < TICKET_TTL).then_some(caller)
    }
}

fn retry_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A freshly created API key: the secret is shown once and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedKey {
    pub record: ApiKeyRecord,
    /// The whole key to give the client: `mtq_<id>_<secret>`.
    pub key: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// Creates an API key with `role`, storing only its argon2id hash.
pub fn create_api_key(
    store: &mut Store,
    name: &str,
    role: Role,
) -> Result<CreatedKey, ApiSetupError> {
    let key_id = random_hex(6)?;
    let secret = random_hex(24)?;
    let record = store.create_api_key(&NewApiKey {
        key_id: key_id.clone(),
        name: name.to_string(),
        role: role.as_str().to_string(),
        secret_hash: hash_secret(&secret)?,
        created_at: Utc::now(),
    })?;
    Ok(CreatedKey {
        record,
        key: format!("{KEY_PREFIX}{key_id}_{secret}"),
    })
}

/// The shortest password accepted for a dashboard user.
pub const MIN_PASSWORD: usize = 12;

/// Creates a dashboard user with an argon2id-hashed password.
pub fn create_user(
    store: &mut Store,
    username: &str,
    password: &str,
    role: Role,
) -> Result<mtq_persistence::UserRecord, ApiSetupError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(ApiSetupError::WeakPassword(MIN_PASSWORD));
    }
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(ApiSetupError::BadUsername(username.to_string()));
    }
    Ok(store.create_user(&NewUser {
        username: username.to_string(),
        password_hash: hash_secret(password)?,
        role: role.as_str().to_string(),
        created_at: Utc::now(),
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_splits_into_id_and_secret_and_junk_does_not() {
        assert_eq!(split_key("mtq_ab12_s3cr3t"), Some(("ab12", "s3cr3t")));
        assert_eq!(split_key("mtq__s"), None);
        assert_eq!(split_key("mtq_ab12_"), None);
        assert_eq!(split_key("ab12_secret"), None);
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        assert!(matches!(
            Auth::new(b"short", RateLimits::default()),
            Err(ApiSetupError::WeakJwtSecret(5))
        ));
    }

    #[test]
    fn a_ticket_is_redeemed_once() {
        let auth = Auth::new(&[7u8; 32], RateLimits::default()).unwrap();
        let c = Caller {
            id: "key:x".into(),
            role: Role::Viewer,
            user_id: None,
        };
        let t = auth.issue_ticket(&c).unwrap();
        assert_eq!(auth.redeem_ticket(&t), Some(c));
        assert_eq!(auth.redeem_ticket(&t), None);
        assert_eq!(auth.redeem_ticket("forged"), None);
    }

    #[test]
    fn an_access_token_round_trips_and_a_forged_one_is_refused() {
        let auth = Auth::new(&[7u8; 32], RateLimits::default()).unwrap();
        let t = auth.issue_access("ann", 3, Role::Trader).unwrap();
        let c = auth.verify_access(&t).unwrap();
        assert_eq!(
            (c.id.as_str(), c.role, c.user_id),
            ("user:ann", Role::Trader, Some(3))
        );
        let other = Auth::new(&[8u8; 32], RateLimits::default()).unwrap();
        let forged = other.issue_access("ann", 3, Role::Admin).unwrap();
        assert_eq!(
            auth.verify_access(&forged).unwrap_err().status.as_u16(),
            401
        );
    }
}

/// A caller with at least the trader role: refused (403) before the body is read.
#[derive(Clone, Debug)]
pub struct Trader(pub Caller);

/// A caller with the admin role: refused (403) before the body is read.
#[derive(Clone, Debug)]
pub struct Admin(pub Caller);

impl FromRequestParts<ApiState> for Trader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let c = Caller::from_request_parts(parts, state).await?;
        c.require(Role::Trader)?;
        Ok(Trader(c))
    }
}

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let c = Caller::from_request_parts(parts, state).await?;
        c.require(Role::Admin)?;
        Ok(Admin(c))
    }
}
