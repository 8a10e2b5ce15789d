//! The driver's ports: where its events go and what the trade records remember.

use chrono::{DateTime, Utc};
use mtq_core::{Approval, Decimal, DomainEvent, Ticket};

use crate::StoreError;

/// Where the trader's events go: the database writer, a log, a test's vector.
#[async_trait::async_trait]
pub trait EventOutlet: Send + Sync {
    /// Takes one event; waits (never drops) when the consumer is behind.
    async fn publish(&self, event: DomainEvent);
}

/// Collects events in memory (tests, embedding).
#[derive(Debug, Default)]
pub struct CollectEvents(pub std::sync::Mutex<Vec<DomainEvent>>);

impl CollectEvents {
    /// A copy of every event so far.
    pub fn events(&self) -> Vec<DomainEvent> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl EventOutlet for CollectEvents {
    async fn publish(&self, event: DomainEvent) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }
}

/// What the trade records say is open: the positions MTQ wrote a trade for and has not seen
/// close, with their open times. The database implements it, so that a restart can restore
/// records a crash lost.
#[async_trait::async_trait]
pub trait TradeLedger: Send + Sync {
    async fn open_positions(&self) -> Result<Vec<(Ticket, DateTime<Utc>)>, StoreError>;

    /// What the risk limits remember across a restart, from the records: the equity when the
    /// trading day began at `day_start`, the highest equity recorded since `peak_since`, and how
    /// many of the latest orders failed in a row. The default remembers nothing.
    async fn risk_memory(
        &self,
        day_start: DateTime<Utc>,
        peak_since: DateTime<Utc>,
    ) -> Result<RiskMemory, StoreError> {
        let _ = (day_start, peak_since);
        Ok(RiskMemory::default())
    }

    /// The time and ticket of the newest deal recorded: start-up records the broker's deals
    /// after it (entries, SL/TP exits, swaps and commissions of the time MTQ was away). `None`
    /// when nothing is recorded: start-up then reads back [`LiveOptions::lookback`].
    async fn last_recorded_deal(&self) -> Result<Option<(DateTime<Utc>, Ticket)>, StoreError> {
        Ok(None)
    }

    /// Records every approval (`trader.mode: semi`) an earlier run left pending as expired at
    /// `at`, with `note`, and returns them as now recorded: a previous run stopped before anyone
    /// decided them, and nothing of theirs may be sent. The default has none.
    async fn expire_left_approvals(
        &self,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<Vec<Approval>, StoreError> {
        let _ = (at, note);
        Ok(Vec::new())
    }
}

/// See [`TradeLedger::risk_memory`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RiskMemory {
    pub day_start_equity: Option<Decimal>,
    pub equity_peak: Option<Decimal>,
    /// Orders that failed in a row, newest back to the last success: a restart must not forget
    /// a run of failures that has tripped (or is about to trip) the kill switch.
    pub order_failures_in_a_row: u32,
    /// The reason of an operator's manual kill-switch trip not reset since: a manual stop
    /// survives a restart. The newest accepted `trip_kill_switch` or `reset_kill_switch`
    /// operator command decides.
    pub manual_kill: Option<String>,
}
