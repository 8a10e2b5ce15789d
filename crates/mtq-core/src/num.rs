//! Conversions between money (`Decimal`) and series (`f64`) that hot loops make often.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// `10^k` as `f64`, exact for every `k` here (`10^22` is the largest power of ten an `f64`
/// holds exactly).
const POW10_F64: [f64; 20] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19,
];

/// `Decimal::new(m, scale)`, the same bits, inlined: the library's is an out-of-line call that
/// hot loops (a quiet bar's equity point, a view's marks, a normalised price) make per bar.
/// Panics, as `Decimal::new` does, when `scale` exceeds 28.
#[inline]
pub fn decimal_of(m: i64, scale: u32) -> Decimal {
    let u = m.unsigned_abs();
    #[allow(clippy::cast_possible_truncation)] // the low and high 32-bit words
    Decimal::from_parts(u as u32, (u >> 32) as u32, 0, m < 0, scale)
}

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
    if m < SMALL_MANTISSA {
        // Below 2^49 the library's steps come back to the mantissa itself before their last
        // division: `integral + frac` times `10^scale` is within a quarter of `m` (three
        // roundings of at most 2^-53 each, of a value below 2^49), so it rounds to `m`, and the
        // result is the one division `m / 10^scale` (no integer division, no rounding call).
        #[allow(clippy::cast_precision_loss)] // below 2^53: exact
        let v = m as f64 / p;
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

/// Mantissas below this convert in one division ([`decimal_to_f64`]).
const SMALL_MANTISSA: u64 = 1 << 49;

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

/// `d` in units of `10^-scale` when that is a whole number that fits an `i64`. Integer
/// arithmetic on the mantissa: `d = m * 10^-s`, so the units are `m * 10^(scale - s)`, whole
/// when `s > scale` only if `10^(s - scale)` divides `m`. In `i64` when the mantissa fits and
/// the power of ten is in the table (money, prices and lots: nearly always), where an `i128`
/// remainder and quotient would be library calls; the same result.
#[inline]
pub fn decimal_units(d: Decimal, scale: u32) -> Option<i64> {
    let (m, s) = (d.mantissa(), d.scale());
    let gap = usize::try_from(s.abs_diff(scale)).unwrap_or(usize::MAX);
    if let (Ok(m), Some(&p)) = (i64::try_from(m), POW10_I64.get(gap)) {
        return if s <= scale {
            m.checked_mul(p)
        } else if m % p != 0 {
            None
        } else {
            Some(m / p)
        };
    }
    decimal_units_wide(m, s, scale)
}

/// 10^k for k up to 18, the powers `i64` holds.
const POW10_I64: [i64; 19] = {
    let mut t = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// [`decimal_units`] in `i128`, for any mantissa and scale.
#[cold]
fn decimal_units_wide(m: i128, s: u32, scale: u32) -> Option<i64> {
    let v = if s <= scale {
        m.checked_mul(10i128.checked_pow(scale - s)?)?
    } else {
        let p = 10i128.checked_pow(s - scale)?;
        if m % p != 0 {
            return None;
        }
        m / p
    };
    i64::try_from(v).ok()
}

/// `num / den` rounded to a whole number, ties to even (as `Decimal::round_dp` rounds), for a
/// positive `den`. In `i64`: an `i128` division is a library call. One division: the floor
/// from the truncated quotient and remainder, and the remainder compared with what is left of
/// `den` (twice the remainder could overflow).
#[inline]
pub fn ratio_half_even(num: i64, den: i64) -> Option<i64> {
    if den <= 0 {
        return ratio_half_even_any(num, den);
    }
    // `den > 0`: no overflow in the division, and a negative remainder lies in `(-den, 0)`,
    // so `r + den` fits, and `den >= 2` then, so `q - 1` does.
    let (mut q, mut r) = (num / den, num % den);
    if r < 0 {
        q -= 1;
        r += den;
    }
    // `r < den`: `den - r` is positive. `q + 1` overflows only for `q = i64::MAX`, which needs
    // `den = 1` and so `r = 0`: the first arm.
    Some(match r.cmp(&(den - r)) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    })
}

/// [`ratio_half_even`] for any `den` (zero or negative ones included), as it always read.
#[cold]
fn ratio_half_even_any(num: i64, den: i64) -> Option<i64> {
    let (q, r) = (num.checked_div_euclid(den)?, num.checked_rem_euclid(den)?);
    Some(match (2 * i128::from(r)).cmp(&i128::from(den)) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    })
}

/// The margin level in percent, `(equity / margin * 100).round_dp(2)`, for a positive margin:
/// in integers when both are whole numbers of `10^-scale` (the account currency's smallest
/// unit), the same value (written with two decimals); in `Decimal` otherwise.
pub fn margin_level(equity: Decimal, margin: Decimal, scale: u32) -> Decimal {
    let fast = || {
        let (e, m) = (decimal_units(equity, scale)?, decimal_units(margin, scale)?);
        (m > 0).then_some(())?;
        Some(decimal_of(ratio_half_even(e.checked_mul(10_000)?, m)?, 2))
    };
    fast().unwrap_or_else(|| (equity / margin * Decimal::ONE_HUNDRED).round_dp(2))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The mantissa arithmetic of `units` gives what `Decimal` arithmetic gives.
    #[test]
    fn units_are_the_scaled_value_when_whole() {
        use rust_decimal::prelude::ToPrimitive;
        let exact = |d: Decimal, scale: u32| {
            let scaled = d.checked_mul(Decimal::from(10i64.checked_pow(scale)?))?;
            if scaled.fract().is_zero() {
                scaled.to_i64()
            } else {
                None
            }
        };
        let mut rng = crate::SplitMix64::new(23);
        let mut cases = vec![
            Decimal::ZERO,
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(i64::MAX, 0),
            Decimal::new(i64::MIN, 2),
            Decimal::new(-5, 3),
            Decimal::new(120, 3),
        ];
        for _ in 0..100_000 {
            let m = i64::try_from(rng.below_inclusive(u64::MAX >> 1)).unwrap()
                >> rng.below_inclusive(62);
            let m = if rng.below_inclusive(1) == 1 { -m } else { m };
            let scale = u32::try_from(rng.below_inclusive(12)).unwrap();
            cases.push(Decimal::new(m, scale));
        }
        for d in cases {
            for scale in [0, 2, 3, 5, 8] {
                assert_eq!(decimal_units(d, scale), exact(d, scale), "{d} at {scale}");
            }
        }
    }

    /// `decimal_of` is `Decimal::new` bit for bit (the serialized words: sign, scale, mantissa),
    /// zero and `i64`'s ends included, at every scale `Decimal` has.
    #[test]
    fn decimal_of_is_decimal_new() {
        let mut rng = crate::SplitMix64::new(5);
        let mut mantissas = vec![
            0,
            1,
            -1,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            1 << 32,
            -(1 << 32),
        ];
        for _ in 0..20_000 {
            let m = i64::try_from(rng.below_inclusive(u64::MAX >> 1)).unwrap()
                >> rng.below_inclusive(62);
            mantissas.push(if rng.below_inclusive(1) == 1 { -m } else { m });
        }
        for m in mantissas {
            for s in 0..=28 {
                let (ours, theirs) = (decimal_of(m, s), Decimal::new(m, s));
                assert_eq!(ours.serialize(), theirs.serialize(), "{m} at {s}");
            }
        }
    }

    /// The `i64` readings are the `i128` ones they stand in for: `decimal_units` against
    /// `decimal_units_wide` (mantissas beyond `i64`, scale gaps beyond the table, zero), and
    /// `ratio_half_even` against the Euclidean reading (both signs, ties, `i64`'s ends).
    #[test]
    fn the_i64_readings_equal_the_wide_ones() {
        let mut rng = crate::SplitMix64::new(91);
        let mut mantissas: Vec<i128> = vec![
            0,
            1,
            -1,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN) - 1,
            (1 << 96) - 1,
            10i128.pow(18),
            -(10i128.pow(18)),
        ];
        for _ in 0..30_000 {
            let m = i64::try_from(rng.below_inclusive(u64::MAX >> 1)).unwrap()
                >> rng.below_inclusive(62);
            let m = i128::from(if rng.below_inclusive(1) == 1 { -m } else { m });
            let zeros = u32::try_from(rng.below_inclusive(6)).unwrap();
            mantissas.push(m);
            mantissas.push(m.saturating_mul(10i128.pow(zeros)) % ((1 << 96) - 1));
        }
        for m in mantissas {
            for s in [0, 1, 2, 5, 8, 12, 19, 20, 28] {
                let Ok(d) = Decimal::try_from_i128_with_scale(m, s) else {
                    continue;
                };
                for scale in [0, 2, 3, 5, 8, 18, 19, 21, 28] {
                    assert_eq!(
                        decimal_units(d, scale),
                        decimal_units_wide(d.mantissa(), d.scale(), scale),
                        "{d} at {scale}"
                    );
                }
            }
        }
        let mut pairs: Vec<(i64, i64)> = vec![
            (i64::MAX, 1),
            (i64::MIN, 1),
            (i64::MIN, 2),
            (i64::MAX, i64::MAX),
            (i64::MIN, i64::MAX),
            (i64::MAX - 1, i64::MAX),
            (5, 10),
            (15, 10),
            (-5, 10),
            (-15, 10),
            (7, 0),
            (7, -2),
            (i64::MIN, -1),
        ];
        for _ in 0..200_000 {
            let num = i64::try_from(rng.below_inclusive(u64::MAX >> 1)).unwrap()
                >> rng.below_inclusive(62);
            let num = if rng.below_inclusive(1) == 1 {
                -num
            } else {
                num
            };
            let den = i64::try_from(rng.below_inclusive(u64::MAX >> 1)).unwrap()
                >> rng.below_inclusive(62);
            let den = if rng.below_inclusive(9) == 0 {
                -den
            } else {
                den
            };
            pairs.push((num, den));
            // A tie: `num` an odd multiple of half an even `den`.
            let half = (den / 2).max(1);
            let k = i64::try_from(rng.below_inclusive(1000)).unwrap() * 2 + 1;
            pairs.push((half.saturating_mul(k), half * 2));
        }
        for (num, den) in pairs {
            assert_eq!(
                ratio_half_even(num, den),
                ratio_half_even_any(num, den),
                "{num} / {den}"
            );
        }
    }

    /// The integer margin level is the simulator's `(equity / margin * 100).round_dp(2)`.
    #[test]
    fn the_margin_level_in_units_rounds_as_the_simulator_does() {
        let mut rng = crate::SplitMix64::new(5);
        let mut cases: Vec<(i64, i64)> = vec![(1, 8), (3, 8), (5, 8), (-5, 8), (-3, 8), (0, 7)];
        for _ in 0..50_000 {
            let e = i64::try_from(rng.below_inclusive(2_000_000_000)).unwrap() - 500_000_000;
            let m = i64::try_from(rng.below_inclusive(100_000_000)).unwrap() + 1;
            cases.push((e, m));
        }
        for (e, m) in cases {
            let (equity, margin) = (Decimal::new(e, 2), Decimal::new(m, 2));
            let exact = (equity / margin * Decimal::ONE_HUNDRED).round_dp(2);
            let units = ratio_half_even(e * 10_000, m).unwrap();
            assert_eq!(Decimal::new(units, 2), exact, "{equity} / {margin}");
            if m > 0 {
                assert_eq!(
                    margin_level(equity, margin, 2),
                    exact,
                    "{equity} / {margin}"
                );
            }
        }
    }

    /// Values that are no whole number of cents take the `Decimal` formula.
    #[test]
    fn the_margin_level_of_fractional_cents_is_the_decimal_formula() {
        for (e, m) in [("1000.005", "3.3"), ("-7.001", "0.3"), ("1e-20", "1")] {
            let (equity, margin): (Decimal, Decimal) = (
                e.parse()
                    .unwrap_or_else(|_| Decimal::from_scientific(e).unwrap()),
                m.parse().unwrap(),
            );
            let exact = (equity / margin * Decimal::ONE_HUNDRED).round_dp(2);
            assert_eq!(margin_level(equity, margin, 2), exact);
        }
    }

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
        #![proptest_config(ProptestConfig::with_cases(100_000))]
        #[test]
        fn any_decimal_converts_as_to_f64_does(m in any::<i64>(), scale in 0u32..=28) {
            same(Decimal::new(m, scale));
        }

        /// Mantissas up to and a little past the one-division bound, at every scale it covers.
        #[test]
        fn small_mantissas_convert_as_to_f64_does(
            m in prop_oneof![
                0i64..(1 << 49) + 1000,
                (1i64 << 49) - 100_000..(1i64 << 49) + 100_000,
                0i64..10_000_000,
            ],
            scale in 0u32..=19,
            negative in any::<bool>(),
        ) {
            same(Decimal::new(if negative { -m } else { m }, scale));
        }

        #[test]
        fn prices_on_a_grid_convert_as_to_f64_does(points in -10_000_000i64..10_000_000, digits in 0u32..=8) {
            same(Decimal::new(points, digits));
        }
    }
}
