//! Trend state from ADX and moving-average slope.

use mtq_core::Bar;

use crate::IndicatorError;
use crate::seeds::window::Window;
use crate::stream::{Adx, Atr, Ema, Indicator};

/// The market's direction, or the lack of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrendState {
    Bullish,
    Bearish,
    Ranging,
}

/// Parameters of [`TrendDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendConfig {
    /// ADX period (14, Wilder).
    pub adx_period: usize,
    /// ADX at or above which the market trends (25, Wilder's usual threshold).
    pub adx_threshold: f64,
    /// EMA period of the trend line (50).
    pub ma_period: usize,
    /// Bars over which the EMA's slope is measured (5).
    pub slope_bars: usize,
    /// Least slope, in ATRs per bar, that counts as a direction (0.05).
    pub min_slope: f64,
    /// ATR period that normalises the slope (14).
    pub atr_period: usize,
}

impl Default for TrendConfig {
    fn default() -> Self {
        Self {
            adx_period: 14,
            adx_threshold: 25.0,
            ma_period: 50,
            slope_bars: 5,
            min_slope: 0.05,
            atr_period: 14,
        }
    }
}

/// One trend reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendReading {
    pub state: TrendState,
    pub adx: f64,
    /// EMA slope in ATRs per bar.
    pub slope: f64,
}

/// `Bullish` when ADX ≥ threshold and the EMA rises by at least `min_slope` ATRs per bar over
/// `slope_bars`; `Bearish` when it falls as fast; `Ranging` otherwise.
#[derive(Debug, Clone)]
pub struct TrendDetector {
    config: TrendConfig,
    adx: Adx,
    ma: Ema,
    atr: Atr,
    ma_history: Window,
}

impl TrendDetector {
    pub fn new(config: TrendConfig) -> Result<Self, IndicatorError> {
        if config.slope_bars == 0 {
            return Err(IndicatorError::InvalidParameter {
                indicator: "TREND",
                param: "slope_bars",
                value: "0".into(),
                expected: "at least 1 bar",
            });
        }
        for (param, v) in [
            ("adx_threshold", config.adx_threshold),
            ("min_slope", config.min_slope),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(IndicatorError::InvalidParameter {
                    indicator: "TREND",
                    param,
                    value: v.to_string(),
                    expected: "a finite number that is not negative",
                });
            }
        }
        Ok(Self {
            config,
            adx: Adx::new(config.adx_period)?,
            ma: Ema::new(config.ma_period)?,
            atr: Atr::new(config.atr_period)?,
            ma_history: Window::new(config.slope_bars + 1),
        })
    }
}

impl Indicator for TrendDetector {
    type Input = Bar;
    type Output = TrendReading;

    fn update(&mut self, bar: Bar) -> Option<TrendReading> {
        let adx = self.adx.update(bar);
        let atr = self.atr.update(bar);
        let ma = self.ma.update(bar.close);
        if let Some(ma) = ma {
            self.ma_history.push(ma);
        }
        let (adx, atr, ma) = (adx?, atr?, ma?);
        if !self.ma_history.is_full() {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let bars = self.config.slope_bars as f64;
        let rise = ma - self.ma_history.oldest().unwrap_or(ma);
        let slope = if atr > 0.0 { rise / (bars * atr) } else { 0.0 };
        let trending = adx >= self.config.adx_threshold;
        let state = if trending && slope >= self.config.min_slope {
            TrendState::Bullish
        } else if trending && slope <= -self.config.min_slope {
            TrendState::Bearish
        } else {
            TrendState::Ranging
        };
        Some(TrendReading { state, adx, slope })
    }

    fn peek(&self, bar: Bar) -> Option<TrendReading> {
        self.clone().update(bar)
    }

    fn lookback(&self) -> usize {
        self.adx
            .lookback()
            .max(self.atr.lookback())
            .max(self.ma.lookback() + self.config.slope_bars)
    }

    fn reset(&mut self) {
        self.adx.reset();
        self.ma.reset();
        self.atr.reset();
        self.ma_history.clear();
    }
}
