//! `j_hook` (Forex Trading Bot): the J-hook continuation — impulse, shallow pullback, new high.
//!
//! Rules for longs (shorts mirror them), with ATR(`atr_period`):
//! 1. **Impulse**: the close has risen at least `impulse_atr` ATRs over the last
//!    `impulse_bars` bars. The impulse runs from the lowest low of those bars (its start) to the
//!    highest high since (its top), which rises with every new high until a pullback begins.
//! 2. **Pullback**: price falls back from the top by between `min_retrace` and `max_retrace` of
//!    the impulse (top − start), measured on lows. Deeper than `max_retrace` cancels the pattern.
//! 3. **Hook**: **Buy** on the first bar after a valid pullback that closes above the top.
//!
//! A pattern not completed within `max_wait_bars` bars of the impulse is dropped. Confidence is
//! 0.65.

use std::collections::VecDeque;

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::stream::{Atr, Indicator};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{below, period, positive, to_value, within};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "j_hook";
const CONFIDENCE: f64 = 0.65;

/// Parameters of [`JHook`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JHookParams {
    /// Bars over which the impulse is measured (5).
    pub impulse_bars: usize,
    /// Least rise over `impulse_bars`, in ATRs (2.0).
    pub impulse_atr: f64,
    /// ATR period (14).
    pub atr_period: usize,
    /// Shallowest pullback, as a share of the impulse (0.3).
    pub min_retrace: f64,
    /// Deepest pullback (0.7).
    pub max_retrace: f64,
    /// Bars from the impulse within which the hook must complete (20).
    pub max_wait_bars: usize,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for JHookParams {
    fn default() -> Self {
        Self {
            impulse_bars: 5,
            impulse_atr: 2.0,
            atr_period: 14,
            min_retrace: 0.3,
            max_retrace: 0.7,
            max_wait_bars: 20,
            stops: StopsConfig::default(),
        }
    }
}

impl JHookParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "impulse_bars", self.impulse_bars, 1)?;
        positive(NAME, "impulse_atr", self.impulse_atr)?;
        period(NAME, "atr_period", self.atr_period, 1)?;
        within(NAME, "min_retrace", self.min_retrace, 0.0, 1.0)?;
        within(NAME, "max_retrace", self.max_retrace, 0.0, 1.0)?;
        below(
            NAME,
            ("min_retrace", self.min_retrace),
            ("max_retrace", self.max_retrace),
        )?;
        period(NAME, "max_wait_bars", self.max_wait_bars, 1)?;
        self.stops.validate(NAME)
    }
}

/// One side's pattern in progress, in "long" terms (prices negated for shorts).
#[derive(Debug, Clone, Copy)]
struct Pattern {
    start: f64,
    top: f64,
    deepest: f64,
    pulled_back: bool,
    bars: usize,
}

/// The J-hook; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct JHook {
    params: JHookParams,
    atr: Atr,
    window: VecDeque<Bar>,
    long: Option<Pattern>,
    short: Option<Pattern>,
    stops: Stops,
}

impl JHook {
    pub fn new(params: JHookParams) -> Result<Self, StrategyError> {
        params.validate()?;
        Ok(Self {
            atr: Atr::new(params.atr_period).map_err(indicator(NAME))?,
            window: VecDeque::with_capacity(params.impulse_bars + 2),
            long: None,
            short: None,
            stops: Stops::new(&params.stops, NAME)?,
            params,
        })
    }

    /// Advances one side; `dir` is 1 for longs and −1 for shorts (prices are multiplied by it,
    /// so a short's "high" is the negated low). Returns whether the hook completed.
    fn step(&mut self, dir: f64, bar: &Bar, atr: f64) -> bool {
        let p = &self.params;
        let (hi, lo, close) = if dir > 0.0 {
            (bar.high, bar.low, bar.close)
        } else {
            (-bar.low, -bar.high, -bar.close)
        };
        let slot = if dir > 0.0 {
            &mut self.long
        } else {
            &mut self.short
        };
        if let Some(pat) = slot.as_mut() {
            pat.bars += 1;
            if pat.pulled_back && close > pat.top {
                *slot = None;
                return true;
            }
            if !pat.pulled_back && hi > pat.top {
                // A new top: the pullback is measured from the bars after it.
                pat.top = hi;
                pat.deepest = hi;
            } else {
                pat.deepest = pat.deepest.min(lo);
            }
            let retrace = (pat.top - pat.deepest) / (pat.top - pat.start);
            if retrace > p.max_retrace || pat.bars > p.max_wait_bars {
                *slot = None;
            } else if retrace >= p.min_retrace {
                pat.pulled_back = true;
            }
            return false;
        }
        let Some(first) = self.window.front() else {
            return false;
        };
        let first_close = if dir > 0.0 { first.close } else { -first.close };
        if self.window.len() > p.impulse_bars && close - first_close >= p.impulse_atr * atr {
            let lows = self
                .window
                .iter()
                .map(|b| if dir > 0.0 { b.low } else { -b.high });
            let highs = self
                .window
                .iter()
                .map(|b| if dir > 0.0 { b.high } else { -b.low });
            let top = highs.fold(f64::MIN, f64::max);
            *slot = Some(Pattern {
                start: lows.fold(f64::MAX, f64::min),
                top,
                deepest: top,
                pulled_back: false,
                bars: 0,
            });
        }
        false
    }
}

impl Strategy for JHook {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        (self.atr.lookback() + 1)
            .max(self.params.impulse_bars + 1)
            .max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        if self.window.len() == self.params.impulse_bars + 1 {
            self.window.pop_front();
        }
        self.window.push_back(*bar);
        let atr = self.atr.update(*bar)?;
        let side = if self.step(1.0, bar, atr) {
            Side::Buy
        } else if self.step(-1.0, bar, atr) {
            Side::Sell
        } else {
            return None;
        };
        let reason = format!(
            "J-hook: impulse, pullback within {}-{} of it, close {:.5} beyond its {}",
            self.params.min_retrace,
            self.params.max_retrace,
            bar.close,
            if side == Side::Buy { "high" } else { "low" }
        );
        entry(ctx, bar, side, CONFIDENCE, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, run, series};

    fn strategy() -> JHook {
        JHook::new(JHookParams {
            impulse_bars: 3,
            atr_period: 5,
            ..JHookParams::default()
        })
        .unwrap()
    }

    /// Ten quiet bars with 2-pip moves (ATR ~12 pips), an impulse of three 20-pip bars
    /// (bars 10-12), a pullback of three 10-pip bars (bars 13-15) and a rise back through the
    /// top (bars 16-18).
    fn hook() -> Vec<f64> {
        let mut c: Vec<f64> = (0..10)
            .map(|i| if i % 2 == 0 { 1.1000 } else { 1.1002 })
            .collect();
        c.extend([1.1020, 1.1040, 1.1060]);
        c.extend([1.1050, 1.1040, 1.1030]);
        c.extend([1.1050, 1.1070, 1.1090]);
        c
    }

    #[test]
    fn buys_the_close_above_the_impulse_top_after_a_pullback_and_mirrors_for_sells() {
        // The impulse is recognised on bar 11 (close 40 pips above bar 8's, over 2 ATRs); its top
        // grows to 1.1065 (bar 12's high) from a start of 1.0995; the pullback's low of 1.1025
        // retraces 0.57 of it; bar 17
        // closes at 1.1070, above the top (bar 16's 1.1050 does not).
        let up = hook();
        assert_eq!(
            fired(&run(&mut strategy(), &series().closes(&up))),
            vec![(17, Buy)]
        );
        let down: Vec<f64> = up.iter().map(|c| 2.2 - c).collect();
        assert_eq!(
            fired(&run(&mut strategy(), &series().closes(&down))),
            vec![(17, Sell)]
        );
    }

    #[test]
    fn a_pullback_deeper_than_max_retrace_cancels_the_pattern() {
        let mut c = hook();
        // Bars 13-15 fall back to the impulse's start instead.
        c[13..16].copy_from_slice(&[1.1030, 1.1010, 1.1000]);
        assert_eq!(fired(&run(&mut strategy(), &series().closes(&c))), vec![]);
    }
}
