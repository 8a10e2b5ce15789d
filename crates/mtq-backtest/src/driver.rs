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
//! Buffers are reused across bars. The account and positions the core reads are copied out of
//! the simulator only when something other than the price changed (a deal, a swap charge, a
//! modified stop); on other bars the driver marks the copies to the new quote itself, with the
//! simulator's own formulas (exact for symbols quoted in the account currency; others are
//! copied every bar). `on_prices` is skipped when the configuration manages nothing (no
//! breakeven, trailing stop, partial close or holding-time exit): it could not act. What still
//! allocates per bar is inside the core (it copies the symbol's open positions on every bar that
//! has any).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use mtq_analytics::EquityPoint;
use mtq_core::{
    AccountInfo, Bar, Decimal, EventKind, Position, Side, SignalKind, Symbol, SymbolSpec,
    decimal_units as units, ratio_half_even,
};
use mtq_orchestrator::{Command, MarketView, TraderCore};
use mtq_sim::{Commission, SimEvent, SimSymbol, Simulator, SymbolId};

use crate::BacktestError;
use crate::quote::{LazyRates, grid_points, mark_price, normalize_price, point_scale};
use crate::refused::{Refused, RefusedAt, broker_kind};
use crate::settings::{BacktestSetup, FillTiming, Sizing};
use crate::trades::{TradeBook, TradeRecord};

/// The core's view of the market, borrowing the driver's fields (not `self`, so the core can be
/// borrowed mutably beside it).
macro_rules! view {
    ($s:ident, $now:expr) => {
        MarketView {
            now: $now,
            account: &$s.account,
            positions: &$s.positions,
            rates: &$s.rates,
        }
    };
}

/// How much of the equity curve to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EquityDetail {
    /// A point after every bar (reports, charts, `equity.csv`).
    #[default]
    EveryBar,
    /// The last point of each UTC day (optimisation: enough for daily returns and Sharpe; the
    /// maximum drawdown is still tracked on every bar).
    Daily,
}

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
    equity_detail: EquityDetail,
    close_at_end: bool,
    // Reused per bar.
    account: AccountInfo,
    positions: Vec<Position>,
    rates: LazyRates,
    /// 10^digits for fast price normalisation (0: use the exact path).
    scale: f64,
    /// The copies in `account`/`positions` need a full refresh from the simulator.
    dirty: bool,
    /// Commands were executed since the core's view was taken.
    executed: bool,
    /// Positions can be marked to the quote by the driver: the tick is one point and the
    /// symbol's profit currency is the account's.
    fast_marks: bool,
    /// The configuration has position management that `on_prices` could act on.
    manages: bool,
    /// The copied positions in whole units, for marking them with integer arithmetic (empty
    /// when a value is not a whole number of units: the `Decimal` marking is used then).
    marks: Vec<Mark>,
    /// Balance and margin of the copied account in the account currency's smallest unit.
    balance_units: i64,
    margin_units: i64,
    events: Vec<SimEvent>,
    /// Deals since the core's last cycle: it learns of them at the start of the next one.
    new_deals: Vec<mtq_core::Deal>,
    /// The bar that closed last, and whether it only warms up, waiting for the next open.
    prev: Option<(Bar, bool)>,
    book: TradeBook,
    signals: usize,
    refusals: BTreeMap<String, usize>,
    failures: BTreeMap<String, usize>,
    refused: Vec<Refused>,
    equity: Vec<EquityPoint>,
    peak: Decimal,
    max_dd_pct: Decimal,
    max_dd_money: Decimal,
    /// Equity below which the fall from `peak` sets a new money / percent maximum: each bar
    /// compares against these instead of doing arithmetic.
    below_money: Decimal,
    below_pct: Decimal,
    /// The same thresholds and the peak in the account currency's smallest unit.
    dd_units: Option<DrawdownUnits>,
    /// The current equity in those units, when the view's equity is a whole number of them.
    equity_units: Option<i64>,
    /// `below_money`/`below_pct` lag a peak set in units.
    thresholds_stale: bool,
    /// End of the UTC day of the last equity point (daily equity detail).
    day_ends: DateTime<Utc>,
    /// Whether quiet bars may take [`Backtest::quiet_run`] (tests turn it off to compare).
    quiet_steps: bool,
    /// The band within which the next bar is quiet for the core, when it may be.
    quiet: Option<QuietUnits>,
    /// The last band converted to units, kept while the core's band is unchanged.
    band_units: Option<QuietUnits>,
    quiet_bars: usize,
    /// The bars of the run increase strictly in time (else no bar is stepped as quiet).
    ordered: bool,
    /// Quiet steps moved the quote without marking `account` and `positions` (only
    /// `equity_units`): the next [`Backtest::refresh_view`] marks them.
    view_stale: bool,
}

/// Quiet bars [`Backtest::quiet_run`] looks ahead for before the strategy takes them: enough to
/// spread the strategy call's cost, few enough that little is looked at in vain past a signal
/// (measured: 16 looks at 5% fewer instructions than 8 or 32 in the 14,406-set grid).
const QUIET_CHUNK: usize = 16;

/// The core's [`mtq_risk::QuietBand`] in the account currency's smallest unit.
#[derive(Clone, Copy, Debug)]
struct QuietUnits {
    band: mtq_risk::QuietBand,
    floor: i64,
    peak: i64,
}

/// The drawdown thresholds in whole money units: an equity within them changes nothing.
#[derive(Clone, Copy, Debug)]
struct DrawdownUnits {
    peak: i64,
    below_money: i64,
    below_pct: i64,
    /// The largest fall so far in units, and in percent as `f64` (for thresholds at a new peak).
    max_money: i64,
    max_pct: f64,
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
        .map_err(BacktestError::Sim)?;
        let id = sim
            .symbol_id(&setup.symbol)
            .ok_or_else(|| BacktestError::SymbolNotAdded(setup.symbol.clone()))?;
        let specs: BTreeMap<Symbol, SymbolSpec> =
            [(setup.symbol.clone(), setup.spec.clone())].into();
        let core = TraderCore::new(setup.config.clone(), specs, setup.server_offset_secs)
            .map_err(BacktestError::Core)?;
        let account = sim.account();
        let peak = account.equity;
        let rates = LazyRates::new(&setup.spec);
        let scale = point_scale(&setup.spec);
        let fast_marks = scale > 0.0 && setup.spec.profit_currency == setup.sim.currency;
        let m = &setup.config.risk.modifications;
        let manages = m.enable_breakeven
            || m.enable_trailing_stop
            || m.enable_partial_close
            || m.max_holding_minutes.is_some();
        Ok(Self {
            setup,
            sim,
            id,
            core,
            equity_detail: EquityDetail::EveryBar,
            close_at_end: true,
            account,
            positions: Vec::new(),
            rates,
            scale,
            dirty: true,
            executed: false,
            fast_marks,
            manages,
            marks: Vec::new(),
            balance_units: 0,
            margin_units: 0,
            events: Vec::new(),
            new_deals: Vec::new(),
            prev: None,
            book: TradeBook::default(),
            signals: 0,
            refusals: BTreeMap::new(),
            failures: BTreeMap::new(),
            refused: Vec::new(),
            equity: Vec::new(),
            peak,
            max_dd_pct: Decimal::ZERO,
            max_dd_money: Decimal::ZERO,
            below_money: peak,
            below_pct: peak,
            dd_units: None,
            equity_units: None,
            thresholds_stale: false,
            day_ends: DateTime::<Utc>::MIN_UTC,
            quiet_steps: true,
            quiet: None,
            band_units: None,
            quiet_bars: 0,
            ordered: false,
            view_stale: false,
        }
        .with_thresholds())
    }

    fn with_thresholds(mut self) -> Self {
        self.set_thresholds();
        self
    }

    /// Runs `strategy` instead of the one the setup's configuration builds (the optimiser's
    /// strategies that share precomputed indicator series). It must be the configured strategy
    /// with the configured parameters: the result reports those.
    pub fn with_strategy(
        mut self,
        strategy: Box<dyn mtq_strategies::Strategy>,
    ) -> Result<Self, BacktestError> {
        self.core
            .set_strategy(&self.setup.symbol, strategy)
            .map_err(BacktestError::Core)?;
        Ok(self)
    }

    pub fn with_equity_detail(mut self, detail: EquityDetail) -> Self {
        self.equity_detail = detail;
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
        self.equity.reserve(match self.equity_detail {
            EquityDetail::EveryBar => bars.len() + 1,
            EquityDetail::Daily => bars.len() / 200 + 2,
        });
        if let Some(first) = bars.first() {
            self.equity.push(EquityPoint {
                time: first.time,
                equity: self.peak,
            });
        }
        // With a spread override, the bars the steps see carry it (one copy, not one a bar).
        let respread: Vec<Bar>;
        let bars_seen: &[Bar] = match self.setup.spread_points {
            Some(p) => {
                respread = bars.iter().map(|b| Bar { spread: p, ..*b }).collect();
                &respread
            }
            None => bars,
        };
        self.ordered = bars.windows(2).all(|w| w[0].time < w[1].time);
        let mut i = 0;
        while i < bars_seen.len() {
            let quiet = self.quiet_run(bars_seen, i);
            if quiet > 0 {
                self.quiet_bars += quiet;
                i += quiet;
            } else {
                self.step(&bars_seen[i], i < warmup);
                self.arm_quiet();
                i += 1;
            }
        }
        let quiet = self.quiet_bars;
        (self.finish(bars, warmup), quiet)
    }

    /// Steps the bars from `bars[i]` on that are quiet, in a few comparisons each, and returns
    /// how many it stepped (0 when `bars[i]` is not quiet: nothing changed, the full step runs).
    ///
    /// A bar is quiet when the simulator would do nothing on it but move the quote
    /// ([`Simulator::bar_is_quiet`]), the equity at its open lies within the core's quiet band
    /// (no kill-switch level within reach, the same trading day, no new peak unless the floor
    /// ignores the peak: `on_account` would do nothing) and nothing else is due (no deal to
    /// report, no position management). Up to [`QUIET_CHUNK`] such bars are found first; the
    /// strategy then takes the bars that closed before them in one call
    /// ([`TraderCore::strategy_run`]), which stops at a signal. The bars before the signal are
    /// stepped as quiet; on the signal's bar the view is brought up to date and the step goes on
    /// as [`Backtest::step`] would from the strategy's signal.
    fn quiet_run(&mut self, bars: &[Bar], i: usize) -> usize {
        let Some(q) = self.quiet.filter(|_| self.ordered) else {
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
        let signal =
            self.core
                .strategy_run(&self.setup.symbol, &bars[i - 1..i + n - 1], &self.positions);
        let upto = signal.as_ref().map_or(n, |(k, _)| *k);
        // 3. The bars without a signal (and the open of the signal's bar): the equity curve,
        // new peaks as `on_account` would take them.
        // With the daily curve, a bar inside the current day that moves no drawdown figure only
        // replaces the day's last point: the last of a row of them is written, once.
        let daily = self.equity_detail == EquityDetail::Daily;
        let mut deferred: Option<(DateTime<Utc>, i64)> = None;
        for (k, &equity) in opens.iter().enumerate().take(upto) {
            let time = bars[i + k].time;
            self.quiet_open(equity);
            if self.within_drawdown(equity) {
                if !daily {
                    // `record_equity`'s common case, inline: a point, no drawdown figure moves.
                    let equity = Decimal::new(equity, self.setup.sim.money_digits);
                    self.equity.push(EquityPoint { time, equity });
                    continue;
                }
                if time < self.day_ends {
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
        let (spec, scale) = (&self.setup.spec, self.scale);
        let quote = || decimal_quote(spec, scale, tick);
        let cmds = self.core.on_signal(signal, view!(self, now), quote);
        self.run_commands(cmds);
        self.record_equity(now);
        self.sim.finish_bar(self.id);
        self.drain();
        self.arm_quiet();
        self.prev = Some((*bar, false));
        k + 1
    }

    /// Whether an equity of `e` units sets no new peak and no new maximum fall.
    fn within_drawdown(&self, e: i64) -> bool {
        self.dd_units
            .is_some_and(|u| e <= u.peak && e >= u.below_money && e >= u.below_pct)
    }

    /// [`Backtest::record_equity`] at `time` for an equity of `units`, leaving the view's
    /// equity as it was.
    fn record_units(&mut self, (time, units): (DateTime<Utc>, i64)) {
        let keep = self.equity_units.replace(units);
        self.record_equity(time);
        self.equity_units = keep;
    }

    /// A quiet bar's open at `equity` units: the view keeps it in units only, and a new peak
    /// goes to the core as `on_account` would take it (the band's floor ignores the peak, or
    /// the bar would not be quiet: the core takes it).
    fn quiet_open(&mut self, equity: i64) {
        if let Some(q) = self.quiet
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
            self.quiet = Some(u);
            self.band_units = Some(u);
        }
        self.equity_units = Some(equity);
        self.view_stale = true;
    }

    /// After a full step: whether the next bars may be quiet ([`Backtest::quiet_run`]), and the
    /// band.
    fn arm_quiet(&mut self) {
        self.quiet = None;
        let open = self.sim.open_position_count();
        let ready = self.quiet_steps
            && self.setup.fill == FillTiming::NextOpen
            && !self.manages
            && self.fast_marks
            && !self.dirty
            && self.dd_units.is_some()
            && open == self.positions.len()
            && (if open == 0 {
                self.equity_units.is_some()
            } else {
                self.marks.len() == open
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
        if let Some(u) = self.band_units.filter(|u| u.band == band) {
            self.quiet = Some(u);
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
            self.band_units = Some(u);
            self.quiet = Some(u);
        }
    }

    /// The equity with the copied positions marked at `bid`/`ask`, in whole units, as
    /// [`Backtest::mark_in_units`] works it out; `None` where that would not.
    fn equity_at(&self, bid: f64, ask: f64) -> Option<i64> {
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
                .checked_add(diff.checked_mul(m.per_point)?.checked_add(m.swap)?);
        }
        let (bid, ask) = (grid_points(self.scale, bid)?, grid_points(self.scale, ask)?);
        let mut floating: i64 = 0;
        for m in &self.marks {
            let diff = if m.buy { bid - m.open } else { m.open - ask };
            floating = floating.checked_add(diff.checked_mul(m.per_point)?.checked_add(m.swap)?)?;
        }
        self.balance_units.checked_add(floating)
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
        if !self.new_deals.is_empty() {
            for d in self.new_deals.drain(..) {
                self.core.on_deal(&d);
            }
        }
        self.refresh_view();
        let cmds = self.core.on_account(view!(self, now), false);
        self.run_commands(cmds);
        if warming {
            self.core
                .warm_up(&self.setup.symbol, std::slice::from_ref(bar));
        } else {
            let tick = self.sim.tick(self.id);
            let (spec, scale) = (&self.setup.spec, self.scale);
            let quote = || decimal_quote(spec, scale, tick);
            let cmds = self
                .core
                .on_bar_quoted(&self.setup.symbol, bar, view!(self, now), quote);
            self.run_commands(cmds);
        }
        if self.manages && !self.positions.is_empty() {
            let cmds = self.core.on_prices(view!(self, now));
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
        if self.executed {
            self.refresh_view();
        }
    }

    /// Account, positions and rates as the core sees them.
    fn refresh_view(&mut self) {
        let tick = self.sim.tick(self.id);
        if let Some(t) = tick {
            self.rates.set_mid((t.bid + t.ask) / 2.0);
        }
        let open = self.sim.open_position_count();
        if open == 0 {
            // A flat view made earlier stays right: only a deal, which marks it dirty, moves the
            // balance.
            if self.dirty || !self.positions.is_empty() {
                let balance = self.sim.balance();
                self.positions.clear();
                self.marks.clear();
                self.account.balance = balance;
                self.account.equity = balance;
                self.account.margin = Decimal::ZERO;
                self.account.free_margin = balance;
                self.account.margin_level = None;
                self.equity_units = units(balance, self.setup.sim.money_digits);
            }
        } else if self.dirty || !self.fast_marks || open != self.positions.len() || tick.is_none() {
            self.copy_from_sim();
        } else if let Some(t) = tick {
            self.mark_to_quote(t.bid, t.ask);
        }
        self.dirty = false;
        self.executed = false;
        self.view_stale = false;
        if open > 0 && matches!(self.setup.sizing, Some(Sizing::Equity(_))) {
            // All-in sizing: the only positions are this symbol's, which an opposite signal
            // closes before entering, and the order is sized after that close. The core's
            // margin check (at the minimum volume) would otherwise count the margin of the
            // position being reversed; the simulator checks the real order's margin.
            self.account.free_margin = self.account.equity;
            self.account.margin = Decimal::ZERO;
            self.account.margin_level = None;
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
            mark_price(spec, self.scale, bid),
            mark_price(spec, self.scale, ask),
        ) else {
            self.copy_from_sim();
            return;
        };
        let digits = self.setup.sim.money_digits;
        let mut floating = Decimal::ZERO;
        for p in &mut self.positions {
            let (price, diff) = match p.side {
                Side::Buy => (bid, bid - p.open_price),
                Side::Sell => (ask, p.open_price - ask),
            };
            p.current_price = price;
            p.profit = (diff * p.volume * spec.contract_size).round_dp(digits);
            floating += p.profit + p.swap;
        }
        self.equity_units = None;
        let a = &mut self.account;
        a.balance = self.sim.balance();
        a.equity = a.balance + floating;
        a.free_margin = a.equity - a.margin;
        a.margin_level = (a.margin > Decimal::ZERO)
            .then(|| (a.equity / a.margin * Decimal::ONE_HUNDRED).round_dp(2));
    }

    /// Account and positions copied out of the simulator, and their marks in whole units
    /// worked out again.
    fn copy_from_sim(&mut self) {
        self.sim.snapshot(&mut self.account, &mut self.positions);
        self.marks.clear();
        self.equity_units = units(self.account.equity, self.setup.sim.money_digits);
        if !self.fast_marks {
            return;
        }
        let spec = &self.setup.spec;
        let money = self.setup.sim.money_digits;
        let point = Decimal::new(1, spec.digits);
        for p in &self.positions {
            let mark = (|| {
                Some(Mark {
                    buy: p.side == Side::Buy,
                    open: units(p.open_price, spec.digits)?,
                    per_point: units(p.volume.checked_mul(spec.contract_size)? * point, money)?,
                    swap: units(p.swap, money)?,
                })
            })();
            match mark {
                Some(m) => self.marks.push(m),
                None => {
                    self.marks.clear();
                    return;
                }
            }
        }
        match (
            units(self.account.balance, money),
            units(self.account.margin, money),
        ) {
            (Some(b), Some(m)) => (self.balance_units, self.margin_units) = (b, m),
            _ => self.marks.clear(),
        }
    }

    /// [`Backtest::mark_to_quote`] in whole units of price and money: a position's profit is its
    /// price difference in points times the money a point is worth at its volume, exactly what
    /// the simulator's rounded `Decimal` product gives when that value is a whole number of
    /// cents. `None` (nothing changed) when the quote is near a rounding tie, a value did not
    /// convert or the arithmetic would overflow.
    fn mark_in_units(&mut self, bid: f64, ask: f64) -> Option<()> {
        if self.marks.len() != self.positions.len() || self.marks.is_empty() {
            return None;
        }
        let (bid, ask) = (grid_points(self.scale, bid)?, grid_points(self.scale, ask)?);
        // One pass: positions are written as they are marked. Should the arithmetic overflow
        // part way, the caller's `Decimal` marking rewrites every position.
        let (digits, money) = (self.setup.spec.digits, self.setup.sim.money_digits);
        let mut floating: i64 = 0;
        for (p, m) in self.positions.iter_mut().zip(&self.marks) {
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
        let equity = self.balance_units.checked_add(floating)?;
        let margin_level = if self.margin_units > 0 {
            Some(Decimal::new(
                ratio_half_even(equity.checked_mul(10_000)?, self.margin_units)?,
                2,
            ))
        } else {
            None
        };
        self.equity_units = Some(equity);
        let a = &mut self.account;
        a.equity = Decimal::new(equity, money);
        a.free_margin = Decimal::new(equity - self.margin_units, money);
        a.margin_level = margin_level;
        Some(())
    }

    fn refuse(&mut self, at: RefusedAt, side: Option<Side>, reason: String) {
        self.refused.push(Refused {
            time: self.sim.now(),
            at,
            side,
            reason,
        });
    }

    fn execute(&mut self, cmds: Vec<Command>) {
        for c in cmds {
            if !matches!(c, Command::Record(_)) {
                self.executed = true;
                self.dirty = true;
            }
            match c {
                Command::Record(e) => {
                    if let EventKind::SignalRecorded { refusal, signal } = &e.kind {
                        self.signals += 1;
                        if let Some(r) = refusal {
                            *self.refusals.entry(r.summary()).or_default() += 1;
                            let side = match signal.kind {
                                SignalKind::Buy => Some(Side::Buy),
                                SignalKind::Sell => Some(Side::Sell),
                                SignalKind::Close | SignalKind::Hold => None,
                            };
                            if side.is_some() {
                                self.refused.push(Refused {
                                    time: e.time,
                                    at: RefusedAt::Signal,
                                    side,
                                    reason: r.to_string(),
                                });
                            }
                        }
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
                                *self.failures.entry(reason.into()).or_default() += 1;
                                self.refuse(RefusedAt::Sizing, Some(req.side), reason.into());
                                continue;
                            }
                        }
                    }
                    match self.sim.send_order(&req) {
                        Ok(_) => self.core.on_order_result(true),
                        Err(e) => {
                            self.core.on_order_result(false);
                            *self.failures.entry(broker_kind(&e)).or_default() += 1;
                            self.refuse(RefusedAt::Order, Some(req.side), e.to_string());
                        }
                    }
                    self.drain();
                }
                Command::Close { ticket, volume, .. } => {
                    if let Err(e) = self.sim.close_position(ticket, volume) {
                        *self.failures.entry(format!("close: {e}")).or_default() += 1;
                        self.refuse(RefusedAt::Close, None, e.to_string());
                    }
                    self.drain();
                }
                Command::Modify { ticket, sl, tp, .. } => {
                    if let Err(e) = self.sim.modify_position(ticket, sl, tp) {
                        *self.failures.entry(format!("modify: {e}")).or_default() += 1;
                        self.refuse(RefusedAt::Modify, None, e.to_string());
                    }
                }
            }
        }
    }

    /// Lots for an entry of `fraction` of equity at the current fill price: the largest volume
    /// step count whose margin plus entry commission fits in `equity * fraction`.
    fn equity_volume(&self, side: Side, fraction: Decimal) -> Option<Decimal> {
        let tick = self.sim.tick(self.id)?;
        let spec = &self.setup.spec;
        let price = spec.normalize_price_f64(match side {
            Side::Buy => tick.ask,
            Side::Sell => tick.bid,
        })?;
        let account = self.sim.account();
        let per_lot_value = spec.value_per_price_unit(account.currency, &self.rates)? * price;
        let leverage = Decimal::from(account.leverage.max(1));
        let commission = match self.setup.sim.commission {
            Commission::None => Decimal::ZERO,
            Commission::PerLot(c) => c,
            Commission::Rate(r) => r * per_lot_value,
        };
        let per_lot = per_lot_value / leverage + commission;
        if per_lot <= Decimal::ZERO {
            return None;
        }
        let budget = account.free_margin.min(account.equity) * fraction;
        spec.normalize_volume(budget.checked_div(per_lot)?)
    }

    fn drain(&mut self) {
        self.sim.drain_events(&mut self.events);
        if self.events.is_empty() {
            return;
        }
        self.dirty = true;
        for ev in self.events.drain(..) {
            if let SimEvent::Deal(deal) = ev {
                self.book.on_deal(&deal);
                self.new_deals.push(deal);
            }
        }
    }

    fn record_equity(&mut self, time: DateTime<Utc>) {
        // The view was read again after the cycle's last command, so it is current.
        let money = self.setup.sim.money_digits;
        let equity = match (self.equity_units, self.dd_units) {
            // Most bars: neither a new peak nor a new maximum fall, in three integer comparisons.
            (Some(e), Some(u)) if e <= u.peak && e >= u.below_money && e >= u.below_pct => {
                Decimal::new(e, money)
            }
            // A new peak: in a rising account, every few bars.
            (Some(e), Some(u)) if e > u.peak && u.max_pct.is_finite() => {
                self.new_peak_in_units(e, u);
                Decimal::new(e, money)
            }
            _ => {
                let equity = match self.equity_units {
                    // The view was not marked on a quiet bar: its equity is in units only.
                    Some(e) if self.view_stale => Decimal::new(e, money),
                    _ if self.sim.open_position_count() == 0 => self.sim.balance(),
                    _ => self.account.equity,
                };
                self.track_drawdown(equity);
                equity
            }
        };
        let point = EquityPoint { time, equity };
        match self.equity_detail {
            EquityDetail::EveryBar => self.equity.push(point),
            EquityDetail::Daily => match self.equity.last_mut() {
                Some(last) if time < self.day_ends => *last = point,
                last => {
                    let day = time.date_naive();
                    let next = day.succ_opt().unwrap_or(NaiveDate::MAX);
                    self.day_ends = next.and_time(NaiveTime::MIN).and_utc();
                    match last {
                        Some(last) if last.time.date_naive() == day => *last = point,
                        _ => self.equity.push(point),
                    }
                }
            },
        }
    }

    /// A new peak of `e` units, without `Decimal` arithmetic: the integer thresholds move with
    /// it, the percent one rounded up generously (it only decides which bars take the exact path
    /// in [`Backtest::track_drawdown`], whose maxima an extra visit cannot change), and the
    /// `Decimal` thresholds are worked out again when that path next runs.
    fn new_peak_in_units(&mut self, e: i64, u: DrawdownUnits) {
        self.peak = Decimal::new(e, self.setup.sim.money_digits);
        self.thresholds_stale = true;
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        // `e` and the result are far below 2^53 for any account; the margin covers the rounding.
        let below_pct = {
            let x = e as f64 * (1.0 - u.max_pct / 100.0);
            x as i64 + (e / 1_000_000_000_000).abs() + 2
        };
        self.dd_units = Some(DrawdownUnits {
            peak: e,
            below_money: e - u.max_money,
            below_pct,
            ..u
        });
    }

    /// A new peak or a new maximum fall, in `Decimal`; the integer thresholds follow.
    fn track_drawdown(&mut self, equity: Decimal) {
        if self.thresholds_stale {
            self.set_thresholds();
        }
        if equity > self.peak {
            self.peak = equity;
            self.set_thresholds();
        } else if self.peak > Decimal::ZERO
            && (equity < self.below_money || equity < self.below_pct)
        {
            let fall = self.peak - equity;
            self.max_dd_money = self.max_dd_money.max(fall);
            self.max_dd_pct = self.max_dd_pct.max(fall * Decimal::ONE_HUNDRED / self.peak);
            self.set_thresholds();
        }
    }

    /// The equities that would set a new maximum drawdown from the current peak.
    fn set_thresholds(&mut self) {
        self.below_money = self.peak - self.max_dd_money;
        self.below_pct = self.peak - self.peak * self.max_dd_pct / Decimal::ONE_HUNDRED;
        self.thresholds_stale = false;
        let money = self.setup.sim.money_digits;
        // An equity of `e` units is below a threshold `x` exactly when `e < ceil(x)` in units.
        self.dd_units = (self.peak > Decimal::ZERO)
            .then(|| {
                use rust_decimal::prelude::ToPrimitive;
                Some(DrawdownUnits {
                    peak: units(self.peak, money)?,
                    below_money: ceil_units(self.below_money, money)?,
                    below_pct: ceil_units(self.below_pct, money)?,
                    max_money: units(self.max_dd_money, money)?,
                    max_pct: self.max_dd_pct.to_f64()?,
                })
            })
            .flatten();
    }

    fn finish(mut self, bars: &[Bar], warmup: usize) -> BacktestResult {
        if let Some((last, warming)) = self.prev.take() {
            // The last bar closes: one more cycle sees it, at its close.
            let tf = self.setup.timeframe.duration();
            self.cycle(&last, warming, last.time + tf);
        }
        if self.close_at_end && self.sim.open_position_count() > 0 {
            self.book.closing_at_end = true;
            for p in self.sim.positions() {
                if let Err(e) = self.sim.close_position(p.ticket, None) {
                    *self
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
            trades: self.book.trades,
            equity: self.equity,
            max_drawdown_pct: self.max_dd_pct.round_dp(4).to_f64().unwrap_or(0.0),
            max_drawdown_money: self.max_dd_money,
            bars: bars.len(),
            warmup_bars: warmup.min(bars.len()),
            signals: self.signals,
            refusals: self.refusals,
            order_failures: self.failures,
            refused: self.refused,
            first_bar: bars.first().map(|b| b.time),
            last_bar: bars.last().map(|b| b.time),
        }
    }
}

/// A copied position in whole units: its open price in points, the money one point is worth
/// at its volume and its swap, both in the account currency's smallest unit.
#[derive(Clone, Copy, Debug)]
struct Mark {
    buy: bool,
    open: i64,
    per_point: i64,
    swap: i64,
}

/// `d` in units of `10^-scale`, rounded up, when that fits an `i64`.
fn ceil_units(d: Decimal, scale: u32) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    d.checked_mul(Decimal::from(10i64.checked_pow(scale)?))?
        .ceil()
        .to_i64()
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mtq_core::Timeframe;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::testkit::random_walk;
    use crate::{SetupOptions, Sizing};

    fn setup(manage: bool, fill: FillTiming) -> BacktestSetup {
        let mut s = SetupOptions {
            symbol: "EURUSD".into(),
            strategy: Some("crossover".into()),
            params: vec![
                ("fast_period".into(), "8".into()),
                ("slow_period".into(), "21".into()),
                ("sl_pips".into(), "25".into()),
                ("tp_pips".into(), "40".into()),
            ],
            timeframe: Timeframe::M5,
            sizing: Some(Sizing::Risk(dec!(1))),
            commission_per_lot: Some(dec!(3.5)),
            fill,
            ..SetupOptions::default()
        }
        .build()
        .unwrap();
        if manage {
            let mut c = (*s.config).clone();
            let m = &mut c.risk.modifications;
            m.enable_breakeven = true;
            m.breakeven_trigger_pips = dec!(10);
            m.enable_trailing_stop = true;
            m.trailing_activation_pips = dec!(15);
            m.trailing_stop_pips = dec!(10);
            s.config = Arc::new(c);
        }
        s
    }

    /// The daily curve is the every-bar curve's last point of each UTC day, and both runs agree
    /// on everything else.
    #[test]
    fn the_daily_curve_keeps_each_days_last_point() {
        let bars = random_walk(
            3_000,
            17,
            Timeframe::M5,
            "2024-01-01T00:00:00Z".parse().unwrap(),
            1.1,
            9,
        );
        let every = Backtest::new(setup(false, FillTiming::NextOpen))
            .unwrap()
            .run(&bars);
        let daily = Backtest::new(setup(false, FillTiming::NextOpen))
            .unwrap()
            .with_equity_detail(EquityDetail::Daily)
            .run(&bars);
        let mut expected: Vec<EquityPoint> = Vec::new();
        for p in &every.equity {
            match expected.last_mut() {
                Some(last) if last.time.date_naive() == p.time.date_naive() => *last = *p,
                _ => expected.push(*p),
            }
        }
        assert!(expected.len() > 5, "{}", expected.len());
        // The drawdown the driver tracks with integer thresholds is the curve's own.
        let (mut peak, mut money, mut pct) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for p in &every.equity {
            peak = peak.max(p.equity);
            money = money.max(peak - p.equity);
            pct = pct.max((peak - p.equity) * Decimal::ONE_HUNDRED / peak);
        }
        assert!(money > Decimal::ZERO);
        assert_eq!(every.max_drawdown_money, money);
        use rust_decimal::prelude::ToPrimitive;
        assert_eq!(
            every.max_drawdown_pct.to_bits(),
            pct.round_dp(4).to_f64().unwrap().to_bits()
        );
        assert_eq!(daily.equity, expected);
        assert_eq!(daily.trades, every.trades);
        assert_eq!(
            daily.max_drawdown_pct.to_bits(),
            every.max_drawdown_pct.to_bits()
        );
        assert_eq!(daily.max_drawdown_money, every.max_drawdown_money);
    }

    /// Quiet steps give exactly what full steps give (trades, every equity point, drawdown,
    /// refusals), with the kill switch tripping, swaps charged, other strategies and sizings,
    /// and take most bars.
    #[test]
    fn quiet_steps_change_nothing() {
        type Tweak = fn(&mut BacktestSetup);
        let strategy = |name: &str, params: &[(&str, &str)]| {
            let mut s = setup(false, FillTiming::NextOpen);
            let opts = SetupOptions {
                symbol: "EURUSD".into(),
                strategy: Some(name.into()),
                params: params
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                    .collect(),
                timeframe: Timeframe::M5,
                sizing: s.sizing,
                commission_per_lot: Some(dec!(3.5)),
                ..SetupOptions::default()
            };
            s = opts.build().unwrap();
            s
        };
        let tight_limits: Tweak = |s| {
            let mut c = (*s.config).clone();
            c.risk.emergency.max_daily_loss_percent = Some(dec!(0.5));
            c.risk.emergency.max_drawdown_percent = Some(dec!(3));
            c.risk.emergency.stop_on_daily_loss = true;
            c.risk.emergency.stop_on_max_drawdown = true;
            c.risk.emergency.close_all_on_stop = true;
            s.config = Arc::new(c);
        };
        // The trading day starts at 17:00 in New York, away from the server's midnight rollover.
        let heavy_swaps: Tweak = |s| {
            s.spec.swap_long = dec!(-25);
            s.spec.swap_short = dec!(-18);
            let mut c = (*s.config).clone();
            c.risk.global.trading_day = mtq_risk::TradingDayConfig {
                timezone: chrono_tz::America::New_York,
                start: mtq_risk::ClockTime::hm(17, 0).unwrap(),
            };
            s.config = Arc::new(c);
        };
        let equity_sizing: Tweak = |s| s.sizing = Some(Sizing::Equity(dec!(0.5)));
        // All in at 1:500: a few pips against the position reach the stop-out level first.
        let stop_outs: Tweak = |s| {
            s.sizing = Some(Sizing::Equity(dec!(1)));
            s.sim.leverage = 500;
        };
        let fixed_sizing: Tweak = |s| {
            s.sizing = Some(Sizing::Fixed(dec!(0.3)));
            s.spread_points = Some(14);
        };
        let none: Tweak = |_| {};
        let base = [
            ("crossover", none),
            ("crossover, tight limits", tight_limits),
            ("crossover, swaps", heavy_swaps),
            ("crossover, equity sizing", equity_sizing),
            ("crossover, fixed lots", fixed_sizing),
            ("crossover, stop-outs", stop_outs),
        ];
        let mut cases: Vec<(&str, BacktestSetup, Tweak)> = base
            .into_iter()
            .map(|(name, tweak)| (name, setup(false, FillTiming::NextOpen), tweak))
            .collect();
        cases.extend([
            (
                "slow crossover",
                strategy(
                    "crossover",
                    &[
                        ("fast_period", "50"),
                        ("slow_period", "200"),
                        ("sl_pips", "60"),
                    ],
                ),
                heavy_swaps,
            ),
            (
                "wide stops, tight limits",
                strategy(
                    "crossover",
                    &[
                        ("fast_period", "8"),
                        ("slow_period", "21"),
                        ("sl_pips", "90"),
                    ],
                ),
                tight_limits,
            ),
            ("rsi, tight limits", strategy("rsi", &[]), tight_limits),
            ("bollinger", strategy("bollinger", &[]), none),
            ("macd", strategy("macd", &[]), none),
        ]);
        let bars = random_walk(
            12_000,
            41,
            Timeframe::M5,
            "2024-01-01T00:00:00Z".parse().unwrap(),
            1.1,
            9,
        );
        // The optimiser's strategies read series computed once over the bars.
        let cache = Arc::new(mtq_strategies::shared::SeriesCache::new(&bars).unwrap());
        let grid_like = strategy(
            "crossover",
            &[
                ("fast_period", "6"),
                ("slow_period", "25"),
                ("sl_pips", "15"),
                ("tp_pips", "0"),
                ("cooldown_seconds", "900"),
            ],
        );
        cases.push(("shared series, grid-like", grid_like, none));
        cases.push((
            "shared series, tight limits",
            strategy("crossover", &[("sl_pips", "60"), ("tp_pips", "30")]),
            tight_limits,
        ));
        for (name, mut s, tweak) in cases {
            tweak(&mut s);
            let shared = name.starts_with("shared");
            for detail in [EquityDetail::EveryBar, EquityDetail::Daily] {
                let run = |quiet: bool| {
                    let mut b = Backtest::new(s.clone()).unwrap().with_equity_detail(detail);
                    if shared {
                        let entry = &s.config.currencies[0].entry;
                        let strategy =
                            mtq_strategies::registry::build_entry_shared(entry, &cache).unwrap();
                        b = b.with_strategy(strategy).unwrap();
                    }
                    b.quiet_steps = quiet;
                    b.run_counting(&bars)
                };
                let ((a, quiet), (b, none)) = (run(true), run(false));
                assert_eq!(none, 0);
                // Once the kill switch has stopped trading, no bar is quiet.
                let share = if name.contains("tight") { 20 } else { 2 };
                assert!(
                    quiet * share > bars.len(),
                    "{name}: only {quiet} of {} bars were quiet",
                    bars.len()
                );
                assert!(a.trades.len() > 5, "{name}: {} trades", a.trades.len());
                let first_diff = a.equity.iter().zip(&b.equity).position(|(x, y)| x != y);
                assert_eq!(
                    first_diff.map(|i| (i, a.equity[i], b.equity[i])),
                    None,
                    "{name}"
                );
                assert_eq!(a, b, "{name}");
                if name.contains("stop-outs") {
                    let reasons: std::collections::BTreeSet<&str> =
                        a.trades.iter().map(|t| t.exit_reason).collect();
                    assert!(reasons.contains("stop_out"), "{reasons:?}");
                }
                if name.contains("tight") {
                    assert!(
                        a.refusals.keys().any(|k| k.contains("daily loss")),
                        "{name}: {:?}",
                        a.refusals
                    );
                }
            }
        }
    }

    /// The driver's own marking of positions to the quote gives what copying them out of the
    /// simulator on every bar gives: the same trades and the same equity after every bar.
    #[test]
    fn marking_to_the_quote_equals_copying_from_the_simulator() {
        let bars = random_walk(
            6_000,
            31,
            Timeframe::M5,
            "2024-01-01T00:00:00Z".parse().unwrap(),
            1.1,
            9,
        );
        for manage in [false, true] {
            for fill in [FillTiming::NextOpen, FillTiming::SignalClose] {
                let fast = Backtest::new(setup(manage, fill)).unwrap();
                assert!(fast.fast_marks);
                assert_eq!(fast.manages, manage);
                let mut slow = Backtest::new(setup(manage, fill)).unwrap();
                slow.fast_marks = false;
                let (a, b) = (fast.run(&bars), slow.run(&bars));
                assert!(a.trades.len() > 50, "{}", a.trades.len());
                assert_eq!(a.trades, b.trades, "manage {manage}, {fill:?}");
                assert_eq!(a.equity.len(), b.equity.len());
                let first_diff = a.equity.iter().zip(&b.equity).position(|(x, y)| x != y);
                assert_eq!(
                    first_diff.map(|i| (i, a.equity[i], b.equity[i])),
                    None,
                    "manage {manage}, {fill:?}"
                );
                if manage {
                    assert!(
                        a.trades
                            .iter()
                            .any(|t| t.exit_reason == "stop_loss" && t.profit > Decimal::ZERO)
                    );
                }
            }
        }
    }
}
