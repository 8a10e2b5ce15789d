//! The order executor: every order gets an intent written before it is sent; retries only when
//! the broker says the order did not execute; an unknown outcome is reconciled, never resent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mtq_connector::{Broker, RetcodeClass};
use mtq_core::{
    Clock, Decimal, OrderKind, OrderOutcome, Retcode, Side, SplitMix64, Symbol, SymbolSpec, Ticket,
};
use tracing::{debug, info, warn};

use crate::reconcile::find_at_broker;
use crate::{Inserted, Intent, IntentState, IntentStore, RetryPolicy, StoreError};

/// Why the executor could not take an order on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    /// The intent could not be written, so the order was not sent.
    #[error("order not sent: {0}")]
    Store(#[from] StoreError),
}

/// What became of a submitted order.
#[derive(Clone, Debug, PartialEq)]
pub enum Submission {
    /// The intent was processed; its final state says how it ended.
    Processed(Intent),
    /// An intent with the same client order id existed already; nothing was sent.
    Duplicate(Intent),
}

impl Submission {
    pub fn intent(&self) -> &Intent {
        match self {
            Submission::Processed(i) | Submission::Duplicate(i) => i,
        }
    }
}

/// The result of a position action (modify or close).
#[derive(Clone, Debug, PartialEq)]
pub enum ActionResult {
    Done(Option<OrderOutcome>),
    Refused {
        retcode: Option<Retcode>,
        reason: String,
    },
    /// It may or may not have happened; the next position update will tell.
    Unknown {
        reason: String,
    },
}

/// Sends orders safely over any [`Broker`].
pub struct OrderExecutor {
    broker: Arc<dyn Broker>,
    store: Arc<dyn IntentStore>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    rng: Mutex<SplitMix64>,
    /// The symbols' specifications, to record the filling policy the connector will send.
    specs: BTreeMap<Symbol, SymbolSpec>,
}

impl std::fmt::Debug for OrderExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderExecutor")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl OrderExecutor {
    pub fn new(
        broker: Arc<dyn Broker>,
        store: Arc<dyn IntentStore>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            broker,
            store,
            clock,
            policy,
            rng: Mutex::new(SplitMix64::new(0x006d_7471)),
            specs: BTreeMap::new(),
        }
    }

    /// With the symbols' specifications, an order's filling policy is resolved as the connector
    /// resolves it (an IOC-only symbol gets IOC though FOK was asked) before the intent is
    /// written, so the record says what went on the wire.
    pub fn with_specs(self, specs: impl IntoIterator<Item = SymbolSpec>) -> Self {
        Self {
            specs: specs.into_iter().map(|s| (s.symbol.clone(), s)).collect(),
            ..self
        }
    }

    /// Seeds the backoff jitter (tests and reproducible runs).
    pub fn with_seed(self, seed: u64) -> Self {
        Self {
            rng: Mutex::new(SplitMix64::new(seed)),
            ..self
        }
    }

    fn backoff(&self, attempt: u32) -> std::time::Duration {
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.policy.backoff(attempt, &mut rng)
    }

    async fn set(&self, intent: &mut Intent, state: IntentState) -> Result<(), ExecError> {
        let now = self.clock.now();
        self.store.update(intent.id(), &state, now).await?;
        intent.state = state;
        intent.updated_at = now;
        Ok(())
    }

    /// Records what became of an order the broker has seen. The order is out: a record that
    /// cannot be written (the database is away) must not lose the submission, so the failure is
    /// logged and the intent row stays unresolved, for reconciliation (at the end of the session
    /// or the next start) to complete from the broker's records.
    async fn settle(&self, intent: &mut Intent, state: IntentState) {
        let now = self.clock.now();
        if let Err(e) = self.store.update(intent.id(), &state, now).await {
            tracing::error!(
                client_order_id = %intent.id(),
                error = %e,
                "the order's outcome could not be recorded; reconciliation records it from the broker"
            );
        }
        intent.state = state;
        intent.updated_at = now;
    }

    /// Whether the intent store answers: after it failed, the live driver asks between cycles
    /// to know when entries may resume.
    pub async fn store_reachable(&self) -> Result<(), StoreError> {
        self.store.unresolved().await.map(drop)
    }

    /// Records the intent, then sends it: retried with a fresh price after a requote, after a
    /// pause when the request did not reach the server, and reconciled when its outcome is
    /// unknown. A client order id seen before is never sent again.
    pub async fn submit(
        &self,
        mut request: mtq_core::OrderRequest,
    ) -> Result<Submission, ExecError> {
        if let Some(filling) = self
            .specs
            .get(&request.symbol)
            .and_then(|s| s.filling_for(request.kind, request.filling))
        {
            request.filling = filling;
        }
        let mut intent = Intent::new(request, self.clock.now());
        if let Inserted::Duplicate(existing) = self.store.insert(&intent).await? {
            warn!(client_order_id = %intent.id(), "duplicate intent: not sent again");
            return Ok(Submission::Duplicate(*existing));
        }
        let mut last_error = String::new();
        for attempt in 1..=self.policy.max_attempts {
            self.set(&mut intent, IntentState::Sent { attempt }).await?;
            debug!(client_order_id = %intent.id(), attempt, "sending order");
            match self.broker.send_order(&intent.request).await {
                Ok(out) => {
                    let state = match (out.retcode, out.order) {
                        (Retcode::Placed, Some(order)) => IntentState::Placed { order },
                        _ => IntentState::Filled {
                            position: out.position,
                            deal: out.deal,
                            price: out.price,
                            volume: out.volume,
                            order: out.order,
                            bid: out.bid,
                            ask: out.ask,
                        },
                    };
                    info!(client_order_id = %intent.id(), retcode = %out.retcode, price = %out.price, "order executed");
                    self.settle(&mut intent, state).await;
                    return Ok(Submission::Processed(intent));
                }
                Err(e) => match e.class() {
                    RetcodeClass::RetryWithFreshPrice => {
                        warn!(client_order_id = %intent.id(), error = %e, "price moved; retrying with a fresh price");
                        self.refresh_price(&mut intent).await;
                        last_error = e.to_string();
                    }
                    RetcodeClass::RetryLater => {
                        warn!(client_order_id = %intent.id(), error = %e, "not executed; retrying after a pause");
                        last_error = e.to_string();
                    }
                    RetcodeClass::OutcomeUnknown => {
                        warn!(client_order_id = %intent.id(), error = %e, "outcome unknown; reconciling instead of resending");
                        let state = self.reconcile_state(&intent, &e.to_string()).await;
                        self.settle(&mut intent, state).await;
                        return Ok(Submission::Processed(intent));
                    }
                    RetcodeClass::Rejected
                    | RetcodeClass::Done
                    | RetcodeClass::DonePartial
                    | RetcodeClass::Placed => {
                        warn!(client_order_id = %intent.id(), error = %e, "order refused");
                        let state = IntentState::Rejected {
                            retcode: e.retcode(),
                            reason: e.to_string(),
                        };
                        self.settle(&mut intent, state).await;
                        return Ok(Submission::Processed(intent));
                    }
                },
            }
            if attempt < self.policy.max_attempts {
                tokio::time::sleep(self.backoff(attempt - 1)).await;
            }
        }
        let reason = format!(
            "gave up after {} attempts; last error: {last_error}",
            self.policy.max_attempts
        );
        let state = IntentState::Rejected {
            retcode: None,
            reason,
        };
        self.settle(&mut intent, state).await;
        Ok(Submission::Processed(intent))
    }

    /// A market order's reference price becomes the current quote (instant execution compares
    /// against it); pending orders keep theirs.
    async fn refresh_price(&self, intent: &mut Intent) {
        let req = &mut intent.request;
        if req.kind != OrderKind::Market {
            return;
        }
        if let Ok(tick) = self.broker.last_tick(&req.symbol).await {
            let price = if req.side == Side::Buy {
                tick.ask
            } else {
                tick.bid
            };
            req.price = Decimal::try_from(price)
                .ok()
                .filter(|_| req.price.is_some());
        }
    }

    /// Looks for the intent at the broker until found, or until every read says it is not there.
    async fn reconcile_state(&self, intent: &Intent, why: &str) -> IntentState {
        let mut read_failures = 0;
        for attempt in 0..self.policy.reconcile_attempts {
            if attempt > 0 {
                tokio::time::sleep(self.policy.reconcile_delay).await;
            }
            match find_at_broker(
                self.broker.as_ref(),
                intent,
                self.clock.now(),
                self.policy.history_window,
            )
            .await
            {
                Ok(Some(state)) => {
                    info!(client_order_id = %intent.id(), ?state, "reconciled: found at the broker");
                    return state;
                }
                Ok(None) => {}
                Err(e) => {
                    read_failures += 1;
                    warn!(client_order_id = %intent.id(), error = %e, "reconciliation read failed");
                }
            }
        }
        if read_failures == self.policy.reconcile_attempts {
            IntentState::Unknown {
                reason: format!("{why}; the broker could not be read to reconcile"),
            }
        } else {
            IntentState::NotFound {
                reason: format!("{why}; no position, order or deal carries this id"),
            }
        }
    }

    /// Reconciles every intent left unresolved (by a crash, or by reads that failed), oldest first.
    pub async fn reconcile_unresolved(&self) -> Result<Vec<Intent>, ExecError> {
        let mut out = Vec::new();
        for mut intent in self.store.unresolved().await? {
            let state = self
                .reconcile_state(&intent, "unresolved at start-up")
                .await;
            self.set(&mut intent, state).await?;
            out.push(intent);
        }
        Ok(out)
    }

    /// Sets a position's SL/TP. Modifications are idempotent, so any failure that may not have
    /// applied is retried; "no changes" after a retry means the earlier attempt applied.
    pub async fn modify_position(
        &self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> ActionResult {
        let mut last = String::new();
        for attempt in 0..self.policy.max_attempts {
            match self.broker.modify_position(ticket, sl, tp).await {
                Ok(out) => return ActionResult::Done(Some(out)),
                Err(e) if e.retcode() == Some(Retcode::NoChanges) && attempt > 0 => {
                    return ActionResult::Done(None);
                }
                Err(e) => match e.class() {
                    RetcodeClass::Rejected => {
                        return ActionResult::Refused {
                            retcode: e.retcode(),
                            reason: e.to_string(),
                        };
                    }
                    _ => last = e.to_string(),
                },
            }
            tokio::time::sleep(self.backoff(attempt)).await;
        }
        ActionResult::Unknown {
            reason: format!("modify {ticket} gave up: {last}"),
        }
    }

    /// Closes a position in full or in part. After an unknown outcome the position is read
    /// back: gone (or reduced by the volume) means done. A full close whose position is still
    /// there is sent again (closing a closed position is refused harmlessly); a partial close is
    /// never repeated blind.
    pub async fn close_position(&self, ticket: Ticket, volume: Option<Decimal>) -> ActionResult {
        let before = self.position_volume(ticket).await;
        let mut last = String::new();
        for attempt in 0..self.policy.max_attempts {
            match self.broker.close_position(ticket, volume).await {
                Ok(out) => return ActionResult::Done(Some(out)),
                Err(e) if e.retcode() == Some(Retcode::PositionClosed) && attempt > 0 => {
                    return ActionResult::Done(None);
                }
                Err(e) => match e.class() {
                    RetcodeClass::Rejected => {
                        return ActionResult::Refused {
                            retcode: e.retcode(),
                            reason: e.to_string(),
                        };
                    }
                    RetcodeClass::OutcomeUnknown => {
                        let after = self.position_volume(ticket).await;
                        match (before, after, volume) {
                            (_, None, _) => return ActionResult::Done(None),
                            (Some(b), Some(a), Some(v)) if b - a >= v => {
                                return ActionResult::Done(None);
                            }
                            (_, Some(_), Some(_)) => {
                                return ActionResult::Unknown {
                                    reason: format!(
                                        "partial close of {ticket}: {e}; volume unchanged, not resent"
                                    ),
                                };
                            }
                            (_, Some(_), None) => last = e.to_string(),
                        }
                    }
                    _ => last = e.to_string(),
                },
            }
            tokio::time::sleep(self.backoff(attempt)).await;
        }
        ActionResult::Unknown {
            reason: format!("close {ticket} gave up: {last}"),
        }
    }

    async fn position_volume(&self, ticket: Ticket) -> Option<Decimal> {
        let ps = self.broker.positions().await.ok()?;
        ps.into_iter()
            .find(|p| p.ticket == ticket)
            .map(|p| p.volume)
    }
}
