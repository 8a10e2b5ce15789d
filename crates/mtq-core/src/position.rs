//! Positions, pending orders and deals as the broker reports them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Magic, OrderKind, Side, Symbol, Ticket};

/// An open position (MT5 `POSITION_*` properties). Money is in the account currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub ticket: Ticket,
    pub symbol: Symbol,
    pub side: Side,
    pub volume: Decimal,
    pub open_price: Decimal,
    pub open_time: DateTime<Utc>,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    /// Price the position would close at now (bid for buys, ask for sells).
    pub current_price: Decimal,
    /// Accumulated swap, not yet in the balance.
    pub swap: Decimal,
    /// Floating profit at `current_price`, before swap and commission.
    pub profit: Decimal,
    pub magic: Magic,
    pub comment: String,
}

/// A pending order waiting at the broker (MT5 `ORDER_*` properties).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingOrder {
    pub ticket: Ticket,
    pub symbol: Symbol,
    pub side: Side,
    pub kind: OrderKind,
    pub volume: Decimal,
    pub price: Decimal,
    pub stop_limit: Option<Decimal>,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    pub time_setup: DateTime<Utc>,
    pub expiration: Option<DateTime<Utc>>,
    pub magic: Magic,
    pub comment: String,
}

/// Whether a deal opened, closed or reversed a position (`DEAL_ENTRY_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealEntry {
    In,
    Out,
    /// Closed one position and opened the opposite one (netting accounts).
    InOut,
    /// A balance operation: deposit, withdrawal, correction.
    Balance,
}

/// Why a deal happened (`DEAL_REASON_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealReason {
    /// Sent by an expert (MTQ).
    Expert,
    /// A pending order was triggered.
    PendingTriggered,
    StopLoss,
    TakeProfit,
    /// Closed by the broker because margin level fell to the stop-out level.
    StopOut,
    /// A balance operation.
    Balance,
}

/// An executed deal in the account history. `profit`, `commission` and `swap` are the amounts
/// this deal moved into the balance, in the account currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    pub ticket: Ticket,
    /// The order that caused the deal.
    pub order: Option<Ticket>,
    pub position: Option<Ticket>,
    /// `None` for balance operations.
    pub symbol: Option<Symbol>,
    /// `None` for balance operations.
    pub side: Option<Side>,
    pub entry: DealEntry,
    pub reason: DealReason,
    pub volume: Decimal,
    pub price: Decimal,
    pub commission: Decimal,
    pub swap: Decimal,
    pub profit: Decimal,
    pub time: DateTime<Utc>,
    pub magic: Magic,
    pub comment: String,
}

impl Deal {
    /// Everything this deal added to the balance.
    pub fn balance_effect(&self) -> Decimal {
        self.profit + self.commission + self.swap
    }
}
