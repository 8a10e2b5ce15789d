//! `ma_rsi` (Forex Trading Bot): moving-average trend with an RSI momentum filter.
//!
//! Rules, on each closed bar once MA(`ma_period`) and RSI(`rsi_period`) exist:
//! - **Buy** when the close is above the MA (uptrend) and RSI crosses above `rsi_mid` (at or
//!   below it on the bar before, above it now) without being overbought (below `overbought`):
//!   momentum turns up inside an uptrend;
//! - **Sell** when the close is below the MA and RSI crosses below `rsi_mid` while above
//!   `oversold`.
//!
//! Confidence is 0.6.

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::stream::{Indicator, Rsi};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{Ma, MaType, below, period, to_value, within};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "ma_rsi";
const CONFIDENCE: f64 = 0.6;

/// Parameters of [`MaRsi`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MaRsiParams {
    /// Trend average period (50).
    pub ma_period: usize,
    /// `sma`, `ema` or `wma` (`ema`).
    pub ma_type: MaType,
    pub rsi_period: usize,
    /// The momentum line RSI must cross (50).
    pub rsi_mid: f64,
    pub oversold: f64,
    pub overbought: f64,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for MaRsiParams {
    fn default() -> Self {
        Self {
            ma_period: 50,
            ma_type: MaType::Ema,
            rsi_period: 14,
            rsi_mid: 50.0,
            oversold: 30.0,
            overbought: 70.0,
            stops: StopsConfig::default(),
        }
    }
}

impl MaRsiParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "ma_period", self.ma_period, 2)?;
        period(NAME, "rsi_period", self.rsi_period, 2)?;
        within(NAME, "oversold", self.oversold, 0.0, 100.0)?;
        within(NAME, "overbought", self.overbought, 0.0, 100.0)?;
        below(NAME, ("oversold", self.oversold), ("rsi_mid", self.rsi_mid))?;
        below(
            NAME,
            ("rsi_mid", self.rsi_mid),
            ("overbought", self.overbought),
        )?;
        self.stops.validate(NAME)
    }
}

/// MA trend with an RSI filter; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct MaRsi {
    params: MaRsiParams,
    ma: Ma,
    rsi: Rsi,
    prev_rsi: Option<f64>,
    stops: Stops,
}

impl MaRsi {
    pub fn new(params: MaRsiParams) -> Result<Self, StrategyError> {
        params.validate()?;
        Ok(Self {
            ma: Ma::new(NAME, params.ma_type, params.ma_period)?,
            rsi: Rsi::new(params.rsi_period).map_err(indicator(NAME))?,
            prev_rsi: None,
            stops: Stops::new(&params.stops, NAME)?,
            params,
        })
    }
}

impl Strategy for MaRsi {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        (self.ma.lookback().max(self.rsi.lookback() + 1)).max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let ma = self.ma.update(bar.close);
        let rsi = self.rsi.update(bar.close)?;
        let prev = self.prev_rsi.replace(rsi)?;
        let (ma, c, p) = (ma?, bar.close, &self.params);
        let side = if c > ma && prev <= p.rsi_mid && rsi > p.rsi_mid && rsi < p.overbought {
            Side::Buy
        } else if c < ma && prev >= p.rsi_mid && rsi < p.rsi_mid && rsi > p.oversold {
            Side::Sell
        } else {
            return None;
        };
        let (trend, word) = if side == Side::Buy {
            ("above", "up")
        } else {
            ("below", "down")
        };
        let reason = format!(
            "close {c:.5} {trend} {}({}) {ma:.5}; RSI crossed {word} through {} to {rsi:.1}",
            p.ma_type.label(),
            p.ma_period,
            p.rsi_mid
        );
        entry(ctx, bar, side, CONFIDENCE, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, run, series};
    use mtq_core::testkit::ramp;

    fn strategy() -> MaRsi {
        MaRsi::new(MaRsiParams {
            ma_period: 10,
            rsi_period: 3,
            ..MaRsiParams::default()
        })
        .unwrap()
    }

    /// A 10-pip-a-bar rise (bars 0-19), two 10-pip dips (bars 20-21), a rise again (bars 22+).
    fn dip_in_uptrend() -> Vec<f64> {
        let mut c = ramp(1.1000, 0.0010, 20);
        c.extend([1.1180, 1.1170]);
        c.extend(ramp(1.1180, 0.0010, 5));
        c
    }

    #[test]
    fn buys_momentum_turning_up_above_the_average_and_mirrors_for_sells() {
        // RSI(3): 100 through the rise, 66.7 and 44.4 after the dips (the close 1.1170 still
        // above EMA10 ~1.1155, so no sell), 63.0 on bar 22, whose close 1.1180 is above EMA10.
        let up = dip_in_uptrend();
        assert_eq!(
            fired(&run(&mut strategy(), &series().closes(&up))),
            vec![(22, Buy)]
        );
        let down: Vec<f64> = up.iter().map(|c| 2.2 - c).collect();
        assert_eq!(
            fired(&run(&mut strategy(), &series().closes(&down))),
            vec![(22, Sell)]
        );
    }

    #[test]
    fn an_rsi_turn_below_the_average_is_not_a_buy() {
        // A fall, a 25-pip bounce on bar 20 (RSI(3) 55.6, crossing 50 up, but the close 1.1035
        // is below EMA10 ~1.1051), then a fall: RSI crosses 50 down on bar 21 (41.7).
        let mut c = ramp(1.1200, -0.0010, 20);
        c.push(1.1035);
        c.extend(ramp(1.1025, -0.0010, 5));
        assert_eq!(
            fired(&run(&mut strategy(), &series().closes(&c))),
            vec![(21, Sell)]
        );
    }
}
