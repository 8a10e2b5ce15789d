//! Order blocks: the last opposite candle before a move that broke structure.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use mtq_core::Bar;

use super::Direction;
use super::structure::{BreakKind, MarketStructure};
use crate::IndicatorError;
use crate::stream::Indicator;

/// A price zone where the move that broke structure began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderBlock {
    /// `Bullish` blocks are demand below price, `Bearish` blocks supply above it.
    pub direction: Direction,
    /// High of the block's candle.
    pub top: f64,
    /// Low of the block's candle.
    pub bottom: f64,
    /// Open time of the block's candle.
    pub time: DateTime<Utc>,
    /// Open time of the bar whose close broke structure and so confirmed the block.
    pub confirmed_at: DateTime<Utc>,
    /// Whether the break was a continuation or a reversal.
    pub origin: BreakKind,
}

/// What one bar did to the order blocks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OrderBlockUpdate {
    /// The block this bar confirmed.
    pub created: Option<OrderBlock>,
    /// How many active blocks this bar's close invalidated.
    pub mitigated: usize,
}

/// Parameters of [`OrderBlocks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderBlockConfig {
    /// Swing confirmation lengths of the underlying market structure (5 and 5).
    pub swing_left: usize,
    pub swing_right: usize,
    /// How many recent bars are searched for the block candle (100).
    pub max_search: usize,
    /// Active blocks kept per direction; the oldest is dropped beyond it (10).
    pub max_active: usize,
}

impl Default for OrderBlockConfig {
    fn default() -> Self {
        Self {
            swing_left: 5,
            swing_right: 5,
            max_search: 100,
            max_active: 10,
        }
    }
}

/// Order-block detector. See [the module docs](crate::seeds) for the rule.
#[derive(Debug, Clone)]
pub struct OrderBlocks {
    config: OrderBlockConfig,
    structure: MarketStructure,
    recent: VecDeque<(u64, Bar)>,
    active: Vec<OrderBlock>,
    count: u64,
}

impl OrderBlocks {
    pub fn new(config: OrderBlockConfig) -> Result<Self, IndicatorError> {
        for (param, v) in [
            ("max_search", config.max_search),
            ("max_active", config.max_active),
        ] {
            if v == 0 {
                return Err(IndicatorError::InvalidParameter {
                    indicator: "ORDER_BLOCKS",
                    param,
                    value: v.to_string(),
                    expected: "at least 1",
                });
            }
        }
        Ok(Self {
            config,
            structure: MarketStructure::new(config.swing_left, config.swing_right)?,
            recent: VecDeque::with_capacity(config.max_search + 1),
            active: Vec::new(),
            count: 0,
        })
    }

    /// Blocks not yet invalidated, oldest first.
    pub fn active(&self) -> &[OrderBlock] {
        &self.active
    }

    /// The block candle for a break of `direction` of a swing at `from`, searching bars before
    /// the breaking one: the last candle closing against the break, else the extreme candle.
    fn block_candle(&self, direction: Direction, from: u64) -> Option<Bar> {
        let window = self
            .recent
            .iter()
            .filter(|(i, _)| *i >= from)
            .map(|(_, b)| b);
        let opposite = |b: &&Bar| match direction {
            Direction::Bullish => b.close < b.open,
            Direction::Bearish => b.close > b.open,
        };
        window.clone().rfind(opposite).copied().or_else(|| {
            window
                .min_by(|a, b| match direction {
                    Direction::Bullish => a.low.total_cmp(&b.low),
                    Direction::Bearish => b.high.total_cmp(&a.high),
                })
                .copied()
        })
    }
}

impl Indicator for OrderBlocks {
    type Input = Bar;
    type Output = OrderBlockUpdate;

    fn update(&mut self, bar: Bar) -> Option<OrderBlockUpdate> {
        let state = self.structure.update(bar)?;
        let before = self.active.len();
        self.active.retain(|ob| match ob.direction {
            Direction::Bullish => bar.close >= ob.bottom,
            Direction::Bearish => bar.close <= ob.top,
        });
        let mitigated = before - self.active.len();
        let mut created = None;
        if let Some(event) = state.event
            && let Some(candle) = self.block_candle(event.direction, event.swing.index)
        {
            let ob = OrderBlock {
                direction: event.direction,
                top: candle.high,
                bottom: candle.low,
                time: candle.time,
                confirmed_at: bar.time,
                origin: event.kind,
            };
            let same_side = self
                .active
                .iter()
                .filter(|o| o.direction == ob.direction)
                .count();
            if same_side == self.config.max_active
                && let Some(oldest) = self.active.iter().position(|o| o.direction == ob.direction)
            {
                self.active.remove(oldest);
            }
            self.active.push(ob);
            created = Some(ob);
        }
        if self.recent.len() == self.config.max_search {
            self.recent.pop_front();
        }
        self.recent.push_back((self.count, bar));
        self.count += 1;
        Some(OrderBlockUpdate { created, mitigated })
    }

    fn peek(&self, bar: Bar) -> Option<OrderBlockUpdate> {
        self.clone().update(bar)
    }

    fn lookback(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.structure.reset();
        self.recent.clear();
        self.active.clear();
        self.count = 0;
    }
}
