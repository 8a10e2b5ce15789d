//! Finding out what happened to an order from the broker's own records: positions, pending
//! orders and deals carrying the account's magic number and the client order id in the comment.

use chrono::{DateTime, Duration, Utc};
use mtq_connector::{Broker, BrokerError};
use mtq_core::{DealEntry, Decimal};

use crate::{Intent, IntentState};

/// The intent's state according to the broker, `None` when no record carries its id.
///
/// Deals come first: they exist even when the position has since been closed (by SL, TP or in a
/// netting account by an opposite order). Then pending orders, then open positions (for
/// brokers whose deal history lags).
pub async fn find_at_broker(
    broker: &dyn Broker,
    intent: &Intent,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<Option<IntentState>, BrokerError> {
    let id = intent.id().as_str();
    let magic = intent.request.magic;
    let from = intent.created_at.min(now) - window;
    let to = now.max(intent.created_at) + window;
    let deals = broker.deals(from, to).await?;
    let mine: Vec<_> = deals
        .iter()
        .filter(|d| d.entry != DealEntry::Balance && d.magic == magic && d.comment == id)
        .collect();
    if let Some(first) = mine.first() {
        let volume: Decimal = mine.iter().map(|d| d.volume).sum();
        return Ok(Some(IntentState::Filled {
            position: first.position,
            deal: Some(first.ticket),
            price: first.price,
            volume,
            order: first.order,
            bid: Decimal::ZERO,
            ask: Decimal::ZERO,
        }));
    }
    let orders = broker.pending_orders().await?;
    if let Some(o) = orders.iter().find(|o| o.magic == magic && o.comment == id) {
        return Ok(Some(IntentState::Placed { order: o.ticket }));
    }
    let positions = broker.positions().await?;
    if let Some(p) = positions
        .iter()
        .find(|p| p.magic == magic && p.comment == id)
    {
        return Ok(Some(IntentState::Filled {
            position: Some(p.ticket),
            deal: None,
            price: p.open_price,
            volume: p.volume,
            order: None,
            bid: Decimal::ZERO,
            ask: Decimal::ZERO,
        }));
    }
    Ok(None)
}
