//! What an alert is about, and the alert a trader's event makes.

use std::fmt;

use chrono::{DateTime, Utc};
use mtq_core::{Decimal, DomainEvent, EventKind, KillSwitchState};
use mtq_orchestrator::config::{AlertLevel, EventLevels};
use serde::{Deserialize, Serialize};

/// The event types an operator can route, silence or turn off per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    KillSwitchTripped,
    KillSwitchReset,
    /// The broker refused an order (its MT5 return code says why).
    OrderRejected,
    /// An order's outcome is unknown (a timeout, a lost reply): reconciliation settles it.
    OrderUnknown,
    BrokerDisconnected,
    BrokerReconnected,
    PositionOpened,
    PositionClosed,
    /// A position's stop loss or take profit moved.
    StopsMoved,
    ConfigReloaded,
    /// The day's trades and P&L, after the day ends.
    DailySummary,
    /// A burst of failed logins or rejected credentials on the API.
    AuthFailures,
    /// `mtq-trader alerts test`: always sent.
    Test,
}

impl AlertKind {
    /// Every kind an operator configures (not `test`).
    pub const CONFIGURABLE: [AlertKind; 12] = [
        AlertKind::KillSwitchTripped,
        AlertKind::KillSwitchReset,
        AlertKind::OrderRejected,
        AlertKind::OrderUnknown,
        AlertKind::BrokerDisconnected,
        AlertKind::BrokerReconnected,
        AlertKind::PositionOpened,
        AlertKind::PositionClosed,
        AlertKind::StopsMoved,
        AlertKind::ConfigReloaded,
        AlertKind::DailySummary,
        AlertKind::AuthFailures,
    ];

    /// The stable snake_case name, as stored and configured.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::KillSwitchTripped => "kill_switch_tripped",
            AlertKind::KillSwitchReset => "kill_switch_reset",
            AlertKind::OrderRejected => "order_rejected",
            AlertKind::OrderUnknown => "order_unknown",
            AlertKind::BrokerDisconnected => "broker_disconnected",
            AlertKind::BrokerReconnected => "broker_reconnected",
            AlertKind::PositionOpened => "position_opened",
            AlertKind::PositionClosed => "position_closed",
            AlertKind::StopsMoved => "stops_moved",
            AlertKind::ConfigReloaded => "config_reloaded",
            AlertKind::DailySummary => "daily_summary",
            AlertKind::AuthFailures => "auth_failures",
            AlertKind::Test => "test",
        }
    }

    /// The kind a stored or configured name means.
    pub fn parse(name: &str) -> Option<AlertKind> {
        Self::CONFIGURABLE
            .into_iter()
            .chain([AlertKind::Test])
            .find(|k| k.as_str() == name)
    }

    /// How this kind goes out on a channel with `levels`. A test message always goes.
    pub fn level_in(self, levels: &EventLevels) -> AlertLevel {
        match self {
            AlertKind::KillSwitchTripped => levels.kill_switch_tripped,
            AlertKind::KillSwitchReset => levels.kill_switch_reset,
            AlertKind::OrderRejected => levels.order_rejected,
            AlertKind::OrderUnknown => levels.order_unknown,
            AlertKind::BrokerDisconnected => levels.broker_disconnected,
            AlertKind::BrokerReconnected => levels.broker_reconnected,
            AlertKind::PositionOpened => levels.position_opened,
            AlertKind::PositionClosed => levels.position_closed,
            AlertKind::StopsMoved => levels.stops_moved,
            AlertKind::ConfigReloaded => levels.config_reloaded,
            AlertKind::DailySummary => levels.daily_summary,
            AlertKind::AuthFailures => levels.auth_failures,
            AlertKind::Test => AlertLevel::On,
        }
    }

    /// Sets this kind's level in `levels` (`test` has none).
    pub fn set_level(self, levels: &mut EventLevels, level: AlertLevel) {
        let slot = match self {
            AlertKind::KillSwitchTripped => &mut levels.kill_switch_tripped,
            AlertKind::KillSwitchReset => &mut levels.kill_switch_reset,
            AlertKind::OrderRejected => &mut levels.order_rejected,
            AlertKind::OrderUnknown => &mut levels.order_unknown,
            AlertKind::BrokerDisconnected => &mut levels.broker_disconnected,
            AlertKind::BrokerReconnected => &mut levels.broker_reconnected,
            AlertKind::PositionOpened => &mut levels.position_opened,
            AlertKind::PositionClosed => &mut levels.position_closed,
            AlertKind::StopsMoved => &mut levels.stops_moved,
            AlertKind::ConfigReloaded => &mut levels.config_reloaded,
            AlertKind::DailySummary => &mut levels.daily_summary,
            AlertKind::AuthFailures => &mut levels.auth_failures,
            AlertKind::Test => return,
        };
        *slot = level;
    }

    pub fn severity(self) -> Severity {
        match self {
            AlertKind::KillSwitchTripped
            | AlertKind::OrderUnknown
            | AlertKind::BrokerDisconnected
            | AlertKind::AuthFailures => Severity::Critical,
            AlertKind::OrderRejected | AlertKind::KillSwitchReset | AlertKind::ConfigReloaded => {
                Severity::Warning
            }
            _ => Severity::Info,
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an alert is (the `severity` column of `alert_history`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One notification, before it is routed to the channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub severity: Severity,
    pub time: DateTime<Utc>,
    /// One line, for a subject or a message's first line.
    pub title: String,
    /// The details, plain text.
    pub text: String,
    /// What makes two alerts of one kind the same for the dedup window (a symbol and a return
    /// code, a kill switch's reason); empty: the kind alone.
    pub subject: String,
}

impl Alert {
    /// An alert of `kind` with its default severity.
    pub fn new(
        kind: AlertKind,
        time: DateTime<Utc>,
        title: impl Into<String>,
        text: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            severity: kind.severity(),
            time,
            title: title.into(),
            text: text.into(),
            subject: subject.into(),
        }
    }

    /// The alert a trader's event makes, if it makes one.
    pub fn from_event(event: &DomainEvent) -> Option<Alert> {
        let t = event.time;
        Some(match &event.kind {
            EventKind::KillSwitch { state, reason } => match state {
                KillSwitchState::Active => Alert::new(
                    AlertKind::KillSwitchReset,
                    t,
                    "Kill switch reset: trading allowed again",
                    reason.clone(),
                    "",
                ),
                KillSwitchState::ReduceOnly | KillSwitchState::Halted => {
                    let what = if *state == KillSwitchState::Halted {
                        "halted"
                    } else {
                        "reduce only"
                    };
                    Alert::new(
                        AlertKind::KillSwitchTripped,
                        t,
                        format!("Kill switch tripped ({what})"),
                        reason.clone(),
                        reason.clone(),
                    )
                }
            },
            EventKind::OrderFailed {
                client_order_id,
                retcode: Some(code),
                message,
            } => Alert::new(
                AlertKind::OrderRejected,
                t,
                format!("Order rejected: retcode {}", code.code()),
                format!(
                    "order {client_order_id}: {message} ({})",
                    code.description()
                ),
                code.code().to_string(),
            ),
            // No return code: the reply was lost or timed out; reconciliation settles it.
            EventKind::OrderFailed {
                client_order_id,
                retcode: None,
                message,
            } => Alert::new(
                AlertKind::OrderUnknown,
                t,
                "Order outcome unknown: reconciling",
                format!("order {client_order_id}: {message}"),
                client_order_id.to_string(),
            ),
            EventKind::Connection { connected, detail } => {
                if *connected {
                    Alert::new(
                        AlertKind::BrokerReconnected,
                        t,
                        "Broker connected",
                        detail.clone(),
                        "",
                    )
                } else {
                    Alert::new(
                        AlertKind::BrokerDisconnected,
                        t,
                        "Broker disconnected",
                        detail.clone(),
                        "",
                    )
                }
            }
            EventKind::PositionOpened { position: p } => Alert::new(
                AlertKind::PositionOpened,
                t,
                format!(
                    "Opened {} {} {} at {}",
                    side(p.side),
                    p.volume,
                    p.symbol,
                    p.open_price
                ),
                format!(
                    "ticket {}, SL {}, TP {}",
                    p.ticket,
                    level(p.sl),
                    level(p.tp)
                ),
                p.ticket.to_string(),
            ),
            EventKind::PositionClosed { deal: d } => {
                let symbol = d.symbol.as_ref().map_or("", |s| s.as_str());
                let position = d.position.map_or_else(|| "?".into(), |p| p.to_string());
                Alert::new(
                    AlertKind::PositionClosed,
                    t,
                    format!(
                        "Closed {} {symbol} at {}: {}",
                        d.volume,
                        d.price,
                        signed(d.balance_effect())
                    ),
                    format!(
                        "position {position}, deal {}, profit {}, commission {}, swap {}",
                        d.ticket, d.profit, d.commission, d.swap
                    ),
                    d.ticket.to_string(),
                )
            }
            EventKind::PositionModified { ticket, sl, tp } => Alert::new(
                AlertKind::StopsMoved,
                t,
                format!("Stops moved on {ticket}"),
                format!("SL {}, TP {}", level(*sl), level(*tp)),
                format!("{ticket}:{}:{}", level(*sl), level(*tp)),
            ),
            EventKind::ConfigReloaded { detail } => Alert::new(
                AlertKind::ConfigReloaded,
                t,
                "Configuration reloaded",
                detail.clone(),
                detail.clone(),
            ),
            _ => return None,
        })
    }
}

fn side(s: mtq_core::Side) -> &'static str {
    match s {
        mtq_core::Side::Buy => "BUY",
        mtq_core::Side::Sell => "SELL",
    }
}

fn level(v: Option<Decimal>) -> String {
    v.map_or_else(|| "none".to_string(), |d| d.normalize().to_string())
}

fn signed(v: Decimal) -> String {
    if v.is_sign_negative() {
        v.to_string()
    } else {
        format!("+{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configurable_kind_round_trips_and_has_a_level() {
        let mut levels = EventLevels::all(AlertLevel::On);
        for k in AlertKind::CONFIGURABLE {
            assert_eq!(AlertKind::parse(k.as_str()), Some(k));
            k.set_level(&mut levels, AlertLevel::Off);
            assert_eq!(k.level_in(&levels), AlertLevel::Off, "{k}");
        }
        assert_eq!(levels, EventLevels::all(AlertLevel::Off));
        assert_eq!(AlertKind::parse("kill_switch"), None);
        assert_eq!(AlertKind::Test.level_in(&levels), AlertLevel::On);
    }

    #[test]
    fn a_kill_switch_trip_and_reset_are_two_kinds() {
        let t: DateTime<Utc> = "2024-03-04T10:00:00Z".parse().unwrap();
        let trip = DomainEvent::new(
            t,
            EventKind::KillSwitch {
                state: KillSwitchState::Halted,
                reason: "daily loss 5.1% >= 5%".into(),
            },
        );
        let a = Alert::from_event(&trip).unwrap();
        assert_eq!(a.kind, AlertKind::KillSwitchTripped);
        assert_eq!(a.severity, Severity::Critical);
        assert!(a.title.contains("halted"));
        let reset = DomainEvent::new(
            t,
            EventKind::KillSwitch {
                state: KillSwitchState::Active,
                reason: "operator reset".into(),
            },
        );
        assert_eq!(
            Alert::from_event(&reset).unwrap().kind,
            AlertKind::KillSwitchReset
        );
        let session = DomainEvent::new(t, EventKind::Session { detail: "x".into() });
        assert_eq!(Alert::from_event(&session), None);
    }
}
