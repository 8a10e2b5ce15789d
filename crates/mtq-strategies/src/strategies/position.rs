//! `position` (TradingMTQ): the side follows which moving average is above.
//!
//! Rules, on each closed bar once both averages exist:
//! - the wanted side is **buy** while the fast average is above the slow one and **sell** while
//!   it is below (no side while they are equal);
//! - the strategy signals the wanted side whenever it does not already hold it: on the first bar
//!   after warm-up, on every change of side (reversing the open position), and again after a
//!   position was closed by its stop or target while the averages still agree.
//!
//! Unlike `crossover`, it does not wait for a cross to enter. Confidence is 0.6.
//!
//! Averages are SMA, EMA or WMA of the close (`ma_type`) from streaming handles, or, built on a
//! [`SeriesCache`] ([`PositionStrategy::shared`]), read at the bar's index from shared series.

use std::sync::Arc;

use mtq_core::{Bar, Side, Signal};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{MaPair, MaType, below, period, to_value};
use crate::shared::{SeriesCache, SharedPair};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "position";
const CONFIDENCE: f64 = 0.6;

/// Parameters of [`PositionStrategy`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PositionParams {
    /// Fast average period (10).
    pub fast_period: usize,
    /// Slow average period, above `fast_period` (20).
    pub slow_period: usize,
    /// `sma`, `ema` or `wma` (`sma`).
    pub ma_type: MaType,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for PositionParams {
    fn default() -> Self {
        Self {
            fast_period: 10,
            slow_period: 20,
            ma_type: MaType::Sma,
            stops: StopsConfig::default(),
        }
    }
}

impl PositionParams {
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

/// The side-follows-the-averages strategy; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct PositionStrategy {
    params: PositionParams,
    averages: Averages,
    slow_lookback: usize,
    stops: Stops,
}

/// Where the two averages come from.
// The streaming handles stay inline: boxing them would put a pointer chase on every bar of the
// streaming path, to save a few hundred bytes in a strategy of which a backtest has one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Averages {
    Streaming(MaPair),
    Shared(SharedPair),
}

impl PositionStrategy {
    /// The strategy on its own streaming averages.
    pub fn new(params: PositionParams) -> Result<Self, StrategyError> {
        Self::build(params, None)
    }

    /// The strategy reading its averages from `cache`, to be fed the cache's bars in order (see
    /// [`crate::shared`]).
    pub fn shared(params: PositionParams, cache: &Arc<SeriesCache>) -> Result<Self, StrategyError> {
        Self::build(params, Some(cache))
    }

    fn build(
        params: PositionParams,
        cache: Option<&Arc<SeriesCache>>,
    ) -> Result<Self, StrategyError> {
        params.validate()?;
        let (kind, f, s) = (params.ma_type, params.fast_period, params.slow_period);
        let streaming = MaPair::new(NAME, kind, f, s)?;
        let slow_lookback = streaming.slow_lookback();
        let averages = match cache {
            None => Averages::Streaming(streaming),
            Some(cache) => {
                Averages::Shared(SharedPair::new(cache, kind, f, s).map_err(indicator(NAME))?)
            }
        };
        Ok(Self {
            averages,
            slow_lookback,
            stops: Stops::new(&params.stops, NAME)?,
            params,
        })
    }
}

impl Strategy for PositionStrategy {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        self.slow_lookback.max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let (fast, slow) = match &mut self.averages {
            // Both averages see every close, whether or not the other has a value yet.
            Averages::Streaming(pair) => pair.update(bar.close)?,
            // `NaN` while warming up: neither comparison below holds, so no side, as streaming.
            Averages::Shared(pair) => {
                let i = pair.index(bar.time)?;
                pair.at(i)?
            }
        };
        let side = if fast > slow {
            Side::Buy
        } else if fast < slow {
            Side::Sell
        } else {
            return None;
        };
        if ctx.holds(side) {
            return None;
        }
        let ma = self.params.ma_type.label();
        let word = if side == Side::Buy { "above" } else { "below" };
        let reason = format!(
            "fast {ma}({}) {fast:.5} is {word} slow {ma}({}) {slow:.5}",
            self.params.fast_period, self.params.slow_period
        );
        entry(ctx, bar, side, CONFIDENCE, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, held, run, run_with, series};
    use mtq_core::testkit::ramp;

    fn strategy() -> PositionStrategy {
        PositionStrategy::new(PositionParams {
            fast_period: 2,
            slow_period: 4,
            ..PositionParams::default()
        })
        .unwrap()
    }

    fn rise_then_fall() -> Vec<f64> {
        let mut c = ramp(1.1000, 0.0010, 8);
        c.extend(ramp(1.1050, -0.0020, 6));
        c
    }

    #[test]
    fn flat_it_signals_the_wanted_side_on_every_bar_until_it_holds_it() {
        // Rising from bar 0: the averages exist from bar 3 and the fast one is above until the
        // fall; bar 9's SMA(2) 1.1040 is below SMA(4) 1.10525.
        let signals = fired(&run(&mut strategy(), &series().closes(&rise_then_fall())));
        let expected: Vec<_> = (3..9)
            .map(|i| (i, Buy))
            .chain((9..14).map(|i| (i, Sell)))
            .collect();
        assert_eq!(signals, expected);
    }

    #[test]
    fn holding_the_wanted_side_it_stays_quiet_and_reverses_on_a_change() {
        let held = [held(Side::Buy)];
        let sigs = run_with(
            &mut strategy(),
            &series().closes(&rise_then_fall()),
            &[],
            &held,
        );
        assert_eq!(fired(&sigs)[0], (9, Sell));
        assert!(sigs[0].1.reason.ends_with("reverses the open buy"));
    }
}
