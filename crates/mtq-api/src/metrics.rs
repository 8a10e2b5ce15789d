//! `/metrics`: the Prometheus scrape behind a bearer token, the HTTP request metrics, and the
//! gauges set from the live driver's published state.
//!
//! - [`router`] serves `GET /metrics` (the text format, 0.0.4) to a request carrying
//!   `Authorization: Bearer <scrape token>`. There is no default token: without one `serve`
//!   mounts no `/metrics` at all ([`ScrapeToken::from_env`]).
//! - [`track_http`] is a middleware for the whole app: requests by method, matched route
//!   template (never the raw path, which carries ids) and status; durations; 401s by the kind
//!   of credential that failed; 429s by route.
//! - [`MetricsOutlet`] puts [`mtq_metrics::EventMetrics`] in front of the driver's event outlet;
//!   [`spawn_snapshot_metrics`] sets the account, position, risk and health gauges from every
//!   snapshot the driver publishes. Neither is on a path that waits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{counter, gauge, histogram};
use mtq_core::{Decimal, DomainEvent, Side};
use mtq_metrics::names::*;
use mtq_metrics::{EventMetrics, PrometheusHandle};
use mtq_orchestrator::{ControlHandle, EventOutlet, LiveSnapshot, TradingState};
use rust_decimal::prelude::ToPrimitive;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{ApiError, ApiState};

/// The shortest scrape token accepted.
pub const MIN_SCRAPE_TOKEN: usize = 24;
/// The environment variable holding the scrape token.
pub const TOKEN_ENV: &str = "MTQ_METRICS_TOKEN";
/// The environment variable naming a file that holds it (a container secret).
pub const TOKEN_FILE_ENV: &str = "MTQ_METRICS_TOKEN_FILE";

/// The secret a scraper presents. Kept as its SHA-256 only; never logged or shown.
#[derive(Clone)]
pub struct ScrapeToken([u8; 32]);

impl std::fmt::Debug for ScrapeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScrapeToken(****)")
    }
}

/// Why a scrape token was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeTokenError {
    #[error(
        "the metrics scrape token ({source_name}) has {0} characters: use at least {MIN_SCRAPE_TOKEN} (e.g. `openssl rand -hex 24`)",
        .len
    )]
    TooShort { source_name: String, len: usize },
    #[error(
        "the metrics scrape token ({source_name}) may hold only printable ASCII without spaces"
    )]
    BadCharacters { source_name: String },
    #[error("reading the metrics scrape token file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl ScrapeToken {
    /// A token from its text; `source_name` says where it came from, for the error.
    pub fn new(token: &str, source_name: &str) -> Result<Self, ScrapeTokenError> {
        let token = token.trim();
        if token.len() < MIN_SCRAPE_TOKEN {
            return Err(ScrapeTokenError::TooShort {
                source_name: source_name.into(),
                len: token.len(),
            });
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ScrapeTokenError::BadCharacters {
                source_name: source_name.into(),
            });
        }
        Ok(Self(Sha256::digest(token.as_bytes()).into()))
    }

    /// The token from `MTQ_METRICS_TOKEN`, or from the file `MTQ_METRICS_TOKEN_FILE` names;
    /// `None` when neither is set (then there is no `/metrics`).
    pub fn from_env() -> Result<Option<Self>, ScrapeTokenError> {
        if let Ok(t) = std::env::var(TOKEN_ENV) {
            return Self::new(&t, TOKEN_ENV).map(Some);
        }
        if let Ok(path) = std::env::var(TOKEN_FILE_ENV) {
            let text = std::fs::read_to_string(&path).map_err(|source| ScrapeTokenError::File {
                path: path.clone(),
                source,
            })?;
            return Self::new(&text, &path).map(Some);
        }
        Ok(None)
    }

    fn matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        d.ct_eq(&self.0).into()
    }
}

#[derive(Clone, Debug)]
struct Scrape {
    handle: PrometheusHandle,
    token: ScrapeToken,
    api: ApiState,
}

/// `GET /metrics` for `handle`'s recorder, for requests bearing `token`. `api` supplies the
/// WebSocket client gauges.
pub fn router(handle: PrometheusHandle, token: ScrapeToken, api: ApiState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape { handle, token, api })
}

async fn scrape(State(s): State<Scrape>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| s.token.matches(p.trim())) {
        counter!(AUTH_FAILURES, "kind" => "scrape_token").increment(1);
        return ApiError::unauthorized(
            "GET /metrics needs `Authorization: Bearer <scrape token>` (MTQ_METRICS_TOKEN)",
        )
        .into_response();
    }
    #[allow(clippy::cast_precision_loss)]
    {
        let clients = s
            .api
            .ws_clients()
            .load(std::sync::atomic::Ordering::Relaxed);
        gauge!(WS_CONNECTIONS).set(clients as f64);
    }
    counter!(WS_DROPPED, "reason" => "slow").absolute(s.api.ws_dropped());
    mtq_metrics::heartbeat_tick(crate::DEFAULT_ACCOUNT);
    let body = mtq_metrics::render(&s.handle);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Middleware: every request's method, route template, status and duration; failed
/// credentials by kind; rate-limited requests by route. Apply with `Router::layer` on the
/// whole app (the matched route is known there).
pub async fn track_http(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let credential = credential_kind(&route, req.headers());
    let response = next.run(req).await;
    let status = response.status();
    counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(),
        "status" => status.as_str().to_string())
    .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    // `/metrics` counts its own refusals (its token is not an API credential).
    if status == StatusCode::UNAUTHORIZED && route != "/metrics" {
        counter!(AUTH_FAILURES, "kind" => credential).increment(1);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        counter!(RATE_LIMITED, "route" => route).increment(1);
    }
    response
}

/// Which credential a request offered, for `mtq_auth_failures_total{kind}`.
fn credential_kind(route: &str, headers: &HeaderMap) -> &'static str {
    match route {
        "/api/v1/auth/login" => return "password",
        "/api/v1/auth/refresh" => return "refresh",
        "/api/v1/ws" => return "ticket",
        _ => {}
    }
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        Some(t) if t.starts_with("mtq_") => "key",
        Some(_) => "jwt",
        None => "missing",
    }
}

/// The driver's event outlet with the event metrics in front: each event is counted, then
/// handed on unchanged.
pub struct MetricsOutlet {
    inner: Arc<dyn EventOutlet>,
    metrics: Mutex<EventMetrics>,
}

impl std::fmt::Debug for MetricsOutlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsOutlet").finish_non_exhaustive()
    }
}

impl MetricsOutlet {
    /// `inner` with the event metrics in front when the recorder is installed
    /// ([`mtq_metrics::enabled`]), else `inner` itself.
    pub fn wrap(inner: Arc<dyn EventOutlet>, account: &str) -> Arc<dyn EventOutlet> {
        if !mtq_metrics::enabled() {
            return inner;
        }
        Arc::new(Self {
            inner,
            metrics: Mutex::new(EventMetrics::new(account)),
        })
    }
}

#[async_trait::async_trait]
impl EventOutlet for MetricsOutlet {
    async fn publish(&self, event: DomainEvent) {
        self.metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .observe(&event);
        self.inner.publish(event).await;
    }
}

/// Sets the snapshot gauges on every snapshot the driver publishes, until the driver is gone;
/// `None` when the API has no trader behind it (`serve --no-trade`).
pub fn spawn_snapshot_metrics(api: &ApiState) -> Option<tokio::task::JoinHandle<()>> {
    let control: &ControlHandle = api.control().ok()?;
    let mut rx = control.watch();
    Some(tokio::spawn(async move {
        let mut seen = SnapshotSeries::default();
        loop {
            let snap = rx.borrow_and_update().clone();
            seen.record(&snap);
            if rx.changed().await.is_err() {
                break;
            }
        }
    }))
}

/// The label sets set before, so a position that closed goes to 0 instead of keeping its last
/// value.
#[derive(Debug, Default)]
pub struct SnapshotSeries {
    positions: BTreeMap<(String, &'static str), ()>,
    symbols: BTreeMap<String, ()>,
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

impl SnapshotSeries {
    /// Sets every snapshot gauge from `s`.
    pub fn record(&mut self, s: &LiveSnapshot) {
        let account = s.account_name.clone();
        for (state, name) in [
            (TradingState::Running, "running"),
            (TradingState::EntriesPaused, "paused"),
            (TradingState::Stopped, "stopped"),
        ] {
            gauge!(TRADING_STATE, "account" => account.clone(), "state" => name)
                .set(flag(s.trading == state));
        }
        gauge!(KILL_SWITCH_ACTIVE, "account" => account.clone())
            .set(flag(s.kill_switch != "active"));
        gauge!(BROKER_CONNECTED, "account" => account.clone()).set(flag(s.health.broker_connected));
        if let Some(t) = s.health.loop_alive.or(s.health.last_cycle) {
            #[allow(clippy::cast_precision_loss)]
            let secs = t.timestamp_millis() as f64 / 1000.0;
            gauge!(LAST_CYCLE, "account" => account.clone()).set(secs);
        }
        if let Some(a) = &s.account {
            let cur = a.currency.to_string();
            gauge!(BALANCE, "account" => account.clone(), "currency" => cur.clone())
                .set(f(a.balance));
            gauge!(EQUITY, "account" => account.clone(), "currency" => cur.clone())
                .set(f(a.equity));
            gauge!(MARGIN, "account" => account.clone(), "currency" => cur.clone())
                .set(f(a.margin));
            gauge!(FREE_MARGIN, "account" => account.clone(), "currency" => cur)
                .set(f(a.free_margin));
            let level = gauge!(MARGIN_LEVEL, "account" => account.clone());
            match a.margin_level {
                // MT5 reports percent; the metric is a ratio (2.0 = 200 %).
                Some(l) if !a.margin.is_zero() => level.set(f(l) / 100.0),
                // No margin in use: nothing can be stopped out. A high, finite value keeps
                // `< threshold` alerts quiet without a NaN.
                _ => level.set(1e9),
            }
        }
        gauge!(DRAWDOWN, "account" => account.clone()).set(f(s.drawdown_pct) / 100.0);
        if let Some(l) = s.drawdown_limit_pct {
            gauge!(DRAWDOWN_LIMIT, "account" => account.clone()).set(f(l) / 100.0);
        }
        gauge!(DAILY_PNL, "account" => account.clone()).set(f(s.daily_pnl));
        let used = match s.daily_loss_limit {
            Some(limit) if limit > Decimal::ZERO => f((-s.daily_pnl).max(Decimal::ZERO) / limit),
            _ => 0.0,
        };
        gauge!(DAILY_LOSS_USED, "account" => account.clone()).set(used);
        self.positions(s, &account);
    }

    fn positions(&mut self, s: &LiveSnapshot, account: &str) {
        let mut by_side: BTreeMap<(String, &'static str), (u32, Decimal)> = BTreeMap::new();
        let mut floating: BTreeMap<String, Decimal> = BTreeMap::new();
        for p in &s.positions {
            let side = match p.side {
                Side::Buy => "buy",
                Side::Sell => "sell",
            };
            let e = by_side.entry((p.symbol.to_string(), side)).or_default();
            e.0 += 1;
            e.1 += p.volume;
            *floating.entry(p.symbol.to_string()).or_default() += p.profit + p.swap;
        }
        for key in self.positions.keys() {
            by_side.entry(key.clone()).or_default();
        }
        for sym in self.symbols.keys() {
            floating.entry(sym.clone()).or_default();
        }
        for ((symbol, side), (n, volume)) in &by_side {
            let labels = [
                ("account", account.to_string()),
                ("symbol", symbol.clone()),
                ("side", (*side).to_string()),
            ];
            gauge!(POSITIONS_OPEN, &labels).set(f64::from(*n));
            gauge!(POSITION_VOLUME, &labels).set(f(*volume));
            self.positions.insert((symbol.clone(), side), ());
        }
        for (symbol, pnl) in &floating {
            gauge!(UNREALIZED_PNL, "account" => account.to_string(), "symbol" => symbol.clone())
                .set(f(*pnl));
            self.symbols.insert(symbol.clone(), ());
        }
    }
}
