//! Market structure: break of structure (BOS) and change of character (CHoCH).

use chrono::{DateTime, Utc};
use mtq_core::Bar;

use super::Direction;
use super::swings::{Swing, Swings};
use crate::IndicatorError;
use crate::stream::Indicator;

/// A continuation (BOS) or a reversal (CHoCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakKind {
    /// Break of structure: price closed beyond the last swing in the direction of the trend
    /// (or, for the first break of a stream, in any direction).
    Bos,
    /// Change of character: price closed beyond the last swing against the trend.
    Choch,
}

/// A close beyond the last unbroken swing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StructureBreak {
    pub kind: BreakKind,
    /// `Bullish` for a close above a swing high, `Bearish` for a close below a swing low.
    pub direction: Direction,
    /// The swing that was broken; its price is the broken level.
    pub swing: Swing,
    /// Open time of the bar whose close broke it.
    pub time: DateTime<Utc>,
    /// Index of that bar, counting from construction or the last reset.
    pub index: u64,
}

/// Market structure after one bar.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StructureState {
    /// The direction of the last break, `None` before the first.
    pub trend: Option<Direction>,
    /// The break this bar made, if any.
    pub event: Option<StructureBreak>,
}

/// Break of structure / change of character detector on confirmed swings. See
/// [the module docs](crate::seeds) for the rule.
#[derive(Debug, Clone)]
pub struct MarketStructure {
    swings: Swings,
    last_high: Option<Swing>,
    last_low: Option<Swing>,
    trend: Option<Direction>,
    count: u64,
}

impl MarketStructure {
    /// `left` / `right` are the swing confirmation lengths (see [`Swings::new`]).
    pub fn new(left: usize, right: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            swings: Swings::new(left, right)?,
            last_high: None,
            last_low: None,
            trend: None,
            count: 0,
        })
    }

    fn classify(&self, direction: Direction) -> BreakKind {
        match self.trend {
            Some(t) if t != direction => BreakKind::Choch,
            _ => BreakKind::Bos,
        }
    }
}

impl Indicator for MarketStructure {
    type Input = Bar;
    type Output = StructureState;

    fn update(&mut self, bar: Bar) -> Option<StructureState> {
        if !bar.close.is_finite() {
            return None;
        }
        let index = self.count;
        self.count += 1;
        if let Some(points) = self.swings.update(bar) {
            // A newer swing replaces the last one, broken or not.
            self.last_high = points.high.or(self.last_high);
            self.last_low = points.low.or(self.last_low);
        }
        let mut event = None;
        let up = self.last_high.filter(|s| bar.close > s.price);
        let down = self.last_low.filter(|s| bar.close < s.price);
        if let Some((swing, direction)) = up
            .map(|s| (s, Direction::Bullish))
            .or(down.map(|s| (s, Direction::Bearish)))
        {
            event = Some(StructureBreak {
                kind: self.classify(direction),
                direction,
                swing,
                time: bar.time,
                index,
            });
            self.trend = Some(direction);
            // A swing is broken once.
            match direction {
                Direction::Bullish => self.last_high = None,
                Direction::Bearish => self.last_low = None,
            }
        }
        Some(StructureState {
            trend: self.trend,
            event,
        })
    }

    fn peek(&self, bar: Bar) -> Option<StructureState> {
        self.clone().update(bar)
    }

    fn lookback(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.swings.reset();
        self.last_high = None;
        self.last_low = None;
        self.trend = None;
        self.count = 0;
    }
}
