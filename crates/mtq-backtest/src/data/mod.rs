//! Historical data: MT5 terminal exports (bars, daily bars, ticks), generic OHLCV CSV, and the
//! compact binary cache written beside each source file.
//!
//! Every file is read the same way: decode (UTF-8 with or without BOM, UTF-16 LE/BE), split lines
//! (LF or CRLF), read the header to decide the format and the column order, parse each line, and
//! name the file and line of anything that does not parse. Times without an offset are read in
//! the given [`TimeZoneSpec`] (MT5 exports are in the broker's server time; generic CSV is UTC
//! unless told otherwise) and stored in UTC.

mod cache;
mod parse;
pub(crate) mod text;
mod validate;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone, Utc};
use mtq_core::{Bar, Tick, Timeframe};

pub use cache::{CacheDamage, CacheStatus, cache_path};
pub use parse::{DataFormat, parse_text};
pub use validate::{
    DEFAULT_MAX_GAP_DAYS, DataRules, DataWarning, FUTURE_SLACK_DAYS, ISOLATED_DAYS, MAX_JUMP,
    MAX_PRICE, RowProblem,
};

/// Why data could not be loaded. Each names the file, and the line where there is one.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {reason}")]
    Encoding { file: String, reason: String },
    #[error("{file}: header: {reason}")]
    Header { file: String, reason: String },
    #[error("{file}: line {line}: {reason}")]
    Parse {
        file: String,
        line: usize,
        reason: String,
    },
    /// A row that parsed but breaks a sanity rule (see [`DataRules`]).
    #[error("{file}: line {line}: {problem}")]
    Row {
        file: String,
        line: usize,
        // In the message, not a `#[source]`: printed as a chain it would repeat.
        problem: Box<RowProblem>,
    },
    #[error("{file}: no data rows")]
    Empty { file: String },
    #[error("{0}: files mix bars and ticks; give one kind per run")]
    Mixed(String),
    #[error(
        "time zone `{0}`: expected UTC, an offset such as +02:00 or UTC+3, or an IANA name such as Europe/Athens"
    )]
    TimeZone(String),
}

impl DataError {
    pub(crate) fn row(file: &str, line: usize, problem: RowProblem) -> Self {
        Self::Row {
            file: file.to_string(),
            line,
            problem: Box::new(problem),
        }
    }
}

/// How times without an offset are read.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum TimeZoneSpec {
    #[default]
    Utc,
    /// A fixed offset east of UTC, in seconds (a broker on GMT+2 all year: 7200).
    Fixed(i32),
    /// A zone with daylight saving (most brokers' server time follows `Europe/Athens` or
    /// `EET`, i.e. GMT+2 in winter and GMT+3 in summer).
    Named(chrono_tz::Tz),
}

impl std::str::FromStr for TimeZoneSpec {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, DataError> {
        let t = s.trim();
        let bad = || DataError::TimeZone(s.to_string());
        if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("gmt") || t == "Z" {
            return Ok(Self::Utc);
        }
        let offset = t
            .strip_prefix("UTC")
            .or_else(|| t.strip_prefix("GMT"))
            .unwrap_or(t);
        if let Some(sign) = offset.chars().next().filter(|c| *c == '+' || *c == '-') {
            let body = &offset[1..];
            let (h, m) = match body.split_once(':') {
                Some((h, m)) => (h, m),
                None if body.len() == 4 => body.split_at(2),
                None => (body, "0"),
            };
            let h: i32 = h.parse().map_err(|_| bad())?;
            let m: i32 = m.parse().map_err(|_| bad())?;
            if !(0..=14).contains(&h) || !(0..60).contains(&m) {
                return Err(bad());
            }
            let secs = h * 3600 + m * 60;
            return Ok(Self::Fixed(if sign == '-' { -secs } else { secs }));
        }
        t.parse::<chrono_tz::Tz>()
            .map(Self::Named)
            .map_err(|_| bad())
    }
}

impl std::fmt::Display for TimeZoneSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Utc => f.write_str("UTC"),
            Self::Fixed(s) => {
                let sign = if *s < 0 { '-' } else { '+' };
                let a = s.abs();
                write!(f, "{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
            }
            Self::Named(tz) => f.write_str(tz.name()),
        }
    }
}

impl TimeZoneSpec {
    /// The UTC instant of a local time. In a named zone an hour repeated when clocks go back
    /// is read as its first occurrence; an hour skipped when they go forward is `None`.
    pub fn to_utc(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            Self::Utc => Some(local.and_utc()),
            Self::Fixed(s) => Some((local - chrono::Duration::seconds(i64::from(*s))).and_utc()),
            Self::Named(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    /// The offset from UTC in seconds at `at` (the server offset the trader core and the
    /// simulator's rollover use).
    pub fn offset_secs_at(&self, at: DateTime<Utc>) -> i32 {
        match self {
            Self::Utc => 0,
            Self::Fixed(s) => *s,
            Self::Named(tz) => tz
                .offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc(),
        }
    }
}

/// How to read the files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportOptions {
    /// The format, or `None` to tell it from the header.
    pub format: Option<DataFormat>,
    /// The zone of times without an offset.
    pub timezone: TimeZoneSpec,
    /// Read and write the binary cache beside each file.
    pub use_cache: bool,
    /// The sanity rules rows (and cache records) must pass.
    pub rules: DataRules,
}

/// What a file or a set of files held.
#[derive(Clone, Debug, PartialEq)]
pub enum MarketData {
    Bars(Vec<Bar>),
    Ticks(Vec<Tick>),
}

impl MarketData {
    pub fn len(&self) -> usize {
        match self {
            Self::Bars(b) => b.len(),
            Self::Ticks(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first and last time.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match self {
            Self::Bars(b) => Some((b.first()?.time, b.last()?.time)),
            Self::Ticks(t) => Some((t.first()?.time, t.last()?.time)),
        }
    }
}

/// One file loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedFile {
    pub path: PathBuf,
    pub rows: usize,
    pub cache: CacheStatus,
    /// What was repaired (sorted, duplicates dropped) or is worth knowing (gaps, a damaged
    /// cache rebuilt).
    pub warnings: Vec<DataWarning>,
    /// The smallest positive step between consecutive bars, in whole seconds: the data's
    /// timeframe (see [`loaded_timeframe`]). `None` for ticks and for fewer than two bars.
    pub bar_step_secs: Option<i64>,
}

/// Loads one file: from its binary cache when that is current, else by parsing the text (and
/// writing the cache when `opts.use_cache`).
pub fn load_file(path: &Path, opts: &ImportOptions) -> Result<(MarketData, LoadedFile), DataError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| DataError::Io {
        file: name.clone(),
        source,
    })?;
    let key = cache::Key::new(&meta, opts);
    let now = Utc::now();
    let mut warnings = Vec::new();
    if opts.use_cache {
        match cache::read(path, &key, &opts.rules) {
            // The cache holds rows that passed the rules when it was written, and its extremes
            // are within this run's rules (its CRC proves the bytes): only the gaps are reported
            // again.
            Ok(hit) => {
                let rows = hit.data.len();
                return Ok((
                    hit.data,
                    LoadedFile {
                        path: path.to_path_buf(),
                        rows,
                        cache: CacheStatus::Hit,
                        warnings: hit.gaps.into_iter().collect(),
                        bar_step_secs: hit.step,
                    },
                ));
            }
            Err(cache::Miss::Damaged(why)) => warnings.push(DataWarning::CacheRebuilt(why)),
            Err(cache::Miss::Stale) => {}
        }
    }
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        file: name.clone(),
        source,
    })?;
    let text = text::decode(&bytes, &name)?;
    let (mut data, lines) = parse::parse_rows(&text, &name, opts.format, &opts.timezone)?;
    warnings.extend(
        validate::check(&mut data, &opts.rules, now)
            .map_err(|(i, problem)| DataError::row(&name, lines[i], problem))?,
    );
    let bar_step_secs = match &data {
        MarketData::Bars(b) => smallest_step(b),
        MarketData::Ticks(_) => None,
    };
    let cache = if opts.use_cache {
        cache::write(path, &key, &data)
    } else {
        CacheStatus::Disabled
    };
    let rows = data.len();
    Ok((
        data,
        LoadedFile {
            path: path.to_path_buf(),
            rows,
            cache,
            warnings,
            bar_step_secs,
        },
    ))
}

/// Loads several files of one symbol (e.g. one per year) into one series in time order. Where
/// two files hold a bar with the same open time the first file's bar is kept, and the later
/// file's warnings count it.
pub fn load_files(
    paths: &[PathBuf],
    opts: &ImportOptions,
) -> Result<(MarketData, Vec<LoadedFile>), DataError> {
    let mut bars: Vec<Bar> = Vec::new();
    let mut ticks: Vec<Tick> = Vec::new();
    let mut files = Vec::new();
    for p in paths {
        let (data, mut info) = load_file(p, opts)?;
        match data {
            MarketData::Bars(b) => {
                if !bars.is_empty() {
                    // Stable: of two bars with one time, the earlier file's stays first.
                    let before = bars.len() + b.len();
                    bars.extend(b);
                    bars.sort_by_key(|b| b.time);
                    bars.dedup_by_key(|b| b.time);
                    let dropped = before - bars.len();
                    if dropped > 0 {
                        info.warnings.push(DataWarning::Duplicates { dropped });
                    }
                } else {
                    bars = b;
                }
            }
            MarketData::Ticks(t) => ticks.extend(t),
        }
        if !bars.is_empty() && !ticks.is_empty() {
            return Err(DataError::Mixed(p.display().to_string()));
        }
        files.push(info);
    }
    if ticks.is_empty() {
        Ok((MarketData::Bars(bars), files))
    } else {
        ticks.sort_by_key(|t| t.time);
        Ok((MarketData::Ticks(ticks), files))
    }
}

/// Bars of `timeframe` from bid ticks: OHLC of the bid, `tick_volume` the tick count, `spread`
/// the widest spread seen in the bar (points, rounded to the nearest), bars aligned as MT5 aligns
/// them in the server zone `server_offset_secs`.
pub fn bars_from_ticks(
    ticks: &[Tick],
    timeframe: Timeframe,
    point: f64,
    server_offset_secs: i32,
) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    for t in ticks {
        if !(t.bid.is_finite() && t.bid > 0.0) {
            continue;
        }
        let open = timeframe.open_time(t.time, server_offset_secs);
        let spread = spread_points(t.ask - t.bid, point);
        match out.last_mut() {
            Some(b) if b.time == open => {
                b.high = b.high.max(t.bid);
                b.low = b.low.min(t.bid);
                b.close = t.bid;
                b.tick_volume += 1;
                b.real_volume += t.volume;
                b.spread = b.spread.max(spread);
            }
            _ => out.push(Bar {
                time: open,
                open: t.bid,
                high: t.bid,
                low: t.bid,
                close: t.bid,
                tick_volume: 1,
                real_volume: t.volume,
                spread,
            }),
        }
    }
    out
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn spread_points(spread: f64, point: f64) -> u32 {
    // Points are whole numbers; a spread is never negative and far below u32::MAX.
    if point > 0.0 && spread.is_finite() && spread > 0.0 {
        (spread / point).round().min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// Resamples bars into a higher timeframe (M1 into M5, M5 into H1...), aligned as MT5 aligns
/// them; `spread` is the widest of the bars merged.
pub fn resample_bars(bars: &[Bar], timeframe: Timeframe, server_offset_secs: i32) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::with_capacity(bars.len());
    for b in bars {
        let open = timeframe.open_time(b.time, server_offset_secs);
        match out.last_mut() {
            Some(o) if o.time == open => {
                o.high = o.high.max(b.high);
                o.low = o.low.min(b.low);
                o.close = b.close;
                o.tick_volume += b.tick_volume;
                o.real_volume += b.real_volume;
                o.spread = o.spread.max(b.spread);
            }
            _ => out.push(Bar { time: open, ..*b }),
        }
    }
    out
}

/// The spacing of most bars, as a timeframe: the smallest gap between consecutive bars that
/// matches one (weekends and holidays only make gaps longer).
pub fn infer_timeframe(bars: &[Bar]) -> Option<Timeframe> {
    timeframe_of_step(smallest_step(bars)?)
}

/// The timeframe of bars [`load_files`] gave with `files`: the step a single file's load
/// already found (a cache hit reads it off the time column while that is in memory, instead of
/// walking 64 bytes a bar again), else [`infer_timeframe`] over the merged bars.
pub fn loaded_timeframe(bars: &[Bar], files: &[LoadedFile]) -> Option<Timeframe> {
    match files {
        [one] => timeframe_of_step(one.bar_step_secs?),
        _ => infer_timeframe(bars),
    }
}

/// The smallest positive step between consecutive bars, in whole seconds.
fn smallest_step(bars: &[Bar]) -> Option<i64> {
    bars.windows(2)
        .map(|w| seconds_between(w[0].time, w[1].time))
        .filter(|g| *g > 0)
        .min()
}

/// The timeframe whose bars are `step` seconds apart.
fn timeframe_of_step(step: i64) -> Option<Timeframe> {
    Timeframe::ALL
        .into_iter()
        .find(|tf| tf.seconds() == step)
        .or_else(|| {
            // Monthly bars: gaps of 28 to 31 days.
            (28 * 86_400..=31 * 86_400)
                .contains(&step)
                .then_some(Timeframe::MN1)
        })
}

/// Whole seconds from `a` to `b`, as `(b - a).num_seconds()` gives them, without its calendar
/// arithmetic when both lie on one day at whole seconds (all but one bar a day): on a million bars
/// read from the cache that subtraction was two fifths of the load.
fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    use chrono::Timelike;
    let (na, nb) = (a.naive_utc(), b.naive_utc());
    if na.date() == nb.date() && na.nanosecond() == 0 && nb.nanosecond() == 0 {
        i64::from(nb.num_seconds_from_midnight()) - i64::from(na.num_seconds_from_midnight())
    } else {
        (b - a).num_seconds()
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod validate_tests;
