//! Orders: what MTQ asks of a broker and what the broker answers.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{ClientOrderId, Magic, Retcode, Symbol, Ticket};

/// Direction of an order, position or deal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// +1 for buys, -1 for sells: profit is `sign * (exit - entry)`.
    pub fn sign(self) -> i32 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

/// How an order executes (MT5 `ORDER_TYPE_*` without the side).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// At the current price.
    Market,
    /// At `price` or better: buy limits sit below the ask, sell limits above the bid.
    Limit,
    /// Becomes a market order when the price reaches `price`: buy stops above the ask, sell
    /// stops below the bid.
    Stop,
    /// When the price reaches `price`, places a limit order at `stop_limit`.
    StopLimit,
}

/// Volume filling policy (`ORDER_FILLING_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FillPolicy {
    /// Fill or kill: all of the volume or nothing.
    #[default]
    Fok,
    /// Immediate or cancel: what is available now, the rest cancelled.
    Ioc,
    /// Partial fills, the remainder stays (exchange and request/instant execution only).
    Return,
}

/// A request to open a position or place a pending order (MT5 `MqlTradeRequest`, action DEAL or
/// PENDING). Prices and volumes are exact decimals, already normalised to the symbol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub client_order_id: ClientOrderId,
    pub symbol: Symbol,
    pub side: Side,
    pub kind: OrderKind,
    /// Lots.
    pub volume: Decimal,
    /// Requested price: the trigger for pending orders; for market orders the price the caller saw
    /// (used with `deviation` under instant execution), or `None`.
    pub price: Option<Decimal>,
    /// Limit price of a stop-limit order.
    pub stop_limit: Option<Decimal>,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    /// Largest accepted deviation from `price`, in points.
    pub deviation: u32,
    pub magic: Magic,
    /// Free text for the broker; MTQ puts the client order id here. At most 31 characters.
    #[serde(deserialize_with = "crate::ids::bounded_comment")]
    pub comment: String,
    pub filling: FillPolicy,
    /// Expiry of a pending order; `None` is good-till-cancelled.
    pub expiration: Option<DateTime<Utc>>,
}

impl OrderRequest {
    /// A market order with the client order id as its comment and no stops; set the rest with
    /// struct update syntax.
    pub fn market(id: ClientOrderId, symbol: Symbol, side: Side, volume: Decimal) -> Self {
        Self {
            comment: id.as_str().to_string(),
            client_order_id: id,
            symbol,
            side,
            kind: OrderKind::Market,
            volume,
            price: None,
            stop_limit: None,
            sl: None,
            tp: None,
            deviation: 10,
            magic: Magic::default(),
            filling: FillPolicy::default(),
            expiration: None,
        }
    }

    /// A pending order of `kind` at `price`.
    pub fn pending(
        id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        kind: OrderKind,
        volume: Decimal,
        price: Decimal,
    ) -> Self {
        Self {
            kind,
            price: Some(price),
            ..Self::market(id, symbol, side, volume)
        }
    }
}

/// The broker's answer to a trade request (MT5 `MqlTradeResult`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderOutcome {
    pub retcode: Retcode,
    /// Deal ticket when a deal was executed.
    pub deal: Option<Ticket>,
    /// Order ticket.
    pub order: Option<Ticket>,
    /// Position the deal opened, changed or closed.
    pub position: Option<Ticket>,
    /// Volume filled, lots.
    pub volume: Decimal,
    /// Fill price (zero when nothing filled).
    pub price: Decimal,
    pub bid: Decimal,
    pub ask: Decimal,
    /// The broker's comment (`MqlTradeResult::comment`).
    pub comment: String,
    /// Time the server processed the request.
    pub time: DateTime<Utc>,
}
