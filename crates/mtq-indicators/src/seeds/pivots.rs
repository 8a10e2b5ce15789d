//! Pivot points from the previous period's high, low and close.

use mtq_core::{Bar, Timeframe};

use crate::IndicatorError;
use crate::resample::Resampler;
use crate::stream::Indicator;

/// Which pivot formula to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PivotKind {
    Classic,
    Fibonacci,
    Camarilla,
}

/// Support and resistance levels for one period. `r4`/`s4` exist only for Camarilla.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PivotLevels {
    pub pivot: f64,
    pub r1: f64,
    pub r2: f64,
    pub r3: f64,
    pub r4: Option<f64>,
    pub s1: f64,
    pub s2: f64,
    pub s3: f64,
    pub s4: Option<f64>,
}

impl PivotLevels {
    /// The levels for the period after one with this `high`, `low` and `close`.
    pub fn compute(kind: PivotKind, high: f64, low: f64, close: f64) -> Self {
        let p = (high + low + close) / 3.0;
        let range = high - low;
        match kind {
            PivotKind::Classic => Self {
                pivot: p,
                r1: 2.0 * p - low,
                r2: p + range,
                r3: high + 2.0 * (p - low),
                r4: None,
                s1: 2.0 * p - high,
                s2: p - range,
                s3: low - 2.0 * (high - p),
                s4: None,
            },
            PivotKind::Fibonacci => Self {
                pivot: p,
                r1: p + FIB_1 * range,
                r2: p + FIB_2 * range,
                r3: p + range,
                r4: None,
                s1: p - FIB_1 * range,
                s2: p - FIB_2 * range,
                s3: p - range,
                s4: None,
            },
            PivotKind::Camarilla => {
                let k = CAMARILLA * range;
                Self {
                    pivot: p,
                    r1: close + k / 12.0,
                    r2: close + k / 6.0,
                    r3: close + k / 4.0,
                    r4: Some(close + k / 2.0),
                    s1: close - k / 12.0,
                    s2: close - k / 6.0,
                    s3: close - k / 4.0,
                    s4: Some(close - k / 2.0),
                }
            }
        }
    }
}

/// Fibonacci retracement ratios 0.382 and 0.618 used by Fibonacci pivots.
const FIB_1: f64 = 0.382;
const FIB_2: f64 = 0.618;
/// Nick Scott's Camarilla constant (1989): levels sit at `1.1 × range / {12, 6, 4, 2}` from the close.
const CAMARILLA: f64 = 1.1;

/// Pivot levels over a bar stream: after each bar, the levels computed from the last *closed*
/// period (a D1 period for daily pivots), or `None` until one period has closed.
#[derive(Debug, Clone)]
pub struct Pivots {
    kind: PivotKind,
    periods: Resampler,
    current: Option<PivotLevels>,
}

impl Pivots {
    /// `source` is the timeframe of the bars fed in, `period` the one pivots are computed over
    /// (D1 for daily pivots) and `server_offset_secs` the broker server's offset from UTC, which
    /// sets where that period begins.
    pub fn new(
        kind: PivotKind,
        source: Timeframe,
        period: Timeframe,
        server_offset_secs: i32,
    ) -> Result<Self, IndicatorError> {
        Ok(Self {
            kind,
            periods: Resampler::new(source, period, server_offset_secs)?,
            current: None,
        })
    }
}

impl Indicator for Pivots {
    type Input = Bar;
    type Output = PivotLevels;

    /// A bar out of time order is ignored and the current levels returned.
    fn update(&mut self, bar: Bar) -> Option<PivotLevels> {
        if let Ok(closed) = self.periods.update(&bar) {
            for p in closed {
                self.current = Some(PivotLevels::compute(self.kind, p.high, p.low, p.close));
            }
        }
        self.current
    }

    fn peek(&self, bar: Bar) -> Option<PivotLevels> {
        self.clone().update(bar)
    }

    /// Pivots need one whole period, which is a number of bars only in a gap-free feed: this
    /// reports 0 and `update` returns `None` until the first period closes.
    fn lookback(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.periods.reset();
        self.current = None;
    }
}
