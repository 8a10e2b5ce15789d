//! Fair value gaps: three-candle imbalances.

use chrono::{DateTime, Utc};
use mtq_core::Bar;

use super::Direction;
use crate::IndicatorError;
use crate::stream::Indicator;

/// A price range the market crossed in one candle without trading on both sides of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FairValueGap {
    /// `Bullish` when price gapped up (support below), `Bearish` when it gapped down.
    pub direction: Direction,
    pub top: f64,
    pub bottom: f64,
    /// Open time of the middle (impulse) candle.
    pub time: DateTime<Utc>,
}

/// What one bar did to the fair value gaps.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FairValueGapUpdate {
    /// The gap this bar completed.
    pub created: Option<FairValueGap>,
    /// How many open gaps this bar filled completely.
    pub filled: usize,
}

/// Fair value gap detector. See [the module docs](crate::seeds) for the rule.
#[derive(Debug, Clone)]
pub struct FairValueGaps {
    min_size: f64,
    max_open: usize,
    bars: [Option<Bar>; 2],
    open: Vec<FairValueGap>,
}

impl FairValueGaps {
    /// Gaps smaller than `min_size` (in price) are ignored; at most `max_open` unfilled gaps are
    /// kept, the oldest dropped first.
    pub fn new(min_size: f64, max_open: usize) -> Result<Self, IndicatorError> {
        if !min_size.is_finite() || min_size < 0.0 {
            return Err(IndicatorError::InvalidParameter {
                indicator: "FVG",
                param: "min_size",
                value: min_size.to_string(),
                expected: "a finite price distance that is not negative",
            });
        }
        if max_open == 0 {
            return Err(IndicatorError::InvalidParameter {
                indicator: "FVG",
                param: "max_open",
                value: "0".into(),
                expected: "at least 1",
            });
        }
        Ok(Self {
            min_size,
            max_open,
            bars: [None, None],
            open: Vec::new(),
        })
    }

    /// Gaps not yet filled, oldest first.
    pub fn open_gaps(&self) -> &[FairValueGap] {
        &self.open
    }
}

impl Indicator for FairValueGaps {
    type Input = Bar;
    type Output = FairValueGapUpdate;

    fn update(&mut self, bar: Bar) -> Option<FairValueGapUpdate> {
        if !(bar.high.is_finite() && bar.low.is_finite()) {
            return None;
        }
        let before = self.open.len();
        self.open.retain(|g| match g.direction {
            Direction::Bullish => bar.low > g.bottom,
            Direction::Bearish => bar.high < g.top,
        });
        let filled = before - self.open.len();
        let [first, middle] = self.bars;
        self.bars = [middle, Some(bar)];
        let (Some(first), Some(middle)) = (first, middle) else {
            return None;
        };
        let gap = if bar.low > first.high && bar.low - first.high >= self.min_size {
            Some(FairValueGap {
                direction: Direction::Bullish,
                top: bar.low,
                bottom: first.high,
                time: middle.time,
            })
        } else if bar.high < first.low && first.low - bar.high >= self.min_size {
            Some(FairValueGap {
                direction: Direction::Bearish,
                top: first.low,
                bottom: bar.high,
                time: middle.time,
            })
        } else {
            None
        };
        if let Some(g) = gap {
            if self.open.len() == self.max_open {
                self.open.remove(0);
            }
            self.open.push(g);
        }
        Some(FairValueGapUpdate {
            created: gap,
            filled,
        })
    }

    fn peek(&self, bar: Bar) -> Option<FairValueGapUpdate> {
        self.clone().update(bar)
    }

    fn lookback(&self) -> usize {
        2
    }

    fn reset(&mut self) {
        self.bars = [None, None];
        self.open.clear();
    }
}
