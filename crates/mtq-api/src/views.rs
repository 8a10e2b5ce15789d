//! The JSON shapes the API answers with (the OpenAPI schemas). Money is a decimal string.

use chrono::{DateTime, Utc};
use mtq_core::{AccountInfo, PendingOrder, Position};
use mtq_orchestrator::LiveSnapshot;
use mtq_persistence::{
    AuditEventRecord, OrderRecord, OrderTransition, SignalRecord, SnapshotRecord, TradeRecord,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A serde tag (`buy`, `market`, ...) as text.
pub(crate) fn tag<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// The account as the trader last saw it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub name: String,
    pub login: Option<u64>,
    pub server: Option<String>,
    pub currency: Option<String>,
    pub balance: Option<Decimal>,
    pub equity: Option<Decimal>,
    pub margin: Option<Decimal>,
    pub free_margin: Option<Decimal>,
    /// Equity over margin in percent; absent without open positions.
    pub margin_level: Option<Decimal>,
    pub broker_connected: bool,
    pub database_ok: bool,
    /// `running`, `entries_paused` or `stopped`.
    pub trading: String,
    /// `active`, `reduce_only` or `halted`.
    pub kill_switch: String,
    pub kill_switch_reason: String,
    pub disabled_symbols: Vec<String>,
    pub cycle: u64,
    pub at: DateTime<Utc>,
}

impl AccountView {
    pub(crate) fn from_snapshot(s: &LiveSnapshot) -> Self {
        let a: Option<&AccountInfo> = s.account.as_ref();
        Self {
            name: s.account_name.clone(),
            login: a.map(|a| a.login),
            server: a.map(|a| a.server.clone()),
            currency: a.map(|a| a.currency.as_str().to_string()),
            balance: a.map(|a| a.balance),
            equity: a.map(|a| a.equity),
            margin: a.map(|a| a.margin),
            free_margin: a.map(|a| a.free_margin),
            margin_level: a.and_then(|a| a.margin_level),
            broker_connected: s.health.broker_connected,
            database_ok: s.health.intent_store_ok,
            trading: tag(&s.trading),
            kill_switch: s.kill_switch.clone(),
            kill_switch_reason: s.kill_switch_reason.clone(),
            disabled_symbols: s
                .disabled_symbols
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            cycle: s.cycle,
            at: s.at,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PositionView {
    pub ticket: u64,
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    pub volume: Decimal,
    pub open_price: Decimal,
    pub open_time: DateTime<Utc>,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    pub current_price: Decimal,
    pub swap: Decimal,
    pub profit: Decimal,
    pub magic: u64,
    pub comment: String,
}

impl From<&Position> for PositionView {
    fn from(p: &Position) -> Self {
        Self {
            ticket: p.ticket.0,
            symbol: p.symbol.as_str().into(),
            side: tag(&p.side),
            volume: p.volume,
            open_price: p.open_price,
            open_time: p.open_time,
            sl: p.sl,
            tp: p.tp,
            current_price: p.current_price,
            swap: p.swap,
            profit: p.profit,
            magic: p.magic.0,
            comment: p.comment.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingOrderView {
    pub ticket: u64,
    pub symbol: String,
    pub side: String,
    pub kind: String,
    pub volume: Decimal,
    pub price: Decimal,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    pub time_setup: DateTime<Utc>,
    pub comment: String,
}

impl From<&PendingOrder> for PendingOrderView {
    fn from(p: &PendingOrder) -> Self {
        Self {
            ticket: p.ticket.0,
            symbol: p.symbol.as_str().into(),
            side: tag(&p.side),
            kind: tag(&p.kind),
            volume: p.volume,
            price: p.price,
            sl: p.sl,
            tp: p.tp,
            time_setup: p.time_setup,
            comment: p.comment.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TradeView {
    pub id: i64,
    pub ticket: u64,
    pub symbol: String,
    pub side: String,
    pub volume: Decimal,
    pub closed_volume: Decimal,
    pub entry_price: Decimal,
    pub entry_time: DateTime<Utc>,
    pub exit_price: Option<Decimal>,
    pub exit_time: Option<DateTime<Utc>>,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    pub commission: Decimal,
    pub swap: Decimal,
    pub profit: Decimal,
    pub net_profit: Decimal,
    pub pips: Option<Decimal>,
    pub strategy: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    /// Why the trade ended (`stop_loss`, `take_profit`, `operator`, ...).
    pub exit_reason: Option<String>,
}

impl From<&TradeRecord> for TradeView {
    fn from(t: &TradeRecord) -> Self {
        Self {
            id: t.id,
            ticket: t.ticket.0,
            symbol: t.symbol.as_str().into(),
            side: tag(&t.side),
            volume: t.volume,
            closed_volume: t.closed_volume,
            entry_price: t.entry_price,
            entry_time: t.entry_time,
            exit_price: t.exit_price,
            exit_time: t.exit_time,
            sl: t.sl,
            tp: t.tp,
            commission: t.commission,
            swap: t.swap,
            profit: t.profit,
            net_profit: t.net_profit(),
            pips: t.pips,
            strategy: t.strategy.clone(),
            status: t.status.as_str().into(),
            exit_reason: t.exit_reason.map(|r| r.as_str().to_string()),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalView {
    pub id: i64,
    pub symbol: String,
    pub timeframe: String,
    pub time: DateTime<Utc>,
    pub kind: String,
    pub strategy: String,
    pub reason: String,
    pub confidence: f64,
    /// `executed` or `refused`.
    pub fate: String,
    /// Why risk or a filter refused it.
    pub refusal: Option<String>,
    pub recorded_at: DateTime<Utc>,
    /// The model that filtered it (`name@version`, `+`-joined for an ensemble), when the
    /// symbol has an `ml:` section.
    pub ml_model: Option<String>,
    /// That model's probability for the signal's side; absent when the model had failed.
    pub ml_probability: Option<f64>,
    /// `active`, or `fallen_back` / `stopped` when the model had failed (`on_failure`).
    pub ml_status: Option<String>,
}

impl From<&SignalRecord> for SignalView {
    fn from(s: &SignalRecord) -> Self {
        Self {
            id: s.id,
            symbol: s.signal.symbol.as_str().into(),
            timeframe: s.signal.timeframe.to_string(),
            time: s.signal.time,
            kind: tag(&s.signal.kind),
            strategy: s.signal.strategy.clone(),
            reason: s.signal.reason.clone(),
            confidence: s.signal.confidence,
            fate: if s.refusal.is_some() {
                "refused"
            } else {
                "executed"
            }
            .into(),
            refusal: s.refusal.clone(),
            recorded_at: s.recorded_at,
            ml_model: s.signal.ml.as_ref().map(|m| m.model.clone()),
            ml_probability: s.signal.ml.as_ref().and_then(|m| m.probability),
            ml_status: s.signal.ml.as_ref().map(|m| m.status.as_str().to_string()),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    pub id: i64,
    pub client_order_id: String,
    pub symbol: String,
    pub side: String,
    pub kind: String,
    pub volume: Decimal,
    pub price: Option<Decimal>,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    pub strategy: Option<String>,
    /// `intent`, `done`, `done_partial`, `placed`, `failed` or `unknown`.
    pub state: String,
    pub retcode: Option<String>,
    pub message: Option<String>,
    pub position: Option<u64>,
    /// The broker's order ticket (a pending order's, for `DELETE .../orders/{id}`).
    pub order_ticket: Option<u64>,
    pub filled_volume: Option<Decimal>,
    pub fill_price: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every state it went through, oldest first (only on `GET .../orders/{id}`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub transitions: Vec<TransitionView>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TransitionView {
    pub time: DateTime<Utc>,
    pub state: String,
    pub retcode: Option<String>,
    pub message: Option<String>,
}

impl From<&OrderTransition> for TransitionView {
    fn from(t: &OrderTransition) -> Self {
        Self {
            time: t.time,
            state: t.state.as_str().into(),
            retcode: t.retcode.map(|r| r.to_string()),
            message: t.message.clone(),
        }
    }
}

impl From<&OrderRecord> for OrderView {
    fn from(o: &OrderRecord) -> Self {
        Self {
            id: o.id,
            client_order_id: o.request.client_order_id.as_str().into(),
            symbol: o.request.symbol.as_str().into(),
            side: tag(&o.request.side),
            kind: tag(&o.request.kind),
            volume: o.request.volume,
            price: o.request.price,
            sl: o.request.sl,
            tp: o.request.tp,
            strategy: o.strategy.clone(),
            state: o.state.as_str().into(),
            retcode: o.retcode.map(|r| r.to_string()),
            message: o.message.clone(),
            position: o.position.map(|t| t.0),
            order_ticket: o.order.map(|t| t.0),
            filled_volume: o.filled_volume,
            fill_price: o.fill_price,
            created_at: o.created_at,
            updated_at: o.updated_at,
            transitions: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub time: DateTime<Utc>,
    pub kind: String,
    pub symbol: Option<String>,
    pub message: String,
    /// The event as recorded (JSON).
    pub payload: serde_json::Value,
}

impl From<&AuditEventRecord> for EventView {
    fn from(e: &AuditEventRecord) -> Self {
        Self {
            id: e.id,
            time: e.time,
            kind: e.kind.clone(),
            symbol: e.symbol.clone(),
            message: e.message.clone(),
            payload: serde_json::from_str(&e.payload)
                .unwrap_or_else(|_| serde_json::Value::String(e.payload.clone())),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EquityPoint {
    pub time: DateTime<Utc>,
    pub balance: Decimal,
    pub equity: Decimal,
    pub margin: Decimal,
    pub free_margin: Decimal,
}

impl From<&SnapshotRecord> for EquityPoint {
    fn from(s: &SnapshotRecord) -> Self {
        Self {
            time: s.time,
            balance: s.balance,
            equity: s.equity,
            margin: s.margin,
            free_margin: s.free_margin,
        }
    }
}

/// One page of a list, newest first; `next` is the cursor for the following page.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::{ModelReading, ModelStatus, Signal, SignalKind, Symbol, Timeframe};

    fn record(ml: Option<ModelReading>) -> SignalRecord {
        let mut signal = Signal::new(
            Symbol::new("EURUSD").unwrap(),
            Timeframe::H1,
            DateTime::UNIX_EPOCH,
            SignalKind::Buy,
            0.6,
            "crossover",
            "fast crossed above slow",
        )
        .unwrap();
        signal.ml = ml;
        SignalRecord {
            id: 1,
            account: None,
            signal,
            refusal: None,
            recorded_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_signals_route_shows_the_model_id_probability_and_status() {
        let v = SignalView::from(&record(Some(ModelReading {
            model: "eurusd-rf@1".into(),
            probability: Some(0.61),
            status: ModelStatus::Active,
        })));
        assert_eq!(v.ml_model.as_deref(), Some("eurusd-rf@1"));
        assert_eq!(v.ml_probability, Some(0.61));
        assert_eq!(v.ml_status.as_deref(), Some("active"));
        let failed = SignalView::from(&record(Some(ModelReading {
            model: "models/x".into(),
            probability: None,
            status: ModelStatus::Stopped,
        })));
        assert_eq!(
            (failed.ml_probability, failed.ml_status.as_deref()),
            (None, Some("stopped"))
        );
        let plain = SignalView::from(&record(None));
        assert_eq!((plain.ml_model, plain.ml_status), (None, None));
    }
}
