//! All-in sizing ([`crate::Sizing::Equity`]): the largest number of volume steps whose margin
//! plus entry commission fits in a budget (a fraction of equity), worked out once per entry.
//!
//! The reference is [`lots_reference`], in `Decimal`: the cost of a lot (its value over the
//! leverage plus its commission), the budget divided by it, and the symbol's
//! `normalize_volume` (down to the step, capped at the maximum, refused below the minimum). Its
//! two divisions and the normalisation cost about 1,200 instructions an entry. [`lots`] answers
//! in integers instead where that gives the same volume, and asks the reference otherwise; the
//! test `integer_lots_equal_the_decimal_reference` holds the two together.
//!
//! Why the integer answer is the reference's: the reference's volume is
//! `floor(round(round(budget / cost) / step)) * step`, each `round` being a `Decimal` division
//! to 28 significant digits (or 28 decimals). The integer path works out the exact number of
//! steps `num / den` as a fraction of whole numbers (the cost's own division by the leverage
//! folded into it) and its floor `n`. The two roundings move the steps by less than
//! `(n + 1) * 10^-26` plus `10^-28 / step` (below `10^-20` for steps of `10^-8` and coarser), so
//! when the exact steps are at least `(n + 1) * 10^-18` away from a whole number the reference's
//! floor is `n` too. An exact whole number of steps is the reference's only when its cost had
//! no rounding (leverage 1, and a sum that `Decimal` did not round), since its quotient is then
//! exact. The volume is `n` steps, normalised as the reference normalises it; a volume above the
//! maximum, none at all, or any operand that is not positive (a zero or negative budget) goes to
//! the reference, which words it.

use mtq_core::{Decimal, SymbolSpec};

/// Lots for `budget` at a cost per lot of `value / leverage + commission` (`value`: a lot's
/// value at the fill price, in the account currency; `commission`: the entry commission of a
/// lot), on `spec`'s volume grid; `None` when not even the minimum fits.
pub(super) fn lots(
    budget: Decimal,
    value: Decimal,
    leverage: u32,
    commission: Decimal,
    spec: &SymbolSpec,
) -> Option<Decimal> {
    match lots_in_integers(budget, value, leverage, commission, spec) {
        Some(answer) => answer,
        None => lots_reference(budget, value, leverage, commission, spec),
    }
}

/// [`lots`] in `Decimal`: the reference.
pub(super) fn lots_reference(
    budget: Decimal,
    value: Decimal,
    leverage: u32,
    commission: Decimal,
    spec: &SymbolSpec,
) -> Option<Decimal> {
    let per_lot = value / Decimal::from(leverage.max(1)) + commission;
    if per_lot <= Decimal::ZERO {
        return None;
    }
    spec.normalize_volume(budget.checked_div(per_lot)?)
}

/// Steps finer than this many decimals go to the reference (see the module's error bound).
const FINEST_STEP_DIGITS: u32 = 8;

/// `10^e` in `i128`, `None` past `10^38`.
fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

/// A positive number below 2^63: the product of two such numbers fits `i128` (below 2^126), so
/// it needs no overflow check (a library call for 128-bit numbers).
fn narrow(x: i128) -> bool {
    (0..=i128::from(i64::MAX)).contains(&x)
}

/// [`lots_in_integers`]'s cost numerator, denominator, whole steps and remainder worked out in
/// `i64` (`terms`: the mantissas `b, a, c, s` and the leverage; `scales`: `α, β, γ, σ`), or
/// `None` when a term or a result does not fit (the caller then works in `i128`).
fn steps_narrow(terms: [i128; 5], scales: [u32; 4]) -> Option<(i128, i128, i128, i128)> {
    let [b, a, c, s, l] = terms.map(|t| i64::try_from(t).ok());
    let (b, a, c, s, l) = (b?, a?, c?, s?, l?);
    let [alpha, beta, gamma, sigma] = scales;
    let pow = |e: u32| 10i64.checked_pow(e);
    let cost = a
        .checked_mul(pow(gamma)?)?
        .checked_add(c.checked_mul(l)?.checked_mul(pow(alpha)?)?)?;
    let num = b
        .checked_mul(l)?
        .checked_mul(pow(alpha.checked_add(gamma)?.checked_add(sigma)?)?)?;
    let den = cost.checked_mul(s)?.checked_mul(pow(beta)?)?;
    // `den > 0`: `a > 0`, `c >= 0`, `s > 0` (checked by the caller).
    Some((
        cost.into(),
        den.into(),
        (num / den).into(),
        (num % den).into(),
    ))
}

/// The reference's answer when the integer path can vouch for it (see the module comment);
/// `None` to ask the reference.
fn lots_in_integers(
    budget: Decimal,
    value: Decimal,
    leverage: u32,
    commission: Decimal,
    spec: &SymbolSpec,
) -> Option<Option<Decimal>> {
    let (b, beta) = (budget.mantissa(), budget.scale());
    let (a, alpha) = (value.mantissa(), value.scale());
    let (c, gamma) = (commission.mantissa(), commission.scale());
    let step = spec.volume_step;
    let (s, sigma) = (step.mantissa(), step.scale());
    if b <= 0 || a <= 0 || c < 0 || s <= 0 || sigma > FINEST_STEP_DIGITS {
        return None;
    }
    let l = i128::from(leverage.max(1));
    // cost = a / 10^α / L + c / 10^γ = (a * 10^γ + c * L * 10^α) / (L * 10^(α+γ)), so
    // budget / cost / step = b * L * 10^(α+γ+σ) / (10^β * (a * 10^γ + c * L * 10^α) * s).
    // In `i64` when every term fits (the usual case: a 128-bit multiplication with an overflow
    // check and a 128-bit division are library calls), else in `i128`; the same exact integers.
    let (cost, den, n, r) = match steps_narrow([b, a, c, s, l], [alpha, beta, gamma, sigma]) {
        Some(narrow) => narrow,
        None => {
            let cost = a
                .checked_mul(pow10(gamma)?)?
                .checked_add(c.checked_mul(l)?.checked_mul(pow10(alpha)?)?)?;
            let num = b
                .checked_mul(l)?
                .checked_mul(pow10(alpha + gamma + sigma)?)?;
            let den = cost.checked_mul(s)?.checked_mul(pow10(beta)?)?;
            (cost, den, num / den, num % den)
        }
    };
    if n <= 0 {
        return None;
    }
    if r == 0 {
        // Whole steps: the reference's quotient is exact only if its cost was (the value over
        // a leverage of one, plus a commission whose sum `Decimal` did not round).
        if l != 1 {
            return None;
        }
        let sum = value.checked_add(commission)?;
        let to_cost = pow10((alpha + gamma).checked_sub(sum.scale())?)?;
        if sum.mantissa().checked_mul(to_cost)? != cost {
            return None;
        }
    } else {
        // At least (n + 1) * 10^-18 of a step from either whole number.
        let gap = r.min(den - r);
        let (scaled, bound) = if narrow(gap) && narrow(den) && narrow(n + 1) {
            (gap * 1_000_000_000_000_000_000, den * (n + 1))
        } else {
            (gap.checked_mul(pow10(18)?)?, den.checked_mul(n + 1)?)
        };
        if scaled < bound {
            return None;
        }
    }
    let lots = if narrow(n) && narrow(s) {
        n * s
    } else {
        n.checked_mul(s)?
    };
    let volume = Decimal::try_from_i128_with_scale(lots, sigma).ok()?;
    if volume > spec.volume_max {
        return None;
    }
    Some((volume >= spec.volume_min).then(|| volume.normalize()))
}

#[cfg(test)]
mod tests {
    use mtq_core::SplitMix64;
    use mtq_core::testkit::eurusd;
    use rust_decimal_macros::dec;

    use super::*;

    /// Same value and same text (so the same scale).
    fn same(a: Option<Decimal>, b: Option<Decimal>) -> bool {
        a == b && a.map(|v| v.to_string()) == b.map(|v| v.to_string())
    }

    fn pick<T: Copy>(rng: &mut SplitMix64, xs: &[T]) -> T {
        #[allow(clippy::cast_possible_truncation)]
        xs[(rng.next_u64() % xs.len() as u64) as usize]
    }

    /// A decimal of up to `digits` significant digits at `scale`.
    fn decimal(rng: &mut SplitMix64, digits: u32, scale: u32) -> Decimal {
        let span = 10u64.pow(digits);
        #[allow(clippy::cast_possible_wrap)]
        let m = (rng.next_u64() % span) as i64;
        Decimal::new(m, scale)
    }

    /// For random budgets, lot values, leverages, commissions and volume grids, and for budgets
    /// placed exactly on a whole number of steps and a hair either side of one, the integer
    /// path gives the reference's volume, written the same way, or leaves it to the reference.
    #[test]
    fn integer_lots_equal_the_decimal_reference() {
        let mut rng = SplitMix64::new(21);
        let grids = [
            (dec!(1), dec!(1), dec!(1000000000)),
            (dec!(0.01), dec!(0.01), dec!(100)),
            (dec!(0.1), dec!(0.1), dec!(50)),
            (dec!(0.001), dec!(0.002), dec!(10)),
            (dec!(1000), dec!(1000), dec!(10000000)),
            (dec!(0.00000001), dec!(0.00000001), dec!(1000)),
            (dec!(0.000000001), dec!(0.000000001), dec!(1000)),
            (dec!(0.05), dec!(0.1), dec!(7.77)),
        ];
        let (mut integer, mut cases) = (0, 0);
        for _ in 0..200_000 {
            let (step, min, max) = pick(&mut rng, &grids);
            let spec = SymbolSpec {
                volume_step: step,
                volume_min: min,
                volume_max: max,
                ..eurusd()
            };
            let leverage = pick(&mut rng, &[1, 1, 2, 3, 7, 30, 100, 500]);
            let value_digits = pick(&mut rng, &[1, 4, 6, 9, 12]);
            let value_scale = pick(&mut rng, &[0, 2, 5, 7]);
            let value = decimal(&mut rng, value_digits, value_scale);
            let commission = match rng.next_u64() % 4 {
                0 => Decimal::ZERO,
                1 => dec!(0),
                2 => decimal(&mut rng, 3, 2),
                _ => pick(&mut rng, &[dec!(0.00002), dec!(0.0001)]) * value,
            };
            let budget = match rng.next_u64() % 4 {
                // Any budget.
                0 | 1 => {
                    let digits = pick(&mut rng, &[2, 5, 8, 12, 18]);
                    let scale = pick(&mut rng, &[0, 2, 4]);
                    decimal(&mut rng, digits, scale)
                }
                // On a whole number of steps of the reference's cost, or a hair off it.
                _ => {
                    let cost = value / Decimal::from(leverage) + commission;
                    let steps = Decimal::from(rng.next_u64() % 100_000 + 1);
                    let hair = pick(
                        &mut rng,
                        &[
                            Decimal::ZERO,
                            Decimal::new(1, 20),
                            Decimal::new(-1, 20),
                            Decimal::new(1, 12),
                            Decimal::new(-1, 12),
                        ],
                    );
                    match cost.checked_mul(steps * step) {
                        Some(b) => b + hair,
                        None => continue,
                    }
                }
            };
            // `normalize_volume` panics on a quotient too large for a `Decimal`: no volume.
            let cost = value / Decimal::from(leverage) + commission;
            if cost > Decimal::ZERO
                && budget
                    .checked_div(cost)
                    .and_then(|q| q.checked_div(step))
                    .is_none_or(|n| n > Decimal::from(i64::MAX))
            {
                continue;
            }
            cases += 1;
            let reference = lots_reference(budget, value, leverage, commission, &spec);
            let fast = lots(budget, value, leverage, commission, &spec);
            if lots_in_integers(budget, value, leverage, commission, &spec).is_some() {
                integer += 1;
            }
            assert!(
                same(fast, reference),
                "budget {budget}, value {value}, leverage {leverage}, commission {commission}, \
                 step {step}: {fast:?} against {reference:?}"
            );
        }
        // Many cases are beyond the integer path on purpose (volumes above the maximum, zero
        // values, steps finer than 10^-8, whole steps at a leverage above one).
        assert!(
            integer * 10 > cases,
            "only {integer} of {cases} in integers"
        );
    }

    /// The Python-parity settings' case: single units, leverage 1, no commission.
    #[test]
    fn all_in_single_units_are_whole_units_of_the_budget() {
        let spec = SymbolSpec {
            contract_size: dec!(1),
            volume_min: dec!(1),
            volume_step: dec!(1),
            volume_max: dec!(1000000000),
            ..eurusd()
        };
        let got = lots(dec!(10000.00), dec!(1.09615), 1, Decimal::ZERO, &spec);
        assert!(lots_in_integers(dec!(10000.00), dec!(1.09615), 1, Decimal::ZERO, &spec).is_some());
        assert_eq!(got, Some(dec!(9122)));
        assert!(same(
            got,
            lots_reference(dec!(10000.00), dec!(1.09615), 1, Decimal::ZERO, &spec)
        ));
    }
}
