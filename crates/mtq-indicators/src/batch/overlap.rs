//! Moving averages and bands (TA-Lib's "overlap studies").

use ta_lib::MAType;

use super::Bands;
use super::run::{CORE, aligned, period, real, same_len};
use crate::IndicatorError;

macro_rules! ma_fn {
    ($(#[$doc:meta])* $name:ident, $talib:ident, $lookback:ident, $label:literal, $min:literal) => {
        $(#[$doc])*
        pub fn $name(close: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
            let p = self::period($label, "period", period, $min)?;
            let [out] = aligned($label, close.len(), CORE.$lookback(p), |end, [o]| {
                CORE.$talib(0, end, close, p, o)
            })?;
            Ok(out)
        }
    };
}

ma_fn!(
    /// Simple moving average (TA-Lib `SMA`).
    sma, sma, sma_lookback, "SMA", 1
);
ma_fn!(
    /// Exponential moving average, `k = 2 / (period + 1)`, seeded with the SMA of the first
    /// `period` values (TA-Lib `EMA`).
    ema, ema, ema_lookback, "EMA", 1
);
ma_fn!(
    /// Linearly weighted moving average (TA-Lib `WMA`).
    wma, wma, wma_lookback, "WMA", 1
);
ma_fn!(
    /// Double exponential moving average, `2·EMA − EMA(EMA)` (TA-Lib `DEMA`).
    dema, dema, dema_lookback, "DEMA", 1
);
ma_fn!(
    /// Triple exponential moving average (TA-Lib `TEMA`).
    tema, tema, tema_lookback, "TEMA", 1
);
ma_fn!(
    /// Kaufman adaptive moving average (TA-Lib `KAMA`, fast 2 / slow 30 as in TA-Lib).
    kama, kama, kama_lookback, "KAMA", 1
);
ma_fn!(
    /// Zero-lag EMA (TA-Lib `ZLEMA`): an EMA of the de-lagged series
    /// `x[t] + (x[t] − x[t − L])` with `L = (period − 1) / 2`. See [`crate::seeds`] for the formula
    /// and its source.
    zlema, zlema, zlema_lookback, "ZLEMA", 1
);

/// Bollinger Bands: an SMA of `period` closes ± `k_up` / `k_down` population standard deviations
/// (TA-Lib `BBANDS` with `MAType::SMA`).
pub fn bbands(
    close: &[f64],
    period: usize,
    k_up: f64,
    k_down: f64,
) -> Result<Bands, IndicatorError> {
    const NAME: &str = "BBANDS";
    let p = self::period(NAME, "period", period, 2)?;
    let up = real(NAME, "k_up", k_up, 0.0)?;
    let down = real(NAME, "k_down", k_down, 0.0)?;
    let lb = CORE.bbands_lookback(p, up, down, MAType::SMA);
    let [upper, middle, lower] = aligned(NAME, close.len(), lb, |end, [u, m, l]| {
        CORE.bbands(0, end, close, p, up, down, MAType::SMA, u, m, l)
    })?;
    Ok(Bands {
        upper,
        middle,
        lower,
    })
}

/// Donchian channel: highest high and lowest low of the last `period` bars, and their midpoint
/// (TA-Lib `DONCHIAN`).
pub fn donchian(high: &[f64], low: &[f64], period: usize) -> Result<Bands, IndicatorError> {
    const NAME: &str = "DONCHIAN";
    let p = self::period(NAME, "period", period, 2)?;
    let n = same_len(NAME, &[("high", high), ("low", low)])?;
    let [upper, middle, lower] = aligned(NAME, n, CORE.donchian_lookback(p), |end, [u, m, l]| {
        CORE.donchian(0, end, high, low, p, u, m, l)
    })?;
    Ok(Bands {
        upper,
        middle,
        lower,
    })
}

/// Keltner channel: an EMA of `period` closes ± `multiplier` × ATR(`atr_period`)
/// (TA-Lib `KC`).
pub fn keltner(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    atr_period: usize,
    multiplier: f64,
) -> Result<Bands, IndicatorError> {
    const NAME: &str = "KC";
    let p = self::period(NAME, "period", period, 2)?;
    let ap = self::period(NAME, "atr_period", atr_period, 1)?;
    let m = real(NAME, "multiplier", multiplier, 0.0)?;
    let n = same_len(NAME, &[("high", high), ("low", low), ("close", close)])?;
    let lb = CORE.kc_lookback(p, ap, m);
    let [upper, middle, lower] = aligned(NAME, n, lb, |end, [u, mid, l]| {
        CORE.kc(0, end, high, low, close, p, ap, m, u, mid, l)
    })?;
    Ok(Bands {
        upper,
        middle,
        lower,
    })
}

/// Parabolic SAR (TA-Lib `SAR`): `acceleration` is the step (0.02 classically) and `maximum` its
/// cap (0.2).
pub fn sar(
    high: &[f64],
    low: &[f64],
    acceleration: f64,
    maximum: f64,
) -> Result<Vec<f64>, IndicatorError> {
    const NAME: &str = "SAR";
    let a = real(NAME, "acceleration", acceleration, 0.0)?;
    let m = real(NAME, "maximum", maximum, 0.0)?;
    let n = same_len(NAME, &[("high", high), ("low", low)])?;
    let [out] = aligned(NAME, n, CORE.sar_lookback(a, m), |end, [o]| {
        CORE.sar(0, end, high, low, a, m, o)
    })?;
    Ok(out)
}
