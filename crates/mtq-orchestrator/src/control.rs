//! The control channel between an operator surface (the API, Telegram) and a running live
//! driver.
//!
//! The API never calls the broker: it sends a [`ControlCommand`] through a [`ControlHandle`],
//! and the driver executes it between cycles, through the same executor, intents and records as
//! the strategy's own orders, then answers on a one-shot channel. The driver publishes a
//! [`LiveSnapshot`] after every cycle and every command (a `watch` channel: readers always see
//! the newest) and every [`DomainEvent`] it records (a `broadcast` channel: a reader that falls
//! behind loses old events and is told how many, it never slows the trader).
//!
//! Every command carries the [`Actor`] who sent it; the driver records it as an audit event.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mtq_core::{
    AccountInfo, Decimal, DomainEvent, PendingOrder, Position, Side, Symbol, SymbolSpec, Ticket,
    Timeframe,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::LiveHealth;

/// The roles of the operator surface, weakest first: each includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything but secrets and logs.
    Viewer,
    /// Also steers trading: pause, close, modify, manual orders, trip the kill switch.
    Trader,
    /// Also resets the kill switch, reloads the configuration, manages keys and users.
    Admin,
}

impl Role {
    /// The stable lower-case name, as stored and as accepted on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Trader => "trader",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "trader" => Ok(Role::Trader),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role `{other}`: use viewer, trader or admin"
            )),
        }
    }
}

/// Who sent a command: recorded with it. `id` names a user or an API key (its public id,
/// never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub role: Role,
    /// Where the command came from: `api`, `telegram`, `cli`.
    pub via: String,
}

/// What an operator can ask a running trader to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlCommand {
    /// No new entries; open positions are still managed.
    PauseEntries,
    ResumeEntries,
    /// Stop the trader after the current cycle (as Ctrl-C does).
    Stop,
    /// Trip the kill switch by hand. It stays tripped across restarts until reset.
    TripKillSwitch {
        reason: String,
    },
    /// Reset a manual trip (admin only; a reason is required).
    ResetKillSwitch {
        reason: String,
    },
    /// Close a position, in full (`volume: None`) or in part.
    ClosePosition {
        ticket: Ticket,
        volume: Option<Decimal>,
    },
    /// Close every managed position, or every one on `symbol`.
    CloseAll {
        symbol: Option<Symbol>,
    },
    /// Set a position's stop loss and take profit (`None` leaves that level as it is).
    ModifyPosition {
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    },
    /// Stop (or resume) entries on one symbol; its open positions are still managed.
    SetSymbolEnabled {
        symbol: Symbol,
        enabled: bool,
    },
    /// Delete a pending order this trader placed (its broker ticket).
    CancelOrder {
        ticket: Ticket,
    },
    /// "Test now": run the symbol's strategy on its latest closed bars and the risk rules on
    /// what it signals, with the real risk state and account, sending nothing to the broker.
    TestSignal {
        symbol: Symbol,
    },
    /// Re-read the configuration file.
    ReloadConfig,
    /// A manual market order, only when the configuration enables manual orders. The
    /// idempotency key becomes the client order id, so the same key never executes twice.
    ManualOrder {
        idempotency_key: String,
        symbol: Symbol,
        side: Side,
        volume: Decimal,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    },
    /// `semi` mode: the entries waiting for approval and the ones decided in this run.
    ListApprovals,
    /// `semi` mode: send a waiting entry, after the risk checks pass again. Approving an
    /// approved entry again sends nothing.
    Approve {
        id: u64,
    },
    /// `semi` mode: drop a waiting entry; nothing is sent.
    Reject {
        id: u64,
    },
}

impl ControlCommand {
    /// The least role allowed to send this command.
    pub fn required_role(&self) -> Role {
        match self {
            ControlCommand::ResetKillSwitch { .. } | ControlCommand::ReloadConfig => Role::Admin,
            ControlCommand::ListApprovals => Role::Viewer,
            _ => Role::Trader,
        }
    }

    /// A stable snake_case name for logs, metrics and the audit record.
    pub fn name(&self) -> &'static str {
        match self {
            ControlCommand::PauseEntries => "pause_entries",
            ControlCommand::ResumeEntries => "resume_entries",
            ControlCommand::Stop => "stop",
            ControlCommand::TripKillSwitch { .. } => "trip_kill_switch",
            ControlCommand::ResetKillSwitch { .. } => "reset_kill_switch",
            ControlCommand::ClosePosition { .. } => "close_position",
            ControlCommand::CloseAll { .. } => "close_all",
            ControlCommand::ModifyPosition { .. } => "modify_position",
            ControlCommand::SetSymbolEnabled { .. } => "set_symbol_enabled",
            ControlCommand::CancelOrder { .. } => "cancel_order",
            ControlCommand::TestSignal { .. } => "test_signal",
            ControlCommand::ReloadConfig => "reload_config",
            ControlCommand::ManualOrder { .. } => "manual_order",
            ControlCommand::ListApprovals => "list_approvals",
            ControlCommand::Approve { .. } => "approve",
            ControlCommand::Reject { .. } => "reject",
        }
    }
}

/// Why the driver refused a command. The API answers 409 for a refusal by state, 404 for an
/// unknown ticket or symbol, 403 for a role, 422 for a bad value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ControlRefusal {
    #[error("role {have} may not {command}: it needs {need}")]
    Forbidden {
        command: String,
        have: Role,
        need: Role,
    },
    #[error("the kill switch is {state}: {reason}")]
    KillSwitch { state: String, reason: String },
    #[error("no open position with ticket {0} is managed by this trader")]
    UnknownPosition(Ticket),
    #[error("no pending order with ticket {0} was placed by this trader")]
    UnknownOrder(Ticket),
    #[error("symbol {0} is not traded by this account")]
    UnknownSymbol(String),
    #[error("manual orders are disabled: set `api.manual_orders: true` to allow them")]
    ManualOrdersDisabled,
    #[error("entries are paused")]
    EntriesPaused,
    #[error("{0}")]
    Invalid(String),
    #[error("the trader is stopping")]
    Stopping,
    #[error("the broker refused: {0}")]
    Broker(String),
    #[error("the configuration could not be reloaded: {0}")]
    Config(String),
    #[error("entries on {0} are disabled by an operator")]
    SymbolDisabled(Symbol),
    /// The records (the intent store) cannot be read or written now.
    #[error("the records are unavailable: {0}")]
    Unavailable(String),
    #[error("no approval {0} is known to this trader (approvals last until the trader restarts)")]
    UnknownApproval(u64),
    #[error("approval {id} was {state} before; it cannot be decided again")]
    ApprovalDecided {
        id: u64,
        state: mtq_core::ApprovalState,
    },
}

/// What an executed command did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControlOutcome {
    /// What happened, for people.
    pub message: String,
    /// Orders, closes and modifications sent to the broker for it.
    pub actions: usize,
    /// The client order id of a manual order, or of the closes sent.
    pub client_order_ids: Vec<String>,
    /// `true` when a manual order's idempotency key had already been used: nothing new was sent.
    pub duplicate: bool,
    /// What a command found, for commands that report (a signal test's [`SignalTest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// What a signal test found: the strategy's signal on the newest closed bar and the risk
/// rules' verdict on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignalTest {
    pub symbol: Symbol,
    pub timeframe: Timeframe,
    /// The open time of the newest closed bar the strategy saw.
    pub bar_time: Option<DateTime<Utc>>,
    /// How many closed bars it was fed.
    pub bars: usize,
    /// The signal on the newest bar, if any.
    pub signal: Option<mtq_core::Signal>,
    /// `no_signal`, `not_an_entry` (hold or close), `allowed` or `refused`.
    pub verdict: String,
    /// The rule that refused it (a stable code), and why.
    pub rule: Option<String>,
    pub refusal: Option<String>,
    /// The lots sizing gives it, when allowed.
    pub volume: Option<Decimal>,
}

/// The trading state an operator sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradingState {
    /// Entries and management as configured.
    Running,
    /// Entries paused by an operator; management continues.
    EntriesPaused,
    /// The trader is stopping or has stopped.
    Stopped,
}

/// The driver's state after a cycle or a command: what the API's account, positions and risk
/// routes show, and what the WebSocket's `account` and `system` channels stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    /// The account name (`default` until several accounts run in one process).
    pub account_name: String,
    pub at: DateTime<Utc>,
    pub cycle: u64,
    pub account: Option<AccountInfo>,
    pub positions: Vec<Position>,
    pub pending: Vec<PendingOrder>,
    pub trading: TradingState,
    /// `active`, `reduce_only` or `halted`.
    pub kill_switch: String,
    pub kill_switch_reason: String,
    pub health: LiveHealth,
    /// Symbols whose entries an operator disabled.
    pub disabled_symbols: BTreeSet<Symbol>,
    /// Today's realised and floating P&L, in the account currency.
    pub daily_pnl: Decimal,
    /// The daily-loss limit in the account currency, when one is configured.
    pub daily_loss_limit: Option<Decimal>,
    /// Drawdown from the equity peak, in percent.
    pub drawdown_pct: Decimal,
    pub drawdown_limit_pct: Option<Decimal>,
    /// The newest quote of each traded symbol, as the last cycle read it.
    pub quotes: BTreeMap<Symbol, LiveQuote>,
    /// Each traded symbol: its strategy, parameters and the broker's specification.
    pub symbols: Vec<SymbolState>,
}

/// A symbol's price when the driver last read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveQuote {
    pub bid: Decimal,
    pub ask: Decimal,
    pub time: DateTime<Utc>,
}

/// One traded symbol as the driver runs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SymbolState {
    pub symbol: Symbol,
    pub timeframe: Timeframe,
    /// The strategy's registry name (`strategy_type`).
    pub strategy: String,
    /// The configuration entry the strategy was built from (its parameters).
    pub parameters: serde_json::Value,
    /// `false` when the configuration disables the symbol.
    pub configured: bool,
    /// The broker's specification, once read.
    pub spec: Option<SymbolSpec>,
}

impl LiveSnapshot {
    /// The snapshot before the trader's first cycle: nothing read yet, trading as configured.
    /// The initial value of a [`control_channel`] made before the trader starts.
    pub fn starting(account_name: &str, at: DateTime<Utc>) -> Self {
        Self {
            account_name: account_name.into(),
            at,
            cycle: 0,
            account: None,
            positions: Vec::new(),
            pending: Vec::new(),
            trading: TradingState::Running,
            kill_switch: "active".into(),
            kill_switch_reason: String::new(),
            health: LiveHealth {
                intent_store_ok: true,
                broker_connected: false,
                last_cycle: None,
                loop_alive: None,
            },
            disabled_symbols: BTreeSet::new(),
            daily_pnl: Decimal::ZERO,
            daily_loss_limit: None,
            drawdown_pct: Decimal::ZERO,
            drawdown_limit_pct: None,
            quotes: BTreeMap::new(),
            symbols: Vec::new(),
        }
    }
}

/// One command on its way to the driver, with where to answer.
#[derive(Debug)]
pub struct ControlRequest {
    pub command: ControlCommand,
    pub actor: Actor,
    pub reply: oneshot::Sender<Result<ControlOutcome, ControlRefusal>>,
}

/// The operator side of the channel: cheap to clone, one per API server or bot.
#[derive(Clone, Debug)]
pub struct ControlHandle {
    commands: mpsc::Sender<ControlRequest>,
    snapshots: watch::Receiver<Arc<LiveSnapshot>>,
    events: broadcast::Sender<DomainEvent>,
}

/// The driver side of the channel: owned by the live trader.
#[derive(Debug)]
pub struct ControlPort {
    pub commands: mpsc::Receiver<ControlRequest>,
    pub snapshots: watch::Sender<Arc<LiveSnapshot>>,
    pub events: broadcast::Sender<DomainEvent>,
}

/// How many commands may wait for the driver before senders wait.
pub const COMMAND_QUEUE: usize = 64;
/// How many events a slow reader may fall behind before it loses the oldest.
pub const EVENT_QUEUE: usize = 4096;

/// A connected pair: the handle for the operator surface, the port for the driver.
pub fn control_channel(initial: LiveSnapshot) -> (ControlHandle, ControlPort) {
    let (ctx, crx) = mpsc::channel(COMMAND_QUEUE);
    let (stx, srx) = watch::channel(Arc::new(initial));
    let (etx, _) = broadcast::channel(EVENT_QUEUE);
    (
        ControlHandle {
            commands: ctx,
            snapshots: srx,
            events: etx.clone(),
        },
        ControlPort {
            commands: crx,
            snapshots: stx,
            events: etx,
        },
    )
}

impl ControlHandle {
    /// Sends a command and waits for the driver's answer. The role is checked here as well as
    /// by the driver, so a forbidden command never queues.
    pub async fn send(
        &self,
        command: ControlCommand,
        actor: Actor,
    ) -> Result<ControlOutcome, ControlRefusal> {
        let need = command.required_role();
        if actor.role < need {
            return Err(ControlRefusal::Forbidden {
                command: command.name().into(),
                have: actor.role,
                need,
            });
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(ControlRequest {
                command,
                actor,
                reply,
            })
            .await
            .map_err(|_| ControlRefusal::Stopping)?;
        answer.await.map_err(|_| ControlRefusal::Stopping)?
    }

    /// The newest snapshot.
    pub fn snapshot(&self) -> Arc<LiveSnapshot> {
        self.snapshots.borrow().clone()
    }

    /// A receiver that wakes on every new snapshot.
    pub fn watch(&self) -> watch::Receiver<Arc<LiveSnapshot>> {
        self.snapshots.clone()
    }

    /// Every event the driver records from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Viewer < Role::Trader && Role::Trader < Role::Admin);
        for r in [Role::Viewer, Role::Trader, Role::Admin] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .contains("viewer, trader or admin")
        );
    }

    #[test]
    fn reset_and_reload_need_admin() {
        let reset = ControlCommand::ResetKillSwitch { reason: "x".into() };
        assert_eq!(reset.required_role(), Role::Admin);
        assert_eq!(ControlCommand::ReloadConfig.required_role(), Role::Admin);
        assert_eq!(ControlCommand::PauseEntries.required_role(), Role::Trader);
    }
}
