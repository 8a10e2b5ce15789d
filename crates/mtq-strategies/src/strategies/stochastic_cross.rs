//! `stochastic_cross` (Forex Trading Bot): %K crossing %D in an extreme zone.
//!
//! Slow stochastic (TA-Lib `STOCH`, SMA smoothing): raw %K over `k_period` bars, smoothed over
//! `k_slowing` into %K, %D the SMA of %K over `d_period`. Rules, on each closed bar:
//! - **Buy** on the bar where %K closes above %D, having been at or below it on the bar before,
//!   while %D is below `oversold`;
//! - **Sell** on the bar where %K closes below %D, having been at or above it, while %D is above
//!   `overbought`.
//!
//! Confidence is 0.6.

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::stream::{Indicator, Stoch};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{Cross, below, cross, period, to_value, within};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "stochastic_cross";
const CONFIDENCE: f64 = 0.6;

/// Parameters of [`StochasticCross`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StochasticCrossParams {
    /// Raw %K period (14).
    pub k_period: usize,
    /// %K smoothing (3).
    pub k_slowing: usize,
    /// %D period (3).
    pub d_period: usize,
    pub oversold: f64,
    pub overbought: f64,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for StochasticCrossParams {
    fn default() -> Self {
        Self {
            k_period: 14,
            k_slowing: 3,
            d_period: 3,
            oversold: 20.0,
            overbought: 80.0,
            stops: StopsConfig::default(),
        }
    }
}

impl StochasticCrossParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "k_period", self.k_period, 1)?;
        period(NAME, "k_slowing", self.k_slowing, 1)?;
        period(NAME, "d_period", self.d_period, 1)?;
        within(NAME, "oversold", self.oversold, 0.0, 100.0)?;
        within(NAME, "overbought", self.overbought, 0.0, 100.0)?;
        below(
            NAME,
            ("oversold", self.oversold),
            ("overbought", self.overbought),
        )?;
        self.stops.validate(NAME)
    }
}

/// The stochastic cross; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct StochasticCross {
    params: StochasticCrossParams,
    stoch: Stoch,
    prev: Option<(f64, f64)>,
    stops: Stops,
}

impl StochasticCross {
    pub fn new(params: StochasticCrossParams) -> Result<Self, StrategyError> {
        params.validate()?;
        let p = &params;
        Ok(Self {
            stoch: Stoch::new(p.k_period, p.k_slowing, p.d_period).map_err(indicator(NAME))?,
            prev: None,
            stops: Stops::new(&p.stops, NAME)?,
            params,
        })
    }
}

impl Strategy for StochasticCross {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        (self.stoch.lookback() + 1).max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let v = self.stoch.update(*bar)?;
        let prev = self.prev.replace((v.k, v.d))?;
        let p = &self.params;
        let side = match cross(prev, (v.k, v.d))? {
            Cross::Above if v.d < p.oversold => Side::Buy,
            Cross::Below if v.d > p.overbought => Side::Sell,
            _ => return None,
        };
        let (word, zone) = if side == Side::Buy {
            ("above", "oversold")
        } else {
            ("below", "overbought")
        };
        let reason = format!("%K {:.1} crossed {word} %D {:.1} while {zone}", v.k, v.d);
        entry(ctx, bar, side, CONFIDENCE, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};
    use mtq_indicators::batch;

    use super::*;
    use crate::testkit::{fired, run, series};

    fn wave(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let x = f64::from(u32::try_from(i).unwrap()) * std::f64::consts::TAU / 40.0;
                1.1 + 0.01 * x.sin()
            })
            .collect()
    }

    #[test]
    fn buys_the_turn_up_in_oversold_and_sells_the_turn_down_in_overbought() {
        let bars = series().closes(&wave(90));
        let mut s = StochasticCross::new(StochasticCrossParams {
            k_period: 5,
            k_slowing: 2,
            d_period: 2,
            ..StochasticCrossParams::default()
        })
        .unwrap();
        let signals = fired(&run(&mut s, &bars));
        // As the fall slows into a trough (bars 30, 70) the close sits ever higher in a shrinking
        // five-bar range, so %K turns up six bars early, in oversold; likewise before the peaks
        // (bars 10, 50, 90), in overbought.
        assert_eq!(
            signals,
            vec![(7, Sell), (24, Buy), (44, Sell), (64, Buy), (84, Sell)]
        );
        let col = |f: fn(&Bar) -> f64| bars.iter().map(f).collect::<Vec<_>>();
        let st = batch::stoch(
            &col(|b| b.high),
            &col(|b| b.low),
            &col(|b| b.close),
            5,
            2,
            2,
        )
        .unwrap();
        for (i, kind) in signals {
            assert_eq!(st.k[i] > st.d[i], kind == Buy, "bar {i}");
            assert!(
                if kind == Buy {
                    st.d[i] < 20.0
                } else {
                    st.d[i] > 80.0
                },
                "bar {i}"
            );
        }
    }
}
