//! The binary cache: `<source>.mtqc` beside each source file, so a second run reads fixed-size
//! little-endian records instead of parsing text.
//!
//! Layout: the magic `MTQDATA1`, a key (record kind, source length and modification time, the
//! format and time zone the text was read with), the record count, then the records. A bar is
//! 60 bytes (time in seconds, OHLC as f64, tick and real volume as u64, spread as u32); a tick
//! is 44 bytes (seconds, nanoseconds, bid, ask, last, volume). A cache whose key does not match
//! the source as it is now, or whose length is wrong, is ignored and rewritten.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use chrono::DateTime;
use mtq_core::{Bar, Tick};

use super::{ImportOptions, MarketData};

const MAGIC: &[u8; 8] = b"MTQDATA1";
const BAR_SIZE: usize = 60;
const TICK_SIZE: usize = 44;

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

/// Where the cache of `source` lives.
pub fn cache_path(source: &Path) -> PathBuf {
    let mut name = source.file_name().unwrap_or_default().to_os_string();
    name.push(".mtqc");
    source.with_file_name(name)
}

/// What a cache must match to be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key(Vec<u8>);

impl Key {
    pub(crate) fn new(meta: &Metadata, opts: &ImportOptions) -> Self {
        let mut k = Vec::with_capacity(64);
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

/// The cached data, when the cache exists and matches `key`.
pub(crate) fn read(source: &Path, key: &Key) -> Option<MarketData> {
    let bytes = std::fs::read(cache_path(source)).ok()?;
    let mut r = Reader { b: &bytes, at: 0 };
    if r.take(8)? != MAGIC {
        return None;
    }
    let kind = r.take(1)?[0];
    let klen = usize::try_from(r.u64()?).ok()?;
    if r.take(klen)? != key.0.as_slice() {
        return None;
    }
    let n = usize::try_from(r.u64()?).ok()?;
    let size = if kind == 1 { BAR_SIZE } else { TICK_SIZE };
    if r.b.len() - r.at != n.checked_mul(size)? {
        return None;
    }
    match kind {
        1 => {
            // The length was checked above: fixed-size records, each field at a fixed offset,
            // read without a bounds check per field.
            let mut bars = Vec::with_capacity(n);
            for rec in r.b[r.at..].chunks_exact(BAR_SIZE) {
                let u = |at: usize| u64::from_le_bytes(field(rec, at));
                let f = |at: usize| f64::from_bits(u(at));
                bars.push(Bar {
                    time: DateTime::from_timestamp(i64::from_le_bytes(field(rec, 0)), 0)?,
                    open: f(8),
                    high: f(16),
                    low: f(24),
                    close: f(32),
                    tick_volume: u(40),
                    real_volume: u(48),
                    spread: u32::from_le_bytes(field(rec, 56)),
                });
            }
            Some(MarketData::Bars(bars))
        }
        2 => {
            let mut ticks = Vec::with_capacity(n);
            for _ in 0..n {
                let secs = r.i64()?;
                let nanos = r.u32()?;
                ticks.push(Tick {
                    time: DateTime::from_timestamp(secs, nanos)?,
                    bid: r.f64()?,
                    ask: r.f64()?,
                    last: r.f64()?,
                    volume: r.u64()?,
                });
            }
            Some(MarketData::Ticks(ticks))
        }
        _ => None,
    }
}

/// Writes the cache (to a temporary file, then renamed, so a reader never sees half of one).
pub(crate) fn write(source: &Path, key: &Key, data: &MarketData) -> CacheStatus {
    let (kind, size) = match data {
        MarketData::Bars(_) => (1u8, BAR_SIZE),
        MarketData::Ticks(_) => (2u8, TICK_SIZE),
    };
    let mut b = Vec::with_capacity(40 + key.0.len() + data.len() * size);
    b.extend_from_slice(MAGIC);
    b.push(kind);
    b.extend_from_slice(&(key.0.len() as u64).to_le_bytes());
    b.extend_from_slice(&key.0);
    b.extend_from_slice(&(data.len() as u64).to_le_bytes());
    match data {
        MarketData::Bars(bars) => {
            for x in bars {
                b.extend_from_slice(&x.time.timestamp().to_le_bytes());
                for v in [x.open, x.high, x.low, x.close] {
                    b.extend_from_slice(&v.to_le_bytes());
                }
                b.extend_from_slice(&x.tick_volume.to_le_bytes());
                b.extend_from_slice(&x.real_volume.to_le_bytes());
                b.extend_from_slice(&x.spread.to_le_bytes());
            }
        }
        MarketData::Ticks(ticks) => {
            for t in ticks {
                b.extend_from_slice(&t.time.timestamp().to_le_bytes());
                b.extend_from_slice(&t.time.timestamp_subsec_nanos().to_le_bytes());
                for v in [t.bid, t.ask, t.last] {
                    b.extend_from_slice(&v.to_le_bytes());
                }
                b.extend_from_slice(&t.volume.to_le_bytes());
            }
        }
    }
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

/// `N` bytes of a record from `at`; every caller's offset lies inside the record.
#[inline(always)]
fn field<const N: usize>(rec: &[u8], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&rec[at..at + N]);
    b
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u64(&mut self) -> Option<u64> {
        self.arr().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.arr().map(i64::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.arr().map(u32::from_le_bytes)
    }
    fn f64(&mut self) -> Option<f64> {
        self.arr().map(f64::from_le_bytes)
    }
}
