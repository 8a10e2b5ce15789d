//! Forex trading sessions in UTC, with each financial centre's daylight saving time.

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// A forex trading session, named after its financial centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Session {
    Sydney,
    Tokyo,
    London,
    NewYork,
}

impl Session {
    pub const ALL: [Session; 4] = [
        Session::Sydney,
        Session::Tokyo,
        Session::London,
        Session::NewYork,
    ];

    /// The centre's IANA time zone: its daylight saving rules come with it.
    pub fn time_zone(self) -> Tz {
        match self {
            Session::Sydney => chrono_tz::Australia::Sydney,
            Session::Tokyo => chrono_tz::Asia::Tokyo,
            Session::London => chrono_tz::Europe::London,
            Session::NewYork => chrono_tz::America::New_York,
        }
    }

    /// Local opening and closing hour. These are the conventional FX session hours (Sydney
    /// 07–16, Tokyo 09–18, London 08–17, New York 08–17, each in local time); brokers and
    /// data vendors differ by an hour here and there.
    pub fn local_hours(self) -> (u32, u32) {
        match self {
            Session::Sydney => (7, 16),
            Session::Tokyo => (9, 18),
            Session::London | Session::NewYork => (8, 17),
        }
    }

    /// Whether this session is open at `t` (weekends aside: see [`sessions_at`]).
    pub fn is_open(self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&self.time_zone());
        let (open, close) = self.local_hours();
        let weekday = !matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        weekday && (open..close).contains(&local.hour())
    }

    const fn bit(self) -> u8 {
        match self {
            Session::Sydney => 1,
            Session::Tokyo => 2,
            Session::London => 4,
            Session::NewYork => 8,
        }
    }
}

/// The set of sessions open at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ActiveSessions(u8);

impl ActiveSessions {
    pub fn contains(self, s: Session) -> bool {
        self.0 & s.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Two or more sessions open at once (London/New York is the busiest overlap).
    pub fn is_overlap(self) -> bool {
        self.0.count_ones() >= 2
    }

    pub fn iter(self) -> impl Iterator<Item = Session> {
        Session::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// A small number identifying the combination (0 to 15), for per-combination statistics.
    pub fn key(self) -> usize {
        usize::from(self.0)
    }
}

/// The FX week opens Sunday 17:00 and closes Friday 17:00 New York time (the interbank
/// convention, which moves with US daylight saving).
const WEEK_EDGE_HOUR_NY: u32 = 17;

/// Whether the FX market is open at `t`.
pub fn market_open(t: DateTime<Utc>) -> bool {
    let ny = t.with_timezone(&chrono_tz::America::New_York);
    let after_edge =
        ny.time() >= NaiveTime::from_hms_opt(WEEK_EDGE_HOUR_NY, 0, 0).unwrap_or_default();
    match ny.weekday() {
        Weekday::Sat => false,
        Weekday::Sun => after_edge,
        Weekday::Fri => !after_edge,
        _ => true,
    }
}

/// The sessions open at `t`: none while the FX market is closed for the weekend.
///
/// ```
/// use mtq_indicators::conditions::{Session, sessions_at};
///
/// // 13:30 UTC in July: London (BST, 14:30) and New York (EDT, 09:30) overlap.
/// let s = sessions_at("2024-07-10T13:30:00Z".parse().unwrap());
/// assert!(s.contains(Session::London) && s.contains(Session::NewYork) && s.is_overlap());
/// // The same UTC time in January: New York (EST) opens at 13:00 UTC, so still open.
/// assert!(sessions_at("2024-01-10T13:30:00Z".parse().unwrap()).contains(Session::NewYork));
/// // 12:30 UTC: New York is open in July (08:30 EDT) but not yet in January (07:30 EST).
/// assert!(sessions_at("2024-07-10T12:30:00Z".parse().unwrap()).contains(Session::NewYork));
/// assert!(!sessions_at("2024-01-10T12:30:00Z".parse().unwrap()).contains(Session::NewYork));
/// ```
pub fn sessions_at(t: DateTime<Utc>) -> ActiveSessions {
    if !market_open(t) {
        return ActiveSessions::default();
    }
    ActiveSessions(
        Session::ALL
            .into_iter()
            .filter(|s| s.is_open(t))
            .fold(0, |acc, s| acc | s.bit()),
    )
}
