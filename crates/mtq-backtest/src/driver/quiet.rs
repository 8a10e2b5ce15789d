//! Quiet bars: stretches where nothing but the quote moves, stepped in a few integer comparisons
//! each instead of the core's full cycle. A test (`quiet_steps_change_nothing`) checks that they
//! give exactly what full steps give.

use chrono::{DateTime, Utc};
use mtq_analytics::EquityPoint;
use mtq_core::{Bar, Decimal, decimal_units as units};

use super::{Backtest, decimal_quote};
use crate::quote::grid_points;
use crate::settings::FillTiming;

/// Quiet bars [`Backtest::quiet_run`] looks ahead for before the strategy takes them: enough to
/// spread the strategy call's cost, few enough that little is looked at in vain past a signal
/// (measured: 16 looks at 5% fewer instructions than 8 or 32 in the 14,406-set grid).
const QUIET_CHUNK: usize = 16;

/// Whether and where the next bars may be quiet.
#[derive(Debug)]
pub(super) struct Quiet {
    /// Whether quiet bars may take [`Backtest::quiet_run`] (tests turn it off to compare).
    pub(super) enabled: bool,
    /// The band within which the next bar is quiet for the core, when it may be.
    band: Option<QuietUnits>,
    /// The last band converted to units, kept while the core's band is unchanged.
    band_units: Option<QuietUnits>,
    /// Bars stepped as quiet.
    pub(super) bars: usize,
    /// The bars of the run increase strictly in time (else no bar is stepped as quiet).
    pub(super) ordered: bool,
}

impl Quiet {
    pub(super) fn new() -> Self {
        Self {
            enabled: true,
            band: None,
            band_units: None,
            bars: 0,
            ordered: false,
        }
    }
}

/// The core's [`mtq_risk::QuietBand`] in the account currency's smallest unit.
#[derive(Clone, Copy, Debug)]
struct QuietUnits {
    band: mtq_risk::QuietBand,
    floor: i64,
    peak: i64,
}

impl Backtest {
    /// Steps the bars from `bars[i]` on that are quiet, in a few comparisons each, and returns
    /// how many it stepped (0 when `bars[i]` is not quiet: nothing changed, the full step runs).
    ///
    /// A bar is quiet when the simulator would do nothing on it but move the quote
    /// ([`mtq_sim::Simulator::bar_is_quiet`]), the equity at its open lies within the core's
    /// quiet band (no kill-switch level within reach, the same trading day, no new peak unless
    /// the floor ignores the peak: `on_account` would do nothing) and nothing else is due (no
    /// deal to report, no position management). Up to [`QUIET_CHUNK`] such bars are found
    /// first; the strategy then takes the bars that closed before them in one call
    /// ([`mtq_orchestrator::TraderCore::strategy_run`]), which stops at a signal. The bars
    /// before the signal are stepped as quiet; on the signal's bar the view is brought up to
    /// date and the step goes on as [`Backtest::step`] would from the strategy's signal.
    pub(super) fn quiet_run(&mut self, bars: &[Bar], i: usize) -> usize {
        let Some(q) = self.quiet.band.filter(|_| self.quiet.ordered) else {
            return 0;
        };
        let Some((_, false)) = self.prev else {
            return 0;
        };
        if i == 0 {
            return 0;
        }
        let Some(sim) = self.sim.quiet_view(self.id) else {
            return 0;
        };
        // The bars increase in time (checked once for the run); the band began at or before
        // the last bar stepped, and the simulator's clock is that bar's.
        debug_assert!(q.band.from <= bars[i - 1].time && self.sim.tick(self.id).is_some());
        let until = sim.until.min(q.band.until);
        // 1. The quiet bars ahead, and the equity at each one's open.
        let mut opens = [0i64; QUIET_CHUNK];
        let mut n = 0;
        while n < QUIET_CHUNK && i + n < bars.len() {
            let bar = &bars[i + n];
            if bar.time >= until || !sim.prices_quiet(bar) {
                break;
            }
            let (bid, ask) = sim.open_quote(bar);
            let Some(equity) = self.equity_at(bid, ask) else {
                break;
            };
            if equity < q.floor || (equity > q.peak && !q.band.peak_free) {
                break;
            }
            opens[n] = equity;
            n += 1;
        }
        if n == 0 {
            return 0;
        }
        // 2. The strategy on the bars that closed before those, up to a signal.
        let signal = self.core.strategy_run(
            &self.setup.symbol,
            &bars[i - 1..i + n - 1],
            &self.view.positions,
        );
        let upto = signal.as_ref().map_or(n, |(k, _)| *k);
        // 3. The bars without a signal (and the open of the signal's bar): the equity curve,
        // new peaks as `on_account` would take them.
        // With the daily curve, a bar inside the current day that moves no drawdown figure only
        // replaces the day's last point: the last of a row of them is written, once.
        let daily = self.curve.detail == super::EquityDetail::Daily;
        let mut deferred: Option<(DateTime<Utc>, i64)> = None;
        for (k, &equity) in opens.iter().enumerate().take(upto) {
            let time = bars[i + k].time;
            self.quiet_open(equity);
            if self.drawdown.within(equity) {
                if !daily {
                    // `record_equity`'s common case, inline: a point, no drawdown figure moves.
                    let equity = Decimal::new(equity, self.setup.sim.money_digits);
                    self.curve.points.push(EquityPoint { time, equity });
                    continue;
                }
                if time < self.curve.day_ends {
                    deferred = Some((time, equity));
                    continue;
                }
            }
            if let Some(d) = deferred.take() {
                self.record_units(d);
            }
            self.record_equity(time);
        }
        if let Some(d) = deferred {
            self.record_units(d);
        }
        if signal.is_some() {
            self.quiet_open(opens[upto]);
        }
        if upto > 0 {
            self.sim.pass_quiet_bar(self.id, &bars[i + upto - 1]);
        }
        let Some((k, signal)) = signal else {
            self.prev = Some((bars[i + n - 1], false));
            return n;
        };
        // 4. The signal's bar: as `step` and `cycle` go on from the strategy's signal.
        let bar = &bars[i + k];
        let now = bar.time;
        self.sim.begin_bar(self.id, bar);
        self.refresh_view();
        let tick = self.sim.tick(self.id);
        let (spec, scale) = (&self.setup.spec, self.view.scale);
        let quote = || decimal_quote(spec, scale, tick);
        let cmds = self.core.on_signal(signal, self.view.market(now), quote);
        self.run_commands(cmds);
        self.record_equity(now);
        self.sim.finish_bar(self.id);
        self.drain();
        self.arm_quiet();
        self.prev = Some((*bar, false));
        k + 1
    }

    /// A quiet bar's open at `equity` units: the view keeps it in units only, and a new peak
    /// goes to the core as `on_account` would take it (the band's floor ignores the peak, or
    /// the bar would not be quiet: the core takes it).
    fn quiet_open(&mut self, equity: i64) {
        if let Some(q) = self.quiet.band
            && equity > q.peak
        {
            let peak = Decimal::new(equity, self.setup.sim.money_digits);
            let raised = self.core.raise_equity_peak(peak);
            debug_assert!(raised, "a new peak inside the quiet band was refused");
            let u = QuietUnits {
                band: mtq_risk::QuietBand { peak, ..q.band },
                peak: equity,
                ..q
            };
            self.quiet.band = Some(u);
            self.quiet.band_units = Some(u);
        }
        self.view.equity_units = Some(equity);
        self.view.stale = true;
    }

    /// After a full step: whether the next bars may be quiet ([`Backtest::quiet_run`]), and the
    /// band.
    pub(super) fn arm_quiet(&mut self) {
        self.quiet.band = None;
        let open = self.sim.open_position_count();
        let v = &self.view;
        let ready = self.quiet.enabled
            && self.setup.fill == FillTiming::NextOpen
            && !self.manages
            && v.fast_marks
            && !v.dirty
            && self.drawdown.units.is_some()
            && open == v.positions.len()
            && (if open == 0 {
                v.equity_units.is_some()
            } else {
                v.marks.len() == open
            });
        if !ready {
            return;
        }
        // The deals the next cycle would report first go to the core now: nothing reaches the
        // core in between, and a quiet bar has no cycle to report them in.
        for d in self.new_deals.drain(..) {
            self.core.on_deal(&d);
        }
        let Some(band) = self.core.quiet_band(false) else {
            return;
        };
        if let Some(u) = self.quiet.band_units.filter(|u| u.band == band) {
            self.quiet.band = Some(u);
            return;
        }
        let money = self.setup.sim.money_digits;
        // The floor was worked out for equities with the view's decimals, which `Decimal::new(e,
        // money)` has; the peak is a whole number of units whenever an equity set it.
        if band.scale != money {
            return;
        }
        let floor = if band.floor == Decimal::MIN {
            Some(i64::MIN)
        } else {
            units(band.floor, money)
        };
        if let (Some(floor), Some(peak)) = (floor, units(band.peak, money)) {
            let u = QuietUnits { band, floor, peak };
            self.quiet.band_units = Some(u);
            self.quiet.band = Some(u);
        }
    }

    /// The equity with the copied positions marked at `bid`/`ask`, in whole units, as
    /// `mark_in_units` works it out; `None` where that would not.
    fn equity_at(&self, bid: f64, ask: f64) -> Option<i64> {
        let v = &self.view;
        if v.positions.is_empty() {
            return v.equity_units;
        }
        if let [m] = v.marks.as_slice() {
            // One position: only its side of the quote is put on the grid (the other does not
            // enter the equity; near a rounding tie `mark_in_units` leaves the marking to
            // `Decimal`, which gives the same equity).
            let diff = if m.buy {
                grid_points(v.scale, bid)? - m.open
            } else {
                m.open - grid_points(v.scale, ask)?
            };
            return v
                .balance_units
                .checked_add(diff.checked_mul(m.per_point)?.checked_add(m.swap)?);
        }
        let (bid, ask) = (grid_points(v.scale, bid)?, grid_points(v.scale, ask)?);
        let mut floating: i64 = 0;
        for m in &v.marks {
            let diff = if m.buy { bid - m.open } else { m.open - ask };
            floating = floating.checked_add(diff.checked_mul(m.per_point)?.checked_add(m.swap)?)?;
        }
        v.balance_units.checked_add(floating)
    }
}
