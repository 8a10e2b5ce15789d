//! The account and positions the core reads, copied out of the simulator only when something
//! other than the price changed (a deal, a swap charge, a modified stop); on other bars marked to
//! the new quote with the simulator's own formulas (exact for symbols quoted in the account
//! currency; others are copied every bar).

use mtq_core::{AccountInfo, Decimal, Position, Side, decimal_units as units, ratio_half_even};
use mtq_orchestrator::MarketView;

use super::Backtest;
use crate::quote::{LazyRates, grid_points, mark_price};
use crate::settings::Sizing;

/// The core's view of the market: the copies, reused across bars, and what marking them needs.
#[derive(Debug)]
pub(super) struct View {
    pub(super) account: AccountInfo,
    pub(super) positions: Vec<Position>,
    pub(super) rates: LazyRates,
    /// 10^digits for fast price normalisation (0: use the exact path).
    pub(super) scale: f64,
    /// The copies in `account`/`positions` need a full refresh from the simulator.
    pub(super) dirty: bool,
    /// Commands were executed since the core's view was taken.
    pub(super) executed: bool,
    /// Positions can be marked to the quote by the driver: the tick is one point and the
    /// symbol's profit currency is the account's.
    pub(super) fast_marks: bool,
    /// The copied positions in whole units, for marking them with integer arithmetic (empty
    /// when a value is not a whole number of units: the `Decimal` marking is used then).
    pub(super) marks: Vec<Mark>,
    /// Balance and margin of the copied account in the account currency's smallest unit.
    pub(super) balance_units: i64,
    pub(super) margin_units: i64,
    /// The current equity in those units, when the view's equity is a whole number of them.
    pub(super) equity_units: Option<i64>,
    /// Quiet steps moved the quote without marking `account` and `positions` (only
    /// `equity_units`): the next [`Backtest::refresh_view`] marks them.
    pub(super) stale: bool,
}

impl View {
    pub(super) fn new(
        account: AccountInfo,
        rates: LazyRates,
        scale: f64,
        fast_marks: bool,
    ) -> Self {
        Self {
            account,
            positions: Vec::new(),
            rates,
            scale,
            dirty: true,
            executed: false,
            fast_marks,
            marks: Vec::new(),
            balance_units: 0,
            margin_units: 0,
            equity_units: None,
            stale: false,
        }
    }

    /// What the core reads at `now`.
    pub(super) fn market(&self, now: chrono::DateTime<chrono::Utc>) -> MarketView<'_> {
        MarketView {
            now,
            account: &self.account,
            positions: &self.positions,
            rates: &self.rates,
        }
    }
}

/// A copied position in whole units: its open price in points, the money one point is worth
/// at its volume and its swap, both in the account currency's smallest unit.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark {
    pub(super) buy: bool,
    pub(super) open: i64,
    pub(super) per_point: i64,
    pub(super) swap: i64,
}

impl Backtest {
    /// Account, positions and rates as the core sees them.
    pub(super) fn refresh_view(&mut self) {
        let tick = self.sim.tick(self.id);
        if let Some(t) = tick {
            self.view.rates.set_mid((t.bid + t.ask) / 2.0);
        }
        let open = self.sim.open_position_count();
        let v = &mut self.view;
        if open == 0 {
            // A flat view made earlier stays right: only a deal, which marks it dirty, moves the
            // balance.
            if v.dirty || !v.positions.is_empty() {
                let balance = self.sim.balance();
                v.positions.clear();
                v.marks.clear();
                v.account.balance = balance;
                v.account.equity = balance;
                v.account.margin = Decimal::ZERO;
                v.account.free_margin = balance;
                v.account.margin_level = None;
                v.equity_units = units(balance, self.setup.sim.money_digits);
            }
        } else if v.dirty || !v.fast_marks || open != v.positions.len() || tick.is_none() {
            self.copy_from_sim();
        } else if let Some(t) = tick {
            self.mark_to_quote(t.bid, t.ask);
        }
        let v = &mut self.view;
        v.dirty = false;
        v.executed = false;
        v.stale = false;
        if open > 0 && matches!(self.setup.sizing, Some(Sizing::Equity(_))) {
            // All-in sizing: the only positions are this symbol's, which an opposite signal
            // closes before entering, and the order is sized after that close. The core's
            // margin check (at the minimum volume) would otherwise count the margin of the
            // position being reversed; the simulator checks the real order's margin.
            v.account.free_margin = v.account.equity;
            v.account.margin = Decimal::ZERO;
            v.account.margin_level = None;
        }
    }

    /// The copies moved to a new quote, as the simulator computes them: a position's price is
    /// the bid (buys) or ask (sells) on the tick grid, its profit the price difference times
    /// volume and contract size rounded to the account's cents, equity the balance plus profit
    /// and swap, margin unchanged (fixed at opening).
    fn mark_to_quote(&mut self, bid: f64, ask: f64) {
        if self.mark_in_units(bid, ask).is_some() {
            return;
        }
        let spec = &self.setup.spec;
        let (Some(bid), Some(ask)) = (
            mark_price(spec, self.view.scale, bid),
            mark_price(spec, self.view.scale, ask),
        ) else {
            self.copy_from_sim();
            return;
        };
        let digits = self.setup.sim.money_digits;
        let mut floating = Decimal::ZERO;
        for p in &mut self.view.positions {
            let (price, diff) = match p.side {
                Side::Buy => (bid, bid - p.open_price),
                Side::Sell => (ask, p.open_price - ask),
            };
            p.current_price = price;
            p.profit = (diff * p.volume * spec.contract_size).round_dp(digits);
            floating += p.profit + p.swap;
        }
        self.view.equity_units = None;
        let a = &mut self.view.account;
        a.balance = self.sim.balance();
        a.equity = a.balance + floating;
        a.free_margin = a.equity - a.margin;
        a.margin_level = (a.margin > Decimal::ZERO)
            .then(|| (a.equity / a.margin * Decimal::ONE_HUNDRED).round_dp(2));
    }

    /// Account and positions copied out of the simulator, and their marks in whole units
    /// worked out again.
    pub(super) fn copy_from_sim(&mut self) {
        let v = &mut self.view;
        self.sim.snapshot(&mut v.account, &mut v.positions);
        v.marks.clear();
        v.equity_units = units(v.account.equity, self.setup.sim.money_digits);
        if !v.fast_marks {
            return;
        }
        let spec = &self.setup.spec;
        let money = self.setup.sim.money_digits;
        let point = Decimal::new(1, spec.digits);
        for p in &v.positions {
            let mark = (|| {
                Some(Mark {
                    buy: p.side == Side::Buy,
                    open: units(p.open_price, spec.digits)?,
                    per_point: units(p.volume.checked_mul(spec.contract_size)? * point, money)?,
                    swap: units(p.swap, money)?,
                })
            })();
            match mark {
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

    /// [`Backtest::mark_to_quote`] in whole units of price and money: a position's profit is its
    /// price difference in points times the money a point is worth at its volume, exactly what
    /// the simulator's rounded `Decimal` product gives when that value is a whole number of
    /// cents. `None` (nothing changed) when the quote is near a rounding tie, a value did not
    /// convert or the arithmetic would overflow.
    fn mark_in_units(&mut self, bid: f64, ask: f64) -> Option<()> {
        let v = &mut self.view;
        if v.marks.len() != v.positions.len() || v.marks.is_empty() {
            return None;
        }
        let (bid, ask) = (grid_points(v.scale, bid)?, grid_points(v.scale, ask)?);
        // One pass: positions are written as they are marked. Should the arithmetic overflow
        // part way, the caller's `Decimal` marking rewrites every position.
        let (digits, money) = (self.setup.spec.digits, self.setup.sim.money_digits);
        let mut floating: i64 = 0;
        for (p, m) in v.positions.iter_mut().zip(&v.marks) {
            let (price, diff) = if m.buy {
                (bid, bid - m.open)
            } else {
                (ask, m.open - ask)
            };
            let profit = diff.checked_mul(m.per_point)?;
            floating = floating.checked_add(profit.checked_add(m.swap)?)?;
            p.current_price = Decimal::new(price, digits);
            p.profit = Decimal::new(profit, money);
        }
        let equity = v.balance_units.checked_add(floating)?;
        let margin_level = if v.margin_units > 0 {
            Some(Decimal::new(
                ratio_half_even(equity.checked_mul(10_000)?, v.margin_units)?,
                2,
            ))
        } else {
            None
        };
        v.equity_units = Some(equity);
        let a = &mut v.account;
        a.equity = Decimal::new(equity, money);
        a.free_margin = Decimal::new(equity - v.margin_units, money);
        a.margin_level = margin_level;
        Some(())
    }
}
