//! Indicator series computed once over one bar series and shared by every strategy that reads
//! them: what an optimiser needs when hundreds of parameter sets run over the same bars.
//!
//! A [`SeriesCache`] holds the bars' open times and closes. The first strategy that asks for a
//! series (say SMA(20) of the close) computes it with `mtq-indicators`' batch function; every
//! later asker, on any thread, gets the same [`Arc<[f64]>`](Arc). Concurrent askers of one series
//! wait for the first one to finish instead of computing it again.
//!
//! The values are exactly those the streaming handles give: TA-Lib's batch and streaming tiers
//! agree bit for bit (`mtq-indicators`' property tests), batch output is aligned to the input
//! with `NaN` before the lookback, and a streaming handle's first value comes at the input of
//! index `lookback`. So the batch value at index `i` is what a streaming handle fed bars `0..=i`
//! returns for bar `i`, and `NaN` exactly where it returns `None`.
//!
//! That holds for a strategy fed the cache's bars in order from the first. A strategy built on a
//! cache (see [`registry::build_shared`](crate::registry::build_shared)) finds each bar it is fed
//! by its open time: the next bar in the series is one comparison; any other bar is looked up by
//! binary search and counted in [`SeriesCache::resyncs`] (its values are then the series' values
//! at that bar, which a streaming strategy fed a different history would not have); a bar whose
//! time is not in the series gives **no signal** and is counted in [`SeriesCache::strays`].
//! A caller that needs the streaming strategy's results exactly checks that both counts are zero
//! after its run (the optimiser does, and runs again without sharing otherwise).
//!
//! ```
//! use std::sync::Arc;
//! use mtq_core::Bar;
//! use mtq_strategies::MaType;
//! use mtq_strategies::shared::{Series, SeriesCache};
//! use mtq_indicators::stream::{Indicator, Sma};
//!
//! let bars: Vec<Bar> = (0..50)
//!     .map(|i| {
//!         let c = 1.1 + 0.001 * (f64::from(i) * 0.4).sin();
//!         Bar { time: chrono::DateTime::UNIX_EPOCH + chrono::Duration::hours(i.into()),
//!               open: c, high: c, low: c, close: c, tick_volume: 1, real_volume: 0, spread: 5 }
//!     })
//!     .collect();
//! let cache = Arc::new(SeriesCache::new(&bars)?);
//! let sma = cache.series(Series::ma(MaType::Sma, 10))?;
//! let again = cache.series(Series::Sma(10))?;
//! assert!(Arc::ptr_eq(&sma, &again) && cache.computed() == 1); // computed once
//!
//! let mut live = Sma::new(10)?;
//! for (i, b) in bars.iter().enumerate() {
//!     let v = live.update(b.close);
//!     assert_eq!(v.map(f64::to_bits), sma[i].is_finite().then(|| sma[i].to_bits()));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Utc};
use mtq_core::Bar;
use mtq_indicators::{IndicatorError, batch};

use crate::MaType;

/// One indicator series of the close, by kind and period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Series {
    /// Simple moving average (TA-Lib `SMA`).
    Sma(usize),
    /// Exponential moving average (TA-Lib `EMA`).
    Ema(usize),
    /// Linearly weighted moving average (TA-Lib `WMA`).
    Wma(usize),
}

impl Series {
    /// The moving average of `kind` over `period` closes.
    pub fn ma(kind: MaType, period: usize) -> Self {
        match kind {
            MaType::Sma => Series::Sma(period),
            MaType::Ema => Series::Ema(period),
            MaType::Wma => Series::Wma(period),
        }
    }

    fn compute(self, close: &[f64]) -> Result<Vec<f64>, IndicatorError> {
        match self {
            Series::Sma(p) => batch::sma(close, p),
            Series::Ema(p) => batch::ema(close, p),
            Series::Wma(p) => batch::wma(close, p),
        }
    }
}

/// Why bars cannot back a [`SeriesCache`]: a strategy could not be fed them one by one as they
/// are (the trader core skips a bar that is not after the one before, and streaming indicators
/// skip a non-finite close), so shared series would not match streaming ones.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesError {
    /// A bar's open time is not after the previous bar's.
    #[error("bar {index} opens at {time}, not after the bar before it (at {previous})")]
    NotIncreasing {
        index: usize,
        time: DateTime<Utc>,
        previous: DateTime<Utc>,
    },
    /// A bar's close is `NaN` or infinite.
    #[error("bar {index} (at {time}) has a close of {close}, which is not a finite number")]
    NotFinite {
        index: usize,
        time: DateTime<Utc>,
        close: f64,
    },
}

/// A series slot: filled once, by whichever asker comes first.
type Slot = Arc<OnceLock<Result<Arc<[f64]>, IndicatorError>>>;

/// Indicator series over one bar series, computed on first request and shared; see
/// [the module docs](self). `Send + Sync`: share it through an [`Arc`].
pub struct SeriesCache {
    times: Arc<[DateTime<Utc>]>,
    close: Box<[f64]>,
    series: Mutex<HashMap<Series, Slot>>,
    computed: AtomicUsize,
    resyncs: AtomicU64,
    strays: AtomicU64,
}

impl SeriesCache {
    /// A cache over `bars`, whose open times must increase strictly and closes be finite.
    pub fn new(bars: &[Bar]) -> Result<Self, SeriesError> {
        for (index, pair) in bars.windows(2).enumerate() {
            if pair[1].time <= pair[0].time {
                return Err(SeriesError::NotIncreasing {
                    index: index + 1,
                    time: pair[1].time,
                    previous: pair[0].time,
                });
            }
        }
        if let Some((index, b)) = bars.iter().enumerate().find(|(_, b)| !b.close.is_finite()) {
            return Err(SeriesError::NotFinite {
                index,
                time: b.time,
                close: b.close,
            });
        }
        Ok(Self {
            times: bars.iter().map(|b| b.time).collect(),
            close: bars.iter().map(|b| b.close).collect(),
            series: Mutex::new(HashMap::new()),
            computed: AtomicUsize::new(0),
            resyncs: AtomicU64::new(0),
            strays: AtomicU64::new(0),
        })
    }

    /// Bars in the series.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The bars' open times, in order.
    pub fn times(&self) -> &Arc<[DateTime<Utc>]> {
        &self.times
    }

    /// The series `key`, aligned to the bars (`NaN` before its lookback): computed by the first
    /// caller, the same allocation for every later one.
    pub fn series(&self, key: Series) -> Result<Arc<[f64]>, IndicatorError> {
        let slot: Slot = {
            // A panic while holding the lock cannot leave the map half-updated (one insert of a
            // fresh slot), so a poisoned lock is still good to use.
            let mut map = self.series.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(key).or_default())
        };
        // Outside the map's lock: other series are computed meanwhile; askers of this one wait.
        slot.get_or_init(|| {
            self.computed.fetch_add(1, Ordering::Relaxed);
            key.compute(&self.close).map(Arc::from)
        })
        .clone()
    }

    /// Series computed so far (each key at most once).
    pub fn computed(&self) -> usize {
        self.computed.load(Ordering::Relaxed)
    }

    /// Bars a strategy found in the series away from where it expected the next one (its feed
    /// skipped or repeated bars, or started later than the first).
    pub fn resyncs(&self) -> u64 {
        self.resyncs.load(Ordering::Relaxed)
    }

    /// Bars a strategy was fed whose open time is not in the series; each gave no signal.
    pub fn strays(&self) -> u64 {
        self.strays.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for SeriesCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesCache")
            .field("bars", &self.times.len())
            .field("first", &self.times.first())
            .field("last", &self.times.last())
            .field("computed", &self.computed())
            .field("resyncs", &self.resyncs())
            .field("strays", &self.strays())
            .finish_non_exhaustive()
    }
}

/// A strategy's position in a cache's bars: the index of the bar it is fed, found by time.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    cache: Arc<SeriesCache>,
    times: Arc<[DateTime<Utc>]>,
    /// The index the next bar is expected at.
    next: usize,
}

impl Cursor {
    pub(crate) fn new(cache: &Arc<SeriesCache>) -> Self {
        Self {
            cache: Arc::clone(cache),
            times: Arc::clone(&cache.times),
            next: 0,
        }
    }

    /// The index of the bar that opened at `time`; `None` (counted) when the series has none.
    #[inline]
    pub(crate) fn index(&mut self, time: DateTime<Utc>) -> Option<usize> {
        let i = self.next;
        if self.times.get(i) == Some(&time) {
            self.next = i + 1;
            return Some(i);
        }
        self.seek(time)
    }

    /// Off the expected bar: binary search. Out of line, as a well-fed strategy never gets here.
    #[cold]
    #[inline(never)]
    fn seek(&mut self, time: DateTime<Utc>) -> Option<usize> {
        if let Ok(i) = self.times.binary_search(&time) {
            self.cache.resyncs.fetch_add(1, Ordering::Relaxed);
            self.next = i + 1;
            Some(i)
        } else {
            self.cache.strays.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    pub(crate) fn cache(&self) -> &Arc<SeriesCache> {
        &self.cache
    }
}

/// A fast and a slow moving average of one type, read from a cache at a bar's index.
#[derive(Debug, Clone)]
pub(crate) struct SharedPair {
    cursor: Cursor,
    fast: Arc<[f64]>,
    slow: Arc<[f64]>,
}

impl SharedPair {
    pub(crate) fn new(
        cache: &Arc<SeriesCache>,
        kind: MaType,
        fast: usize,
        slow: usize,
    ) -> Result<Self, IndicatorError> {
        Ok(Self {
            fast: cache.series(Series::ma(kind, fast))?,
            slow: cache.series(Series::ma(kind, slow))?,
            cursor: Cursor::new(cache),
        })
    }

    /// The index of the bar that opened at `time`, as [`Cursor::index`].
    #[inline]
    pub(crate) fn index(&mut self, time: DateTime<Utc>) -> Option<usize> {
        self.cursor.index(time)
    }

    /// `(fast, slow)` at bar `i`; `NaN` in either while it warms up.
    #[inline]
    pub(crate) fn at(&self, i: usize) -> Option<(f64, f64)> {
        Some((*self.fast.get(i)?, *self.slow.get(i)?))
    }

    /// `(fast, slow)` at the bar before `i` and at `i`; `None` at the first bar.
    #[inline]
    pub(crate) fn around(&self, i: usize) -> Option<((f64, f64), (f64, f64))> {
        let before = i.checked_sub(1)?;
        // Two checked slices rather than four checked reads.
        match (self.fast.get(before..=i)?, self.slow.get(before..=i)?) {
            (&[f0, f1], &[s0, s1]) => Some(((f0, s0), (f1, s1))),
            _ => None,
        }
    }

    pub(crate) fn cache(&self) -> &Arc<SeriesCache> {
        self.cursor.cache()
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use mtq_indicators::stream::{Ema, Indicator, Sma, Wma};

    use super::*;
    use crate::testkit::series;

    fn closes(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 1.1 + 0.002 * (f64::from(u32::try_from(i).unwrap_or(0)) * 0.37).sin())
            .collect()
    }

    #[test]
    fn each_series_is_computed_once_however_many_threads_ask() {
        let cache = Arc::new(SeriesCache::new(&series().closes(&closes(500))).unwrap());
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let cache = Arc::clone(&cache);
                thread::spawn(move || {
                    let a = cache.series(Series::Sma(20)).unwrap();
                    let b = cache.series(Series::ma(MaType::Ema, 5 + t % 2)).unwrap();
                    (a, b)
                })
            })
            .collect();
        let got: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // SMA(20), EMA(5) and EMA(6): three computations for sixteen requests.
        assert_eq!(cache.computed(), 3);
        assert!(got.windows(2).all(|w| Arc::ptr_eq(&w[0].0, &w[1].0)));
        let again = cache.series(Series::Sma(20)).unwrap();
        assert!(Arc::ptr_eq(&again, &got[0].0));
        assert_eq!(cache.computed(), 3);
    }

    fn streamed<I: Indicator<Input = f64, Output = f64>>(mut ind: I, xs: &[f64]) -> Vec<u64> {
        // `NaN`'s bits for `None`, to compare with the batch series as bits.
        xs.iter()
            .map(|&x| ind.update(x).unwrap_or(f64::NAN).to_bits())
            .collect()
    }

    #[test]
    fn series_equal_the_streaming_handles_bit_for_bit() {
        let xs = closes(400);
        let cache = SeriesCache::new(&series().closes(&xs)).unwrap();
        let bits = |k| -> Vec<u64> {
            cache
                .series(k)
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        for p in [1, 2, 7, 30] {
            assert_eq!(
                bits(Series::Sma(p)),
                streamed(Sma::new(p).unwrap(), &xs),
                "SMA {p}"
            );
            assert_eq!(
                bits(Series::Ema(p)),
                streamed(Ema::new(p).unwrap(), &xs),
                "EMA {p}"
            );
            assert_eq!(
                bits(Series::Wma(p)),
                streamed(Wma::new(p).unwrap(), &xs),
                "WMA {p}"
            );
        }
    }

    #[test]
    fn a_bad_period_is_an_error_for_every_asker() {
        let cache = SeriesCache::new(&series().closes(&closes(10))).unwrap();
        assert!(cache.series(Series::Sma(0)).is_err());
        assert!(cache.series(Series::Sma(0)).is_err());
        assert_eq!(cache.computed(), 1);
    }

    #[test]
    fn bars_out_of_order_or_with_a_non_finite_close_are_refused() {
        let mut bars = series().closes(&closes(10));
        bars.swap(3, 4);
        let err = SeriesCache::new(&bars).unwrap_err();
        assert!(
            matches!(err, SeriesError::NotIncreasing { index: 4, .. }),
            "{err}"
        );
        let mut bars = series().closes(&closes(10));
        bars[6].close = f64::NAN;
        let err = SeriesCache::new(&bars).unwrap_err();
        assert!(
            matches!(err, SeriesError::NotFinite { index: 6, .. }),
            "{err}"
        );
        assert!(SeriesCache::new(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_cursor_follows_the_series_resyncs_by_time_and_counts_strays() {
        let bars = series().closes(&closes(10));
        let cache = Arc::new(SeriesCache::new(&bars).unwrap());
        let mut c = Cursor::new(&cache);
        assert_eq!(c.index(bars[0].time), Some(0));
        assert_eq!(c.index(bars[1].time), Some(1));
        assert_eq!((cache.resyncs(), cache.strays()), (0, 0));
        // Skipping bar 2: found by search, then the cursor carries on from there.
        assert_eq!(c.index(bars[3].time), Some(3));
        assert_eq!(c.index(bars[4].time), Some(4));
        assert_eq!((cache.resyncs(), cache.strays()), (1, 0));
        // A time between two bars is not in the series.
        let between = bars[5].time + chrono::Duration::minutes(1);
        assert_eq!(c.index(between), None);
        assert_eq!((cache.resyncs(), cache.strays()), (1, 1));
        assert_eq!(c.index(bars[5].time), Some(5));
        assert_eq!((cache.resyncs(), cache.strays()), (1, 1));
    }
}
