//! The simulator's integer money: a position's realised profit and an order's margin in scaled
//! integers, for the cases where that gives exactly the `Decimal` the reference formulas in
//! [`super::money`] give.
//!
//! This is the simulator's one fast-path seam for money. [`super::money::realized_profit`] and
//! [`super::money::margin`] ask it first; `None` means "not here", and the `Decimal` formula
//! runs as the reference. [`Simulator::with_reference_money`](super::Simulator::with_reference_money)
//! turns the seam off, which is how the property test `integer_money_equals_the_decimal_reference`
//! (crates/mtq-sim/tests/reply_free.rs) runs random trade sequences through both and compares
//! every deal, balance and position, text for text.
//!
//! Why it is exact: a `Decimal` is a mantissa below 2^96 and a scale of at most 28. Its sum,
//! difference and product are exact when the result fits those bounds: the difference at the
//! larger scale of the two, the product at the sum of the scales. These functions do the same
//! operations, in the same order, on `(mantissa, scale)` pairs in `i64`, and give up as soon as
//! a result would not fit. `round_dp` rounds half to even to the given decimals and keeps a
//! smaller scale as it is; so does [`Fx::round_dp`]. The margin's division by the leverage is
//! taken only when it is exact at the dividend's scale and that scale is at least the money's
//! decimals: the quotient then has the same value, and rounding it to the money's decimals gives
//! the one `Decimal` gives. Zero results and zero operands (where `Decimal` keeps a sign of zero)
//! are left to the reference.

use mtq_core::{Decimal, Side, SymbolSpec, ratio_half_even};

use super::Pos;

/// The largest `Decimal` scale.
const MAX_SCALE: u32 = 28;

/// 10^k for k up to 18.
fn pow10(k: u32) -> Option<i64> {
    const TABLE: [i64; 19] = {
        let mut t = [1i64; 19];
        let mut i = 1;
        while i < 19 {
            t[i] = t[i - 1] * 10;
            i += 1;
        }
        t
    };
    TABLE.get(k as usize).copied()
}

/// A `Decimal`'s value as mantissa and scale, `m * 10^-s`, with the mantissa in `i64` (64-bit
/// multiplication and division are instructions; in `i128` they are library calls that cost
/// more than the `Decimal` operations they would replace). Every mantissa here is below 2^63,
/// well within `Decimal`'s 2^96.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fx {
    m: i64,
    s: u32,
}

impl Fx {
    /// `None` when the mantissa does not fit `i64`.
    fn of(d: Decimal) -> Option<Self> {
        Some(Self {
            m: i64::try_from(d.mantissa()).ok()?,
            s: d.scale(),
        })
    }

    /// `self - other` at the larger scale.
    fn sub(self, other: Self) -> Option<Self> {
        let s = self.s.max(other.s);
        let a = self.m.checked_mul(pow10(s - self.s)?)?;
        let b = other.m.checked_mul(pow10(s - other.s)?)?;
        Some(Self {
            m: a.checked_sub(b)?,
            s,
        })
    }

    /// `self * other` at the sum of the scales.
    fn mul(self, other: Self) -> Option<Self> {
        let s = self.s + other.s;
        (s <= MAX_SCALE).then_some(())?;
        Some(Self {
            m: self.m.checked_mul(other.m)?,
            s,
        })
    }

    /// Rounded half to even to `dp` decimals (a smaller scale is kept).
    fn round_dp(self, dp: u32) -> Option<Self> {
        if self.s <= dp {
            return Some(self);
        }
        Some(Self {
            m: ratio_half_even(self.m, pow10(self.s - dp)?)?,
            s: dp,
        })
    }

    /// The `Decimal`; `None` for zero (whose sign the reference decides).
    fn decimal(self) -> Option<Decimal> {
        (self.m != 0 && self.s <= MAX_SCALE).then(|| mtq_core::decimal_of(self.m, self.s))
    }
}

/// [`super::money::realized_profit`] in integers, or `None`.
pub(crate) fn realized_profit(
    pos: &Pos,
    spec: &SymbolSpec,
    volume: Decimal,
    price: Decimal,
    rate: Decimal,
    digits: u32,
) -> Option<Decimal> {
    if volume.is_zero() || rate.is_zero() || spec.contract_size.is_zero() {
        return None;
    }
    let (price, open) = (Fx::of(price)?, Fx::of(pos.open_price)?);
    let diff = match pos.side {
        Side::Buy => price.sub(open)?,
        Side::Sell => open.sub(price)?,
    };
    if diff.m == 0 {
        return None;
    }
    diff.mul(Fx::of(volume)?)?
        .mul(Fx::of(spec.contract_size)?)?
        .mul(Fx::of(rate)?)?
        .round_dp(digits)?
        .decimal()
}

/// [`super::money::margin`] in integers, or `None`.
pub(crate) fn margin(
    leverage: u32,
    spec: &SymbolSpec,
    volume: Decimal,
    margin_rate: Decimal,
    digits: u32,
) -> Option<Decimal> {
    if volume.is_zero() || margin_rate.is_zero() || spec.contract_size.is_zero() || leverage == 0 {
        return None;
    }
    let value = Fx::of(volume)?
        .mul(Fx::of(spec.contract_size)?)?
        .mul(Fx::of(margin_rate)?)?;
    let leverage = i64::from(leverage);
    if value.s < digits || value.m % leverage != 0 {
        return None;
    }
    Fx {
        m: value.m / leverage,
        s: value.s,
    }
    .round_dp(digits)?
    .decimal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::RoundingStrategy;
    use rust_decimal_macros::dec;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5_000))]
        /// Each operation equals `Decimal`'s whenever it answers, text and scale included.
        #[test]
        fn operations_are_decimals_own(
            a in -10_000_000_000i64..10_000_000_000,
            sa in 0u32..12,
            b in -10_000_000_000i64..10_000_000_000,
            sb in 0u32..12,
            dp in 0u32..6,
        ) {
            let (x, y) = (Decimal::new(a, sa), Decimal::new(b, sb));
            if let Some(d) = Fx::of(x).zip(Fx::of(y)).and_then(|(a, b)| a.sub(b)).and_then(Fx::decimal) {
                proptest::prop_assert_eq!(d.to_string(), (x - y).to_string());
            }
            if let Some(d) = Fx::of(x).zip(Fx::of(y)).and_then(|(a, b)| a.mul(b)).and_then(Fx::decimal) {
                proptest::prop_assert_eq!(d.to_string(), (x * y).to_string());
            }
            if let Some(d) = Fx::of(x).and_then(|a| a.round_dp(dp)).and_then(Fx::decimal) {
                proptest::prop_assert_eq!(d.to_string(), x.round_dp(dp).to_string());
                proptest::prop_assert_eq!(
                    d.to_string(),
                    x.round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven).to_string()
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5_000))]
        /// The integer profit and margin equal the `Decimal` formulas whenever they answer, text
        /// and scale included, over volumes in lots and in units, contract sizes, 2- to 5-digit
        /// prices, conversion rates and leverages; and they answer for the common cases.
        #[test]
        fn profit_and_margin_are_the_formulas(
            volume in 1i64..100_000,
            volume_dp in 0u32..3,
            contract in proptest::sample::select(vec![1i64, 1_000, 100_000]),
            digits in 2u32..6,
            open in 50_000i64..200_000,
            move_by in -3_000i64..3_000,
            buy in proptest::bool::ANY,
            rate in proptest::sample::select(vec!["1", "1.10123", "0.0066578", "1.3"]),
            leverage in proptest::sample::select(vec![1u32, 30, 100, 500, 3]),
            money in 0u32..3,
        ) {
            use crate::SimConfig;
            let mut spec = mtq_core::testkit::eurusd();
            spec.contract_size = Decimal::from(contract);
            let side = if buy { Side::Buy } else { Side::Sell };
            let v = Decimal::new(volume, volume_dp);
            let pos = Pos::for_test(side, Decimal::new(open, digits), v);
            let price = Decimal::new(open + move_by, digits);
            let rate: Decimal = rate.parse().unwrap();
            let cfg = SimConfig { leverage, money_digits: money, ..SimConfig::default() };
            let reference = crate::engine::money::realized_profit(&pos, &spec, v, price, rate, money, false);
            if let Some(p) = realized_profit(&pos, &spec, v, price, rate, money) {
                proptest::prop_assert_eq!(p.to_string(), reference.to_string());
            }
            let reference = crate::engine::money::margin(&cfg, &spec, v, rate, false);
            if let Some(m) = margin(leverage, &spec, v, rate, money) {
                proptest::prop_assert_eq!(m.to_string(), reference.to_string());
            }
        }
    }

    #[test]
    fn the_common_cases_take_the_integer_path() {
        let spec = mtq_core::testkit::eurusd();
        let pos = Pos::for_test(Side::Buy, dec!(1.10000), dec!(0.10));
        // 0.1 lot, 15.3 pips: 15.30 USD.
        assert_eq!(
            realized_profit(&pos, &spec, dec!(0.10), dec!(1.10153), Decimal::ONE, 2),
            Some(dec!(15.30))
        );
        // 0.1 lot at 1.10123, leverage 100: 110.123 -> 110.12.
        assert_eq!(
            margin(100, &spec, dec!(0.10), dec!(1.10123), 2),
            Some(dec!(110.12))
        );
        // No move: the reference decides the zero.
        assert_eq!(
            realized_profit(&pos, &spec, dec!(0.10), dec!(1.10000), Decimal::ONE, 2),
            None
        );
    }

    #[test]
    fn ties_round_to_even_on_both_sides_of_zero() {
        for (v, want) in [
            (dec!(0.125), "0.12"),
            (dec!(0.135), "0.14"),
            (dec!(-0.125), "-0.12"),
            (dec!(-0.135), "-0.14"),
            (dec!(2.5), "2.5"),
        ] {
            let got = Fx::of(v)
                .and_then(|a| a.round_dp(2))
                .and_then(Fx::decimal)
                .unwrap();
            assert_eq!(got.to_string(), want);
            assert_eq!(got.to_string(), v.round_dp(2).to_string());
        }
    }
}
