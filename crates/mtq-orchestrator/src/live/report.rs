//! What start-up, a cycle and a session did, and the session's end.

use std::collections::BTreeMap;

use chrono::Duration;
use mtq_core::ErrorSource;
use mtq_core::{ClientOrderId, DealEntry, Decimal, DomainEvent, EventKind, Magic, Symbol, Ticket};
use tracing::{info, warn};

use super::{LiveError, LiveTrader};
use crate::IntentState;

/// What a session did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionSummary {
    pub cycles: u64,
    pub bars: usize,
    pub signals: usize,
    pub refused_signals: usize,
    pub orders_filled: usize,
    pub orders_failed: usize,
    pub closed_trades: usize,
    pub wins: usize,
    pub gross_profit: Decimal,
    pub gross_loss: Decimal,
    pub net_profit: Decimal,
    pub final_balance: Decimal,
    pub final_equity: Decimal,
    pub max_drawdown_pct: Decimal,
    pub open_positions: usize,
    pub events: usize,
    pub wall_time_ms: u128,
}

impl SessionSummary {
    pub fn win_rate(&self) -> Option<Decimal> {
        (self.closed_trades > 0).then(|| {
            Decimal::from(self.wins) * Decimal::ONE_HUNDRED / Decimal::from(self.closed_trades)
        })
    }

    pub fn profit_factor(&self) -> Option<Decimal> {
        (!self.gross_loss.is_zero())
            .then(|| (self.gross_profit / self.gross_loss.abs()).round_dp(2))
    }

    /// One line for logs and the `session` event.
    pub fn describe(&self) -> String {
        format!(
            "session summary: {} cycles, {} bars, {} signals ({} refused), {} orders filled, {} failed, \
             {} closed trades, net {}, balance {}, equity {}, max drawdown {}%, {} positions open",
            self.cycles,
            self.bars,
            self.signals,
            self.refused_signals,
            self.orders_filled,
            self.orders_failed,
            self.closed_trades,
            self.net_profit,
            self.final_balance,
            self.final_equity,
            self.max_drawdown_pct,
            self.open_positions
        )
    }
}

/// What start-up found and did, each list by ticket or client order id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartupReport {
    /// Intents a previous run left unresolved, with the state the broker's records gave them.
    pub intents_resolved: Vec<(ClientOrderId, IntentState)>,
    /// Open positions carrying our magic number.
    pub ours: Vec<Ticket>,
    pub adopted: Vec<Ticket>,
    pub ignored: Vec<Ticket>,
    pub closed: Vec<Ticket>,
    /// Unknown positions the `close` policy could not close (left open, logged).
    pub close_failed: Vec<Ticket>,
    /// Our positions at the broker with no trade record: the record was written again.
    pub restored_opens: Vec<Ticket>,
    /// Recorded positions gone from the broker: their closing deals were recorded.
    pub restored_closes: Vec<Ticket>,
    /// Closed bars each symbol warmed up on.
    pub warmed: BTreeMap<Symbol, usize>,
    /// Approvals (semi mode) a previous run left pending, recorded as expired.
    pub approvals_expired: Vec<u64>,
}

impl StartupReport {
    /// The reconciliation diff, for the log and the `session` event.
    pub fn describe(&self) -> String {
        let list = |v: &[Ticket]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        let intents = if self.intents_resolved.is_empty() {
            "none".to_string()
        } else {
            self.intents_resolved
                .iter()
                .map(|(id, s)| format!("{id}={}", state_name(s)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "start-up reconciliation: intents resolved: {intents}; ours: {}; adopted: {}; \
             ignored: {}; closed: {}; close failed: {}; records restored (opened): {}; \
             records restored (closed): {}; approvals left pending, expired: {}",
            list(&self.ours),
            list(&self.adopted),
            list(&self.ignored),
            list(&self.closed),
            list(&self.close_failed),
            list(&self.restored_opens),
            list(&self.restored_closes),
            if self.approvals_expired.is_empty() {
                "none".to_string()
            } else {
                self.approvals_expired
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            },
        )
    }
}

pub(super) fn state_name(s: &IntentState) -> &'static str {
    match s {
        IntentState::Recorded => "recorded",
        IntentState::Sent { .. } => "sent",
        IntentState::Unknown { .. } => "unknown",
        IntentState::Filled { .. } => "filled",
        IntentState::Placed { .. } => "placed",
        IntentState::Rejected { .. } => "rejected",
        IntentState::NotFound { .. } => "not_found",
    }
}

/// What one cycle saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// Newly closed bars read (all symbols).
    pub bars: usize,
    /// Orders, closes and modifications sent.
    pub actions: usize,
    pub deals: usize,
}

impl LiveTrader {
    /// Ends the session: intents still unresolved are reconciled, and the summary is computed
    /// from the broker's deals and recorded.
    pub async fn finish(mut self) -> Result<SessionSummary, LiveError> {
        let now = self.clock.now();
        // Deals of this session's last cycle (a close sent just before the stop): recorded
        // before the summary, so the trade rows agree with it.
        if let Err(e) = self.poll_deals(now).await {
            warn!(error = %e, "the last deals could not be read; the next start records them");
        }
        // The database may be away: the session still ends, and what cannot be reconciled now
        // is reconciled at the next start.
        match self.executor.reconcile_unresolved().await {
            Ok(intents) => {
                for intent in intents {
                    self.publish_intent_result(&intent).await;
                }
            }
            Err(e) => {
                let message = format!(
                    "unresolved order intents could not be reconciled: {e}; the next start reconciles them"
                );
                tracing::error!("{message}");
                let kind = EventKind::Error {
                    source: ErrorSource::IntentStore,
                    message,
                };
                self.publish(DomainEvent::new(now, kind)).await;
            }
        }
        let account = self.broker.account().await?;
        let positions = self.broker.positions().await?;
        let deals = self
            .broker
            .deals(self.started_at, now + Duration::days(1))
            .await?;
        let mut s = std::mem::take(&mut self.summary);
        for d in deals.iter().filter(|d| {
            matches!(d.entry, DealEntry::Out | DealEntry::InOut) && self.is_managed_deal(d)
        }) {
            let net = d.balance_effect();
            s.closed_trades += 1;
            if net > Decimal::ZERO {
                s.wins += 1;
                s.gross_profit += net;
            } else {
                s.gross_loss += net;
            }
        }
        s.net_profit = account.balance - self.start_balance;
        s.final_balance = account.balance;
        s.final_equity = account.equity;
        let magic = Magic(self.core.config().trader.magic);
        s.open_positions = positions
            .iter()
            .filter(|p| p.magic == magic || self.core.is_adopted(p.ticket))
            .count();
        s.events += 1;
        info!("{}", s.describe());
        let kind = EventKind::Session {
            detail: s.describe(),
        };
        let event = DomainEvent::new(now, kind);
        self.operator.broadcast(&event);
        self.outlet.publish(event).await;
        Ok(s)
    }
}
