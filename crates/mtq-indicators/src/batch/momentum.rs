//! Oscillators, directional movement and volume indicators.

use ta_lib::MAType;

use super::run::{CORE, aligned, period, same_len};
use super::{Macd, Stoch};
use crate::IndicatorError;

/// Relative strength index with Wilder's smoothing (TA-Lib `RSI`).
pub fn rsi(close: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    let p = self::period("RSI", "period", period, 2)?;
    let [out] = aligned("RSI", close.len(), CORE.rsi_lookback(p), |end, [o]| {
        CORE.rsi(0, end, close, p, o)
    })?;
    Ok(out)
}

/// MACD: `EMA(fast) − EMA(slow)`, its EMA(`signal`) and their difference (TA-Lib `MACD`).
pub fn macd(
    close: &[f64],
    fast: usize,
    slow: usize,
    signal: usize,
) -> Result<Macd, IndicatorError> {
    const NAME: &str = "MACD";
    let f = period(NAME, "fast", fast, 2)?;
    let s = period(NAME, "slow", slow, 2)?;
    let g = period(NAME, "signal", signal, 1)?;
    let [macd, signal, hist] = aligned(
        NAME,
        close.len(),
        CORE.macd_lookback(f, s, g),
        |end, [m, sg, h]| CORE.macd(0, end, close, f, s, g, m, sg, h),
    )?;
    Ok(Macd { macd, signal, hist })
}

/// Slow stochastic (TA-Lib `STOCH` with SMA smoothing): raw %K over `fastk` bars, smoothed over
/// `slowk` bars into %K, and %D the SMA of %K over `slowd` bars.
pub fn stoch(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    fastk: usize,
    slowk: usize,
    slowd: usize,
) -> Result<Stoch, IndicatorError> {
    const NAME: &str = "STOCH";
    let fk = period(NAME, "fastk", fastk, 1)?;
    let sk = period(NAME, "slowk", slowk, 1)?;
    let sd = period(NAME, "slowd", slowd, 1)?;
    let n = same_len(NAME, &[("high", high), ("low", low), ("close", close)])?;
    let lb = CORE.stoch_lookback(fk, sk, MAType::SMA, sd, MAType::SMA);
    let [k, d] = aligned(NAME, n, lb, |end, [k, d]| {
        CORE.stoch(
            0,
            end,
            high,
            low,
            close,
            fk,
            sk,
            MAType::SMA,
            sd,
            MAType::SMA,
            k,
            d,
        )
    })?;
    Ok(Stoch { k, d })
}

/// Stochastic RSI (TA-Lib `STOCHRSI`): the fast stochastic (%K over `fastk` bars, %D an SMA over
/// `fastd` bars) of RSI(`period`).
pub fn stochrsi(
    close: &[f64],
    period: usize,
    fastk: usize,
    fastd: usize,
) -> Result<Stoch, IndicatorError> {
    const NAME: &str = "STOCHRSI";
    let p = self::period(NAME, "period", period, 2)?;
    let fk = self::period(NAME, "fastk", fastk, 1)?;
    let fd = self::period(NAME, "fastd", fastd, 1)?;
    let lb = CORE.stochrsi_lookback(p, fk, fd, MAType::SMA);
    let [k, d] = aligned(NAME, close.len(), lb, |end, [k, d]| {
        CORE.stochrsi(0, end, close, p, fk, fd, MAType::SMA, k, d)
    })?;
    Ok(Stoch { k, d })
}

macro_rules! hlc_fn {
    ($(#[$doc:meta])* $name:ident, $lookback:ident, $label:literal, $min:literal) => {
        $(#[$doc])*
        pub fn $name(
            high: &[f64],
            low: &[f64],
            close: &[f64],
            period: usize,
        ) -> Result<Vec<f64>, IndicatorError> {
            let p = self::period($label, "period", period, $min)?;
            let n = same_len($label, &[("high", high), ("low", low), ("close", close)])?;
            let [out] = aligned($label, n, CORE.$lookback(p), |end, [o]| {
                CORE.$name(0, end, high, low, close, p, o)
            })?;
            Ok(out)
        }
    };
}

hlc_fn!(
    /// Average directional index, Wilder (TA-Lib `ADX`).
    adx, adx_lookback, "ADX", 2
);
hlc_fn!(
    /// Plus directional indicator +DI, Wilder (TA-Lib `PLUS_DI`).
    plus_di, plus_di_lookback, "PLUS_DI", 1
);
hlc_fn!(
    /// Minus directional indicator −DI, Wilder (TA-Lib `MINUS_DI`).
    minus_di, minus_di_lookback, "MINUS_DI", 1
);
hlc_fn!(
    /// Commodity channel index (TA-Lib `CCI`).
    cci, cci_lookback, "CCI", 2
);
hlc_fn!(
    /// Williams %R, from −100 to 0 (TA-Lib `WILLR`).
    willr, willr_lookback, "WILLR", 2
);

/// Money flow index (TA-Lib `MFI`). For forex pass tick volume.
pub fn mfi(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    volume: &[f64],
    period: usize,
) -> Result<Vec<f64>, IndicatorError> {
    const NAME: &str = "MFI";
    let p = self::period(NAME, "period", period, 2)?;
    let inputs = [
        ("high", high),
        ("low", low),
        ("close", close),
        ("volume", volume),
    ];
    let n = same_len(NAME, &inputs)?;
    let [out] = aligned(NAME, n, CORE.mfi_lookback(p), |end, [o]| {
        CORE.mfi(0, end, high, low, close, volume, p, o)
    })?;
    Ok(out)
}

/// On-balance volume (TA-Lib `OBV`), starting from the first bar's volume.
pub fn obv(close: &[f64], volume: &[f64]) -> Result<Vec<f64>, IndicatorError> {
    const NAME: &str = "OBV";
    let n = same_len(NAME, &[("close", close), ("volume", volume)])?;
    let [out] = aligned(NAME, n, CORE.obv_lookback(), |end, [o]| {
        CORE.obv(0, end, close, volume, o)
    })?;
    Ok(out)
}
