//! `break_retest` (Forex Trading Bot): the break of a swing level and its retest.
//!
//! Swings are `mtq-indicators`' confirmed swing highs and lows (`swing_bars` bars each side,
//! reported when confirmed). Rules:
//! - a close above the last unbroken swing high **arms** a long setup at that level (old
//!   resistance, now support) for `max_wait_bars` bars; a close below the last swing low arms a
//!   short one (a newer break replaces an armed setup);
//! - **Buy** on the first later bar whose low comes back to the level (within
//!   `retest_tolerance_pips` above it, or below it) and whose close stays above the level;
//! - **Sell** mirrors it at a broken swing low;
//! - a close back beyond the level by more than the tolerance fails the break and disarms it.
//!
//! Confidence is 0.65.

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::seeds::Swings;
use mtq_indicators::stream::Indicator;
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{period, to_value, within};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "break_retest";
const CONFIDENCE: f64 = 0.65;

/// Parameters of [`BreakRetest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakRetestParams {
    /// Bars each side that confirm a swing (3).
    pub swing_bars: usize,
    /// Bars after the break during which a retest counts (10).
    pub max_wait_bars: usize,
    /// How close, in pips, a retest must come to the level (3).
    pub retest_tolerance_pips: f64,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for BreakRetestParams {
    fn default() -> Self {
        Self {
            swing_bars: 3,
            max_wait_bars: 10,
            retest_tolerance_pips: 3.0,
            stops: StopsConfig::default(),
        }
    }
}

impl BreakRetestParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "swing_bars", self.swing_bars, 1)?;
        period(NAME, "max_wait_bars", self.max_wait_bars, 1)?;
        within(
            NAME,
            "retest_tolerance_pips",
            self.retest_tolerance_pips,
            0.0,
            1e4,
        )?;
        self.stops.validate(NAME)
    }
}

/// A broken level waiting for its retest.
#[derive(Debug, Clone, Copy)]
struct Armed {
    side: Side,
    level: f64,
    bars_left: usize,
}

/// Break and retest; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct BreakRetest {
    params: BreakRetestParams,
    swings: Swings,
    high: Option<f64>,
    low: Option<f64>,
    armed: Option<Armed>,
    stops: Stops,
}

impl BreakRetest {
    pub fn new(params: BreakRetestParams) -> Result<Self, StrategyError> {
        params.validate()?;
        Ok(Self {
            swings: Swings::new(params.swing_bars, params.swing_bars).map_err(indicator(NAME))?,
            high: None,
            low: None,
            armed: None,
            stops: Stops::new(&params.stops, NAME)?,
            params,
        })
    }

    /// Checks the armed setup against this bar: the side to enter, if it was retested.
    fn retested(&mut self, bar: &Bar, tol: f64) -> Option<Side> {
        let a = self.armed.as_mut()?;
        if a.bars_left == 0 {
            self.armed = None;
            return None;
        }
        a.bars_left -= 1;
        let (level, side) = (a.level, a.side);
        let (held, touched, failed) = match side {
            Side::Buy => (
                bar.close > level,
                bar.low <= level + tol,
                bar.close < level - tol,
            ),
            Side::Sell => (
                bar.close < level,
                bar.high >= level - tol,
                bar.close > level + tol,
            ),
        };
        if failed {
            self.armed = None;
            return None;
        }
        (touched && held).then(|| {
            self.armed = None;
            side
        })
    }
}

impl Strategy for BreakRetest {
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
        let tol = self.params.retest_tolerance_pips * ctx.pip();
        // The retest is judged on bars after the break, so before this bar can arm a new one.
        let retest = self.retested(bar, tol).map(|side| (side, self.armed));
        if let Some(points) = self.swings.update(*bar) {
            self.high = points.high.map(|s| s.price).or(self.high);
            self.low = points.low.map(|s| s.price).or(self.low);
        }
        let wait = self.params.max_wait_bars;
        if let Some(h) = self.high.filter(|h| bar.close > *h) {
            self.high = None;
            self.armed = Some(Armed {
                side: Side::Buy,
                level: h,
                bars_left: wait,
            });
        } else if let Some(l) = self.low.filter(|l| bar.close < *l) {
            self.low = None;
            self.armed = Some(Armed {
                side: Side::Sell,
                level: l,
                bars_left: wait,
            });
        }
        let (side, _) = retest?;
        let reason = format!(
            "retest of the broken swing {} held: low {:.5} / high {:.5}, close {:.5}",
            if side == Side::Buy { "high" } else { "low" },
            bar.low,
            bar.high,
            bar.close
        );
        entry(ctx, bar, side, CONFIDENCE, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, run, series};

    /// A swing high of 1.1040 on bar 2, confirmed on bar 4; bar 5 closes above it; bar 6 stays
    /// 10 pips clear; bar 7 dips to 1.1041, a pip above the level, and closes at 1.1058.
    fn rows() -> Vec<(f64, f64, f64, f64)> {
        vec![
            (1.1000, 1.1010, 1.0990, 1.1000),
            (1.1000, 1.1020, 1.1000, 1.1010),
            (1.1010, 1.1040, 1.1010, 1.1030),
            (1.1030, 1.1035, 1.1010, 1.1020),
            (1.1020, 1.1030, 1.1000, 1.1010),
            (1.1010, 1.1060, 1.1010, 1.1055),
            (1.1055, 1.1070, 1.1050, 1.1065),
            (1.1065, 1.1065, 1.1041, 1.1058),
            (1.1058, 1.1080, 1.1045, 1.1075),
        ]
    }

    fn strategy() -> BreakRetest {
        BreakRetest::new(BreakRetestParams {
            swing_bars: 2,
            ..BreakRetestParams::default()
        })
        .unwrap()
    }

    #[test]
    fn buys_the_retest_of_a_broken_swing_high_and_sells_a_broken_swing_low() {
        assert_eq!(
            fired(&run(&mut strategy(), &series().ohlc(&rows()))),
            vec![(7, Buy)]
        );
        let mirrored: Vec<_> = rows()
            .into_iter()
            .map(|(o, h, l, c)| (2.2 - o, 2.2 - l, 2.2 - h, 2.2 - c))
            .collect();
        assert_eq!(
            fired(&run(&mut strategy(), &series().ohlc(&mirrored))),
            vec![(7, Sell)]
        );
    }

    #[test]
    fn a_close_back_below_the_level_fails_the_break() {
        let mut r = rows();
        // Bar 6 closes 5 pips under the broken level: the break failed; bar 7 is no retest.
        r[6] = (1.1055, 1.1060, 1.1030, 1.1035);
        assert_eq!(fired(&run(&mut strategy(), &series().ohlc(&r))), vec![]);
    }
}
