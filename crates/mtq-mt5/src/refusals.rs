//! Refused bridge connections, logged without flooding: the first refusal of an interval is
//! logged whole, the rest are counted and summarised once per interval ("37 connections refused
//! in the last 60 s: wrong token (36), no hello (1)"). A wrong-token flood once wrote 21.6 MB of
//! warnings in 40 s.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

/// Why a connection was refused before it was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefusalReason {
    /// The hello's token is not MTQ's bridge token.
    WrongToken,
    /// No complete hello line within `hello_timeout`.
    NoHello,
    /// The first line was longer than a hello can be.
    HelloTooLong,
    /// The first line was not a well-formed hello.
    BadHello,
    /// The terminal is logged in to another account than the one MTQ serves.
    WrongAccount,
    /// Too many connections were already waiting for their hello: closed at once.
    TooManyPending,
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefusalReason::WrongToken => "wrong token",
            RefusalReason::NoHello => "no hello",
            RefusalReason::HelloTooLong => "hello too long",
            RefusalReason::BadHello => "bad hello",
            RefusalReason::WrongAccount => "wrong account",
            RefusalReason::TooManyPending => "too many unauthenticated connections",
        })
    }
}

/// What to log for a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefusalLogLine {
    /// Log this refusal in full (the first of an interval).
    First,
    /// Log a summary of the refusals counted since the last line, then nothing for this one.
    Summary(String),
    /// Counted, not logged.
    Quiet,
}

/// Counts refusals per interval and decides which of them reach the log.
#[derive(Debug)]
pub(crate) struct RefusalLog {
    interval: Duration,
    /// Start of the current interval; `None` before the first refusal.
    since: Option<Instant>,
    /// Refusals counted (not logged) in the current interval.
    counted: BTreeMap<RefusalReason, u64>,
}

impl RefusalLog {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            since: None,
            counted: BTreeMap::new(),
        }
    }

    /// Records one refusal at `now`.
    pub(crate) fn record(&mut self, now: Instant, reason: RefusalReason) -> RefusalLogLine {
        match self.since {
            Some(since) if now.duration_since(since) < self.interval => {
                *self.counted.entry(reason).or_default() += 1;
                RefusalLogLine::Quiet
            }
            Some(_) => match self.flush(now) {
                Some(summary) => {
                    *self.counted.entry(reason).or_default() += 1;
                    RefusalLogLine::Summary(summary)
                }
                None => {
                    self.since = Some(now);
                    RefusalLogLine::First
                }
            },
            None => {
                self.since = Some(now);
                RefusalLogLine::First
            }
        }
    }

    /// The summary of the counted refusals once the interval is over (called by a timer too, so
    /// the last burst of a flood is reported); starts a new interval.
    pub(crate) fn flush(&mut self, now: Instant) -> Option<String> {
        let since = self.since?;
        if now.duration_since(since) < self.interval {
            return None;
        }
        if self.counted.is_empty() {
            self.since = None;
            return None;
        }
        let total: u64 = self.counted.values().sum();
        let reasons = self
            .counted
            .iter()
            .map(|(r, n)| {
                if self.counted.len() == 1 {
                    r.to_string()
                } else {
                    format!("{r} ({n})")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        self.counted.clear();
        self.since = Some(now);
        Some(format!(
            "{total} connection{} refused in the last {} s: {reasons}",
            if total == 1 { "" } else { "s" },
            self.interval.as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_logs_the_first_refusal_then_one_summary_per_interval() {
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        let mut log = RefusalLog::new(minute);
        assert_eq!(
            log.record(t0, RefusalReason::WrongToken),
            RefusalLogLine::First
        );
        for i in 1..=1000 {
            let at = t0 + Duration::from_millis(i * 50);
            assert_eq!(
                log.record(at, RefusalReason::WrongToken),
                RefusalLogLine::Quiet
            );
        }
        assert_eq!(log.flush(t0 + Duration::from_secs(59)), None);
        let line = log.record(t0 + minute, RefusalReason::NoHello);
        assert_eq!(
            line,
            RefusalLogLine::Summary(
                "1000 connections refused in the last 60 s: wrong token".into()
            )
        );
        assert_eq!(
            log.flush(t0 + minute * 2),
            Some("1 connection refused in the last 60 s: no hello".into())
        );
        // Quiet for an interval: the next refusal is logged whole again.
        assert_eq!(log.flush(t0 + minute * 3), None);
        assert_eq!(
            log.record(t0 + minute * 4, RefusalReason::WrongAccount),
            RefusalLogLine::First
        );
    }

    #[test]
    fn a_summary_of_mixed_refusals_counts_each_reason() {
        let t0 = Instant::now();
        let mut log = RefusalLog::new(Duration::from_secs(60));
        log.record(t0, RefusalReason::WrongToken);
        log.record(t0, RefusalReason::WrongToken);
        log.record(t0, RefusalReason::WrongToken);
        log.record(t0, RefusalReason::TooManyPending);
        assert_eq!(
            log.flush(t0 + Duration::from_secs(60)),
            Some(
                "3 connections refused in the last 60 s: wrong token (2), too many unauthenticated connections (1)"
                    .into()
            )
        );
    }
}
