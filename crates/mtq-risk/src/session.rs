//! Wall-clock times, trading sessions and the trading day, each in a configured timezone.

use std::fmt;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A time of day written `HH:MM` or `HH:MM:SS`, as in the seed's `trading_hours`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(pub NaiveTime);

impl ClockTime {
    pub const MIDNIGHT: ClockTime = ClockTime(NaiveTime::MIN);

    /// `None` when the hour or minute is out of range.
    pub fn hm(hour: u32, minute: u32) -> Option<Self> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(Self)
    }
}

impl std::str::FromStr for ClockTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveTime::parse_from_str(s, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
            .map(Self)
            .map_err(|_| format!("time {s:?} is not HH:MM (00:00 to 23:59)"))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.second() == 0 {
            write!(f, "{}", self.0.format("%H:%M"))
        } else {
            write!(f, "{}", self.0.format("%H:%M:%S"))
        }
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

fn all_days() -> Vec<Weekday> {
    use Weekday::*;
    vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun]
}

fn utc() -> Tz {
    Tz::UTC
}

/// A window in which new entries are allowed: from `start` to `end` local time on `days`.
/// A window whose end is not after its start runs past midnight (`22:00`-`06:00`); `days`
/// names the day the window opens on. Times are in `timezone` (UTC unless given).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradingSession {
    pub start: ClockTime,
    pub end: ClockTime,
    #[serde(default = "all_days")]
    pub days: Vec<Weekday>,
    #[serde(default = "utc")]
    pub timezone: Tz,
}

impl TradingSession {
    /// Whether `now` falls inside this window.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.timezone);
        let t = local.time();
        let today = local.weekday();
        if self.start < self.end {
            self.days.contains(&today) && t >= self.start.0 && t < self.end.0
        } else {
            // Overnight: the evening part belongs to today, the morning part to yesterday.
            (self.days.contains(&today) && t >= self.start.0)
                || (self.days.contains(&today.pred()) && t < self.end.0)
        }
    }
}

/// Whether `now` is inside any of `sessions`; an empty list means trading around the clock.
pub fn in_any_session(sessions: &[TradingSession], now: DateTime<Utc>) -> bool {
    sessions.is_empty() || sessions.iter().any(|s| s.contains(now))
}

/// Deserializes `trading_hours` written either as one `{start, end}` map (the seed's form) or as a
/// list of them, keeping serde's error for a bad field inside.
pub(crate) fn one_or_many_sessions<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<TradingSession>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<TradingSession>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a session {start, end} or a list of them")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            TradingSession::deserialize(de::value::MapAccessDeserializer::new(map)).map(|s| vec![s])
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V)
}

/// When the trading day rolls over: `start` local time in `timezone`. The forex convention is
/// 17:00 America/New_York; the default is midnight UTC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TradingDayConfig {
    pub timezone: Tz,
    pub start: ClockTime,
}

impl Default for TradingDayConfig {
    fn default() -> Self {
        Self {
            timezone: Tz::UTC,
            start: ClockTime::MIDNIGHT,
        }
    }
}

impl TradingDayConfig {
    /// The trading day `now` belongs to, named by a local date: a day that starts in the evening is
    /// named after the date it mostly covers (17:00 New York on Monday opens Tuesday's day), one
    /// that starts in the morning after the date it starts on.
    pub fn day_of(&self, now: DateTime<Utc>) -> NaiveDate {
        let local = now.with_timezone(&self.timezone);
        let date = local.date_naive();
        if self.start == ClockTime::MIDNIGHT {
            return date;
        }
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN);
        let evening_start = self.start.0 >= noon;
        match (evening_start, local.time() >= self.start.0) {
            (true, true) => date + Duration::days(1),
            (true, false) | (false, true) => date,
            (false, false) => date - Duration::days(1),
        }
    }
}

impl TradingDayConfig {
    /// The trading day `now` belongs to and the first instant after `now` at which the day may
    /// change: the next local midnight or local start of the day, whichever comes first. Callers
    /// that ask for every bar keep the window and call [`TradingDayConfig::day_of`]'s time-zone
    /// conversion once a day instead of once a bar.
    ///
    /// The window assumes the zone's UTC offset is constant over it when the offsets at both of
    /// its ends agree (no zone changes its offset and back within a day). When they differ (the
    /// day of a daylight-saving change) the window is one minute, so the conversion runs again.
    pub fn day_window(&self, now: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>) {
        // The default day (midnight UTC): the UTC date, until the next midnight. What the
        // general reading below gives for a zone with no offset, without its conversions.
        if self.timezone == Tz::UTC
            && self.start == ClockTime::MIDNIGHT
            && let Some(next) = now.date_naive().succ_opt()
        {
            return (now.date_naive(), next.and_time(NaiveTime::MIN).and_utc());
        }
        self.day_window_in_zone(now)
    }

    /// [`TradingDayConfig::day_window`] through the zone's offsets, for any zone and start.
    fn day_window_in_zone(&self, now: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>) {
        let day = self.day_of(now);
        let offset = |t: DateTime<Utc>| {
            self.timezone
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        };
        let minute = now + Duration::minutes(1);
        let here = offset(now);
        let local = now.naive_utc() + Duration::seconds(i64::from(here));
        let midnight = (local.date() + Duration::days(1)).and_time(NaiveTime::MIN);
        let start = local.date().and_time(self.start.0);
        let start = if start > local {
            start
        } else {
            start + Duration::days(1)
        };
        let next_local = midnight.min(start);
        let until = (next_local - Duration::seconds(i64::from(here))).and_utc();
        if until <= now || offset(until - Duration::seconds(1)) != here {
            return (day, minute);
        }
        (day, until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::t;

    /// Midnight UTC's shortcut is the window the zone's offsets give: at random instants over
    /// two centuries, every midnight and the seconds around it, and leap days.
    #[test]
    fn the_utc_day_window_is_the_zone_reading() {
        let utc = TradingDayConfig::default();
        let mut rng = mtq_core::SplitMix64::new(8);
        let mut times: Vec<DateTime<Utc>> = Vec::new();
        let base = t("1900-01-01T00:00:00Z");
        for _ in 0..20_000 {
            let secs = i64::try_from(rng.below_inclusive(200 * 366 * 86_400)).unwrap();
            times.push(base + Duration::seconds(secs));
        }
        for day in 0..800 {
            let midnight = t("2023-12-01T00:00:00Z") + Duration::days(day);
            for s in [-1, 0, 1, 59, 3_600] {
                times.push(midnight + Duration::seconds(s));
            }
        }
        times.push(t("2024-02-29T23:59:59Z"));
        times.push(t("2100-02-28T12:00:00Z"));
        for now in times {
            assert_eq!(utc.day_window(now), utc.day_window_in_zone(now), "{now}");
        }
    }

    /// The window's day is `day_of` at every five minutes of two years, in zones with and
    /// without daylight saving and with days starting at midnight, in the evening and in the
    /// morning.
    #[test]
    fn the_day_window_agrees_with_day_of_at_every_five_minutes() {
        let zones: [(Tz, &str); 5] = [
            (Tz::UTC, "00:00"),
            (Tz::America__New_York, "17:00"),
            (Tz::Europe__London, "00:00"),
            (Tz::Australia__Sydney, "08:30"),
            (Tz::Asia__Kolkata, "22:15"),
        ];
        for (timezone, start) in zones {
            let cfg = TradingDayConfig {
                timezone,
                start: start.parse().unwrap(),
            };
            let mut t = t("2023-01-01T00:00:00Z");
            let end = t + Duration::days(2 * 366);
            let mut window: Option<(NaiveDate, DateTime<Utc>)> = None;
            let mut conversions = 0;
            while t < end {
                let day = match window {
                    Some((d, until)) if t < until => d,
                    _ => {
                        conversions += 1;
                        let w = cfg.day_window(t);
                        assert!(w.1 > t);
                        window = Some(w);
                        w.0
                    }
                };
                assert_eq!(day, cfg.day_of(t), "{timezone} {start} at {t}");
                t += Duration::minutes(5);
            }
            // About two a day (midnight and the day's start), not one a bar.
            assert!(conversions < 2 * 2 * 740, "{timezone}: {conversions}");
        }
    }

    #[test]
    fn overnight_sessions_span_midnight_from_the_day_they_open() {
        let s: TradingSession =
            serde_json::from_str(r#"{"start":"22:00","end":"06:00","days":["Mon"]}"#).unwrap();
        // 2024-03-04 is a Monday.
        assert!(s.contains(t("2024-03-04T23:00:00Z")));
        assert!(s.contains(t("2024-03-05T05:59:00Z")));
        assert!(!s.contains(t("2024-03-05T06:00:00Z")));
        assert!(!s.contains(t("2024-03-04T05:00:00Z")));
    }

    #[test]
    fn sessions_are_read_in_their_own_timezone() {
        let s: TradingSession =
            serde_json::from_str(r#"{"start":"08:00","end":"17:00","timezone":"Europe/London"}"#)
                .unwrap();
        // London is on BST (UTC+1) in July: 07:30 UTC is 08:30 local.
        assert!(s.contains(t("2024-07-01T07:30:00Z")));
        assert!(!s.contains(t("2024-07-01T16:30:00Z")));
    }

    #[test]
    fn a_bad_time_names_the_value() {
        let err = serde_json::from_str::<TradingSession>(r#"{"start":"25:00","end":"06:00"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("25:00"), "{err}");
        let err = serde_json::from_str::<TradingSession>(
            r#"{"start":"08:00","end":"09:00","timezone":"Mars/Olympus"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn a_new_york_trading_day_rolls_over_at_five_pm_local_time() {
        let cfg = TradingDayConfig {
            timezone: chrono_tz::America::New_York,
            start: ClockTime::hm(17, 0).unwrap(),
        };
        // 2024-07-01 16:59 EDT = 20:59 UTC: still Monday's day.
        let monday = cfg.day_of(t("2024-07-01T20:59:00Z"));
        let next = cfg.day_of(t("2024-07-01T21:00:00Z"));
        assert_eq!(monday, NaiveDate::from_ymd_opt(2024, 7, 1).unwrap());
        assert_eq!(next, NaiveDate::from_ymd_opt(2024, 7, 2).unwrap());
        // In winter (EST, UTC-5) the same local rollover is 22:00 UTC.
        assert_eq!(
            cfg.day_of(t("2024-01-08T21:30:00Z")),
            NaiveDate::from_ymd_opt(2024, 1, 8).unwrap()
        );
    }

    #[test]
    fn a_morning_rollover_keeps_the_night_in_the_previous_day() {
        let cfg = TradingDayConfig {
            timezone: Tz::UTC,
            start: ClockTime::hm(6, 0).unwrap(),
        };
        assert_eq!(
            cfg.day_of(t("2024-07-02T05:00:00Z")),
            NaiveDate::from_ymd_opt(2024, 7, 1).unwrap()
        );
    }
}
