//! The trader's durable state in MTQ's database.
//!
//! [`DbIntentStore`] owns the `orders` rows: the executor writes each intent (and each answer)
//! through it synchronously, before the order goes out and as soon as it comes back, so an order
//! is never sent without a record that survives a crash. The batching writer then only adds the
//! strategy name and journals the order events
//! ([`mtq_persistence::StoreSink::with_external_intents`]).

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mtq_core::{
    Approval, ApprovalState, ClientOrderId, Decimal, DomainEvent, EventKind, OrderOutcome, Retcode,
    Ticket,
};
use mtq_orchestrator::{
    ControlCommand, EventOutlet, Inserted, Intent, IntentState, IntentStore, RiskMemory,
    StoreError, TradeLedger,
};
use mtq_persistence::{
    AccountId, AccountRepo, ApprovalRepo, AuditRepo, EventSender, MAX_APPROVALS_LISTED,
    OrderRecord, OrderRepo, OrderState, PersistenceError, SnapshotRepo, Store, TradeRepo,
};

/// How many of the latest orders start-up reads to count failures in a row: more than any
/// kill-switch limit would be set to.
const FAILURE_MEMORY: usize = 1_000;

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A database task that panicked or was cancelled: the intent store is unavailable for it.
#[derive(Debug, thiserror::Error)]
#[error("database task failed: {0}")]
struct TaskFailed(#[source] tokio::task::JoinError);

/// Runs a database call off the async threads, on a connection that reconnects after a
/// database restart ([`Store::reconnecting`]): while the database is away the call fails fast
/// with [`StoreError::Unavailable`], and the first call after it is back succeeds.
async fn blocking<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnMut(&mut Store) -> Result<T, PersistenceError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || lock(&store).reconnecting(f))
        .await
        .map_err(|e| StoreError::unavailable(TaskFailed(e)))?
        .map_err(StoreError::unavailable)
}

/// Order intents in the `orders` table of one account.
#[derive(Debug, Clone)]
pub struct DbIntentStore {
    store: Arc<Mutex<Store>>,
    account: Option<AccountId>,
}

impl DbIntentStore {
    /// Intents of `account`, on a connection of their own.
    pub fn new(store: Store, account: Option<AccountId>) -> Self {
        Self {
            store: Arc::new(Mutex::new(store)),
            account,
        }
    }

    /// The connection, shared with a [`DbLedger`].
    pub fn shared_store(&self) -> Arc<Mutex<Store>> {
        self.store.clone()
    }
}

/// The intent a stored order describes.
fn intent_of(r: OrderRecord) -> Intent {
    let reason = r.message.clone().unwrap_or_default();
    let state = match r.state {
        OrderState::Intent => IntentState::Recorded,
        OrderState::Unknown => IntentState::Unknown { reason },
        OrderState::Done | OrderState::DonePartial => IntentState::Filled {
            position: r.position,
            deal: r.deal,
            price: r.fill_price.unwrap_or_default(),
            volume: r.filled_volume.unwrap_or_default(),
            order: r.order,
            bid: Decimal::ZERO,
            ask: Decimal::ZERO,
        },
        OrderState::Placed => match r.order {
            Some(order) => IntentState::Placed { order },
            None => IntentState::Unknown {
                reason: "placed, but the order ticket was not recorded".into(),
            },
        },
        OrderState::Failed => IntentState::Rejected {
            retcode: r.retcode,
            reason,
        },
    };
    Intent {
        request: r.request,
        state,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn outcome(
    retcode: Retcode,
    position: Option<Ticket>,
    deal: Option<Ticket>,
    order: Option<Ticket>,
    price: Decimal,
    volume: Decimal,
    at: DateTime<Utc>,
) -> OrderOutcome {
    OrderOutcome {
        retcode,
        deal,
        order,
        position,
        volume,
        price,
        bid: Decimal::ZERO,
        ask: Decimal::ZERO,
        comment: String::new(),
        time: at,
    }
}

#[async_trait]
impl IntentStore for DbIntentStore {
    async fn insert(&self, intent: &Intent) -> Result<Inserted, StoreError> {
        let intent = intent.clone();
        let account = self.account;
        blocking(&self.store, move |s| {
            if let Some(existing) = s.order(account, intent.id())? {
                return Ok(Inserted::Duplicate(Box::new(intent_of(existing))));
            }
            s.record_intent(account, &intent.request, None, intent.created_at)?;
            Ok(Inserted::New)
        })
        .await
    }

    async fn update(
        &self,
        id: &ClientOrderId,
        state: &IntentState,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let state = state.clone();
        let row_id = id.clone();
        let account = self.account;
        let found = blocking(&self.store, move |s| {
            let id = &row_id;
            match &state {
                // Still the intent: the row says so already.
                IntentState::Recorded | IntentState::Sent { .. } => Ok(true),
                IntentState::Filled {
                    position,
                    deal,
                    price,
                    volume,
                    order,
                    ..
                } => s.record_outcome(
                    account,
                    id,
                    &outcome(Retcode::Done, *position, *deal, *order, *price, *volume, at),
                    at,
                ),
                IntentState::Placed { order } => s.record_outcome(
                    account,
                    id,
                    &outcome(
                        Retcode::Placed,
                        None,
                        None,
                        Some(*order),
                        Decimal::ZERO,
                        Decimal::ZERO,
                        at,
                    ),
                    at,
                ),
                IntentState::Unknown { reason } => {
                    s.record_state(account, id, OrderState::Unknown, None, reason, at)
                }
                IntentState::Rejected { retcode, reason } => {
                    s.record_state(account, id, OrderState::Failed, *retcode, reason, at)
                }
                IntentState::NotFound { reason } => s.record_state(
                    account,
                    id,
                    OrderState::Failed,
                    None,
                    &format!("not found at the broker: {reason}"),
                    at,
                ),
            }
        })
        .await?;
        if found {
            Ok(())
        } else {
            Err(StoreError::Missing(id.clone()))
        }
    }

    async fn get(&self, id: &ClientOrderId) -> Result<Option<Intent>, StoreError> {
        let id = id.clone();
        let account = self.account;
        blocking(&self.store, move |s| {
            Ok(s.order(account, &id)?.map(intent_of))
        })
        .await
    }

    async fn unresolved(&self) -> Result<Vec<Intent>, StoreError> {
        let account = self.account;
        blocking(&self.store, move |s| {
            let mut out: Vec<Intent> = Vec::new();
            for state in [OrderState::Intent, OrderState::Unknown] {
                let rows = s.orders_in_state(account, state)?;
                out.extend(rows.into_iter().map(intent_of));
            }
            out.sort_by_key(|i| i.created_at);
            Ok(out)
        })
        .await
    }
}

/// The open trades of one account, as recorded.
#[derive(Debug, Clone)]
pub struct DbLedger {
    store: Arc<Mutex<Store>>,
    account: Option<AccountId>,
}

impl DbLedger {
    pub fn new(store: Arc<Mutex<Store>>, account: Option<AccountId>) -> Self {
        Self { store, account }
    }
}

#[async_trait]
impl TradeLedger for DbLedger {
    async fn open_positions(&self) -> Result<Vec<(Ticket, DateTime<Utc>)>, StoreError> {
        let account = self.account;
        blocking(&self.store, move |s| {
            let open = s.open_trades(account)?;
            Ok(open.into_iter().map(|t| (t.ticket, t.entry_time)).collect())
        })
        .await
    }

    async fn last_recorded_deal(&self) -> Result<Option<(DateTime<Utc>, Ticket)>, StoreError> {
        let account = self.account;
        blocking(&self.store, move |s| s.last_recorded_deal(account)).await
    }

    async fn expire_left_approvals(
        &self,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<Vec<Approval>, StoreError> {
        let (account, note) = (self.account, note.to_string());
        blocking(&self.store, move |s| expire_left(s, account, at, &note)).await
    }

    async fn risk_memory(
        &self,
        day_start: DateTime<Utc>,
        peak_since: DateTime<Utc>,
    ) -> Result<RiskMemory, StoreError> {
        let account = self.account;
        blocking(&self.store, move |s| {
            let now = Utc::now().max(day_start);
            // The equity the day began with: the last snapshot before it, else its first one.
            let before = s.snapshot_before(account, day_start)?;
            let today = s.snapshots(account, day_start, now + chrono::Duration::days(1))?;
            let day_start_equity = before
                .map(|r| r.equity)
                .or_else(|| today.first().map(|r| r.equity));
            let earlier = s.snapshots(account, peak_since, day_start)?;
            let equity_peak = earlier.iter().chain(&today).map(|r| r.equity).max();
            // Refused orders and orders whose outcome stayed unknown count as failures, as the
            // core counts them; the run ends at the newest order that went through.
            let states = s.latest_order_states(account, FAILURE_MEMORY)?;
            let failures = states
                .iter()
                .take_while(|st| matches!(st, OrderState::Failed | OrderState::Unknown))
                .count();
            Ok(RiskMemory {
                day_start_equity,
                equity_peak,
                order_failures_in_a_row: u32::try_from(failures).unwrap_or(u32::MAX),
                manual_kill: manual_kill(s, account, now)?,
            })
        })
        .await
    }
}

/// Records the approvals `account` has pending as expired at `at` with `note`; returns them.
/// Never more than two a symbol are pending at once (one a side), and each start expires them
/// all: the listing's cap is far above what can be left.
fn expire_left(
    s: &mut Store,
    account: Option<AccountId>,
    at: DateTime<Utc>,
    note: &str,
) -> Result<Vec<Approval>, PersistenceError> {
    let mut left = s.approvals(account, Some(ApprovalState::Pending), MAX_APPROVALS_LISTED)?;
    for a in &mut left {
        a.state = ApprovalState::Expired;
        a.decided = Some(at);
        a.decided_by = None;
        a.note = Some(note.to_string());
        s.save_approval(account, a)?;
    }
    Ok(left)
}

/// The reason of the newest accepted manual kill-switch trip of `account`'s journal, unless an
/// accepted reset came after it: an operator's stop survives a restart.
fn manual_kill(
    s: &mut Store,
    account: Option<AccountId>,
    now: DateTime<Utc>,
) -> Result<Option<String>, PersistenceError> {
    let rows = operator_commands(s, now)?;
    Ok(newest_manual_kill(
        rows.iter().filter(|r| r.account == account),
    ))
}

fn operator_commands(
    s: &mut Store,
    now: DateTime<Utc>,
) -> Result<Vec<mtq_persistence::AuditEventRecord>, PersistenceError> {
    s.audit_events(
        Some(OPERATOR_COMMAND),
        DateTime::<Utc>::UNIX_EPOCH,
        now + chrono::Duration::days(1),
    )
}

/// The reason of the last accepted manual trip among `rows`, unless an accepted reset follows.
fn newest_manual_kill<'a>(
    rows: impl Iterator<Item = &'a mtq_persistence::AuditEventRecord>,
) -> Option<String> {
    let mut tripped = None;
    for row in rows {
        let Ok(DomainEvent {
            kind:
                EventKind::OperatorCommand {
                    detail,
                    accepted: true,
                    ..
                },
            ..
        }) = serde_json::from_str::<DomainEvent>(&row.payload)
        else {
            continue;
        };
        match serde_json::from_str::<ControlCommand>(&detail) {
            Ok(ControlCommand::TripKillSwitch { reason }) => tripped = Some(reason),
            Ok(ControlCommand::ResetKillSwitch { .. }) => tripped = None,
            _ => {}
        }
    }
    tripped
}

/// What a paper session (`mtq-trader serve` on the simulated broker) remembers across a
/// restart: only an operator's manual kill-switch trip. Each paper session starts a fresh
/// simulated broker under an account of its own (its tickets start over), so nothing else of
/// an earlier session is open or relevant; but an operator's stop must hold until an operator
/// resets it, whichever session recorded it; and the entries an earlier session left waiting
/// for approval are recorded as expired (its broker is gone). The journal of every account on
/// `server` counts, in the order it was written (a paper session's clock restarts at the feed's
/// start, so event times do not order sessions).
#[derive(Debug, Clone)]
pub struct PaperKillMemory {
    store: Arc<Mutex<Store>>,
    server: String,
}

impl PaperKillMemory {
    /// `server`: the paper sessions' account server (`MTQ-Sim`).
    pub fn new(store: Store, server: impl Into<String>) -> Self {
        Self {
            store: Arc::new(Mutex::new(store)),
            server: server.into(),
        }
    }
}

#[async_trait]
impl TradeLedger for PaperKillMemory {
    async fn open_positions(&self) -> Result<Vec<(Ticket, DateTime<Utc>)>, StoreError> {
        Ok(Vec::new())
    }

    async fn expire_left_approvals(
        &self,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<Vec<Approval>, StoreError> {
        let (server, note) = (self.server.clone(), note.to_string());
        blocking(&self.store, move |s| {
            let paper: Vec<AccountId> = s
                .accounts()?
                .into_iter()
                .filter(|a| a.server == server)
                .map(|a| a.id)
                .collect();
            let mut left = Vec::new();
            for account in paper {
                left.extend(expire_left(s, Some(account), at, &note)?);
            }
            Ok(left)
        })
        .await
    }

    async fn risk_memory(
        &self,
        day_start: DateTime<Utc>,
        _peak_since: DateTime<Utc>,
    ) -> Result<RiskMemory, StoreError> {
        let server = self.server.clone();
        blocking(&self.store, move |s| {
            let paper: Vec<AccountId> = s
                .accounts()?
                .into_iter()
                .filter(|a| a.server == server)
                .map(|a| a.id)
                .collect();
            let mut rows = operator_commands(s, Utc::now().max(day_start))?;
            rows.retain(|r| r.account.is_some_and(|a| paper.contains(&a)));
            rows.sort_by_key(|r| r.id);
            Ok(RiskMemory {
                manual_kill: newest_manual_kill(rows.iter()),
                ..RiskMemory::default()
            })
        })
        .await
    }
}

/// The journal's kind of an operator command (see `mtq_persistence`'s event mapping).
const OPERATOR_COMMAND: &str = "operator_command";

/// The trader's events into the batching writer: it waits when the writer is behind and never
/// drops an event.
#[derive(Debug)]
pub struct DbOutlet {
    sender: EventSender,
}

impl DbOutlet {
    pub fn new(sender: EventSender) -> Self {
        Self { sender }
    }
}

#[async_trait]
impl EventOutlet for DbOutlet {
    async fn publish(&self, event: DomainEvent) {
        if let Err(stopped) = self.sender.send(event).await {
            tracing::error!(event = ?stopped.0.kind, "the database writer stopped; event not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::{OrderRequest, Side, Symbol};
    use mtq_persistence::AccountRepo;

    use super::*;

    /// The run of failures start-up restores is the newest orders' refusals and unknown
    /// outcomes, back to the last order that went through; other accounts' orders do not count.
    #[tokio::test]
    async fn the_order_failures_in_a_row_are_counted_from_the_newest_order() {
        let dir = std::env::temp_dir().join(format!("mtq-db-failures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("mtq.db").display());
        let mut store = Store::open(&url).unwrap();
        let t0: DateTime<Utc> = "2024-03-04T10:00:00Z".parse().unwrap();
        let eurusd = Symbol::new("EURUSD").unwrap();
        let states = [
            OrderState::Failed,
            OrderState::Done,
            OrderState::Failed,
            OrderState::Unknown,
            OrderState::Failed,
        ];
        for (i, state) in states.into_iter().enumerate() {
            let id = ClientOrderId::new(&format!("mtq-{i:04}")).unwrap();
            let req = OrderRequest::market(id.clone(), eurusd.clone(), Side::Buy, Decimal::ONE);
            let at = t0 + chrono::Duration::minutes(i64::try_from(i).unwrap());
            store.record_intent(None, &req, None, at).unwrap();
            store
                .record_state(None, &id, state, None, "test", at)
                .unwrap();
        }
        // Newer failures of another account.
        let other = store
            .ensure_account(
                &mtq_persistence::NewAccount {
                    broker: "sim".into(),
                    server: "MTQ-Sim".into(),
                    login: 2,
                    currency: mtq_core::Currency::USD,
                    margin_mode: mtq_core::MarginMode::Hedging,
                    leverage: 100,
                    label: "other".into(),
                },
                t0,
            )
            .unwrap()
            .id;
        for i in 0..4 {
            let id = ClientOrderId::new(&format!("other-{i:04}")).unwrap();
            let req = OrderRequest::market(id.clone(), eurusd.clone(), Side::Buy, Decimal::ONE);
            let at = t0 + chrono::Duration::hours(1 + i);
            store.record_intent(Some(other), &req, None, at).unwrap();
            store
                .record_state(Some(other), &id, OrderState::Failed, None, "test", at)
                .unwrap();
        }
        let store = Arc::new(Mutex::new(store));
        let memory = DbLedger::new(store.clone(), None)
            .risk_memory(t0, t0)
            .await
            .unwrap();
        assert_eq!(memory.order_failures_in_a_row, 3);
        let memory = DbLedger::new(store, Some(other))
            .risk_memory(t0, t0)
            .await
            .unwrap();
        assert_eq!(memory.order_failures_in_a_row, 4);
        std::fs::remove_dir_all(&dir).ok();
    }
}
