//! The trader's domain events as metrics: bars, signals and refusals, closed trades and their
//! money, kill-switch trips, connection changes, reloads, errors and operator commands.
//!
//! [`EventMetrics::observe`] takes each event as the driver publishes it (the `EventOutlet`
//! decorator in `mtq-api` calls it), so nothing is sampled and nothing lost.

use std::collections::BTreeMap;

use metrics::{Counter, counter, gauge};
use mtq_core::{
    Deal, DomainEvent, EventKind, ExitReason, KillSwitchState, SignalKind, Symbol, Ticket,
    Timeframe,
};

use crate::money;
use crate::names::*;

/// How many positions' announced exit reasons are remembered until their closing deal.
const EXIT_REASONS_KEPT: usize = 4096;

/// Turns one account's events into metrics. Keeps what a later event needs (the exit reason
/// announced before a closing deal, the kill switch's last state).
#[derive(Debug)]
pub struct EventMetrics {
    account: String,
    exit_reasons: BTreeMap<Ticket, ExitReason>,
    kill: KillSwitchState,
    /// The series every cycle touches, registered once.
    events: BTreeMap<&'static str, Counter>,
    bars: BTreeMap<(Symbol, Timeframe), Counter>,
}

impl EventMetrics {
    pub fn new(account: &str) -> Self {
        Self {
            account: account.to_string(),
            exit_reasons: BTreeMap::new(),
            kill: KillSwitchState::Active,
            events: BTreeMap::new(),
            bars: BTreeMap::new(),
        }
    }

    /// Records one event.
    pub fn observe(&mut self, event: &DomainEvent) {
        let kind = event_type(&event.kind);
        let account = &self.account;
        self.events
            .entry(kind)
            .or_insert_with(|| counter!(EVENTS, "account" => account.clone(), "type" => kind))
            .increment(1);
        // The events of every cycle first, without the account label's copy.
        match &event.kind {
            EventKind::BarClosed {
                symbol, timeframe, ..
            } => {
                if let Some(c) = self.bars.get(&(symbol.clone(), *timeframe)) {
                    c.increment(1);
                } else {
                    let c = counter!(BARS, "symbol" => symbol.to_string(), "timeframe" => timeframe.to_string());
                    c.increment(1);
                    self.bars.insert((symbol.clone(), *timeframe), c);
                }
                return;
            }
            EventKind::OrderIntent { .. }
            | EventKind::OrderSucceeded { .. }
            | EventKind::OrderFailed { .. }
            | EventKind::PositionOpened { .. }
            | EventKind::PositionModified { .. }
            | EventKind::AccountSnapshot { .. }
            | EventKind::Approval { .. }
            | EventKind::SentimentVerdict { .. }
            | EventKind::Session { .. } => return,
            _ => {}
        }
        let account = self.account.clone();
        match &event.kind {
            EventKind::SignalRecorded { signal, refusal } => {
                let symbol = signal.symbol.to_string();
                let strategy = signal.strategy.clone();
                counter!(SIGNALS, "account" => account.clone(), "symbol" => symbol.clone(),
                    "strategy" => strategy.clone(), "direction" => direction(signal.kind))
                .increment(1);
                if let Some(ml) = &signal.ml {
                    counter!(ML_SIGNALS, "account" => account.clone(), "symbol" => symbol.clone(),
                        "status" => ml.status.as_str())
                    .increment(1);
                }
                if let Some(r) = refusal {
                    counter!(SIGNALS_REFUSED, "account" => account, "symbol" => symbol,
                        "strategy" => strategy, "reason" => r.code())
                    .increment(1);
                }
            }
            EventKind::PositionExit { ticket, reason } => {
                if self.exit_reasons.len() >= EXIT_REASONS_KEPT {
                    self.exit_reasons.pop_first();
                }
                self.exit_reasons.insert(*ticket, *reason);
            }
            EventKind::PositionClosed { deal } => self.closed(deal),
            EventKind::EntryDeal { deal } => self.costs(deal),
            EventKind::KillSwitch { state, reason } => {
                let active = !state.allows_entries();
                gauge!(KILL_SWITCH_ACTIVE, "account" => account.clone())
                    .set(if active { 1.0 } else { 0.0 });
                if *state > self.kill {
                    counter!(KILL_SWITCH_TRIPS, "account" => account, "reason" => kill_reason(reason))
                        .increment(1);
                }
                self.kill = *state;
            }
            // Reconnects are counted where every request is seen (`TimedBroker`).
            EventKind::Connection { connected, .. } => {
                gauge!(BROKER_CONNECTED, "account" => account).set(if *connected { 1.0 } else { 0.0 });
            }
            EventKind::ConfigReloaded { .. } => {
                counter!(CONFIG_RELOADS, "result" => "applied").increment(1);
            }
            EventKind::Error { source, .. } => {
                counter!(ERRORS, "account" => account, "source" => source.as_str()).increment(1);
                match source {
                    mtq_core::ErrorSource::Config => {
                        counter!(CONFIG_RELOADS, "result" => "refused").increment(1);
                    }
                    mtq_core::ErrorSource::IntentStore => {
                        counter!(DB_WRITE_ERRORS, "op" => "intent").increment(1);
                    }
                    _ => {}
                }
            }
            EventKind::OperatorCommand {
                command, accepted, ..
            } => counter!(OPERATOR_COMMANDS, "account" => account, "command" => command_label(command),
                "accepted" => if *accepted { "true" } else { "false" })
            .increment(1),
            // Handled above.
            EventKind::BarClosed { .. }
            | EventKind::OrderIntent { .. }
            | EventKind::OrderSucceeded { .. }
            | EventKind::OrderFailed { .. }
            | EventKind::PositionOpened { .. }
            | EventKind::PositionModified { .. }
            | EventKind::AccountSnapshot { .. }
            | EventKind::Approval { .. }
            | EventKind::SentimentVerdict { .. }
            | EventKind::Session { .. } => {}
        }
    }

    fn closed(&mut self, deal: &Deal) {
        self.costs(deal);
        let account = self.account.clone();
        let symbol = deal
            .symbol
            .as_ref()
            .map_or_else(|| "none".to_string(), ToString::to_string);
        let known = deal
            .position
            .and_then(|t| self.exit_reasons.get(&t).copied());
        // A partial close leaves the position open: its announced reason stays for the rest.
        let reason = ExitReason::at_close(deal.reason, known);
        let net = deal.balance_effect();
        let outcome = if net.is_sign_positive() && !net.is_zero() {
            "win"
        } else if net.is_zero() {
            "breakeven"
        } else {
            "loss"
        };
        counter!(TRADES_CLOSED, "account" => account.clone(), "symbol" => symbol.clone(),
            "outcome" => outcome, "exit_reason" => reason.as_str())
        .increment(1);
        let amount = net.abs();
        match outcome {
            "win" => money::add(
                GROSS_PROFIT,
                &[("account", &account), ("symbol", &symbol)],
                amount,
            ),
            "loss" => money::add(
                GROSS_LOSS,
                &[("account", &account), ("symbol", &symbol)],
                amount,
            ),
            _ => {}
        }
    }

    fn costs(&self, deal: &Deal) {
        let account = self.account.as_str();
        if !deal.commission.is_zero() {
            let amount = deal.commission;
            money::add(COMMISSION, &[("account", account)], amount);
        }
        if !deal.swap.is_zero() {
            let sign = if deal.swap.is_sign_negative() {
                "paid"
            } else {
                "earned"
            };
            let amount = deal.swap;
            money::add(SWAP, &[("account", account), ("sign", sign)], amount);
        }
    }
}

fn event_type(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::BarClosed { .. } => "bar_closed",
        EventKind::SignalRecorded { .. } => "signal_recorded",
        EventKind::OrderIntent { .. } => "order_intent",
        EventKind::OrderSucceeded { .. } => "order_succeeded",
        EventKind::OrderFailed { .. } => "order_failed",
        EventKind::PositionOpened { .. } => "position_opened",
        EventKind::PositionModified { .. } => "position_modified",
        EventKind::PositionClosed { .. } => "position_closed",
        EventKind::EntryDeal { .. } => "entry_deal",
        EventKind::PositionExit { .. } => "position_exit",
        EventKind::AccountSnapshot { .. } => "account_snapshot",
        EventKind::KillSwitch { .. } => "kill_switch",
        EventKind::Connection { .. } => "connection",
        EventKind::ConfigReloaded { .. } => "config_reloaded",
        EventKind::Session { .. } => "session",
        EventKind::Error { .. } => "error",
        EventKind::OperatorCommand { .. } => "operator_command",
        EventKind::Approval { .. } => "approval",
        EventKind::SentimentVerdict { .. } => "sentiment_verdict",
    }
}

fn direction(kind: SignalKind) -> &'static str {
    match kind {
        SignalKind::Buy => "buy",
        SignalKind::Sell => "sell",
        SignalKind::Close => "close",
        SignalKind::Hold => "hold",
    }
}

/// The kill switch's trigger from its event's reason. The event carries the sentence the risk
/// layer wrote (`mtq_risk::KillSwitch`): these are its fixed openings.
pub fn kill_reason(reason: &str) -> &'static str {
    let r = reason.to_ascii_lowercase();
    if r.starts_with("stopped by hand") {
        "manual"
    } else if r.contains("kill-switch file") {
        "file"
    } else if r.contains("emergency_stop") {
        "emergency_stop"
    } else if r.contains("orders failed in a row") {
        "order_failures"
    } else if r.contains("daily loss") || r.contains("daily_loss") {
        "daily_loss"
    } else if r.contains("drawdown") {
        "drawdown"
    } else {
        "other"
    }
}

/// An operator command's name as a label: the control channel's stable snake_case names, and
/// `other` for anything else (a label never takes free text).
fn command_label(command: &str) -> String {
    let ok = !command.is_empty()
        && command.len() <= 40
        && command.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if ok {
        command.to_string()
    } else {
        "other".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_switch_reasons_map_to_their_triggers() {
        assert_eq!(kill_reason("stopped by hand: api"), "manual");
        assert_eq!(kill_reason("the kill-switch file is present"), "file");
        assert_eq!(
            kill_reason("emergency.emergency_stop is set in the config"),
            "emergency_stop"
        );
        assert_eq!(
            kill_reason("5 orders failed in a row (emergency.max_consecutive_order_failures is 5)"),
            "order_failures"
        );
        assert_eq!(kill_reason("something new"), "other");
    }

    #[test]
    fn free_text_never_becomes_a_command_label() {
        assert_eq!(command_label("pause_entries"), "pause_entries");
        assert_eq!(command_label("DROP TABLE"), "other");
        assert_eq!(command_label(""), "other");
    }
}
