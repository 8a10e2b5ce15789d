//! The account and positions a driver shows its trader, kept between bars and brought up to date
//! by [`Simulator::mark_view`]. The simulator owns every formula: after anything but the quote
//! changed the view is copied in full ([`Simulator::snapshot`]); otherwise its positions are
//! marked to the new quote with the snapshot's own arithmetic, in whole units of price and money
//! where that is exact and in `Decimal` where it is not. The quiet-bar path reads the equity at a
//! quote from the same marks ([`super::QuietView::open_equity`]): no other crate marks a position.

use mtq_core::{
    AccountInfo, Decimal, Position, Side, decimal_of, decimal_units as units, grid_points,
    mark_price, point_scale, ratio_half_even,
};

use super::{Simulator, SymbolId};

/// What a driver's trader reads of the account: its `account` and `positions`, and the marks
/// that move them to a new quote cheaply. Made by [`Simulator::account_view`], refreshed by
/// [`Simulator::mark_view`]; call [`AccountView::changed`] after anything but the quote may have
/// changed (an order, a close, a modification, events drained).
#[derive(Debug)]
pub struct AccountView {
    /// The account as the trader reads it. A driver may adjust it after a refresh (the
    /// backtest's all-in sizing does); the next full copy overwrites it.
    pub account: AccountInfo,
    /// The open positions, in the simulator's order.
    pub positions: Vec<Position>,
    /// The symbol whose quote marks the positions.
    symbol: SymbolId,
    /// 10^digits of that symbol when its tick is one point, else 0.
    scale: f64,
    /// Positions can be marked to the quote: the tick is one point and the symbol's profit
    /// currency is the account's.
    fast: bool,
    /// Something other than the quote changed since the last copy.
    changed: bool,
    /// Every copied position is on `symbol` (else each refresh copies).
    single: bool,
    /// The copied positions in whole units (empty when a value is not a whole number of them:
    /// the `Decimal` marking is used then).
    marks: Vec<Mark>,
    /// Balance and margin of the copied account in the account currency's smallest unit.
    balance_units: i64,
    margin_units: i64,
    /// The current equity in those units, when it is a whole number of them.
    equity_units: Option<i64>,
}

/// A copied position in whole units: its open price in points, the money one point is worth at
/// its volume in `1/div` of the account currency's smallest unit, and its swap in that unit.
/// `div` is 1 when a point is worth whole cents (0.10 lot of EURUSD: 100 cents); a volume in
/// single units (9,123 EURUSD of contract size 1: 9.123 cents a point) keeps the finer unit, and
/// the profit is rounded to cents half to even, as the snapshot's `round_dp` rounds it.
#[derive(Clone, Copy, Debug)]
struct Mark {
    buy: bool,
    open: i64,
    per_point: i64,
    div: i64,
    /// `1 / div`, to estimate the profit's quotient with ([`rounded_ratio`]).
    inv: f64,
    swap: i64,
}

impl Mark {
    /// The marks of a position of `side` and `volume` opened at `open` with `swap` so far, on
    /// `spec` in an account with `money` decimals; `None` when a value is not a whole number of
    /// units.
    fn of(
        spec: &mtq_core::SymbolSpec,
        money: u32,
        side: Side,
        volume: Decimal,
        open: Decimal,
        swap: Decimal,
    ) -> Option<Self> {
        let point = Decimal::new(1, spec.digits);
        let (per_point, div) = fine_units(volume.checked_mul(spec.contract_size)? * point, money)?;
        Some(Self {
            buy: side == Side::Buy,
            open: units(open, spec.digits)?,
            per_point,
            div,
            #[allow(clippy::cast_precision_loss)]
            inv: 1.0 / div as f64,
            swap: units(swap, money)?,
        })
    }
}

impl Mark {
    /// The profit in the account currency's smallest unit of `diff` points.
    #[inline]
    fn profit(&self, diff: i64) -> Option<i64> {
        let fine = diff.checked_mul(self.per_point)?;
        if self.div == 1 {
            Some(fine)
        } else {
            rounded_ratio(fine, self.div, self.inv)
        }
    }
}

/// [`ratio_half_even`]`(num, den)` without a 64-bit division when `|num| < 2^52` and `den` is
/// from 2 to `2^32` (`inv` is `1.0 / den as f64`): the marks divide on every quiet bar, and a
/// division is the slowest instruction there.
///
/// Why it is the same: below `2^52` the numerator is exact in `f64`, and the estimate
/// `num * inv` errs by two roundings of at most `2^-53` of the quotient, whose size is below
/// `2^51`: less than 0.6 in all. Its truncation is thus within two of the floor; the remainder
/// `num - q * den` (no overflow: `|q * den|` stays within `|num| + 2 * den`) corrects it to the
/// floor with `0 <= r < den`. The rounding is then `ratio_half_even`'s, without branches: up
/// when `r` is more than `den - r`, and on a tie up only from an odd quotient.
/// `rounded_ratios_are_ratio_half_even` holds the two together.
#[inline]
fn rounded_ratio(num: i64, den: i64, inv: f64) -> Option<i64> {
    const LIMIT: i64 = 1 << 52;
    if !(-LIMIT..LIMIT).contains(&num) || !(2..=1 << 32).contains(&den) {
        return ratio_half_even(num, den);
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let mut q = (num as f64 * inv) as i64;
    let mut r = num - q * den;
    while r < 0 {
        q -= 1;
        r += den;
    }
    while r >= den {
        q += 1;
        r -= den;
    }
    let rest = den - r;
    Some(q + i64::from(r > rest) + (i64::from(r == rest) & q & 1))
}

/// Finer units than the account currency's smallest one a point's worth may be counted in:
/// up to 10^-6 of a cent.
const MAX_FINE_DIGITS: u32 = 6;

/// `value` (money) as a whole number of `10^-(money + e)` for the smallest `e` that makes it
/// one, with `10^e`.
fn fine_units(value: Decimal, money: u32) -> Option<(i64, i64)> {
    // The smallest `e` is where `money + e` reaches the decimals `value` needs (its scale less
    // its mantissa's trailing zeros): below it the units are not whole, and from it on they are
    // (or overflow, and more so further on). Counted in `i64` when the mantissa fits (an `i128`
    // remainder is a library call); otherwise each `e` is tried in turn.
    let Ok(mut m) = i64::try_from(value.mantissa()) else {
        return (0..=MAX_FINE_DIGITS).find_map(|e| Some((units(value, money + e)?, 10i64.pow(e))));
    };
    let mut needed = value.scale();
    while needed > money && m % 10 == 0 {
        m /= 10;
        needed -= 1;
    }
    let e = needed.saturating_sub(money);
    if e > MAX_FINE_DIGITS {
        return None;
    }
    Some((units(value, money + e)?, 10i64.pow(e)))
}

impl AccountView {
    /// Something other than the quote may have changed: the next [`Simulator::mark_view`] copies
    /// the account and positions in full.
    #[inline]
    pub fn changed(&mut self) {
        self.changed = true;
    }

    /// Copies the account and positions in full on every refresh instead of marking them: the
    /// reference that marking is checked against, at several times the cost.
    pub fn copy_always(&mut self) {
        self.fast = false;
    }

    /// The equity in the account currency's smallest unit, when it is a whole number of them.
    #[inline]
    pub fn equity_units(&self) -> Option<i64> {
        self.equity_units
    }

    /// Whether the view is current and exact in whole units: nothing changed since it was read,
    /// and its equity (flat) or every position (open) is held in units. The quiet-bar path needs
    /// it.
    #[inline]
    pub(crate) fn in_units(&self) -> bool {
        self.fast
            && !self.changed
            && if self.positions.is_empty() {
                self.equity_units.is_some()
            } else {
                self.marks.len() == self.positions.len()
            }
    }

    pub(crate) fn symbol(&self) -> SymbolId {
        self.symbol
    }

    /// The equity with the copied positions marked at `bid`/`ask`, in whole units, as
    /// [`Simulator::mark_view`] would work it out; `None` where it would not.
    #[inline]
    pub(crate) fn equity_at(&self, bid: f64, ask: f64) -> Option<i64> {
        if self.positions.is_empty() {
            return self.equity_units;
        }
        if let [m] = self.marks.as_slice() {
            // One position: only its side of the quote is put on the grid (the other does not
            // enter the equity; near a rounding tie `mark_in_units` leaves the marking to
            // `Decimal`, which gives the same equity).
            let diff = if m.buy {
                grid_points(self.scale, bid)? - m.open
            } else {
                m.open - grid_points(self.scale, ask)?
            };
            return self
                .balance_units
                .checked_add(m.profit(diff)?.checked_add(m.swap)?);
        }
        let (bid, ask) = (grid_points(self.scale, bid)?, grid_points(self.scale, ask)?);
        let mut floating: i64 = 0;
        for m in &self.marks {
            let diff = if m.buy { bid - m.open } else { m.open - ask };
            floating = floating.checked_add(m.profit(diff)?.checked_add(m.swap)?)?;
        }
        self.balance_units.checked_add(floating)
    }
}

impl Simulator {
    /// A view of the account whose positions the quote of `symbol` marks, to be refreshed with
    /// [`Simulator::mark_view`] before it is read.
    pub fn account_view(&self, symbol: SymbolId) -> AccountView {
        let spec = &self.symbols[symbol.0].spec;
        let scale = point_scale(spec);
        AccountView {
            account: self.account(),
            positions: Vec::new(),
            symbol,
            scale,
            fast: scale > 0.0 && spec.profit_currency == self.cfg.currency,
            changed: true,
            single: true,
            marks: Vec::new(),
            balance_units: 0,
            margin_units: 0,
            equity_units: None,
        }
    }

    /// Brings `view` up to date: a flat account from the balance, positions copied in full after
    /// a change, else marked to the current quote as [`Simulator::snapshot`] would give them (a
    /// position's price is the bid for buys and the ask for sells on the tick grid, its profit
    /// the price difference times volume and contract size rounded to the account's cents,
    /// equity the balance plus profits and swaps, margin unchanged).
    #[inline]
    pub fn mark_view(&self, view: &mut AccountView) {
        let tick = self.tick(view.symbol);
        let open = self.positions.len();
        if open == 0 {
            // A flat view made earlier stays right: only a deal, which marks it changed, moves
            // the balance.
            if view.changed || !view.positions.is_empty() {
                let balance = self.balance;
                view.positions.clear();
                view.marks.clear();
                let a = &mut view.account;
                a.balance = balance;
                a.equity = balance;
                a.margin = Decimal::ZERO;
                a.free_margin = balance;
                a.margin_level = None;
                view.equity_units = units(balance, self.cfg.money_digits);
            }
        } else if view.changed
            || !view.fast
            || !view.single
            || open != view.positions.len()
            || tick.is_none()
        {
            self.copy_view(view);
        } else if let Some(t) = tick {
            self.mark_to_quote(view, t.bid, t.ask);
        }
        view.changed = false;
    }

    /// The account and positions copied in full, and their marks in whole units worked out
    /// again.
    fn copy_view(&self, v: &mut AccountView) {
        if v.fast && self.copy_in_units(v).is_some() {
            return;
        }
        self.snapshot(&mut v.account, &mut v.positions);
        v.marks.clear();
        let money = self.cfg.money_digits;
        v.equity_units = units(v.account.equity, money);
        v.single = self.positions.iter().all(|p| p.sym == v.symbol.0);
        if !v.fast || !v.single {
            return;
        }
        let spec = &self.symbols[v.symbol.0].spec;
        for p in &v.positions {
            match Mark::of(spec, money, p.side, p.volume, p.open_price, p.swap) {
                Some(m) => v.marks.push(m),
                None => {
                    v.marks.clear();
                    return;
                }
            }
        }
        match (
            units(v.account.balance, money),
            units(v.account.margin, money),
        ) {
            (Some(b), Some(m)) => (v.balance_units, v.margin_units) = (b, m),
            _ => v.marks.clear(),
        }
    }

    /// [`Simulator::copy_view`] without the snapshot's `Decimal` profits, when every position
    /// is on the view's symbol and has marks: the positions and the account's other fields
    /// copied, then marked to the current quote in whole units ([`mark_in_units`], the
    /// snapshot's values). `None` when any of that is not so: the caller copies in full, which
    /// rewrites whatever this wrote.
    fn copy_in_units(&self, v: &mut AccountView) -> Option<()> {
        let tick = self.tick(v.symbol)?;
        if !self.positions.iter().all(|p| p.sym == v.symbol.0) {
            return None;
        }
        let money = self.cfg.money_digits;
        let spec = &self.symbols[v.symbol.0].spec;
        v.positions.clear();
        v.marks.clear();
        for p in &self.positions {
            v.marks.push(Mark::of(
                spec,
                money,
                p.side,
                p.volume,
                p.open_price,
                p.swap,
            )?);
            v.positions.push(self.position_unmarked(p));
        }
        let margin = self.margin_used();
        v.balance_units = units(self.balance, money)?;
        v.margin_units = units(margin, money)?;
        self.account_book(&mut v.account, margin);
        v.single = true;
        mark_in_units(v, spec.digits, money, tick.bid, tick.ask)
    }

    /// The copied positions moved to a new quote: in whole units when every value is one
    /// ([`mark_in_units`]), else in `Decimal`.
    #[inline]
    fn mark_to_quote(&self, v: &mut AccountView, bid: f64, ask: f64) {
        let spec = &self.symbols[v.symbol.0].spec;
        if mark_in_units(v, spec.digits, self.cfg.money_digits, bid, ask).is_some() {
            return;
        }
        let (Some(bid), Some(ask)) = (
            mark_price(spec, v.scale, bid),
            mark_price(spec, v.scale, ask),
        ) else {
            self.copy_view(v);
            return;
        };
        let digits = self.cfg.money_digits;
        let mut floating = Decimal::ZERO;
        for p in &mut v.positions {
            let (price, diff) = match p.side {
                Side::Buy => (bid, bid - p.open_price),
                Side::Sell => (ask, p.open_price - ask),
            };
            p.current_price = price;
            p.profit = (diff * p.volume * spec.contract_size).round_dp(digits);
            floating += p.profit + p.swap;
        }
        v.equity_units = None;
        let a = &mut v.account;
        a.balance = self.balance;
        a.equity = a.balance + floating;
        a.free_margin = a.equity - a.margin;
        a.margin_level = (a.margin > Decimal::ZERO)
            .then(|| (a.equity / a.margin * Decimal::ONE_HUNDRED).round_dp(2));
    }
}

/// Marking in whole units of price and money: a position's profit is its price difference in
/// points times the money a point is worth at its volume, exactly what the snapshot's rounded
/// `Decimal` product gives when that value is a whole number of cents. `None` (nothing changed)
/// when the quote is near a rounding tie, a value did not convert or the arithmetic would
/// overflow.
#[inline]
fn mark_in_units(v: &mut AccountView, digits: u32, money: u32, bid: f64, ask: f64) -> Option<()> {
    if v.marks.len() != v.positions.len() || v.marks.is_empty() {
        return None;
    }
    let (bid, ask) = (grid_points(v.scale, bid)?, grid_points(v.scale, ask)?);
    // One pass: positions are written as they are marked. Should the arithmetic overflow part
    // way, the caller's `Decimal` marking rewrites every position.
    let mut floating: i64 = 0;
    for (p, m) in v.positions.iter_mut().zip(&v.marks) {
        let (price, diff) = if m.buy {
            (bid, bid - m.open)
        } else {
            (ask, m.open - ask)
        };
        let profit = m.profit(diff)?;
        floating = floating.checked_add(profit.checked_add(m.swap)?)?;
        p.current_price = decimal_of(price, digits);
        p.profit = decimal_of(profit, money);
    }
    let equity = v.balance_units.checked_add(floating)?;
    let margin_level = if v.margin_units > 0 {
        Some(decimal_of(
            ratio_half_even(equity.checked_mul(10_000)?, v.margin_units)?,
            2,
        ))
    } else {
        None
    };
    v.equity_units = Some(equity);
    let a = &mut v.account;
    a.equity = decimal_of(equity, money);
    a.free_margin = decimal_of(equity - v.margin_units, money);
    a.margin_level = margin_level;
    Some(())
}

#[cfg(test)]
mod tests {
    use mtq_core::testkit::{eurusd, monday, random_walk};
    use mtq_core::{ClientOrderId, OrderRequest, SplitMix64, SymbolSpec, Timeframe};
    use rust_decimal_macros::dec;

    use super::*;
    use crate::SimConfig;
    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300_000))]
        /// The division-free quotient is `ratio_half_even`'s: numerators anywhere in `i64`, at
        /// and around the `2^52` bound, at and around exact multiples and halves of the divisor;
        /// divisors the marks use (powers of ten up to `10^6`) and any others up to past `2^32`.
        #[test]
        fn rounded_ratios_are_ratio_half_even(
            den in proptest::prop_oneof![
                (0u32..=6).prop_map(|e| 10i64.pow(e)),
                1i64..=1_000_000,
                (1i64 << 32) - 3..=(1i64 << 32) + 3,
                -3i64..=3,
            ],
            kind in 0u8..5,
            any in proptest::num::i64::ANY,
            small in -1_000_000_000i64..1_000_000_000,
            off in -3i64..=3,
        ) {
            let num = match kind {
                0 => any,
                1 => small,
                2 => (1i64 << 52).saturating_add(off).saturating_mul(small.signum()),
                3 => small.saturating_mul(den).saturating_add(off),
                _ => small.saturating_mul(den).saturating_add(den / 2).saturating_add(off),
            };
            #[allow(clippy::cast_precision_loss)]
            let inv = 1.0 / den as f64;
            proptest::prop_assert_eq!(rounded_ratio(num, den, inv), ratio_half_even(num, den));
        }
    }

    /// On every bar of a random walk with positions opened and closed at random, a view kept up
    /// to date by marking reads exactly what a fresh snapshot reads, and its equity at the quote
    /// is the snapshot's in whole units. Returns the bars marked in whole units.
    fn marking_matches_snapshots(spec: SymbolSpec, volumes: [Decimal; 3], seed: u64) -> usize {
        let symbol = spec.symbol.clone();
        let mut sim = Simulator::new(SimConfig::default(), [spec]).unwrap();
        let id = sim.symbol_id(&symbol).unwrap();
        let mut view = sim.account_view(id);
        let mut rng = SplitMix64::new(seed);
        let (mut marked, mut in_units, mut n) = (0, 0, 0);
        for bar in random_walk(3_000, 5, Timeframe::M5, monday(), 1.1, 10) {
            sim.on_bar(id, &bar);
            let roll = rng.next_f64();
            if roll < 0.03 {
                n += 1;
                let side = if rng.next_f64() < 0.5 {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let id = ClientOrderId::new(&format!("t-{n}")).unwrap();
                let volume = volumes[n % 3];
                let _ = sim.send_order(&OrderRequest::market(id, symbol.clone(), side, volume));
                view.changed();
            } else if roll < 0.05
                && let Some(p) = sim.positions().first()
            {
                let _ = sim.close_position(p.ticket, None);
                view.changed();
            }
            let mut events = Vec::new();
            sim.drain_events(&mut events);
            if !events.is_empty() {
                view.changed();
            }
            let marking = !view.changed && !view.positions.is_empty();
            sim.mark_view(&mut view);
            marked += usize::from(marking);
            let (mut account, mut positions) = (view.account.clone(), Vec::new());
            sim.snapshot(&mut account, &mut positions);
            assert_eq!(view.account, account, "{bar:?}");
            assert_eq!(view.positions, positions, "{bar:?}");
            if view.in_units() && !view.positions.is_empty() {
                in_units += 1;
                let t = sim.tick(id).unwrap();
                assert_eq!(
                    view.equity_at(t.bid, t.ask),
                    units(account.equity, 2),
                    "{bar:?}"
                );
            }
        }
        assert!(marked > 1_000, "only {marked} bars were marked");
        in_units
    }

    /// The units found from the value's needed decimals are those of trying each finer unit in
    /// turn (the definition), for values with and without trailing zeros, zero, negatives, too
    /// fine a value and one whose units overflow.
    #[test]
    fn fine_units_are_the_first_whole_count_of_finer_units() {
        let by_trial = |v: Decimal, money: u32| {
            (0..=MAX_FINE_DIGITS).find_map(|e| Some((units(v, money + e)?, 10i64.pow(e))))
        };
        let mut rng = SplitMix64::new(21);
        let mut values = vec![
            Decimal::ZERO,
            dec!(0.00),
            dec!(-0.000),
            dec!(0.09123),
            dec!(0.0912300),
            dec!(1.5),
            dec!(-7.770),
            dec!(0.000000001),
            dec!(92233720368547758.07),
            dec!(9223372036854775807),
            dec!(79228162514264337593543950335),
        ];
        for _ in 0..20_000 {
            #[allow(clippy::cast_possible_wrap)]
            let m = (rng.next_u64() >> (rng.next_u64() % 64)) as i64;
            let m = if rng.next_f64() < 0.5 {
                m.wrapping_neg()
            } else {
                m
            };
            #[allow(clippy::cast_possible_truncation)]
            let scale = (rng.next_u64() % 16) as u32;
            values.push(Decimal::new(m, scale));
            values.push(Decimal::new(m, scale) * dec!(1000));
        }
        for v in values {
            for money in [0, 2, 3] {
                assert_eq!(fine_units(v, money), by_trial(v, money), "{v} at {money}");
            }
        }
    }

    #[test]
    fn a_marked_view_equals_a_fresh_snapshot_on_every_bar() {
        let n = marking_matches_snapshots(eurusd(), [dec!(0.01), dec!(0.37), dec!(1.5)], 17);
        assert!(n > 1_000, "only {n} bars in whole units");
    }

    /// Volumes in single units of contract size 1 (the Python-parity settings): a point is
    /// worth a fraction of a cent, the profit is rounded to cents, and the view still marks in
    /// whole units, rounding exactly as the snapshot does (ties included: 5 units move 0.05
    /// cents a point).
    #[test]
    fn single_unit_volumes_are_marked_in_units_as_the_snapshot_rounds() {
        let spec = SymbolSpec {
            contract_size: dec!(1),
            volume_min: dec!(1),
            volume_step: dec!(1),
            volume_max: dec!(1000000000),
            ..eurusd()
        };
        for seed in [17, 18, 19] {
            let n =
                marking_matches_snapshots(spec.clone(), [dec!(5), dec!(9123), dec!(777777)], seed);
            assert!(n > 1_000, "only {n} bars in whole units");
        }
    }
}
