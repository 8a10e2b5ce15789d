//! The plumbing between the typed layer and `ta-lib`: parameter checks that name what to fix,
//! and running a TA-Lib call so its output is aligned to the input with `NaN` before the lookback.

use std::sync::LazyLock;

use ta_lib::{Core, OutRange, RetCode};

use crate::IndicatorError;

/// One immutable TA-Lib `Core` with default settings (no unstable period), shared read-only.
pub(crate) static CORE: LazyLock<Core> = LazyLock::new(Core::new);

/// TA-Lib's largest period (`optInTimePeriod` range `..=100000` in every function we wrap).
pub(crate) const MAX_PERIOD: usize = 100_000;

/// Checks a period against TA-Lib's range for it and converts it to TA-Lib's `i32`.
pub(crate) fn period(
    indicator: &'static str,
    param: &'static str,
    value: usize,
    min: usize,
) -> Result<i32, IndicatorError> {
    if value < min || value > MAX_PERIOD {
        return Err(IndicatorError::InvalidParameter {
            indicator,
            param,
            value: value.to_string(),
            expected: if min <= 1 {
                "a period from 1 to 100000"
            } else {
                "a period from 2 to 100000"
            },
        });
    }
    i32::try_from(value).map_err(|_| IndicatorError::InvalidParameter {
        indicator,
        param,
        value: value.to_string(),
        expected: "a period from 1 to 100000",
    })
}

/// Checks a real parameter is finite and at least `min` (TA-Lib's `optIn` ranges).
pub(crate) fn real(
    indicator: &'static str,
    param: &'static str,
    value: f64,
    min: f64,
) -> Result<f64, IndicatorError> {
    if value.is_finite() && value >= min && value <= Core::REAL_MAX {
        Ok(value)
    } else {
        Err(IndicatorError::InvalidParameter {
            indicator,
            param,
            value: value.to_string(),
            expected: if min > 0.0 {
                "a finite positive number"
            } else {
                "a finite number that is not negative"
            },
        })
    }
}

/// Checks every input has the length of the first and returns that length.
pub(crate) fn same_len(
    indicator: &'static str,
    inputs: &[(&'static str, &[f64])],
) -> Result<usize, IndicatorError> {
    let (reference, first) = inputs[0];
    for (input, series) in &inputs[1..] {
        if series.len() != first.len() {
            return Err(IndicatorError::LengthMismatch {
                indicator,
                input,
                found: series.len(),
                reference,
                expected: first.len(),
            });
        }
    }
    Ok(first.len())
}

/// Runs a TA-Lib batch call over `0..n` and returns `K` output series of length `n`, `NaN` before
/// the first value TA-Lib produced.
///
/// `call(end_idx, outputs)` receives output slices that start at the lookback, so TA-Lib writes
/// straight into place and no copy is needed in the normal case.
pub(crate) fn aligned<const K: usize>(
    indicator: &'static str,
    n: usize,
    lookback: Result<usize, RetCode>,
    call: impl FnOnce(usize, [&mut [f64]; K]) -> Result<OutRange, RetCode>,
) -> Result<[Vec<f64>; K], IndicatorError> {
    let lookback = lookback.map_err(|e| IndicatorError::talib(indicator, e))?;
    let mut outs: [Vec<f64>; K] = std::array::from_fn(|_| vec![f64::NAN; n]);
    if n <= lookback {
        return Ok(outs);
    }
    let range = call(n - 1, outs.each_mut().map(|v| &mut v[lookback..]))
        .map_err(|e| IndicatorError::talib(indicator, e))?;
    for v in &mut outs {
        place(v, lookback, range);
    }
    Ok(outs)
}

/// Moves values TA-Lib wrote at `v[lookback..]` to where `range` says they belong, `NaN` elsewhere.
/// With our default `Core` the range always starts at the lookback and this does nothing.
pub(crate) fn place(v: &mut [f64], lookback: usize, range: OutRange) {
    let n = v.len();
    if range.beg_idx == lookback && lookback + range.count == n {
        return;
    }
    let begin = range.beg_idx.min(n);
    let count = range.count.min(n - begin);
    if begin != lookback && count > 0 {
        v.copy_within(lookback..lookback + count, begin);
    }
    let written = begin..begin + count;
    for (i, x) in v.iter_mut().enumerate().skip(lookback) {
        if !written.contains(&i) {
            *x = f64::NAN;
        }
    }
}
