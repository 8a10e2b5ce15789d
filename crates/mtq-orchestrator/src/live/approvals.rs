//! `trader.mode: semi`: each strategy entry that passed the filters and the risk checks waits
//! for an operator instead of being sent. An approval ([`Approval`]) is published when it is
//! made and on each change (the event writer keeps its row in `approvals`); an operator
//! approves or rejects it through the control channel (the API, Telegram); one nobody decides
//! expires after `trader.approval_ttl_seconds`. An approved entry meets the risk checks again
//! at approval time and is sent through [`LiveTrader::submit`] with the client order id its
//! signal gave it, so approving twice never sends twice.
//!
//! Approvals live in the driver. One a previous run left pending is expired at start-up
//! (`TradeLedger::expire_left_approvals`), even when its time to live has not run out: it was
//! sized and checked against that run's prices and account, and an operator approving it after
//! a restart would send an entry at a stale price. Nothing of it is sent; the strategy's next
//! signal asks again at today's prices.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use mtq_core::rules;
use mtq_core::{
    Approval, ApprovalState, DomainEvent, EntryRefusal, EventKind, OrderRequest, Side, Signal,
};
use mtq_risk::EntryIntent;
use tracing::info;

use super::LiveTrader;
use super::commands::broker;
use crate::IntentState;
use crate::control::{Actor, ControlOutcome, ControlRefusal};

/// Decided approvals kept for answering a repeated decision and for the listing; older ones
/// are only in the database.
const DECIDED_KEPT: usize = 200;

/// Why an approval a previous run left pending is expired at start-up.
pub(super) const RESTART_NOTE: &str = "the trader restarted before anyone decided it; expired at \
     start-up (its price and checks are stale), nothing was sent";

/// The approvals of this run, by id.
#[derive(Debug, Default)]
pub(super) struct Approvals {
    items: BTreeMap<u64, Approval>,
    last_id: u64,
}

impl Approvals {
    /// A new id: the time in milliseconds, or one more than the last, so ids grow across
    /// restarts and never repeat within a run.
    fn next_id(&mut self, now: DateTime<Utc>) -> u64 {
        let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        self.last_id = ms.max(self.last_id + 1);
        self.last_id
    }

    fn prune(&mut self) {
        let decided: Vec<u64> = self
            .items
            .values()
            .filter(|a| a.state != ApprovalState::Pending)
            .map(|a| a.id)
            .collect();
        for id in decided
            .iter()
            .take(decided.len().saturating_sub(DECIDED_KEPT))
        {
            self.items.remove(id);
        }
    }

    /// Every approval of this run still kept, newest first.
    pub(super) fn list(&self) -> Vec<Approval> {
        self.items.values().rev().cloned().collect()
    }
}

impl LiveTrader {
    /// Holds `request` (the entry of `signal`) for an operator; returns the refusal recorded
    /// with the signal and the new approval to publish after it. While an entry of the same
    /// symbol and side already waits, the signal is recorded against that one and nothing new
    /// is held: a strategy that signals on every bar asks once, not once a bar.
    pub(super) fn hold_for_approval(
        &mut self,
        signal: &Signal,
        request: &OrderRequest,
        now: DateTime<Utc>,
    ) -> (EntryRefusal, Option<Approval>) {
        if let Some(waiting) = self.approvals.items.values().find(|a| {
            a.state == ApprovalState::Pending
                && !a.lapsed(now)
                && a.request.symbol == request.symbol
                && a.request.side == request.side
        }) {
            return (
                EntryRefusal::AwaitingApproval {
                    approval: waiting.id,
                },
                None,
            );
        }
        let ttl = self.core.config().trader.approval_ttl_seconds;
        let id = self.approvals.next_id(now);
        let approval = Approval {
            id,
            signal: signal.clone(),
            request: request.clone(),
            created: now,
            expires: now + Duration::seconds(i64::try_from(ttl).unwrap_or(i64::MAX / 1000)),
            state: ApprovalState::Pending,
            decided: None,
            decided_by: None,
            note: None,
        };
        info!(symbol = %request.symbol, approval = id, client_order_id = %request.client_order_id,
            "entry awaits an operator's approval (semi mode)");
        self.approvals.items.insert(id, approval.clone());
        self.approvals.prune();
        (
            EntryRefusal::AwaitingApproval { approval: id },
            Some(approval),
        )
    }

    pub(super) async fn publish_approval(&mut self, approval: Approval) {
        let kind = EventKind::Approval {
            approval: Box::new(approval),
        };
        self.publish(DomainEvent::new(self.clock.now(), kind)).await;
    }

    /// Records every pending approval past its expiry as expired; nothing of theirs is sent.
    pub(super) async fn expire_approvals(&mut self) {
        let now = self.clock.now();
        let lapsed: Vec<u64> = self
            .approvals
            .items
            .values()
            .filter(|a| a.lapsed(now))
            .map(|a| a.id)
            .collect();
        for id in lapsed {
            let Some(a) = self.approvals.items.get_mut(&id) else {
                continue;
            };
            a.state = ApprovalState::Expired;
            a.decided = Some(now);
            a.note = Some("nobody approved it in time; nothing was sent".into());
            let a = a.clone();
            info!(approval = id, symbol = %a.request.symbol, "approval expired");
            self.publish_approval(a).await;
        }
    }

    /// Keeps the approvals an earlier run left pending, which the records now hold as expired
    /// ([`TradeLedger::expire_left_approvals`](super::TradeLedger::expire_left_approvals)),
    /// so that this run lists them and answers a decision on one as already expired, and
    /// publishes each as an expiry is published (the journal, the API's live stream, alerts).
    /// Returns their ids.
    pub(super) async fn remember_left(&mut self, left: Vec<Approval>) -> Vec<u64> {
        let mut ids = Vec::with_capacity(left.len());
        for a in left {
            info!(approval = a.id, symbol = %a.request.symbol, client_order_id = %a.request.client_order_id,
                "an entry the previous run left waiting for approval expired at start-up; nothing was sent");
            // This run's ids stay above the ones the records hold.
            self.approvals.last_id = self.approvals.last_id.max(a.id);
            ids.push(a.id);
            self.approvals.items.insert(a.id, a.clone());
            self.publish_approval(a).await;
        }
        self.approvals.prune();
        ids
    }

    /// The approvals of this run, newest first, as the outcome's detail.
    pub(super) async fn list_approvals(&mut self) -> ControlOutcome {
        self.expire_approvals().await;
        let list = self.approvals.list();
        let pending = list
            .iter()
            .filter(|a| a.state == ApprovalState::Pending)
            .count();
        ControlOutcome {
            message: format!("{pending} pending of {} approvals", list.len()),
            actions: 0,
            client_order_ids: Vec::new(),
            duplicate: false,
            detail: serde_json::to_value(&list).ok(),
        }
    }

    /// The pending approval `id`, or why it cannot be decided. A repeat of the decision it
    /// already had is `Ok(Err(outcome))`: answered as a duplicate, nothing done.
    async fn decidable(
        &mut self,
        id: u64,
        want: ApprovalState,
    ) -> Result<Result<Approval, ControlOutcome>, ControlRefusal> {
        self.expire_approvals().await;
        let Some(a) = self.approvals.items.get(&id) else {
            return Err(ControlRefusal::UnknownApproval(id));
        };
        match a.state {
            ApprovalState::Pending => Ok(Ok(a.clone())),
            s if s == want => Ok(Err(ControlOutcome {
                message: format!(
                    "approval {id} was {s} before; nothing done again ({})",
                    a.note.clone().unwrap_or_default()
                ),
                actions: 0,
                client_order_ids: vec![a.request.client_order_id.to_string()],
                duplicate: true,
                detail: serde_json::to_value(a).ok(),
            })),
            s => Err(ControlRefusal::ApprovalDecided { id, state: s }),
        }
    }

    /// Rejects approval `id`: its entry is never sent.
    pub(super) async fn reject(
        &mut self,
        id: u64,
        actor: &Actor,
    ) -> Result<ControlOutcome, ControlRefusal> {
        let mut a = match self.decidable(id, ApprovalState::Rejected).await? {
            Ok(a) => a,
            Err(repeat) => return Ok(repeat),
        };
        a.state = ApprovalState::Rejected;
        a.decided = Some(self.clock.now());
        a.decided_by = Some(actor.id.clone());
        a.note = Some("rejected; nothing was sent".into());
        self.approvals.items.insert(id, a.clone());
        self.publish_approval(a.clone()).await;
        Ok(ControlOutcome {
            message: format!("approval {id} rejected by {}; nothing was sent", actor.id),
            actions: 0,
            client_order_ids: Vec::new(),
            duplicate: false,
            detail: serde_json::to_value(&a).ok(),
        })
    }

    /// Approves `id`: the operator's holds and the risk checks are met again at today's
    /// prices and account, then the entry is sent as the strategy made it. A refusal leaves
    /// it pending (to approve later, or let expire).
    pub(super) async fn approve(
        &mut self,
        id: u64,
        actor: &Actor,
    ) -> Result<ControlOutcome, ControlRefusal> {
        let mut a = match self.decidable(id, ApprovalState::Approved).await? {
            Ok(a) => a,
            Err(repeat) => return Ok(repeat),
        };
        let request = a.request.clone();
        let symbol = request.symbol.clone();
        if let Some(held) = self.operator.holds_entry(&symbol) {
            return Err(match held {
                EntryRefusal::EntriesPaused => ControlRefusal::EntriesPaused,
                _ => ControlRefusal::SymbolDisabled(symbol),
            });
        }
        let config = self.core.config().clone();
        let spec = self.spec_of(&symbol)?;
        let market = self.read_market().await.map_err(broker)?;
        let quote = self.quote(&spec).await?;
        rules::position_stops(&spec, request.side, quote, request.sl, request.tp).map_err(|v| {
            ControlRefusal::Invalid(format!("the price moved past the entry's stops: {v}"))
        })?;
        let intent = EntryIntent {
            symbol: symbol.clone(),
            side: request.side,
            entry: if request.side == Side::Buy {
                quote.ask
            } else {
                quote.bid
            },
            sl: request.sl,
            bid: quote.bid,
            ask: quote.ask,
        };
        // The cooldown this entry started when it was proposed is its own (see `risk_allows`).
        self.risk_allows(&market, &config, &intent, request.volume, Some(a.created))?;
        // Decided before it is sent: a second approval finds it approved and sends nothing.
        a.state = ApprovalState::Approved;
        a.decided = Some(self.clock.now());
        a.decided_by = Some(actor.id.clone());
        self.approvals.items.insert(id, a.clone());
        let sent = self.submit(request).await;
        let (note, outcome) = match &sent {
            Ok(Some((intent, duplicate))) => {
                let text = super::manual::state_text(&intent.state);
                let ok = !matches!(
                    intent.state,
                    IntentState::Rejected { .. }
                        | IntentState::NotFound { .. }
                        | IntentState::Unknown { .. }
                );
                (
                    format!("sent as {}: {text}", intent.id()),
                    Ok((ok, *duplicate, text)),
                )
            }
            Ok(None) => (
                "approved, but its intent could not be recorded; nothing was sent".to_string(),
                Err(ControlRefusal::Unavailable(
                    "its intent could not be recorded; nothing was sent".into(),
                )),
            ),
            Err(e) => (
                format!("approved; sending failed: {e}"),
                Err(ControlRefusal::Broker(e.to_string())),
            ),
        };
        a.note = Some(note);
        self.approvals.items.insert(id, a.clone());
        self.publish_approval(a.clone()).await;
        let (ok, duplicate, text) = outcome?;
        if !ok {
            return Err(ControlRefusal::Broker(text));
        }
        Ok(ControlOutcome {
            message: format!("approval {id} approved by {}: {text}", actor.id),
            actions: usize::from(!duplicate),
            client_order_ids: vec![a.request.client_order_id.to_string()],
            duplicate,
            detail: serde_json::to_value(&a).ok(),
        })
    }
}
