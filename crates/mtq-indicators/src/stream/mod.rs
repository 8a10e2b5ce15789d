//! Indicators one bar at a time: live trading, and backtests that step bar by bar.
//!
//! Every streaming indicator implements [`Indicator`]: `update` commits a closed bar (or value)
//! and returns the indicator's value at it, `None` while warming up; `peek` evaluates a bar that
//! has not closed yet without changing anything; `warm_up` feeds history; `reset` forgets it all.
//!
//! The standard indicators run on TA-Lib's own streaming handles: the first value arrives at the
//! same bar as the first non-`NaN` of the [`batch`](crate::batch) function, and every value
//! equals the batch value **bit for bit** (checked by property tests over random series).
//!
//! Non-finite inputs (`NaN`, `±inf`) are refused: `update` returns `None` and the state is left
//! as it was, so one bad tick cannot poison every later value. Bars that passed
//! [`Bar::validate`](mtq_core::Bar::validate) are always finite.
//!
//! ```
//! use mtq_indicators::stream::{Ema, Indicator};
//!
//! let mut ema = Ema::new(3)?;
//! assert_eq!(ema.lookback(), 2);
//! assert_eq!(ema.update(1.0), None);
//! assert_eq!(ema.update(2.0), None);
//! assert_eq!(ema.update(3.0), Some(2.0));   // seeded with the SMA of the first 3 values
//! assert_eq!(ema.peek(5.0), Some(3.5));     // a forming bar: nothing is committed...
//! assert_eq!(ema.update(4.0), Some(3.0));   // ...so the next close still starts from 2.0
//! # Ok::<(), mtq_indicators::IndicatorError>(())
//! ```

mod bars;
mod close;
pub(crate) mod engine;

pub use bars::{
    Adx, Atr, Cci, Donchian, HeikinAshi, Keltner, Mfi, MinusDi, Obv, PlusDi, Sar, Stoch,
    SuperTrend, Willr,
};
pub use close::{
    Bbands, Dema, Ema, Kama, LinearregSlope, Macd, Rsi, Sma, Stddev, StochRsi, Tema, Wma, Zlema,
};

/// An indicator fed one input at a time.
pub trait Indicator {
    /// What one step consumes: a closing price (`f64`) or a whole [`Bar`](mtq_core::Bar).
    type Input: Copy;
    /// What one step produces.
    type Output: Copy;

    /// Commits one closed input and returns the value at it, or `None` while warming up (and for
    /// a refused, non-finite input).
    fn update(&mut self, input: Self::Input) -> Option<Self::Output>;

    /// The value `update(input)` would return, without committing anything: for a bar that is
    /// still forming.
    fn peek(&self, input: Self::Input) -> Option<Self::Output>;

    /// How many inputs are consumed before the first value: the first `Some` comes from the
    /// input at index `lookback()`.
    fn lookback(&self) -> usize;

    /// Forgets every input, as if freshly built.
    fn reset(&mut self);

    /// Feeds a history, oldest first, and returns the value at its last input.
    fn warm_up(&mut self, history: &[Self::Input]) -> Option<Self::Output> {
        let mut last = None;
        for x in history {
            last = self.update(*x);
        }
        last
    }
}

/// One MACD step: MACD line, signal line, histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdValue {
    pub macd: f64,
    pub signal: f64,
    pub hist: f64,
}

/// One step of a band indicator (Bollinger, Donchian, Keltner).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandsValue {
    pub upper: f64,
    pub middle: f64,
    pub lower: f64,
}

/// One stochastic step: %K and %D.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochValue {
    pub k: f64,
    pub d: f64,
}

/// One SuperTrend step: the line, and `1` for an uptrend (line below price) or `-1` for a
/// downtrend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuperTrendValue {
    pub line: f64,
    pub direction: i8,
}

/// One Heikin-Ashi candle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeikinAshiCandle {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

/// Implements [`Indicator`] for a newtype over a [`engine::TaStream`].
macro_rules! delegate_indicator {
    ($name:ident, $in:ty, $out:ty) => {
        impl $crate::stream::Indicator for $name {
            type Input = $in;
            type Output = $out;
            #[inline]
            fn update(&mut self, input: $in) -> Option<$out> {
                self.0.update(input)
            }
            #[inline]
            fn peek(&self, input: $in) -> Option<$out> {
                self.0.peek(input)
            }
            fn lookback(&self) -> usize {
                self.0.lookback()
            }
            fn reset(&mut self) {
                self.0.reset();
            }
            fn warm_up(&mut self, history: &[$in]) -> Option<$out> {
                self.0.warm_up(history)
            }
        }
    };
}
pub(crate) use delegate_indicator;

/// Runs an indicator over a whole series: one output per input, `None` where `update` gave none.
pub fn run<I: Indicator>(mut indicator: I, inputs: &[I::Input]) -> Vec<Option<I::Output>> {
    inputs.iter().map(|x| indicator.update(*x)).collect()
}
