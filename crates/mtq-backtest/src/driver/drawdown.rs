//! The largest fall from a running peak of equity, tracked on every bar: most bars compare the
//! equity in whole money units against precomputed thresholds; only a new peak or a new maximum
//! fall takes `Decimal` arithmetic.

use mtq_core::{Decimal, decimal_units as units};

/// The running peak, the maxima, and the equities below which the fall sets a new maximum.
#[derive(Debug)]
pub(super) struct Drawdown {
    pub(super) peak: Decimal,
    pub(super) max_pct: Decimal,
    pub(super) max_money: Decimal,
    /// Equity below which the fall from `peak` sets a new money / percent maximum: each bar
    /// compares against these instead of doing arithmetic.
    below_money: Decimal,
    below_pct: Decimal,
    /// The same thresholds and the peak in the account currency's smallest unit.
    pub(super) units: Option<DrawdownUnits>,
    /// `below_money`/`below_pct` lag a peak set in units.
    stale: bool,
}

/// The drawdown thresholds in whole money units: an equity within them changes nothing.
#[derive(Clone, Copy, Debug)]
pub(super) struct DrawdownUnits {
    pub(super) peak: i64,
    pub(super) below_money: i64,
    pub(super) below_pct: i64,
    /// The largest fall so far in units, and in percent as `f64` (for thresholds at a new peak).
    max_money: i64,
    pub(super) max_pct: f64,
}

impl Drawdown {
    /// No fall yet from a first peak of `peak`, with `money` decimals to the account currency.
    pub(super) fn new(peak: Decimal, money: u32) -> Self {
        let mut d = Self {
            peak,
            max_pct: Decimal::ZERO,
            max_money: Decimal::ZERO,
            below_money: peak,
            below_pct: peak,
            units: None,
            stale: false,
        };
        d.set_thresholds(money);
        d
    }

    /// Whether an equity of `e` units sets no new peak and no new maximum fall.
    pub(super) fn within(&self, e: i64) -> bool {
        self.units
            .is_some_and(|u| e <= u.peak && e >= u.below_money && e >= u.below_pct)
    }

    /// A new peak of `e` units, without `Decimal` arithmetic: the integer thresholds move with
    /// it, the percent one rounded up generously (it only decides which bars take the exact path
    /// in [`Drawdown::track`], whose maxima an extra visit cannot change), and the `Decimal`
    /// thresholds are worked out again when that path next runs.
    pub(super) fn new_peak_in_units(&mut self, e: i64, u: DrawdownUnits, money: u32) {
        self.peak = Decimal::new(e, money);
        self.stale = true;
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        // `e` and the result are far below 2^53 for any account; the margin covers the rounding.
        let below_pct = {
            let x = e as f64 * (1.0 - u.max_pct / 100.0);
            x as i64 + (e / 1_000_000_000_000).abs() + 2
        };
        self.units = Some(DrawdownUnits {
            peak: e,
            below_money: e - u.max_money,
            below_pct,
            ..u
        });
    }

    /// A new peak or a new maximum fall, in `Decimal`; the integer thresholds follow.
    pub(super) fn track(&mut self, equity: Decimal, money: u32) {
        if self.stale {
            self.set_thresholds(money);
        }
        if equity > self.peak {
            self.peak = equity;
            self.set_thresholds(money);
        } else if self.peak > Decimal::ZERO
            && (equity < self.below_money || equity < self.below_pct)
        {
            let fall = self.peak - equity;
            self.max_money = self.max_money.max(fall);
            self.max_pct = self.max_pct.max(fall * Decimal::ONE_HUNDRED / self.peak);
            self.set_thresholds(money);
        }
    }

    /// The equities that would set a new maximum drawdown from the current peak.
    fn set_thresholds(&mut self, money: u32) {
        self.below_money = self.peak - self.max_money;
        self.below_pct = self.peak - self.peak * self.max_pct / Decimal::ONE_HUNDRED;
        self.stale = false;
        // An equity of `e` units is below a threshold `x` exactly when `e < ceil(x)` in units.
        self.units = (self.peak > Decimal::ZERO)
            .then(|| {
                use rust_decimal::prelude::ToPrimitive;
                Some(DrawdownUnits {
                    peak: units(self.peak, money)?,
                    below_money: ceil_units(self.below_money, money)?,
                    below_pct: ceil_units(self.below_pct, money)?,
                    max_money: units(self.max_money, money)?,
                    max_pct: self.max_pct.to_f64()?,
                })
            })
            .flatten();
    }
}

/// `d` in units of `10^-scale`, rounded up, when that fits an `i64`.
fn ceil_units(d: Decimal, scale: u32) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    d.checked_mul(Decimal::from(10i64.checked_pow(scale)?))?
        .ceil()
        .to_i64()
}
