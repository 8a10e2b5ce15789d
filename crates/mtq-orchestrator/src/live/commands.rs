//! What each operator command does. Orders, closes and modifications go through the same
//! executor, intents and records as the strategy's own ([`LiveTrader::execute`],
//! [`LiveTrader::submit`]). Manual orders are in `manual.rs`.

use std::collections::BTreeMap;

use mtq_core::rules::{self, Quote};
use mtq_core::{Decimal, ExitReason, Magic, Position, Symbol, SymbolSpec, Ticket};
use mtq_risk::{ActionReason, PositionAction, StopAction};

use super::{CycleReport, LiveError, LiveTrader};
use crate::CommandReason;
use crate::config::ConfigWatcher;
use crate::control::{Actor, ControlCommand, ControlOutcome, ControlRefusal};
use crate::core::Command;
use crate::core::CoreEvent;

fn done(message: impl Into<String>, actions: usize) -> ControlOutcome {
    ControlOutcome {
        message: message.into(),
        actions,
        client_order_ids: Vec::new(),
        duplicate: false,
        detail: None,
    }
}

pub(super) fn broker(e: LiveError) -> ControlRefusal {
    ControlRefusal::Broker(e.to_string())
}

impl LiveTrader {
    pub(super) async fn run_command(
        &mut self,
        command: &ControlCommand,
        actor: &Actor,
        watcher: Option<&mut ConfigWatcher>,
    ) -> Result<ControlOutcome, ControlRefusal> {
        match command {
            ControlCommand::PauseEntries => {
                self.operator.entries_paused = true;
                Ok(done("entries paused; open positions are still managed", 0))
            }
            ControlCommand::ResumeEntries => {
                self.operator.entries_paused = false;
                Ok(done("entries resumed", 0))
            }
            ControlCommand::Stop => {
                self.operator.stop_requested = true;
                Ok(done(
                    "stopping after the current cycle; the session summary follows",
                    0,
                ))
            }
            ControlCommand::TripKillSwitch { reason } => {
                let reason = non_empty(reason, "reason")?;
                let positions = self.managed(
                    self.broker
                        .positions()
                        .await
                        .map_err(|e| broker(e.into()))?,
                );
                let closes = self.trip_by_hand(reason, &positions).await;
                let n = closes.len();
                let mut report = CycleReport::default();
                self.execute(closes, &positions, &mut report)
                    .await
                    .map_err(broker)?;
                Ok(done(
                    format!("kill switch tripped by {}: {reason}", actor.id),
                    n,
                ))
            }
            ControlCommand::ResetKillSwitch { reason } => {
                let reason = non_empty(reason, "reason")?;
                self.core.risk_state_mut().kill_switch_mut().reset();
                self.operator.manual_kill = None;
                // Evaluated at once: a limit still breached trips it again, and says why.
                let market = self.read_market().await.map_err(broker)?;
                let kill = self.opts.kill_file_present();
                let now = self.clock.now();
                let commands = self.core.process(CoreEvent::Account {
                    view: market.view(now),
                    kill_file_present: kill,
                });
                let mut report = CycleReport::default();
                self.execute(commands, &market.positions, &mut report)
                    .await
                    .map_err(broker)?;
                let state = self.core.risk_state().kill_switch().state();
                Ok(done(
                    format!(
                        "kill switch reset by {} ({reason}); it is now {state}",
                        actor.id
                    ),
                    report.actions,
                ))
            }
            ControlCommand::ClosePosition { ticket, volume } => {
                self.close(Some(*ticket), None, *volume, actor).await
            }
            ControlCommand::CloseAll { symbol } => {
                if let Some(s) = symbol {
                    self.known_symbol(s)?;
                }
                self.close(None, symbol.as_ref(), None, actor).await
            }
            ControlCommand::ModifyPosition { ticket, sl, tp } => {
                self.modify(*ticket, *sl, *tp, actor).await
            }
            ControlCommand::SetSymbolEnabled { symbol, enabled } => {
                self.known_symbol(symbol)?;
                if *enabled {
                    self.operator.disabled.remove(symbol);
                } else {
                    self.operator.disabled.insert(symbol.clone());
                }
                let what = if *enabled { "enabled" } else { "disabled" };
                Ok(done(format!("entries on {symbol} {what}"), 0))
            }
            ControlCommand::CancelOrder { ticket } => self.cancel(*ticket).await,
            ControlCommand::TestSignal { symbol } => self.test_signal(symbol).await,
            ControlCommand::ReloadConfig => {
                let Some(w) = watcher else {
                    return Err(ControlRefusal::Config(
                        "the trader was not started from a configuration file".into(),
                    ));
                };
                let new = w
                    .load_now()
                    .map_err(|e| ControlRefusal::Config(e.to_string()))?;
                let detail = self
                    .apply_reload(new)
                    .await
                    .map_err(ControlRefusal::Config)?;
                Ok(done(detail.unwrap_or_else(|| "no change".into()), 0))
            }
            ControlCommand::ManualOrder {
                idempotency_key,
                symbol,
                side,
                volume,
                sl,
                tp,
            } => {
                self.manual_order(idempotency_key, symbol, *side, *volume, *sl, *tp)
                    .await
            }
            ControlCommand::ListApprovals => Ok(self.list_approvals().await),
            ControlCommand::Approve { id } => self.approve(*id, actor).await,
            ControlCommand::Reject { id } => self.reject(*id, actor).await,
        }
    }

    /// Latches the manual kill-switch trigger (trading halts until an operator resets it) and
    /// records the transition; returns the closes a `close_all_on_stop` configuration asks for.
    pub(super) async fn trip_by_hand(
        &mut self,
        reason: &str,
        positions: &[Position],
    ) -> Vec<Command> {
        let now = self.clock.now();
        self.operator.manual_kill = Some(reason.to_string());
        let emergency = self.core.config().risk.emergency.clone();
        let Some(t) = self.core.risk_state_mut().kill_switch_mut().trip_manually(
            &emergency,
            now,
            StopAction::Halt,
            reason,
            positions,
        ) else {
            return Vec::new();
        };
        self.publish(t.event()).await;
        t.close.into_iter().map(kill_switch_command).collect()
    }

    pub(super) fn known_symbol(&self, symbol: &Symbol) -> Result<(), ControlRefusal> {
        if self.symbols.iter().any(|(s, _)| s == symbol) {
            Ok(())
        } else {
            Err(ControlRefusal::UnknownSymbol(symbol.to_string()))
        }
    }

    /// The positions this trader manages: its magic number's and the adopted ones.
    pub(super) fn managed(&self, positions: Vec<Position>) -> Vec<Position> {
        let magic = Magic(self.core.config().trader.magic);
        positions
            .into_iter()
            .filter(|p| p.magic == magic || self.core.is_adopted(p.ticket))
            .collect()
    }

    async fn managed_now(&self) -> Result<Vec<Position>, ControlRefusal> {
        let all = self
            .broker
            .positions()
            .await
            .map_err(|e| broker(e.into()))?;
        Ok(self.managed(all))
    }

    /// Closes one position (in full or `volume` of it) or every managed one (on `symbol`);
    /// the trades record the exit reason `operator`.
    async fn close(
        &mut self,
        ticket: Option<Ticket>,
        symbol: Option<&Symbol>,
        volume: Option<Decimal>,
        actor: &Actor,
    ) -> Result<ControlOutcome, ControlRefusal> {
        let positions = self.managed_now().await?;
        let targets: Vec<&Position> = match ticket {
            Some(t) => vec![
                positions
                    .iter()
                    .find(|p| p.ticket == t)
                    .ok_or(ControlRefusal::UnknownPosition(t))?,
            ],
            None => positions
                .iter()
                .filter(|p| symbol.is_none_or(|s| &p.symbol == s))
                .collect(),
        };
        if let (Some(v), Some(p)) = (volume, targets.first()) {
            let spec = self.spec_of(&p.symbol)?;
            if v <= Decimal::ZERO || v > p.volume || !(v % spec.volume_step).is_zero() {
                return Err(ControlRefusal::Invalid(format!(
                    "volume {v}: close more than 0 and at most the position's {} lots, in steps of {}",
                    p.volume, spec.volume_step
                )));
            }
        }
        let before: BTreeMap<Ticket, Decimal> =
            targets.iter().map(|p| (p.ticket, p.volume)).collect();
        let commands = targets
            .iter()
            .map(|p| Command::Close {
                ticket: p.ticket,
                volume: volume.filter(|v| *v < p.volume),
                reason: CommandReason::Operator {
                    actor: actor.id.clone(),
                },
                exit: ExitReason::Operator,
            })
            .collect();
        let mut report = CycleReport::default();
        self.execute(commands, &positions, &mut report)
            .await
            .map_err(broker)?;
        let after = self.managed_now().await?;
        let still =
            |t: &Ticket, v: &Decimal| after.iter().any(|p| p.ticket == *t && p.volume >= *v);
        let failed: Vec<String> = before
            .iter()
            .filter(|(t, v)| still(t, v))
            .map(|(t, _)| t.to_string())
            .collect();
        if !failed.is_empty() {
            return Err(ControlRefusal::Broker(format!(
                "not closed: {} (the error events say why)",
                failed.join(" ")
            )));
        }
        Ok(done(
            format!("{} position(s) closed", before.len()),
            report.actions,
        ))
    }

    /// Deletes a pending order this trader placed (its magic number), then reads the broker's
    /// pending orders back: a refusal (frozen near the market, already triggered) names why.
    async fn cancel(&mut self, ticket: Ticket) -> Result<ControlOutcome, ControlRefusal> {
        let magic = Magic(self.core.config().trader.magic);
        let pending = self
            .broker
            .pending_orders()
            .await
            .map_err(|e| broker(e.into()))?;
        if !pending
            .iter()
            .any(|o| o.ticket == ticket && o.magic == magic)
        {
            return Err(ControlRefusal::UnknownOrder(ticket));
        }
        let outcome = self
            .broker
            .cancel_order(ticket)
            .await
            .map_err(|e| broker(e.into()))?;
        if !outcome.retcode.is_success() {
            return Err(ControlRefusal::Broker(format!(
                "pending order {ticket} was not deleted: {}",
                outcome.retcode
            )));
        }
        let after = self
            .broker
            .pending_orders()
            .await
            .map_err(|e| broker(e.into()))?;
        if after.iter().any(|o| o.ticket == ticket) {
            return Err(ControlRefusal::Broker(format!(
                "pending order {ticket} is still at the broker"
            )));
        }
        self.operator.seen.pending = after;
        Ok(done(format!("pending order {ticket} deleted"), 1))
    }

    pub(super) fn spec_of(&self, symbol: &Symbol) -> Result<SymbolSpec, ControlRefusal> {
        self.core
            .spec(symbol)
            .cloned()
            .ok_or_else(|| ControlRefusal::UnknownSymbol(symbol.to_string()))
    }

    pub(super) async fn quote(&self, spec: &SymbolSpec) -> Result<Quote, ControlRefusal> {
        let tick = self
            .broker
            .last_tick(&spec.symbol)
            .await
            .map_err(|e| broker(e.into()))?;
        match (
            spec.normalize_price_f64(tick.bid),
            spec.normalize_price_f64(tick.ask),
        ) {
            (Some(bid), Some(ask)) => Ok(Quote { bid, ask }),
            _ => Err(ControlRefusal::Broker(format!(
                "no valid quote for {}",
                spec.symbol
            ))),
        }
    }

    /// Moves a position's SL/TP, checked against the MT5 rule book as the broker checks it.
    async fn modify(
        &mut self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
        actor: &Actor,
    ) -> Result<ControlOutcome, ControlRefusal> {
        if sl.is_none() && tp.is_none() {
            return Err(ControlRefusal::Invalid("give sl, tp or both".into()));
        }
        let positions = self.managed_now().await?;
        let p = positions
            .iter()
            .find(|p| p.ticket == ticket)
            .ok_or(ControlRefusal::UnknownPosition(ticket))?
            .clone();
        let spec = self.spec_of(&p.symbol)?;
        for (name, level) in [("sl", sl), ("tp", tp)] {
            if let Some(x) = level
                && (x <= Decimal::ZERO || !spec.is_price_normalized(x))
            {
                return Err(ControlRefusal::Invalid(format!(
                    "{name} {x}: a positive price on {}'s tick grid ({})",
                    spec.symbol, spec.tick_size
                )));
            }
        }
        let (new_sl, new_tp) = (sl.or(p.sl), tp.or(p.tp));
        let quote = self.quote(&spec).await?;
        rules::position_freeze(&spec, p.side, quote, p.sl, p.tp)
            .and_then(|()| rules::position_stops(&spec, p.side, quote, new_sl, new_tp))
            .map_err(|v| ControlRefusal::Invalid(v.to_string()))?;
        let command = Command::Modify {
            ticket,
            sl: new_sl,
            tp: new_tp,
            reason: CommandReason::Operator {
                actor: actor.id.clone(),
            },
            exit: None,
        };
        let mut report = CycleReport::default();
        self.execute(vec![command], &positions, &mut report)
            .await
            .map_err(broker)?;
        let now = self.managed_now().await?;
        match now.iter().find(|q| q.ticket == ticket) {
            Some(q) if q.sl == new_sl && q.tp == new_tp => Ok(done(
                format!("{ticket}: sl {new_sl:?}, tp {new_tp:?}"),
                report.actions,
            )),
            _ => Err(ControlRefusal::Broker(format!(
                "{ticket} was not modified (the events say why)"
            ))),
        }
    }
}

fn non_empty<'a>(text: &'a str, field: &str) -> Result<&'a str, ControlRefusal> {
    let t = text.trim();
    if t.is_empty() {
        Err(ControlRefusal::Invalid(format!("{field} is required")))
    } else {
        Ok(t)
    }
}

/// A kill-switch transition's close or stop move, as the core would send it.
fn kill_switch_command(a: PositionAction) -> Command {
    match a {
        PositionAction::ModifyStops { ticket, sl, tp, .. } => Command::Modify {
            ticket,
            sl: Some(sl),
            tp,
            reason: ActionReason::KillSwitch.into(),
            exit: Some(ExitReason::KillSwitch),
        },
        PositionAction::ClosePartial { ticket, volume, .. } => Command::Close {
            ticket,
            volume: Some(volume),
            reason: ActionReason::KillSwitch.into(),
            exit: ExitReason::KillSwitch,
        },
        PositionAction::Close { ticket, .. } => Command::Close {
            ticket,
            volume: None,
            reason: ActionReason::KillSwitch.into(),
            exit: ExitReason::KillSwitch,
        },
    }
}
