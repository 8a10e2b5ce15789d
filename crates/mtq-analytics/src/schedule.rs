//! The daily aggregation that runs by itself inside a long-running process (`trade`, `serve`):
//! once a UTC day has ended (plus [`DEFAULT_GRACE`], as TradingMTQ's scheduler runs at 00:05
//! UTC), the day is aggregated into `daily_performance`; at start, days missed while the
//! process was down are caught up. Re-running a day replaces it, so a day aggregated twice (by
//! this and by `mtq-aggregator`) is harmless.
//!
//! [`DailySchedule`] is the decision, driven by a clock it is handed; [`spawn_daily_aggregation`]
//! runs it on a tokio task over its own database connection until told to stop.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use mtq_core::Clock;
use mtq_persistence::{
    ALL_ACCOUNTS, AccountRepo, DailyPerformanceRepo, DatabaseUrl, PersistenceError, SnapshotRepo,
    Store, TradeRepo,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::daily::{aggregate_range, dates};

/// How long after midnight UTC a day is aggregated: late deals and the last snapshots of the day
/// have been recorded by then. TradingMTQ's scheduler uses the same 00:05.
pub const DEFAULT_GRACE: Duration = Duration::minutes(5);

/// Which days are due, and which were done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailySchedule {
    grace: Duration,
    /// The newest day aggregated by this schedule or found in the database; `None` before the
    /// first look.
    last_done: Option<NaiveDate>,
    started: bool,
}

impl Default for DailySchedule {
    fn default() -> Self {
        Self::new(DEFAULT_GRACE)
    }
}

impl DailySchedule {
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            last_done: None,
            started: false,
        }
    }

    /// The newest day that has ended, grace included, at `now`.
    pub fn last_finished_day(&self, now: DateTime<Utc>) -> NaiveDate {
        (now - self.grace).date_naive() - Duration::days(1)
    }

    /// When the day after the newest finished one becomes due.
    pub fn next_due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let next_midnight = (self.last_finished_day(now) + Duration::days(2))
            .and_time(NaiveTime::MIN)
            .and_utc();
        next_midnight + self.grace
    }

    /// Aggregates every finished day not yet aggregated, and returns them.
    ///
    /// At the first call it resumes from the newest day in `daily_performance` (that day is
    /// aggregated again: deals done while the process was away may belong to it) or, on a
    /// database never aggregated, from the first closed trade's day; with no trades at all it
    /// only aggregates the last finished day.
    pub fn run_due<S>(
        &mut self,
        store: &mut S,
        now: DateTime<Utc>,
    ) -> Result<Vec<NaiveDate>, PersistenceError>
    where
        S: TradeRepo + SnapshotRepo + DailyPerformanceRepo + AccountRepo + ?Sized,
    {
        let last = self.last_finished_day(now);
        let first = if self.started {
            match self.last_done {
                Some(d) => d + Duration::days(1),
                None => last,
            }
        } else {
            match store.last_day(ALL_ACCOUNTS)? {
                Some(d) => d,
                None => store
                    .closed_trade_span(None)?
                    .map_or(last, |(first, _)| first.date_naive()),
            }
        };
        if first > last {
            // Nothing has ended since: the day before `first` is where the next call resumes.
            if self.last_done.is_none() {
                self.last_done = Some(first - Duration::days(1));
            }
            self.started = true;
            return Ok(Vec::new());
        }
        aggregate_range(store, first, last, now)?;
        self.last_done = Some(last);
        self.started = true;
        Ok(dates(first, last).collect())
    }
}

/// How the background aggregation runs.
#[derive(Clone, Debug)]
pub struct DailyAggregationOptions {
    /// The database, opened on a connection of its own.
    pub database: DatabaseUrl,
    /// Where the time comes from: the system clock in production, a manual one in tests.
    pub clock: Arc<dyn Clock>,
    pub grace: Duration,
    /// The longest sleep between two looks at the clock, so a clock set forward (or a system
    /// resumed from sleep) is noticed; and the wait before trying again after a failure.
    pub poll: std::time::Duration,
}

impl DailyAggregationOptions {
    /// The system clock, 00:05 UTC, a look every minute.
    pub fn new(database: DatabaseUrl) -> Self {
        Self {
            database,
            clock: Arc::new(mtq_core::SystemClock),
            grace: DEFAULT_GRACE,
            poll: std::time::Duration::from_secs(60),
        }
    }
}

/// Runs the daily aggregation on a tokio task until `shutdown` turns `true` (or its sender is
/// dropped): it catches up at once, then aggregates each day after it ends. Failures (the
/// database away) are logged and retried at the next look; they never stop the caller.
/// Must be called inside a tokio runtime; the database work runs on the blocking pool.
pub fn spawn_daily_aggregation(
    opts: DailyAggregationOptions,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut schedule = DailySchedule::new(opts.grace);
        let mut store: Option<Store> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = opts.clock.now();
            let url = opts.database.clone();
            let mut sched = schedule.clone();
            let taken = store.take();
            let work = tokio::task::spawn_blocking(move || {
                let result = (|| {
                    let mut s = match taken {
                        Some(s) => s,
                        None => Store::open_url(&url)?,
                    };
                    let done = sched.run_due(&mut s, now);
                    Ok::<_, PersistenceError>((s, done))
                })();
                (sched, result)
            })
            .await;
            match work {
                Ok((sched, Ok((s, Ok(done))))) => {
                    schedule = sched;
                    store = Some(s);
                    if let (Some(first), Some(last)) = (done.first(), done.last()) {
                        tracing::info!(days = done.len(), %first, %last, "daily performance aggregated");
                    }
                }
                Ok((_, Ok((s, Err(e))))) => {
                    tracing::warn!(error = %e, "daily aggregation failed; trying again later");
                    store = (!e.is_transient()).then_some(s);
                }
                Ok((_, Err(e))) => {
                    tracing::warn!(error = %e, "daily aggregation cannot open the database; trying again later");
                }
                Err(e) => {
                    tracing::error!(error = %e, "daily aggregation task failed");
                }
            }
            let until_due = (schedule.next_due(opts.clock.now()) - opts.clock.now())
                .to_std()
                .unwrap_or_default();
            let wait = until_due
                .min(opts.poll)
                .max(std::time::Duration::from_millis(10));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
    })
}
