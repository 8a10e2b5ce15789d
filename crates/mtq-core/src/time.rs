//! Timeframes with MT5's bar alignment, and the `Clock` every component reads time from.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The chart periods MTQ trades on, with MT5's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timeframe {
    M1,
    M5,
    M15,
    M30,
    H1,
    H4,
    D1,
    W1,
    MN1,
}

impl Timeframe {
    pub const ALL: [Timeframe; 9] = [
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::M30,
        Timeframe::H1,
        Timeframe::H4,
        Timeframe::D1,
        Timeframe::W1,
        Timeframe::MN1,
    ];

    /// Nominal length in seconds. A month is counted as 30 days; use [`Timeframe::next_open`] for
    /// the real boundary.
    pub const fn seconds(self) -> i64 {
        match self {
            Timeframe::M1 => 60,
            Timeframe::M5 => 300,
            Timeframe::M15 => 900,
            Timeframe::M30 => 1_800,
            Timeframe::H1 => 3_600,
            Timeframe::H4 => 14_400,
            Timeframe::D1 => 86_400,
            Timeframe::W1 => 604_800,
            Timeframe::MN1 => 2_592_000,
        }
    }

    pub fn duration(self) -> Duration {
        Duration::seconds(self.seconds())
    }

    pub const fn name(self) -> &'static str {
        match self {
            Timeframe::M1 => "M1",
            Timeframe::M5 => "M5",
            Timeframe::M15 => "M15",
            Timeframe::M30 => "M30",
            Timeframe::H1 => "H1",
            Timeframe::H4 => "H4",
            Timeframe::D1 => "D1",
            Timeframe::W1 => "W1",
            Timeframe::MN1 => "MN1",
        }
    }

    /// The open time of the bar containing `t`, aligned as MT5 aligns bars in *server* time.
    ///
    /// `server_offset_secs` is the broker server's offset from UTC (e.g. 7200 for UTC+2). MT5 aligns
    /// intraday bars to multiples of their length from server midnight, D1 to server midnight,
    /// W1 to Sunday 00:00 server time (MT5 weeks begin on Sunday) and MN1 to the first of the month.
    pub fn open_time(self, t: DateTime<Utc>, server_offset_secs: i32) -> DateTime<Utc> {
        let offset = i64::from(server_offset_secs);
        let local = t.timestamp() + offset;
        let local_open = match self {
            Timeframe::W1 => {
                // 1970-01-04 was a Sunday: days since then, floored to weeks.
                let sunday0 = 3 * 86_400;
                (local - sunday0).div_euclid(604_800) * 604_800 + sunday0
            }
            Timeframe::MN1 => {
                let d = DateTime::from_timestamp(local, 0).unwrap_or_default();
                NaiveDate::from_ymd_opt(d.year(), d.month(), 1)
                    .and_then(|n| n.and_hms_opt(0, 0, 0))
                    .map(|n| n.and_utc().timestamp())
                    .unwrap_or(local)
            }
            tf => local.div_euclid(tf.seconds()) * tf.seconds(),
        };
        Utc.timestamp_opt(local_open - offset, 0)
            .single()
            .unwrap_or(t)
    }

    /// The open time of the bar after the one opening at `open` (the bar's close time).
    pub fn next_open(self, open: DateTime<Utc>, server_offset_secs: i32) -> DateTime<Utc> {
        match self {
            Timeframe::MN1 => {
                let local = open + Duration::seconds(i64::from(server_offset_secs));
                let (y, m) = if local.month() == 12 {
                    (local.year() + 1, 1)
                } else {
                    (local.year(), local.month() + 1)
                };
                let next = NaiveDate::from_ymd_opt(y, m, 1)
                    .and_then(|n| n.and_hms_opt(0, 0, 0))
                    .map(|n| n.and_utc())
                    .unwrap_or(local);
                next - Duration::seconds(i64::from(server_offset_secs))
            }
            tf => open + tf.duration(),
        }
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Timeframe {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timeframe::ALL
            .into_iter()
            .find(|tf| tf.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| CoreError::InvalidTimeframe(s.to_string()))
    }
}

/// Where time comes from. The trader core never reads a clock of its own; drivers pass it one.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told: backtests, replays and tests.
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            micros: AtomicI64::new(start.timestamp_micros()),
        }
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.micros.store(t.timestamp_micros(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        let step = by.num_microseconds().unwrap_or(i64::MAX);
        self.micros.fetch_add(step, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testkit::at as t;

    #[test]
    fn intraday_bars_align_to_multiples_of_their_length() {
        let x = t("2024-03-06T13:47:12Z");
        assert_eq!(Timeframe::M1.open_time(x, 0), t("2024-03-06T13:47:00Z"));
        assert_eq!(Timeframe::M5.open_time(x, 0), t("2024-03-06T13:45:00Z"));
        assert_eq!(Timeframe::M15.open_time(x, 0), t("2024-03-06T13:45:00Z"));
        assert_eq!(Timeframe::M30.open_time(x, 0), t("2024-03-06T13:30:00Z"));
        assert_eq!(Timeframe::H1.open_time(x, 0), t("2024-03-06T13:00:00Z"));
        assert_eq!(Timeframe::H4.open_time(x, 0), t("2024-03-06T12:00:00Z"));
    }

    #[test]
    fn h4_and_d1_align_to_server_midnight_not_utc_midnight() {
        // Server at UTC+2: its H4 bars open at 22:00, 02:00, 06:00 ... UTC.
        let x = t("2024-03-06T01:30:00Z");
        assert_eq!(Timeframe::H4.open_time(x, 7200), t("2024-03-05T22:00:00Z"));
        assert_eq!(Timeframe::D1.open_time(x, 7200), t("2024-03-05T22:00:00Z"));
        assert_eq!(Timeframe::D1.open_time(x, 0), t("2024-03-06T00:00:00Z"));
    }

    #[test]
    fn weeks_open_on_sunday_and_months_on_the_first() {
        // 2024-03-06 is a Wednesday; the week opened on Sunday 2024-03-03.
        let x = t("2024-03-06T13:00:00Z");
        assert_eq!(Timeframe::W1.open_time(x, 0), t("2024-03-03T00:00:00Z"));
        assert_eq!(Timeframe::MN1.open_time(x, 0), t("2024-03-01T00:00:00Z"));
        assert_eq!(
            Timeframe::MN1.next_open(t("2024-12-01T00:00:00Z"), 0),
            t("2025-01-01T00:00:00Z")
        );
        assert_eq!(
            Timeframe::MN1.next_open(t("2024-01-31T22:00:00Z"), 7200),
            t("2024-02-29T22:00:00Z")
        );
    }

    #[test]
    fn timeframes_parse_case_insensitively_and_name_bad_input() {
        assert_eq!("h4".parse::<Timeframe>().unwrap(), Timeframe::H4);
        let err = "H2".parse::<Timeframe>().unwrap_err().to_string();
        assert!(err.contains("H2"), "{err}");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(t("2024-01-01T00:00:00Z"));
        assert_eq!(c.now(), t("2024-01-01T00:00:00Z"));
        c.advance(Duration::minutes(5));
        assert_eq!(c.now(), t("2024-01-01T00:05:00Z"));
        c.set(t("2025-01-01T00:00:00Z"));
        assert_eq!(c.now(), t("2025-01-01T00:00:00Z"));
    }
}
