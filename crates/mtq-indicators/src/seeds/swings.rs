//! Swing highs and lows, confirmed a fixed number of bars later.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use mtq_core::Bar;

use crate::IndicatorError;
use crate::stream::Indicator;

/// Whether a swing is a high or a low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SwingKind {
    High,
    Low,
}

/// A confirmed swing point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swing {
    pub kind: SwingKind,
    /// The swing bar's high (for a high) or low (for a low).
    pub price: f64,
    /// Open time of the swing bar.
    pub time: DateTime<Utc>,
    /// Index of the swing bar, counting bars fed since construction or the last reset.
    pub index: u64,
}

/// The swings confirmed on one bar (both may be confirmed at once on an outside bar).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SwingPoints {
    pub high: Option<Swing>,
    pub low: Option<Swing>,
}

/// Swing detector. See [the module docs](crate::seeds) for the rule.
#[derive(Debug, Clone)]
pub struct Swings {
    left: usize,
    right: usize,
    window: VecDeque<Bar>,
    count: u64,
}

impl Swings {
    /// `left` bars before and `right` bars after the swing bar must be lower (for a high);
    /// the swing is reported `right` bars after it, when that is known. Bill Williams' fractals
    /// are `Swings::new(2, 2)`.
    pub fn new(left: usize, right: usize) -> Result<Self, IndicatorError> {
        for (param, v) in [("left", left), ("right", right)] {
            if v == 0 {
                return Err(IndicatorError::InvalidParameter {
                    indicator: "SWINGS",
                    param,
                    value: v.to_string(),
                    expected: "at least 1 bar",
                });
            }
        }
        Ok(Self {
            left,
            right,
            window: VecDeque::with_capacity(left + right + 1),
            count: 0,
        })
    }
}

impl Indicator for Swings {
    type Input = Bar;
    type Output = SwingPoints;

    fn update(&mut self, bar: Bar) -> Option<SwingPoints> {
        if !(bar.high.is_finite() && bar.low.is_finite()) {
            return None;
        }
        if self.window.len() == self.left + self.right + 1 {
            self.window.pop_front();
        }
        self.window.push_back(bar);
        self.count += 1;
        if self.window.len() < self.left + self.right + 1 {
            return None;
        }
        let c = self.window[self.left];
        let (before, after) = (
            self.window.range(..self.left),
            self.window.range(self.left + 1..),
        );
        let index = self.count - 1 - self.right as u64;
        // Strict on the left, inclusive on the right: of two equal highs in a row only the
        // first is a swing, so a flat top is reported once.
        let is_high =
            before.clone().all(|b| b.high < c.high) && after.clone().all(|b| b.high <= c.high);
        let is_low = before.clone().all(|b| b.low > c.low) && after.clone().all(|b| b.low >= c.low);
        let swing = |kind, price| Swing {
            kind,
            price,
            time: c.time,
            index,
        };
        Some(SwingPoints {
            high: is_high.then(|| swing(SwingKind::High, c.high)),
            low: is_low.then(|| swing(SwingKind::Low, c.low)),
        })
    }

    fn peek(&self, bar: Bar) -> Option<SwingPoints> {
        self.clone().update(bar)
    }

    fn lookback(&self) -> usize {
        self.left + self.right
    }

    fn reset(&mut self) {
        self.window.clear();
        self.count = 0;
    }
}
