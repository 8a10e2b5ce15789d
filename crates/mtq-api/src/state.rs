//! What every handler shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mtq_orchestrator::{ControlHandle, LiveSnapshot};
use mtq_persistence::{AccountId, Store};

use crate::ApiSetupError;
use crate::auth::{Auth, RateLimits};
use crate::problem::ApiError;

/// The account name in every path until several accounts run in one process.
pub const DEFAULT_ACCOUNT: &str = "default";
/// The largest request body accepted (413 beyond it).
pub const BODY_LIMIT: usize = 64 * 1024;

/// How the API is set up. Build with [`ApiOptions::new`] and struct update.
#[derive(Clone, Debug)]
pub struct ApiOptions {
    /// Signs access tokens; at least [`crate::auth::MIN_JWT_SECRET`] bytes.
    pub jwt_secret: Vec<u8>,
    pub limits: RateLimits,
    /// Origins allowed by CORS; empty: CORS off (the dashboard is same-origin).
    pub cors_origins: Vec<String>,
    /// The database account row the history routes read (`None`: rows recorded without one).
    pub db_account: Option<AccountId>,
    /// The configuration as JSON with secrets removed, for `GET /config`.
    pub redacted_config: serde_json::Value,
    /// Messages a WebSocket client may have queued before it is disconnected as too slow.
    pub ws_queue: usize,
    /// The process's recent log lines (`GET /logs`, the `logs` channel); `None`: not kept.
    pub logs: Option<crate::logs::LogBuffer>,
    /// A database for a second connection that the performance routes use: they read every
    /// closed trade of their range, which takes long over a long history, and must not hold
    /// up the other routes meanwhile. `None`: they share the one connection.
    pub analytics_database_url: Option<String>,
    /// Alert deliveries and their outcomes as JSON (the `alerts` WebSocket channel), when
    /// alerts run; `None`: the channel exists but stays quiet.
    pub alerts: Option<tokio::sync::broadcast::Sender<serde_json::Value>>,
    /// Told of every failed login and rejected credential (`password`, `api_key`,
    /// `access_token`): alerts count bursts.
    pub on_auth_failure: Option<AuthFailureHook>,
}

/// A callback for authentication failures; it must return at once.
#[derive(Clone)]
pub struct AuthFailureHook(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for AuthFailureHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthFailureHook")
    }
}

impl ApiOptions {
    pub fn new(jwt_secret: Vec<u8>) -> Self {
        Self {
            jwt_secret,
            limits: RateLimits::default(),
            cors_origins: Vec::new(),
            db_account: None,
            redacted_config: serde_json::Value::Null,
            ws_queue: 256,
            logs: None,
            analytics_database_url: None,
            alerts: None,
            on_auth_failure: None,
        }
    }
}

/// The API's shared state: the database, the trader's control handle (absent under
/// `serve --no-trade`) and authentication.
#[derive(Clone, Debug)]
pub struct ApiState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: Arc<Mutex<Store>>,
    analytics: Option<Arc<Mutex<Store>>>,
    control: Option<ControlHandle>,
    auth: Auth,
    options: ApiOptions,
    ws_dropped: AtomicU64,
    ws_clients: AtomicU64,
}

impl ApiState {
    pub fn new(
        store: Store,
        control: Option<ControlHandle>,
        options: ApiOptions,
    ) -> Result<Self, ApiSetupError> {
        let auth = Auth::new(&options.jwt_secret, options.limits)?;
        let analytics = options
            .analytics_database_url
            .as_deref()
            .map(Store::open)
            .transpose()?
            .map(|s| Arc::new(Mutex::new(s)));
        Ok(Self(Arc::new(Inner {
            store: Arc::new(Mutex::new(store)),
            analytics,
            control,
            auth,
            options,
            ws_dropped: AtomicU64::new(0),
            ws_clients: AtomicU64::new(0),
        })))
    }

    pub(crate) fn auth(&self) -> &Auth {
        &self.0.auth
    }

    pub(crate) fn options(&self) -> &ApiOptions {
        &self.0.options
    }

    /// The trader's handle, or 409 when this server runs without one.
    pub(crate) fn control(&self) -> Result<&ControlHandle, ApiError> {
        self.0.control.as_ref().ok_or_else(|| {
            ApiError::conflict(
                "no_trader",
                "this server runs without a trader (serve --no-trade): only history is available",
            )
        })
    }

    /// The newest snapshot, when a trader runs.
    pub(crate) fn snapshot(&self) -> Option<Arc<LiveSnapshot>> {
        self.0.control.as_ref().map(ControlHandle::snapshot)
    }

    /// Checks the account in the path: 404 for any other than the one served.
    pub(crate) fn account(&self, name: &str) -> Result<(), ApiError> {
        let served = self
            .snapshot()
            .map(|s| s.account_name.clone())
            .unwrap_or_else(|| DEFAULT_ACCOUNT.to_string());
        if name == served {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "no account named `{name}`: this server serves `{served}`"
            ))
            .with_field("account"))
        }
    }

    pub(crate) fn db_account(&self) -> Option<AccountId> {
        self.0.options.db_account
    }

    /// Runs a database call off the async workers.
    pub(crate) async fn with_store<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut Store) -> mtq_persistence::Result<T> + Send + 'static,
    {
        Self::on(self.0.store.clone(), f).await
    }

    /// Runs a long read on the analytics connection, when there is one.
    pub(crate) async fn with_analytics_store<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut Store) -> mtq_persistence::Result<T> + Send + 'static,
    {
        let store = self.0.analytics.as_ref().unwrap_or(&self.0.store).clone();
        Self::on(store, f).await
    }

    async fn on<T, F>(store: Arc<Mutex<Store>>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut Store) -> mtq_persistence::Result<T> + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            let mut s = store
                .lock()
                .map_err(|_| ApiError::internal("database handle poisoned"))?;
            s.reconnecting(f).map_err(ApiError::from)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Counts a WebSocket client disconnected for being too slow.
    pub(crate) fn count_ws_dropped(&self) {
        self.0.ws_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// How many WebSocket clients were disconnected for being too slow.
    pub fn ws_dropped(&self) -> u64 {
        self.0.ws_dropped.load(Ordering::Relaxed)
    }

    /// Reports a failed login or a rejected credential to the hook, if any.
    pub(crate) fn auth_failed(&self, what: &str) {
        if let Some(h) = &self.0.options.on_auth_failure {
            (h.0)(what);
        }
    }

    pub(crate) fn ws_clients(&self) -> &AtomicU64 {
        &self.0.ws_clients
    }
}
