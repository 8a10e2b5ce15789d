//! The control channel's driver side: what operators set (paused entries, disabled symbols, a
//! stop request, a manual kill-switch trip), taking a command between cycles, answering it,
//! recording it as an audit event, and publishing the snapshot and the events.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mtq_core::EntryRefusal;
use mtq_core::{
    AccountInfo, Decimal, DomainEvent, EventKind, Magic, PendingOrder, Position, Symbol,
};
use tokio::sync::{broadcast, mpsc, watch};
use tracing::{info, warn};

use super::LiveTrader;
use crate::config::{AppConfig, ConfigWatcher};
use crate::control::{
    ControlHandle, ControlPort, ControlRefusal, ControlRequest, LiveQuote, LiveSnapshot,
    SymbolState, TradingState, control_channel,
};

/// What operators set, and the channel's driver side (absent when nothing is attached).
#[derive(Debug, Default)]
pub(super) struct OperatorState {
    pub(super) entries_paused: bool,
    pub(super) disabled: BTreeSet<Symbol>,
    pub(super) stop_requested: bool,
    /// The reason of a manual kill-switch trip in force.
    pub(super) manual_kill: Option<String>,
    pub(super) commands: Option<mpsc::Receiver<ControlRequest>>,
    snapshots: Option<watch::Sender<Arc<LiveSnapshot>>>,
    /// What the last cycle read, for the snapshot.
    pub(super) seen: Seen,
    events: Option<broadcast::Sender<DomainEvent>>,
    /// The symbols' states for the configuration they were built from (rebuilt on a reload).
    symbols: std::sync::Mutex<Option<(Arc<AppConfig>, Vec<SymbolState>)>>,
}

/// The account, positions and pending orders as the last cycle saw them.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub(super) account: Option<AccountInfo>,
    pub(super) positions: Vec<Position>,
    pub(super) pending: Vec<PendingOrder>,
    pub(super) quotes: BTreeMap<Symbol, LiveQuote>,
}

/// How often a waiting loop refreshes its liveness for readiness probes, in seconds.
const ALIVE_EVERY_SECS: i64 = 5;

impl OperatorState {
    /// Whether an operator surface reads the snapshots.
    pub(super) fn attached(&self) -> bool {
        self.snapshots.is_some()
    }

    /// Why an entry on `symbol` is held back by an operator, if it is.
    pub(super) fn holds_entry(&self, symbol: &Symbol) -> Option<EntryRefusal> {
        if self.entries_paused {
            Some(EntryRefusal::EntriesPaused)
        } else if self.disabled.contains(symbol) {
            Some(EntryRefusal::SymbolDisabled {
                symbol: symbol.clone(),
            })
        } else {
            None
        }
    }

    /// Hands an event to the API's readers; a reader that falls behind loses old events, the
    /// trader never waits.
    pub(super) fn broadcast(&self, event: &DomainEvent) {
        if let Some(tx) = &self.events
            && tx.receiver_count() > 0
        {
            // An error only means every reader has gone.
            let _ = tx.send(event.clone());
        }
    }
}

impl LiveTrader {
    /// Connects a control channel: the returned handle sends commands (executed between
    /// cycles), reads the newest [`LiveSnapshot`] and subscribes to the events. A trader
    /// without one runs as before (the CLI's `trade`).
    pub fn control(&mut self) -> ControlHandle {
        let (handle, port) = control_channel(self.snapshot());
        self.attach_control(port);
        handle
    }

    /// Connects the driver side of a channel made with [`control_channel`] (when the operator
    /// surface is built before the trader starts).
    pub fn attach_control(&mut self, port: ControlPort) {
        self.operator.commands = Some(port.commands);
        self.operator.snapshots = Some(port.snapshots);
        self.operator.events = Some(port.events);
        self.publish_snapshot();
    }

    /// Whether an operator asked the trader to stop.
    pub fn stop_requested(&self) -> bool {
        self.operator.stop_requested
    }

    /// Entries are paused by an operator (management continues).
    pub fn entries_paused(&self) -> bool {
        self.operator.entries_paused
    }

    /// Answers every command already waiting, without waiting for more: for drivers that run
    /// their own loop (the paper session). [`crate::run_live`] takes commands as they come.
    pub async fn drain_commands(&mut self, mut watcher: Option<&mut ConfigWatcher>) {
        loop {
            let next = match self.operator.commands.as_mut() {
                Some(rx) => rx.try_recv(),
                None => return,
            };
            match next {
                Ok(req) => self.handle_command(req, watcher.as_deref_mut()).await,
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.operator.commands = None;
                    return;
                }
            }
        }
    }

    /// Executes one command (the role is checked again here), records it with its actor as an
    /// `OperatorCommand` event, publishes a snapshot and answers it. `watcher` is the
    /// configuration file a reload reads.
    pub async fn handle_command(
        &mut self,
        req: ControlRequest,
        watcher: Option<&mut ConfigWatcher>,
    ) {
        let ControlRequest {
            command,
            actor,
            reply,
        } = req;
        let need = command.required_role();
        let result = if actor.role < need {
            Err(ControlRefusal::Forbidden {
                command: command.name().into(),
                have: actor.role,
                need,
            })
        } else if self.operator.stop_requested {
            Err(ControlRefusal::Stopping)
        } else {
            self.run_command(&command, &actor, watcher).await
        };
        let (accepted, outcome) = match &result {
            Ok(o) => (true, o.message.clone()),
            Err(r) => (false, r.to_string()),
        };
        if accepted {
            info!(command = command.name(), actor = %actor.id, via = %actor.via, "operator command: {outcome}");
        } else {
            warn!(command = command.name(), actor = %actor.id, via = %actor.via, "operator command refused: {outcome}");
        }
        let kind = EventKind::OperatorCommand {
            command: command.name().into(),
            detail: serde_json::to_string(&command).unwrap_or_default(),
            actor: actor.id.clone(),
            role: actor.role.as_str().into(),
            via: actor.via.clone(),
            accepted,
            outcome,
        };
        self.publish(DomainEvent::new(self.clock.now(), kind)).await;
        // The new state is published before the answer, so a reader woken by the answer (the
        // API's response carries the account state) never sees the state from before the command,
        // and a live delta can never be overtaken by an older state in that response.
        self.publish_snapshot();
        // The sender may have given up waiting; the command was still executed and recorded.
        let _ = reply.send(result);
    }

    /// The state an operator sees now, from what the last cycle read.
    pub fn snapshot(&self) -> LiveSnapshot {
        let risk = self.core.risk_state();
        let ks = risk.kill_switch();
        let account = self.operator.seen.account.clone();
        let equity = account.as_ref().map(|a| a.equity);
        let emergency = &self.core.config().risk.emergency;
        let day = risk.day();
        let daily_loss_limit = emergency.max_daily_loss_money.or_else(|| {
            let pct = emergency.max_daily_loss_percent?;
            Some((day?.start_equity * pct / Decimal::ONE_HUNDRED).round_dp(2))
        });
        let drawdown_pct = match (risk.equity_peak(), equity) {
            (Some(peak), Some(e)) if peak > Decimal::ZERO => {
                ((peak - e) * Decimal::ONE_HUNDRED / peak).round_dp(2)
            }
            _ => Decimal::ZERO,
        };
        let magic = Magic(self.core.config().trader.magic);
        LiveSnapshot {
            account_name: self.opts.account.clone(),
            at: self.clock.now(),
            cycle: self.summary.cycles,
            account,
            positions: self
                .operator
                .seen
                .positions
                .iter()
                .filter(|p| p.magic == magic || self.core.is_adopted(p.ticket))
                .cloned()
                .collect(),
            pending: self.operator.seen.pending.clone(),
            trading: if self.operator.stop_requested {
                TradingState::Stopped
            } else if self.operator.entries_paused {
                TradingState::EntriesPaused
            } else {
                TradingState::Running
            },
            kill_switch: ks.state().as_str().replace('-', "_"),
            kill_switch_reason: ks.reason().to_string(),
            health: self.health.clone(),
            disabled_symbols: self.operator.disabled.clone(),
            daily_pnl: match (day, equity) {
                (Some(d), Some(e)) => d.pnl(e),
                _ => Decimal::ZERO,
            },
            daily_loss_limit,
            drawdown_pct,
            drawdown_limit_pct: emergency.max_drawdown_percent,
            quotes: self.operator.seen.quotes.clone(),
            symbols: self.symbol_states(),
        }
    }

    /// Each configured symbol with its strategy, its effective parameters (defaults filled in)
    /// and its specification; built once per configuration.
    fn symbol_states(&self) -> Vec<SymbolState> {
        let config = self.core.config();
        let Ok(mut cache) = self.operator.symbols.lock() else {
            return Vec::new();
        };
        if let Some((built_from, states)) = cache.as_ref()
            && Arc::ptr_eq(built_from, config)
            && states.iter().all(|s| s.spec.is_some())
        {
            return states.clone();
        }
        let states: Vec<SymbolState> = config
            .currencies
            .iter()
            .map(|c| {
                let mut parameters = c.entry.clone();
                if let (Ok(strategy), Some(m)) = (c.build_strategy(), parameters.as_object_mut())
                    && let serde_json::Value::Object(effective) = strategy.params()
                {
                    for (k, v) in effective {
                        m.insert(k, v);
                    }
                }
                SymbolState {
                    symbol: c.symbol.clone(),
                    timeframe: c.timeframe,
                    strategy: c.strategy_type.clone(),
                    parameters,
                    configured: c.enabled,
                    spec: self.core.spec(&c.symbol).cloned(),
                }
            })
            .collect();
        *cache = Some((config.clone(), states.clone()));
        states
    }

    /// Keeps the quotes a cycle read for the snapshot (only when an operator surface reads it).
    pub(super) fn see_quotes(&mut self, quotes: &BTreeMap<Symbol, (Decimal, Decimal)>) {
        if !self.operator.attached() {
            return;
        }
        let time = self.clock.now();
        self.operator.seen.quotes = quotes
            .iter()
            .map(|(s, &(bid, ask))| (s.clone(), LiveQuote { bid, ask, time }))
            .collect();
    }

    /// Publishes the snapshot to the channel's readers, if a channel is attached.
    /// The loop is alive while it waits (a realtime paper session between bars, minutes on M5):
    /// refreshes [`LiveHealth::loop_alive`](super::LiveHealth::loop_alive) and publishes it, at
    /// most every [`ALIVE_EVERY_SECS`] so the API's snapshot channels are not flooded.
    pub fn mark_alive(&mut self) {
        let now = chrono::Utc::now();
        if self
            .health
            .loop_alive
            .is_none_or(|t| (now - t).num_seconds() >= ALIVE_EVERY_SECS)
        {
            self.health.loop_alive = Some(now);
            self.publish_snapshot();
        }
    }

    pub(super) fn publish_snapshot(&self) {
        if let Some(tx) = &self.operator.snapshots {
            tx.send_replace(Arc::new(self.snapshot()));
        }
    }
}
