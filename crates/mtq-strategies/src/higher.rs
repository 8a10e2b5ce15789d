//! Higher-timeframe bars for the [`Context`](crate::Context): resampled from the entry timeframe,
//! handed out only once closed.

use chrono::{DateTime, Utc};
use mtq_core::{Bar, Timeframe};
use mtq_indicators::{IndicatorError, Resampler};

use crate::error::StrategyError;
use crate::{HigherBars, HigherNeed};

/// Most higher timeframes one strategy (with its filters) may read.
pub const MAX_HIGHER: usize = 4;

/// Keeps the closed higher-timeframe bars a strategy needs: one [`Resampler`] per timeframe and
/// a bounded window of recent closed bars each. `update` is O(1) amortised and does not allocate
/// after construction.
///
/// ```
/// use mtq_core::{SymbolSpec, Timeframe};
/// use mtq_strategies::{Context, HigherTimeframes, registry};
///
/// let map = serde_json::json!({"htf_timeframe": "H4"});
/// let mut strategy = registry::build("macd_mtf", &map)?;
/// let mut higher = HigherTimeframes::new(Timeframe::H1, strategy.higher_timeframes(), 0)?;
/// let spec = SymbolSpec::builtin("EURUSD").unwrap();
/// # let bars: Vec<mtq_core::Bar> = vec![];
/// for bar in &bars {
///     higher.update(bar)?;
///     let views = higher.views();
///     let ctx = Context::new(&spec, Timeframe::H1).with_higher(views.as_slice());
///     let _signal = strategy.on_bar(bar, &ctx);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HigherTimeframes {
    feeds: Vec<Feed>,
}

#[derive(Debug, Clone)]
struct Feed {
    timeframe: Timeframe,
    resampler: Resampler,
    bars: Vec<Bar>,
    keep: usize,
}

impl HigherTimeframes {
    /// Feeds for every timeframe in `needs` (duplicates merged), resampled from `base` bars with
    /// the broker server's offset from UTC (7200 for UTC+2).
    pub fn new(
        base: Timeframe,
        needs: &[HigherNeed],
        server_offset_secs: i32,
    ) -> Result<Self, StrategyError> {
        let mut feeds: Vec<Feed> = Vec::new();
        for need in needs {
            if need.timeframe <= base {
                return Err(StrategyError::TimeframeNotHigher {
                    base,
                    needed: need.timeframe,
                });
            }
            let keep = need.bars.max(8);
            if let Some(f) = feeds.iter_mut().find(|f| f.timeframe == need.timeframe) {
                f.keep = f.keep.max(keep);
                continue;
            }
            let resampler =
                Resampler::new(base, need.timeframe, server_offset_secs).map_err(|_| {
                    StrategyError::TimeframeNotHigher {
                        base,
                        needed: need.timeframe,
                    }
                })?;
            feeds.push(Feed {
                timeframe: need.timeframe,
                resampler,
                bars: Vec::new(),
                keep,
            });
        }
        feeds.truncate(MAX_HIGHER);
        for f in &mut feeds {
            f.bars.reserve_exact(2 * f.keep);
        }
        Ok(Self { feeds })
    }

    /// Feeds one closed entry-timeframe bar; bars out of time order are refused.
    #[inline]
    pub fn update(&mut self, bar: &Bar) -> Result<(), IndicatorError> {
        if self.feeds.is_empty() {
            return Ok(());
        }
        for f in &mut self.feeds {
            for closed in f.resampler.update(bar)? {
                if f.bars.len() == 2 * f.keep {
                    // Shift the newer half down: O(keep) once every `keep` bars, no allocation.
                    f.bars.drain(..f.keep);
                }
                f.bars.push(closed);
            }
        }
        Ok(())
    }

    /// Whether no higher timeframe is fed (the strategy reads none).
    pub fn is_empty(&self) -> bool {
        self.feeds.is_empty()
    }

    /// The closed bars of each timeframe, for [`Context::with_higher`](crate::Context::with_higher).
    pub fn views(&self) -> HigherViews<'_> {
        let mut items = [HigherBars {
            timeframe: Timeframe::MN1,
            closed: &[],
        }; MAX_HIGHER];
        for (slot, f) in items.iter_mut().zip(&self.feeds) {
            *slot = HigherBars {
                timeframe: f.timeframe,
                closed: &f.bars,
            };
        }
        HigherViews {
            items,
            len: self.feeds.len(),
        }
    }
}

/// Borrowed views of [`HigherTimeframes`], without allocating.
#[derive(Debug, Clone, Copy)]
pub struct HigherViews<'a> {
    items: [HigherBars<'a>; MAX_HIGHER],
    len: usize,
}

impl<'a> HigherViews<'a> {
    pub fn as_slice(&self) -> &[HigherBars<'a>] {
        &self.items[..self.len]
    }
}

/// Remembers which higher-timeframe bars a strategy has consumed, so that each is fed to its
/// indicators exactly once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cursor {
    last: Option<DateTime<Utc>>,
}

impl Cursor {
    /// The bars of `closed` newer than the last one returned (scans back from the end: O(new)).
    pub(crate) fn fresh<'a>(&mut self, closed: &'a [Bar]) -> &'a [Bar] {
        let start = match self.last {
            None => 0,
            Some(t) => closed.len() - closed.iter().rev().take_while(|b| b.time > t).count(),
        };
        if let Some(b) = closed.last() {
            self.last = Some(self.last.map_or(b.time, |t| t.max(b.time)));
        }
        &closed[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::series;

    #[test]
    fn h4_bars_appear_once_closed_and_the_window_stays_bounded() {
        let need = HigherNeed {
            timeframe: Timeframe::H4,
            bars: 2,
        };
        let mut h = HigherTimeframes::new(Timeframe::H1, &[need], 0).unwrap();
        let bars = series().flat(&[1.1; 200]);
        for (i, b) in bars.iter().enumerate() {
            h.update(b).unwrap();
            let views = h.views();
            let closed = views.as_slice()[0].closed;
            // t0 is midnight: the H4 bar closes with its fourth hour.
            let expected = (i >= 3).then(|| bars[(i + 1) / 4 * 4 - 4].time);
            assert_eq!(closed.last().map(|b| b.time), expected);
            assert!(closed.len() <= 16);
        }
    }

    #[test]
    fn a_timeframe_not_above_the_base_is_refused() {
        let need = HigherNeed {
            timeframe: Timeframe::H1,
            bars: 1,
        };
        let err = HigherTimeframes::new(Timeframe::H1, &[need], 0).unwrap_err();
        assert!(err.to_string().contains("H1"));
    }

    #[test]
    fn the_cursor_hands_out_each_bar_once() {
        let bars = series().flat(&[1.0, 1.1, 1.2]);
        let mut c = Cursor::default();
        assert_eq!(c.fresh(&bars[..1]).len(), 1);
        assert_eq!(c.fresh(&bars[..1]).len(), 0);
        assert_eq!(c.fresh(&bars[..3]).len(), 2);
        assert_eq!(c.fresh(&bars[1..3]).len(), 0);
    }
}
