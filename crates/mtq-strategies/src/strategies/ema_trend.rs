//! `ema_trend` (TradeSystemV1): price crossing EMA21 inside an EMA21 > EMA50 > EMA200 stack,
//! with validation layers switchable in config.
//!
//! Rules, on each closed bar once the EMAs exist:
//! - **Buy** on the bar that closes above EMA(`ema_fast`) after a close at or below it on the
//!   bar before, while EMA(`ema_fast`) > EMA(`ema_mid`) > EMA(`ema_slow`);
//! - **Sell** mirrors it: a close below EMA(`ema_fast`) after one at or above it, with the stack
//!   inverted.
//!
//! Then each enabled validation layer must agree, or the entry is dropped:
//! - `two_pole_filter` (on): the two-pole oscillator (`mtq-indicators` seeds, default lengths)
//!   of the entry timeframe is rising for a buy (value above its signal line), falling for a sell;
//! - `two_pole_htf_filter` (off): the same on `htf_timeframe` (H1) bars from the context;
//! - `momentum_bias_filter` (off): the momentum bias index favours the side (up > down for a buy);
//! - `ema200_filter` (on): the close is above EMA(`ema_slow`) for a buy, below it for a sell.
//!
//! Confidence is 0.5 plus 0.1 for each enabled layer (they all passed), at most 0.9.

use mtq_core::{Bar, Side, Signal, Timeframe};
use mtq_indicators::seeds::{
    MomentumBiasConfig, MomentumBiasIndex, TwoPoleConfig, TwoPoleOscillator,
};
use mtq_indicators::stream::{Ema, Indicator};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::higher::Cursor;
use crate::params::{below, period, to_value};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, HigherNeed, Strategy};

const NAME: &str = "ema_trend";

/// Parameters of [`EmaTrend`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmaTrendParams {
    pub ema_fast: usize,
    pub ema_mid: usize,
    pub ema_slow: usize,
    pub two_pole_filter: bool,
    pub two_pole_htf_filter: bool,
    /// The timeframe of the higher two-pole layer (H1).
    pub htf_timeframe: Timeframe,
    pub momentum_bias_filter: bool,
    pub ema200_filter: bool,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for EmaTrendParams {
    fn default() -> Self {
        Self {
            ema_fast: 21,
            ema_mid: 50,
            ema_slow: 200,
            two_pole_filter: true,
            two_pole_htf_filter: false,
            htf_timeframe: Timeframe::H1,
            momentum_bias_filter: false,
            ema200_filter: true,
            stops: StopsConfig::default(),
        }
    }
}

impl EmaTrendParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "ema_fast", self.ema_fast, 1)?;
        below(NAME, ("ema_fast", self.ema_fast), ("ema_mid", self.ema_mid))?;
        below(NAME, ("ema_mid", self.ema_mid), ("ema_slow", self.ema_slow))?;
        period(NAME, "ema_slow", self.ema_slow, 3)?;
        self.stops.validate(NAME)
    }
}

/// The EMA trend strategy; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct EmaTrend {
    params: EmaTrendParams,
    fast: Ema,
    mid: Ema,
    slow: Ema,
    prev: Option<(f64, f64)>,
    two_pole: TwoPoleOscillator,
    two_pole_last: Option<Side>,
    htf_two_pole: TwoPoleOscillator,
    htf_last: Option<Side>,
    htf_cursor: Cursor,
    mbi: MomentumBiasIndex,
    mbi_last: Option<Side>,
    needs: Vec<HigherNeed>,
    stops: Stops,
}

/// The side an oscillator favours: rising (value above its signal) is a buy.
fn rising(value: f64, signal: f64) -> Option<Side> {
    if value > signal {
        Some(Side::Buy)
    } else if value < signal {
        Some(Side::Sell)
    } else {
        None
    }
}

impl EmaTrend {
    pub fn new(params: EmaTrendParams) -> Result<Self, StrategyError> {
        params.validate()?;
        let e = indicator(NAME);
        let two_pole = TwoPoleOscillator::new(TwoPoleConfig::default()).map_err(&e)?;
        let needs = if params.two_pole_htf_filter {
            vec![HigherNeed {
                timeframe: params.htf_timeframe,
                bars: two_pole.lookback() + 1,
            }]
        } else {
            Vec::new()
        };
        Ok(Self {
            fast: Ema::new(params.ema_fast).map_err(&e)?,
            mid: Ema::new(params.ema_mid).map_err(&e)?,
            slow: Ema::new(params.ema_slow).map_err(&e)?,
            prev: None,
            htf_two_pole: two_pole.clone(),
            two_pole,
            two_pole_last: None,
            htf_last: None,
            htf_cursor: Cursor::default(),
            mbi: MomentumBiasIndex::new(MomentumBiasConfig::default()).map_err(&e)?,
            mbi_last: None,
            needs,
            stops: Stops::new(&params.stops, NAME)?,
            params,
        })
    }

    /// Updates every enabled layer; only they cost anything.
    fn observe_layers(&mut self, bar: &Bar, ctx: &Context<'_>) {
        let p = &self.params;
        if p.two_pole_filter {
            self.two_pole_last = self
                .two_pole
                .update(bar.close)
                .and_then(|v| rising(v.value, v.signal));
        }
        if p.two_pole_htf_filter {
            for b in self.htf_cursor.fresh(ctx.higher_bars(p.htf_timeframe)) {
                if let Some(v) = self.htf_two_pole.update(b.close) {
                    self.htf_last = rising(v.value, v.signal);
                }
            }
        }
        if p.momentum_bias_filter {
            self.mbi_last = self.mbi.update(*bar).and_then(|v| {
                v.bias().map(|d| match d {
                    mtq_indicators::Direction::Bullish => Side::Buy,
                    mtq_indicators::Direction::Bearish => Side::Sell,
                })
            });
        }
    }
}

impl Strategy for EmaTrend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        let p = &self.params;
        let mut w = (self.slow.lookback() + 1).max(self.stops.warmup());
        if p.two_pole_filter {
            w = w.max(self.two_pole.lookback());
        }
        if p.momentum_bias_filter {
            w = w.max(self.mbi.lookback());
        }
        w
    }

    fn higher_timeframes(&self) -> &[HigherNeed] {
        &self.needs
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        self.observe_layers(bar, ctx);
        let c = bar.close;
        let fast = self.fast.update(c);
        let mid = self.mid.update(c);
        let slow = self.slow.update(c);
        let fast = fast?;
        let prev = self.prev.replace((c, fast));
        let (mid, slow, prev) = (mid?, slow?, prev?);
        let side = if prev.0 <= prev.1 && c > fast && fast > mid && mid > slow {
            Side::Buy
        } else if prev.0 >= prev.1 && c < fast && fast < mid && mid < slow {
            Side::Sell
        } else {
            return None;
        };
        let p = &self.params;
        let layers = [
            (p.two_pole_filter, self.two_pole_last == Some(side)),
            (p.two_pole_htf_filter, self.htf_last == Some(side)),
            (p.momentum_bias_filter, self.mbi_last == Some(side)),
            (
                p.ema200_filter,
                if side == Side::Buy {
                    c > slow
                } else {
                    c < slow
                },
            ),
        ];
        if layers.iter().any(|(on, ok)| *on && !ok) {
            return None;
        }
        let enabled = layers.iter().filter(|(on, _)| *on).count();
        let confidence = (0.5 + 0.1 * f64::from(u8::try_from(enabled).unwrap_or(4))).min(0.9);
        let word = if side == Side::Buy { "above" } else { "below" };
        let reason = format!(
            "close {c:.5} crossed {word} EMA{} {fast:.5} with EMA{} {mid:.5} and EMA{} {slow:.5} \
             stacked; {enabled} validation layers agree",
            p.ema_fast, p.ema_mid, p.ema_slow
        );
        entry(ctx, bar, side, confidence, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, run, series};
    use mtq_core::testkit::ramp;

    fn layers_off() -> EmaTrendParams {
        EmaTrendParams {
            ema_fast: 3,
            ema_mid: 5,
            ema_slow: 8,
            two_pole_filter: false,
            ema200_filter: false,
            ..EmaTrendParams::default()
        }
    }

    /// A 10-pip-a-bar rise for 30 bars, a 2-bar pullback below EMA3 (bars 30-31), a recovery
    /// above it on bar 32 and further rise.
    fn pullback_in_uptrend() -> Vec<f64> {
        let mut c = ramp(1.1000, 0.0010, 30);
        c.extend([1.1270, 1.1250]);
        c.extend(ramp(1.1280, 0.0010, 8));
        c
    }

    #[test]
    fn buys_the_close_back_above_ema_fast_in_a_bullish_stack_and_mirrors_for_sells() {
        // Bar 32: close 1.1280 over EMA3 ~1.12713, with EMA5 ~1.12689 > EMA8 ~1.12617.
        let up = pullback_in_uptrend();
        let mut s = EmaTrend::new(layers_off()).unwrap();
        assert_eq!(fired(&run(&mut s, &series().closes(&up))), vec![(32, Buy)]);
        let down: Vec<f64> = up.iter().map(|c| 2.2 - c).collect();
        let mut s = EmaTrend::new(layers_off()).unwrap();
        assert_eq!(
            fired(&run(&mut s, &series().closes(&down))),
            vec![(32, Sell)]
        );
    }

    #[test]
    fn the_ema200_layer_keeps_the_buy_above_the_slow_ema() {
        let p = EmaTrendParams {
            ema200_filter: true,
            ..layers_off()
        };
        let sigs = run(
            &mut EmaTrend::new(p).unwrap(),
            &series().closes(&pullback_in_uptrend()),
        );
        assert_eq!(fired(&sigs), vec![(32, Buy)]);
        assert!((sigs[0].1.confidence - 0.6).abs() < 1e-9);
    }

    #[test]
    fn the_two_pole_layer_drops_a_buy_while_the_oscillator_falls() {
        // A long steady rise keeps the two-pole oscillator (25/20/4) at zero; the pullback on
        // bars 70-72 drives it down, and on bar 73, where the close crosses back above EMA3
        // (1.1700 over ~1.1685, EMA5 ~1.1680 > EMA8 ~1.1671), it is still below its value four
        // bars earlier: the buy is dropped. Without the layer it fires.
        let mut c = ramp(1.1000, 0.0010, 70);
        c.extend([1.1680, 1.1670, 1.1665]);
        c.extend(ramp(1.1700, 0.0010, 4));
        let bars = series().closes(&c);
        let without = fired(&run(&mut EmaTrend::new(layers_off()).unwrap(), &bars));
        assert_eq!(without, vec![(73, Buy)]);
        let osc = mtq_indicators::seeds::two_pole(&c, TwoPoleConfig::default()).unwrap();
        let at = osc[73].unwrap();
        assert!(at.value < at.signal, "{at:?}");
        let p = EmaTrendParams {
            two_pole_filter: true,
            ..layers_off()
        };
        assert_eq!(fired(&run(&mut EmaTrend::new(p).unwrap(), &bars)), vec![]);
    }

    #[test]
    fn the_higher_timeframe_layer_declares_its_timeframe_and_fails_closed_without_bars() {
        let p = EmaTrendParams {
            two_pole_htf_filter: true,
            htf_timeframe: Timeframe::H4,
            ..layers_off()
        };
        let mut s = EmaTrend::new(p).unwrap();
        assert_eq!(s.higher_timeframes()[0].timeframe, Timeframe::H4);
        assert_eq!(
            fired(&run(&mut s, &series().closes(&pullback_in_uptrend()))),
            vec![]
        );
    }
}
