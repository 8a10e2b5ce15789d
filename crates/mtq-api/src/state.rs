//! What every handler shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mtq_orchestrator::{ControlHandle, LiveSnapshot};
use mtq_persistence::{AccountId, Store};

use crate::ApiSetupError;
use crate::auth::{Auth, RateLimits};
use crate::problem::ApiError;

/// The account of a one-account configuration, in every path.
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
    /// The limits across accounts (`portfolio:`), shown by `GET /portfolio/risk`.
    pub portfolio: mtq_orchestrator::config::PortfolioSection,
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
            portfolio: mtq_orchestrator::config::PortfolioSection::default(),
            alerts: None,
            on_auth_failure: None,
        }
    }
}

/// One account the API serves: its name in the paths, its trader's control handle (absent
/// under `serve --no-trade`, or while it has not started) and its database account.
#[derive(Clone, Debug)]
pub struct ServedAccount {
    pub name: String,
    pub control: Option<ControlHandle>,
    /// The `accounts` row its history routes read, set once the broker has said which
    /// account it is (unset: rows recorded without one).
    pub db_account: Arc<std::sync::OnceLock<AccountId>>,
}

impl ServedAccount {
    /// An account served under `name`, its database account `db` when already known.
    pub fn new(name: &str, control: Option<ControlHandle>, db: Option<AccountId>) -> Self {
        let cell = std::sync::OnceLock::new();
        if let Some(id) = db {
            let _ = cell.set(id);
        }
        Self {
            name: name.to_string(),
            control,
            db_account: Arc::new(cell),
        }
    }
}

/// The API's shared state: the database, each account's control handle and authentication.
/// A handler that names an account in its path works on [`ApiState::account`]'s answer, the
/// same state bound to that account; other handlers see the first account.
#[derive(Clone, Debug)]
pub struct ApiState(Arc<Inner>, usize);

#[derive(Debug)]
struct Inner {
    store: Arc<Mutex<Store>>,
    analytics: Option<Arc<Mutex<Store>>>,
    /// Never empty.
    accounts: Vec<ServedAccount>,
    auth: Auth,
    options: ApiOptions,
    ws_dropped: AtomicU64,
    ws_clients: AtomicU64,
}

impl ApiState {
    /// One account: named as its trader's snapshot names it (`default` without a trader), its
    /// history in `options.db_account`.
    pub fn new(
        store: Store,
        control: Option<ControlHandle>,
        options: ApiOptions,
    ) -> Result<Self, ApiSetupError> {
        let name = control.as_ref().map_or_else(
            || DEFAULT_ACCOUNT.to_string(),
            |c| c.snapshot().account_name.clone(),
        );
        let account = ServedAccount::new(&name, control, options.db_account);
        Self::with_accounts(store, vec![account], options)
    }

    /// Several accounts in one process (`accounts:`), in the order `GET /accounts` lists them.
    pub fn with_accounts(
        store: Store,
        accounts: Vec<ServedAccount>,
        options: ApiOptions,
    ) -> Result<Self, ApiSetupError> {
        let accounts = if accounts.is_empty() {
            vec![ServedAccount::new(
                DEFAULT_ACCOUNT,
                None,
                options.db_account,
            )]
        } else {
            accounts
        };
        let auth = Auth::new(&options.jwt_secret, options.limits)?;
        let analytics = options
            .analytics_database_url
            .as_deref()
            .map(Store::open)
            .transpose()?
            .map(|s| Arc::new(Mutex::new(s)));
        Ok(Self(
            Arc::new(Inner {
                store: Arc::new(Mutex::new(store)),
                analytics,
                accounts,
                auth,
                options,
                ws_dropped: AtomicU64::new(0),
                ws_clients: AtomicU64::new(0),
            }),
            0,
        ))
    }

    fn served(&self) -> &ServedAccount {
        &self.0.accounts[self.1]
    }

    /// Every account served, in order.
    pub fn accounts(&self) -> &[ServedAccount] {
        &self.0.accounts
    }

    /// The name of the account this state is bound to.
    pub(crate) fn account_name(&self) -> &str {
        &self.served().name
    }

    pub(crate) fn auth(&self) -> &Auth {
        &self.0.auth
    }

    pub(crate) fn options(&self) -> &ApiOptions {
        &self.0.options
    }

    /// The trader's handle, or 409 when this server runs without one.
    pub(crate) fn control(&self) -> Result<&ControlHandle, ApiError> {
        self.served().control.as_ref().ok_or_else(|| {
            ApiError::conflict(
                "no_trader",
                "this server runs without a trader (serve --no-trade): only history is available",
            )
        })
    }

    /// The newest snapshot, when a trader runs.
    pub(crate) fn snapshot(&self) -> Option<Arc<LiveSnapshot>> {
        self.served().control.as_ref().map(ControlHandle::snapshot)
    }

    /// The state bound to the account in the path: 404 for a name this server does not serve.
    pub(crate) fn account(&self, name: &str) -> Result<ApiState, ApiError> {
        match self.0.accounts.iter().position(|a| a.name == name) {
            Some(i) => Ok(ApiState(self.0.clone(), i)),
            None => {
                let served: Vec<&str> = self.0.accounts.iter().map(|a| a.name.as_str()).collect();
                Err(ApiError::not_found(format!(
                    "no account named `{name}`: this server serves {}",
                    served
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_field("account"))
            }
        }
    }

    pub(crate) fn db_account(&self) -> Option<AccountId> {
        self.served().db_account.get().copied()
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
