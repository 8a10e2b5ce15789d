//! `rsi` (TradingMTQ): oversold / overbought re-entry.
//!
//! Rules, on each closed bar once RSI(`rsi_period`) of the close exists:
//! - **Buy** on the bar where RSI closes back at or above `oversold`, having been below it on the
//!   bar before (the market leaves oversold);
//! - **Sell** on the bar where RSI closes back at or below `overbought`, having been above it.
//!
//! Waiting for the re-entry, rather than buying as soon as RSI is oversold, avoids catching a
//! falling market. Confidence is 0.6.

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::stream::{Indicator, Rsi};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{below, period, to_value, within};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "rsi";
const CONFIDENCE: f64 = 0.6;

/// Parameters of [`RsiStrategy`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RsiParams {
    /// RSI period (14, Wilder).
    pub rsi_period: usize,
    /// Level below which the market is oversold (30).
    pub oversold: f64,
    /// Level above which it is overbought (70).
    pub overbought: f64,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for RsiParams {
    fn default() -> Self {
        Self {
            rsi_period: 14,
            oversold: 30.0,
            overbought: 70.0,
            stops: StopsConfig::default(),
        }
    }
}

impl RsiParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "rsi_period", self.rsi_period, 2)?;
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

/// The RSI re-entry strategy; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct RsiStrategy {
    params: RsiParams,
    rsi: Rsi,
    prev: Option<f64>,
    stops: Stops,
}

impl RsiStrategy {
    pub fn new(params: RsiParams) -> Result<Self, StrategyError> {
        params.validate()?;
        Ok(Self {
            rsi: Rsi::new(params.rsi_period).map_err(indicator(NAME))?,
            stops: Stops::new(&params.stops, NAME)?,
            prev: None,
            params,
        })
    }
}

impl Strategy for RsiStrategy {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        (self.rsi.lookback() + 1).max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let rsi = self.rsi.update(bar.close)?;
        let prev = self.prev.replace(rsi)?;
        let (lo, hi) = (self.params.oversold, self.params.overbought);
        let (side, reason) = if prev < lo && rsi >= lo {
            (
                Side::Buy,
                format!("RSI {rsi:.1} rose back above oversold {lo} from {prev:.1}"),
            )
        } else if prev > hi && rsi <= hi {
            (
                Side::Sell,
                format!("RSI {rsi:.1} fell back below overbought {hi} from {prev:.1}"),
            )
        } else {
            return None;
        };
        entry(ctx, bar, side, CONFIDENCE, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, run, series};
    use mtq_core::testkit::ramp;

    #[test]
    fn buys_on_leaving_oversold_and_sells_on_leaving_overbought() {
        // RSI(3) of equal 10-pip steps: 0 through the fall; the first rise gives 100/3 = 33.3,
        // above 30 (bar 7); five rises take it above 70; the first fall gives 60.8 (bar 13).
        let mut closes = ramp(1.1000, -0.0010, 7);
        closes.extend(ramp(1.0950, 0.0010, 6));
        closes.push(1.0990);
        let mut s = RsiStrategy::new(RsiParams {
            rsi_period: 3,
            ..RsiParams::default()
        })
        .unwrap();
        assert_eq!(
            fired(&run(&mut s, &series().closes(&closes))),
            vec![(7, Buy), (13, Sell)]
        );
    }

    #[test]
    fn oversold_at_or_above_overbought_is_refused_by_name() {
        let p = RsiParams {
            oversold: 80.0,
            ..RsiParams::default()
        };
        let err = RsiStrategy::new(p).unwrap_err().to_string();
        assert!(
            err.contains("`oversold`") && err.contains("got 80"),
            "{err}"
        );
    }
}
