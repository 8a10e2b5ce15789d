//! Order intents: what MTQ meant to send, written before it is sent, and what became of it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mtq_core::{ClientOrderId, Decimal, OrderRequest, Retcode, Ticket};
use serde::{Deserialize, Serialize};

/// Where an intent stands. The last four are terminal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum IntentState {
    /// Written, not sent yet.
    Recorded,
    /// Sent (attempt counts from 1); no answer yet.
    Sent { attempt: u32 },
    /// The outcome is unknown (timeout or connection lost after sending) and reconciliation could
    /// not read the broker yet. Never resent; reconciled again later.
    Unknown { reason: String },
    /// A deal executed: the position it opened or changed.
    Filled {
        position: Option<Ticket>,
        deal: Option<Ticket>,
        price: Decimal,
        volume: Decimal,
        /// The order ticket the reply carried (`None` when found by reconciliation without one).
        #[serde(default)]
        order: Option<Ticket>,
        /// The quote the reply carried (zero when the fill was found by reconciliation).
        #[serde(default)]
        bid: Decimal,
        #[serde(default)]
        ask: Decimal,
    },
    /// A pending order was placed.
    Placed { order: Ticket },
    /// The broker refused it, or MTQ gave up before it could have executed.
    Rejected {
        retcode: Option<Retcode>,
        reason: String,
    },
    /// The outcome was unknown and reconciliation found no trace of it at the broker.
    NotFound { reason: String },
}

impl IntentState {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            IntentState::Filled { .. }
                | IntentState::Placed { .. }
                | IntentState::Rejected { .. }
                | IntentState::NotFound { .. }
        )
    }
}

/// One order intent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub request: OrderRequest,
    pub state: IntentState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Intent {
    pub fn new(request: OrderRequest, now: DateTime<Utc>) -> Self {
        Self {
            request,
            state: IntentState::Recorded,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn id(&self) -> &ClientOrderId {
        &self.request.client_order_id
    }
}

/// What inserting an intent found.
#[derive(Clone, Debug, PartialEq)]
pub enum Inserted {
    New,
    /// An intent with this client order id exists already: the caller must not send again.
    Duplicate(Box<Intent>),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The database behind the store failed; the cause is kept as the error's source.
    #[error("intent store unavailable: {0}")]
    Unavailable(#[source] StoreCause),
    #[error("no intent with client order id {0}")]
    Missing(ClientOrderId),
}

impl StoreError {
    /// The store is unavailable because of `cause` (a database error, a failed task).
    pub fn unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(StoreCause(std::sync::Arc::new(cause)))
    }
}

/// The error behind [`StoreError::Unavailable`], shared so that the store's errors stay `Clone`
/// (an executor reports one failure to several callers). Two causes are equal when they read
/// the same.
#[derive(Debug, Clone)]
pub struct StoreCause(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for StoreCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StoreCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for StoreCause {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0) || self.to_string() == other.to_string()
    }
}

/// The durable log of order intents. The database implements it; [`MemoryIntentStore`] serves
/// tests and embedded use. Client order ids are unique: that is the duplicate-order guard.
#[async_trait]
pub trait IntentStore: Send + Sync {
    async fn insert(&self, intent: &Intent) -> Result<Inserted, StoreError>;
    async fn update(
        &self,
        id: &ClientOrderId,
        state: &IntentState,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn get(&self, id: &ClientOrderId) -> Result<Option<Intent>, StoreError>;
    /// Intents not in a terminal state, oldest first: to reconcile at start-up.
    async fn unresolved(&self) -> Result<Vec<Intent>, StoreError>;
}

/// An in-memory [`IntentStore`].
#[derive(Debug, Default)]
pub struct MemoryIntentStore {
    intents: Mutex<BTreeMap<ClientOrderId, Intent>>,
}

impl MemoryIntentStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every intent, by client order id.
    pub fn all(&self) -> Vec<Intent> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ClientOrderId, Intent>> {
        self.intents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl IntentStore for MemoryIntentStore {
    async fn insert(&self, intent: &Intent) -> Result<Inserted, StoreError> {
        let mut m = self.lock();
        if let Some(existing) = m.get(intent.id()) {
            return Ok(Inserted::Duplicate(Box::new(existing.clone())));
        }
        m.insert(intent.id().clone(), intent.clone());
        Ok(Inserted::New)
    }

    async fn update(
        &self,
        id: &ClientOrderId,
        state: &IntentState,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut m = self.lock();
        let intent = m
            .get_mut(id)
            .ok_or_else(|| StoreError::Missing(id.clone()))?;
        intent.state = state.clone();
        intent.updated_at = at;
        Ok(())
    }

    async fn get(&self, id: &ClientOrderId) -> Result<Option<Intent>, StoreError> {
        Ok(self.lock().get(id).cloned())
    }

    async fn unresolved(&self) -> Result<Vec<Intent>, StoreError> {
        let mut v: Vec<Intent> = self
            .lock()
            .values()
            .filter(|i| !i.state.is_terminal())
            .cloned()
            .collect();
        v.sort_by_key(|i| i.created_at);
        Ok(v)
    }
}

#[cfg(test)]
mod error_tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn an_unavailable_store_keeps_the_database_error_as_its_source() {
        let cause =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let e = StoreError::unavailable(cause);
        assert_eq!(
            e.to_string(),
            "intent store unavailable: connection refused"
        );
        let source = e.source().expect("the cause is kept");
        assert_eq!(source.to_string(), "connection refused");
        assert_eq!(e.clone(), e);
    }
}
