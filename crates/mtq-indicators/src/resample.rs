//! Multi-timeframe bars: resample a bar stream to a higher timeframe, incrementally.
//!
//! A higher-timeframe bar is aligned as MT5 aligns it ([`Timeframe::open_time`] in broker server
//! time) and is handed out **only once it has closed**: on the source bar that ends its period,
//! or, when source bars are missing, on the first source bar of a later period. Nothing is ever
//! visible before it closed, so an indicator fed from a [`Resampler`] cannot look ahead. The bar
//! still forming is available from [`Resampler::forming`] for `peek`-style use.
//!
//! Aggregation: open of the first source bar, highest high, lowest low, close of the last,
//! summed tick and real volume, and the widest spread (the conservative choice for cost
//! estimates; MT5 does not document how it aggregates `spread`).
//!
//! ```
//! use chrono::{DateTime, Duration, Utc};
//! use mtq_core::{Bar, Timeframe};
//! use mtq_indicators::Resampler;
//!
//! let start: DateTime<Utc> = "2024-03-06T14:00:00Z".parse().unwrap();
//! let m5 = |i: i64, close: f64| Bar {
//!     time: start + Duration::minutes(5 * i), open: close, high: close + 0.0002,
//!     low: close - 0.0002, close, tick_volume: 10, real_volume: 0, spread: 8,
//! };
//! let mut m15 = Resampler::new(Timeframe::M5, Timeframe::M15, 0)?;
//! assert_eq!(m15.update(&m5(0, 1.1000))?.count(), 0);
//! assert_eq!(m15.update(&m5(1, 1.1010))?.count(), 0);   // 14:05, still forming
//! let closed: Vec<Bar> = m15.update(&m5(2, 1.1005))?.collect();  // 14:10 closes 14:00-14:15
//! assert_eq!(closed.len(), 1);
//! assert_eq!(closed[0].time, start);
//! assert_eq!((closed[0].open, closed[0].close, closed[0].tick_volume), (1.1000, 1.1005, 30));
//! # Ok::<(), mtq_indicators::IndicatorError>(())
//! ```

use chrono::{DateTime, Utc};
use mtq_core::{Bar, Timeframe};

use crate::IndicatorError;

/// Turns bars of one timeframe into closed bars of a higher one.
#[derive(Debug, Clone)]
pub struct Resampler {
    source: Timeframe,
    target: Timeframe,
    server_offset_secs: i32,
    forming: Option<Forming>,
    last_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy)]
struct Forming {
    bar: Bar,
    closes_at: DateTime<Utc>,
}

impl Resampler {
    /// `server_offset_secs` is the broker server's offset from UTC (7200 for UTC+2), which sets
    /// where H4, D1 and W1 bars begin.
    pub fn new(
        source: Timeframe,
        target: Timeframe,
        server_offset_secs: i32,
    ) -> Result<Self, IndicatorError> {
        if target <= source {
            return Err(IndicatorError::NotHigherTimeframe {
                source_tf: source,
                target,
            });
        }
        Ok(Self {
            source,
            target,
            server_offset_secs,
            forming: None,
            last_time: None,
        })
    }

    pub fn target(&self) -> Timeframe {
        self.target
    }

    /// Feeds one closed source bar and returns the higher-timeframe bars it closed (zero, one,
    /// or two when a gap in the source closed one period and this bar ended the next).
    pub fn update(&mut self, bar: &Bar) -> Result<Completed, IndicatorError> {
        if let Some(previous) = self.last_time
            && bar.time <= previous
        {
            return Err(IndicatorError::OutOfOrder {
                time: bar.time,
                previous,
            });
        }
        self.last_time = Some(bar.time);
        let mut done = Completed::default();
        let open = self.target.open_time(bar.time, self.server_offset_secs);
        match self.forming.as_mut() {
            Some(f) if f.bar.time == open => merge(&mut f.bar, bar),
            _ => {
                if let Some(f) = self.forming.take() {
                    done.push(f.bar);
                }
                let mut first = *bar;
                first.time = open;
                self.forming = Some(Forming {
                    bar: first,
                    closes_at: self.target.next_open(open, self.server_offset_secs),
                });
            }
        }
        let source_close = self.source.next_open(
            self.source.open_time(bar.time, self.server_offset_secs),
            self.server_offset_secs,
        );
        if let Some(f) = self.forming
            && source_close >= f.closes_at
        {
            done.push(f.bar);
            self.forming = None;
        }
        Ok(done)
    }

    /// The higher-timeframe bar still forming, from the source bars seen so far in its period.
    pub fn forming(&self) -> Option<&Bar> {
        self.forming.as_ref().map(|f| &f.bar)
    }

    pub fn reset(&mut self) {
        self.forming = None;
        self.last_time = None;
    }
}

fn merge(into: &mut Bar, bar: &Bar) {
    into.high = into.high.max(bar.high);
    into.low = into.low.min(bar.low);
    into.close = bar.close;
    into.tick_volume = into.tick_volume.saturating_add(bar.tick_volume);
    into.real_volume = into.real_volume.saturating_add(bar.real_volume);
    into.spread = into.spread.max(bar.spread);
}

/// The higher-timeframe bars one source bar closed, oldest first. Never allocates.
#[derive(Debug, Clone, Default)]
pub struct Completed {
    bars: [Option<Bar>; 2],
    next: usize,
}

impl Completed {
    fn push(&mut self, bar: Bar) {
        if let Some(slot) = self.bars.iter_mut().find(|b| b.is_none()) {
            *slot = Some(bar);
        }
    }
}

impl Iterator for Completed {
    type Item = Bar;
    fn next(&mut self) -> Option<Bar> {
        let bar = self.bars.get_mut(self.next)?.take();
        self.next += 1;
        bar
    }
}

/// Resamples a whole series; only closed higher-timeframe bars are returned (a period still
/// forming at the end of `bars` is left out, as it would be live).
pub fn resample(
    bars: &[Bar],
    source: Timeframe,
    target: Timeframe,
    server_offset_secs: i32,
) -> Result<Vec<Bar>, IndicatorError> {
    let mut r = Resampler::new(source, target, server_offset_secs)?;
    let mut out = Vec::with_capacity(bars.len() / 2 + 1);
    for bar in bars {
        out.extend(r.update(bar)?);
    }
    Ok(out)
}
