//! The dedup window and the per-channel pacing. Both take the time as an argument, so their
//! rules are tested without waiting.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::event::{Alert, AlertKind};

/// What the dedup window says about an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dedup {
    /// Send it; `repeats` identical alerts were folded since the last one sent.
    Send { repeats: u32 },
    /// An identical alert went out less than a window ago: counted, not sent.
    Suppress,
}

#[derive(Debug)]
struct Seen {
    sent_at: Instant,
    folded: u32,
}

/// Sends the first of identical alerts (same kind and subject) and folds the others within
/// `window` into the next one sent after it.
#[derive(Debug)]
pub struct Deduper {
    window: Duration,
    seen: HashMap<(AlertKind, String), Seen>,
}

/// Entries kept before old ones are swept.
const DEDUP_SWEEP_AT: usize = 4096;

impl Deduper {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            seen: HashMap::new(),
        }
    }

    pub fn check(&mut self, alert: &Alert, now: Instant) -> Dedup {
        // A test message is always sent: the operator is checking the channel.
        if self.window.is_zero() || alert.kind == AlertKind::Test {
            return Dedup::Send { repeats: 0 };
        }
        if self.seen.len() >= DEDUP_SWEEP_AT {
            let window = self.window;
            self.seen
                .retain(|_, s| now.saturating_duration_since(s.sent_at) < window);
        }
        let key = (alert.kind, alert.subject.clone());
        match self.seen.get_mut(&key) {
            Some(s) if now.saturating_duration_since(s.sent_at) < self.window => {
                s.folded = s.folded.saturating_add(1);
                Dedup::Suppress
            }
            Some(s) => {
                let repeats = s.folded;
                *s = Seen {
                    sent_at: now,
                    folded: 0,
                };
                Dedup::Send { repeats }
            }
            None => {
                self.seen.insert(
                    key,
                    Seen {
                        sent_at: now,
                        folded: 0,
                    },
                );
                Dedup::Send { repeats: 0 }
            }
        }
    }
}

/// At most `max` sends in any `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub max: u32,
    pub per: Duration,
}

impl Rule {
    pub const fn new(max: u32, per: Duration) -> Self {
        Self { max, per }
    }
}

/// Telegram's own limits (core.telegram.org/bots/faq, "My bot is hitting limits"): about one
/// message a second to a chat, 20 a minute to a group, 30 a second over all chats.
pub const TELEGRAM_PER_CHAT: Rule = Rule::new(1, Duration::from_secs(1));
pub const TELEGRAM_PER_GROUP: Rule = Rule::new(20, Duration::from_secs(60));
pub const TELEGRAM_GLOBAL: Rule = Rule::new(30, Duration::from_secs(1));

/// A sliding-window limiter over one or more rules.
#[derive(Debug)]
pub struct Pacer {
    rules: Vec<(Rule, VecDeque<Instant>)>,
}

impl Pacer {
    pub fn new(rules: &[Rule]) -> Self {
        Self {
            rules: rules
                .iter()
                .filter(|r| r.max > 0)
                .map(|r| (*r, VecDeque::new()))
                .collect(),
        }
    }

    /// How long to wait before the next send is allowed (zero: now).
    pub fn wait(&mut self, now: Instant) -> Duration {
        let mut wait = Duration::ZERO;
        for (rule, sent) in &mut self.rules {
            while sent
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= rule.per)
            {
                sent.pop_front();
            }
            if sent.len() >= rule.max as usize
                && let Some(oldest) = sent.front()
            {
                wait = wait.max(
                    rule.per
                        .saturating_sub(now.saturating_duration_since(*oldest)),
                );
            }
        }
        wait
    }

    /// Notes a send at `now`.
    pub fn record(&mut self, now: Instant) {
        for (_, sent) in &mut self.rules {
            sent.push_back(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(subject: &str) -> Alert {
        Alert::new(
            AlertKind::BrokerDisconnected,
            "2024-03-04T10:00:00Z".parse().unwrap(),
            "t",
            "x",
            subject,
        )
    }

    #[test]
    fn identical_alerts_within_the_window_are_folded_into_the_next_one_sent() {
        let t0 = Instant::now();
        let mut d = Deduper::new(Duration::from_secs(60));
        assert_eq!(d.check(&alert("a"), t0), Dedup::Send { repeats: 0 });
        for i in 1..=999 {
            assert_eq!(
                d.check(&alert("a"), t0 + Duration::from_millis(i)),
                Dedup::Suppress
            );
        }
        // Another subject is another alert.
        assert_eq!(d.check(&alert("b"), t0), Dedup::Send { repeats: 0 });
        assert_eq!(
            d.check(&alert("a"), t0 + Duration::from_secs(61)),
            Dedup::Send { repeats: 999 }
        );
    }

    #[test]
    fn a_zero_window_sends_everything() {
        let t0 = Instant::now();
        let mut d = Deduper::new(Duration::ZERO);
        assert_eq!(d.check(&alert("a"), t0), Dedup::Send { repeats: 0 });
        assert_eq!(d.check(&alert("a"), t0), Dedup::Send { repeats: 0 });
    }

    #[test]
    fn the_pacer_waits_until_the_oldest_send_leaves_the_window() {
        let t0 = Instant::now();
        let mut p = Pacer::new(&[TELEGRAM_PER_GROUP]);
        for i in 0..20 {
            let now = t0 + Duration::from_secs(i);
            assert_eq!(p.wait(now), Duration::ZERO);
            p.record(now);
        }
        // The 21st within the minute waits for the first to be a minute old.
        assert_eq!(
            p.wait(t0 + Duration::from_secs(20)),
            Duration::from_secs(40)
        );
        assert_eq!(p.wait(t0 + Duration::from_secs(60)), Duration::ZERO);
    }

    #[test]
    fn the_strictest_rule_decides() {
        let t0 = Instant::now();
        let mut p = Pacer::new(&[TELEGRAM_PER_CHAT, TELEGRAM_GLOBAL]);
        p.record(t0);
        assert_eq!(
            p.wait(t0 + Duration::from_millis(200)),
            Duration::from_millis(800)
        );
    }
}
