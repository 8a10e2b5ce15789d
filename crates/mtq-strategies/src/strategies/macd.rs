//! `macd` (TradingMTQ): MACD signal-line cross, with an optional zero-line filter and histogram
//! threshold.
//!
//! Rules, on each closed bar once MACD(`fast_period`, `slow_period`, `signal_period`) exists
//! (histogram = MACD line − signal line):
//! - **Buy** on the bar where the histogram closes above `+histogram_threshold`, having been at
//!   or below it on the bar before (with the default threshold 0: the MACD line crosses above
//!   its signal line);
//! - **Sell** on the bar where it closes below `−histogram_threshold`, having been at or above it;
//! - with `zero_line_filter`, buys need the MACD line above zero and sells below it (the cross
//!   must agree with the trend the zero line shows).
//!
//! Confidence is 0.6.

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::stream::{Indicator, Macd};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{below, period, to_value, within};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "macd";
const CONFIDENCE: f64 = 0.6;

/// Parameters of [`MacdStrategy`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MacdParams {
    /// Fast EMA period (12).
    pub fast_period: usize,
    /// Slow EMA period (26).
    pub slow_period: usize,
    /// Signal-line EMA period (9).
    pub signal_period: usize,
    /// Buys only above the zero line, sells only below it (false).
    pub zero_line_filter: bool,
    /// Histogram the cross must clear, in price (0).
    pub histogram_threshold: f64,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for MacdParams {
    fn default() -> Self {
        Self {
            fast_period: 12,
            slow_period: 26,
            signal_period: 9,
            zero_line_filter: false,
            histogram_threshold: 0.0,
            stops: StopsConfig::default(),
        }
    }
}

impl MacdParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "fast_period", self.fast_period, 2)?;
        period(NAME, "slow_period", self.slow_period, 2)?;
        period(NAME, "signal_period", self.signal_period, 1)?;
        below(
            NAME,
            ("fast_period", self.fast_period),
            ("slow_period", self.slow_period),
        )?;
        within(
            NAME,
            "histogram_threshold",
            self.histogram_threshold,
            0.0,
            1e6,
        )?;
        self.stops.validate(NAME)
    }
}

/// The MACD signal-line cross; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct MacdStrategy {
    params: MacdParams,
    macd: Macd,
    prev_hist: Option<f64>,
    stops: Stops,
}

impl MacdStrategy {
    pub fn new(params: MacdParams) -> Result<Self, StrategyError> {
        params.validate()?;
        let macd = Macd::new(params.fast_period, params.slow_period, params.signal_period)
            .map_err(indicator(NAME))?;
        Ok(Self {
            macd,
            stops: Stops::new(&params.stops, NAME)?,
            prev_hist: None,
            params,
        })
    }
}

impl Strategy for MacdStrategy {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        (self.macd.lookback() + 1).max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let m = self.macd.update(bar.close)?;
        let prev = self.prev_hist.replace(m.hist)?;
        let t = self.params.histogram_threshold;
        let zero = self.params.zero_line_filter;
        let side = if prev <= t && m.hist > t && (!zero || m.macd > 0.0) {
            Side::Buy
        } else if prev >= -t && m.hist < -t && (!zero || m.macd < 0.0) {
            Side::Sell
        } else {
            return None;
        };
        let word = if side == Side::Buy { "above" } else { "below" };
        let reason = format!(
            "MACD {:.5} crossed {word} signal {:.5} (histogram {:+.5})",
            m.macd, m.signal, m.hist
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

    /// A sine wave of period 40 bars and amplitude 100 pips around 1.1000: curved everywhere,
    /// so the MACD histogram is never lost in rounding noise as it is on a straight line.
    fn wave(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| {
                1.1 + 0.01
                    * (f64::from(u32::try_from(i).unwrap()) * std::f64::consts::TAU / 40.0).sin()
            })
            .collect()
    }

    fn strategy(zero_line_filter: bool, histogram_threshold: f64) -> MacdStrategy {
        MacdStrategy::new(MacdParams {
            fast_period: 3,
            slow_period: 6,
            signal_period: 3,
            zero_line_filter,
            histogram_threshold,
            ..MacdParams::default()
        })
        .unwrap()
    }

    #[test]
    fn buys_and_sells_where_the_histogram_changes_sign() {
        let closes = wave(90);
        let signals = fired(&run(&mut strategy(false, 0.0), &series().closes(&closes)));
        // The histogram leads the wave's troughs (bars 30, 70) and peaks (50, 90) by four bars.
        assert_eq!(signals, vec![(26, Buy), (46, Sell), (66, Buy), (86, Sell)]);
        // The same bars are where TA-Lib's batch histogram changes sign.
        let hist = batch::macd(&closes, 3, 6, 3).unwrap().hist;
        for (i, kind) in signals {
            let turned_up = hist[i - 1] <= 0.0 && hist[i] > 0.0;
            assert_eq!(turned_up, kind == Buy, "bar {i}");
        }
    }

    #[test]
    fn the_zero_line_filter_drops_crosses_on_the_wrong_side_of_zero() {
        // The histogram turns up near the MACD line's low, below zero, and down near its high,
        // above zero: on this wave every cross is on the wrong side.
        let signals = fired(&run(&mut strategy(true, 0.0), &series().closes(&wave(90))));
        assert_eq!(signals, vec![]);
    }

    #[test]
    fn a_histogram_threshold_delays_the_entry_until_it_is_cleared() {
        let closes = wave(90);
        let t = 0.0003;
        let signals = fired(&run(&mut strategy(false, t), &series().closes(&closes)));
        assert_eq!(signals[..3], [(13, Sell), (34, Buy), (54, Sell)]);
        let hist = batch::macd(&closes, 3, 6, 3).unwrap().hist;
        // Positive since bar 26, the histogram clears the threshold on bar 34.
        assert!(hist[26] > 0.0 && hist[33] <= t && hist[34] > t);
    }
}
