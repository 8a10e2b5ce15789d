//! Quiet bars: stretches where nothing but the quote moves, stepped in a few integer comparisons
//! each instead of the core's full cycle. A test (`quiet_steps_change_nothing`) checks that they
//! give exactly what full steps give.

use chrono::{DateTime, Utc};
use mtq_analytics::EquityPoint;
use mtq_core::Bar;
use mtq_orchestrator::{CoreEvent, QUIET_CHUNK, QuietBars, Quote};

use super::{Backtest, decimal_quote};
use crate::settings::FillTiming;

/// Whether and where the next bars may be quiet.
#[derive(Debug)]
pub(super) struct Quiet {
    /// Whether quiet bars may take [`Backtest::quiet_run`] (tests turn it off to compare).
    pub(super) enabled: bool,
    /// After the last full step, the driver's side of the next bars may be quiet: nothing
    /// pending to report, no position management, the view in whole units.
    ready: bool,
    /// Bars stepped as quiet.
    pub(super) bars: usize,
    /// The bars walked so far, and the rest of the block being walked, increase strictly in time
    /// (else no bar is stepped as quiet from that block on).
    pub(super) ordered: bool,
    /// The equities at the opens the core took (kept here: no buffer set up on every call).
    opens: [i64; QUIET_CHUNK],
}

impl Quiet {
    pub(super) fn new() -> Self {
        Self {
            enabled: true,
            ready: false,
            bars: 0,
            ordered: false,
            opens: [0; QUIET_CHUNK],
        }
    }
}

impl Backtest {
    /// Steps the bars from `bars[i]` on that are quiet, in a few comparisons each, and returns
    /// how many it stepped (0 when `bars[i]` is not quiet: nothing changed, the full step runs).
    ///
    /// A bar is quiet when the simulator would do nothing on it but move the quote
    /// ([`mtq_sim::Simulator::bar_is_quiet`]) and the trader core's batch entry
    /// ([`mtq_orchestrator::TraderCore::quiet_run`]) takes its open: the equity there lies
    /// within the core's quiet band. The core also runs the strategy over the bars that closed
    /// before those, up to a signal. The bars before the signal are stepped as quiet; on the
    /// signal's bar the view is brought up to date and the step goes on as [`Backtest::step`]
    /// would from the strategy's signal.
    pub(super) fn quiet_run(&mut self, bars: &[Bar], i: usize) -> usize {
        if !self.quiet.ready || !self.quiet.ordered || i == 0 {
            return 0;
        }
        let Some((_, false)) = self.prev else {
            return 0;
        };
        let Some(sim) = self.sim.quiet_view(&self.view.marked) else {
            return 0;
        };
        // The simulator's clock is the last bar stepped.
        debug_assert!(self.sim.tick(self.id).is_some());
        // 1. The core takes the bars that closed, each once the open after it is found quiet,
        // up to a signal.
        let end = bars.len().min(i + QUIET_CHUNK);
        let view = &self.view;
        let mut signal = None;
        let upto = self.core.quiet_run(
            QuietBars {
                symbol: &self.setup.symbol,
                bars: &bars[i - 1..end],
                positions: &view.marked.positions,
                money_digits: self.setup.sim.money_digits,
                opens: &mut self.quiet.opens,
            },
            |bar| sim.open_equity(bar, &view.marked),
            &mut signal,
        );
        if upto == 0 && signal.is_none() {
            return 0;
        }
        if self.sink.is_some() {
            let closed = upto + usize::from(signal.is_some());
            for k in 0..closed {
                self.bar_closed(&bars[i - 1 + k], bars[i + k].time);
            }
        }
        // 2. The bars without a signal (and the open of the signal's bar): the equity curve.
        // With the daily curve, a bar inside the current day that moves no drawdown figure only
        // replaces the day's last point: the last of a row of them is written, once.
        let daily = self.curve.detail != super::EquityDetail::EveryBar;
        let mut deferred: Option<(DateTime<Utc>, i64)> = None;
        for k in 0..upto {
            let (equity, time) = (self.quiet.opens[k], bars[i + k].time);
            self.quiet_open(equity);
            if self.drawdown.within(equity) {
                if !daily {
                    // `record_equity`'s common case, inline: a point, no drawdown figure moves.
                    let equity = mtq_core::decimal_of(equity, self.setup.sim.money_digits);
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
            self.quiet_open(self.quiet.opens[upto]);
        }
        if upto > 0 {
            self.sim.pass_quiet_bar(self.id, &bars[i + upto - 1]);
        }
        let Some(signal) = signal else {
            self.prev = Some((bars[i + upto - 1], false));
            return upto;
        };
        // 3. The signal's bar: as `step` and `cycle` go on from the strategy's signal.
        let bar = &bars[i + upto];
        let now = bar.time;
        self.sim.begin_bar(self.id, bar);
        self.refresh_view();
        let tick = self.sim.tick(self.id);
        let (spec, scale) = (&self.setup.spec, self.view.scale);
        let quote = || decimal_quote(spec, scale, tick);
        let cmds = self.core.process(CoreEvent::Signal {
            signal,
            view: self.view.market(now),
            quote: Quote::Lazy(&quote),
        });
        self.run_commands(cmds);
        self.record_equity(now);
        self.sim.finish_bar(self.id);
        self.drain();
        self.arm_quiet();
        self.prev = Some((*bar, false));
        upto + 1
    }

    /// A quiet bar's open at `equity` units: the view keeps it in units only (the core took a
    /// new peak itself).
    fn quiet_open(&mut self, equity: i64) {
        self.view.quiet_equity = Some(equity);
    }

    /// After a full step: whether the next bars may be quiet ([`Backtest::quiet_run`]).
    pub(super) fn arm_quiet(&mut self) {
        // Whether the view is exact in whole units is the simulator's to say when a run begins
        // ([`mtq_sim::Simulator::quiet_view`]).
        self.quiet.ready = self.quiet.enabled
            && self.setup.fill == FillTiming::NextOpen
            && !self.manages
            && self.drawdown.units.is_some()
            && self.sim.open_position_count() == self.view.marked.positions.len();
        if !self.quiet.ready {
            return;
        }
        // The deals the next cycle would report first go to the core now: nothing reaches the
        // core in between, and a quiet bar has no cycle to report them in.
        self.report_deals();
    }
}
