//! The trader core: a synchronous state machine with no I/O. Events in (a closed bar, prices,
//! an account snapshot, a deal, an order result), commands out (send an order, close, modify,
//! record an event), through one entry, [`TraderCore::process`], as barter's
//! `Engine::process(event)`. The live driver and the backtester feed it the same [`CoreEvent`]s,
//! which is what makes them agree. Beyond that the backtest has one batch entry,
//! [`TraderCore::quiet_run`], for stretches of bars where nothing but the quote moves. A new
//! configuration ([`TraderCore::reload`]) and the state restored at start-up are control, not
//! market events.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mtq_core::{
    AccountInfo, Bar, Deal, Decimal, DomainEvent, EventKind, ExitReason, FxRates, OrderRequest,
    Position, Signal, Symbol, SymbolSpec, Ticket,
};
use mtq_risk::RiskState;
use mtq_strategies::{Context, HigherTimeframes, Strategy, StrategyError};

use crate::CommandReason;
use crate::config::AppConfig;

mod manage;
mod quiet;
mod signal;

use quiet::QuietUnits;
pub use quiet::{QUIET_CHUNK, QuietBars};

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
    /// Open time of the bar [`CoreEvent::BarsClosing`] gave the strategy to prepare: already
    /// fed (`last_bar`), waiting for its `on_bar` in the symbol's `BarClosed` or `WarmUp`.
    prepared: Option<DateTime<Utc>>,
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
    /// The newest closed bar of several symbols, announced before each symbol's `BarClosed`
    /// (or `WarmUp`) with the same bar: every strategy prepares it first
    /// ([`Strategy::prepare_bar`]), so work shared across symbols runs once for all of them
    /// (the ML filter's inference: one batch for the bar close). What each symbol's `BarClosed`
    /// then gives is what it gives without this event. `positions` as in `MarketView`.
    BarsClosing {
        bars: &'a [(Symbol, Bar)],
        positions: &'a [Position],
    },
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
    /// Symbols whose entries a foreign position on a netting account blocks, already reported.
    foreign_reported: BTreeSet<Symbol>,
    /// The quiet band in units as [`TraderCore::quiet_run`] last worked it out: `armed` is
    /// cleared by every event (the band is asked for again), `last` kept while the band is
    /// unchanged (its conversion is not redone).
    quiet_armed: Option<QuietUnits>,
    quiet_last: Option<QuietUnits>,
    /// The models the symbols' strategies share ([`CoreEvent::BarsClosing`]).
    models: mtq_ml::ModelPool,
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
        // One pool for all symbols: a model they share is loaded once and runs a bar close's
        // windows in one batch (`CoreEvent::BarsClosing`).
        let models = mtq_ml::ModelPool::new();
        for (i, c) in config
            .currencies
            .iter()
            .enumerate()
            .filter(|(_, c)| c.enabled)
        {
            let Some(spec) = specs.get(&c.symbol) else {
                return Err(CoreError::MissingSpec(c.symbol.clone()));
            };
            let strategy = c
                .build_strategy_in(&models)
                .map_err(|source| CoreError::Strategy {
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
                prepared: None,
            });
        }
        let mut risk = RiskState::new(config.risk.global.trading_day.clone());
        risk.set_emergency(&config.risk.emergency);
        Ok(Self {
            config,
            specs,
            slots,
            risk,
            partial_done: BTreeSet::new(),
            adopted: BTreeSet::new(),
            server_offset_secs,
            foreign_reported: BTreeSet::new(),
            quiet_armed: None,
            quiet_last: None,
            models,
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
        slot.prepared = None;
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
            CoreEvent::BarsClosing { bars, positions } => {
                self.prepare(bars, positions);
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

    /// How many of the models' inferences ran in batches of several symbols
    /// ([`CoreEvent::BarsClosing`]).
    pub fn model_batches(&self) -> mtq_ml::BatchStats {
        self.models.stats()
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
            if slot.prepared.take() == Some(bar.time) {
                // Fed by `BarsClosing`: only the strategy's `on_bar` is left.
            } else if slot.last_bar.is_some_and(|t| bar.time <= t)
                || slot.higher.update(bar).is_err()
            {
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
        self.risk.set_emergency(&new.risk.emergency);
        self.config = new;
        vec![record(
            now,
            EventKind::ConfigReloaded {
                detail: changes.join("; "),
            },
        )]
    }
}
