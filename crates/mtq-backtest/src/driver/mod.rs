//! The backtest driver: the trader core and the simulated broker, bar by bar, synchronously.
//!
//! With the default [`FillTiming::NextOpen`] each step runs as the live driver's cycle does
//! (`mtq_orchestrator::LiveTrader`, which the paper session uses):
//! 1. `begin_bar`: the next bar opens; the quote is its open;
//! 2. the core's cycle at that open, for the bar that just closed: the deals since the last cycle
//!    go to the core (daily ledger), then `on_account` (kill switch), `on_bar` (strategy,
//!    filters, risk checks and sizing at the open's bid and ask) and `on_prices` (breakeven,
//!    trailing, time exits), each one's commands executed at once at the open (buys at the ask,
//!    sells at the bid) and the account read again before the next;
//! 3. `finish_bar`: SL/TP and pending orders trigger along the bar's intrabar path, then the
//!    quote moves to the close.
//!
//! After the last bar one more cycle sees it, at its close (as the paper session's last cycle).
//!
//! The driver's parts, one file each: [`view`] (the account and positions the core reads, copied
//! out of the simulator only when something other than the price changed, else marked to the
//! quote), [`equity`] (the curve), [`drawdown`] (the running peak and maxima) and [`quiet`]
//! (stretches of bars where only the quote moves, stepped without the core's full cycle).
//! `on_prices` is skipped when the configuration manages nothing (no breakeven, trailing stop,
//! partial close or holding-time exit): it could not act. What still allocates per bar is inside
//! the core (it copies the symbol's open positions on every bar that has any).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mtq_analytics::EquityPoint;
use mtq_core::{Bar, Decimal, DomainEvent, EventKind, Side, SignalKind, Symbol, SymbolSpec};
use mtq_orchestrator::{Command, CoreEvent, Quote, TraderCore};
use mtq_sim::{Commission, SimEvent, SimSymbol, Simulator, SymbolId};

use crate::BacktestError;
use crate::quote::LazyRates;
use crate::refused::{Refused, RefusedAt, broker_kind};
use crate::settings::{BacktestSetup, FillTiming, Sizing};
use crate::trades::{TradeBook, TradeRecord};
use mtq_core::{normalize_price, point_scale};

mod drawdown;
mod equity;
mod quiet;
mod sizing;
#[cfg(test)]
mod tests;
mod view;

use drawdown::Drawdown;
use equity::EquityCurve;
pub use equity::EquityDetail;
use quiet::Quiet;
use view::View;

/// Bars walked at a time ([`Backtest::run`]): each block is checked for time order (and copied
/// with a spread override that changes any of its bars) just before its steps read it. Large
/// enough that this costs nothing per bar, small enough that the block is still in cache then.
const BLOCK: usize = 4096;

/// What a backtest produced.
#[derive(Clone, Debug, PartialEq)]
pub struct BacktestResult {
    pub symbol: Symbol,
    pub strategy: String,
    /// The strategy's effective parameters (defaults filled in).
    pub params: serde_json::Value,
    pub initial_balance: Decimal,
    pub final_balance: Decimal,
    pub final_equity: Decimal,
    pub trades: Vec<TradeRecord>,
    pub equity: Vec<EquityPoint>,
    /// Largest fall from a running peak of equity, in percent of the peak, over every bar.
    pub max_drawdown_pct: f64,
    pub max_drawdown_money: Decimal,
    pub bars: usize,
    pub warmup_bars: usize,
    pub signals: usize,
    /// Signals the core refused, by reason.
    pub refusals: BTreeMap<String, usize>,
    /// Orders the simulated broker refused, by reason.
    pub order_failures: BTreeMap<String, usize>,
    /// Every refused entry signal and order, in time order, with its whole reason.
    pub refused: Vec<Refused>,
    pub first_bar: Option<DateTime<Utc>>,
    pub last_bar: Option<DateTime<Utc>>,
}

/// One backtest over one symbol.
pub struct Backtest {
    setup: BacktestSetup,
    sim: Simulator,
    id: SymbolId,
    core: TraderCore,
    close_at_end: bool,
    /// The configuration has position management that `on_prices` could act on.
    manages: bool,
    /// The account and positions the core reads.
    view: View,
    events: Vec<SimEvent>,
    /// The simulator's events since the core's last cycle, moved here as they came (a deal is
    /// not copied again): the core learns of their deals at the start of the next cycle.
    new_deals: Vec<SimEvent>,
    /// The bar that closed last, and whether it only warms up, waiting for the next open.
    prev: Option<(Bar, bool)>,
    /// Trades, signals and refusals counted for the result.
    tally: Tally,
    curve: EquityCurve,
    drawdown: Drawdown,
    quiet: Quiet,
    /// Where the run's events go, when anything listens: nothing is built for them otherwise.
    sink: Option<EventSink>,
}

/// A listener for a backtest's events ([`Backtest::with_events`]).
type EventSink = Box<dyn FnMut(DomainEvent) + Send>;

/// What the result counts besides the equity: trades, signals, refusals.
#[derive(Debug, Default)]
struct Tally {
    book: TradeBook,
    signals: usize,
    refusals: BTreeMap<String, usize>,
    failures: BTreeMap<String, usize>,
    refused: Vec<Refused>,
}

impl std::fmt::Debug for Backtest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backtest")
            .field("symbol", &self.setup.symbol)
            .field("fill", &self.setup.fill)
            .finish_non_exhaustive()
    }
}

impl Backtest {
    pub fn new(mut setup: BacktestSetup) -> Result<Self, BacktestError> {
        // One string for the symbol in the configuration, the core, the simulator and so every
        // position: comparing two symbols then stops at the pointer. A string of this backtest's
        // own: the optimiser runs many backtests at once, and symbols are cloned with every
        // order, deal and position copy, so a shared one would have every thread count
        // references on the same cache line.
        if let Ok(own) = Symbol::new(setup.symbol.as_str()) {
            if setup.config.currencies.iter().any(|c| c.symbol == own) {
                let config = std::sync::Arc::make_mut(&mut setup.config);
                for c in config.currencies.iter_mut().filter(|c| c.symbol == own) {
                    c.symbol = own.clone();
                }
            }
            if setup.spec.symbol == own {
                setup.spec.symbol = own.clone();
            }
            setup.symbol = own;
        }
        let sim = Simulator::new(
            setup.sim.clone(),
            [SimSymbol {
                spec: setup.spec.clone(),
                // Intrabar fills get an estimated time inside the bar; with close fills they are
                // stamped with the bar's open time (the order filled at the close cannot be
                // dated inside the bar it was decided on).
                timeframe: match setup.fill {
                    FillTiming::NextOpen => Some(setup.timeframe),
                    FillTiming::SignalClose => None,
                },
            }],
        )
        .map_err(BacktestError::Sim)?
        // The driver reads every deal from the events; no history is kept beside them.
        .without_deal_history();
        let id = sim
            .symbol_id(&setup.symbol)
            .ok_or_else(|| BacktestError::SymbolNotAdded(setup.symbol.clone()))?;
        let specs: BTreeMap<Symbol, SymbolSpec> =
            [(setup.symbol.clone(), setup.spec.clone())].into();
        let core = TraderCore::new(setup.config.clone(), specs, setup.server_offset_secs)
            .map_err(BacktestError::Core)?;
        let marked = sim.account_view(id);
        let peak = marked.account.equity;
        let rates = LazyRates::new(&setup.spec);
        let scale = point_scale(&setup.spec);
        let m = &setup.config.risk.modifications;
        let manages = m.enable_breakeven
            || m.enable_trailing_stop
            || m.enable_partial_close
            || m.max_holding_minutes.is_some();
        let money = setup.sim.money_digits;
        Ok(Self {
            setup,
            sim,
            id,
            core,
            close_at_end: true,
            manages,
            view: View::new(marked, rates, scale),
            events: Vec::new(),
            new_deals: Vec::new(),
            prev: None,
            tally: Tally::default(),
            curve: EquityCurve::new(),
            drawdown: Drawdown::new(peak, money),
            quiet: Quiet::new(),
            sink: None,
        })
    }

    /// Runs `strategy` instead of the one the setup's configuration builds (the optimiser's
    /// strategies that share precomputed indicator series). It must be the configured strategy
    /// with the configured parameters: the result reports those.
    pub fn with_strategy(
        mut self,
        strategy: Box<dyn mtq_strategies::Strategy>,
    ) -> Result<Self, BacktestError> {
        self.core = self
            .core
            .with_strategy(&self.setup.symbol, strategy)
            .map_err(BacktestError::Core)?;
        Ok(self)
    }

    /// Hands every event of the run to `sink` in order, as the live driver publishes them: a
    /// `BarClosed` for each closed bar at the open where the core takes it (warm-up bars too),
    /// and what the core records (signals and their fate, kill-switch transitions). Without a
    /// sink (the default, and the optimiser's case) no event is built.
    pub fn with_events(mut self, sink: impl FnMut(DomainEvent) + Send + 'static) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// A `BarClosed` for `bar` at `now`, when anything listens.
    fn bar_closed(&mut self, bar: &Bar, now: DateTime<Utc>) {
        if let Some(sink) = &mut self.sink {
            sink(DomainEvent::new(
                now,
                EventKind::BarClosed {
                    symbol: self.setup.symbol.clone(),
                    timeframe: self.setup.timeframe,
                    bar: *bar,
                },
            ));
        }
    }

    pub fn with_equity_detail(mut self, detail: EquityDetail) -> Self {
        self.curve.detail = detail;
        self
    }

    /// Whether positions still open after the last bar are closed at its close (the default, so
    /// every trade is counted) or left open (their floating profit is in the final equity).
    pub fn with_close_at_end(mut self, close: bool) -> Self {
        self.close_at_end = close;
        self
    }

    /// Closed bars of history the strategy needs before it trades.
    pub fn warmup_bars(&self) -> usize {
        self.core.history_needed(&self.setup.symbol)
    }

    /// Runs over `bars` (closed bars of the setup's timeframe, in time order) and returns the
    /// result. The first [`Backtest::warmup_bars`] bars warm the strategy up without trading.
    pub fn run(self, bars: &[Bar]) -> BacktestResult {
        self.run_counting(bars).0
    }

    /// [`Backtest::run`], also telling how many bars took the quiet step.
    fn run_counting(mut self, bars: &[Bar]) -> (BacktestResult, usize) {
        let warmup = self.warmup_bars();
        self.curve.points.reserve(match self.curve.detail {
            EquityDetail::EveryBar => bars.len() + 1,
            EquityDetail::Daily | EquityDetail::DailyCloses => bars.len() / 200 + 3,
        });
        if let Some(first) = bars.first() {
            self.curve.points.push(EquityPoint {
                time: first.time,
                equity: self.drawdown.peak,
            });
        }
        // The bars are walked a block at a time, each block looked over first, while it is read
        // into the cache anyway (no pass over the whole series before the run):
        // - its time order: quiet runs take bars only while every bar so far is in order (one out
        //   of order stops them for the rest of the run; full steps take any bar);
        // - with a spread override, whether any of its bars carries another spread: only then is
        //   the block copied with the override (with the bar before it, which a quiet run reads).
        // A quiet run ends at a block's end; the next goes on from there as it would have (quiet
        // steps give what full steps give, wherever a run ends).
        self.quiet.ordered = true;
        let spread = self.setup.spread_points;
        let mut copy: Vec<Bar> = Vec::new();
        let mut i = 0;
        while i < bars.len() {
            let start = i.saturating_sub(1);
            let end = bars.len().min(i + BLOCK);
            let part = &bars[start..end];
            let (ordered, differs) = survey(part, spread);
            self.quiet.ordered &= ordered;
            match spread.filter(|_| differs) {
                None => self.walk(part, i - start, start, warmup),
                Some(p) => {
                    copy.clear();
                    copy.extend(part.iter().map(|b| Bar { spread: p, ..*b }));
                    self.walk(&copy, i - start, start, warmup);
                }
            }
            i = end;
        }
        let quiet = self.quiet.bars;
        (self.finish(bars, warmup), quiet)
    }

    /// Steps `bars[from..]`, which are the run's bars from index `offset` on (the first
    /// `warmup` of the run warm up), quiet runs where they can be.
    fn walk(&mut self, bars: &[Bar], from: usize, offset: usize, warmup: usize) {
        let mut i = from;
        while i < bars.len() {
            let quiet = self.quiet_run(bars, i);
            if quiet > 0 {
                self.quiet.bars += quiet;
                i += quiet;
            } else {
                self.step(&bars[i], i + offset < warmup);
                self.arm_quiet();
                i += 1;
            }
        }
    }

    fn step(&mut self, bar: &Bar, warming: bool) {
        match self.setup.fill {
            FillTiming::NextOpen => {
                self.sim.begin_bar(self.id, bar);
                if let Some((prev, prev_warming)) = self.prev.take() {
                    self.cycle(&prev, prev_warming, bar.time);
                }
                self.sim.finish_bar(self.id);
                self.drain();
                self.prev = Some((*bar, warming));
            }
            FillTiming::SignalClose => {
                self.sim.on_bar(self.id, bar);
                self.drain();
                self.cycle(bar, warming, bar.time);
            }
        }
    }

    /// The core's cycle at `now` for the closed bar `bar`: deals, account and kill switch, the
    /// bar, position management; each one's commands executed at once at the current quote.
    fn cycle(&mut self, bar: &Bar, warming: bool, now: DateTime<Utc>) {
        // What the open did: swaps at a rollover, stops and orders the open gapped through.
        self.drain();
        self.report_deals();
        self.refresh_view();
        let cmds = self.core.process(CoreEvent::Account {
            view: self.view.market(now),
            kill_file_present: false,
        });
        self.run_commands(cmds);
        self.bar_closed(bar, now);
        let symbol = &self.setup.symbol;
        if warming {
            let bars = std::slice::from_ref(bar);
            self.core.process(CoreEvent::WarmUp { symbol, bars });
        } else {
            let tick = self.sim.tick(self.id);
            let (spec, scale) = (&self.setup.spec, self.view.scale);
            let quote = || decimal_quote(spec, scale, tick);
            let cmds = self.core.process(CoreEvent::BarClosed {
                symbol,
                bar,
                view: self.view.market(now),
                quote: Quote::Lazy(&quote),
            });
            self.run_commands(cmds);
        }
        if self.manages && !self.view.marked.positions.is_empty() {
            let cmds = self.core.process(CoreEvent::Prices(self.view.market(now)));
            self.run_commands(cmds);
        }
        self.record_equity(now);
    }

    /// Executes `cmds` and, when any reached the broker, reads the account again.
    fn run_commands(&mut self, cmds: Vec<Command>) {
        if cmds.is_empty() {
            return;
        }
        self.execute(cmds);
        if self.view.executed {
            self.refresh_view();
        }
    }

    fn refuse(&mut self, at: RefusedAt, side: Option<Side>, reason: String) {
        self.tally.refused.push(Refused {
            time: self.sim.now(),
            at,
            side,
            reason,
        });
    }

    fn execute(&mut self, cmds: Vec<Command>) {
        for c in cmds {
            if !matches!(c, Command::Record(_)) {
                self.view.executed = true;
                self.view.changed();
            }
            match c {
                Command::Record(e) => {
                    if let EventKind::SignalRecorded { refusal, signal } = &e.kind {
                        self.tally.signals += 1;
                        if let Some(r) = refusal {
                            *self.tally.refusals.entry(r.summary()).or_default() += 1;
                            let side = match signal.kind {
                                SignalKind::Buy => Some(Side::Buy),
                                SignalKind::Sell => Some(Side::Sell),
                                SignalKind::Close | SignalKind::Hold => None,
                            };
                            if side.is_some() {
                                self.tally.refused.push(Refused {
                                    time: e.time,
                                    at: RefusedAt::Signal,
                                    side,
                                    reason: r.to_string(),
                                });
                            }
                        }
                    }
                    if let Some(sink) = &mut self.sink {
                        sink(*e);
                    }
                }
                Command::Submit(mut req) => {
                    // The MT5 comment carries the client order id for reconciliation after a
                    // lost reply, which cannot happen here; without it no position copy the
                    // core takes on every bar copies text.
                    req.comment = String::new();
                    if let Some(Sizing::Equity(f)) = self.setup.sizing {
                        match self.equity_volume(req.side, f) {
                            Some(v) => req.volume = v,
                            None => {
                                let reason = "equity sizing below the minimum volume";
                                *self.tally.failures.entry(reason.into()).or_default() += 1;
                                self.refuse(RefusedAt::Sizing, Some(req.side), reason.into());
                                continue;
                            }
                        }
                    }
                    match self.sim.execute_order(&req) {
                        Ok(_) => {
                            self.core.process(CoreEvent::OrderResult { success: true });
                        }
                        Err(e) => {
                            self.core.process(CoreEvent::OrderResult { success: false });
                            *self.tally.failures.entry(broker_kind(&e)).or_default() += 1;
                            self.refuse(RefusedAt::Order, Some(req.side), e.to_string());
                        }
                    }
                    self.drain();
                }
                Command::Close { ticket, volume, .. } => {
                    if let Err(e) = self.sim.execute_close(ticket, volume) {
                        *self
                            .tally
                            .failures
                            .entry(format!("close: {e}"))
                            .or_default() += 1;
                        self.refuse(RefusedAt::Close, None, e.to_string());
                    }
                    self.drain();
                }
                Command::Modify { ticket, sl, tp, .. } => {
                    if let Err(e) = self.sim.modify_position(ticket, sl, tp) {
                        *self
                            .tally
                            .failures
                            .entry(format!("modify: {e}"))
                            .or_default() += 1;
                        self.refuse(RefusedAt::Modify, None, e.to_string());
                    }
                }
            }
        }
    }

    /// Lots for an entry of `fraction` of equity at the current fill price: the largest volume
    /// step count whose margin plus entry commission fits in `equity * fraction`.
    fn equity_volume(&self, side: Side, fraction: Decimal) -> Option<Decimal> {
        let spec = &self.setup.spec;
        let price = self.sim.entry_quote(self.id, side)?;
        let cfg = self.sim.config();
        let per_lot_value = spec.value_per_price_unit(cfg.currency, &self.view.rates)? * price;
        let commission = match self.setup.sim.commission {
            Commission::None => Decimal::ZERO,
            Commission::PerLot(c) => c,
            Commission::Rate(r) => r * per_lot_value,
        };
        let (equity, free_margin) = self.sim.equity_and_free_margin();
        let budget = free_margin.min(equity) * fraction;
        sizing::lots(budget, per_lot_value, cfg.leverage, commission, spec)
    }

    fn drain(&mut self) {
        self.sim.drain_events(&mut self.events);
        if self.events.is_empty() {
            return;
        }
        self.view.changed();
        for ev in &self.events {
            if let SimEvent::Deal(deal) = ev {
                self.tally.book.on_deal(deal);
            }
        }
        if self.new_deals.is_empty() {
            std::mem::swap(&mut self.new_deals, &mut self.events);
        } else {
            self.new_deals.append(&mut self.events);
        }
    }

    /// The deals since the core's last cycle go to the core, in order.
    fn report_deals(&mut self) {
        for ev in &self.new_deals {
            if let SimEvent::Deal(d) = ev {
                self.core.process(CoreEvent::Deal(d));
            }
        }
        self.new_deals.clear();
    }

    fn finish(mut self, bars: &[Bar], warmup: usize) -> BacktestResult {
        if let Some((last, warming)) = self.prev.take() {
            // The last bar closes: one more cycle sees it, at its close.
            let tf = self.setup.timeframe.duration();
            self.cycle(&last, warming, last.time + tf);
        }
        if self.close_at_end && self.sim.open_position_count() > 0 {
            self.tally.book.closing_at_end = true;
            for p in self.sim.positions() {
                if let Err(e) = self.sim.close_position(p.ticket, None) {
                    *self
                        .tally
                        .failures
                        .entry(format!("close at end: {e}"))
                        .or_default() += 1;
                    self.refuse(RefusedAt::Close, None, format!("close at end: {e}"));
                }
            }
            self.drain();
            if let Some(last) = bars.last() {
                let end = match self.setup.fill {
                    FillTiming::NextOpen => last.time + self.setup.timeframe.duration(),
                    FillTiming::SignalClose => last.time,
                };
                self.refresh_view();
                self.record_equity(end);
            }
        }
        let account = self.sim.account();
        let (strategy, params) = self
            .setup
            .config
            .currencies
            .first()
            .and_then(|c| c.build_strategy().ok())
            .map(|s| (s.name().to_string(), s.params()))
            .unwrap_or_default();
        use rust_decimal::prelude::ToPrimitive;
        BacktestResult {
            symbol: self.setup.symbol.clone(),
            strategy,
            params,
            initial_balance: self.setup.sim.deposit,
            final_balance: account.balance,
            final_equity: account.equity,
            trades: self.tally.book.trades,
            equity: self.curve.points,
            max_drawdown_pct: self.drawdown.max_pct.round_dp(4).to_f64().unwrap_or(0.0),
            max_drawdown_money: self.drawdown.max_money,
            bars: bars.len(),
            warmup_bars: warmup.min(bars.len()),
            signals: self.tally.signals,
            refusals: self.tally.refusals,
            order_failures: self.tally.failures,
            refused: self.tally.refused,
            first_bar: bars.first().map(|b| b.time),
            last_bar: bars.last().map(|b| b.time),
        }
    }
}

/// One pass over a block of bars: whether they increase strictly in time, and whether the spread
/// override `spread` differs from any bar's own spread (only then is the block copied with it).
fn survey(bars: &[Bar], spread: Option<u32>) -> (bool, bool) {
    let Some(p) = spread else {
        return (bars.windows(2).all(|w| w[0].time < w[1].time), false);
    };
    // Both in the same pass over the block, without an early exit: a block that is in order and
    // already carries the spread is read to its end anyway.
    let mut ordered = true;
    let mut differs = bars.first().is_some_and(|b| b.spread != p);
    for w in bars.windows(2) {
        ordered &= w[0].time < w[1].time;
        differs |= w[1].spread != p;
    }
    (ordered, differs)
}

/// The simulator's bid and ask as the core reads them: on the symbol's price grid (zero without
/// a quote). Converted only for bars that signal.
fn decimal_quote(
    spec: &SymbolSpec,
    scale: f64,
    tick: Option<mtq_core::Tick>,
) -> (Decimal, Decimal) {
    let price = |p: Option<f64>| {
        p.and_then(|p| normalize_price(spec, scale, p))
            .unwrap_or_default()
    };
    (price(tick.map(|t| t.bid)), price(tick.map(|t| t.ask)))
}
