//! The batching event writer: a thread that takes domain events from a channel and writes them
//! in transactions, in order, never dropping one.
//!
//! While the database refuses writes, the writer retries the same batch with exponential backoff
//! and keeps taking events into its buffer, up to [`WriterConfig::max_buffered`]. When the buffer
//! is full it logs once and stops taking events, so producers wait in
//! [`EventSender::send`]; nothing is discarded. At shutdown, events that still cannot be written
//! after [`WriterConfig::drain_timeout`] are handed back in [`WriterReport::unwritten`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use mtq_core::DomainEvent;
use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::time::Instant;

use crate::{EventSink, PersistenceError, Result};

/// How the writer batches, buffers and retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterConfig {
    /// Most events per transaction.
    pub batch_size: usize,
    /// Events the channel holds before senders wait.
    pub channel_capacity: usize,
    /// Events the writer holds while the database is failing, before it stops reading the channel.
    pub max_buffered: usize,
    /// First wait after a failed write; doubled after each further failure.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// After every sender is gone, how long to keep retrying before handing events back.
    pub drain_timeout: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            batch_size: 2_000,
            channel_capacity: 16_384,
            max_buffered: 200_000,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// The sending side. Cheap to clone; the writer finishes when every clone is dropped.
#[derive(Clone, Debug)]
pub struct EventSender {
    tx: mpsc::Sender<DomainEvent>,
}

/// The writer has stopped; the event is handed back.
#[derive(Debug, thiserror::Error)]
#[error("the event writer has stopped; the event was not queued")]
pub struct WriterStopped(pub Box<DomainEvent>);

impl EventSender {
    /// Queues an event, waiting while the channel is full.
    pub async fn send(&self, event: DomainEvent) -> Result<(), WriterStopped> {
        self.tx
            .send(event)
            .await
            .map_err(|e| WriterStopped(Box::new(e.0)))
    }

    /// Queues an event from synchronous code (a backtest, a non-async thread), blocking while the
    /// channel is full. Must not be called from inside an async task: use [`EventSender::send`].
    pub fn blocking_send(&self, event: DomainEvent) -> Result<(), WriterStopped> {
        self.tx
            .blocking_send(event)
            .map_err(|e| WriterStopped(Box::new(e.0)))
    }
}

/// Counters, readable while the writer runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub written: u64,
    pub batches: u64,
    pub failed_attempts: u64,
    /// Events taken from the channel and not yet written.
    pub buffered: u64,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    batches: AtomicU64,
    failed_attempts: AtomicU64,
    buffered: AtomicU64,
}

/// What the writer did, once it has finished.
#[derive(Debug, Default)]
pub struct WriterReport {
    pub stats: WriterStats,
    /// Events the database still refused when the drain timeout ran out, oldest first. Empty
    /// unless the database was down at shutdown; the caller decides where they go.
    pub unwritten: Vec<DomainEvent>,
}

/// A running event writer.
#[derive(Debug)]
pub struct EventWriter {
    thread: JoinHandle<WriterReport>,
    counters: Arc<Counters>,
}

impl EventWriter {
    /// Starts the writer thread over `sink` (usually a [`StoreSink`](crate::StoreSink)).
    pub fn spawn(
        sink: impl EventSink + 'static,
        config: WriterConfig,
    ) -> Result<(EventSender, EventWriter)> {
        if config.batch_size == 0
            || config.channel_capacity == 0
            || config.max_buffered < config.batch_size
        {
            return Err(PersistenceError::WriterStopped(format!(
                "invalid writer config: batch_size ({}) and channel_capacity ({}) must be positive and \
                 max_buffered ({}) at least batch_size",
                config.batch_size, config.channel_capacity, config.max_buffered
            )));
        }
        let (tx, rx) = mpsc::channel(config.channel_capacity);
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| {
                PersistenceError::WriterStopped(format!("cannot start its runtime: {e}"))
            })?;
        let thread = std::thread::Builder::new()
            .name("mtq-event-writer".into())
            .spawn(move || runtime.block_on(run(rx, Box::new(sink), config, c)))
            .map_err(|e| {
                PersistenceError::WriterStopped(format!("cannot start its thread: {e}"))
            })?;
        Ok((EventSender { tx }, EventWriter { thread, counters }))
    }

    pub fn stats(&self) -> WriterStats {
        snapshot(&self.counters)
    }

    /// Waits for the writer to finish: drop every [`EventSender`] first.
    pub fn join(self) -> Result<WriterReport> {
        self.thread
            .join()
            .map_err(|_| PersistenceError::WriterStopped("the writer thread panicked".into()))
    }
}

fn snapshot(c: &Counters) -> WriterStats {
    WriterStats {
        written: c.written.load(Ordering::Relaxed),
        batches: c.batches.load(Ordering::Relaxed),
        failed_attempts: c.failed_attempts.load(Ordering::Relaxed),
        buffered: c.buffered.load(Ordering::Relaxed),
    }
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Moves ready events into `pending` up to `max`; true when the channel is closed and empty.
fn absorb(
    rx: &mut mpsc::Receiver<DomainEvent>,
    pending: &mut VecDeque<DomainEvent>,
    max: usize,
) -> bool {
    while pending.len() < max {
        match rx.try_recv() {
            Ok(e) => pending.push_back(e),
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => return true,
        }
    }
    false
}

async fn run(
    mut rx: mpsc::Receiver<DomainEvent>,
    mut sink: Box<dyn EventSink>,
    cfg: WriterConfig,
    counters: Arc<Counters>,
) -> WriterReport {
    let mut pending: VecDeque<DomainEvent> = VecDeque::with_capacity(cfg.batch_size);
    let mut closed = false;
    let mut backoff = cfg.initial_backoff;
    let mut failing_since: Option<Instant> = None;
    let mut full_logged = false;
    loop {
        if pending.is_empty() {
            if closed {
                break;
            }
            match rx.recv().await {
                Some(e) => pending.push_back(e),
                None => {
                    closed = true;
                    continue;
                }
            }
        }
        closed |= absorb(&mut rx, &mut pending, cfg.max_buffered);
        let n = pending.len().min(cfg.batch_size);
        let started = Instant::now();
        let result = sink.write_batch(&pending.make_contiguous()[..n]);
        mtq_metrics::record_db_write("events", started.elapsed(), result.is_ok());
        mtq_metrics::record_queue_depth("writer", pending.len());
        match result {
            Ok(()) => {
                pending.drain(..n);
                counters.written.fetch_add(as_u64(n), Ordering::Relaxed);
                counters.batches.fetch_add(1, Ordering::Relaxed);
                if let Some(since) = failing_since.take() {
                    tracing::info!(
                        down_for_ms = since.elapsed().as_millis(),
                        buffered = pending.len(),
                        "database accepts event writes again"
                    );
                }
                backoff = cfg.initial_backoff;
                full_logged = false;
            }
            Err(error) => {
                counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                let since = *failing_since.get_or_insert_with(Instant::now);
                if closed && since.elapsed() >= cfg.drain_timeout {
                    tracing::error!(
                        %error,
                        unwritten = pending.len(),
                        "shutting down with events the database refused; handing them back to the caller"
                    );
                    break;
                }
                tracing::warn!(
                    %error,
                    buffered = pending.len(),
                    retry_in_ms = backoff.as_millis(),
                    "writing events failed; retrying the same batch"
                );
                let deadline = Instant::now() + backoff;
                // Keep taking events while waiting, so producers are not slowed until the buffer fills.
                while !closed {
                    if pending.len() >= cfg.max_buffered {
                        if !full_logged {
                            tracing::warn!(
                                max_buffered = cfg.max_buffered,
                                "event buffer is full: producers now wait until the database accepts writes again"
                            );
                            full_logged = true;
                        }
                        break;
                    }
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(e)) => pending.push_back(e),
                        Ok(None) => closed = true,
                        Err(_) => break,
                    }
                }
                tokio::time::sleep_until(deadline).await;
                backoff = (backoff * 2).min(cfg.max_backoff);
            }
        }
        counters
            .buffered
            .store(as_u64(pending.len()), Ordering::Relaxed);
    }
    counters
        .buffered
        .store(as_u64(pending.len()), Ordering::Relaxed);
    WriterReport {
        stats: snapshot(&counters),
        unwritten: pending.into(),
    }
}
