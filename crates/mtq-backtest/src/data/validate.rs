//! The sanity rules every loaded row passes, whether it was parsed from text or read from the
//! binary cache: one function, [`check`], so a damaged cache cannot bring in what a text row
//! would be refused for.
//!
//! Refused (an error naming the file and line, or the cache file and record):
//! - a price that is not finite, not above the floor (0, or the symbol's point when the symbol is
//!   known: nothing is quoted below one point), or above [`MAX_PRICE`];
//! - a price more than `max_jump` times (or less than 1/`max_jump` of) the previous bar's close or
//!   the previous tick's bid, or a bar whose high is more than `max_jump` times its low;
//! - a time more than [`FUTURE_SLACK_DAYS`] days after now, or more than [`ISOLATED_DAYS`] days
//!   from every row next to it in the file (a typo such as `9999.12.31` or `1970.01.01`).
//!
//! Repaired, with a warning: rows out of time order are sorted (a stable sort); bars with the
//! same open time as an earlier bar are dropped (the first is kept). Ticks may share a time.
//! Reported: gaps between rows longer than `max_gap` (one line: the count and the largest).

use chrono::{DateTime, Duration, Utc};
use mtq_core::{Bar, Tick};

use super::MarketData;

/// The highest price accepted. No instrument MT5 quotes comes near it (USDIDR is ~16,000,
/// BTCUSD ~100,000, the costliest shares ~700,000); 1e20 or 1e308 is a broken export.
pub const MAX_PRICE: f64 = 1e7;
/// The largest factor between a price and the one before it. A real daily series moves by
/// tens of percent at most (GOOG's largest day was +16%); a factor of 10 is a decimal point
/// lost or a share split in unadjusted data.
pub const MAX_JUMP: f64 = 10.0;
/// A row further than this from every row next to it is a mistyped date.
pub const ISOLATED_DAYS: i64 = 366;
/// Rows dated further than this after now are refused (server time zones differ by hours).
pub const FUTURE_SLACK_DAYS: i64 = 2;
/// The default `max_gap`: longer than any weekend or holiday break.
pub const DEFAULT_MAX_GAP_DAYS: i64 = 7;

/// What a loaded series must satisfy; see [the module docs](self).
#[derive(Clone, Debug, PartialEq)]
pub struct DataRules {
    /// Prices must be above 0 and at least this (the symbol's point, when known).
    pub min_price: f64,
    pub max_price: f64,
    pub max_jump: f64,
    /// Gaps longer than this are reported; `None` reports none.
    pub max_gap: Option<Duration>,
}

impl Default for DataRules {
    fn default() -> Self {
        Self {
            min_price: 0.0,
            max_price: MAX_PRICE,
            max_jump: MAX_JUMP,
            max_gap: Some(Duration::days(DEFAULT_MAX_GAP_DAYS)),
        }
    }
}

/// Why a row was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RowProblem {
    #[error("{name} {value} is not a finite number")]
    NotFinite { name: &'static str, value: f64 },
    #[error(
        "{name} {} is outside the sane range ({} price <= {}): a broken export?",
        Shown(*.value), Floor(*.min), Shown(*.max)
    )]
    OutOfRange {
        name: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error(
        "{name} {} is {} away from the previous {previous_name} {} (the limit is {limit}x): a misplaced decimal point, or a split in unadjusted data?",
        Shown(*.value), Factor(*.factor), Shown(*.previous)
    )]
    Jump {
        name: &'static str,
        value: f64,
        previous_name: &'static str,
        previous: f64,
        factor: f64,
        limit: f64,
    },
    #[error(
        "high {} is {} the low {} (the limit is {limit}x)",
        Shown(*.high), Factor(*.factor), Shown(*.low)
    )]
    Range {
        high: f64,
        low: f64,
        factor: f64,
        limit: f64,
    },
    #[error("{0}")]
    Bar(&'static str),
    #[error("ask {ask} below bid {bid}")]
    AskBelowBid { bid: f64, ask: f64 },
    #[error("dated {time}, in the future")]
    Future { time: DateTime<Utc> },
    #[error(
        "dated {time}, more than {ISOLATED_DAYS} days from the rows next to it: a mistyped date?"
    )]
    Isolated { time: DateTime<Utc> },
}

/// A price as a message shows it: plainly, or in exponent form when huge or tiny.
struct Shown(f64);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.0.abs();
        if a >= 1e9 || (a > 0.0 && a < 1e-6) {
            write!(f, "{:e}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The lower bound of the sane range: `0 <` or `0.00001 <=`.
struct Floor(f64);

impl std::fmt::Display for Floor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 > 0.0 {
            write!(f, "{} <=", Shown(self.0))
        } else {
            f.write_str("0 <")
        }
    }
}

/// A ratio such as `10.1x`.
struct Factor(f64);

impl std::fmt::Display for Factor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 >= 1e6 {
            write!(f, "{:.1e}x", self.0)
        } else {
            write!(f, "{:.1}x", self.0)
        }
    }
}

/// Something repaired or worth knowing about a file that loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataWarning {
    /// Rows were out of time order and have been sorted.
    Unsorted { rows: usize },
    /// Bars with a time already seen were dropped (the first kept).
    Duplicates { dropped: usize },
    /// Gaps longer than the limit; the largest starts after `after`.
    Gaps {
        count: usize,
        largest: Duration,
        after: DateTime<Utc>,
        limit: Duration,
    },
    /// The file's binary cache could not be trusted: it was parsed again and the cache rebuilt.
    CacheRebuilt(super::CacheDamage),
}

fn span(d: Duration) -> String {
    let (days, hours, mins) = (d.num_days(), d.num_hours() % 24, d.num_minutes() % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

impl std::fmt::Display for DataWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsorted { rows } => write!(
                f,
                "rows not in time order: sorted ({rows} rows were earlier than the row before them)"
            ),
            Self::Duplicates { dropped } => write!(
                f,
                "dropped {dropped} duplicate timestamp{} (the first row of each time kept)",
                if *dropped == 1 { "" } else { "s" }
            ),
            Self::Gaps {
                count,
                largest,
                after,
                limit,
            } => write!(
                f,
                "{count} gap{} longer than {}; the largest is {} after {}",
                if *count == 1 { "" } else { "s" },
                span(*limit),
                span(*largest),
                after.format("%Y-%m-%d %H:%M UTC")
            ),
            Self::CacheRebuilt(why) => write!(
                f,
                "its binary cache ({}) was {why}: parsed again and the cache rebuilt",
                super::cache::CACHE_EXTENSION
            ),
        }
    }
}

/// A row as the rules see it.
trait Row: Copy {
    fn time(&self) -> DateTime<Utc>;
    /// Each price with its name; `last` of a forex tick (0) is left out.
    fn prices(&self) -> ([(&'static str, f64); 4], usize);
    /// The price the next row is compared with, and its name.
    fn reference(&self) -> (&'static str, f64);
    /// Checks inside the row (OHLC order, high against low, ask against bid).
    fn own(&self, max_jump: f64) -> Result<(), RowProblem>;
    /// The factor [`own`](Row::own) holds against `max_jump` (a bar's high over its low).
    fn range_factor(&self) -> Option<f64>;
    /// Bars of one time are duplicates; ticks may share a time.
    const UNIQUE_TIMES: bool;
}

impl Row for Bar {
    fn time(&self) -> DateTime<Utc> {
        self.time
    }
    fn prices(&self) -> ([(&'static str, f64); 4], usize) {
        (
            [
                ("open", self.open),
                ("high", self.high),
                ("low", self.low),
                ("close", self.close),
            ],
            4,
        )
    }
    fn reference(&self) -> (&'static str, f64) {
        ("close", self.close)
    }
    fn own(&self, max_jump: f64) -> Result<(), RowProblem> {
        if self.low > self.open.min(self.close) || self.high < self.open.max(self.close) {
            return Err(RowProblem::Bar(
                "low must not exceed open/close and high must not be below them",
            ));
        }
        let factor = self.high / self.low;
        if factor > max_jump {
            return Err(RowProblem::Range {
                high: self.high,
                low: self.low,
                factor,
                limit: max_jump,
            });
        }
        Ok(())
    }
    fn range_factor(&self) -> Option<f64> {
        Some(self.high / self.low)
    }
    const UNIQUE_TIMES: bool = true;
}

impl Row for Tick {
    fn time(&self) -> DateTime<Utc> {
        self.time
    }
    fn prices(&self) -> ([(&'static str, f64); 4], usize) {
        let n = if self.last == 0.0 { 2 } else { 3 };
        (
            [
                ("bid", self.bid),
                ("ask", self.ask),
                ("last", self.last),
                ("", 0.0),
            ],
            n,
        )
    }
    fn reference(&self) -> (&'static str, f64) {
        ("bid", self.bid)
    }
    fn own(&self, _: f64) -> Result<(), RowProblem> {
        if self.ask < self.bid {
            return Err(RowProblem::AskBelowBid {
                bid: self.bid,
                ask: self.ask,
            });
        }
        Ok(())
    }
    fn range_factor(&self) -> Option<f64> {
        None
    }
    const UNIQUE_TIMES: bool = false;
}

/// A refused row: its position in the order it was read (a text row's index, a cache record's
/// number) and why.
pub(crate) type Refused = (usize, RowProblem);

/// Checks, sorts and de-duplicates `data` in place under `rules`; `now` bounds the dates.
/// Returns the warnings, or the first refused row by its position as read.
pub(crate) fn check(
    data: &mut MarketData,
    rules: &DataRules,
    now: DateTime<Utc>,
) -> Result<Vec<DataWarning>, Refused> {
    match data {
        MarketData::Bars(b) => check_rows(b, rules, now),
        MarketData::Ticks(t) => check_rows(t, rules, now),
    }
}

fn check_rows<R: Row>(
    rows: &mut Vec<R>,
    rules: &DataRules,
    now: DateTime<Utc>,
) -> Result<Vec<DataWarning>, Refused> {
    let latest = now + Duration::days(FUTURE_SLACK_DAYS);
    let isolated = Duration::days(ISOLATED_DAYS);
    for (i, r) in rows.iter().enumerate() {
        let (prices, n) = r.prices();
        for &(name, value) in &prices[..n] {
            if !value.is_finite() {
                return Err((i, RowProblem::NotFinite { name, value }));
            }
            if value <= 0.0 || value < rules.min_price || value > rules.max_price {
                return Err((
                    i,
                    RowProblem::OutOfRange {
                        name,
                        value,
                        min: rules.min_price.max(0.0),
                        max: rules.max_price,
                    },
                ));
            }
        }
        r.own(rules.max_jump).map_err(|p| (i, p))?;
        let t = r.time();
        if t > latest {
            return Err((i, RowProblem::Future { time: t }));
        }
    }
    // Far from every row next to it: between two rows, far from both; at an end, far from its
    // one neighbour while that neighbour is near its other one (of two rows alone neither can
    // be blamed).
    let far = |a: usize, b: usize| (rows[a].time() - rows[b].time()).abs() > isolated;
    let n = rows.len();
    for (i, row) in rows.iter().enumerate() {
        let isolated_row = match i {
            _ if n < 3 => false,
            0 => far(0, 1) && !far(1, 2),
            i if i == n - 1 => far(i, i - 1) && !far(i - 1, i - 2),
            i => far(i, i - 1) && far(i, i + 1),
        };
        if isolated_row {
            return Err((i, RowProblem::Isolated { time: row.time() }));
        }
    }
    let mut warnings = Vec::new();
    // Positions as read, kept only when sorting moves rows (a sorted file costs nothing).
    let unsorted = rows
        .windows(2)
        .filter(|w| w[1].time() < w[0].time())
        .count();
    let mut order: Option<Vec<usize>> = None;
    if unsorted > 0 {
        let mut idx: Vec<usize> = (0..rows.len()).collect();
        idx.sort_by_key(|&i| rows[i].time());
        *rows = idx.iter().map(|&i| rows[i]).collect();
        order = Some(idx);
        warnings.push(DataWarning::Unsorted { rows: unsorted });
    }
    if R::UNIQUE_TIMES {
        let before = rows.len();
        let mut kept = 0;
        for i in 0..rows.len() {
            if kept > 0 && rows[kept - 1].time() == rows[i].time() {
                continue;
            }
            rows[kept] = rows[i];
            if let Some(o) = order.as_mut() {
                o[kept] = o[i];
            } else if kept != i {
                // From here on positions differ from those read: keep them.
                let mut o: Vec<usize> = (0..rows.len()).collect();
                o[kept] = i;
                order = Some(o);
            }
            kept += 1;
        }
        rows.truncate(kept);
        if let Some(o) = order.as_mut() {
            o.truncate(kept);
        }
        if kept < before {
            warnings.push(DataWarning::Duplicates {
                dropped: before - kept,
            });
        }
    }
    let read_at = |k: usize| order.as_ref().map_or(k, |o| o[k]);
    for k in 1..rows.len() {
        let (prev_name, prev) = rows[k - 1].reference();
        let (prices, n) = rows[k].prices();
        for &(name, value) in &prices[..n] {
            let factor = (value / prev).max(prev / value);
            if factor > rules.max_jump {
                return Err((
                    read_at(k),
                    RowProblem::Jump {
                        name,
                        value,
                        previous_name: prev_name,
                        previous: prev,
                        factor,
                        limit: rules.max_jump,
                    },
                ));
            }
        }
    }
    warnings.extend(gap_report(
        rows.len(),
        |k| rows[k].time() - rows[k - 1].time(),
        |k| rows[k].time(),
        rules.max_gap,
    ));
    Ok(warnings)
}

/// The gaps longer than `limit` between rows in time order (one warning: the count and the
/// largest, the first of equal largest ones), from `gap(k)`, the time from row `k - 1` to row `k`,
/// and `time(k)`. The binary cache reports a hit's gaps with this from its time column.
pub(crate) fn gap_report(
    rows: usize,
    gap: impl Fn(usize) -> Duration,
    time: impl Fn(usize) -> DateTime<Utc>,
    limit: Option<Duration>,
) -> Option<DataWarning> {
    let limit = limit?;
    let mut gaps = 0;
    let mut largest: Option<(Duration, usize)> = None;
    for k in 1..rows {
        let g = gap(k);
        if g > limit {
            gaps += 1;
            if largest.is_none_or(|(l, _)| g > l) {
                largest = Some((g, k - 1));
            }
        }
    }
    let (largest, before) = largest?;
    Some(DataWarning::Gaps {
        count: gaps,
        largest,
        after: time(before),
        limit,
    })
}

/// The extremes of a checked series that the rules hold against thresholds: its lowest and
/// highest price and its widest factor (a bar's high over its low, a price against the previous
/// row's), computed as [`check`] computes them. A series within one set of rules passes another
/// exactly when its extremes are within the other's: so the binary cache keeps them, and a cache
/// written under one symbol's rules serves a run under another's without a row checked again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Extremes {
    pub(crate) lowest: f64,
    pub(crate) highest: f64,
    pub(crate) widest: f64,
}

impl Extremes {
    pub(crate) fn of(data: &MarketData) -> Self {
        match data {
            MarketData::Bars(b) => Self::of_rows(b),
            MarketData::Ticks(t) => Self::of_rows(t),
        }
    }

    fn of_rows<R: Row>(rows: &[R]) -> Self {
        let mut e = Self {
            lowest: f64::INFINITY,
            highest: f64::NEG_INFINITY,
            widest: f64::NEG_INFINITY,
        };
        for (k, r) in rows.iter().enumerate() {
            let (prices, n) = r.prices();
            for &(_, value) in &prices[..n] {
                e.lowest = e.lowest.min(value);
                e.highest = e.highest.max(value);
            }
            if let Some(f) = r.range_factor() {
                e.widest = e.widest.max(f);
            }
            if k > 0 {
                let (_, prev) = rows[k - 1].reference();
                for &(_, value) in &prices[..n] {
                    e.widest = e.widest.max((value / prev).max(prev / value));
                }
            }
        }
        e
    }

    /// Whether every row behind these extremes passes the price and factor rules of `rules`
    /// (the same comparisons [`check`] makes, on the extremes).
    pub(crate) fn within(&self, rules: &DataRules) -> bool {
        let refused = self.lowest <= 0.0
            || self.lowest < rules.min_price
            || self.highest > rules.max_price
            || self.widest > rules.max_jump;
        !refused
    }
}
