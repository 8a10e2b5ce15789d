//! A liquidity proxy: tick volume and spread against their norms for the same session mix.

use mtq_core::Bar;

use super::session::sessions_at;
use crate::IndicatorError;
use crate::seeds::window::Window;
use crate::stream::Indicator;
use crate::stream::engine::tick_volume;

/// How liquid the market looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Liquidity {
    Thin,
    Normal,
    Deep,
}

/// Parameters of [`LiquidityMonitor`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiquidityConfig {
    /// Past bars of the same session mix that make its norm (50).
    pub samples: usize,
    /// Volume below this fraction of the norm, or spread above `1 / thin` times it, is `Thin` (0.5).
    pub thin: f64,
    /// Volume above this multiple of the norm with a spread at most the norm is `Deep` (1.5).
    pub deep: f64,
}

impl Default for LiquidityConfig {
    fn default() -> Self {
        Self {
            samples: 50,
            thin: 0.5,
            deep: 1.5,
        }
    }
}

/// One liquidity reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiquidityReading {
    /// Tick volume over its session norm (the mean of the last `samples` bars of that mix).
    pub volume_ratio: f64,
    /// Spread over its session norm; 1 when the feed has no spread.
    pub spread_ratio: f64,
    pub level: Liquidity,
}

/// Compares each bar's tick volume and spread with the mean of earlier bars in the same session
/// combination (by [`sessions_at`] on the bar's open time), so that a quiet Asian hour is not
/// called thin merely for not being London.
#[derive(Debug, Clone)]
pub struct LiquidityMonitor {
    config: LiquidityConfig,
    volume: Vec<Window>,
    spread: Vec<Window>,
}

/// Number of session combinations ([`ActiveSessions::key`](super::ActiveSessions::key) is 0..16).
const COMBINATIONS: usize = 16;

impl LiquidityMonitor {
    pub fn new(config: LiquidityConfig) -> Result<Self, IndicatorError> {
        if config.samples == 0 {
            return Err(IndicatorError::InvalidParameter {
                indicator: "LIQUIDITY",
                param: "samples",
                value: "0".into(),
                expected: "at least 1 bar",
            });
        }
        let ordered = config.thin.is_finite()
            && config.deep.is_finite()
            && 0.0 < config.thin
            && config.thin <= 1.0
            && config.deep >= 1.0;
        if !ordered {
            return Err(IndicatorError::InvalidParameter {
                indicator: "LIQUIDITY",
                param: "thin/deep",
                value: format!("{}/{}", config.thin, config.deep),
                expected: "0 < thin <= 1 <= deep",
            });
        }
        Ok(Self {
            config,
            volume: vec![Window::new(config.samples); COMBINATIONS],
            spread: vec![Window::new(config.samples); COMBINATIONS],
        })
    }
}

impl Indicator for LiquidityMonitor {
    type Input = Bar;
    type Output = LiquidityReading;

    fn update(&mut self, bar: Bar) -> Option<LiquidityReading> {
        let key = sessions_at(bar.time).key();
        let (volume, spread) = (&mut self.volume[key], &mut self.spread[key]);
        let reading = volume.is_full().then(|| {
            let v_norm = volume.mean();
            let s_norm = spread.mean();
            let volume_ratio = if v_norm > 0.0 {
                tick_volume(&bar) / v_norm
            } else {
                1.0
            };
            let spread_ratio = if s_norm > 0.0 {
                f64::from(bar.spread) / s_norm
            } else {
                1.0
            };
            let c = &self.config;
            let level = if volume_ratio < c.thin || spread_ratio > 1.0 / c.thin {
                Liquidity::Thin
            } else if volume_ratio > c.deep && spread_ratio <= 1.0 {
                Liquidity::Deep
            } else {
                Liquidity::Normal
            };
            LiquidityReading {
                volume_ratio,
                spread_ratio,
                level,
            }
        });
        volume.push(tick_volume(&bar));
        spread.push(f64::from(bar.spread));
        reading
    }

    fn peek(&self, bar: Bar) -> Option<LiquidityReading> {
        self.clone().update(bar)
    }

    /// Data-dependent: a reading needs `samples` earlier bars of the same session mix.
    fn lookback(&self) -> usize {
        self.config.samples
    }

    fn reset(&mut self) {
        self.volume.iter_mut().for_each(Window::clear);
        self.spread.iter_mut().for_each(Window::clear);
    }
}
