//! Streaming indicators over whole bars (high, low, close, tick volume).

use mtq_core::Bar;
use ta_lib::{MAType, RetCode};

use super::close::stoch_value as to_stoch_value;
use super::engine::{Columns, Kernel, TaStream, tick_volume};
use super::{BandsValue, HeikinAshiCandle, StochValue, SuperTrendValue, delegate_indicator};
use crate::IndicatorError;
use crate::batch::run::{CORE, period, real};

/// A one-period high/low/close indicator on a TA-Lib handle: kernel, public type, `new`.
macro_rules! hlc_stream {
    ($(#[$doc:meta])* $name:ident, $kernel:ident, $handle:ident, $open:ident, $lookback:ident,
     $label:literal, $min:literal) => {
        #[derive(Debug, Clone)]
        pub(crate) struct $kernel(i32);

        impl Kernel for $kernel {
            type In = Bar;
            type Out = f64;
            type Handle = ta_lib::$handle;
            fn open(&self, history: &[Bar]) -> Result<(Self::Handle, f64), RetCode> {
                let c = Columns::of(history);
                CORE.$open(&c.high, &c.low, &c.close, self.0)
            }
            #[inline]
            fn update(handle: &mut Self::Handle, b: Bar) -> Result<f64, RetCode> {
                handle.update(b.high, b.low, b.close)
            }
            #[inline]
            fn peek(handle: &Self::Handle, b: Bar) -> Result<f64, RetCode> {
                handle.peek(b.high, b.low, b.close)
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

        delegate_indicator!($name, Bar, f64);
    };
}

hlc_stream!(
    /// Streaming [`batch::atr`](crate::batch::atr).
    Atr, AtrK, AtrStream, atr_open, atr_lookback, "ATR", 1
);
hlc_stream!(
    /// Streaming [`batch::adx`](crate::batch::adx).
    Adx, AdxK, AdxStream, adx_open, adx_lookback, "ADX", 2
);
hlc_stream!(
    /// Streaming [`batch::plus_di`](crate::batch::plus_di).
    PlusDi, PlusDiK, PlusDiStream, plus_di_open, plus_di_lookback, "PLUS_DI", 1
);
hlc_stream!(
    /// Streaming [`batch::minus_di`](crate::batch::minus_di).
    MinusDi, MinusDiK, MinusDiStream, minus_di_open, minus_di_lookback, "MINUS_DI", 1
);
hlc_stream!(
    /// Streaming [`batch::cci`](crate::batch::cci).
    Cci, CciK, CciStream, cci_open, cci_lookback, "CCI", 2
);
hlc_stream!(
    /// Streaming [`batch::willr`](crate::batch::willr).
    Willr, WillrK, WillrStream, willr_open, willr_lookback, "WILLR", 2
);

#[derive(Debug, Clone)]
pub(crate) struct MfiK(i32);

impl Kernel for MfiK {
    type In = Bar;
    type Out = f64;
    type Handle = ta_lib::MfiStream;
    fn open(&self, history: &[Bar]) -> Result<(Self::Handle, f64), RetCode> {
        let c = Columns::of(history);
        CORE.mfi_open(&c.high, &c.low, &c.close, &c.volume, self.0)
    }
    fn update(handle: &mut Self::Handle, b: Bar) -> Result<f64, RetCode> {
        handle.update(b.high, b.low, b.close, tick_volume(&b))
    }
    fn peek(handle: &Self::Handle, b: Bar) -> Result<f64, RetCode> {
        handle.peek(b.high, b.low, b.close, tick_volume(&b))
    }
}

/// Streaming [`batch::mfi`](crate::batch::mfi) on the bars' tick volume.
#[derive(Debug, Clone)]
pub struct Mfi(TaStream<MfiK>);

impl Mfi {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let p = self::period("MFI", "period", period, 2)?;
        let lookback = CORE
            .mfi_lookback(p)
            .map_err(|e| IndicatorError::talib("MFI", e))?;
        Ok(Self(TaStream::new(MfiK(p), lookback)))
    }
}
delegate_indicator!(Mfi, Bar, f64);

#[derive(Debug, Clone)]
pub(crate) struct ObvK;

impl Kernel for ObvK {
    type In = Bar;
    type Out = f64;
    type Handle = ta_lib::ObvStream;
    fn open(&self, history: &[Bar]) -> Result<(Self::Handle, f64), RetCode> {
        let c = Columns::of(history);
        CORE.obv_open(&c.close, &c.volume)
    }
    fn update(handle: &mut Self::Handle, b: Bar) -> Result<f64, RetCode> {
        handle.update(b.close, tick_volume(&b))
    }
    fn peek(handle: &Self::Handle, b: Bar) -> Result<f64, RetCode> {
        handle.peek(b.close, tick_volume(&b))
    }
}

/// Streaming [`batch::obv`](crate::batch::obv) on the bars' tick volume.
#[derive(Debug, Clone)]
pub struct Obv(TaStream<ObvK>);

impl Obv {
    pub fn new() -> Self {
        Self(TaStream::new(ObvK, 0))
    }
}

impl Default for Obv {
    fn default() -> Self {
        Self::new()
    }
}
delegate_indicator!(Obv, Bar, f64);

#[derive(Debug, Clone)]
pub(crate) struct SarK(f64, f64);

impl Kernel for SarK {
    type In = Bar;
    type Out = f64;
    type Handle = ta_lib::SarStream;
    fn open(&self, history: &[Bar]) -> Result<(Self::Handle, f64), RetCode> {
        let c = Columns::of(history);
        CORE.sar_open(&c.high, &c.low, self.0, self.1)
    }
    fn update(handle: &mut Self::Handle, b: Bar) -> Result<f64, RetCode> {
        handle.update(b.high, b.low)
    }
    fn peek(handle: &Self::Handle, b: Bar) -> Result<f64, RetCode> {
        handle.peek(b.high, b.low)
    }
}

/// Streaming [`batch::sar`](crate::batch::sar).
#[derive(Debug, Clone)]
pub struct Sar(TaStream<SarK>);

impl Sar {
    pub fn new(acceleration: f64, maximum: f64) -> Result<Self, IndicatorError> {
        let a = real("SAR", "acceleration", acceleration, 0.0)?;
        let m = real("SAR", "maximum", maximum, 0.0)?;
        let lookback = CORE
            .sar_lookback(a, m)
            .map_err(|e| IndicatorError::talib("SAR", e))?;
        Ok(Self(TaStream::new(SarK(a, m), lookback)))
    }
}
delegate_indicator!(Sar, Bar, f64);

fn bands_value((upper, middle, lower): (f64, f64, f64)) -> BandsValue {
    BandsValue {
        upper,
        middle,
        lower,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct DonchianK(i32);

impl Kernel for DonchianK {
    type In = Bar;
    type Out = BandsValue;
    type Handle = ta_lib::DonchianStream;
    fn open(&self, history: &[Bar]) -> Result<(Self::Handle, BandsValue), RetCode> {
        let c = Columns::of(history);
        let (h, v) = CORE.donchian_open(&c.high, &c.low, self.0)?;
        Ok((h, bands_value(v)))
    }
    fn update(handle: &mut Self::Handle, b: Bar) -> Result<BandsValue, RetCode> {
        handle.update(b.high, b.low).map(bands_value)
    }
    fn peek(handle: &Self::Handle, b: Bar) -> Result<BandsValue, RetCode> {
        handle.peek(b.high, b.low).map(bands_value)
    }
}

/// Streaming [`batch::donchian`](crate::batch::donchian).
#[derive(Debug, Clone)]
pub struct Donchian(TaStream<DonchianK>);

impl Donchian {
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let p = self::period("DONCHIAN", "period", period, 2)?;
        let lookback = CORE
            .donchian_lookback(p)
            .map_err(|e| IndicatorError::talib("DONCHIAN", e))?;
        Ok(Self(TaStream::new(DonchianK(p), lookback)))
    }
}
delegate_indicator!(Donchian, Bar, BandsValue);

#[derive(Debug, Clone)]
pub(crate) struct KeltnerK(i32, i32, f64);

impl Kernel for KeltnerK {
    type In = Bar;
    type Out = BandsValue;
    type Handle = ta_lib::KcStream;
    fn open(&self, history: &[Bar]) -> Result<(Self::Handle, BandsValue), RetCode> {
        let c = Columns::of(history);
        let (h, v) = CORE.kc_open(&c.high, &c.low, &c.close, self.0, self.1, self.2)?;
        Ok((h, bands_value(v)))
    }
    fn update(handle: &mut Self::Handle, b: Bar) -> Result<BandsValue, RetCode> {
        handle.update(b.high, b.low, b.close).map(bands_value)
    }
    fn peek(handle: &Self::Handle, b: Bar) -> Result<BandsValue, RetCode> {
        handle.peek(b.high, b.low, b.close).map(bands_value)
    }
}

/// Streaming [`batch::keltner`](crate::batch::keltner).
#[derive(Debug, Clone)]
pub struct Keltner(TaStream<KeltnerK>);

impl Keltner {
    pub fn new(period: usize, atr_period: usize, multiplier: f64) -> Result<Self, IndicatorError> {
        let p = self::period("KC", "period", period, 2)?;
        let ap = self::period("KC", "atr_period", atr_period, 1)?;
        let m = real("KC", "multiplier", multiplier, 0.0)?;
        let lookback = CORE
            .kc_lookback(p, ap, m)
            .map_err(|e| IndicatorError::talib("KC", e))?;
        Ok(Self(TaStream::new(KeltnerK(p, ap, m), lookback)))
    }
}
delegate_indicator!(Keltner, Bar, BandsValue);

#[derive(Debug, Clone)]
pub(crate) struct StochK(i32, i32, i32);

impl Kernel for StochK {
    type In = Bar;
    type Out = StochValue;
    type Handle = ta_lib::StochStream;
    fn open(&self, history: &[Bar]) -> Result<(Self::Handle, StochValue), RetCode> {
        let c = Columns::of(history);
        let (h, v) = CORE.stoch_open(
            &c.high,
            &c.low,
            &c.close,
            self.0,
            self.1,
            MAType::SMA,
            self.2,
            MAType::SMA,
        )?;
        Ok((h, to_stoch_value(v)))
    }
    fn update(handle: &mut Self::Handle, b: Bar) -> Result<StochValue, RetCode> {
        handle.update(b.high, b.low, b.close).map(to_stoch_value)
    }
    fn peek(handle: &Self::Handle, b: Bar) -> Result<StochValue, RetCode> {
        handle.peek(b.high, b.low, b.close).map(to_stoch_value)
    }
}

/// Streaming [`batch::stoch`](crate::batch::stoch).
#[derive(Debug, Clone)]
pub struct Stoch(TaStream<StochK>);

impl Stoch {
    pub fn new(fastk: usize, slowk: usize, slowd: usize) -> Result<Self, IndicatorError> {
        let fk = period("STOCH", "fastk", fastk, 1)?;
        let sk = period("STOCH", "slowk", slowk, 1)?;
        let sd = period("STOCH", "slowd", slowd, 1)?;
        let lookback = CORE
            .stoch_lookback(fk, sk, MAType::SMA, sd, MAType::SMA)
            .map_err(|e| IndicatorError::talib("STOCH", e))?;
        Ok(Self(TaStream::new(StochK(fk, sk, sd), lookback)))
    }
}
delegate_indicator!(Stoch, Bar, StochValue);

#[derive(Debug, Clone)]
pub(crate) struct SuperTrendK(i32, f64);

fn supertrend_value((line, trend): (f64, i32)) -> SuperTrendValue {
    SuperTrendValue {
        line,
        direction: i8::try_from(trend.signum()).unwrap_or(0),
    }
}

impl Kernel for SuperTrendK {
    type In = Bar;
    type Out = SuperTrendValue;
    type Handle = ta_lib::SupertrendStream;
    fn open(&self, history: &[Bar]) -> Result<(Self::Handle, SuperTrendValue), RetCode> {
        let c = Columns::of(history);
        let (h, v) = CORE.supertrend_open(&c.high, &c.low, &c.close, self.0, self.1)?;
        Ok((h, supertrend_value(v)))
    }
    fn update(handle: &mut Self::Handle, b: Bar) -> Result<SuperTrendValue, RetCode> {
        handle.update(b.high, b.low, b.close).map(supertrend_value)
    }
    fn peek(handle: &Self::Handle, b: Bar) -> Result<SuperTrendValue, RetCode> {
        handle.peek(b.high, b.low, b.close).map(supertrend_value)
    }
}

/// Streaming [`batch::supertrend`](crate::batch::supertrend).
#[derive(Debug, Clone)]
pub struct SuperTrend(TaStream<SuperTrendK>);

impl SuperTrend {
    pub fn new(period: usize, multiplier: f64) -> Result<Self, IndicatorError> {
        let p = self::period("SUPERTREND", "period", period, 2)?;
        let m = real("SUPERTREND", "multiplier", multiplier, 0.0)?;
        let lookback = CORE
            .supertrend_lookback(p, m)
            .map_err(|e| IndicatorError::talib("SUPERTREND", e))?;
        Ok(Self(TaStream::new(SuperTrendK(p, m), lookback)))
    }
}
delegate_indicator!(SuperTrend, Bar, SuperTrendValue);

#[derive(Debug, Clone)]
pub(crate) struct HeikinAshiK;

fn candle((open, high, low, close): (f64, f64, f64, f64)) -> HeikinAshiCandle {
    HeikinAshiCandle {
        open,
        high,
        low,
        close,
    }
}

impl Kernel for HeikinAshiK {
    type In = Bar;
    type Out = HeikinAshiCandle;
    type Handle = ta_lib::HaStream;
    fn open(&self, history: &[Bar]) -> Result<(Self::Handle, HeikinAshiCandle), RetCode> {
        let c = Columns::of(history);
        let (h, v) = CORE.ha_open(&c.open, &c.high, &c.low, &c.close)?;
        Ok((h, candle(v)))
    }
    fn update(handle: &mut Self::Handle, b: Bar) -> Result<HeikinAshiCandle, RetCode> {
        handle.update(b.open, b.high, b.low, b.close).map(candle)
    }
    fn peek(handle: &Self::Handle, b: Bar) -> Result<HeikinAshiCandle, RetCode> {
        handle.peek(b.open, b.high, b.low, b.close).map(candle)
    }
}

/// Streaming [`batch::heikin_ashi`](crate::batch::heikin_ashi).
#[derive(Debug, Clone)]
pub struct HeikinAshi(TaStream<HeikinAshiK>);

impl HeikinAshi {
    pub fn new() -> Self {
        Self(TaStream::new(HeikinAshiK, 0))
    }
}

impl Default for HeikinAshi {
    fn default() -> Self {
        Self::new()
    }
}
delegate_indicator!(HeikinAshi, Bar, HeikinAshiCandle);
