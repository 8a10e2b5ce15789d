//! The WebSocket `/api/v1/ws`: channels with a snapshot on subscribe, then deltas and events,
//! each with a per-channel sequence number so a client sees a gap.
//!
//! Client → server: `{"op":"subscribe","channels":["trades:default","account:default"]}`,
//! `{"op":"unsubscribe","channels":[...]}`, `{"op":"ping"}`.
//! Server → client: [`WsEnvelope`]s, `{"type":"pong"}` and `{"type":"error","detail":...}`.
//!
//! Channels: `account:{a}` and `positions:{a}` (snapshot, then a delta whenever the trader
//! publishes a changed one), `trades:{a}` (opens, modifications, closes, exits), `orders:{a}`
//! (intents and outcomes), `signals:{a}`, `bars:{a}` (bars closed), `system` (kill switch,
//! connection, reloads, sessions, errors; snapshot: trading state and health),
//! `quotes:{a}:{SYMBOL}` (the latest quote of a traded symbol: snapshot, then a delta when it
//! changes, at most [`QUOTES_PER_SECOND`] a second per symbol, the newest one kept), `alerts`
//! (each alert delivery and its outcome as it happens; history: `GET /api/v1/alerts`) and `logs`
//! (admin only: the last [`LOG_SNAPSHOT`] lines, then each new line at info or above).
//!
//! Nothing here can slow the trader: each client has a bounded queue; a client that lets it
//! fill (or falls behind the event stream) is disconnected with close code 1013 and counted
//! ([`ApiState::ws_dropped`]). The server pings every [`WS_HEARTBEAT`] and closes a client
//! that missed two pongs.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use mtq_core::{DomainEvent, EventKind};
use mtq_orchestrator::{LiveSnapshot, Role};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::extract::QueryParams;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;
use crate::views::{AccountView, PositionView, tag};

/// How often the server pings; two missed pongs close the socket.
pub const WS_HEARTBEAT: Duration = Duration::from_secs(15);
/// Close code for a client too slow to keep up (RFC 6455 "try again later").
pub const CLOSE_SLOW: u16 = 1013;
/// The most quote messages a second on one `quotes:` channel.
pub const QUOTES_PER_SECOND: u32 = 4;
/// How many recent lines the `logs` channel's snapshot carries.
pub const LOG_SNAPSHOT: usize = 100;
/// The least severe level the `logs` channel streams (info).
const LOG_STREAM_SEVERITY: u8 = 2;

/// One message on a channel.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WsEnvelope {
    /// Protocol version: 1.
    pub v: u8,
    pub ch: String,
    /// Per channel, from 1, without gaps.
    pub seq: u64,
    pub ts: DateTime<Utc>,
    /// `snapshot`, `delta` or `event`.
    #[serde(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum ClientOp {
    Subscribe { channels: Vec<String> },
    Unsubscribe { channels: Vec<String> },
    Ping,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct WsQuery {
    /// A ticket from `POST /api/v1/auth/ws-ticket` (single use, 30 s).
    pub ticket: Option<String>,
    /// The account whose channels this connection carries (`accounts:`); default: the first.
    pub account: Option<String>,
}

/// Opens the WebSocket (browsers: `?ticket=` from `POST /auth/ws-ticket`; other clients may
/// send `Authorization` instead).
#[utoipa::path(get, path = "/api/v1/ws", tag = "websocket", security(("bearer" = [])),
    params(WsQuery),
    responses((status = 101, description = "switching to the WebSocket protocol"),
        (status = 401, body = Problem), (status = 426, body = Problem)))]
pub async fn ws(
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<WsQuery>,
    header_caller: Result<Caller, ApiError>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let caller = match q.ticket {
        Some(t) => state.auth().redeem_ticket(&t).ok_or_else(|| {
            ApiError::unauthorized("the WebSocket ticket is unknown, used or expired")
        }),
        None => header_caller,
    };
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let state = match q.account.as_deref().map(|a| state.account(a)).transpose() {
        Ok(s) => s.unwrap_or(state),
        Err(e) => return e.into_response(),
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(r) => {
            return ApiError::new(axum::http::StatusCode::UPGRADE_REQUIRED, r.body_text())
                .into_response();
        }
    };
    upgrade.on_upgrade(move |socket| client(socket, state, caller))
}

/// What a client's session does: forwards channels into its bounded queue; a writer drains it.
async fn client(socket: WebSocket, state: ApiState, caller: Caller) {
    use futures_util::{SinkExt, StreamExt};
    let counter = state.ws_clients();
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(state.options().ws_queue.max(1));
    let (kill, mut killed) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                _ = &mut killed => {
                    // Too slow: skip whatever is queued and say why.
                    let frame = CloseFrame { code: CLOSE_SLOW, reason: "too slow: reconnect and resubscribe".into() };
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(Some(frame)))).await;
                    break;
                }
                m = rx.recv() => {
                    let Some(m) = m else { break };
                    let close = matches!(m, Message::Close(_));
                    if sink.send(m).await.is_err() || close {
                        break;
                    }
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    });

    let account = state.account_name().to_string();
    let mut session = Session {
        account,
        subs: BTreeSet::new(),
        seq: HashMap::new(),
        tx: tx.clone(),
        admin: caller.role >= Role::Admin,
        logs: state.options().logs.clone(),
        quotes_sent: HashMap::new(),
        log_floor: 0,
    };
    let mut log_lines: Option<broadcast::Receiver<crate::logs::LogLine>> = None;
    let mut quote_beat =
        tokio::time::interval(Duration::from_millis(1000 / u64::from(QUOTES_PER_SECOND)));
    quote_beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut events: Option<broadcast::Receiver<DomainEvent>> =
        state.control().ok().map(|h| h.subscribe());
    let mut alerts = state
        .options()
        .alerts
        .as_ref()
        .map(broadcast::Sender::subscribe);
    let mut snaps = state.control().ok().map(|h| h.watch());
    let mut last_snap = state.snapshot();
    let mut beat = tokio::time::interval(WS_HEARTBEAT);
    beat.tick().await;
    let mut last_pong = Instant::now();

    let slow = loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(Ok(msg)) = msg else { break false };
                match msg {
                    Message::Text(t) => {
                        // Lines are read only while someone here wants them; the receiver opens
                        // before the snapshot is taken so no line falls between the two (the
                        // snapshot's newest `seq` keeps a line from coming twice).
                        if session.admin && log_lines.is_none() && t.as_str().contains("\"logs\"") {
                            log_lines = session.logs.as_ref().map(crate::logs::LogBuffer::subscribe);
                        }
                        if !session.client_op(t.as_str(), last_snap.as_deref()) { break true; }
                        if !session.subs.contains("logs") {
                            log_lines = None;
                        }
                    }
                    Message::Pong(_) => last_pong = Instant::now(),
                    Message::Close(_) => break false,
                    _ => {}
                }
            }
            ev = recv_event(&mut events) => {
                match ev {
                    Ok(ev) => if !session.event(&ev) { break true },
                    Err(broadcast::error::RecvError::Lagged(_)) => break true,
                    Err(broadcast::error::RecvError::Closed) => events = None,
                }
            }
            changed = changed(&mut snaps) => {
                if changed {
                    let new = snaps.as_ref().map(|s| s.borrow().clone());
                    if let Some(new) = new {
                        if !session.snapshot_delta(last_snap.as_deref(), &new) { break true; }
                        last_snap = Some(new);
                    }
                } else {
                    snaps = None;
                }
            }
            alert = recv_alert(&mut alerts) => {
                match alert {
                    Ok(a) => if !session.alert(a) { break true },
                    // Deliveries lost while this client lagged: the history route has them all.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => alerts = None,
                }
            }
            line = recv_line(&mut log_lines) => {
                match line {
                    Ok(l) => if !session.log_line(&l) { break true },
                    // Lines lost while this client lagged: each line's own `seq` shows the gap.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => log_lines = None,
                }
            }
            _ = quote_beat.tick(), if session.quotes_pending() => {
                if !session.flush_quotes(last_snap.as_deref()) { break true; }
            }
            _ = beat.tick() => {
                if last_pong.elapsed() > WS_HEARTBEAT * 2 + Duration::from_secs(1) { break false; }
                if tx.try_send(Message::Ping(Vec::new().into())).is_err() { break true; }
            }
        }
    };
    if slow {
        state.count_ws_dropped();
        tracing::warn!("a WebSocket client fell behind and was disconnected");
        let _ = kill.send(());
        drop(session);
        drop(tx);
        if tokio::time::timeout(Duration::from_secs(3), writer)
            .await
            .is_err()
        {
            tracing::debug!("a slow WebSocket client's writer did not finish in time");
        }
    } else {
        let _ = tx.try_send(Message::Close(None));
        drop(session);
        drop(tx);
        let _ = writer.await;
    }
    counter.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

async fn recv_event(
    rx: &mut Option<broadcast::Receiver<DomainEvent>>,
) -> Result<DomainEvent, broadcast::error::RecvError> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_alert(
    rx: &mut Option<broadcast::Receiver<serde_json::Value>>,
) -> Result<serde_json::Value, broadcast::error::RecvError> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_line(
    rx: &mut Option<broadcast::Receiver<crate::logs::LogLine>>,
) -> Result<crate::logs::LogLine, broadcast::error::RecvError> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn changed(
    rx: &mut Option<tokio::sync::watch::Receiver<std::sync::Arc<LiveSnapshot>>>,
) -> bool {
    match rx {
        Some(r) => r.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

struct Session {
    account: String,
    subs: BTreeSet<String>,
    seq: HashMap<String, u64>,
    tx: mpsc::Sender<Message>,
    /// May read the `logs` channel.
    admin: bool,
    logs: Option<crate::logs::LogBuffer>,
    /// The newest log line's `seq` when the `logs` snapshot was taken.
    log_floor: u64,
    /// Per `quotes:` channel: when it last sent, and the quote it sent (JSON).
    quotes_sent: HashMap<String, QuoteSent>,
}

struct QuoteSent {
    at: Instant,
    data: serde_json::Value,
    /// A newer quote waits for the throttle.
    pending: bool,
}

impl Session {
    /// Queues a message; `false` when the client's queue is full.
    fn push(&mut self, ch: &str, kind: &str, data: serde_json::Value) -> bool {
        let seq = self.seq.entry(ch.to_string()).or_insert(0);
        *seq += 1;
        let env = WsEnvelope {
            v: 1,
            ch: ch.to_string(),
            seq: *seq,
            ts: Utc::now(),
            kind: kind.into(),
            data,
        };
        let text = serde_json::to_string(&env).unwrap_or_default();
        self.tx.try_send(Message::Text(text.into())).is_ok()
    }

    fn reply(&self, v: serde_json::Value) -> bool {
        self.tx
            .try_send(Message::Text(v.to_string().into()))
            .is_ok()
    }

    fn known(&self, ch: &str, snap: Option<&LiveSnapshot>) -> bool {
        let a = &self.account;
        if let Some(sym) = ch
            .strip_prefix("quotes:")
            .and_then(|r| r.strip_prefix(a.as_str()))
            .and_then(|r| r.strip_prefix(':'))
        {
            return snap.is_some_and(|s| s.symbols.iter().any(|x| x.symbol.as_str() == sym));
        }
        ch == "system"
            || ch == "logs"
            || ch == "alerts"
            || [
                "account",
                "positions",
                "trades",
                "orders",
                "signals",
                "bars",
                "performance",
            ]
            .iter()
            .any(|p| ch == format!("{p}:{a}"))
    }

    fn client_op(&mut self, text: &str, snap: Option<&LiveSnapshot>) -> bool {
        let op: ClientOp = match serde_json::from_str(text) {
            Ok(op) => op,
            Err(e) => {
                return self.reply(
                    serde_json::json!({"type": "error", "detail": format!("bad message: {e}")}),
                );
            }
        };
        match op {
            ClientOp::Ping => self.reply(serde_json::json!({"type": "pong"})),
            ClientOp::Unsubscribe { channels } => {
                for c in channels {
                    self.quotes_sent.remove(&c);
                    self.subs.remove(&c);
                }
                true
            }
            ClientOp::Subscribe { channels } => {
                for c in channels {
                    if c == "logs" && !self.admin {
                        if !self.reply(serde_json::json!({"type": "error", "detail": "the logs channel needs the admin role"})) {
                            return false;
                        }
                        continue;
                    }
                    if !self.known(&c, snap) {
                        if !self.reply(serde_json::json!({"type": "error", "detail": format!("unknown channel `{c}`")})) {
                            return false;
                        }
                        continue;
                    }
                    self.subs.insert(c.clone());
                    let data = match c.as_str() {
                        "logs" => {
                            let lines = self.logs.as_ref().map_or_else(Vec::new, |b| {
                                // Taken first: a line logged while `recent` runs comes as an event.
                                self.log_floor = b.last_seq();
                                b.recent(LOG_STREAM_SEVERITY, None, LOG_SNAPSHOT)
                                    .into_iter()
                                    .filter(|l| l.seq <= self.log_floor)
                                    .collect()
                            });
                            serde_json::to_value(lines).unwrap_or_default()
                        }
                        _ => snapshot_of(&c, snap),
                    };
                    if c.starts_with("quotes:") {
                        self.quotes_sent.insert(
                            c.clone(),
                            QuoteSent {
                                at: Instant::now(),
                                data: data.clone(),
                                pending: false,
                            },
                        );
                    }
                    if !self.push(&c, "snapshot", data) {
                        return false;
                    }
                }
                true
            }
        }
    }

    fn event(&mut self, ev: &DomainEvent) -> bool {
        let ch = match channel_of(&ev.kind) {
            "system" => "system".to_string(),
            p => format!("{p}:{}", self.account),
        };
        if !self.subs.contains(&ch) {
            return true;
        }
        let data = serde_json::to_value(ev).unwrap_or_default();
        self.push(&ch, "event", data)
    }

    /// One alert delivery and its outcome, to `alerts` subscribers.
    fn alert(&mut self, data: serde_json::Value) -> bool {
        if !self.subs.contains("alerts") {
            return true;
        }
        self.push("alerts", "event", data)
    }

    fn log_line(&mut self, line: &crate::logs::LogLine) -> bool {
        if !self.subs.contains("logs")
            || line.seq <= self.log_floor
            || crate::logs::severity(&line.level).is_none_or(|s| s > LOG_STREAM_SEVERITY)
        {
            return true;
        }
        self.push(
            "logs",
            "event",
            serde_json::to_value(line).unwrap_or_default(),
        )
    }

    fn quotes_pending(&self) -> bool {
        self.quotes_sent.values().any(|q| q.pending)
    }

    /// Sends each subscribed quote that changed, unless its channel sent one less than a
    /// throttle interval ago: then it waits for [`Session::flush_quotes`].
    fn quotes(&mut self, new: &LiveSnapshot) -> bool {
        let every = Duration::from_millis(1000 / u64::from(QUOTES_PER_SECOND));
        let channels: Vec<String> = self.quotes_sent.keys().cloned().collect();
        for ch in channels {
            let data = snapshot_of(&ch, Some(new));
            let Some(sent) = self.quotes_sent.get_mut(&ch) else {
                continue;
            };
            if sent.data == data {
                sent.pending = false;
                continue;
            }
            if sent.at.elapsed() < every {
                sent.pending = true;
                continue;
            }
            sent.at = Instant::now();
            sent.data = data.clone();
            sent.pending = false;
            if !self.push(&ch, "delta", data) {
                return false;
            }
        }
        true
    }

    fn flush_quotes(&mut self, snap: Option<&LiveSnapshot>) -> bool {
        match snap {
            Some(s) => self.quotes(s),
            None => true,
        }
    }

    fn snapshot_delta(&mut self, old: Option<&LiveSnapshot>, new: &LiveSnapshot) -> bool {
        if !self.quotes_sent.is_empty() && !self.quotes(new) {
            return false;
        }
        let a = self.account.clone();
        let acc = format!("account:{a}");
        let pos = format!("positions:{a}");
        let account_changed = old.is_none_or(|o| {
            o.account != new.account || o.trading != new.trading || o.kill_switch != new.kill_switch
        });
        let positions_changed = old.is_none_or(|o| o.positions != new.positions);
        let system_changed = old.is_none_or(|o| {
            o.trading != new.trading || o.kill_switch != new.kill_switch || o.health != new.health
        });
        let perf = format!("performance:{a}");
        let performance_changed = old.is_none_or(|o| performance_of(o) != performance_of(new));
        for (ch, changed) in [
            (acc.as_str(), account_changed),
            (pos.as_str(), positions_changed),
            ("system", system_changed),
            (perf.as_str(), performance_changed),
        ] {
            if changed
                && self.subs.contains(ch)
                && !self.push(ch, "delta", snapshot_of(ch, Some(new)))
            {
                return false;
            }
        }
        true
    }
}

/// The channel prefix an event belongs to.
fn channel_of(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::BarClosed { .. } => "bars",
        EventKind::SignalRecorded { .. } => "signals",
        EventKind::OrderIntent { .. }
        | EventKind::OrderSucceeded { .. }
        | EventKind::OrderFailed { .. } => "orders",
        EventKind::PositionOpened { .. }
        | EventKind::PositionModified { .. }
        | EventKind::PositionClosed { .. }
        | EventKind::EntryDeal { .. }
        | EventKind::PositionExit { .. } => "trades",
        EventKind::AccountSnapshot { .. } => "account",
        _ => "system",
    }
}

/// The `performance:{account}` channel: the trading day's figures as the driver last saw them
/// (today's P&L against the daily-loss limit, drawdown against its limit, floating P&L of the open
/// positions). It changes when a trade closes or prices move; history is on the
/// `performance` REST routes.
fn performance_of(s: &LiveSnapshot) -> serde_json::Value {
    use rust_decimal::Decimal;
    let used = |value: Decimal, limit: Option<Decimal>| {
        limit
            .filter(|l| !l.is_zero())
            .map(|l| (value / l * Decimal::ONE_HUNDRED).round_dp(2).to_string())
    };
    let loss = (-s.daily_pnl).max(Decimal::ZERO);
    let floating: Decimal = s.positions.iter().map(|p| p.profit + p.swap).sum();
    serde_json::json!({
        "daily_pnl": s.daily_pnl.to_string(),
        "daily_loss_limit": s.daily_loss_limit.map(|d| d.to_string()),
        "daily_loss_used_pct": used(loss, s.daily_loss_limit),
        "drawdown_pct": s.drawdown_pct.to_string(),
        "drawdown_limit_pct": s.drawdown_limit_pct.map(|d| d.to_string()),
        "drawdown_used_pct": used(s.drawdown_pct, s.drawdown_limit_pct),
        "balance": s.account.as_ref().map(|a| a.balance.to_string()),
        "equity": s.account.as_ref().map(|a| a.equity.to_string()),
        "floating_pnl": floating.to_string(),
        "open_positions": s.positions.len(),
    })
}

/// What a subscriber gets first.
fn snapshot_of(ch: &str, snap: Option<&LiveSnapshot>) -> serde_json::Value {
    let Some(s) = snap else {
        return serde_json::Value::Null;
    };
    let prefix = ch.split(':').next().unwrap_or_default();
    match prefix {
        "account" => serde_json::to_value(AccountView::from_snapshot(s)).unwrap_or_default(),
        "positions" => serde_json::to_value(
            s.positions
                .iter()
                .map(PositionView::from)
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default(),
        "quotes" => {
            let sym = ch.rsplit(':').next().unwrap_or_default();
            s.symbols
                .iter()
                .find(|x| x.symbol.as_str() == sym)
                .and_then(|x| crate::routes::market::quote_view(s, x))
                .map_or(serde_json::Value::Null, |q| {
                    serde_json::to_value(q).unwrap_or_default()
                })
        }
        "performance" => performance_of(s),
        "system" => serde_json::json!({
            "trading": tag(&s.trading),
            "kill_switch": s.kill_switch,
            "kill_switch_reason": s.kill_switch_reason,
            "broker_connected": s.health.broker_connected,
            "database_ok": s.health.intent_store_ok,
            "last_cycle": s.health.last_cycle,
            "cycle": s.cycle,
        }),
        // Event channels start empty: history is on the REST routes.
        _ => serde_json::json!({"cycle": s.cycle}),
    }
}
