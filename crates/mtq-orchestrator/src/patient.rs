//! Patience with a broker that is slow or briefly away: the live driver reads through
//! [`PatientReads`], which retries a read that failed for a transient reason (a timeout, a lost
//! connection, "too many requests", "no connection to the trade server") with exponential backoff,
//! and reports every failed attempt (a warning with the attempt count, and an `error` event).
//!
//! Only reads are retried here: they change nothing at the broker, so repeating one is always
//! safe. Trade requests pass straight through; the order executor alone decides whether one may
//! be sent again. An error that retrying cannot fix (an unknown symbol, a malformed
//! specification, a refusal) is returned at once, so a configuration mistake still ends start-up
//! straight away with its own message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mtq_connector::{BarRange, Broker, BrokerError};
use mtq_core::ErrorSource;
use mtq_core::{
    AccountInfo, Bar, Clock, Deal, Decimal, DomainEvent, EventKind, OrderOutcome, OrderRequest,
    PendingOrder, Position, RetcodeClass, Symbol, SymbolSpec, Tick, Ticket, Timeframe,
};
use tracing::{info, warn};

use crate::live::EventOutlet;

/// How patiently the live driver reads from a broker in transient trouble.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransientRetry {
    /// Tries of one read at start-up (nothing trades until start-up is done, so it may wait).
    pub startup_attempts: u32,
    /// Tries of one read inside a running cycle; after that the cycle fails, is reported, and
    /// the next cycle (after its own backoff) tries again.
    pub running_attempts: u32,
    /// Pause after the first failure; doubles after each further one.
    pub first_delay: Duration,
    /// Longest pause between two tries.
    pub max_delay: Duration,
}

impl Default for TransientRetry {
    fn default() -> Self {
        // 1 s doubling to 30 s: twelve tries give a terminal about five minutes to answer.
        Self {
            startup_attempts: 12,
            running_attempts: 2,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl TransientRetry {
    /// The pause after failure number `failures` (1-based): doubling from `first_delay`, capped.
    pub fn delay(&self, failures: u32) -> Duration {
        self.first_delay
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
            .min(self.max_delay)
    }
}

/// True for broker trouble that may pass by itself: no answer in time, the connection down, or
/// a return code that says "not now" (10024 too many requests, 10031 no connection). Unknown
/// symbols, missing tickets, malformed replies and refusals are not: retrying changes nothing.
pub fn is_transient(e: &BrokerError) -> bool {
    match e {
        BrokerError::Timeout { .. }
        | BrokerError::Disconnected { .. }
        | BrokerError::Unanswered { .. } => true,
        BrokerError::Rejected { retcode, .. } => retcode.class() == RetcodeClass::RetryLater,
        BrokerError::UnknownSymbol(_)
        | BrokerError::AmbiguousSymbol { .. }
        | BrokerError::NotFound(_)
        | BrokerError::Protocol(_) => false,
    }
}

/// A [`Broker`] whose reads are retried on transient errors. See the module documentation.
pub(crate) struct PatientReads {
    inner: Arc<dyn Broker>,
    policy: TransientRetry,
    /// Tries per read now: the start-up count until [`PatientReads::running`] lowers it.
    attempts: AtomicU32,
    clock: Arc<dyn Clock>,
    outlet: Arc<dyn EventOutlet>,
}

impl PatientReads {
    pub(crate) fn new(
        inner: Arc<dyn Broker>,
        policy: TransientRetry,
        clock: Arc<dyn Clock>,
        outlet: Arc<dyn EventOutlet>,
    ) -> Self {
        let attempts = AtomicU32::new(policy.startup_attempts.max(1));
        Self {
            inner,
            policy,
            attempts,
            clock,
            outlet,
        }
    }

    /// Start-up is over: reads inside cycles are tried `running_attempts` times.
    pub(crate) fn running(&self) {
        self.attempts
            .store(self.policy.running_attempts.max(1), Ordering::Relaxed);
    }

    async fn read<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, BrokerError>
    where
        F: FnMut() -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, BrokerError>> + Send,
        T: Send,
    {
        let attempts = self.attempts.load(Ordering::Relaxed).max(1);
        let mut failures = 0;
        loop {
            match call().await {
                Ok(v) => {
                    if failures > 0 {
                        info!(read = what, failures, "the broker answered again");
                    }
                    return Ok(v);
                }
                Err(e) if is_transient(&e) && failures + 1 < attempts => {
                    failures += 1;
                    let delay = self.policy.delay(failures);
                    warn!(read = what, attempt = failures, of = attempts, error = %e, retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "broker read failed; retrying");
                    let message = format!(
                        "{what}: {e} (attempt {failures} of {attempts}; retrying in {delay:?})"
                    );
                    let kind = EventKind::Error {
                        source: ErrorSource::Broker,
                        message,
                    };
                    self.outlet
                        .publish(DomainEvent::new(self.clock.now(), kind))
                        .await;
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[async_trait::async_trait]
impl Broker for PatientReads {
    async fn account(&self) -> Result<AccountInfo, BrokerError> {
        self.read("account", || self.inner.account()).await
    }

    async fn symbol_spec(&self, symbol: &Symbol) -> Result<SymbolSpec, BrokerError> {
        self.read("symbol specification", || self.inner.symbol_spec(symbol))
            .await
    }

    async fn last_tick(&self, symbol: &Symbol) -> Result<Tick, BrokerError> {
        self.read("quote", || self.inner.last_tick(symbol)).await
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: BarRange,
    ) -> Result<Vec<Bar>, BrokerError> {
        self.read("bars", || self.inner.bars(symbol, timeframe, range))
            .await
    }

    async fn positions(&self) -> Result<Vec<Position>, BrokerError> {
        self.read("positions", || self.inner.positions()).await
    }

    async fn pending_orders(&self) -> Result<Vec<PendingOrder>, BrokerError> {
        self.read("pending orders", || self.inner.pending_orders())
            .await
    }

    async fn deals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Deal>, BrokerError> {
        self.read("deals", || self.inner.deals(from, to)).await
    }

    async fn send_order(&self, request: &OrderRequest) -> Result<OrderOutcome, BrokerError> {
        self.inner.send_order(request).await
    }

    async fn modify_position(
        &self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        self.inner.modify_position(ticket, sl, tp).await
    }

    async fn close_position(
        &self,
        ticket: Ticket,
        volume: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        self.inner.close_position(ticket, volume).await
    }

    async fn cancel_order(&self, ticket: Ticket) -> Result<OrderOutcome, BrokerError> {
        self.inner.cancel_order(ticket).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::Retcode;

    #[test]
    fn timeouts_and_lost_connections_are_transient_but_unknown_symbols_are_not() {
        let sym = Symbol::new("EURUSD").unwrap();
        assert!(is_transient(&BrokerError::Timeout {
            millis: 5000,
            after_send: true
        }));
        assert!(is_transient(&BrokerError::Disconnected {
            detail: "bridge closed".into(),
            after_send: false
        }));
        assert!(is_transient(&BrokerError::rejected(
            Retcode::Connection,
            ""
        )));
        assert!(!is_transient(&BrokerError::UnknownSymbol(sym)));
        assert!(!is_transient(&BrokerError::Protocol("bad spec".into())));
        assert!(!is_transient(&BrokerError::rejected(
            Retcode::MarketClosed,
            ""
        )));
    }

    #[test]
    fn the_pause_doubles_up_to_its_cap() {
        let p = TransientRetry::default();
        assert_eq!(p.delay(1), Duration::from_secs(1));
        assert_eq!(p.delay(2), Duration::from_secs(2));
        assert_eq!(p.delay(5), Duration::from_secs(16));
        assert_eq!(p.delay(6), Duration::from_secs(30));
        assert_eq!(p.delay(40), Duration::from_secs(30));
    }
}
