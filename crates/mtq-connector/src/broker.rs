use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mtq_core::{
    AccountInfo, Bar, Deal, Decimal, OrderOutcome, OrderRequest, PendingOrder, Position, Symbol,
    SymbolSpec, Tick, Ticket, Timeframe,
};

use crate::BrokerError;

/// Which bars to fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarRange {
    /// The last `n` bars up to now, oldest first (MT5 `CopyRates(symbol, tf, 0, n)`); the newest may
    /// still be forming.
    Last(usize),
    /// Bars opening within `[from, to]`, oldest first.
    Between(DateTime<Utc>, DateTime<Utc>),
}

/// A trading venue: an MT5 terminal behind the bridge, or the simulated broker.
///
/// Trade calls return `Ok` only when the broker accepted the request (done, partially done or
/// placed); anything else is a [`BrokerError`] whose [`BrokerError::class`] tells the caller whether
/// it may retry, must reconcile, or should give up. All times are UTC.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Broker: Send + Sync {
    /// Balance, equity, margin and the account's currency and margin mode.
    async fn account(&self) -> Result<AccountInfo, BrokerError>;

    /// How `symbol` trades: digits, volume limits, stops level, filling modes, swaps.
    async fn symbol_spec(&self, symbol: &Symbol) -> Result<SymbolSpec, BrokerError>;

    /// The latest quote.
    async fn last_tick(&self, symbol: &Symbol) -> Result<Tick, BrokerError>;

    /// Bars of `timeframe`, oldest first.
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: BarRange,
    ) -> Result<Vec<Bar>, BrokerError>;

    /// Open positions on the account, all symbols and magic numbers.
    async fn positions(&self) -> Result<Vec<Position>, BrokerError>;

    /// Pending orders waiting at the broker.
    async fn pending_orders(&self) -> Result<Vec<PendingOrder>, BrokerError>;

    /// Deals executed within `[from, to]`.
    async fn deals(&self, from: DateTime<Utc>, to: DateTime<Utc>)
    -> Result<Vec<Deal>, BrokerError>;

    /// Opens a position or places a pending order.
    async fn send_order(&self, request: &OrderRequest) -> Result<OrderOutcome, BrokerError>;

    /// Sets a position's SL and TP (`None` removes one).
    async fn modify_position(
        &self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError>;

    /// Closes a position in full (`volume: None`) or in part, at market.
    async fn close_position(
        &self,
        ticket: Ticket,
        volume: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError>;

    /// Deletes a pending order.
    async fn cancel_order(&self, ticket: Ticket) -> Result<OrderOutcome, BrokerError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::{Retcode, RetcodeClass};
    use std::sync::Arc;

    #[tokio::test]
    async fn the_mock_stands_in_for_a_broker_behind_a_trait_object() {
        let mut mock = MockBroker::new();
        mock.expect_cancel_order().returning(|_| {
            Err(BrokerError::rejected(
                Retcode::Frozen,
                "too close to market",
            ))
        });
        let broker: Arc<dyn Broker> = Arc::new(mock);
        let err = broker.cancel_order(Ticket(7)).await.unwrap_err();
        assert_eq!(err.retcode(), Some(Retcode::Frozen));
        assert_eq!(err.class(), RetcodeClass::Rejected);
    }
}
