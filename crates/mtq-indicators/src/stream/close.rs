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

        period_indicator!($(#[$doc])* $name, $kernel, $lookback, $label, $min);
    };
}

/// The public type of a one-period indicator over `f64` inputs on kernel `$kernel`: `new`
/// (the period checked, TA-Lib's lookback) and [`Indicator`](super::Indicator).
macro_rules! period_indicator {
    ($(#[$doc:meta])* $name:ident, $kernel:ident, $lookback:ident, $label:literal, $min:literal) => {
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

/// The SMA's kernel: opened by TA-Lib, then stepped by [`SmaRing`], a transcription of TA-Lib's
/// own step without the handle's wrappers (strategies step two averages on every bar).
#[derive(Debug, Clone)]
pub(crate) struct SmaK(i32);

impl Kernel for SmaK {
    type In = f64;
    type Out = f64;
    type Handle = SmaRing;
    fn open(&self, history: &[f64]) -> Result<(SmaRing, f64), RetCode> {
        // TA-Lib's open refuses what it refuses and gives the value at the last history bar.
        let (_, out) = CORE.sma_open(history, self.0)?;
        let ring = SmaRing::open(history, self.0).ok_or(RetCode::InternalError)?;
        Ok((ring, out))
    }
    #[inline]
    fn update(handle: &mut SmaRing, input: f64) -> Result<f64, RetCode> {
        handle.update(input)
    }
    #[inline]
    fn peek(handle: &SmaRing, input: f64) -> Result<f64, RetCode> {
        handle.peek(input)
    }
}

/// The live state of a TA-Lib SMA stream (`ta_lib::SmaStream`), kept and stepped here with the
/// same `f64` operations in the same order, so every value is TA-Lib's bit for bit
/// (`sma_ring_steps_as_talib_streams`, in this module's tests, checks it against TA-Lib's own
/// handle). TA-Lib's handle also keeps its last value and an output range on every step; this
/// steps in about 32 instructions instead of 37 (see `docs/benchmarks.md`, "mimalloc, the SMA
/// step and the statistics side by side").
#[derive(Debug, Clone)]
pub(crate) struct SmaRing {
    period: f64,
    /// TA-Lib's `periodTotal`: the sum of the inputs in the window less the oldest.
    total: f64,
    /// The last `period - 1` inputs, oldest at `pos` (one slot, rewritten each step, when the
    /// period is 1: TA-Lib's `ringCap == 0` case).
    ring: Box<[f64]>,
    pos: usize,
    /// TA-Lib's ring capacity, `period - 1`.
    cap: usize,
    /// The index of the last output in TA-Lib's count (`beg_idx + count`), which it refuses to
    /// take past `Core::INDEX_MAX`.
    last: usize,
}

impl SmaRing {
    /// The state TA-Lib's `sma_open` leaves after `history` (its `sma_open_impl` with start 0),
    /// or `None` where TA-Lib's open fails (checked by the caller first).
    fn open(history: &[f64], period: i32) -> Option<Self> {
        let lookback = usize::try_from(period.checked_sub(1)?).ok()?;
        if history.len() <= lookback || history.len() > ta_lib::Core::INDEX_MAX + 1 {
            return None;
        }
        // Add up the first `lookback` inputs, then step once per output: TA-Lib's loops.
        let mut total = 0.0_f64;
        for x in &history[..lookback] {
            total += *x;
        }
        for (trailing, x) in history[lookback..].iter().enumerate() {
            total += *x;
            total -= history[trailing];
        }
        let cap = lookback;
        let mut ring = vec![0.0_f64; cap.max(1)].into_boxed_slice();
        ring[..cap].copy_from_slice(&history[history.len() - cap..]);
        Some(Self {
            period: f64::from(period),
            total,
            ring,
            pos: 0,
            cap,
            // `beg_idx + count - 1`: the history's last index.
            last: history.len() - 1,
        })
    }

    /// TA-Lib's `SmaStream::update`: refuses a non-finite input, and any input once its count
    /// would pass `INDEX_MAX`, without touching the state.
    #[inline]
    fn update(&mut self, x: f64) -> Result<f64, RetCode> {
        if self.last + 1 > ta_lib::Core::INDEX_MAX {
            return Err(RetCode::OutOfRangeEndIndex);
        }
        if !x.is_finite() {
            return Err(RetCode::BadParam);
        }
        let slot = self.ring.get_mut(self.pos).ok_or(RetCode::InternalError)?;
        if self.cap == 0 {
            *slot = x;
        }
        self.total += x;
        let sum = self.total;
        self.total -= *slot;
        *slot = x;
        self.pos += 1;
        if self.pos >= self.cap {
            self.pos = 0;
        }
        self.last += 1;
        Ok(sum / self.period)
    }

    /// TA-Lib's `SmaStream::peek`: the value `update(x)` would give, nothing committed.
    #[inline]
    fn peek(&self, x: f64) -> Result<f64, RetCode> {
        if !x.is_finite() {
            return Err(RetCode::BadParam);
        }
        Ok((self.total + x) / self.period)
    }
}

period_indicator!(
    /// Streaming [`batch::sma`](crate::batch::sma).
    Sma, SmaK, sma_lookback, "SMA", 1
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::stream::Indicator;

    /// A walk around 1.1 with, now and then, a non-finite input (refused by both).
    fn inputs() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec((-1e-3f64..1e-3, 0u8..40), 1..400).prop_map(|steps| {
            let mut x = 1.1;
            steps
                .into_iter()
                .map(|(d, odd)| match odd {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    // Wide values too: the running total's rounding differs from a fresh sum.
                    2 => 1e9 + d,
                    _ => {
                        x += d;
                        x
                    }
                })
                .collect()
        })
    }

    fn bits(r: Result<f64, RetCode>) -> Result<u64, RetCode> {
        r.map(f64::to_bits)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]
        /// Opened on any finite history TA-Lib opens on, then stepped with anything: every
        /// update and peek gives what TA-Lib's own handle gives, bit for bit, refusals alike.
        #[test]
        fn sma_ring_steps_as_talib_streams(
            xs in inputs(),
            period in 1i32..60,
            split in 0usize..200,
        ) {
            let finite: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
            let history = &finite[..split.min(finite.len())];
            let ours = SmaK(period).open(history);
            let theirs = CORE.sma_open(history, period);
            let (mut ring, mut handle) = match (ours, theirs) {
                (Ok((ring, a)), Ok((handle, b))) => {
                    prop_assert_eq!(a.to_bits(), b.to_bits());
                    (ring, handle)
                }
                (Err(a), Err(b)) => {
                    prop_assert_eq!(a, b);
                    return Ok(());
                }
                (a, b) => {
                    return Err(TestCaseError::fail(format!(
                        "open: ours {a:?}, TA-Lib's {b:?}"
                    )));
                }
            };
            for &x in &xs {
                prop_assert_eq!(bits(ring.peek(x)), bits(handle.peek(x)));
                prop_assert_eq!(bits(ring.update(x)), bits(handle.update(x)));
            }
        }

        /// Through the public type: the same values as TA-Lib's batch SMA, warm-up included.
        #[test]
        fn streaming_sma_equals_talib_batch(xs in inputs(), period in 1usize..60) {
            let finite: Vec<f64> = xs.into_iter().filter(|x| x.is_finite()).collect();
            let mut sma = Sma::new(period).unwrap();
            let batch = crate::batch::sma(&finite, period).unwrap();
            for (x, want) in finite.iter().zip(&batch) {
                let got = sma.update(*x);
                prop_assert_eq!(got.map(f64::to_bits), want.is_finite().then(|| want.to_bits()));
            }
        }
    }

    /// TA-Lib's handle refuses an update once its count would pass `INDEX_MAX`; so does the
    /// ring, at the same count.
    #[test]
    fn the_ring_stops_where_talib_stops_counting() {
        let mut ring = SmaRing::open(&[1.0, 2.0, 3.0], 3).unwrap();
        assert_eq!(ring.update(4.0), Ok(3.0));
        ring.last = ta_lib::Core::INDEX_MAX - 1;
        assert_eq!(ring.update(5.0), Ok(4.0));
        assert_eq!(ring.update(6.0), Err(RetCode::OutOfRangeEndIndex));
        assert_eq!(ring.peek(6.0), Ok(5.0));
    }
}
