//! The account and positions the core reads: the simulator's [`AccountView`], which the
//! simulator copies or marks to the new quote itself, with the rates and the bookkeeping of what
//! the driver executed.

use mtq_core::Decimal;
use mtq_orchestrator::MarketView;
use mtq_sim::AccountView;

use super::Backtest;
use crate::quote::LazyRates;
use crate::settings::Sizing;

/// The core's view of the market: the copies, reused across bars, and the rates.
#[derive(Debug)]
pub(super) struct View {
    pub(super) marked: AccountView,
    pub(super) rates: LazyRates,
    /// 10^digits for fast price normalisation (0: use the exact path).
    pub(super) scale: f64,
    /// Commands were executed since the core's view was taken.
    pub(super) executed: bool,
    /// The equity at the last quiet open, in whole units, when quiet bars moved the quote
    /// since the last refresh (the view itself was not marked there).
    pub(super) quiet_equity: Option<i64>,
}

impl View {
    pub(super) fn new(marked: AccountView, rates: LazyRates, scale: f64) -> Self {
        Self {
            marked,
            rates,
            scale,
            executed: false,
            quiet_equity: None,
        }
    }

    /// What the core reads at `now`.
    pub(super) fn market(&self, now: chrono::DateTime<chrono::Utc>) -> MarketView<'_> {
        MarketView {
            now,
            account: &self.marked.account,
            positions: &self.marked.positions,
            rates: &self.rates,
        }
    }

    /// Something other than the quote changed (an order, a close, a modification, a deal).
    pub(super) fn changed(&mut self) {
        self.marked.changed();
    }
}

impl Backtest {
    /// Account, positions and rates as the core sees them.
    pub(super) fn refresh_view(&mut self) {
        if let Some(t) = self.sim.tick(self.id) {
            self.view.rates.set_mid((t.bid + t.ask) / 2.0);
        }
        self.sim.mark_view(&mut self.view.marked);
        self.view.executed = false;
        self.view.quiet_equity = None;
        let a = &mut self.view.marked.account;
        if !self.view.marked.positions.is_empty()
            && matches!(self.setup.sizing, Some(Sizing::Equity(_)))
        {
            // All-in sizing: the only positions are this symbol's, which an opposite signal
            // closes before entering, and the order is sized after that close. The core's
            // margin check (at the minimum volume) would otherwise count the margin of the
            // position being reversed; the simulator checks the real order's margin.
            a.free_margin = a.equity;
            a.margin = Decimal::ZERO;
            a.margin_level = None;
        }
    }
}
