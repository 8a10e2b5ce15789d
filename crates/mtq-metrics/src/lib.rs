//! # mtq-metrics: MTQ's Prometheus metrics
//!
//! Owns every metric's name, type, labels, help and buckets ([`names`], one table), the
//! Prometheus recorder ([`install`], [`render`]), and the observers that turn what the trader
//! already produces into metrics: its domain events ([`EventMetrics`]), its broker calls
//! ([`TimedBroker`], a `Broker` decorator), its cycles ([`record_cycle`]) and database writes
//! ([`record_db_write`]). Until [`install`] runs, the trader is not instrumented at all
//! ([`enabled`]): `mtq-trader trade`, backtests and a `serve` without a scrape token pay
//! nothing.
//!
//! It does **not** serve HTTP or read the driver's snapshots: `mtq-api` serves `/metrics`
//! behind a scrape token, measures its own requests and sets the account gauges from the
//! driver's published state. Nothing here is on a path that waits: recording is an atomic add
//! or a short lock, and with no recorder installed every call is a no-op.
//!
//! ```
//! use mtq_metrics::{EventMetrics, names};
//! use mtq_core::{DomainEvent, EventKind, ErrorSource};
//!
//! let recorder = mtq_metrics::build().unwrap();
//! let handle = recorder.handle();
//! metrics::with_local_recorder(&recorder, || {
//!     mtq_metrics::describe_all();
//!     let mut m = EventMetrics::new("default");
//!     let now = "2026-12-04T10:00:00Z".parse().unwrap();
//!     m.observe(&DomainEvent::new(now, EventKind::Error {
//!         source: ErrorSource::Broker,
//!         message: "timeout".into(),
//!     }));
//! });
//! let text = handle.render();
//! assert!(text.contains("# TYPE mtq_errors_total counter"));
//! assert!(text.contains(r#"mtq_errors_total{account="default",source="broker"} 1"#));
//! assert!(names::exports("mtq_cycle_duration_seconds_bucket"));
//! ```

mod broker;
mod events;
pub mod money;
pub mod names;
mod recorder;

use std::time::Duration;

pub use broker::{TimedBroker, heartbeat_tick};
pub use events::{EventMetrics, kill_reason};
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use recorder::{MetricsError, build, describe_all, enabled, install};

/// `broker` measured by a [`TimedBroker`] when the recorder is installed ([`enabled`]), else
/// `broker` itself. What the live driver calls at start-up.
pub fn instrument_broker(
    broker: std::sync::Arc<dyn mtq_connector::Broker>,
    account: &str,
) -> std::sync::Arc<dyn mtq_connector::Broker> {
    if enabled() {
        TimedBroker::wrap(broker, account)
    } else {
        broker
    }
}

/// The whole scrape: the recorder's metrics and the money counters ([`money`]).
pub fn render(handle: &PrometheusHandle) -> String {
    let mut out = handle.render();
    money::render(&mut out);
    out
}

/// One trading cycle: its wall-clock duration and result. (The loop's last-seen time comes from
/// the driver's published health, which a paced paper session's waits refresh too.)
pub fn record_cycle(account: &str, took: Duration, ok: bool) {
    if !enabled() {
        return;
    }
    let mut cached = CYCLE_SERIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let i = match cached.iter().position(|c| c.account == account) {
        Some(i) => i,
        None => {
            cached.push(CycleSeries::new(account));
            cached.len() - 1
        }
    };
    let c = &cached[i];
    c.duration.record(took.as_secs_f64());
    if ok { &c.ok } else { &c.failed }.increment(1);
}

/// One account's cycle series, registered once (a cycle is too frequent to look them up by
/// their labels every time).
struct CycleSeries {
    account: String,
    duration: metrics::Histogram,
    ok: metrics::Counter,
    failed: metrics::Counter,
}

impl CycleSeries {
    fn new(account: &str) -> Self {
        let a = account.to_string();
        Self {
            account: a.clone(),
            duration: metrics::histogram!(names::CYCLE_DURATION, "account" => a.clone()),
            ok: metrics::counter!(names::CYCLES, "account" => a.clone(), "result" => "ok"),
            failed: metrics::counter!(names::CYCLES, "account" => a, "result" => "error"),
        }
    }
}

static CYCLE_SERIES: std::sync::Mutex<Vec<CycleSeries>> = std::sync::Mutex::new(Vec::new());

/// The trading loop is alive (a completed cycle, or a paced paper session's wait).
pub fn mark_alive(account: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    metrics::gauge!(names::LAST_CYCLE, "account" => account.to_string()).set(now);
}

/// One database write (`op`: `events` for the batching writer's batches, `intent` for an order
/// intent): its duration, and a failure.
pub fn record_db_write(op: &'static str, took: Duration, ok: bool) {
    if !enabled() {
        return;
    }
    metrics::histogram!(names::DB_WRITE_DURATION, "op" => op).record(took.as_secs_f64());
    if !ok {
        metrics::counter!(names::DB_WRITE_ERRORS, "op" => op).increment(1);
    }
}

/// One notification's outcome (mtq-alerts): delivered, or given up after its retries.
pub fn record_alert(channel: &'static str, severity: &'static str, delivered: bool) {
    if !enabled() {
        return;
    }
    let result = if delivered { "ok" } else { "error" };
    metrics::counter!(names::ALERTS_SENT, "channel" => channel, "severity" => severity, "result" => result)
        .increment(1);
}

/// One sentiment-filter verdict on an entry signal (mtq-sentiment): `allowed`, `refused`,
/// `fail_open` or `fail_closed`.
pub fn record_sentiment_verdict(result: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!(names::SENTIMENT_VERDICTS, "result" => result).increment(1);
}

/// A sentiment request that gave no usable score, by reason (`malformed`, `timeout`, ...).
pub fn record_sentiment_failure(reason: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!(names::SENTIMENT_FAILURES, "reason" => reason).increment(1);
}

/// How many items wait in an internal queue.
pub fn record_queue_depth(queue: &'static str, depth: usize) {
    if !enabled() {
        return;
    }
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!(names::QUEUE_DEPTH, "queue" => queue).set(depth as f64);
}
