//! Volatility regime: the ATR's percentile among its own recent values.

use mtq_core::Bar;

use crate::IndicatorError;
use crate::seeds::window::Window;
use crate::stream::{Atr, Indicator};

/// How volatile the market is relative to its recent past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Regime {
    Low,
    Normal,
    High,
    Extreme,
}

/// Parameters of [`VolatilityRegime`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolatilityConfig {
    /// ATR period (14).
    pub atr_period: usize,
    /// ATR values the percentile is taken over, the current one included (100).
    pub window: usize,
    /// Percentile below which volatility is `Low` (0.25).
    pub low: f64,
    /// Percentile above which it is `High` (0.75).
    pub high: f64,
    /// Percentile above which it is `Extreme` (0.95).
    pub extreme: f64,
}

impl Default for VolatilityConfig {
    fn default() -> Self {
        Self {
            atr_period: 14,
            window: 100,
            low: 0.25,
            high: 0.75,
            extreme: 0.95,
        }
    }
}

/// One volatility reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolatilityReading {
    pub atr: f64,
    /// Share of the window's ATR values at or below the current one, in (0, 1].
    pub percentile: f64,
    pub regime: Regime,
}

/// ATR percentile over a rolling window, classified into a [`Regime`].
#[derive(Debug, Clone)]
pub struct VolatilityRegime {
    config: VolatilityConfig,
    atr: Atr,
    history: Window,
}

impl VolatilityRegime {
    pub fn new(config: VolatilityConfig) -> Result<Self, IndicatorError> {
        if config.window < 2 {
            return Err(IndicatorError::InvalidParameter {
                indicator: "VOLATILITY_REGIME",
                param: "window",
                value: config.window.to_string(),
                expected: "at least 2 ATR values",
            });
        }
        let ordered = 0.0 <= config.low
            && config.low <= config.high
            && config.high <= config.extreme
            && config.extreme <= 1.0;
        if !ordered {
            return Err(IndicatorError::InvalidParameter {
                indicator: "VOLATILITY_REGIME",
                param: "low/high/extreme",
                value: format!("{}/{}/{}", config.low, config.high, config.extreme),
                expected: "0 <= low <= high <= extreme <= 1",
            });
        }
        Ok(Self {
            config,
            atr: Atr::new(config.atr_period)?,
            history: Window::new(config.window),
        })
    }
}

impl Indicator for VolatilityRegime {
    type Input = Bar;
    type Output = VolatilityReading;

    fn update(&mut self, bar: Bar) -> Option<VolatilityReading> {
        let atr = self.atr.update(bar)?;
        self.history.push(atr);
        if !self.history.is_full() {
            return None;
        }
        let at_or_below = self.history.iter().filter(|v| *v <= atr).count();
        #[allow(clippy::cast_precision_loss)]
        let percentile = at_or_below as f64 / self.history.len() as f64;
        let c = &self.config;
        let regime = if percentile > c.extreme {
            Regime::Extreme
        } else if percentile > c.high {
            Regime::High
        } else if percentile < c.low {
            Regime::Low
        } else {
            Regime::Normal
        };
        Some(VolatilityReading {
            atr,
            percentile,
            regime,
        })
    }

    fn peek(&self, bar: Bar) -> Option<VolatilityReading> {
        self.clone().update(bar)
    }

    fn lookback(&self) -> usize {
        self.atr.lookback() + self.config.window - 1
    }

    fn reset(&mut self) {
        self.atr.reset();
        self.history.clear();
    }
}
