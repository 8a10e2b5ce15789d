//! The trader core: a synchronous state machine with no I/O. Events in (a closed bar, prices,
//! an account snapshot, a deal, an order result, a new configuration), commands out (send an
//! order, close, modify, record an event). The live driver and the backtester feed it the same
//! way, which is what makes them agree.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mtq_core::{
    AccountInfo, Bar, Deal, Decimal, DomainEvent, EventKind, ExitReason, FxRates, MarginMode,
    OrderRequest, Position, Side, Signal, SignalKind, Symbol, SymbolSpec, Ticket,
};
use mtq_risk::{
    CheckContext, EntryIntent, PositionAction, QuietLimits, RiskState, manage_position, plan_entry,
};
use mtq_strategies::{Context, HigherTimeframes, Strategy, StrategyError};

use crate::config::{AppConfig, CurrencyConfig};
use crate::signal_order_id;

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
        reason: String,
        /// The trade's exit reason when this close ends it.
        exit: ExitReason,
    },
    /// Move a position's SL/TP.
    Modify {
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
        reason: String,
        /// The exit reason of a later stop-loss exit: breakeven or trailing.
        exit: Option<ExitReason>,
    },
    /// Record an event: a signal and its fate, a kill-switch transition, a reload.
    Record(Box<DomainEvent>),
}

/// Why a signal's entry was not sent although the risk checks would allow it: the reasons the
/// core and the live driver add to the risk layer's. Recorded as the signal's refusal (its
/// `Display` text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryRefusal {
    /// A netting account holds one position per symbol, and an order nets against it: an entry
    /// would reduce, close or reverse a position MTQ does not own (opened by hand or by another
    /// program, or ignored at start-up).
    ForeignPosition { symbol: Symbol, ticket: Ticket },
    /// A netting account already holds MTQ's own position in the symbol: another order would
    /// add to it instead of opening a position of its own.
    NettingPositionHeld { symbol: Symbol, ticket: Ticket },
    /// The broker said the symbol's market is closed (or trading is disabled): requests for it
    /// wait until `until`.
    MarketClosed {
        symbol: Symbol,
        until: DateTime<Utc>,
    },
    /// The reversal's close of the opposite position was refused or its outcome is unknown:
    /// sending the entry could hold both sides. The signal lapses; the strategy's next signal
    /// reverses again.
    ReversalNotClosed { ticket: Ticket },
}

impl std::fmt::Display for EntryRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ForeignPosition { symbol, ticket } => write!(
                f,
                "netting account: {symbol} holds position {ticket}, which MTQ does not own; \
                 MTQ does not trade {symbol} while it is open"
            ),
            Self::NettingPositionHeld { symbol, ticket } => write!(
                f,
                "netting account: MTQ already holds position {ticket} in {symbol}, and an order \
                 would add to it"
            ),
            Self::MarketClosed { symbol, until } => write!(
                f,
                "market closed for {symbol}: requests wait until {}",
                until.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Self::ReversalNotClosed { ticket } => write!(
                f,
                "reversal not sent: the close of position {ticket} did not complete (the signal lapses)"
            ),
        }
    }
}

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

fn reason_text(r: mtq_risk::ActionReason) -> String {
    use mtq_risk::ActionReason as R;
    match r {
        R::Breakeven => "breakeven",
        R::TrailingStop => "trailing stop",
        R::PartialClose => "partial close",
        R::MaxHoldingTime => "maximum holding time",
        R::KillSwitch => "kill switch",
    }
    .to_string()
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
    /// The last strategy that reversed a position and the close reason it gave, written once.
    reversed_by: Option<(String, String)>,
    /// Symbols whose entries a foreign position on a netting account blocks, already reported.
    foreign_reported: BTreeSet<Symbol>,
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
            reversed_by: None,
            foreign_reported: BTreeSet::new(),
        })
    }

    /// Trades `symbol` with a ready-made strategy instead of the one built from its configuration
    /// entry: an optimiser hands in strategies that read indicator series computed once for every
    /// parameter set. Call it before any bar: the strategy starts from nothing, as at start-up.
    pub fn set_strategy(
        &mut self,
        symbol: &Symbol,
        strategy: Box<dyn Strategy>,
    ) -> Result<(), CoreError> {
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
        Ok(())
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

    /// Feeds history without trading on it.
    pub fn warm_up(&mut self, symbol: &Symbol, bars: &[Bar]) {
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
        self.risk.restore(day, equity_peak);
    }

    /// Restores the count of orders that failed in a row (from the order records), so that a
    /// restart cannot clear the order-failure kill switch by forgetting it: the next account
    /// snapshot trips the switch again when the count is at the configured limit.
    pub fn restore_order_failures(&mut self, failures_in_a_row: u32) {
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

    /// A closed bar of `symbol`'s entry timeframe: strategy, then filters (inside the strategy),
    /// then risk checks and sizing; commands for the driver, and the signal with its fate.
    pub fn on_bar(
        &mut self,
        symbol: &Symbol,
        bar: &Bar,
        view: MarketView<'_>,
        bid: Decimal,
        ask: Decimal,
    ) -> Vec<Command> {
        self.on_bar_quoted(symbol, bar, view, || (bid, ask))
    }

    /// [`TraderCore::on_bar`] with the current bid and ask asked for only when a signal needs
    /// them: a backtest converts its `f64` quote on signal bars only.
    pub fn on_bar_quoted(
        &mut self,
        symbol: &Symbol,
        bar: &Bar,
        view: MarketView<'_>,
        quote: impl FnOnce() -> (Decimal, Decimal),
    ) -> Vec<Command> {
        match self.strategy_step(symbol, bar, view.positions) {
            Some(signal) => self.on_signal(signal, view, quote),
            None => Vec::new(),
        }
    }

    /// The first half of [`TraderCore::on_bar_quoted`]: the closed bar goes to the symbol's
    /// strategy (and higher timeframes), which may signal. Only the positions' tickets, sides,
    /// volumes and levels matter here, not their marks: a backtest passes copies it has not
    /// marked to the current quote. Hand a signal to [`TraderCore::on_signal`] with a current
    /// view before the next bar.
    pub fn strategy_step(
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
    pub fn strategy_run(
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

    /// The second half of [`TraderCore::on_bar_quoted`]: what a strategy's signal becomes
    /// (a record, closes, or the risk checks, sizing and an order), decided on `view`.
    pub fn on_signal(
        &mut self,
        signal: Signal,
        view: MarketView<'_>,
        quote: impl FnOnce() -> (Decimal, Decimal),
    ) -> Vec<Command> {
        let mine = self.mine(&signal.symbol, view.positions);
        let now = view.now;
        match signal.kind {
            SignalKind::Hold => vec![record(
                now,
                EventKind::SignalRecorded {
                    refusal: Some(format!("hold: {}", signal.reason)),
                    signal,
                },
            )],
            SignalKind::Close => {
                let mut out: Vec<Command> = mine
                    .iter()
                    .map(|p| Command::Close {
                        ticket: p.ticket,
                        volume: None,
                        reason: format!("{}: {}", signal.strategy, signal.reason),
                        exit: ExitReason::Signal,
                    })
                    .collect();
                let refusal = out.is_empty().then(|| "nothing to close".to_string());
                out.push(record(now, EventKind::SignalRecorded { signal, refusal }));
                out
            }
            SignalKind::Buy | SignalKind::Sell => {
                if let Some(refused) = self.netting_refusal(&signal, &mine, view) {
                    return refused;
                }
                let (bid, ask) = quote();
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
                    source: "netting".into(),
                    message: refusal.to_string(),
                },
            ));
        }
        out.push(record(
            view.now,
            EventKind::SignalRecorded {
                signal: signal.clone(),
                refusal: Some(refusal.to_string()),
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
        if !reversing.is_empty()
            && self
                .reversed_by
                .as_ref()
                .is_none_or(|(s, _)| *s != signal.strategy)
        {
            let reason = format!("reversed by {}", signal.strategy);
            self.reversed_by = Some((signal.strategy.clone(), reason));
        }
        let reason = self.reversed_by.as_ref().map_or("", |(_, r)| r.as_str());
        out.extend(reversing.iter().map(|p| Command::Close {
            ticket: p.ticket,
            volume: None,
            reason: reason.to_string(),
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
                    refusal: Some(refusal.to_string()),
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
                                refusal: Some(e.to_string()),
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

    /// Prices moved: breakeven, trailing stops, partial closes and time exits for our positions,
    /// unless the kill switch has halted management.
    pub fn on_prices(&mut self, view: MarketView<'_>) -> Vec<Command> {
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
                reason: reason_text(reason),
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
                    reason: reason_text(reason),
                    exit: exit_reason(reason),
                }
            }
            PositionAction::Close { ticket, reason, .. } => Command::Close {
                ticket,
                volume: None,
                reason: reason_text(reason),
                exit: exit_reason(reason),
            },
        }
    }

    /// An account snapshot: the day's ledger and the kill switch. A transition is recorded and,
    /// when it halts with `close_all_on_stop`, closes every position.
    pub fn on_account(&mut self, view: MarketView<'_>, kill_file_present: bool) -> Vec<Command> {
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

    /// The equity and time band within which [`TraderCore::on_account`] would do nothing at all
    /// (see [`mtq_risk::RiskState::quiet_band`]): a backtest skips the call while its equity
    /// stays inside. Valid until the next call that changes the core's state.
    pub fn quiet_band(&self, kill_file_present: bool) -> Option<mtq_risk::QuietBand> {
        self.risk.quiet_band(&self.quiet_limits, kill_file_present)
    }

    /// A new equity peak within a quiet band whose floor does not depend on the peak (see
    /// [`mtq_risk::RiskState::raise_peak`]): what `on_account` would do with it.
    pub fn raise_equity_peak(&mut self, equity: Decimal) -> bool {
        self.risk.raise_peak(&self.quiet_limits, equity)
    }

    /// A deal happened at the broker (realised P&L for the day's ledger).
    pub fn on_deal(&mut self, deal: &Deal) {
        self.risk.record_deal(deal);
    }

    /// An order finished: failures in a row feed the kill switch.
    pub fn on_order_result(&mut self, success: bool) {
        if success {
            self.risk.record_order_success();
        } else {
            self.risk.record_order_failure();
        }
    }

    /// Swaps in a newly validated configuration. It applies to new trades only: risk settings,
    /// limits and the emergency section at once; strategies keep their state (parameter changes
    /// of a strategy take effect at the next start). The diff is recorded.
    pub fn reload(&mut self, new: Arc<AppConfig>, now: DateTime<Utc>) -> Vec<Command> {
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
