//! The binary cache: `<source>.mtqc` beside each source file, so a second run reads compact
//! little-endian columns instead of parsing text.
//!
//! A cache is written only from rows that passed [the data rules](super::validate) (sorted, no
//! duplicate bar), with the series' [extremes](Extremes) (lowest and highest price, widest
//! factor), so reading it checks nothing row by row: the rules of this run are held against the
//! extremes, and a CRC-32 proves the columns are the bytes that were checked. A cache whose magic,
//! key, length or CRC does not match (another format version, a changed source, a damaged file),
//! or whose extremes this run's rules refuse, is ignored and rebuilt from the source (whose text
//! check then names the line); one that is there but truncated, damaged or of another format
//! also leaves a warning saying so ([`CacheDamage`]). Only the gap report and the bars' step
//! (their timeframe) are worked out again, from the time column as it is read ([`columns`]:
//! both cores decode blocks of rows straight into the result).
//!
//! Layout (format 2): the magic `MTQDATA2`, the record kind (1 bars, 2 ticks), the key's length
//! (u32) and the key (the source's length and modification time, the format and time zone the
//! text was read with), the row count (u64), the extremes (3 f64), for bars the layout (3 bytes),
//! the CRC-32 of the extremes, the layout and the payload, then the payload as columns:
//! - bars: times (i64 seconds); the four prices as i32 counts of 10^-`scale` when every price of
//!   the file is exactly such a count (`scale` 0-8, checked bit for bit when written), else as f64;
//!   tick volume as u32 when every one fits, else u64; real volume as u64, or no column when all
//!   are 0; spread as u32. A 5-digit forex series is 32 bytes a bar (format 1 was 60).
//! - ticks: times (i64 seconds, u32 nanoseconds), bid, ask and last as f64, volume as u64.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use mtq_core::{Bar, Tick};

mod columns;

#[cfg(test)]
use columns::decode_block;
pub(super) use columns::gap_threshold;
use columns::read_bars;

use super::validate::{Extremes, gap_report};
use super::{DataRules, DataWarning, ImportOptions, MarketData};

const MAGIC: &[u8; 8] = b"MTQDATA2";
const KIND_BARS: u8 = 1;
const KIND_TICKS: u8 = 2;
/// `scale` when prices are stored as f64.
const RAW_PRICES: u8 = u8::MAX;
/// The most decimals a scaled price may have (10^8 is still exact in an f64).
const MAX_SCALE: u8 = 8;
const TICK_SIZE: usize = 44;
const SECS_PER_DAY: i64 = 86_400;

/// What happened with a file's cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// Read from a current cache; no text was parsed.
    Hit,
    /// Parsed, and the cache written for next time.
    Written(PathBuf),
    /// Parsed; the cache could not be written (the reason), which does not stop the run.
    WriteFailed(String),
    /// Caching was turned off.
    Disabled,
}

/// What a cache's name adds to its source's.
pub(crate) const CACHE_EXTENSION: &str = ".mtqc";

/// Where the cache of `source` lives.
pub fn cache_path(source: &Path) -> PathBuf {
    let mut name = source.file_name().unwrap_or_default().to_os_string();
    name.push(CACHE_EXTENSION);
    source.with_file_name(name)
}

/// What a cache must match to be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key(Vec<u8>);

impl Key {
    pub(crate) fn new(meta: &Metadata, opts: &ImportOptions) -> Self {
        let mut k = Vec::with_capacity(96);
        k.extend_from_slice(&meta.len().to_le_bytes());
        let modified = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        k.extend_from_slice(&modified.as_secs().to_le_bytes());
        k.extend_from_slice(&modified.subsec_nanos().to_le_bytes());
        k.push(opts.format.map_or(0, super::DataFormat::code));
        let tz = opts.timezone.to_string();
        k.extend_from_slice(&u16::try_from(tz.len()).unwrap_or(u16::MAX).to_le_bytes());
        k.extend_from_slice(tz.as_bytes());
        Self(k)
    }
}

/// Why a file that claims to be the cache of a source was not trusted but rebuilt. A missing
/// cache, one of a source that changed or read in another time zone, or one whose extremes this
/// run's rules refuse is replaced without a word: that is the cache doing its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheDamage {
    /// Written by another version of MTQ, in another format.
    OtherFormat,
    /// Not an MTQ cache, or a header field out of range.
    Header,
    /// Shorter or longer than its header says (a write or a copy cut short).
    Length,
    /// Its bytes differ from their CRC-32.
    Checksum,
}

impl std::fmt::Display for CacheDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OtherFormat => "of another MTQ version's format",
            Self::Header => "not an MTQ cache (its header is not one)",
            Self::Length => "truncated (its length is not the one its header gives)",
            Self::Checksum => "damaged (its bytes do not match their CRC-32)",
        })
    }
}

/// A current cache, read.
pub(crate) struct Hit {
    pub(crate) data: MarketData,
    /// Its gaps longer than the rules' `max_gap`.
    pub(crate) gaps: Option<DataWarning>,
    /// The smallest positive step between consecutive times, in whole seconds (bars only).
    pub(crate) step: Option<i64>,
}

/// Why a cache was not read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    /// None there, or of another source, time zone or rules: rebuilt quietly.
    Stale,
    /// There, but not to be trusted: rebuilt, and the user told why.
    Damaged(CacheDamage),
}

impl From<std::io::Error> for Miss {
    /// A header read cut short: the file ends before its header does.
    fn from(_: std::io::Error) -> Self {
        Self::Damaged(CacheDamage::Length)
    }
}

/// The cached data, when the cache exists, is of this format, matches `key` and its CRC, and
/// its extremes are within `rules`.
pub(crate) fn read(source: &Path, key: &Key, rules: &DataRules) -> Result<Hit, Miss> {
    use std::io::Read;
    let damaged = Miss::Damaged;
    let Ok(mut file) = std::fs::File::open(cache_path(source)) else {
        return Err(Miss::Stale);
    };
    let len = file.metadata()?.len();
    let magic = read_arr::<8>(&mut file)?;
    if magic != *MAGIC {
        return Err(damaged(if magic.starts_with(&MAGIC[..7]) {
            CacheDamage::OtherFormat
        } else {
            CacheDamage::Header
        }));
    }
    let [kind] = read_arr::<1>(&mut file)?;
    let klen = usize::try_from(u32::from_le_bytes(read_arr(&mut file)?))
        .map_err(|_| damaged(CacheDamage::Header))?;
    if klen != key.0.len() {
        return Err(Miss::Stale);
    }
    let mut stored = vec![0u8; klen];
    file.read_exact(&mut stored)?;
    if stored != key.0 {
        return Err(Miss::Stale);
    }
    let n = usize::try_from(u64::from_le_bytes(read_arr(&mut file)?))
        .map_err(|_| damaged(CacheDamage::Header))?;
    let extremes_bytes: [u8; 24] = read_arr(&mut file)?;
    let extremes = Extremes {
        lowest: f64::from_le_bytes(field(&extremes_bytes, 0)),
        highest: f64::from_le_bytes(field(&extremes_bytes, 8)),
        widest: f64::from_le_bytes(field(&extremes_bytes, 16)),
    };
    if !extremes.within(rules) {
        return Err(Miss::Stale);
    }
    // Magic, kind, key length, key, row count, extremes.
    let head_len = 8 + 1 + 4 + klen as u64 + 8 + 24;
    let expect = |start: u64, record: usize| -> Result<(), Miss> {
        let payload = n
            .checked_mul(record)
            .and_then(|b| u64::try_from(b).ok())
            .and_then(|b| b.checked_add(start));
        if payload == Some(len) {
            Ok(())
        } else {
            Err(damaged(CacheDamage::Length))
        }
    };
    // The CRC covers the extremes and the layout too: a flipped bit there is damage as well.
    match kind {
        KIND_BARS => {
            let layout_bytes: [u8; 3] = read_arr(&mut file)?;
            let layout = BarLayout::from_bytes(layout_bytes).ok_or(damaged(CacheDamage::Header))?;
            let crc = u32::from_le_bytes(read_arr(&mut file)?);
            let start = head_len + 3 + 4;
            expect(start, layout.record_size())?;
            let mut head = extremes_bytes.to_vec();
            head.extend_from_slice(&layout_bytes);
            let gap_above = gap_threshold(rules.max_gap);
            let read = read_bars(&file, start, n, layout, gap_above);
            let mut computed = crc32fast::Hasher::new();
            computed.update(&head);
            computed.combine(&read.crc);
            if computed.finalize() != crc {
                return Err(damaged(CacheDamage::Checksum));
            }
            // A time out of range that the CRC vouches for was never written by us.
            let (bars, steps) = read.rows.ok_or(damaged(CacheDamage::Header))?;
            let gaps = match (rules.max_gap, steps.largest) {
                (Some(limit), Some((largest, before))) => Some(DataWarning::Gaps {
                    count: steps.gaps,
                    largest: Duration::seconds(largest),
                    after: bars[before].time,
                    limit,
                }),
                _ => None,
            };
            Ok(Hit {
                data: MarketData::Bars(bars),
                gaps,
                step: steps.smallest,
            })
        }
        KIND_TICKS => {
            let crc = u32::from_le_bytes(read_arr(&mut file)?);
            expect(head_len + 4, TICK_SIZE)?;
            let mut payload = Vec::new();
            file.read_to_end(&mut payload)?;
            let mut h = crc32fast::Hasher::new();
            h.update(&extremes_bytes);
            h.update(&payload);
            if h.finalize() != crc {
                return Err(damaged(CacheDamage::Checksum));
            }
            if Some(payload.len()) != n.checked_mul(TICK_SIZE) {
                return Err(damaged(CacheDamage::Length));
            }
            let ticks = decode_ticks(&payload, n).ok_or(damaged(CacheDamage::Header))?;
            let gaps = gap_report(
                n,
                |k| ticks[k].time - ticks[k - 1].time,
                |k| ticks[k].time,
                rules.max_gap,
            );
            Ok(Hit {
                data: MarketData::Ticks(ticks),
                gaps,
                step: None,
            })
        }
        _ => Err(damaged(CacheDamage::Header)),
    }
}

fn read_arr<const N: usize>(r: &mut impl std::io::Read) -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

/// Writes the cache of rows that passed the rules (to a temporary file, then renamed, so a
/// reader never sees half of one).
pub(crate) fn write(source: &Path, key: &Key, data: &MarketData) -> CacheStatus {
    let mut b = Vec::with_capacity(64 + key.0.len());
    b.extend_from_slice(MAGIC);
    b.push(match data {
        MarketData::Bars(_) => KIND_BARS,
        MarketData::Ticks(_) => KIND_TICKS,
    });
    b.extend_from_slice(&u32::try_from(key.0.len()).unwrap_or(u32::MAX).to_le_bytes());
    b.extend_from_slice(&key.0);
    b.extend_from_slice(&(data.len() as u64).to_le_bytes());
    let e = Extremes::of(data);
    let mut crc = crc32fast::Hasher::new();
    for v in [e.lowest, e.highest, e.widest] {
        b.extend_from_slice(&v.to_le_bytes());
        crc.update(&v.to_le_bytes());
    }
    let payload = match data {
        MarketData::Bars(bars) => {
            let layout = BarLayout::of(bars).to_bytes();
            b.extend_from_slice(&layout);
            crc.update(&layout);
            encode_bars(bars, BarLayout::of(bars))
        }
        MarketData::Ticks(ticks) => encode_ticks(ticks),
    };
    crc.update(&payload);
    b.extend_from_slice(&crc.finalize().to_le_bytes());
    b.extend_from_slice(&payload);
    let path = cache_path(source);
    let tmp = path.with_extension(format!("mtqc.tmp{}", std::process::id()));
    match std::fs::write(&tmp, &b).and_then(|()| std::fs::rename(&tmp, &path)) {
        Ok(()) => CacheStatus::Written(path),
        Err(e) => {
            std::fs::remove_file(&tmp).ok();
            CacheStatus::WriteFailed(format!("{}: {e}", path.display()))
        }
    }
}

/// How a file's bar columns are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BarLayout {
    /// Prices as i32 counts of 10^-scale, or [`RAW_PRICES`].
    scale: u8,
    wide_tick_volume: bool,
    real_volume: bool,
}

impl BarLayout {
    fn of(bars: &[Bar]) -> Self {
        let scale = (0..=MAX_SCALE)
            .find(|&s| {
                let unit = pow10(s);
                bars.iter().all(|b| {
                    [b.open, b.high, b.low, b.close]
                        .into_iter()
                        .all(|p| scaled(p, unit).is_some())
                })
            })
            .unwrap_or(RAW_PRICES);
        Self {
            scale,
            wide_tick_volume: bars.iter().any(|b| u32::try_from(b.tick_volume).is_err()),
            real_volume: bars.iter().any(|b| b.real_volume != 0),
        }
    }

    fn to_bytes(self) -> [u8; 3] {
        [
            self.scale,
            u8::from(self.wide_tick_volume),
            u8::from(self.real_volume),
        ]
    }

    fn from_bytes(b: [u8; 3]) -> Option<Self> {
        let flag = |v: u8| match v {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        };
        (b[0] <= MAX_SCALE || b[0] == RAW_PRICES).then_some(Self {
            scale: b[0],
            wide_tick_volume: flag(b[1])?,
            real_volume: flag(b[2])?,
        })
    }

    fn price_size(self) -> usize {
        if self.scale == RAW_PRICES { 8 } else { 4 }
    }

    fn record_size(self) -> usize {
        8 + 4 * self.price_size()
            + if self.wide_tick_volume { 8 } else { 4 }
            + if self.real_volume { 8 } else { 0 }
            + 4
    }
}

fn pow10(scale: u8) -> f64 {
    10f64.powi(i32::from(scale))
}

/// `p` as a count of `1/unit`, when that count fits an i32 and gives `p` back bit for bit.
fn scaled(p: f64, unit: f64) -> Option<i32> {
    let q = (p * unit).round();
    if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&q) {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)] // a whole number in the i32 range, checked above
    let q = q as i32;
    (unscaled(q, unit).to_bits() == p.to_bits()).then_some(q)
}

/// The one way a stored count becomes a price again (the writer checked it with this).
#[inline(always)]
fn unscaled(q: i32, unit: f64) -> f64 {
    f64::from(q) / unit
}

fn encode_bars(bars: &[Bar], layout: BarLayout) -> Vec<u8> {
    let mut b = Vec::with_capacity(bars.len() * layout.record_size());
    for x in bars {
        b.extend_from_slice(&x.time.timestamp().to_le_bytes());
    }
    let unit = pow10(layout.scale);
    for price in [
        |x: &Bar| x.open,
        |x: &Bar| x.high,
        |x: &Bar| x.low,
        |x: &Bar| x.close,
    ] {
        for x in bars {
            let p = price(x);
            match scaled(p, unit) {
                Some(q) if layout.scale != RAW_PRICES => b.extend_from_slice(&q.to_le_bytes()),
                _ => b.extend_from_slice(&p.to_le_bytes()),
            }
        }
    }
    for x in bars {
        match u32::try_from(x.tick_volume) {
            Ok(v) if !layout.wide_tick_volume => b.extend_from_slice(&v.to_le_bytes()),
            _ => b.extend_from_slice(&x.tick_volume.to_le_bytes()),
        }
    }
    if layout.real_volume {
        for x in bars {
            b.extend_from_slice(&x.real_volume.to_le_bytes());
        }
    }
    for x in bars {
        b.extend_from_slice(&x.spread.to_le_bytes());
    }
    b
}

/// The widths of a bar payload's columns, in file order: time, open, high, low, close, tick
/// volume, real volume (0: no column), spread.
fn bar_widths(layout: BarLayout) -> [usize; 8] {
    let ps = layout.price_size();
    [
        8,
        ps,
        ps,
        ps,
        ps,
        if layout.wide_tick_volume { 8 } else { 4 },
        if layout.real_volume { 8 } else { 0 },
        4,
    ]
}

/// Decodes a whole payload held in memory (the columns one after another).
#[cfg(test)]
fn decode_bars(payload: &[u8], n: usize, layout: BarLayout) -> Option<Vec<Bar>> {
    let mut cols: [&[u8]; 8] = [&[]; 8];
    let mut rest = payload;
    for (col, w) in cols.iter_mut().zip(bar_widths(layout)) {
        let (c, r) = rest.split_at_checked(n.checked_mul(w)?)?;
        *col = c;
        rest = r;
    }
    if !rest.is_empty() {
        return None;
    }
    let mut bars = Vec::new();
    let steps = decode_block(
        &cols,
        layout,
        &mut Clock::default(),
        &mut bars,
        (0, i64::MAX),
    );
    steps.map(|_| bars)
}

fn encode_ticks(ticks: &[Tick]) -> Vec<u8> {
    let mut b = Vec::with_capacity(ticks.len() * TICK_SIZE);
    for t in ticks {
        b.extend_from_slice(&t.time.timestamp().to_le_bytes());
        b.extend_from_slice(&t.time.timestamp_subsec_nanos().to_le_bytes());
        for v in [t.bid, t.ask, t.last] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&t.volume.to_le_bytes());
    }
    b
}

fn decode_ticks(payload: &[u8], n: usize) -> Option<Vec<Tick>> {
    let mut clock = Clock::default();
    let mut ticks = Vec::with_capacity(n);
    for rec in payload.chunks_exact(TICK_SIZE) {
        let f = |at: usize| f64::from_le_bytes(field(rec, at));
        ticks.push(Tick {
            time: clock.at(
                i64::from_le_bytes(field(rec, 0)),
                u32::from_le_bytes(field(rec, 8)),
            )?,
            bid: f(12),
            ask: f(20),
            last: f(28),
            volume: u64::from_le_bytes(field(rec, 36)),
        });
    }
    Some(ticks)
}

/// Unix seconds to times, working out the calendar date once a day: rows are sorted, so most
/// share the previous row's day, and `DateTime::from_timestamp` spends most of its work on it.
#[derive(Default)]
struct Clock {
    /// The current day's first second and its date.
    day: Option<(i64, NaiveDate)>,
}

impl Clock {
    #[inline(always)]
    fn at(&mut self, secs: i64, nanos: u32) -> Option<DateTime<Utc>> {
        let (start, date) = match self.day {
            // On the day before: no division (the rows are sorted, so this is nearly every row).
            Some((start, date)) if (start..start + SECS_PER_DAY).contains(&secs) => (start, date),
            _ => self.new_day(secs)?,
        };
        let sod = u32::try_from(secs - start).ok()?;
        let time = NaiveTime::from_num_seconds_from_midnight_opt(sod, nanos)?;
        Some(date.and_time(time).and_utc())
    }

    /// The day of `secs`, kept for the rows after it.
    #[cold]
    fn new_day(&mut self, secs: i64) -> Option<(i64, NaiveDate)> {
        let start = secs.div_euclid(SECS_PER_DAY).checked_mul(SECS_PER_DAY)?;
        let date = DateTime::from_timestamp(start, 0)?.date_naive();
        self.day = Some((start, date));
        Some((start, date))
    }
}

/// `N` bytes of a column from `at`; every caller's offset lies inside the column.
#[inline(always)]
fn field<const N: usize>(col: &[u8], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&col[at..at + N]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_gives_what_from_timestamp_gives_across_days_and_before_1970() {
        let mut clock = Clock::default();
        for secs in [
            -2_208_988_800, // 1900-01-01
            -2_208_988_799,
            -86_401,
            -1,
            0,
            3_599,
            86_399,
            86_400,
            1_709_510_400,
            1_709_596_799,
            253_402_214_400, // 9999-12-31
        ] {
            assert_eq!(
                clock.at(secs, 7),
                DateTime::from_timestamp(secs, 7),
                "{secs}"
            );
        }
        assert_eq!(clock.at(i64::MAX, 0), None);
        assert_eq!(clock.at(i64::MIN, 0), None);
    }

    #[test]
    fn prices_with_more_decimals_than_an_i32_holds_stay_f64() {
        let bars = [Bar {
            time: DateTime::from_timestamp(0, 0).unwrap(),
            open: 1.123_456_789_1,
            high: 1.2,
            low: 1.0,
            close: 1.1,
            tick_volume: u64::from(u32::MAX) + 1,
            real_volume: 3,
            spread: 2,
        }];
        let layout = BarLayout::of(&bars);
        assert_eq!(
            layout,
            BarLayout {
                scale: RAW_PRICES,
                wide_tick_volume: true,
                real_volume: true
            }
        );
        let back = decode_bars(&encode_bars(&bars, layout), 1, layout).unwrap();
        assert_eq!(back, bars);
        let five = [Bar {
            open: 1.10235,
            high: 1.10301,
            low: 1.0999,
            close: 1.1,
            tick_volume: 12,
            real_volume: 0,
            ..bars[0]
        }];
        let layout = BarLayout::of(&five);
        assert_eq!((layout.scale, layout.record_size()), (5, 32));
        assert_eq!(
            decode_bars(&encode_bars(&five, layout), 1, layout).unwrap(),
            five
        );
    }
}
