//! Volatility, statistics and the price transforms TA-Lib ships (SuperTrend, Heikin-Ashi).

use super::run::{CORE, aligned, period, place, real, same_len};
use super::{HeikinAshi, SuperTrend};
use crate::IndicatorError;

/// Average true range with Wilder's smoothing (TA-Lib `ATR`).
pub fn atr(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
) -> Result<Vec<f64>, IndicatorError> {
    let p = self::period("ATR", "period", period, 1)?;
    let n = same_len("ATR", &[("high", high), ("low", low), ("close", close)])?;
    let [out] = aligned("ATR", n, CORE.atr_lookback(p), |end, [o]| {
        CORE.atr(0, end, high, low, close, p, o)
    })?;
    Ok(out)
}

/// Population standard deviation over `period` values times `k` (TA-Lib `STDDEV`).
pub fn stddev(close: &[f64], period: usize, k: f64) -> Result<Vec<f64>, IndicatorError> {
    let p = self::period("STDDEV", "period", period, 2)?;
    let k = real("STDDEV", "k", k, 0.0)?;
    let [out] = aligned(
        "STDDEV",
        close.len(),
        CORE.stddev_lookback(p, k),
        |end, [o]| CORE.stddev(0, end, close, p, k, o),
    )?;
    Ok(out)
}

/// Slope of the least-squares line through the last `period` values, per bar
/// (TA-Lib `LINEARREG_SLOPE`).
pub fn linearreg_slope(close: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    const NAME: &str = "LINEARREG_SLOPE";
    let p = self::period(NAME, "period", period, 2)?;
    let [out] = aligned(
        NAME,
        close.len(),
        CORE.linearreg_slope_lookback(p),
        |end, [o]| CORE.linearreg_slope(0, end, close, p, o),
    )?;
    Ok(out)
}

/// SuperTrend over ATR(`period`) × `multiplier` bands around the bar's median price
/// (TA-Lib `SUPERTREND`). See [`crate::seeds`] for the formula and its source.
pub fn supertrend(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    multiplier: f64,
) -> Result<SuperTrend, IndicatorError> {
    const NAME: &str = "SUPERTREND";
    let p = self::period(NAME, "period", period, 2)?;
    let m = real(NAME, "multiplier", multiplier, 0.0)?;
    let n = same_len(NAME, &[("high", high), ("low", low), ("close", close)])?;
    let lookback = CORE
        .supertrend_lookback(p, m)
        .map_err(|e| IndicatorError::talib(NAME, e))?;
    let mut line = vec![f64::NAN; n];
    let mut direction = vec![0_i8; n];
    if n <= lookback {
        return Ok(SuperTrend { line, direction });
    }
    let mut trend = vec![0_i32; n - lookback];
    let range = CORE
        .supertrend(
            0,
            n - 1,
            high,
            low,
            close,
            p,
            m,
            &mut line[lookback..],
            &mut trend,
        )
        .map_err(|e| IndicatorError::talib(NAME, e))?;
    place(&mut line, lookback, range);
    for (d, t) in direction[range.beg_idx..]
        .iter_mut()
        .zip(&trend[..range.count])
    {
        *d = i8::try_from(t.signum()).unwrap_or(0);
    }
    Ok(SuperTrend { line, direction })
}

/// Heikin-Ashi candles (TA-Lib `HA`). The first candle is seeded from its own bar.
pub fn heikin_ashi(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
) -> Result<HeikinAshi, IndicatorError> {
    const NAME: &str = "HA";
    let inputs = [
        ("open", open),
        ("high", high),
        ("low", low),
        ("close", close),
    ];
    let n = same_len(NAME, &inputs)?;
    let [open_, high_, low_, close_] =
        aligned(NAME, n, CORE.ha_lookback(), |end, [o, h, l, c]| {
            CORE.ha(0, end, open, high, low, close, o, h, l, c)
        })?;
    Ok(HeikinAshi {
        open: open_,
        high: high_,
        low: low_,
        close: close_,
    })
}
