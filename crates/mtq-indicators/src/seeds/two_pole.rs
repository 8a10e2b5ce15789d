//! The two-pole oscillator (BigBeluga, TradingView, 2024).

use super::Direction;
use super::window::Window;
use crate::IndicatorError;
use crate::stream::Indicator;

/// Parameters of [`TwoPoleOscillator`]; the defaults are the published script's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoPoleConfig {
    /// Length of the SMA the close deviates from, and of the normalisation window (25).
    pub length: usize,
    /// Length of the two-pole filter, `alpha = 2 / (filter + 1)` (20).
    pub filter: usize,
    /// The signal line is the oscillator `signal_lag` bars ago (4).
    pub signal_lag: usize,
}

impl Default for TwoPoleConfig {
    fn default() -> Self {
        Self {
            length: 25,
            filter: 20,
            signal_lag: 4,
        }
    }
}

/// One step of the two-pole oscillator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoPoleValue {
    /// The filtered oscillator, around zero (roughly within ±1.5).
    pub value: f64,
    /// The oscillator `signal_lag` bars ago.
    pub signal: f64,
    /// `Bullish` when the oscillator crossed above its signal below zero on this bar, `Bearish`
    /// when it crossed below above zero: the published script's buy and sell signals.
    pub cross: Option<Direction>,
}

/// Two-pole oscillator over closing prices. See [the module docs](crate::seeds) for the formula.
#[derive(Debug, Clone)]
pub struct TwoPoleOscillator {
    config: TwoPoleConfig,
    alpha: f64,
    closes: Window,
    deviations: Window,
    smooth: Option<(f64, f64)>,
    history: Window,
    previous: Option<(f64, f64)>,
}

impl TwoPoleOscillator {
    pub fn new(config: TwoPoleConfig) -> Result<Self, IndicatorError> {
        let bad = |param, value: usize| IndicatorError::InvalidParameter {
            indicator: "TWO_POLE",
            param,
            value: value.to_string(),
            expected: "a length of at least 2",
        };
        if config.length < 2 {
            return Err(bad("length", config.length));
        }
        if config.filter < 1 {
            return Err(bad("filter", config.filter));
        }
        #[allow(clippy::cast_precision_loss)]
        let alpha = 2.0 / (config.filter as f64 + 1.0);
        Ok(Self {
            config,
            alpha,
            closes: Window::new(config.length),
            deviations: Window::new(config.length),
            smooth: None,
            history: Window::new(config.signal_lag + 1),
            previous: None,
        })
    }
}

impl Indicator for TwoPoleOscillator {
    type Input = f64;
    type Output = TwoPoleValue;

    fn update(&mut self, close: f64) -> Option<TwoPoleValue> {
        if !close.is_finite() {
            return None;
        }
        self.closes.push(close);
        if !self.closes.is_full() {
            return None;
        }
        let d = close - self.closes.mean();
        self.deviations.push(d);
        if !self.deviations.is_full() {
            return None;
        }
        let sd = self.deviations.pstdev();
        let osc = if sd > 0.0 {
            (d - self.deviations.mean()) / sd
        } else {
            0.0
        };
        let a = self.alpha;
        let (s1, s2) = match self.smooth {
            None => (osc, osc),
            Some((s1, s2)) => {
                let s1 = (1.0 - a) * s1 + a * osc;
                (s1, (1.0 - a) * s2 + a * s1)
            }
        };
        self.smooth = Some((s1, s2));
        self.history.push(s2);
        if !self.history.is_full() {
            return None;
        }
        let signal = self.history.oldest().unwrap_or(s2);
        let cross = match self.previous {
            Some((pv, ps)) if pv <= ps && s2 > signal && s2 < 0.0 => Some(Direction::Bullish),
            Some((pv, ps)) if pv >= ps && s2 < signal && s2 > 0.0 => Some(Direction::Bearish),
            _ => None,
        };
        self.previous = Some((s2, signal));
        Some(TwoPoleValue {
            value: s2,
            signal,
            cross,
        })
    }

    fn peek(&self, close: f64) -> Option<TwoPoleValue> {
        self.clone().update(close)
    }

    fn lookback(&self) -> usize {
        2 * (self.config.length - 1) + self.config.signal_lag
    }

    fn reset(&mut self) {
        self.closes.clear();
        self.deviations.clear();
        self.history.clear();
        self.smooth = None;
        self.previous = None;
    }
}
