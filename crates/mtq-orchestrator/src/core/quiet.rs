//! The backtest's batch entry, [`TraderCore::quiet_run`]: stretches of bars at whose opens nothing
//! but the quote moves.

use mtq_core::{Bar, Decimal, Position, Signal, Symbol};

use super::*;

/// Quiet opens [`TraderCore::quiet_run`] takes at most in one call: enough to spread the cost of
/// a call (the strategy's, the core's, the driver's) over many bars. Nothing is looked at past a
/// signal, so a longer run costs only the driver's buffer of equities.
pub const QUIET_CHUNK: usize = 64;

/// A run of bars for [`TraderCore::quiet_run`].
#[derive(Debug)]
pub struct QuietBars<'a> {
    pub symbol: &'a Symbol,
    /// Bars in time order: `bars[0]` closed last; each next bar's open follows the one before
    /// it. At most [`QUIET_CHUNK`] opens are taken.
    pub bars: &'a [Bar],
    /// The account's positions (tickets, sides, volumes and levels; their marks are not read).
    pub positions: &'a [Position],
    /// The decimals of the account currency, in whose smallest unit equities are given.
    pub money_digits: u32,
    /// Where the core writes the equity at each open it takes (the driver's buffer, so that
    /// they are neither stored twice nor copied back).
    pub opens: &'a mut [i64; QUIET_CHUNK],
}

/// The risk state's quiet band in the account currency's smallest unit, kept while no event
/// reaches the core.
#[derive(Clone, Copy, Debug)]
pub(super) struct QuietUnits {
    band: mtq_risk::QuietBand,
    /// The decimals of the account currency the band was asked for.
    money: u32,
    floor: i64,
    peak: i64,
}

impl TraderCore {
    /// The backtest's batch entry: bars in a row at whose opens nothing but the quote moves,
    /// taken in one call instead of an [`CoreEvent::Account`] and a [`CoreEvent::BarClosed`]
    /// each. `open_equity` gives the equity at a bar's open in the account currency's smallest
    /// unit when the broker would do nothing there but move the quote (`None` otherwise: the run
    /// stops before that open); it is asked in order, for `bars[1]`, `bars[2]` and so on.
    ///
    /// An open is quiet for the core when its equity lies within the risk state's quiet band
    /// ([`mtq_risk::RiskState::quiet_band`]: no kill-switch level within reach, the same trading
    /// day, no new peak unless the floor ignores the peak), so that the account snapshot would
    /// change nothing but the peak. The strategy takes the closed bars in one call, up to
    /// [`QUIET_CHUNK`] of them and up to a signal, each only once the open after it is found
    /// quiet (so no open is worked out past a signal); new peaks are taken as the snapshot
    /// would take them, up to and including the signal bar's open. The driver then decides the
    /// signal with [`CoreEvent::Signal`] on a view marked at that open.
    ///
    /// Returns how many bars the strategy took without a signal, each followed by a quiet open
    /// (their equities, and the next open's with a signal, are in `run.opens`), and puts the
    /// signal of bar `bars[taken]`, if any, in `signal` (an out-parameter: most runs end
    /// without one). Nothing is taken (0, no signal) when the band is not known or the first
    /// open is not quiet: the driver steps that bar in full.
    pub fn quiet_run(
        &mut self,
        run: QuietBars<'_>,
        mut open_equity: impl FnMut(&Bar) -> Option<i64>,
        signal: &mut Option<Signal>,
    ) -> usize {
        let armed = match self.quiet_armed {
            Some(q) => Some(q),
            None => self.arm_quiet(run.money_digits),
        };
        let Some(mut q) = armed else {
            return 0;
        };
        if run.bars.len() < 2 {
            return 0;
        }
        // A new trading day at the first open: the cycle's account snapshot there starts the
        // day's ledger (and may take a peak) before the strategy sees the bar that closed. The
        // same here, at that open's equity; the band is then the new day's. Should the open not
        // be quiet in it, the driver steps the bar in full, whose snapshot finds the day begun
        // and the peak taken (observing the same equity again changes nothing).
        if run.bars[1].time >= q.band.until {
            let bar = &run.bars[1];
            let Some(equity) = open_equity(bar) else {
                return 0;
            };
            self.risk
                .observe_equity(bar.time, mtq_core::decimal_of(equity, run.money_digits));
            self.quiet_armed = None;
            match self.arm_quiet(run.money_digits) {
                Some(armed) => q = armed,
                None => return 0,
            }
        }
        // The strategy takes a bar that closed only once the open after it is known quiet: no
        // open is worked out past a signal.
        // The bars' order is checked here too, one comparison a bar: a bar out of order ends
        // the run (the driver steps it in full).
        let opens = run.opens;
        let limit = QUIET_CHUNK.min(run.bars.len() - 1);
        let (bars, until) = (run.bars, q.band.until);
        let mut take = |k: usize| {
            let (Some(closed), Some(bar), Some(slot)) =
                (bars.get(k), bars.get(k + 1), opens.get_mut(k))
            else {
                return false;
            };
            if k >= limit || bar.time >= until || bar.time <= closed.time {
                return false;
            }
            match open_equity(bar) {
                Some(equity) if equity >= q.floor && (equity <= q.peak || q.band.peak_free) => {
                    *slot = equity;
                    true
                }
                _ => false,
            }
        };
        let (taken, found) =
            self.strategy_run(run.symbol, &run.bars[..limit], run.positions, &mut take);
        let (upto, last) = match found {
            Some(s) => {
                *signal = Some(s);
                (taken.saturating_sub(1), taken)
            }
            None => (taken, taken),
        };
        let mut peak = q.peak;
        for &equity in &opens[..last] {
            if equity > peak {
                self.quiet_peak(equity);
                peak = equity;
            }
        }
        upto
    }

    /// The quiet band in units of `money` decimals, worked out again (or the last conversion,
    /// when the band is the same) and armed until the next event.
    #[cold]
    pub(super) fn arm_quiet(&mut self, money: u32) -> Option<QuietUnits> {
        let band = self.risk.quiet_band(false, money)?;
        if let Some(u) = self
            .quiet_last
            .filter(|u| u.band == band && u.money == money)
        {
            self.quiet_armed = Some(u);
            return Some(u);
        }
        // The floor was worked out for equities with `money` decimals; the peak is a whole
        // number of units whenever an equity set it.
        let floor = if band.floor == Decimal::MIN {
            Some(i64::MIN)
        } else {
            mtq_core::decimal_units(band.floor, money)
        };
        let u = QuietUnits {
            band,
            money,
            floor: floor?,
            peak: mtq_core::decimal_units(band.peak, money)?,
        };
        self.quiet_last = Some(u);
        self.quiet_armed = Some(u);
        Some(u)
    }

    /// A quiet open at `equity` units: a new peak taken as the account snapshot would take it
    /// (the band's floor ignores the peak, or the open would not be quiet).
    #[inline]
    pub(super) fn quiet_peak(&mut self, equity: i64) {
        if let Some(q) = self.quiet_armed
            && equity > q.peak
        {
            let peak = Decimal::new(equity, q.money);
            let raised = self.risk.raise_peak(peak);
            debug_assert!(raised, "a new peak inside the quiet band was refused");
            let u = QuietUnits {
                band: mtq_risk::QuietBand { peak, ..q.band },
                peak: equity,
                ..q
            };
            self.quiet_armed = Some(u);
            self.quiet_last = Some(u);
        }
    }
}
