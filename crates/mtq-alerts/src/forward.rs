//! From the trader's event stream to alerts: each event that makes an alert, the daily summary
//! when the trading day (UTC, by the events' own times, so a paper session's simulated days
//! count too) rolls over, and bursts of authentication failures.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use mtq_core::{Decimal, DomainEvent, EventKind};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::dispatch::Alerter;
use crate::event::{Alert, AlertKind};

/// Spawns the task that turns the trader's events into alerts. It reads a broadcast receiver:
/// when it falls behind it loses the oldest events (counted), the trader never waits.
pub fn forward_events(
    mut events: broadcast::Receiver<DomainEvent>,
    alerter: Alerter,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut day = DailyTally::default();
        loop {
            match events.recv().await {
                Ok(e) => {
                    if let Some(summary) = day.observe(&e) {
                        alerter.notify(summary);
                    }
                    if let Some(a) = Alert::from_event(&e) {
                        alerter.notify(a);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    alerter.stats_arc().lagged.fetch_add(n, Ordering::Relaxed);
                    tracing::warn!(missed = n, "alerts: fell behind the trader's events");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    })
}

/// The day's closed trades and the account, for the daily summary.
#[derive(Debug, Default)]
pub struct DailyTally {
    day: Option<NaiveDate>,
    closes: u32,
    wins: u32,
    net: Decimal,
    balance: Option<Decimal>,
    equity: Option<Decimal>,
    currency: String,
}

impl DailyTally {
    /// Counts `e`; when it is the first event of a new UTC day, returns the summary of the day
    /// before (if anything happened in it).
    pub fn observe(&mut self, e: &DomainEvent) -> Option<Alert> {
        let date = e.time.date_naive();
        let mut summary = None;
        match self.day {
            Some(d) if date > d => {
                summary = self.summary(d, e.time);
                *self = DailyTally {
                    day: Some(date),
                    balance: self.balance,
                    equity: self.equity,
                    currency: std::mem::take(&mut self.currency),
                    ..DailyTally::default()
                };
            }
            None => self.day = Some(date),
            _ => {}
        }
        match &e.kind {
            EventKind::PositionClosed { deal } => {
                let net = deal.balance_effect();
                self.closes += 1;
                if net > Decimal::ZERO {
                    self.wins += 1;
                }
                self.net += net;
            }
            EventKind::AccountSnapshot { account } => {
                self.balance = Some(account.balance);
                self.equity = Some(account.equity);
                self.currency = account.currency.to_string();
            }
            _ => {}
        }
        summary
    }

    fn summary(&self, day: NaiveDate, now: DateTime<Utc>) -> Option<Alert> {
        let balance = self.balance?;
        let equity = self.equity.unwrap_or(balance);
        let cur = &self.currency;
        let win_rate = (self.wins * 100)
            .checked_div(self.closes)
            .map_or_else(|| "-".to_string(), |r| format!("{r}%"));
        Some(Alert::new(
            AlertKind::DailySummary,
            now,
            format!("Daily summary {day}: net {} {cur}", self.net.round_dp(2)),
            format!(
                "{} closed trades, {} winners (win rate {win_rate}), net {} {cur}; balance {} {cur}, equity {} {cur}",
                self.closes,
                self.wins,
                self.net.round_dp(2),
                balance.round_dp(2),
                equity.round_dp(2),
            ),
            day.to_string(),
        ))
    }
}

/// Counts authentication failures; `threshold` within `window` makes one alert, then none
/// until the window has passed.
#[derive(Debug)]
pub struct AuthBurst {
    threshold: u32,
    window: Duration,
    times: VecDeque<Instant>,
    quiet_until: Option<Instant>,
}

impl AuthBurst {
    pub fn new(threshold: u32, window: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            window,
            times: VecDeque::new(),
            quiet_until: None,
        }
    }

    pub fn failure(&mut self, now: Instant, at: DateTime<Utc>, what: &str) -> Option<Alert> {
        while self
            .times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            self.times.pop_front();
        }
        self.times.push_back(now);
        if self.quiet_until.is_some_and(|q| now < q) {
            return None;
        }
        if self.times.len() < self.threshold as usize {
            return None;
        }
        self.quiet_until = Some(now + self.window);
        Some(Alert::new(
            AlertKind::AuthFailures,
            at,
            format!(
                "{} authentication failures within {} s",
                self.times.len(),
                self.window.as_secs()
            ),
            format!("the latest: {what}; check the API's audit events and who is calling"),
            "",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::testkit;

    #[test]
    fn a_burst_alerts_once_per_window() {
        let t0 = Instant::now();
        let at = Utc::now();
        let mut b = AuthBurst::new(3, Duration::from_secs(60));
        assert!(b.failure(t0, at, "password").is_none());
        assert!(b.failure(t0, at, "password").is_none());
        let a = b.failure(t0, at, "api_key").unwrap();
        assert_eq!(a.kind, AlertKind::AuthFailures);
        assert!(a.title.starts_with("3 authentication failures"));
        assert!(b.failure(t0 + Duration::from_secs(1), at, "x").is_none());
        // Spread out, failures never add up to a burst.
        let mut slow = AuthBurst::new(3, Duration::from_secs(60));
        for i in 0..10 {
            assert!(
                slow.failure(t0 + Duration::from_secs(40 * i), at, "x")
                    .is_none()
            );
        }
    }

    #[test]
    fn the_day_rolls_over_into_a_summary() {
        let mut tally = DailyTally::default();
        let t: DateTime<Utc> = "2024-03-04T10:00:00Z".parse().unwrap();
        let acct = testkit::account_usd(Decimal::from(10_000));
        assert!(
            tally
                .observe(&DomainEvent::new(
                    t,
                    EventKind::AccountSnapshot { account: acct }
                ))
                .is_none()
        );
        let next = DomainEvent::new(
            t + chrono::Duration::days(1),
            EventKind::Session { detail: "x".into() },
        );
        let s = tally.observe(&next).unwrap();
        assert_eq!(s.kind, AlertKind::DailySummary);
        assert!(s.title.contains("2024-03-04"), "{}", s.title);
        assert!(s.text.starts_with("0 closed trades"), "{}", s.text);
    }
}
