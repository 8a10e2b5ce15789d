//! What the connector pushes to subscribers: connection changes, ticks, trade transactions.

use mtq_core::{Decimal, Symbol, Tick, Ticket};
use serde_json::{Map, Value};

use crate::protocol::Hello;
use crate::wire::{WireError, field_str, opt_i64, opt_str, to_decimal};

/// An event from the terminal, received with [`crate::Mt5Broker::events`].
#[derive(Debug, Clone, PartialEq)]
pub enum Mt5Event {
    /// A terminal authenticated.
    Connected(Hello),
    /// The terminal connection ended (closed, heartbeat timeout, replaced).
    Disconnected { reason: String },
    /// A quote for a symbol subscribed with [`crate::Mt5Broker::subscribe_ticks`], under MTQ's
    /// symbol name.
    Tick { symbol: Symbol, tick: Tick },
    /// `OnTradeTransaction`, forwarded by the bridge.
    TradeTransaction(TradeTransaction),
}

/// An `MqlTradeTransaction` as the bridge forwards it. The typed fields are the ones MTQ uses to
/// wake up its reconciliation; `raw` holds the whole message, including the request and result
/// the terminal attaches to `TRADE_TRANSACTION_REQUEST`.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeTransaction {
    /// `ENUM_TRADE_TRANSACTION_TYPE` name, e.g. `TRADE_TRANSACTION_DEAL_ADD`.
    pub kind: String,
    pub deal: Option<Ticket>,
    pub order: Option<Ticket>,
    pub position: Option<Ticket>,
    pub symbol: Option<Symbol>,
    /// `ENUM_DEAL_TYPE` name for deal transactions.
    pub deal_type: Option<String>,
    pub price: Option<Decimal>,
    pub volume: Option<Decimal>,
    pub raw: Map<String, Value>,
}

impl TradeTransaction {
    pub(crate) fn parse(
        body: &Map<String, Value>,
        rename: impl Fn(Symbol) -> Symbol,
    ) -> Result<Self, WireError> {
        let empty = Map::new();
        let tx = match body.get("transaction") {
            Some(Value::Object(o)) => o,
            Some(_) => {
                return Err(WireError::Invalid {
                    field: "transaction",
                    detail: "expected an object".into(),
                });
            }
            None => &empty,
        };
        let ticket = |f: &'static str| -> Result<Option<Ticket>, WireError> {
            Ok(opt_i64(tx, f)?
                .and_then(|t| u64::try_from(t).ok())
                .filter(|t| *t != 0)
                .map(Ticket))
        };
        let dec = |f: &'static str| -> Result<Option<Decimal>, WireError> {
            match tx.get(f).and_then(Value::as_f64) {
                Some(x) if x != 0.0 => Ok(Some(to_decimal(f, x)?)),
                _ => Ok(None),
            }
        };
        let symbol = opt_str(tx, "symbol")?
            .filter(|s| !s.is_empty())
            .and_then(|s| Symbol::new(&s).ok())
            .map(rename);
        Ok(Self {
            kind: field_str(tx, "type")?.to_string(),
            deal: ticket("deal")?,
            order: ticket("order")?,
            position: ticket("position")?,
            symbol,
            deal_type: opt_str(tx, "deal_type")?,
            price: dec("price")?,
            volume: dec("volume")?,
            raw: body.clone(),
        })
    }
}
