//! Domain events: what happened, in the order it happened. The event bus carries these to the
//! database writer, the API and alerts.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{
    AccountInfo, Bar, ClientOrderId, Deal, ErrorSource, KillSwitchState, OrderOutcome,
    OrderRequest, Position, Retcode, Signal, SignalRefusal, Symbol, Ticket, Timeframe,
};

/// One thing that happened, stamped with the time it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    pub time: DateTime<Utc>,
    pub kind: EventKind,
}

/// The kinds of domain events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    BarClosed {
        symbol: Symbol,
        timeframe: Timeframe,
        bar: Bar,
    },
    /// A strategy's signal and its fate: `refusal` is `None` when it was acted on.
    SignalRecorded {
        signal: Signal,
        refusal: Option<SignalRefusal>,
    },
    /// An order intent, written before the order is sent.
    OrderIntent {
        request: OrderRequest,
    },
    OrderSucceeded {
        client_order_id: ClientOrderId,
        outcome: OrderOutcome,
    },
    OrderFailed {
        client_order_id: ClientOrderId,
        retcode: Option<Retcode>,
        message: String,
    },
    PositionOpened {
        position: Position,
    },
    PositionModified {
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    },
    /// A deal closed all or part of a position.
    PositionClosed {
        deal: Deal,
    },
    /// A deal opened a position (or added to one): its commission, charged at entry, belongs to
    /// the trade as much as the closing deal's.
    EntryDeal {
        deal: Deal,
    },
    /// Why MTQ closed a position (its close command: a signal, the kill switch, an operator),
    /// or, after it moved the stop to breakeven or trailed it, why a later exit at the stop
    /// happened. The closing deal's own reason (stop loss, take profit, stop-out) completes it:
    /// see [`ExitReason::at_close`](crate::ExitReason::at_close).
    PositionExit {
        ticket: Ticket,
        reason: crate::ExitReason,
    },
    AccountSnapshot {
        account: AccountInfo,
    },
    KillSwitch {
        state: KillSwitchState,
        reason: String,
    },
    Connection {
        connected: bool,
        detail: String,
    },
    ConfigReloaded {
        detail: String,
    },
    /// The trader's life: start-up reconciliation, start, shutdown and its session summary.
    Session {
        detail: String,
    },
    Error {
        source: ErrorSource,
        message: String,
    },
    /// The LLM sentiment filter's verdict on an entry signal, allowed or refused, with the
    /// signal it filtered (a refusal is also the signal's own refusal). `pair_score` is base
    /// minus quote in -2..2, `None` when no score could be had (the fail mode decided).
    SentimentVerdict {
        signal: Signal,
        allowed: bool,
        pair_score: Option<f64>,
        reason: String,
    },
    /// An entry held for an operator (`trader.mode: semi`), published when it is created and
    /// on each change of its state: the database keeps its latest form.
    Approval {
        approval: Box<crate::Approval>,
    },
    /// An operator's command through the control channel (the API, a bot), accepted or
    /// refused: the audit trail of who steered the trader.
    OperatorCommand {
        /// The command's stable snake_case name (`pause_entries`, `trip_kill_switch`, ...).
        command: String,
        /// The command with its arguments, as JSON.
        detail: String,
        /// Who sent it: a user's or an API key's public id, never a secret.
        actor: String,
        /// The sender's role (`viewer`, `trader`, `admin`).
        role: String,
        /// Where it came from: `api`, `telegram`, `cli`.
        via: String,
        accepted: bool,
        /// What it did, or why it was refused.
        outcome: String,
    },
}

impl DomainEvent {
    pub fn new(time: DateTime<Utc>, kind: EventKind) -> Self {
        Self { time, kind }
    }
}
