//! `smart_money` (TradeSystemV1): a structure break, then a retest of an order block or a fair
//! value gap.
//!
//! Market structure, order blocks and fair value gaps are `mtq-indicators`' seeds (closes break
//! confirmed swings of `swing_bars` bars each side). Rules:
//! - a bullish break of structure (BOS, or CHoCH when `include_choch`) **arms** a long setup for
//!   `max_wait_bars` bars; a bearish break arms a short one (a newer break replaces it);
//! - **Buy** on the first later bar, while armed long, whose low reaches into an active bullish
//!   order block (`use_order_blocks`) or an open bullish fair value gap at least `fvg_min_pips`
//!   wide (`use_fvg`) — `low ≤ zone top` — and whose close holds the zone, `close ≥ zone bottom`;
//! - **Sell** mirrors it with bearish zones: `high ≥ zone bottom`, `close ≤ zone top`;
//! - one entry per break; zones confirmed on the bar itself do not count.
//!
//! Confidence is 0.7 for an order block, 0.65 for a gap.

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::Direction;
use mtq_indicators::seeds::{BreakKind, FairValueGaps, OrderBlockConfig, OrderBlocks};
use mtq_indicators::stream::Indicator;
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{period, to_value, within};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "smart_money";
/// Unfilled gaps kept; older ones are dropped (they are rarely retested).
const MAX_GAPS: usize = 10;

/// Parameters of [`SmartMoney`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmartMoneyParams {
    /// Bars each side that confirm a swing (5).
    pub swing_bars: usize,
    /// Bars after a break during which a retest counts (20).
    pub max_wait_bars: usize,
    pub use_order_blocks: bool,
    pub use_fvg: bool,
    /// Narrowest fair value gap that counts, in pips (0).
    pub fvg_min_pips: f64,
    /// Whether a change of character arms a setup too, not only a break of structure (true).
    pub include_choch: bool,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for SmartMoneyParams {
    fn default() -> Self {
        Self {
            swing_bars: 5,
            max_wait_bars: 20,
            use_order_blocks: true,
            use_fvg: true,
            fvg_min_pips: 0.0,
            include_choch: true,
            stops: StopsConfig::default(),
        }
    }
}

impl SmartMoneyParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "swing_bars", self.swing_bars, 1)?;
        period(NAME, "max_wait_bars", self.max_wait_bars, 1)?;
        within(NAME, "fvg_min_pips", self.fvg_min_pips, 0.0, 1e6)?;
        if !self.use_order_blocks && !self.use_fvg {
            return Err(ParamError::new(
                NAME,
                "use_order_blocks",
                false,
                "must be true when `use_fvg` is false (a retest needs an order block or a gap)",
            ));
        }
        self.stops.validate(NAME)
    }
}

/// Structure break then retest; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct SmartMoney {
    params: SmartMoneyParams,
    blocks: OrderBlocks,
    gaps: FairValueGaps,
    /// The armed side and the bars left to wait.
    armed: Option<(Direction, usize)>,
    stops: Stops,
}

impl SmartMoney {
    pub fn new(params: SmartMoneyParams) -> Result<Self, StrategyError> {
        params.validate()?;
        let e = indicator(NAME);
        let config = OrderBlockConfig {
            swing_left: params.swing_bars,
            swing_right: params.swing_bars,
            ..OrderBlockConfig::default()
        };
        Ok(Self {
            blocks: OrderBlocks::new(config).map_err(&e)?,
            gaps: FairValueGaps::new(0.0, MAX_GAPS).map_err(&e)?,
            armed: None,
            stops: Stops::new(&params.stops, NAME)?,
            params,
        })
    }

    /// The zone this bar retests on `direction`'s side, with its kind.
    fn retest(
        &self,
        bar: &Bar,
        direction: Direction,
        created_gap: bool,
        pip: f64,
    ) -> Option<&'static str> {
        let touches = |top: f64, bottom: f64| match direction {
            Direction::Bullish => bar.low <= top && bar.close >= bottom,
            Direction::Bearish => bar.high >= bottom && bar.close <= top,
        };
        if self.params.use_order_blocks
            && self.blocks.active().iter().any(|b| {
                b.direction == direction && b.confirmed_at < bar.time && touches(b.top, b.bottom)
            })
        {
            return Some("order block");
        }
        let gaps = self.gaps.open_gaps();
        // A gap completed on this very bar is the last one and does not count yet.
        let older = if created_gap {
            &gaps[..gaps.len().saturating_sub(1)]
        } else {
            gaps
        };
        let min = self.params.fvg_min_pips * pip;
        if self.params.use_fvg
            && older.iter().any(|g| {
                g.direction == direction && g.top - g.bottom >= min && touches(g.top, g.bottom)
            })
        {
            return Some("fair value gap");
        }
        None
    }
}

impl Strategy for SmartMoney {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        // A swing is confirmed `swing_bars` bars after it and may be broken on that bar; the
        // retest comes a bar later at the earliest.
        (2 * self.params.swing_bars + 1).max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let blocks = self.blocks.update(*bar);
        let gaps = self.gaps.update(*bar);
        let created_gap = gaps.is_some_and(|g| g.created.is_some());
        if let Some(ob) = blocks.and_then(|u| u.created)
            && (ob.origin == BreakKind::Bos || self.params.include_choch)
        {
            // Armed from the next bar on.
            self.armed = Some((ob.direction, self.params.max_wait_bars + 1));
        }
        let (direction, left) = self.armed?;
        if left == 0 {
            self.armed = None;
            return None;
        }
        self.armed = Some((direction, left - 1));
        if left == self.params.max_wait_bars + 1 {
            return None;
        }
        let zone = self.retest(bar, direction, created_gap, ctx.pip())?;
        self.armed = None;
        let (side, confidence) = match (direction, zone) {
            (Direction::Bullish, "order block") => (Side::Buy, 0.7),
            (Direction::Bullish, _) => (Side::Buy, 0.65),
            (Direction::Bearish, "order block") => (Side::Sell, 0.7),
            (Direction::Bearish, _) => (Side::Sell, 0.65),
        };
        let word = if side == Side::Buy {
            "bullish"
        } else {
            "bearish"
        };
        let reason = format!("{word} structure break, then a retest of a {word} {zone} that held");
        entry(ctx, bar, side, confidence, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, run, series};

    /// A swing high of 1.1040 on bar 2 (confirmed on bar 4), broken by bar 6's close of 1.1055:
    /// bullish BOS, order block = bar 4, the last bearish candle, [1.0980, 1.1010]. Bars 5-7
    /// leave a bullish gap [1.1000, 1.1040]. Bar 8 dips to 1.1030, into the gap; bar 9 dips to
    /// 1.1005, into the block.
    fn break_then_retest() -> Vec<(f64, f64, f64, f64)> {
        vec![
            (1.1000, 1.1010, 1.0990, 1.1005),
            (1.1005, 1.1020, 1.1000, 1.1015),
            (1.1015, 1.1040, 1.1010, 1.1030),
            (1.1030, 1.1035, 1.1000, 1.1005),
            (1.1005, 1.1010, 1.0980, 1.0985),
            (1.0985, 1.1000, 1.0975, 1.0995),
            (1.0995, 1.1060, 1.0990, 1.1055),
            (1.1055, 1.1070, 1.1040, 1.1060),
            (1.1060, 1.1065, 1.1030, 1.1035),
            (1.1035, 1.1040, 1.1005, 1.1020),
            (1.1020, 1.1030, 1.1010, 1.1025),
        ]
    }

    fn strategy(use_fvg: bool) -> SmartMoney {
        SmartMoney::new(SmartMoneyParams {
            swing_bars: 2,
            use_fvg,
            ..SmartMoneyParams::default()
        })
        .unwrap()
    }

    #[test]
    fn buys_the_first_retest_of_a_gap_after_a_bullish_break() {
        let sigs = run(&mut strategy(true), &series().ohlc(&break_then_retest()));
        assert_eq!(fired(&sigs), vec![(8, Buy)]);
        assert!(
            sigs[0].1.reason.contains("fair value gap"),
            "{}",
            sigs[0].1.reason
        );
    }

    #[test]
    fn with_gaps_off_it_waits_for_the_order_block() {
        let sigs = run(&mut strategy(false), &series().ohlc(&break_then_retest()));
        assert_eq!(fired(&sigs), vec![(9, Buy)]);
        assert!(sigs[0].1.reason.contains("order block"));
    }

    #[test]
    fn a_bearish_break_and_retest_sells() {
        let mirrored: Vec<_> = break_then_retest()
            .into_iter()
            .map(|(o, h, l, c)| (2.2 - o, 2.2 - l, 2.2 - h, 2.2 - c))
            .collect();
        assert_eq!(
            fired(&run(&mut strategy(true), &series().ohlc(&mirrored))),
            vec![(8, Sell)]
        );
    }

    #[test]
    fn a_retest_after_the_wait_is_ignored() {
        let mut s = SmartMoney::new(SmartMoneyParams {
            swing_bars: 2,
            max_wait_bars: 1,
            use_fvg: false,
            ..SmartMoneyParams::default()
        })
        .unwrap();
        assert_eq!(
            fired(&run(&mut s, &series().ohlc(&break_then_retest()))),
            vec![]
        );
    }
}
