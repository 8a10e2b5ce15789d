//! Conversions between money (`Decimal`) and series (`f64`) that hot loops make often.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// `10^k` as `f64`, exact for every `k` here (`10^22` is the largest power of ten an `f64`
/// holds exactly).
const POW10_F64: [f64; 20] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19,
];

/// `d.to_f64()`, bit for bit, without its 128-bit division and library rounding calls when the
/// mantissa fits 64 bits and the scale is at most 19 (every price, volume and balance a
/// simulator meets); other values take `to_f64` itself. The steps are `rust_decimal`'s own:
/// whole and fractional parts converted apart, added, then rounded to the scale's decimals.
pub fn decimal_to_f64(d: Decimal) -> f64 {
    let scale = d.scale();
    let m = d.mantissa().unsigned_abs();
    let (Ok(m), Some(&p)) = (u64::try_from(m), POW10_F64.get(scale as usize)) else {
        return d.to_f64().unwrap_or(f64::NAN);
    };
    if scale == 0 {
        #[allow(clippy::cast_precision_loss)] // as `to_f64` converts: to the nearest `f64`
        let v = m as f64;
        return if d.is_sign_negative() { -v } else { v };
    }
    let precision = 10u64.pow(scale);
    #[allow(clippy::cast_precision_loss)] // as `to_f64` converts: to the nearest `f64`
    let (integral, frac) = ((m / precision) as f64, (m % precision) as f64 / p);
    if frac == 0.0 {
        return if d.is_sign_negative() {
            -integral
        } else {
            integral
        };
    }
    let rounded = round_half_away((integral + frac) * p) / p;
    if d.is_sign_negative() {
        -rounded
    } else {
        rounded
    }
}

/// `x.round()` (halves away from zero) with integer casts below 2^52, where `x` minus its
/// truncation is exact; `round` itself (a library call on the baseline x86-64 target) above.
fn round_half_away(x: f64) -> f64 {
    const EXACT: f64 = 4_503_599_627_370_496.0; // 2^52
    if x.is_nan() || x.abs() >= EXACT {
        return x.round();
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    // |x| < 2^52: the cast truncates toward zero exactly and converts back exactly.
    let t = x as i64 as f64;
    let frac = x - t;
    if frac >= 0.5 {
        t + 1.0
    } else if frac <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn same(d: Decimal) {
        let exact = d.to_f64().unwrap();
        let fast = decimal_to_f64(d);
        assert_eq!(fast.to_bits(), exact.to_bits(), "{d}: {fast} vs {exact}");
    }

    #[test]
    fn prices_volumes_and_balances_convert_as_to_f64_does() {
        for s in [
            "0",
            "-0.0",
            "1.10235",
            "1.1",
            "0.5",
            "-0.5",
            "2.5",
            "0.00001",
            "151.235",
            "10000.00",
            "-125.37",
            "0.07",
            "1e-19",
            "123456789.123456789",
            "0.3",
            "99999999999999.99",
            "4503599627370495.5",
            "4503599627370497.5",
        ] {
            same(
                s.parse()
                    .unwrap_or_else(|_| Decimal::from_scientific(s).unwrap()),
            );
        }
        // Outside the fast path: a 96-bit mantissa, a scale above 19.
        same(Decimal::MAX);
        same(Decimal::new(1, 28));
        same(Decimal::from_i128_with_scale(1 << 70, 5));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn any_decimal_converts_as_to_f64_does(m in any::<i64>(), scale in 0u32..=28) {
            same(Decimal::new(m, scale));
        }

        #[test]
        fn prices_on_a_grid_convert_as_to_f64_does(points in -10_000_000i64..10_000_000, digits in 0u32..=8) {
            same(Decimal::new(points, digits));
        }
    }
}
