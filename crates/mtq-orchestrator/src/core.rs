//! The trader core: a synchronous state machine with no I/O. Events in (a closed bar, prices,
//! an account snapshot, a deal, an order result), commands out (send an order, close, modify,
//! record an event), through one entry, [`TraderCore::process`], as barter's
//! `Engine::process(event)`. The live driver and the backtester feed it the same [`CoreEvent`]s,
//! which is what makes them agree. Beyond that the backtest has one batch entry,
//! [`TraderCore::quiet_run`], for stretches of bars where nothing but the quote moves. A new
//! configuration ([`TraderCore::reload`]) and the state restored at start-up are control, not
//! market events.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mtq_core::{
    AccountInfo, Bar, Deal, Decimal, DomainEvent, ErrorSource, EventKind, ExitReason, FxRates,
    MarginMode, OrderRequest, Position, Side, Signal, SignalKind, SignalRefusal, Symbol,
    SymbolSpec, Ticket,
};
use mtq_risk::{
    CheckContext, EntryIntent, PositionAction, QuietLimits, RiskState, manage_position, plan_entry,
};
use mtq_strategies::{Context, HigherTimeframes, Strategy, StrategyError};

use crate::config::{AppConfig, CurrencyConfig};
use crate::{CommandReason, signal_order_id};

/// What the core asks its driver to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Send this entry order through the executor (intent first). When `Close` commands come
    /// before it in the same list (a reversal), the entry depends on them: a driver sends it
    /// only when every one of those closes is done, and otherwise records the signal as refused
    /// ([`EntryRefusal::ReversalNotClosed`]).
    Submit(Box<OrderRequest>),
    /// Close a position in full (`volume: None`) or in part.
    Close {
        ticket: Ticket,
        volume: Option<Decimal>,
        reason: CommandReason,
        /// The trade's exit reason when this close ends it.
        exit: ExitReason,
    },
    /// Move a position's SL/TP.
    Modify {
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
        reason: CommandReason,
        /// The exit reason of a later stop-loss exit: breakeven or trailing.
        exit: Option<ExitReason>,
    },
    /// Record an event: a signal and its fate, a kill-switch transition, a reload.
    Record(Box<DomainEvent>),
}

/// Why a signal's entry was not sent although the risk checks would allow it: in mtq-core, so
/// that the signal's record carries it typed.
pub use mtq_core::EntryRefusal;

/// What the driver saw when it called the core.
#[derive(Clone, Copy)]
pub struct MarketView<'a> {
    pub now: DateTime<Utc>,
    pub account: &'a AccountInfo,
    /// Every open position on the account.
    pub positions: &'a [Position],
    pub rates: &'a dyn FxRates,
}

impl std::fmt::Debug for MarketView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketView")
            .field("now", &self.now)
            .field("positions", &self.positions.len())
            .finish_non_exhaustive()
    }
}

/// Why the core could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("no symbol specification for {0}: add it to the broker or to the symbols file")]
    MissingSpec(Symbol),
    #[error("{0} is not an enabled symbol of the configuration")]
    NotTraded(Symbol),
    #[error("strategy for {symbol}: {source}")]
    Strategy {
        symbol: Symbol,
        source: StrategyError,
    },
}

struct Slot {
    cfg: usize,
    symbol: Symbol,
    /// The symbol's specification (a copy of the core's, read on every bar without a lookup).
    spec: SymbolSpec,
    strategy: Box<dyn Strategy>,
    higher: HigherTimeframes,
    /// Open time of the last bar fed, so a replayed bar is not traded twice.
    last_bar: Option<DateTime<Utc>>,
}

fn exit_reason(r: mtq_risk::ActionReason) -> ExitReason {
    use mtq_risk::ActionReason as R;
    match r {
        R::Breakeven => ExitReason::Breakeven,
        R::TrailingStop => ExitReason::Trailing,
        R::PartialClose => ExitReason::PartialClose,
        R::MaxHoldingTime => ExitReason::MaxHoldingTime,
        R::KillSwitch => ExitReason::KillSwitch,
    }
}

/// What the core takes in: one event at a time through [`TraderCore::process`], the same from
/// the live driver and the backtest.
#[derive(Debug)]
pub enum CoreEvent<'a> {
    /// History to warm a symbol's strategy up on, without trading.
    WarmUp { symbol: &'a Symbol, bars: &'a [Bar] },
    /// A closed bar of `symbol`'s entry timeframe: strategy, then filters (inside the strategy),
    /// then risk checks and sizing on `view` at `quote`; commands for the driver, and the signal
    /// with its fate.
    BarClosed {
        symbol: &'a Symbol,
        bar: &'a Bar,
        view: MarketView<'a>,
        quote: Quote<'a>,
    },
    /// A strategy's signal that [`TraderCore::quiet_run`] stopped at, decided on a current
    /// `view` (a record, closes, or the risk checks, sizing and an order).
    Signal {
        signal: Signal,
        view: MarketView<'a>,
        quote: Quote<'a>,
    },
    /// An account snapshot: the day's ledger and the kill switch. A transition is recorded and,
    /// when it halts with `close_all_on_stop`, closes every position.
    Account {
        view: MarketView<'a>,
        kill_file_present: bool,
    },
    /// Prices moved: breakeven, trailing stops, partial closes and time exits for our positions,
    /// unless the kill switch has halted management.
    Prices(MarketView<'a>),
    /// A deal happened at the broker (realised P&L for the day's ledger).
    Deal(&'a Deal),
    /// An order finished: failures in a row feed the kill switch.
    OrderResult { success: bool },
}

/// The current bid and ask an entry is sized and checked at.
#[derive(Clone, Copy)]
pub enum Quote<'a> {
    Known {
        bid: Decimal,
        ask: Decimal,
    },
    /// Asked for only when a signal needs it: a backtest converts its `f64` quote on signal bars
    /// only.
    Lazy(&'a dyn Fn() -> (Decimal, Decimal)),
}

impl Quote<'_> {
    fn get(self) -> (Decimal, Decimal) {
        match self {
            Quote::Known { bid, ask } => (bid, ask),
            Quote::Lazy(f) => f(),
        }
    }
}

impl std::fmt::Debug for Quote<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quote::Known { bid, ask } => write!(f, "Known({bid}/{ask})"),
            Quote::Lazy(_) => f.write_str("Lazy"),
        }
    }
}

/// Quiet opens [`TraderCore::quiet_run`] takes at most in one call: enough to spread the
/// strategy call's cost, few enough that little is looked at in vain past a signal (measured: 16
/// looks at 5% fewer instructions than 8 or 32 in the 14,406-set optimisation grid).
pub const QUIET_CHUNK: usize = 16;

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
struct QuietUnits {
    band: mtq_risk::QuietBand,
    floor: i64,
    peak: i64,
}

/// The per-account trading state machine.
pub struct TraderCore {
    config: Arc<AppConfig>,
    specs: BTreeMap<Symbol, SymbolSpec>,
    slots: Vec<Slot>,
    risk: RiskState,
    partial_done: BTreeSet<Ticket>,
    /// Positions MTQ did not open but manages (start-up reconciliation with `adopt`).
    adopted: BTreeSet<Ticket>,
    server_offset_secs: i32,
    /// The emergency section as the quick kill-switch test reads it.
    quiet_limits: QuietLimits,
    /// Symbols whose entries a foreign position on a netting account blocks, already reported.
    foreign_reported: BTreeSet<Symbol>,
    /// The quiet band in units as [`TraderCore::quiet_run`] last worked it out: `armed` is
    /// cleared by every event (the band is asked for again), `last` kept while the band is
    /// unchanged (its conversion is not redone).
    quiet_armed: Option<QuietUnits>,
    quiet_last: Option<QuietUnits>,
}

impl std::fmt::Debug for TraderCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraderCore")
            .field("symbols", &self.slots.len())
            .finish_non_exhaustive()
    }
}

fn record(now: DateTime<Utc>, kind: EventKind) -> Command {
    Command::Record(Box::new(DomainEvent::new(now, kind)))
}

impl TraderCore {
    /// A core trading every enabled symbol of `config`, with `specs` from the broker.
    pub fn new(
        config: Arc<AppConfig>,
        specs: BTreeMap<Symbol, SymbolSpec>,
        server_offset_secs: i32,
    ) -> Result<Self, CoreError> {
        let mut slots = Vec::new();
        for (i, c) in config
            .currencies
            .iter()
            .enumerate()
            .filter(|(_, c)| c.enabled)
        {
            let Some(spec) = specs.get(&c.symbol) else {
                return Err(CoreError::MissingSpec(c.symbol.clone()));
            };
            let strategy = c.build_strategy().map_err(|source| CoreError::Strategy {
                symbol: c.symbol.clone(),
                source,
            })?;
            let higher = HigherTimeframes::new(
                c.timeframe,
                strategy.higher_timeframes(),
                server_offset_secs,
            )
            .map_err(|source| CoreError::Strategy {
                symbol: c.symbol.clone(),
                source,
            })?;
            slots.push(Slot {
                cfg: i,
                symbol: c.symbol.clone(),
                spec: spec.clone(),
                strategy,
                higher,
                last_bar: None,
            });
        }
        let risk = RiskState::new(config.risk.global.trading_day.clone());
        let quiet_limits = QuietLimits::new(&config.risk.emergency);
        Ok(Self {
            config,
            specs,
            slots,
            risk,
            partial_done: BTreeSet::new(),
            adopted: BTreeSet::new(),
            server_offset_secs,
            quiet_limits,
            foreign_reported: BTreeSet::new(),
            quiet_armed: None,
            quiet_last: None,
        })
    }

    /// The core trading `symbol` with a ready-made strategy instead of the one built from its
    /// configuration entry: an optimiser hands in strategies that read indicator series computed
    /// once for every parameter set. Part of building the core: the strategy starts from
    /// nothing, as at start-up.
    pub fn with_strategy(
        mut self,
        symbol: &Symbol,
        strategy: Box<dyn Strategy>,
    ) -> Result<Self, CoreError> {
        let Some(slot) = self.slots.iter_mut().find(|s| &s.symbol == symbol) else {
            return Err(CoreError::NotTraded(symbol.clone()));
        };
        let tf = self.config.currencies[slot.cfg].timeframe;
        slot.higher =
            HigherTimeframes::new(tf, strategy.higher_timeframes(), self.server_offset_secs)
                .map_err(|source| CoreError::Strategy {
                    symbol: symbol.clone(),
                    source,
                })?;
        slot.strategy = strategy;
        slot.last_bar = None;
        Ok(self)
    }

    /// The one entry for market events: what `event` asks of the driver.
    // Always inlined: each arm calls out of line, and a call site that names its event keeps
    // only its own arm, with no event built on the stack (a signal is large).
    #[inline(always)]
    pub fn process(&mut self, event: CoreEvent<'_>) -> Vec<Command> {
        self.quiet_armed = None;
        match event {
            CoreEvent::WarmUp { symbol, bars } => {
                self.warm(symbol, bars);
                Vec::new()
            }
            CoreEvent::BarClosed {
                symbol,
                bar,
                view,
                quote,
            } => match self.strategy_step(symbol, bar, view.positions) {
                Some(signal) => self.signal(signal, view, quote),
                None => Vec::new(),
            },
            CoreEvent::Signal {
                signal,
                view,
                quote,
            } => self.signal(signal, view, quote),
            CoreEvent::Account {
                view,
                kill_file_present,
            } => self.account(view, kill_file_present),
            CoreEvent::Prices(view) => self.prices(view),
            CoreEvent::Deal(deal) => {
                self.risk.record_deal(deal);
                Vec::new()
            }
            CoreEvent::OrderResult { success } => {
                if success {
                    self.risk.record_order_success();
                } else {
                    self.risk.record_order_failure();
                }
                Vec::new()
            }
        }
    }

    pub fn config(&self) -> &Arc<AppConfig> {
        &self.config
    }

    pub fn risk_state(&self) -> &RiskState {
        &self.risk
    }

    /// The risk state, for an operator's kill-switch trip or reset (the live driver's control
    /// channel); the next [`TraderCore::on_account`] evaluates the switch with it.
    pub fn risk_state_mut(&mut self) -> &mut RiskState {
        &mut self.risk
    }

    /// The symbols traded and their entry timeframes.
    pub fn symbols(&self) -> Vec<(Symbol, mtq_core::Timeframe)> {
        self.slots
            .iter()
            .map(|s| (s.symbol.clone(), self.config.currencies[s.cfg].timeframe))
            .collect()
    }

    /// Closed bars of history a symbol needs before it can signal.
    pub fn history_needed(&self, symbol: &Symbol) -> usize {
        self.slots
            .iter()
            .find(|s| &s.symbol == symbol)
            .map_or(0, |s| {
                mtq_strategies::history_bars(
                    s.strategy.as_ref(),
                    self.config.currencies[s.cfg].timeframe,
                )
            })
    }

    /// Feeds history without trading on it ([`CoreEvent::WarmUp`]).
    pub fn warm_up(&mut self, symbol: &Symbol, bars: &[Bar]) {
        self.process(CoreEvent::WarmUp { symbol, bars });
    }

    fn warm(&mut self, symbol: &Symbol, bars: &[Bar]) {
        let Some(i) = self.slots.iter().position(|s| &s.symbol == symbol) else {
            return;
        };
        let Some(spec) = self.specs.get(symbol) else {
            return;
        };
        let tf = self.config.currencies[self.slots[i].cfg].timeframe;
        let slot = &mut self.slots[i];
        for bar in bars {
            if slot.last_bar.is_some_and(|t| bar.time <= t) || slot.higher.update(bar).is_err() {
                continue;
            }
            let views = slot.higher.views();
            let ctx = Context::new(spec, tf).with_higher(views.as_slice());
            let _ = slot.strategy.on_bar(bar, &ctx);
            slot.last_bar = Some(bar.time);
        }
    }

    fn is_ours(&self, p: &Position) -> bool {
        p.magic == mtq_core::Magic(self.config.trader.magic) || self.adopted.contains(&p.ticket)
    }

    fn ours<'p, 's>(
        &'s self,
        positions: &'p [Position],
    ) -> impl Iterator<Item = &'p Position> + use<'p, 's> {
        positions.iter().filter(move |p| self.is_ours(p))
    }

    /// Restores what the risk limits must remember across a restart: the trading day's starting
    /// equity and the equity peak. Without it a restart would reset the daily loss and drawdown
    /// limits and could trade again after the kill switch had halted for the day.
    pub fn restore_risk(&mut self, day: Option<mtq_risk::DayLedger>, equity_peak: Option<Decimal>) {
        self.quiet_armed = None;
        self.risk.restore(day, equity_peak);
    }

    /// Restores the count of orders that failed in a row (from the order records), so that a
    /// restart cannot clear the order-failure kill switch by forgetting it: the next account
    /// snapshot trips the switch again when the count is at the configured limit.
    pub fn restore_order_failures(&mut self, failures_in_a_row: u32) {
        self.quiet_armed = None;
        self.risk.restore_order_failures(failures_in_a_row);
    }

    /// Manages these positions as if MTQ had opened them: stops, trailing, the kill switch.
    pub fn adopt(&mut self, tickets: impl IntoIterator<Item = Ticket>) {
        self.adopted.extend(tickets);
    }

    pub fn is_adopted(&self, ticket: Ticket) -> bool {
        self.adopted.contains(&ticket)
    }

    /// The specification of a traded symbol.
    pub fn spec(&self, symbol: &Symbol) -> Option<&SymbolSpec> {
        self.specs.get(symbol)
    }

    /// A closed bar of `symbol`'s entry timeframe at `bid`/`ask` ([`CoreEvent::BarClosed`]).
    pub fn on_bar(
        &mut self,
        symbol: &Symbol,
        bar: &Bar,
        view: MarketView<'_>,
        bid: Decimal,
        ask: Decimal,
    ) -> Vec<Command> {
        self.process(CoreEvent::BarClosed {
            symbol,
            bar,
            view,
            quote: Quote::Known { bid, ask },
        })
    }

    /// The first half of [`CoreEvent::BarClosed`]: the closed bar goes to the symbol's
    /// strategy (and higher timeframes), which may signal. Only the positions' tickets, sides,
    /// volumes and levels matter here, not their marks.
    fn strategy_step(
        &mut self,
        symbol: &Symbol,
        bar: &Bar,
        positions: &[Position],
    ) -> Option<Signal> {
        let i = self.slots.iter().position(|s| &s.symbol == symbol)?;
        let tf = self.config.currencies[self.slots[i].cfg].timeframe;
        let mine = self.mine(symbol, positions);
        let Slot {
            spec,
            strategy,
            higher,
            last_bar,
            ..
        } = &mut self.slots[i];
        if last_bar.is_some_and(|t| bar.time <= t) || higher.update(bar).is_err() {
            return None;
        }
        *last_bar = Some(bar.time);
        let views = higher.views();
        let ctx = Context::new(spec, tf)
            .with_higher(views.as_slice())
            .with_positions(&mine);
        strategy.on_bar(bar, &ctx)
    }

    /// [`TraderCore::strategy_step`] for closed bars in a row, up to the first whose step
    /// signals: its index in `bars` and the signal, or `None` when no bar signalled (all were
    /// taken). The bars after a signal are not taken. One call instead of one a bar when the
    /// symbol has no higher timeframes to feed ([`Strategy::on_bars`]).
    fn strategy_run(
        &mut self,
        symbol: &Symbol,
        bars: &[Bar],
        positions: &[Position],
    ) -> Option<(usize, Signal)> {
        let i = self.slots.iter().position(|s| &s.symbol == symbol)?;
        let slot = &self.slots[i];
        let in_order = bars.first().is_some_and(|first| {
            slot.last_bar.is_none_or(|t| first.time > t)
                && bars.windows(2).all(|w| w[1].time > w[0].time)
        });
        if !slot.higher.is_empty() || !in_order {
            return bars
                .iter()
                .enumerate()
                .find_map(|(k, bar)| self.strategy_step(symbol, bar, positions).map(|s| (k, s)));
        }
        let tf = self.config.currencies[slot.cfg].timeframe;
        let mine = self.mine(symbol, positions);
        let Slot {
            spec,
            strategy,
            last_bar,
            ..
        } = &mut self.slots[i];
        let ctx = Context::new(spec, tf).with_positions(&mine);
        let out = strategy.on_bars(bars, &ctx);
        let taken = out.as_ref().map_or(bars.len(), |(k, _)| k + 1);
        *last_bar = bars.get(taken - 1).map(|b| b.time);
        out
    }

    /// The second half of [`CoreEvent::BarClosed`], and [`CoreEvent::Signal`]: what a
    /// strategy's signal becomes (a record, closes, or the risk checks, sizing and an order),
    /// decided on `view`.
    fn signal(&mut self, signal: Signal, view: MarketView<'_>, quote: Quote<'_>) -> Vec<Command> {
        let mine = self.mine(&signal.symbol, view.positions);
        let now = view.now;
        match signal.kind {
            SignalKind::Hold => vec![record(
                now,
                EventKind::SignalRecorded {
                    refusal: Some(SignalRefusal::Hold {
                        reason: signal.reason.clone(),
                    }),
                    signal,
                },
            )],
            SignalKind::Close => {
                let mut out: Vec<Command> = mine
                    .iter()
                    .map(|p| Command::Close {
                        ticket: p.ticket,
                        volume: None,
                        reason: CommandReason::Signal {
                            strategy: signal.strategy.clone(),
                            reason: signal.reason.clone(),
                        },
                        exit: ExitReason::Signal,
                    })
                    .collect();
                let refusal = out.is_empty().then_some(SignalRefusal::NothingToClose);
                out.push(record(now, EventKind::SignalRecorded { signal, refusal }));
                out
            }
            SignalKind::Buy | SignalKind::Sell => {
                if let Some(refused) = self.netting_refusal(&signal, &mine, view) {
                    return refused;
                }
                let (bid, ask) = quote.get();
                self.entry(signal, &mine, view, bid, ask)
            }
        }
    }

    /// On a netting account an order nets against the symbol's one position: refuses the entry
    /// when that position is not MTQ's (reported once per symbol with an `error` event, until
    /// the symbol is free again), or when it is MTQ's on the same side (it would grow instead of
    /// opening a trade of its own). An opposite position of MTQ's is a reversal: closed first.
    fn netting_refusal(
        &mut self,
        signal: &Signal,
        mine: &[Position],
        view: MarketView<'_>,
    ) -> Option<Vec<Command>> {
        if view.account.margin_mode != MarginMode::Netting {
            return None;
        }
        let side = if signal.kind == SignalKind::Buy {
            Side::Buy
        } else {
            Side::Sell
        };
        let foreign = view
            .positions
            .iter()
            .find(|p| p.symbol == signal.symbol && !self.is_ours(p));
        let refusal = match (foreign, mine.iter().find(|p| p.side == side)) {
            (Some(p), _) => EntryRefusal::ForeignPosition {
                symbol: signal.symbol.clone(),
                ticket: p.ticket,
            },
            (None, Some(p)) => EntryRefusal::NettingPositionHeld {
                symbol: signal.symbol.clone(),
                ticket: p.ticket,
            },
            (None, None) => {
                self.foreign_reported.remove(&signal.symbol);
                return None;
            }
        };
        let mut out = Vec::with_capacity(2);
        if matches!(refusal, EntryRefusal::ForeignPosition { .. })
            && self.foreign_reported.insert(signal.symbol.clone())
        {
            out.push(record(
                view.now,
                EventKind::Error {
                    source: ErrorSource::Netting,
                    message: refusal.to_string(),
                },
            ));
        }
        out.push(record(
            view.now,
            EventKind::SignalRecorded {
                signal: signal.clone(),
                refusal: Some(refusal.into()),
            },
        ));
        Some(out)
    }

    /// The symbol's positions of ours. When they are every position given (a backtest, or an
    /// account trading one symbol) that slice is used as it is, with no copy.
    fn mine<'p>(&self, symbol: &Symbol, positions: &'p [Position]) -> Cow<'p, [Position]> {
        if positions
            .iter()
            .all(|p| &p.symbol == symbol && self.is_ours(p))
        {
            Cow::Borrowed(positions)
        } else {
            Cow::Owned(
                self.ours(positions)
                    .filter(|p| &p.symbol == symbol)
                    .cloned()
                    .collect(),
            )
        }
    }

    fn entry(
        &mut self,
        signal: Signal,
        mine: &[Position],
        view: MarketView<'_>,
        bid: Decimal,
        ask: Decimal,
    ) -> Vec<Command> {
        let now = view.now;
        let side = if signal.kind == SignalKind::Buy {
            Side::Buy
        } else {
            Side::Sell
        };
        let Some(spec) = self.specs.get(&signal.symbol) else {
            return Vec::new();
        };
        let currency: &CurrencyConfig = match self
            .config
            .currencies
            .iter()
            .find(|c| c.symbol == signal.symbol)
        {
            Some(c) => c,
            None => return Vec::new(),
        };
        // A reversal closes the other side first; the checks then see the book without it.
        let reversing: Vec<&Position> = mine.iter().filter(|p| p.side != side).collect();
        // The closes, then the signal's record and its order.
        let mut out: Vec<Command> = Vec::with_capacity(reversing.len() + 2);
        out.extend(reversing.iter().map(|p| Command::Close {
            ticket: p.ticket,
            volume: None,
            reason: CommandReason::Reversal {
                strategy: signal.strategy.clone(),
            },
            exit: ExitReason::Signal,
        }));
        // What stays open: ours, less the positions being reversed (a few at most: a scan).
        let remaining: Vec<Position> = self
            .ours(view.positions)
            .filter(|p| !reversing.iter().any(|r| r.ticket == p.ticket))
            .cloned()
            .collect();
        let sl = signal.sl.and_then(|p| spec.normalize_price_f64(p));
        let tp = signal.tp.and_then(|p| spec.normalize_price_f64(p));
        let intent = EntryIntent {
            symbol: signal.symbol.clone(),
            side,
            entry: if side == Side::Buy { ask } else { bid },
            sl,
            bid,
            ask,
        };
        let ctx = CheckContext {
            now,
            config: &self.config.risk,
            symbol_config: &currency.risk,
            state: &self.risk,
            account: view.account,
            positions: &remaining,
            specs: &self.specs,
            rates: view.rates,
        };
        match plan_entry(&ctx, &intent) {
            Err(refusal) => out.push(record(
                now,
                EventKind::SignalRecorded {
                    signal,
                    refusal: Some(refusal.into()),
                },
            )),
            Ok(sized) => {
                let id = match signal_order_id(
                    &self.config.trader.id_prefix,
                    &signal.symbol,
                    &signal.strategy,
                    signal.time,
                    side,
                ) {
                    Ok(id) => id,
                    Err(e) => {
                        out.push(record(
                            now,
                            EventKind::SignalRecorded {
                                signal,
                                refusal: Some(SignalRefusal::OrderId {
                                    message: e.to_string(),
                                }),
                            },
                        ));
                        return out;
                    }
                };
                let request = OrderRequest {
                    sl,
                    tp,
                    magic: mtq_core::Magic(self.config.trader.magic),
                    ..OrderRequest::market(id, signal.symbol.clone(), side, sized.volume)
                };
                self.risk.record_entry(&signal.symbol, now);
                out.push(record(
                    now,
                    EventKind::SignalRecorded {
                        signal,
                        refusal: None,
                    },
                ));
                out.push(Command::Submit(Box::new(request)));
            }
        }
        out
    }

    /// Prices moved ([`CoreEvent::Prices`]).
    pub fn on_prices(&mut self, view: MarketView<'_>) -> Vec<Command> {
        self.process(CoreEvent::Prices(view))
    }

    fn prices(&mut self, view: MarketView<'_>) -> Vec<Command> {
        if !self.risk.kill_switch().state().allows_management() {
            return Vec::new();
        }
        let mut actions = Vec::new();
        for p in view.positions.iter().filter(|p| self.is_ours(p)) {
            let Some(spec) = self.specs.get(&p.symbol) else {
                continue;
            };
            let done = self.partial_done.contains(&p.ticket);
            actions.extend(manage_position(
                p,
                spec,
                &self.config.risk.modifications,
                view.now,
                done,
            ));
        }
        actions
            .into_iter()
            .map(|a| self.action_command(a))
            .collect()
    }

    fn action_command(&mut self, action: PositionAction) -> Command {
        match action {
            PositionAction::ModifyStops {
                ticket,
                sl,
                tp,
                reason,
                ..
            } => Command::Modify {
                ticket,
                sl: Some(sl),
                tp,
                reason: reason.into(),
                exit: Some(exit_reason(reason)),
            },
            PositionAction::ClosePartial {
                ticket,
                volume,
                reason,
                ..
            } => {
                self.partial_done.insert(ticket);
                Command::Close {
                    ticket,
                    volume: Some(volume),
                    reason: reason.into(),
                    exit: exit_reason(reason),
                }
            }
            PositionAction::Close { ticket, reason, .. } => Command::Close {
                ticket,
                volume: None,
                reason: reason.into(),
                exit: exit_reason(reason),
            },
        }
    }

    /// An account snapshot ([`CoreEvent::Account`]).
    pub fn on_account(&mut self, view: MarketView<'_>, kill_file_present: bool) -> Vec<Command> {
        self.process(CoreEvent::Account {
            view,
            kill_file_present,
        })
    }

    fn account(&mut self, view: MarketView<'_>, kill_file_present: bool) -> Vec<Command> {
        self.risk.observe_account(view.now, view.account);
        if self
            .risk
            .kill_switch_quiet(&self.quiet_limits, kill_file_present, view.account)
        {
            // Nothing can trip or clear: the full evaluation would change nothing.
            return Vec::new();
        }
        let positions: Vec<Position> = self.ours(view.positions).cloned().collect();
        let Some(t) = self.risk.update_kill_switch(
            &self.config.risk.emergency,
            view.now,
            kill_file_present,
            view.account,
            &positions,
        ) else {
            return Vec::new();
        };
        let mut out = vec![Command::Record(Box::new(t.event()))];
        for a in t.close {
            out.push(self.action_command(a));
        }
        out
    }

    /// A deal happened at the broker ([`CoreEvent::Deal`]).
    pub fn on_deal(&mut self, deal: &Deal) {
        self.process(CoreEvent::Deal(deal));
    }

    /// An order finished ([`CoreEvent::OrderResult`]).
    pub fn on_order_result(&mut self, success: bool) {
        self.process(CoreEvent::OrderResult { success });
    }

    /// The backtest's batch entry: bars in a row at whose opens nothing but the quote moves,
    /// taken in one call instead of an [`CoreEvent::Account`] and a [`CoreEvent::BarClosed`]
    /// each. `open_equity` gives the equity at a bar's open in the account currency's smallest
    /// unit when the broker would do nothing there but move the quote (`None` otherwise: the run
    /// stops before that open); it is asked in order, for `bars[1]`, `bars[2]` and so on.
    ///
    /// An open is quiet for the core when its equity lies within the risk state's quiet band
    /// ([`mtq_risk::RiskState::quiet_band`]: no kill-switch level within reach, the same trading
    /// day, no new peak unless the floor ignores the peak), so that the account snapshot would
    /// change nothing but the peak. Up to [`QUIET_CHUNK`] quiet opens are found first; the
    /// strategy then takes the bars that closed before them in one call, up to a signal; new
    /// peaks are taken as the snapshot would take them, up to and including the signal bar's
    /// open. The driver then decides the signal with [`CoreEvent::Signal`] on a view marked at
    /// that open.
    ///
    /// Returns how many bars the strategy took without a signal, each followed by a quiet open
    /// (their equities, and the next open's with a signal, are in `run.opens`), and puts the signal of bar `bars[taken]`, if any, in `signal`
    /// (an out-parameter: most runs end without one, and a returned `Option<Signal>` would be
    /// copied on every call). Nothing is taken (0, no signal) when the band is not known or the
    /// first open is not quiet: the driver steps that bar in full.
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
        let Some(q) = armed else {
            return 0;
        };
        let Some(first) = run.bars.first() else {
            return 0;
        };
        // The band began at or before the last bar stepped.
        debug_assert!(q.band.from <= first.time);
        let opens = run.opens;
        let mut n = 0;
        while n < QUIET_CHUNK && n + 1 < run.bars.len() {
            let bar = &run.bars[n + 1];
            if bar.time >= q.band.until {
                break;
            }
            let Some(equity) = open_equity(bar) else {
                break;
            };
            if equity < q.floor || (equity > q.peak && !q.band.peak_free) {
                break;
            }
            if let Some(slot) = opens.get_mut(n) {
                *slot = equity;
            }
            n += 1;
        }
        if n == 0 {
            return 0;
        }
        let (upto, last) = match self.strategy_run(run.symbol, &run.bars[..n], run.positions) {
            Some((k, s)) => {
                *signal = Some(s);
                (k, k + 1)
            }
            None => (n, n),
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
    fn arm_quiet(&mut self, money: u32) -> Option<QuietUnits> {
        let band = self.risk.quiet_band(&self.quiet_limits, false)?;
        if let Some(u) = self.quiet_last.filter(|u| u.band == band) {
            self.quiet_armed = Some(u);
            return Some(u);
        }
        // The floor was worked out for equities with `money` decimals; the peak is a whole
        // number of units whenever an equity set it.
        if band.scale != money {
            return None;
        }
        let floor = if band.floor == Decimal::MIN {
            Some(i64::MIN)
        } else {
            mtq_core::decimal_units(band.floor, money)
        };
        let u = QuietUnits {
            band,
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
    fn quiet_peak(&mut self, equity: i64) {
        if let Some(q) = self.quiet_armed
            && equity > q.peak
        {
            let peak = Decimal::new(equity, q.band.scale);
            let raised = self.risk.raise_peak(&self.quiet_limits, peak);
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

    /// Swaps in a newly validated configuration. It applies to new trades only: risk settings,
    /// limits and the emergency section at once; strategies keep their state (parameter changes
    /// of a strategy take effect at the next start). The diff is recorded.
    pub fn reload(&mut self, new: Arc<AppConfig>, now: DateTime<Utc>) -> Vec<Command> {
        self.quiet_armed = None;
        let changes = crate::config::diff(&self.config, &new);
        if changes.is_empty() {
            return Vec::new();
        }
        // Keep slots pointing at the same symbols in the new list.
        for slot in &mut self.slots {
            if let Some(i) = new.currencies.iter().position(|c| c.symbol == slot.symbol) {
                slot.cfg = i;
            }
        }
        self.slots.retain(|s| {
            new.currencies
                .get(s.cfg)
                .is_some_and(|c| c.symbol == s.symbol && c.enabled)
        });
        self.risk
            .set_trading_day(new.risk.global.trading_day.clone());
        self.quiet_limits = QuietLimits::new(&new.risk.emergency);
        self.config = new;
        vec![record(
            now,
            EventKind::ConfigReloaded {
                detail: changes.join("; "),
            },
        )]
    }
}
