//! The momentum bias index (AlgoAlpha, TradingView, 2024).

use mtq_core::Bar;

use super::Direction;
use super::window::{Hull, PineEma, Window, isqrt};
use crate::IndicatorError;
use crate::stream::Indicator;

/// Parameters of [`MomentumBiasIndex`]; the defaults are the published script's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MomentumBiasConfig {
    /// Momentum is `close − close[momentum]`, normalised by an EMA of the range over as many bars (10).
    pub momentum: usize,
    /// Bars summed into each side's bias (5).
    pub bias: usize,
    /// Hull smoothing length of each side's bias (10).
    pub smooth: usize,
    /// Length of the impulse boundary's EMA and standard deviation (30).
    pub boundary: usize,
    /// Standard deviations above the EMA for the impulse boundary (3).
    pub boundary_k: f64,
}

impl Default for MomentumBiasConfig {
    fn default() -> Self {
        Self {
            momentum: 10,
            bias: 5,
            smooth: 10,
            boundary: 30,
            boundary_k: 3.0,
        }
    }
}

/// One step of the momentum bias index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MomentumBiasValue {
    /// Strength of upward momentum, ≥ 0.
    pub up: f64,
    /// Strength of downward momentum, ≥ 0.
    pub down: f64,
    /// Impulse boundary: a side above it is an unusually strong push.
    pub boundary: f64,
}

impl MomentumBiasValue {
    /// The side whose momentum dominates, `None` when they are equal.
    pub fn bias(&self) -> Option<Direction> {
        if self.up > self.down {
            Some(Direction::Bullish)
        } else if self.down > self.up {
            Some(Direction::Bearish)
        } else {
            None
        }
    }
}

/// Momentum bias index over bars. See [the module docs](crate::seeds) for the formula.
#[derive(Debug, Clone)]
pub struct MomentumBiasIndex {
    config: MomentumBiasConfig,
    closes: Window,
    range_ema: PineEma,
    ups: Window,
    downs: Window,
    up_hull: Hull,
    down_hull: Hull,
    boundary_ema: PineEma,
    boundary_sd: Window,
}

impl MomentumBiasIndex {
    pub fn new(config: MomentumBiasConfig) -> Result<Self, IndicatorError> {
        let bad = |param, value: String, expected| IndicatorError::InvalidParameter {
            indicator: "MBI",
            param,
            value,
            expected,
        };
        let lengths = [
            ("momentum", config.momentum),
            ("bias", config.bias),
            ("smooth", config.smooth),
            ("boundary", config.boundary),
        ];
        for (param, v) in lengths {
            if v == 0 {
                return Err(bad(param, v.to_string(), "a length of at least 1"));
            }
        }
        if !config.boundary_k.is_finite() || config.boundary_k < 0.0 {
            return Err(bad(
                "boundary_k",
                config.boundary_k.to_string(),
                "a finite number that is not negative",
            ));
        }
        Ok(Self {
            config,
            closes: Window::new(config.momentum + 1),
            range_ema: PineEma::new(config.momentum),
            ups: Window::new(config.bias),
            downs: Window::new(config.bias),
            up_hull: Hull::new(config.smooth),
            down_hull: Hull::new(config.smooth),
            boundary_ema: PineEma::new(config.boundary),
            boundary_sd: Window::new(config.boundary),
        })
    }
}

impl Indicator for MomentumBiasIndex {
    type Input = Bar;
    type Output = MomentumBiasValue;

    fn update(&mut self, bar: Bar) -> Option<MomentumBiasValue> {
        if !(bar.close.is_finite() && bar.high.is_finite() && bar.low.is_finite()) {
            return None;
        }
        self.closes.push(bar.close);
        let range = self.range_ema.update(bar.high - bar.low);
        if !self.closes.is_full() {
            return None;
        }
        let momentum = bar.close - self.closes.oldest().unwrap_or(bar.close);
        let normalised = if range > 0.0 {
            momentum / range * 100.0
        } else {
            0.0
        };
        self.ups.push(normalised.max(0.0));
        self.downs.push(normalised.min(0.0));
        if !self.ups.is_full() {
            return None;
        }
        let up = self.up_hull.update(self.ups.sum());
        let down = self.down_hull.update(-self.downs.sum());
        let (Some(up), Some(down)) = (up, down) else {
            return None;
        };
        let (up, down) = (up.max(0.0), down.max(0.0));
        let average = (up + down) / 2.0;
        let ema = self.boundary_ema.update(average);
        self.boundary_sd.push(average);
        if !self.boundary_sd.is_full() {
            return None;
        }
        Some(MomentumBiasValue {
            up,
            down,
            boundary: ema + self.config.boundary_k * self.boundary_sd.pstdev(),
        })
    }

    fn peek(&self, bar: Bar) -> Option<MomentumBiasValue> {
        self.clone().update(bar)
    }

    fn lookback(&self) -> usize {
        let c = &self.config;
        c.momentum + (c.bias - 1) + (c.smooth - 1) + (isqrt(c.smooth).max(1) - 1) + (c.boundary - 1)
    }

    fn reset(&mut self) {
        self.closes.clear();
        self.range_ema.clear();
        self.ups.clear();
        self.downs.clear();
        self.up_hull.clear();
        self.down_hull.clear();
        self.boundary_ema.clear();
        self.boundary_sd.clear();
    }
}
