//! Indicators over a whole series: backtests, optimisation, research.
//!
//! Every function returns output **aligned to its input**: the same length, `NaN` before the
//! indicator's lookback (and wherever TA-Lib itself produces no value), so `out[i]` is the value
//! at bar `i`. Bad parameters (a zero period, a negative multiplier) and input series of
//! different lengths are refused with an [`IndicatorError`](crate::IndicatorError) that names
//! the indicator and the parameter. An empty input gives an empty output.
//!
//! The standard indicators are computed by TA-Lib's official Rust crate (`ta-lib`), which is
//! bit-identical to the C library; this module only checks parameters and aligns the output.
//! The indicators TA-Lib lacks live in [`crate::seeds`] and have batch forms there.
//!
//! ```
//! use mtq_indicators::batch;
//!
//! let close: Vec<f64> = (0..50).map(|i| 1.10 + 0.001 * f64::from(i)).collect();
//! let sma = batch::sma(&close, 10)?;
//! assert_eq!(sma.len(), close.len());
//! assert!(sma[8].is_nan());                        // before the lookback
//! assert!((sma[9] - 1.1045).abs() < 1e-12);        // mean of the first ten closes
//! assert!(batch::sma(&close, 0).is_err());         // a zero period names itself
//! # Ok::<(), mtq_indicators::IndicatorError>(())
//! ```

mod momentum;
mod overlap;
pub(crate) mod run;
mod volatility;

pub use momentum::{adx, cci, macd, mfi, minus_di, obv, plus_di, rsi, stoch, stochrsi, willr};
pub use overlap::{bbands, dema, donchian, ema, kama, keltner, sar, sma, tema, wma, zlema};
pub use volatility::{atr, heikin_ashi, linearreg_slope, stddev, supertrend};

/// MACD line, signal line and histogram, each aligned to the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Macd {
    pub macd: Vec<f64>,
    pub signal: Vec<f64>,
    pub hist: Vec<f64>,
}

/// A band around a middle line: Bollinger, Donchian and Keltner channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Bands {
    pub upper: Vec<f64>,
    pub middle: Vec<f64>,
    pub lower: Vec<f64>,
}

/// Stochastic %K and %D (slow stochastic, or the fast pair of StochRSI).
#[derive(Debug, Clone, PartialEq)]
pub struct Stoch {
    pub k: Vec<f64>,
    pub d: Vec<f64>,
}

/// SuperTrend line and direction. `direction[i]` is `1` while the line rides below price
/// (uptrend), `-1` while it rides above (downtrend) and `0` before the lookback.
#[derive(Debug, Clone, PartialEq)]
pub struct SuperTrend {
    pub line: Vec<f64>,
    pub direction: Vec<i8>,
}

/// Heikin-Ashi candles, one per input bar.
#[derive(Debug, Clone, PartialEq)]
pub struct HeikinAshi {
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
}
