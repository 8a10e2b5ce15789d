//! `zero_lag` (TradeSystemV1): zero-lag EMA crossover.
//!
//! The zero-lag EMA (TA-Lib `ZLEMA`, Ehlers and Way) is an EMA of the de-lagged series
//! `x + (x − x[lag])`: it follows a trend without the EMA's lag, so crosses come earlier.
//!
//! Rules, on each closed bar once both averages exist:
//! - **Buy** on the bar where ZLEMA(`fast_period`) closes above ZLEMA(`slow_period`), having
//!   been at or below it on the bar before;
//! - **Sell** on the bar where it closes below, having been at or above it.
//!
//! Confidence is 0.6.

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::stream::{Indicator, Zlema};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{Cross, below, cross, period, to_value};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "zero_lag";
const CONFIDENCE: f64 = 0.6;

/// Parameters of [`ZeroLag`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZeroLagParams {
    /// Fast ZLEMA period (21).
    pub fast_period: usize,
    /// Slow ZLEMA period (50).
    pub slow_period: usize,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for ZeroLagParams {
    fn default() -> Self {
        Self {
            fast_period: 21,
            slow_period: 50,
            stops: StopsConfig::default(),
        }
    }
}

impl ZeroLagParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "fast_period", self.fast_period, 1)?;
        period(NAME, "slow_period", self.slow_period, 2)?;
        below(
            NAME,
            ("fast_period", self.fast_period),
            ("slow_period", self.slow_period),
        )?;
        self.stops.validate(NAME)
    }
}

/// The zero-lag EMA crossover; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct ZeroLag {
    params: ZeroLagParams,
    fast: Zlema,
    slow: Zlema,
    prev: Option<(f64, f64)>,
    stops: Stops,
}

impl ZeroLag {
    pub fn new(params: ZeroLagParams) -> Result<Self, StrategyError> {
        params.validate()?;
        let e = indicator(NAME);
        Ok(Self {
            fast: Zlema::new(params.fast_period).map_err(&e)?,
            slow: Zlema::new(params.slow_period).map_err(&e)?,
            stops: Stops::new(&params.stops, NAME)?,
            prev: None,
            params,
        })
    }
}

impl Strategy for ZeroLag {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        (self.slow.lookback().max(self.fast.lookback()) + 1).max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let fast = self.fast.update(bar.close);
        let slow = self.slow.update(bar.close);
        let (Some(fast), Some(slow)) = (fast, slow) else {
            return None;
        };
        let prev = self.prev.replace((fast, slow))?;
        let side = match cross(prev, (fast, slow))? {
            Cross::Above => Side::Buy,
            Cross::Below => Side::Sell,
        };
        let word = if side == Side::Buy { "above" } else { "below" };
        let reason = format!(
            "ZLEMA({}) {fast:.5} crossed {word} ZLEMA({}) {slow:.5}",
            self.params.fast_period, self.params.slow_period
        );
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
    fn buys_and_sells_where_the_zero_lag_averages_cross() {
        let closes = wave(90);
        let mut s = ZeroLag::new(ZeroLagParams {
            fast_period: 3,
            slow_period: 9,
            ..ZeroLagParams::default()
        })
        .unwrap();
        let signals = fired(&run(&mut s, &series().closes(&closes)));
        // With no lag to speak of, the fast average turns four bars ahead of the wave's troughs
        // (bars 30, 70) and peaks (50, 90).
        assert_eq!(signals, vec![(26, Buy), (46, Sell), (66, Buy), (86, Sell)]);
        // The same bars where TA-Lib's batch ZLEMAs cross.
        let (f, s) = (
            batch::zlema(&closes, 3).unwrap(),
            batch::zlema(&closes, 9).unwrap(),
        );
        for (i, kind) in signals {
            assert_eq!(f[i] > s[i], kind == Buy, "bar {i}");
            assert_eq!(f[i - 1] > s[i - 1], kind == Sell, "bar {i}");
        }
    }
}
