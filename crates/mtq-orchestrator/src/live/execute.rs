//! Executing the core's commands through the order executor, and recording the results.

use mtq_core::ErrorSource;
use mtq_core::{
    Decimal, DomainEvent, EventKind, OrderOutcome, Position, Retcode, SignalKind, Symbol, Ticket,
};
use tracing::{Instrument, debug, info, warn, warn_span};

use super::report::state_name;
use super::{CycleReport, LiveError, LiveTrader};
use crate::config::TradingMode;
use crate::core::CoreEvent;
use crate::core::{Command, EntryRefusal};
use crate::{ActionResult, CommandReason, ExecError, Intent, IntentState, Submission};

impl LiveTrader {
    /// The intent store refused a write: entries stop until it accepts them again. Said once
    /// per outage, at error level and as an `Error` event; each refused entry is a warning.
    pub(super) async fn intent_store_down(&mut self, symbol: &Symbol, error: &ExecError) {
        warn!(%symbol, %error, "entry refused: its intent cannot be recorded");
        if !self.health.intent_store_ok {
            return;
        }
        self.health.intent_store_ok = false;
        let message = format!(
            "{error}; entries are refused until the database accepts writes again (closes still work)"
        );
        tracing::error!("{message}");
        let kind = EventKind::Error {
            source: ErrorSource::IntentStore,
            message,
        };
        self.publish(DomainEvent::new(self.clock.now(), kind)).await;
    }

    /// After an outage: entries resume once the intent store answers again.
    pub(super) async fn intent_store_up(&mut self) {
        if self.health.intent_store_ok {
            return;
        }
        self.health.intent_store_ok = true;
        let detail = "the intent store accepts writes again; entries resume".to_string();
        info!("{detail}");
        self.publish(DomainEvent::new(
            self.clock.now(),
            EventKind::Session { detail },
        ))
        .await;
    }

    pub(super) async fn publish_intent_result(&mut self, intent: &Intent) {
        let now = self.clock.now();
        let kind = match &intent.state {
            IntentState::Filled {
                position,
                deal,
                price,
                volume,
                order,
                bid,
                ask,
            } => EventKind::OrderSucceeded {
                client_order_id: intent.id().clone(),
                outcome: OrderOutcome {
                    retcode: Retcode::Done,
                    deal: *deal,
                    order: *order,
                    position: *position,
                    volume: *volume,
                    price: *price,
                    bid: *bid,
                    ask: *ask,
                    comment: String::new(),
                    time: now,
                },
            },
            IntentState::Placed { order } => EventKind::OrderSucceeded {
                client_order_id: intent.id().clone(),
                outcome: OrderOutcome {
                    retcode: Retcode::Placed,
                    deal: None,
                    order: Some(*order),
                    position: None,
                    volume: intent.request.volume,
                    price: intent.request.price.unwrap_or_default(),
                    bid: Decimal::ZERO,
                    ask: Decimal::ZERO,
                    comment: String::new(),
                    time: now,
                },
            },
            IntentState::Rejected { retcode, reason } => EventKind::OrderFailed {
                client_order_id: intent.id().clone(),
                retcode: *retcode,
                message: reason.clone(),
            },
            IntentState::NotFound { reason } | IntentState::Unknown { reason } => {
                EventKind::OrderFailed {
                    client_order_id: intent.id().clone(),
                    retcode: None,
                    message: reason.clone(),
                }
            }
            IntentState::Recorded | IntentState::Sent { .. } => return,
        };
        self.publish(DomainEvent::new(now, kind)).await;
    }

    /// Runs the core's commands; `true` when anything reached the broker. `positions` are the
    /// ones the core saw (a close or a modification names only a ticket). A request for a
    /// symbol whose market is closed waits ([`MarketWaits`]); a reversal's entry is sent only
    /// when the closes before it in the list are done (see [`Command::Submit`]).
    pub(super) async fn execute(
        &mut self,
        commands: Vec<Command>,
        positions: &[Position],
        report: &mut CycleReport,
    ) -> Result<bool, LiveError> {
        let now = self.clock.now();
        let symbol_of = |ticket: Ticket| {
            positions
                .iter()
                .find(|p| p.ticket == ticket)
                .map(|p| p.symbol.clone())
        };
        // Manual mode: the strategy's signals are advice (see `TradingMode::Manual`); risk
        // management (stops, breakeven, the kill switch) and operator orders still run.
        let manual = self.core.config().trader.mode == TradingMode::Manual;
        // Semi mode: an entry that passed everything waits for an operator (`approvals.rs`).
        let semi = self.core.config().trader.mode == TradingMode::Semi;
        let mut acted = false;
        // A close in this list that did not complete, and whether the next entry is held back.
        let mut close_failed: Option<Ticket> = None;
        let mut hold_entry = false;
        let mut awaiting = None;
        // The sentiment filter's verdict on the entry, journalled after its signal.
        let mut verdict = None;
        let mut commands = commands.into_iter().peekable();
        while let Some(c) = commands.next() {
            match c {
                Command::Record(mut e) => {
                    if manual
                        && let EventKind::SignalRecorded { signal, refusal } = &mut e.kind
                        && refusal.is_none()
                        && signal.kind != SignalKind::Hold
                    {
                        // Manual mode: the strategy advises; its entries and closes stay unsent.
                        info!(symbol = %signal.symbol, kind = ?signal.kind, "advice recorded (manual mode)");
                        *refusal = Some(EntryRefusal::ManualMode.into());
                        hold_entry = matches!(commands.peek(), Some(Command::Submit(_)));
                    }
                    if let EventKind::SignalRecorded { signal, refusal } = &mut e.kind
                        && refusal.is_none()
                        && matches!(commands.peek(), Some(Command::Submit(_)))
                    {
                        let held = close_failed
                            .map(|ticket| EntryRefusal::ReversalNotClosed { ticket })
                            .or_else(|| {
                                self.market_waits
                                    .holds(&signal.symbol, true, now)
                                    .map(|until| EntryRefusal::MarketClosed {
                                        symbol: signal.symbol.clone(),
                                        until,
                                    })
                            })
                            .or_else(|| self.operator.holds_entry(&signal.symbol));
                        // Last, and only for an entry about to be sent: a provider request
                        // costs money and time.
                        let held = match held {
                            Some(r) => Some(r),
                            None => match self.sentiment_verdict(signal, now).await {
                                Some((refusal, event)) => {
                                    verdict = Some(event);
                                    refusal
                                }
                                None => None,
                            },
                        };
                        if let Some(r) = held {
                            warn!(symbol = %signal.symbol, "entry not sent: {r}");
                            *refusal = Some(r.into());
                            hold_entry = true;
                        } else if semi && let Some(Command::Submit(req)) = commands.peek() {
                            let (r, approval) = self.hold_for_approval(signal, req, now);
                            *refusal = Some(r.into());
                            hold_entry = true;
                            awaiting = approval;
                        }
                    }
                    if let EventKind::SignalRecorded { refusal, .. } = &e.kind {
                        self.summary.signals += 1;
                        if refusal.is_some() {
                            self.summary.refused_signals += 1;
                        }
                    }
                    if let EventKind::KillSwitch { state, reason } = &e.kind {
                        warn!(%state, %reason, "kill switch");
                    }
                    if let EventKind::Error { source, message } = &e.kind {
                        warn!(%source, "{message}");
                    }
                    self.publish(*e).await;
                    if let Some(kind) = verdict.take() {
                        self.publish(DomainEvent::new(now, kind)).await;
                    }
                    // After its signal, so the signal's row exists when the approval's does.
                    if let Some(a) = awaiting.take() {
                        self.publish_approval(a).await;
                    }
                }
                Command::Submit(req) => {
                    if std::mem::take(&mut hold_entry) {
                        continue;
                    }
                    acted = true;
                    report.actions += 1;
                    let span = warn_span!("order", client_order_id = %req.client_order_id);
                    self.submit(*req).instrument(span).await?;
                }
                Command::Close {
                    ticket,
                    volume,
                    reason,
                    exit,
                } => {
                    if manual
                        && matches!(
                            reason,
                            CommandReason::Signal { .. } | CommandReason::Reversal { .. }
                        )
                    {
                        debug!(%ticket, %reason, "manual mode: the strategy's close is advice, not sent");
                        close_failed = Some(ticket);
                        continue;
                    }
                    let symbol = symbol_of(ticket);
                    if let Some(until) = symbol
                        .as_ref()
                        .and_then(|s| self.market_waits.holds(s, false, now))
                    {
                        debug!(%ticket, %reason, %until, "close waits for the market to open");
                        close_failed = Some(ticket);
                        continue;
                    }
                    acted = true;
                    report.actions += 1;
                    let span = warn_span!("close", %ticket);
                    let result = self
                        .executor
                        .close_position(ticket, volume)
                        .instrument(span)
                        .await;
                    let closed_market = match &result {
                        ActionResult::Refused { retcode, .. } => symbol
                            .as_ref()
                            .is_some_and(|s| self.market_waits.refused(s, *retcode, now)),
                        ActionResult::Unknown { .. } => false,
                        ActionResult::Done(_) => {
                            if let Some(s) = &symbol {
                                self.market_waits.accepted(s);
                            }
                            false
                        }
                    };
                    if let ActionResult::Refused { reason: why, .. }
                    | ActionResult::Unknown { reason: why } = result
                    {
                        close_failed = Some(ticket);
                        if closed_market {
                            debug!(%ticket, %reason, %why, "close refused: market closed");
                        } else {
                            warn!(%ticket, %reason, %why, "close failed");
                        }
                        let kind = EventKind::Error {
                            source: ErrorSource::Close,
                            message: format!("{ticket} ({reason}): {why}"),
                        };
                        self.publish(DomainEvent::new(self.clock.now(), kind)).await;
                    } else {
                        info!(%ticket, %reason, "position closed");
                        let kind = EventKind::PositionExit {
                            ticket,
                            reason: exit,
                        };
                        self.publish(DomainEvent::new(self.clock.now(), kind)).await;
                    }
                }
                Command::Modify {
                    ticket,
                    sl,
                    tp,
                    reason,
                    exit,
                } => {
                    let symbol = symbol_of(ticket);
                    if let Some(until) = symbol
                        .as_ref()
                        .and_then(|s| self.market_waits.holds(s, false, now))
                    {
                        debug!(%ticket, %reason, %until, "modification waits for the market to open");
                        continue;
                    }
                    acted = true;
                    report.actions += 1;
                    let span = warn_span!("modify", %ticket);
                    let result = self
                        .executor
                        .modify_position(ticket, sl, tp)
                        .instrument(span)
                        .await;
                    let now = self.clock.now();
                    match result {
                        ActionResult::Done(_) => {
                            if let Some(s) = &symbol {
                                self.market_waits.accepted(s);
                            }
                            debug!(%ticket, %reason, ?sl, ?tp, "stops moved");
                            let kind = EventKind::PositionModified { ticket, sl, tp };
                            self.publish(DomainEvent::new(now, kind)).await;
                            if let Some(reason) = exit {
                                let kind = EventKind::PositionExit { ticket, reason };
                                self.publish(DomainEvent::new(now, kind)).await;
                            }
                        }
                        ActionResult::Unknown { reason: why } => {
                            let kind = EventKind::Error {
                                source: ErrorSource::Modify,
                                message: format!("{ticket} ({reason}): {why}"),
                            };
                            self.publish(DomainEvent::new(now, kind)).await;
                        }
                        ActionResult::Refused {
                            retcode,
                            reason: why,
                        } => {
                            if let Some(s) = &symbol {
                                self.market_waits.refused(s, retcode, now);
                            }
                            debug!(%ticket, %reason, %why, "modification refused");
                        }
                    }
                }
            }
        }
        Ok(acted)
    }

    /// Sends an entry through the executor and records it. `None` when its intent could not
    /// be recorded (nothing was sent); otherwise the intent and whether the id had been used
    /// before (`true`: nothing new was sent).
    pub(super) async fn submit(
        &mut self,
        request: mtq_core::OrderRequest,
    ) -> Result<Option<(Intent, bool)>, LiveError> {
        // The intent store writes the intent before the order goes out; the event follows the
        // submission, so a database-backed store's row exists when the writer names its strategy.
        let now = self.clock.now();
        let kind = EventKind::OrderIntent {
            request: request.clone(),
        };
        let symbol = request.symbol.clone();
        let submission = match self.executor.submit(request).await {
            Ok(s) => s,
            // Nothing was sent; the rest of the cycle (closes, stops) goes on.
            Err(e) => {
                self.intent_store_down(&symbol, &e).await;
                return Ok(None);
            }
        };
        self.intent_store_up().await;
        self.publish(DomainEvent::new(now, kind)).await;
        let (intent, duplicate) = match submission {
            Submission::Processed(i) => (i, false),
            Submission::Duplicate(i) => (i, true),
        };
        if duplicate {
            // Nothing was sent: the first submission's record stands.
            warn!("the same signal asked for this order before; not sent again");
            self.core.process(CoreEvent::OrderResult { success: true });
            return Ok(Some((intent, true)));
        }
        let ok = matches!(
            intent.state,
            IntentState::Filled { .. } | IntentState::Placed { .. }
        );
        match &intent.state {
            IntentState::Rejected { retcode, .. } => {
                self.market_waits
                    .refused(&intent.request.symbol, *retcode, self.clock.now());
            }
            _ if ok => self.market_waits.accepted(&intent.request.symbol),
            _ => {}
        }
        self.core.process(CoreEvent::OrderResult { success: ok });
        if ok {
            self.summary.orders_filled += 1;
            info!(symbol = %intent.request.symbol, side = ?intent.request.side, volume = %intent.request.volume, state = state_name(&intent.state), "order executed");
        } else {
            self.summary.orders_failed += 1;
            warn!(state = ?intent.state, "order failed");
        }
        self.publish_intent_result(&intent).await;
        if let IntentState::Filled {
            position: Some(ticket),
            ..
        } = &intent.state
        {
            let opened = self
                .broker
                .positions()
                .await?
                .into_iter()
                .find(|p| p.ticket == *ticket);
            if let Some(position) = opened {
                self.open_volume.insert(position.ticket, position.volume);
                let kind = EventKind::PositionOpened { position };
                self.publish(DomainEvent::new(self.clock.now(), kind)).await;
            }
        }
        Ok(Some((intent, false)))
    }
}
