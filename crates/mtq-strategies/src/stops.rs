//! Stop loss and take profit: fixed pips, ATR multiples, or beyond the market structure.
//!
//! Every strategy's parameters carry a [`StopsConfig`] (flattened into the same config map, so a
//! TradingMTQ entry's `sl_pips` and `tp_pips` keep working). Levels are measured from the close
//! of the signal bar:
//!
//! | `stop_mode` | stop loss (buy; sells mirror) | take profit (buy) |
//! | --- | --- | --- |
//! | `fixed_pips` (default) | close − `sl_pips` | close + `tp_pips` |
//! | `atr` | close − `sl_atr` × ATR(`stop_atr_period`) | close + `tp_atr` × ATR |
//! | `structure` | the last confirmed swing low below the close (swings of `stop_swing_bars` bars each side), else the lowest low of the last `structure_lookback` bars; minus `structure_buffer_pips` | close + `structure_rr` × the stop distance |
//! | `none` | none: the position exits on the strategy's own signal (MT5 allows positions without stops) | none |
//!
//! A take-profit setting of 0 means no take profit. With `stop_mode: none` the `sl_pips` and
//! `tp_pips` settings are ignored, and the configuration is refused with risk-percent sizing
//! (there is no stop to measure the risk to): size with fixed lots or equity instead.

use std::cell::Cell;

use mtq_core::{Bar, Side, SymbolSpec};
use mtq_indicators::seeds::Swings;
use mtq_indicators::stream::{Atr, Donchian, Indicator};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{period, positive, within};

/// How a strategy places its stop loss and take profit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMode {
    #[default]
    FixedPips,
    Atr,
    Structure,
    /// No stop loss and no take profit: a signal-only strategy.
    None,
}

impl StopMode {
    /// Whether entries carry a stop loss (every mode but `none`).
    pub fn places_stop_loss(self) -> bool {
        self != Self::None
    }
}

/// Stop-loss and take-profit settings; see [the module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StopsConfig {
    pub stop_mode: StopMode,
    /// Stop-loss distance in pips (`fixed_pips`), TradingMTQ's `sl_pips` (50).
    pub sl_pips: f64,
    /// Take-profit distance in pips (`fixed_pips`), TradingMTQ's `tp_pips`; 0 for none (100).
    pub tp_pips: f64,
    /// ATR period for `atr` mode (14).
    pub stop_atr_period: usize,
    /// Stop loss in ATRs (1.5).
    pub sl_atr: f64,
    /// Take profit in ATRs; 0 for none (3.0).
    pub tp_atr: f64,
    /// Bars on each side that confirm a swing in `structure` mode (3).
    pub stop_swing_bars: usize,
    /// Bars searched for the extreme when no swing lies beyond the close (20).
    pub structure_lookback: usize,
    /// Pips beyond the swing (2).
    pub structure_buffer_pips: f64,
    /// Take profit as a multiple of the stop distance in `structure` mode; 0 for none (2.0).
    pub structure_rr: f64,
}

impl Default for StopsConfig {
    fn default() -> Self {
        Self {
            stop_mode: StopMode::FixedPips,
            sl_pips: 50.0,
            tp_pips: 100.0,
            stop_atr_period: 14,
            sl_atr: 1.5,
            tp_atr: 3.0,
            stop_swing_bars: 3,
            structure_lookback: 20,
            structure_buffer_pips: 2.0,
            structure_rr: 2.0,
        }
    }
}

impl StopsConfig {
    /// Checks the settings the chosen mode uses; errors name `strategy` and the field.
    pub fn validate(&self, strategy: &'static str) -> Result<(), ParamError> {
        match self.stop_mode {
            StopMode::FixedPips => {
                positive(strategy, "sl_pips", self.sl_pips)?;
                within(strategy, "tp_pips", self.tp_pips, 0.0, 1e6)
            }
            StopMode::Atr => {
                period(strategy, "stop_atr_period", self.stop_atr_period, 1)?;
                positive(strategy, "sl_atr", self.sl_atr)?;
                within(strategy, "tp_atr", self.tp_atr, 0.0, 1e3)
            }
            StopMode::Structure => {
                period(strategy, "stop_swing_bars", self.stop_swing_bars, 1)?;
                period(strategy, "structure_lookback", self.structure_lookback, 2)?;
                within(
                    strategy,
                    "structure_buffer_pips",
                    self.structure_buffer_pips,
                    0.0,
                    1e6,
                )?;
                within(strategy, "structure_rr", self.structure_rr, 0.0, 1e3)
            }
            StopMode::None => Ok(()),
        }
    }
}

/// The running state stops need: nothing for fixed pips, an ATR, or swings and a range.
#[derive(Debug, Clone)]
pub(crate) struct Stops {
    config: StopsConfig,
    atr: Option<(Atr, Option<f64>)>,
    structure: Option<Structure>,
    /// The last pip size seen (its `Decimal` bits) and its `f64`: see [`Stops::pip`].
    pip: Cell<Option<([u8; 16], f64)>>,
}

#[derive(Debug, Clone)]
struct Structure {
    swings: Swings,
    range: Donchian,
    last_high: Option<f64>,
    last_low: Option<f64>,
    extremes: Option<(f64, f64)>,
}

impl Stops {
    pub(crate) fn new(config: &StopsConfig, strategy: &'static str) -> Result<Self, StrategyError> {
        config.validate(strategy)?;
        let e = indicator(strategy);
        let atr = match config.stop_mode {
            StopMode::Atr => Some((Atr::new(config.stop_atr_period).map_err(&e)?, None)),
            _ => None,
        };
        let structure = match config.stop_mode {
            StopMode::Structure => Some(Structure {
                swings: Swings::new(config.stop_swing_bars, config.stop_swing_bars).map_err(&e)?,
                range: Donchian::new(config.structure_lookback).map_err(&e)?,
                last_high: None,
                last_low: None,
                extremes: None,
            }),
            _ => None,
        };
        Ok(Self {
            config: config.clone(),
            atr,
            structure,
            pip: Cell::new(None),
        })
    }

    /// One pip of `spec` as a series price, as [`Context::pip`](crate::Context::pip) gives it.
    /// The `Decimal` to `f64` conversion costs some 300 instructions, most of a signal's cost
    /// in `crossover`, so its result is kept for as long as the pip size stays the same (a
    /// strategy trades one symbol, so always after the first signal).
    #[inline]
    pub(crate) fn pip(&self, spec: &SymbolSpec) -> f64 {
        let size = spec.pip_size();
        let bits = size.serialize();
        match self.pip.get() {
            Some((seen, pip)) if seen == bits => pip,
            _ => {
                let pip = f64::try_from(size).unwrap_or(0.0);
                self.pip.set(Some((bits, pip)));
                pip
            }
        }
    }

    /// Bars before levels can be placed: the index of the first bar that has them.
    pub(crate) fn warmup(&self) -> usize {
        let atr = self.atr.as_ref().map_or(0, |(a, _)| a.lookback());
        let range = self.structure.as_ref().map_or(0, |s| s.range.lookback());
        atr.max(range)
    }

    /// Feeds one closed bar. O(1); nothing at all in `fixed_pips` mode.
    #[inline]
    pub(crate) fn update(&mut self, bar: &Bar) {
        // Fixed pips need no bars: one test, inlined, instead of a call that sets up the
        // indicators' stack frame on every bar.
        if self.config.stop_mode != StopMode::FixedPips {
            self.update_indicators(bar);
        }
    }

    #[inline(never)]
    fn update_indicators(&mut self, bar: &Bar) {
        if let Some((atr, last)) = self.atr.as_mut()
            && let Some(v) = atr.update(*bar)
        {
            *last = Some(v);
        }
        if let Some(s) = self.structure.as_mut() {
            if let Some(points) = s.swings.update(*bar) {
                s.last_high = points.high.map(|p| p.price).or(s.last_high);
                s.last_low = points.low.map(|p| p.price).or(s.last_low);
            }
            if let Some(b) = s.range.update(*bar) {
                s.extremes = Some((b.upper, b.lower));
            }
        }
    }

    /// Stop loss and take profit for an entry on `side` at `close`; `None` until the levels'
    /// indicators are ready, or when no stop can be placed on the losing side of the close.
    /// With `stop_mode: none`, neither.
    pub(crate) fn levels(
        &self,
        side: Side,
        close: f64,
        pip: f64,
    ) -> Option<(Option<f64>, Option<f64>)> {
        let c = &self.config;
        let dir = match side {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        };
        let (risk, reward) = match c.stop_mode {
            StopMode::FixedPips => (c.sl_pips * pip, c.tp_pips * pip),
            StopMode::Atr => {
                let atr = self.atr.as_ref()?.1?;
                (c.sl_atr * atr, c.tp_atr * atr)
            }
            StopMode::Structure => {
                let s = self.structure.as_ref()?;
                let (highest, lowest) = s.extremes?;
                let level = match side {
                    Side::Buy => s.last_low.filter(|l| *l < close).unwrap_or(lowest),
                    Side::Sell => s.last_high.filter(|h| *h > close).unwrap_or(highest),
                };
                let risk = (close - level) * dir + c.structure_buffer_pips * pip;
                (risk, c.structure_rr * risk)
            }
            StopMode::None => return Some((None, None)),
        };
        if !(risk.is_finite() && risk > 0.0) {
            return None;
        }
        let tp = (reward > 0.0).then_some(close + dir * reward);
        Some((Some(close - dir * risk), tp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::series;
    use mtq_core::testkit::close_to;

    const PIP: f64 = 0.0001;

    #[test]
    fn fixed_pips_measure_from_the_close_and_mirror_for_sells() {
        let stops = Stops::new(&StopsConfig::default(), "t").unwrap();
        let (sl, tp) = stops.levels(Side::Buy, 1.1000, PIP).unwrap();
        assert!(close_to(sl.unwrap(), 1.0950) && close_to(tp.unwrap(), 1.1100));
        let (sl, tp) = stops.levels(Side::Sell, 1.1000, PIP).unwrap();
        assert!(close_to(sl.unwrap(), 1.1050) && close_to(tp.unwrap(), 1.0900));
    }

    #[test]
    fn a_zero_take_profit_means_none() {
        let config = StopsConfig {
            tp_pips: 0.0,
            ..StopsConfig::default()
        };
        let stops = Stops::new(&config, "t").unwrap();
        assert_eq!(stops.levels(Side::Buy, 1.1, PIP).unwrap().1, None);
    }

    #[test]
    fn atr_stops_wait_for_the_atr_then_use_its_multiples() {
        let config = StopsConfig {
            stop_mode: StopMode::Atr,
            stop_atr_period: 3,
            ..StopsConfig::default()
        };
        let mut stops = Stops::new(&config, "t").unwrap();
        // Constant 20-pip ranges with no gaps: ATR is 0.0020.
        let bars = series().high_low(&[(1.1010, 1.0990); 5]);
        for b in &bars[..3] {
            stops.update(b);
            assert_eq!(stops.levels(Side::Buy, 1.1, PIP), None);
        }
        stops.update(&bars[3]);
        let (sl, tp) = stops.levels(Side::Buy, 1.1000, PIP).unwrap();
        assert!(close_to(sl.unwrap(), 1.1000 - 0.0030) && close_to(tp.unwrap(), 1.1000 + 0.0060));
    }

    #[test]
    fn structure_stops_sit_beyond_the_last_swing_low() {
        let config = StopsConfig {
            stop_mode: StopMode::Structure,
            stop_swing_bars: 1,
            structure_lookback: 3,
            ..StopsConfig::default()
        };
        let mut stops = Stops::new(&config, "t").unwrap();
        // A swing low of 1.0950 at bar 1, confirmed at bar 2; later lows are higher.
        let hl = [
            (1.1000, 1.0980),
            (1.0990, 1.0950),
            (1.1010, 1.0990),
            (1.1020, 1.1000),
        ];
        for b in &series().high_low(&hl) {
            stops.update(b);
        }
        let (sl, tp) = stops.levels(Side::Buy, 1.1010, PIP).unwrap();
        let sl = sl.unwrap();
        assert!(close_to(sl, 1.0948), "{sl}");
        assert!(close_to(tp.unwrap(), 1.1010 + 2.0 * 0.0062));
        // No swing high above the close: the highest high of the last 3 bars, 1.1020, plus 2 pips.
        let sl = stops.levels(Side::Sell, 1.1010, PIP).unwrap().0.unwrap();
        assert!(close_to(sl, 1.1022), "{sl}");
    }

    #[test]
    fn stop_mode_none_places_neither_stop_nor_target_and_ignores_the_pip_settings() {
        let params = serde_json::json!({"stop_mode": "none", "sl_pips": 0});
        let config: StopsConfig = serde_json::from_value(params).unwrap();
        assert_eq!(config.stop_mode, StopMode::None);
        assert!(!config.stop_mode.places_stop_loss());
        let stops = Stops::new(&config, "t").unwrap();
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(stops.levels(side, 1.1, PIP), Some((None, None)));
        }
        assert!(StopsConfig::default().stop_mode.places_stop_loss());
    }

    #[test]
    fn invalid_settings_name_the_field_and_value() {
        let config = StopsConfig {
            sl_pips: -5.0,
            ..StopsConfig::default()
        };
        let err = Stops::new(&config, "crossover").unwrap_err().to_string();
        assert!(err.contains("crossover") && err.contains("sl_pips") && err.contains("-5"));
    }
}
