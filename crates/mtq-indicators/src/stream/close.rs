//! Streaming indicators over a single series (closing prices by convention).

use ta_lib::{MAType, RetCode};

use super::engine::{Kernel, TaStream};
use super::{BandsValue, MacdValue, StochValue, delegate_indicator};
use crate::IndicatorError;
use crate::batch::run::{CORE, period, real};

/// A one-period indicator over `f64` inputs on a TA-Lib handle: kernel, public type, `new`.
macro_rules! period_stream {
    ($(#[$doc:meta])* $name:ident, $kernel:ident, $handle:ident, $open:ident, $lookback:ident,
     $label:literal, $min:literal) => {
        #[derive(Debug, Clone)]
        pub(crate) struct $kernel(i32);

        impl Kernel for $kernel {
            type In = f64;
            type Out = f64;
            type Handle = ta_lib::$handle;
            fn open(&self, history: &[f64]) -> Result<(Self::Handle, f64), RetCode> {
                CORE.$open(history, self.0)
            }
            #[inline]
            fn update(handle: &mut Self::Handle, input: f64) -> Result<f64, RetCode> {
                handle.update(input)
            }
            #[inline]
            fn peek(handle: &Self::Handle, input: f64) -> Result<f64, RetCode> {
                handle.peek(input)
            }
        }

        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(TaStream<$kernel>);

        impl $name {
            /// Builds the indicator; refuses a period outside TA-Lib's range.
            pub fn new(period: usize) -> Result<Self, IndicatorError> {
                let p = self::period($label, "period", period, $min)?;
                let lookback = CORE.$lookback(p).map_err(|e| IndicatorError::talib($label, e))?;
                Ok(Self(TaStream::new($kernel(p), lookback)))
            }
        }

        delegate_indicator!($name, f64, f64);
    };
}

period_stream!(
    /// Streaming [`batch::sma`](crate::batch::sma).
    Sma, SmaK, SmaStream, sma_open, sma_lookback, "SMA", 1
);
period_stream!(
    /// Streaming [`batch::ema`](crate::batch::ema).
    Ema, EmaK, EmaStream, ema_open, ema_lookback, "EMA", 1
);
period_stream!(
    /// Streaming [`batch::wma`](crate::batch::wma).
    Wma, WmaK, WmaStream, wma_open, wma_lookback, "WMA", 1
);
period_stream!(
    /// Streaming [`batch::dema`](crate::batch::dema).
    Dema, DemaK, DemaStream, dema_open, dema_lookback, "DEMA", 1
);
period_stream!(
    /// Streaming [`batch::tema`](crate::batch::tema).
    Tema, TemaK, TemaStream, tema_open, tema_lookback, "TEMA", 1
);
period_stream!(
    /// Streaming [`batch::kama`](crate::batch::kama).
    Kama, KamaK, KamaStream, kama_open, kama_lookback, "KAMA", 1
);
period_stream!(
    /// Streaming [`batch::zlema`](crate::batch::zlema), the zero-lag EMA.
    Zlema, ZlemaK, ZlemaStream, zlema_open, zlema_lookback, "ZLEMA", 1
);
period_stream!(
    /// Streaming [`batch::rsi`](crate::batch::rsi).
    Rsi, RsiK, RsiStream, rsi_open, rsi_lookback, "RSI", 2
);
period_stream!(
    /// Streaming [`batch::linearreg_slope`](crate::batch::linearreg_slope).
    LinearregSlope, SlopeK, LinearregSlopeStream, linearreg_slope_open,
    linearreg_slope_lookback, "LINEARREG_SLOPE", 2
);

#[derive(Debug, Clone)]
pub(crate) struct StddevK(i32, f64);

impl Kernel for StddevK {
    type In = f64;
    type Out = f64;
    type Handle = ta_lib::StddevStream;
    fn open(&self, history: &[f64]) -> Result<(Self::Handle, f64), RetCode> {
        CORE.stddev_open(history, self.0, self.1)
    }
    fn update(handle: &mut Self::Handle, input: f64) -> Result<f64, RetCode> {
        handle.update(input)
    }
    fn peek(handle: &Self::Handle, input: f64) -> Result<f64, RetCode> {
        handle.peek(input)
    }
}

/// Streaming [`batch::stddev`](crate::batch::stddev).
#[derive(Debug, Clone)]
pub struct Stddev(TaStream<StddevK>);

impl Stddev {
    pub fn new(period: usize, k: f64) -> Result<Self, IndicatorError> {
        let p = self::period("STDDEV", "period", period, 2)?;
        let k = real("STDDEV", "k", k, 0.0)?;
        let lookback = CORE
            .stddev_lookback(p, k)
            .map_err(|e| IndicatorError::talib("STDDEV", e))?;
        Ok(Self(TaStream::new(StddevK(p, k), lookback)))
    }
}
delegate_indicator!(Stddev, f64, f64);

#[derive(Debug, Clone)]
pub(crate) struct MacdK(i32, i32, i32);

fn macd_value((macd, signal, hist): (f64, f64, f64)) -> MacdValue {
    MacdValue { macd, signal, hist }
}

impl Kernel for MacdK {
    type In = f64;
    type Out = MacdValue;
    type Handle = ta_lib::MacdStream;
    fn open(&self, history: &[f64]) -> Result<(Self::Handle, MacdValue), RetCode> {
        let (h, v) = CORE.macd_open(history, self.0, self.1, self.2)?;
        Ok((h, macd_value(v)))
    }
    fn update(handle: &mut Self::Handle, input: f64) -> Result<MacdValue, RetCode> {
        handle.update(input).map(macd_value)
    }
    fn peek(handle: &Self::Handle, input: f64) -> Result<MacdValue, RetCode> {
        handle.peek(input).map(macd_value)
    }
}

/// Streaming [`batch::macd`](crate::batch::macd).
#[derive(Debug, Clone)]
pub struct Macd(TaStream<MacdK>);

impl Macd {
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        let f = period("MACD", "fast", fast, 2)?;
        let s = period("MACD", "slow", slow, 2)?;
        let g = period("MACD", "signal", signal, 1)?;
        let lookback = CORE
            .macd_lookback(f, s, g)
            .map_err(|e| IndicatorError::talib("MACD", e))?;
        Ok(Self(TaStream::new(MacdK(f, s, g), lookback)))
    }
}
delegate_indicator!(Macd, f64, MacdValue);

#[derive(Debug, Clone)]
pub(crate) struct BbandsK(i32, f64, f64);

fn bands_value((upper, middle, lower): (f64, f64, f64)) -> BandsValue {
    BandsValue {
        upper,
        middle,
        lower,
    }
}

impl Kernel for BbandsK {
    type In = f64;
    type Out = BandsValue;
    type Handle = ta_lib::BbandsStream;
    fn open(&self, history: &[f64]) -> Result<(Self::Handle, BandsValue), RetCode> {
        let (h, v) = CORE.bbands_open(history, self.0, self.1, self.2, MAType::SMA)?;
        Ok((h, bands_value(v)))
    }
    fn update(handle: &mut Self::Handle, input: f64) -> Result<BandsValue, RetCode> {
        handle.update(input).map(bands_value)
    }
    fn peek(handle: &Self::Handle, input: f64) -> Result<BandsValue, RetCode> {
        handle.peek(input).map(bands_value)
    }
}

/// Streaming [`batch::bbands`](crate::batch::bbands).
#[derive(Debug, Clone)]
pub struct Bbands(TaStream<BbandsK>);

impl Bbands {
    pub fn new(period: usize, k_up: f64, k_down: f64) -> Result<Self, IndicatorError> {
        let p = self::period("BBANDS", "period", period, 2)?;
        let up = real("BBANDS", "k_up", k_up, 0.0)?;
        let down = real("BBANDS", "k_down", k_down, 0.0)?;
        let lookback = CORE
            .bbands_lookback(p, up, down, MAType::SMA)
            .map_err(|e| IndicatorError::talib("BBANDS", e))?;
        Ok(Self(TaStream::new(BbandsK(p, up, down), lookback)))
    }
}
delegate_indicator!(Bbands, f64, BandsValue);

#[derive(Debug, Clone)]
pub(crate) struct StochRsiK(i32, i32, i32);

pub(crate) fn stoch_value((k, d): (f64, f64)) -> StochValue {
    StochValue { k, d }
}

impl Kernel for StochRsiK {
    type In = f64;
    type Out = StochValue;
    type Handle = ta_lib::StochrsiStream;
    fn open(&self, history: &[f64]) -> Result<(Self::Handle, StochValue), RetCode> {
        let (h, v) = CORE.stochrsi_open(history, self.0, self.1, self.2, MAType::SMA)?;
        Ok((h, stoch_value(v)))
    }
    fn update(handle: &mut Self::Handle, input: f64) -> Result<StochValue, RetCode> {
        handle.update(input).map(stoch_value)
    }
    fn peek(handle: &Self::Handle, input: f64) -> Result<StochValue, RetCode> {
        handle.peek(input).map(stoch_value)
    }
}

/// Streaming [`batch::stochrsi`](crate::batch::stochrsi).
#[derive(Debug, Clone)]
pub struct StochRsi(TaStream<StochRsiK>);

impl StochRsi {
    pub fn new(period: usize, fastk: usize, fastd: usize) -> Result<Self, IndicatorError> {
        let p = self::period("STOCHRSI", "period", period, 2)?;
        let fk = self::period("STOCHRSI", "fastk", fastk, 1)?;
        let fd = self::period("STOCHRSI", "fastd", fastd, 1)?;
        let lookback = CORE
            .stochrsi_lookback(p, fk, fd, MAType::SMA)
            .map_err(|e| IndicatorError::talib("STOCHRSI", e))?;
        Ok(Self(TaStream::new(StochRsiK(p, fk, fd), lookback)))
    }
}
delegate_indicator!(StochRsi, f64, StochValue);
