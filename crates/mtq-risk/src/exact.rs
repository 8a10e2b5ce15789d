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
//! integer path does the same operations, in the same order, on `(i128 mantissa, scale)` pairs
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
use crate::config::SizingMode;
use crate::sizing::{MONEY_TOLERANCE, SizedVolume};

/// The largest `Decimal` mantissa, 2^96 - 1.
const MAX_MANTISSA: i128 = (1 << 96) - 1;
/// The largest `Decimal` scale.
const MAX_SCALE: u32 = 28;
/// Bounds under which `(a / b).floor()` in `Decimal` equals the integer floor: with both
/// operands below 10^12 (at a common scale), a quotient that is not whole lies at least 10^-12
/// below the next whole number, far more than `Decimal`'s rounding of the quotient.
const FLOOR_EXACT_BELOW: i128 = 1_000_000_000_000;

/// A `Decimal`'s value as mantissa and scale: `m * 10^-s`, within `Decimal`'s bounds.
#[derive(Clone, Copy, Debug)]
struct Fx {
    m: i128,
    s: u32,
}

fn pow10(k: u32) -> Option<i128> {
    10i128.checked_pow(k)
}

impl Fx {
    fn of(d: Decimal) -> Self {
        Self {
            m: d.mantissa(),
            s: d.scale(),
        }
    }

    const ZERO: Self = Self { m: 0, s: 0 };

    /// `m * 10^-s` when `Decimal` holds it as it is.
    fn fit(m: i128, s: u32) -> Option<Self> {
        (s <= MAX_SCALE && m.abs() <= MAX_MANTISSA).then_some(Self { m, s })
    }

    /// Both mantissas at the larger scale (not bounded by `Decimal`: for comparisons).
    fn aligned(self, o: Self) -> Option<(i128, i128, u32)> {
        let s = self.s.max(o.s);
        let a = self.m.checked_mul(pow10(s - self.s)?)?;
        let b = o.m.checked_mul(pow10(s - o.s)?)?;
        Some((a, b, s))
    }

    fn add(self, o: Self) -> Option<Self> {
        let (a, b, s) = self.aligned(o)?;
        Self::fit(a.checked_add(b)?, s)
    }

    fn sub(self, o: Self) -> Option<Self> {
        let (a, b, s) = self.aligned(o)?;
        Self::fit(a.checked_sub(b)?, s)
    }

    fn mul(self, o: Self) -> Option<Self> {
        Self::fit(self.m.checked_mul(o.m)?, self.s + o.s)
    }

    /// `self / d` when the quotient has a finite decimal form `Decimal` holds exactly.
    fn div_exact(self, d: i128) -> Option<Self> {
        if d <= 0 {
            return None;
        }
        for k in 0..=MAX_SCALE - self.s {
            let n = self.m.checked_mul(pow10(k)?)?;
            if n % d == 0 {
                return Self::fit(n / d, self.s + k);
            }
            if n.abs() > MAX_MANTISSA {
                return None;
            }
        }
        None
    }

    /// The mantissa at scale `s` (at least this one's).
    fn at(self, s: u32) -> Option<i128> {
        self.m.checked_mul(pow10(s.checked_sub(self.s)?)?)
    }

    fn cmp(self, o: Self) -> Option<Ordering> {
        let (a, b, _) = self.aligned(o)?;
        Some(a.cmp(&b))
    }

    fn is_positive(self) -> bool {
        self.m > 0
    }

    fn decimal(self) -> Option<Decimal> {
        Decimal::try_from_i128_with_scale(self.m, self.s).ok()
    }
}

/// The sized volume of `intent` when sizing and every book check pass and the integer path
/// covers the case; `None` otherwise (the `Decimal` path decides). The gate checks have passed.
pub(crate) fn sized_and_checked(
    ctx: &CheckContext<'_>,
    intent: &EntryIntent,
) -> Option<SizedVolume> {
    let cfg = ctx.symbol_config;
    if cfg.sizing_mode != SizingMode::FixedVolume || !ctx.positions.is_empty() {
        return None;
    }
    let spec = ctx.specs.spec(&intent.symbol)?;
    let a = ctx.account;
    let g = &ctx.config.global;
    // The one conversion: the reference makes the same call with the same arguments each time.
    let per_unit = Fx::of(spec.value_per_price_unit(a.currency, ctx.rates)?);
    let entry = Fx::of(intent.entry);
    let commission = Fx::of(cfg.commission_per_lot);
    let leverage = i128::from(a.leverage);

    // Sizing (`size_position`, fixed lots).
    let sl_loss = match intent.sl {
        None => None,
        Some(sl) => {
            if sl <= Decimal::ZERO || intent.entry <= Decimal::ZERO {
                return None;
            }
            let sl = Fx::of(sl);
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
    let volume_lots = fixed_volume(spec, cfg)?;
    let volume = Fx::of(volume_lots);
    let sized = SizedVolume {
        volume: volume_lots,
        risk: match risk_per_lot {
            Some(r) => Some(r.mul(volume)?.decimal()?),
            None => None,
        },
        budget: None,
        required_margin: margin_per_lot.mul(volume)?.decimal()?,
    };

    // `check_margin`.
    let margin = volume.mul(entry)?.mul(per_unit)?.div_exact(leverage)?;
    let commission = commission.mul(volume)?;
    let after = Fx::of(a.free_margin).sub(margin)?.sub(commission)?;
    let min = Fx::of(g.min_free_margin.max(Decimal::ZERO));
    if after.cmp(min)? == Ordering::Less {
        return None;
    }
    if let Some(min_level) = g.min_margin_level_percent {
        let used = Fx::of(a.margin).add(margin)?;
        if used.is_positive() {
            let level_times_used = Fx::of(a.equity)
                .sub(commission)?
                .mul(Fx::of(Decimal::ONE_HUNDRED))?;
            if !level_at_least(level_times_used, used, Fx::of(min_level))? {
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
        let budget = Fx::of(a.balance)
            .mul(Fx::of(g.portfolio_risk_percent))?
            .div_exact(100)?
            .add(Fx::of(MONEY_TOLERANCE))?;
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
                m: value.m.abs(),
                ..value
            };
            for currency in touched {
                let Some(cap) = g.exposure_cap_percent(currency) else {
                    continue;
                };
                let limit = Fx::of(a.equity).mul(Fx::of(cap))?.div_exact(100)?;
                if now.cmp(limit)? == Ordering::Greater {
                    return None;
                }
            }
        }
    }
    Some(sized)
}

/// The fixed volume, capped at `max_position_size`, on the symbol's grid (`normalize_volume`)
/// and at least the minimum (`normalize` in sizing); `None` below the minimum or out of bounds.
fn fixed_volume(spec: &SymbolSpec, cfg: &SymbolRiskConfig) -> Option<Decimal> {
    let v = cfg
        .max_position_size
        .map_or(cfg.fixed_volume, |max| cfg.fixed_volume.min(max));
    let min_volume = cfg
        .min_position_size
        .map_or(spec.volume_min, |m| m.max(spec.volume_min));
    let parts = [
        v,
        spec.volume_step,
        spec.volume_max,
        spec.volume_min,
        min_volume,
    ]
    .map(Fx::of);
    let s = parts.iter().map(|p| p.s).max()?;
    let [v, step, max, min, min_volume] = parts.map(|p| p.at(s));
    let (v, step) = (v?, step?);
    if step <= 0 || v.abs() >= FLOOR_EXACT_BELOW || step >= FLOOR_EXACT_BELOW {
        return None;
    }
    let v = (v.div_euclid(step) * step).min(max?);
    let v = v.div_euclid(step) * step;
    if v < min? || v < min_volume? {
        return None;
    }
    Fx::fit(v, s)?.decimal().map(|d| d.normalize())
}

/// Whether `numerator / used >= min` as the reference's rounded quotient compares: the exact
/// quotient decides, since rounding to nearest is monotone and `min` (a short decimal, for a
/// quotient near it) lies on the grid the quotient is rounded to. `None` when not sure.
fn level_at_least(numerator: Fx, used: Fx, min: Fx) -> Option<bool> {
    // `min` has at most 4 decimals and is below 10^18. A quotient below 10^20 is rounded to at
    // least 8 decimals, a grid `min` lies on; one of 10^20 or more rounds to 10^20 or more,
    // still above `min`.
    if min.s > 4 || min.m.abs() >= 10i128.pow(18 + min.s) {
        return None;
    }
    let bound = min.mul(used)?;
    Some(numerator.cmp(bound)? != Ordering::Less)
}

#[cfg(test)]
#[path = "exact_tests.rs"]
mod tests;
