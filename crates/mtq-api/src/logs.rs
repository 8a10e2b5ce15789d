//! The process's recent log lines for `GET /api/v1/logs` and the `logs` WebSocket channel: a
//! `tracing` layer ([`LogBuffer::layer`]) copies each line the subscriber lets through into a
//! bounded ring buffer (the oldest line goes first) and a broadcast channel.
//!
//! Only what is logged is kept, and secrets are never logged to begin with (the HTTP span carries
//! the path, never the query string or headers), so the buffer holds nothing the log file would
//! not.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use utoipa::ToSchema;

/// How many lines the buffer keeps by default.
pub const LOG_LINES: usize = 5_000;
/// How many new lines a WebSocket reader may fall behind before it loses the oldest.
const LOG_QUEUE: usize = 1024;

/// One log line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    /// Counts from 1 in the order lines were logged.
    pub seq: u64,
    pub time: DateTime<Utc>,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// The module that logged it.
    pub target: String,
    /// The message, then its fields as `key=value`.
    pub message: String,
}

/// The ring buffer; cheap to clone (one buffer per process).
#[derive(Clone, Debug)]
pub struct LogBuffer(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    lines: Mutex<(u64, VecDeque<LogLine>)>,
    capacity: usize,
    tx: broadcast::Sender<LogLine>,
}

/// A level as its lower-case name, and back.
pub(crate) fn level_name(l: Level) -> &'static str {
    match l {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// How severe a level name is: error 0 .. trace 4.
pub(crate) fn severity(name: &str) -> Option<u8> {
    ["error", "warn", "info", "debug", "trace"]
        .iter()
        .position(|n| *n == name)
        .and_then(|i| u8::try_from(i).ok())
}

impl LogBuffer {
    /// A buffer keeping the newest `capacity` lines (at least one).
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(LOG_QUEUE);
        Self(Arc::new(Inner {
            lines: Mutex::new((0, VecDeque::with_capacity(capacity.clamp(1, 1024)))),
            capacity: capacity.max(1),
            tx,
        }))
    }

    /// The `tracing` layer that feeds this buffer.
    pub fn layer(&self) -> LogLayer {
        LogLayer(self.clone())
    }

    /// Appends a line (its `seq` is assigned here), dropping the oldest beyond the capacity.
    pub fn push(&self, time: DateTime<Utc>, level: Level, target: &str, message: String) {
        let Ok(mut guard) = self.0.lines.lock() else {
            return;
        };
        let (next, lines) = &mut *guard;
        *next += 1;
        let line = LogLine {
            seq: *next,
            time,
            level: level_name(level).into(),
            target: target.into(),
            message,
        };
        if lines.len() == self.0.capacity {
            lines.pop_front();
        }
        lines.push_back(line.clone());
        if self.0.tx.receiver_count() > 0 {
            // An error only means every reader has gone.
            let _ = self.0.tx.send(line);
        }
    }

    /// The newest `limit` lines at `max_severity` or more severe (0 error .. 4 trace), logged
    /// after `since`, oldest first.
    pub fn recent(
        &self,
        max_severity: u8,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Vec<LogLine> {
        let Ok(guard) = self.0.lines.lock() else {
            return Vec::new();
        };
        let mut out: Vec<LogLine> = guard
            .1
            .iter()
            .rev()
            .filter(|l| severity(&l.level).is_some_and(|s| s <= max_severity))
            .filter(|l| since.is_none_or(|t| l.time > t))
            .take(limit)
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// The `seq` of the newest line logged (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.0.lines.lock().map_or(0, |g| g.0)
    }

    /// Every line logged from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.0.tx.subscribe()
    }
}

/// Copies each event into a [`LogBuffer`]. Add it beside the formatting layer, after the level
/// filter, so it keeps what the log shows.
#[derive(Debug)]
pub struct LogLayer(LogBuffer);

struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = Text(String::new());
        event.record(&mut text);
        let meta = event.metadata();
        self.0
            .push(Utc::now(), *meta.level(), meta.target(), text.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn the_buffer_keeps_the_newest_lines_and_filters_by_level_and_time() {
        let buf = LogBuffer::new(3);
        let t = |s: i64| DateTime::<Utc>::from_timestamp(1_700_000_000 + s, 0).unwrap();
        for (i, level) in (0i64..).zip([Level::INFO, Level::WARN, Level::DEBUG, Level::ERROR]) {
            buf.push(t(i), level, "mtq", format!("line {i}"));
        }
        let all = buf.recent(4, None, 10);
        let seqs: Vec<u64> = all.iter().map(|l| l.seq).collect();
        assert_eq!(seqs, [2, 3, 4], "the oldest line is dropped");
        let warn: Vec<String> = buf
            .recent(1, None, 10)
            .into_iter()
            .map(|l| l.level)
            .collect();
        assert_eq!(warn, ["warn", "error"]);
        assert_eq!(buf.recent(4, Some(t(2)), 10).len(), 1);
        assert_eq!(buf.recent(4, None, 1)[0].message, "line 3");
    }

    #[test]
    fn the_layer_records_the_message_and_its_fields() {
        let buf = LogBuffer::new(10);
        let subscriber = tracing_subscriber::registry().with(buf.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(symbol = "EURUSD", ticket = 42, "order refused");
        });
        let lines = buf.recent(4, None, 10);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].level, "warn");
        assert_eq!(lines[0].message, "order refused symbol=EURUSD ticket=42");
    }
}
