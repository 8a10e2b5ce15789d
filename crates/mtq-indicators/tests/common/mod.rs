//! Test kit shared by the integration tests: the series they lay bars on, and float comparison.
//! Bars come from mtq-core's canonical fixtures (`mtq_core::testkit`).

#![allow(dead_code, unreachable_pub)]

use chrono::Duration;
use mtq_core::testkit::{Series, at};

/// M15 bars from Tuesday 2024-01-02 00:00 UTC, tick volume 100 and a 10-point spread unless a
/// test sets them.
pub fn series() -> Series {
    Series::new(at("2024-01-02T00:00:00Z"), Duration::minutes(15))
}

/// Both NaN, or equal within `rel` relative error (absolute below `1e-300`).
pub fn close_enough(a: f64, b: f64, rel: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

/// Same bits, or both NaN.
pub fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}
