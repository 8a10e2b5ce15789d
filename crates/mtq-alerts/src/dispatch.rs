//! The alert engine: a bounded queue in front, the dedup window, the per-channel levels, one
//! task per channel (a dead endpoint holds up only its own channel), and the history writer.
//!
//! ```text
//! notify() --try_send--> [queue] --> router: dedup, levels --try_send--> [telegram] --> sink --+
//!                                                                   \--> [webhook]  --> sink --+--> alert_history
//!                                                                    \-> [email]    --> sink --+    + `subscribe()`
//! ```
//!
//! Nothing upstream ever waits: [`Alerter::notify`] drops an alert when the queue is full and
//! counts it, and the router drops (and counts) a delivery when a channel's own queue is full.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mtq_orchestrator::config::{AlertLevel, EventLevels};
use mtq_persistence::{AccountId, AuditRepo, NewAlert, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::event::Alert;
use crate::limit::{Dedup, Deduper};
use crate::sinks::{Channel, Delivery, Sink};

/// Deliveries a channel may have waiting before new ones are dropped.
pub const CHANNEL_QUEUE: usize = 256;
/// Delivery records waiting for the database.
const HISTORY_QUEUE: usize = 1024;

/// How the engine routes alerts.
#[derive(Clone, Debug, PartialEq)]
pub struct Routing {
    pub dedup: Duration,
    pub queue: usize,
    /// Each enabled channel's levels.
    pub levels: BTreeMap<Channel, EventLevels>,
    /// The account name deliveries carry.
    pub account: String,
}

/// One delivery and its outcome: a row of `alert_history`, and what the API's `alerts`
/// WebSocket channel streams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub time: DateTime<Utc>,
    pub channel: Channel,
    pub kind: crate::AlertKind,
    pub severity: crate::Severity,
    pub title: String,
    pub message: String,
    pub silent: bool,
    pub delivered: bool,
    pub attempts: u32,
    pub repeats: u32,
    pub error: Option<String>,
}

/// Counters of what the engine did (for `/metrics` and tests).
#[derive(Debug, Default)]
pub struct Stats {
    pub accepted: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Folded into an earlier identical alert by the dedup window.
    pub suppressed: AtomicU64,
    /// Turned off for a channel by its level.
    pub off: AtomicU64,
    /// Dropped because a channel's own queue was full.
    pub channel_dropped: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    /// Events the forwarder missed because it fell behind the trader's stream.
    pub lagged: AtomicU64,
    /// History rows the database refused.
    pub history_errors: AtomicU64,
}

/// A plain copy of [`Stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    pub accepted: u64,
    pub dropped: u64,
    pub suppressed: u64,
    pub off: u64,
    pub channel_dropped: u64,
    pub delivered: u64,
    pub failed: u64,
    pub lagged: u64,
    pub history_errors: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            accepted: g(&self.accepted),
            dropped: g(&self.dropped),
            suppressed: g(&self.suppressed),
            off: g(&self.off),
            channel_dropped: g(&self.channel_dropped),
            delivered: g(&self.delivered),
            failed: g(&self.failed),
            lagged: g(&self.lagged),
            history_errors: g(&self.history_errors),
        }
    }
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// Where delivery records are written: a database connection of its own and the account row.
#[derive(Debug, Clone)]
pub struct History {
    pub store: Arc<Mutex<Store>>,
    account: Arc<std::sync::OnceLock<AccountId>>,
}

impl History {
    pub fn new(store: Store, account: Option<AccountId>) -> Self {
        let slot = std::sync::OnceLock::new();
        if let Some(a) = account {
            let _ = slot.set(a);
        }
        Self::pending(store, Arc::new(slot))
    }

    /// Records carry the account row once `account` is set (an account of a several-account
    /// process learns its row only when its broker has answered); until then they carry none.
    pub fn pending(store: Store, account: Arc<std::sync::OnceLock<AccountId>>) -> Self {
        Self {
            store: Arc::new(Mutex::new(store)),
            account,
        }
    }

    /// The account row records carry, once known.
    pub fn account(&self) -> Option<AccountId> {
        self.account.get().copied()
    }
}

/// The sending side: cheap to clone; every method returns at once.
#[derive(Clone, Debug)]
pub struct Alerter {
    tx: mpsc::Sender<Alert>,
    stats: Arc<Stats>,
    records: broadcast::Sender<DeliveryRecord>,
    auth: Arc<Mutex<crate::forward::AuthBurst>>,
}

impl Alerter {
    /// Queues an alert; `false` (and counted) when the queue is full or the engine stopped.
    pub fn notify(&self, alert: Alert) -> bool {
        match self.tx.try_send(alert) {
            Ok(()) => {
                bump(&self.stats.accepted);
                true
            }
            Err(_) => {
                bump(&self.stats.dropped);
                false
            }
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Every delivery record from now on (the API's `alerts` channel).
    pub fn subscribe(&self) -> broadcast::Receiver<DeliveryRecord> {
        self.records.subscribe()
    }

    /// Notes a failed login or a rejected credential (`what`: `password`, `api_key`, ...);
    /// a burst makes an `auth_failures` alert.
    pub fn auth_failure(&self, what: &str) {
        let alert = match self.auth.lock() {
            Ok(mut a) => a.failure(Instant::now(), Utc::now(), what),
            Err(_) => None,
        };
        if let Some(a) = alert {
            self.notify(a);
        }
    }

    pub(crate) fn stats_arc(&self) -> &Arc<Stats> {
        &self.stats
    }
}

/// The running engine's tasks.
#[derive(Debug)]
pub struct Engine {
    tasks: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Waits up to `grace` for queued alerts to go out once every [`Alerter`] is dropped, then
    /// stops what is left.
    pub async fn finish(self, grace: Duration) {
        let all = futures_join(self.tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("alerts: stopped with deliveries still pending");
        }
    }
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

/// Starts the engine with `sinks` (each an enabled channel) and, when given, the history.
pub fn start(
    routing: Routing,
    sinks: Vec<Box<dyn Sink>>,
    history: Option<History>,
    auth: crate::forward::AuthBurst,
) -> (Alerter, Engine) {
    let stats = Arc::new(Stats::default());
    let (tx, rx) = mpsc::channel(routing.queue.max(1));
    let (records, _) = broadcast::channel(256);
    let mut tasks = Vec::new();
    let (htx, hrx) = mpsc::channel::<DeliveryRecord>(HISTORY_QUEUE);
    let mut channels = BTreeMap::new();
    for sink in sinks {
        let (ctx, crx) = mpsc::channel::<Delivery>(CHANNEL_QUEUE);
        channels.insert(sink.channel(), ctx);
        tasks.push(tokio::spawn(channel_worker(
            sink,
            crx,
            htx.clone(),
            records.clone(),
            stats.clone(),
        )));
    }
    drop(htx);
    tasks.push(tokio::spawn(history_writer(hrx, history, stats.clone())));
    tasks.insert(
        0,
        tokio::spawn(router(rx, routing, channels, stats.clone())),
    );
    let alerter = Alerter {
        tx,
        stats,
        records,
        auth: Arc::new(Mutex::new(auth)),
    };
    (alerter, Engine { tasks })
}

async fn router(
    mut rx: mpsc::Receiver<Alert>,
    routing: Routing,
    channels: BTreeMap<Channel, mpsc::Sender<Delivery>>,
    stats: Arc<Stats>,
) {
    let mut dedup = Deduper::new(routing.dedup);
    while let Some(alert) = rx.recv().await {
        let repeats = match dedup.check(&alert, Instant::now()) {
            Dedup::Send { repeats } => repeats,
            Dedup::Suppress => {
                bump(&stats.suppressed);
                continue;
            }
        };
        for (channel, tx) in &channels {
            let level = routing
                .levels
                .get(channel)
                .map_or(AlertLevel::On, |l| alert.kind.level_in(l));
            if level == AlertLevel::Off {
                bump(&stats.off);
                continue;
            }
            let d = Delivery {
                alert: alert.clone(),
                silent: level == AlertLevel::Silent,
                repeats,
                account: routing.account.clone(),
            };
            if tx.try_send(d).is_err() {
                bump(&stats.channel_dropped);
                tracing::warn!(%channel, "alerts: the channel's queue is full; alert dropped");
            }
        }
    }
}

async fn channel_worker(
    mut sink: Box<dyn Sink>,
    mut rx: mpsc::Receiver<Delivery>,
    history: mpsc::Sender<DeliveryRecord>,
    records: broadcast::Sender<DeliveryRecord>,
    stats: Arc<Stats>,
) {
    let channel = sink.channel();
    while let Some(d) = rx.recv().await {
        let out = sink.deliver(&d).await;
        if out.delivered {
            bump(&stats.delivered);
        } else {
            bump(&stats.failed);
            tracing::warn!(%channel, kind = %d.alert.kind, attempts = out.attempts,
                error = out.error.as_deref().unwrap_or(""), "alerts: delivery failed");
        }
        let record = DeliveryRecord {
            time: Utc::now(),
            channel,
            kind: d.alert.kind,
            severity: d.alert.severity,
            title: d.alert.title.clone(),
            message: d.alert.text.clone(),
            silent: d.silent,
            delivered: out.delivered,
            attempts: out.attempts,
            repeats: d.repeats,
            error: out.error,
        };
        let _ = records.send(record.clone());
        if history.try_send(record).is_err() {
            bump(&stats.history_errors);
        }
    }
}

async fn history_writer(
    mut rx: mpsc::Receiver<DeliveryRecord>,
    history: Option<History>,
    stats: Arc<Stats>,
) {
    while let Some(r) = rx.recv().await {
        mtq_metrics::record_alert(r.channel.as_str(), r.severity.as_str(), r.delivered);
        let Some(h) = &history else { continue };
        let row = NewAlert {
            account: h.account(),
            time: r.time,
            channel: r.channel.as_str().into(),
            severity: r.severity.as_str().into(),
            title: r.title,
            message: r.message,
            delivered: r.delivered,
            error: r.error,
            event_type: r.kind.as_str().into(),
            attempts: r.attempts,
            repeats: r.repeats,
        };
        let store = h.store.clone();
        let written = tokio::task::spawn_blocking(move || {
            let mut s = store
                .lock()
                .map_err(|_| "database handle poisoned".to_string())?;
            s.reconnecting(|s| s.record_alert(&row))
                .map_err(|e| e.to_string())
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                bump(&stats.history_errors);
                tracing::warn!(error = %e, "alerts: could not record a delivery in alert_history");
            }
            Err(e) => {
                bump(&stats.history_errors);
                tracing::warn!(error = %e, "alerts: the history writer failed");
            }
        }
    }
}
