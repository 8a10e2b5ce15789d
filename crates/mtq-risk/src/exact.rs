//! The integer path of [`plan_entry`](crate::plan_entry): sizing and the book checks in scaled
//! integers, for the entries where that gives exactly what the `Decimal` path gives.
//!
//! This is the crate's one fast-path seam. [`plan_entry`](crate::plan_entry) runs the gate
//! checks as always, then asks [`sized_and_checked`]; `None` means "not here", and the `Decimal`
//! path ([`size_position`](crate::size_position) and [`BOOK_CHECKS`](crate::BOOK_CHECKS)) runs
//! as the reference. Nothing outside this file knows the integer path exists.
//!
//! Why it is exact: every `Decimal` the reference computes is a mantissa below 2^96 and a scale
//! of at most 28. Sums, differences and products of such numbers are exact in `Decimal` when the
//! result fits those bounds, and so is a quotient that has a finite decimal form within them. The
//! integer path does the same operations, in the same order, on `(i64 mantissa, scale)` pairs
//! ([`Fx`]), and gives up (returns `None`) as soon as a result would not fit, or a quotient
//! would be inexact: then the reference runs. So whenever it answers, each number it computed is
//! the one the reference computes, and each comparison comes out the same. The one comparison
//! with an inexact quotient (the margin level) is decided only where rounding cannot change it.
//!
//! It answers only for an entry that passes: a refusal of any kind, and every configuration it
//! does not cover (risk-percent or equity-fraction sizing, open positions in the book), go to
//! the reference, which words the refusal. What it covers is the backtest's common case: fixed
//! lots (which equity sizing also uses for the check at the minimum volume) on an empty book,
//! where it replaces about a dozen `Decimal` multiplications and divisions and four currency
//! conversions with one conversion and a few integer operations. The property test
//! `integer_plan_equals_the_decimal_plan` runs random entries through both.

use std::cmp::Ordering;

use mtq_core::{Decimal, Side, SymbolSpec};

use crate::SymbolRiskConfig;
use crate::checks::{CheckContext, EntryIntent};
use crate::config::{RiskBase, SizingMode};
use crate::sizing::{MONEY_TOLERANCE, SizedVolume};

/// The largest `Decimal` scale.
const MAX_SCALE: u32 = 28;
/// Decimals `round_dp` keeps of a risk-percent volume before it goes on the grid (sizing's
/// `VOLUME_NOISE_DP`).
const VOLUME_NOISE_DP: u32 = 12;

/// A `Decimal`'s value as mantissa and scale, `m * 10^-s`, with the mantissa in `i64`: 64-bit
/// multiplication, division and alignment are single instructions, where `i128` takes library
/// calls and widening checks (about 70 instructions an addition). Every mantissa of a trade's
/// money, prices and lots fits; one that does not, or a result that would not, sends the entry
/// to the reference. Any `i64` mantissa lies within `Decimal`'s 2^96.
#[derive(Clone, Copy, Debug)]
struct Fx {
    m: i64,
    s: u32,
}

/// 10^k for k up to 18, from a table (no loop of checked multiplications).
#[inline]
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
    TABLE.get(usize::try_from(k).ok()?).copied()
}

/// 10^k for k up to 38, for the one quotient computed in 128 bits ([`rounded_quotient`]).
fn pow10_wide(k: u32) -> Option<i128> {
    10i128.checked_pow(k)
}

/// `(a / d, a % d)` for `d > 0`, in 64 bits when `a` fits (no 128-bit division routine): one
/// division, the floor taken from its truncated quotient and remainder.
#[inline]
fn divrem(a: i128, d: i128) -> (i128, i128) {
    match (i64::try_from(a), i64::try_from(d)) {
        (Ok(a), Ok(d)) if d > 0 => {
            let (q, r) = divrem64(a, d);
            (i128::from(q), i128::from(r))
        }
        _ => (a.div_euclid(d), a.rem_euclid(d)),
    }
}

/// [`divrem`] in `i64`, for `d > 0`.
#[inline]
fn divrem64(a: i64, d: i64) -> (i64, i64) {
    debug_assert!(d > 0);
    // `d > 0`: no overflow (`i64::MIN / -1` is the only one), and a negative remainder lies in
    // `(-d, 0)`, so `r + d` and (with `d >= 2` then) `q - 1` fit.
    let (q, r) = (a / d, a % d);
    if r < 0 { (q - 1, r + d) } else { (q, r) }
}

impl Fx {
    /// `None` when the mantissa does not fit `i64`.
    #[inline]
    fn of(d: Decimal) -> Option<Self> {
        Some(Self {
            m: i64::try_from(d.mantissa()).ok()?,
            s: d.scale(),
        })
    }

    const ZERO: Self = Self { m: 0, s: 0 };

    /// `m * 10^-s` when `Decimal` holds it as it is (any `i64` mantissa fits `Decimal`'s).
    #[inline]
    fn fit(m: i64, s: u32) -> Option<Self> {
        (s <= MAX_SCALE).then_some(Self { m, s })
    }

    /// Both mantissas at the larger scale (not bounded by `Decimal`'s scale: for comparisons).
    #[inline]
    fn aligned(self, o: Self) -> Option<(i64, i64, u32)> {
        if self.s == o.s {
            return Some((self.m, o.m, self.s));
        }
        let s = self.s.max(o.s);
        let a = if s == self.s {
            self.m
        } else {
            self.m.checked_mul(pow10(s - self.s)?)?
        };
        let b = if s == o.s {
            o.m
        } else {
            o.m.checked_mul(pow10(s - o.s)?)?
        };
        Some((a, b, s))
    }

    #[inline]
    fn add(self, o: Self) -> Option<Self> {
        let (a, b, s) = self.aligned(o)?;
        Self::fit(a.checked_add(b)?, s)
    }

    #[inline]
    fn sub(self, o: Self) -> Option<Self> {
        let (a, b, s) = self.aligned(o)?;
        Self::fit(a.checked_sub(b)?, s)
    }

    #[inline]
    fn mul(self, o: Self) -> Option<Self> {
        Self::fit(self.m.checked_mul(o.m)?, self.s + o.s)
    }

    /// `self / d` when the quotient has a finite decimal form `Decimal` holds exactly (and its
    /// mantissa fits `i64`).
    fn div_exact(self, d: i64) -> Option<Self> {
        if d <= 0 {
            return None;
        }
        for k in 0..=MAX_SCALE.checked_sub(self.s)? {
            let n = self.m.checked_mul(pow10(k)?)?;
            let (q, r) = divrem64(n, d);
            if r == 0 {
                return Self::fit(q, self.s + k);
            }
        }
        None
    }

    /// The mantissa at scale `s` (at least this one's).
    #[inline]
    fn at(self, s: u32) -> Option<i64> {
        self.m.checked_mul(pow10(s.checked_sub(self.s)?)?)
    }

    #[inline]
    fn cmp(self, o: Self) -> Option<Ordering> {
        let (a, b, _) = self.aligned(o)?;
        Some(a.cmp(&b))
    }

    #[inline]
    fn is_positive(self) -> bool {
        self.m > 0
    }

    #[inline]
    fn decimal(self) -> Option<Decimal> {
        Decimal::try_new(self.m, self.s).ok()
    }

    /// Mantissa and scale in 128 bits.
    fn wide(self) -> (i128, u32) {
        (i128::from(self.m), self.s)
    }
}

/// The sized volume of `intent` when sizing and every book check pass and the integer path
/// covers the case; `None` otherwise (the `Decimal` path decides). The gate checks have passed.
pub(crate) fn sized_and_checked(
    ctx: &CheckContext<'_>,
    intent: &EntryIntent,
) -> Option<SizedVolume> {
    let cfg = ctx.symbol_config;
    if !ctx.positions.is_empty() {
        return None;
    }
    let spec = ctx.specs.spec(&intent.symbol)?;
    let a = ctx.account;
    let g = &ctx.config.global;
    // The one conversion: the reference makes the same call with the same arguments each time.
    let per_unit = Fx::of(spec.value_per_price_unit(a.currency, ctx.rates)?)?;
    let entry = Fx::of(intent.entry)?;
    let commission = Fx::of(cfg.commission_per_lot)?;
    let leverage = i64::from(a.leverage);

    // Sizing (`size_position`, fixed lots).
    let sl_loss = match intent.sl {
        None => None,
        Some(sl) => {
            if sl <= Decimal::ZERO || intent.entry <= Decimal::ZERO {
                return None;
            }
            let sl = Fx::of(sl)?;
            let distance = match intent.side {
                Side::Buy => entry.sub(sl)?,
                Side::Sell => sl.sub(entry)?,
            };
            if !distance.is_positive() {
                return None;
            }
            Some(distance.mul(per_unit)?)
        }
    };
    let risk_per_lot = match sl_loss {
        Some(l) => Some(l.add(commission)?.add(commission)?),
        None => None,
    };
    let margin_per_lot = Fx { m: 1, s: 0 }
        .mul(entry)?
        .mul(per_unit)?
        .div_exact(leverage)?;
    let (volume_lots, budget) = match cfg.sizing_mode {
        SizingMode::FixedVolume => {
            let v = cfg
                .max_position_size
                .map_or(cfg.fixed_volume, |max| cfg.fixed_volume.min(max));
            (on_grid(spec, cfg, v)?, None)
        }
        SizingMode::RiskPercent => {
            let per_lot = risk_per_lot?;
            let base = match cfg.risk_base {
                RiskBase::Balance => a.balance,
                RiskBase::Equity => a.equity,
            };
            if base <= Decimal::ZERO || !per_lot.is_positive() {
                return None;
            }
            // The book is empty: no stacking multiplier applies.
            let budget = Fx::of(base)?
                .mul(Fx::of(cfg.risk_percent)?)?
                .div_exact(100)?;
            let raw = Decimal::try_from_i128_with_scale(
                rounded_quotient(budget.wide(), per_lot.wide())?,
                VOLUME_NOISE_DP,
            )
            .ok()?;
            let raw = cfg.max_position_size.map_or(raw, |max| raw.min(max));
            let v = on_grid(spec, cfg, raw)?;
            let limit = budget.add(Fx::of(MONEY_TOLERANCE)?)?;
            let v = if Fx::of(v)?.mul(per_lot)?.cmp(limit)? == Ordering::Greater {
                v.checked_sub(spec.volume_step)?
            } else {
                v
            };
            if v < min_volume(spec, cfg) {
                return None;
            }
            (v, Some(budget.decimal()?))
        }
        SizingMode::FractionOfEquity => return None,
    };
    let volume = Fx::of(volume_lots)?;
    let sized = SizedVolume {
        volume: volume_lots,
        risk: match risk_per_lot {
            Some(r) => Some(r.mul(volume)?.decimal()?),
            None => None,
        },
        budget,
        required_margin: margin_per_lot.mul(volume)?.decimal()?,
    };

    // `check_margin`.
    let margin = volume.mul(entry)?.mul(per_unit)?.div_exact(leverage)?;
    let commission = commission.mul(volume)?;
    let after = Fx::of(a.free_margin)?.sub(margin)?.sub(commission)?;
    let min = Fx::of(g.min_free_margin.max(Decimal::ZERO))?;
    if after.cmp(min)? == Ordering::Less {
        return None;
    }
    if let Some(min_level) = g.min_margin_level_percent {
        let used = Fx::of(a.margin)?.add(margin)?;
        if used.is_positive() {
            let level_times_used = Fx::of(a.equity)?
                .sub(commission)?
                .mul(Fx::of(Decimal::ONE_HUNDRED)?)?;
            if !level_at_least(level_times_used, used, Fx::of(min_level)?)? {
                return None;
            }
        }
    }

    // `check_portfolio_risk` (the book is empty: the open risk is this trade's).
    if intent.sl.is_some() || g.portfolio_risk_percent < Decimal::ONE_HUNDRED {
        let new_risk = sl_loss?.mul(volume)?;
        let open_risk = Fx::ZERO.add(new_risk)?;
        if a.balance <= Decimal::ZERO {
            return None;
        }
        let budget = Fx::of(a.balance)?
            .mul(Fx::of(g.portfolio_risk_percent)?)?
            .div_exact(100)?
            .add(Fx::of(MONEY_TOLERANCE)?)?;
        if open_risk.cmp(budget)? == Ordering::Greater {
            return None;
        }
    }

    // `check_currency_exposure` (from an empty book: the trade's value in both currencies).
    let touched = [spec.base_currency, spec.profit_currency];
    if touched.iter().any(|c| g.exposure_cap_percent(*c).is_some())
        && spec.base_currency != spec.profit_currency
    {
        let value = volume.mul(entry)?.mul(per_unit)?;
        if value.m != 0 {
            if a.equity <= Decimal::ZERO {
                return None;
            }
            let now = Fx {
                m: value.m.checked_abs()?,
                ..value
            };
            for currency in touched {
                let Some(cap) = g.exposure_cap_percent(currency) else {
                    continue;
                };
                let limit = Fx::of(a.equity)?.mul(Fx::of(cap)?)?.div_exact(100)?;
                if now.cmp(limit)? == Ordering::Greater {
                    return None;
                }
            }
        }
    }
    Some(sized)
}

/// `v` lots on the symbol's grid (`normalize_volume`) and at least the minimum (`normalize` in
/// sizing); `None` below the minimum or out of bounds.
fn on_grid(spec: &SymbolSpec, cfg: &SymbolRiskConfig, v: Decimal) -> Option<Decimal> {
    let [v, step, max, min, min_volume] = [
        v,
        spec.volume_step,
        spec.volume_max,
        spec.volume_min,
        min_volume(spec, cfg),
    ]
    .map(Fx::of);
    let (v, step, max, min, min_volume) = (v?, step?, max?, min?, min_volume?);
    let s = v.s.max(step.s).max(max.s).max(min.s).max(min_volume.s);
    // `(a / b).floor()` in `Decimal` equals the integer floor when `a` and `b` (mantissas at a
    // common scale) are below 10^25: a quotient `q` that is not whole lies at least `1 / b`
    // below the next whole number, while `Decimal` rounds it by at most `q * 10^-27` (28
    // significant digits) or `10^-28`. Every `i64` mantissa is below 2^63 < 10^25.
    let (v, step, max) = (v.at(s)?, step.at(s)?, max.at(s)?);
    if step <= 0 {
        return None;
    }
    let v = divrem64(v, step).0.checked_mul(step)?.min(max);
    let v = divrem64(v, step).0.checked_mul(step)?;
    if v < min.at(s)? || v < min_volume.at(s)? {
        return None;
    }
    Fx::fit(v, s)?.decimal().map(|d| d.normalize())
}

fn min_volume(spec: &SymbolSpec, cfg: &SymbolRiskConfig) -> Decimal {
    cfg.min_position_size
        .map_or(spec.volume_min, |m| m.max(spec.volume_min))
}

/// `(budget / per_lot).round_dp(12)` as `Decimal` computes it, in units of 10^-12: the exact
/// quotient rounded half to even, when `Decimal`'s own rounding of the quotient (28 significant
/// digits, or 10^-28) cannot move it across a rounding midpoint. `None` when it could, or on
/// overflow. `per_lot` is positive.
fn rounded_quotient(budget: (i128, u32), per_lot: (i128, u32)) -> Option<i128> {
    // q * 10^12 = n / d.
    let n = budget
        .0
        .checked_mul(pow10_wide(per_lot.1 + VOLUME_NOISE_DP)?)?;
    let d = per_lot.0.checked_mul(pow10_wide(budget.1)?)?;
    let (f, r) = divrem(n, d);
    if r == 0 {
        return Some(f);
    }
    let twice = r.checked_mul(2)?;
    if twice == d {
        // Exactly halfway at 13 decimals: `Decimal` holds the quotient exactly.
        return Some(f + (f & 1));
    }
    // Distance from the midpoint, `|2r - d| / 2d` units, against `Decimal`'s error of at most
    // `(f + 1) * 10^-26 + 10^-15` units (with a factor ten to spare).
    let distance = (twice - d).abs().checked_mul(10i128.pow(26))?;
    let error = d
        .checked_mul(2)?
        .checked_mul(f.abs().checked_add(1)?.checked_add(10i128.pow(11))?)?;
    (distance > error).then_some(f + i128::from(twice > d))
}

/// Whether `numerator / used >= min` as the reference's rounded quotient compares: the exact
/// quotient decides, since rounding to nearest is monotone and `min` (a short decimal, for a
/// quotient near it) lies on the grid the quotient is rounded to. `None` when not sure.
fn level_at_least(numerator: Fx, used: Fx, min: Fx) -> Option<bool> {
    // `min` has at most 4 decimals and is below 10^18. A quotient below 10^20 is rounded to at
    // least 8 decimals, a grid `min` lies on; one of 10^20 or more rounds to 10^20 or more,
    // still above `min`.
    if min.s > 4 || i128::from(min.m).abs() >= 10i128.pow(18 + min.s) {
        return None;
    }
    let bound = min.mul(used)?;
    Some(numerator.cmp(bound)? != Ordering::Less)
}

#[cfg(test)]
#[path = "exact_tests.rs"]
mod tests;
