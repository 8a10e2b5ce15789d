//! The connection to the terminal: accepting and authenticating the bridge, request/reply
//! correlation, heartbeats, dead-peer detection, and what happens to requests in flight when the
//! connection drops.
//!
//! One task accepts connections; each authenticated connection gets one task that reads, writes
//! and watches the heartbeat. A new authenticated connection from the same account replaces the
//! old one (a terminal that reconnects while its old socket still looks open to us).
//!
//! In-flight requests when a connection drops: data requests are sent again on the next
//! connection, within their deadline; trade requests fail with `after_send: true` and are never
//! sent again, because the terminal may have executed them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mtq_connector::BrokerError;
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tracing::{debug, info, warn};

use crate::codec::{Frame, Inbound, InboundKind, LineDecoder, decode};
use crate::config::Mt5Config;
use crate::events::{Mt5Event, TradeTransaction};
use crate::protocol::{Hello, RequestKind, encode, offset_from, token_matches};
use crate::redact;
use crate::refusals::{RefusalLog, RefusalLogLine, RefusalReason};
use crate::symbols::SymbolNames;
use crate::wire::{self, ServerTime, WireError};

/// A reply from the bridge (`"type":"reply"`).
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// `MqlTradeResult::retcode` for trade requests, 0 otherwise.
    pub retcode: u32,
    pub retcode_external: i64,
    pub comment: String,
    /// `GetLastError()` when the terminal could not serve the request, else 0.
    pub error: i64,
    pub data: Value,
}

impl Reply {
    fn parse(body: &Map<String, Value>) -> Result<Self, WireError> {
        Ok(Self {
            retcode: u32::try_from(wire::opt_i64(body, "retcode")?.unwrap_or(0)).map_err(|_| {
                WireError::Invalid {
                    field: "retcode",
                    detail: "out of range".into(),
                }
            })?,
            retcode_external: wire::opt_i64(body, "retcode_external")?.unwrap_or(0),
            comment: wire::opt_str(body, "comment")?.unwrap_or_default(),
            error: wire::opt_i64(body, "error")?.unwrap_or(0),
            data: body.get("data").cloned().unwrap_or(Value::Null),
        })
    }
}

/// Longest first line a connection may send: a hello is a few hundred bytes. Until the hello is
/// accepted a connection holds at most this much (plus one read buffer of the same size).
pub(crate) const MAX_HELLO_LINE: usize = 4 * 1024;

/// Connections waiting for their hello at once; more are closed as soon as they are accepted.
/// With [`MAX_HELLO_LINE`] this bounds unauthenticated memory to about 128 KiB.
pub(crate) const MAX_PENDING_CONNECTIONS: usize = 16;

/// Ids of requests that gave up, kept to tell a late reply from a reply to an id MTQ never
/// issued. Bounded: the oldest are forgotten first.
const GIVEN_UP_IDS: usize = 1024;

/// Counters a caller (or a test) can read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Terminals authenticated since the connector started.
    pub connections: u64,
    /// Connection attempts refused (bad token, wrong account, bad hello).
    pub refused: u64,
    /// Lines that could not be used (bad JSON, unknown type, over the length cap), survived.
    pub malformed_lines: u64,
    /// Replies that came after their request had given up.
    pub late_replies: u64,
    /// Replies to an id MTQ never issued (a protocol error of the bridge).
    pub unknown_replies: u64,
    /// Connections accepted and waiting for their hello, now.
    pub pending_connections: usize,
    /// Bytes those connections hold (unfinished first lines), now.
    pub pending_bytes: usize,
    /// The most `pending_bytes` has been.
    pub peak_pending_bytes: usize,
    pub last_disconnect: Option<String>,
}

struct Pending {
    tx: oneshot::Sender<Result<Reply, String>>,
    generation: u64,
}

pub(crate) struct Conn {
    generation: u64,
    tx: mpsc::Sender<String>,
    pub(crate) hello: Hello,
    kill: Notify,
}

pub(crate) struct Session {
    pub(crate) cfg: Mt5Config,
    pub(crate) names: SymbolNames,
    next_id: AtomicU64,
    next_generation: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    given_up: Mutex<VecDeque<u64>>,
    pending_conns: AtomicUsize,
    pending_bytes: AtomicUsize,
    peak_pending_bytes: AtomicUsize,
    refusals: Mutex<RefusalLog>,
    current: watch::Sender<Option<Arc<Conn>>>,
    offset: AtomicI64,
    pub(crate) events: broadcast::Sender<Mt5Event>,
    login: Mutex<Option<u64>>,
    stats: Mutex<SessionStats>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("port", &self.cfg.port)
            .field("connected", &self.current.borrow().is_some())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One connection counted as waiting for its hello, with the bytes it holds; uncounted on drop.
struct PendingGuard<'a> {
    session: &'a Session,
    bytes: usize,
}

impl PendingGuard<'_> {
    fn hold(&mut self, bytes: usize) {
        let s = self.session;
        if bytes >= self.bytes {
            let now = s
                .pending_bytes
                .fetch_add(bytes - self.bytes, Ordering::Relaxed)
                + (bytes - self.bytes);
            s.peak_pending_bytes.fetch_max(now, Ordering::Relaxed);
        } else {
            s.pending_bytes
                .fetch_sub(self.bytes - bytes, Ordering::Relaxed);
        }
        self.bytes = bytes;
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.hold(0);
        self.session.pending_conns.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Session {
    pub(crate) fn new(cfg: Mt5Config) -> Arc<Self> {
        let (events, _) = broadcast::channel(1024);
        let names = SymbolNames::new(cfg.symbols.clone());
        let login = Mutex::new(cfg.expected_login);
        let refusals = Mutex::new(RefusalLog::new(cfg.refusal_log_interval));
        Arc::new(Self {
            cfg,
            names,
            next_id: AtomicU64::new(1),
            next_generation: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            given_up: Mutex::new(VecDeque::with_capacity(GIVEN_UP_IDS)),
            pending_conns: AtomicUsize::new(0),
            pending_bytes: AtomicUsize::new(0),
            peak_pending_bytes: AtomicUsize::new(0),
            refusals,
            current: watch::Sender::new(None),
            offset: AtomicI64::new(0),
            events,
            login,
            stats: Mutex::new(SessionStats::default()),
        })
    }

    pub(crate) fn server_time(&self) -> ServerTime {
        ServerTime {
            offset_secs: self.offset.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn stats(&self) -> SessionStats {
        SessionStats {
            pending_connections: self.pending_conns.load(Ordering::Relaxed),
            pending_bytes: self.pending_bytes.load(Ordering::Relaxed),
            peak_pending_bytes: self.peak_pending_bytes.load(Ordering::Relaxed),
            ..lock(&self.stats).clone()
        }
    }

    pub(crate) fn hello(&self) -> Option<Hello> {
        self.current.borrow().as_ref().map(|c| c.hello.clone())
    }

    pub(crate) fn subscribe_state(&self) -> watch::Receiver<Option<Arc<Conn>>> {
        self.current.subscribe()
    }

    /// Drops the current connection (shutdown).
    pub(crate) fn disconnect(&self) {
        if let Some(c) = self.current.borrow().as_ref() {
            c.kill.notify_one();
        }
    }

    fn emit(&self, e: Mt5Event) {
        // No subscriber is fine.
        let _ = self.events.send(e);
    }

    fn bump(&self, f: impl FnOnce(&mut SessionStats)) {
        f(&mut lock(&self.stats));
    }

    // ----- accepting ---------------------------------------------------------------------

    pub(crate) async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        let mut summary = tokio::time::interval(self.cfg.refusal_log_interval);
        summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = summary.tick() => {
                    let line = lock(&self.refusals).flush(Instant::now());
                    if let Some(line) = line {
                        warn!("{line}");
                    }
                    continue;
                }
            };
            match accepted {
                Ok((stream, peer)) => {
                    let waiting = self.pending_conns.fetch_add(1, Ordering::Relaxed);
                    if waiting >= MAX_PENDING_CONNECTIONS {
                        self.pending_conns.fetch_sub(1, Ordering::Relaxed);
                        // Closed at once: no read, no write, no buffer.
                        drop(stream);
                        self.note_refusal(
                            RefusalReason::TooManyPending,
                            &format!("{MAX_PENDING_CONNECTIONS} connections are already waiting for their hello"),
                        );
                        continue;
                    }
                    debug!(%peer, "bridge connection accepted");
                    tokio::spawn(Arc::clone(&self).serve(stream));
                }
                Err(e) => {
                    warn!(error = %e, "accepting a bridge connection failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Counts a refusal and logs it rate-limited (see [`RefusalLog`]).
    fn note_refusal(&self, reason: RefusalReason, detail: &str) {
        self.bump(|s| s.refused += 1);
        let line = lock(&self.refusals).record(Instant::now(), reason);
        match line {
            RefusalLogLine::First => warn!(
                %reason,
                detail,
                "bridge connection refused (further refusals are summarised every {} s)",
                self.cfg.refusal_log_interval.as_secs()
            ),
            RefusalLogLine::Summary(summary) => warn!("{summary}"),
            RefusalLogLine::Quiet => {}
        }
    }

    async fn refuse(&self, stream: &mut TcpStream, id: u64, reason: RefusalReason, why: &str) {
        self.note_refusal(reason, why);
        let mut f = Map::new();
        f.insert("comment".into(), why.into());
        let line = encode(id, "error", f);
        let _ = timeout(Duration::from_secs(2), stream.write_all(line.as_bytes())).await;
        let _ = stream.shutdown().await;
    }

    /// Reads frames until the first complete line: the hello. Holds at most
    /// [`MAX_HELLO_LINE`] bytes of it, counted in `guard`.
    async fn read_hello(
        &self,
        stream: &mut TcpStream,
        decoder: &mut LineDecoder,
        frames: &mut Vec<Frame>,
        guard: &mut PendingGuard<'_>,
    ) -> Result<Vec<u8>, (RefusalReason, String)> {
        let mut buf = vec![0u8; MAX_HELLO_LINE];
        loop {
            if !frames.is_empty() {
                return match frames.remove(0) {
                    Frame::Line(l) => Ok(l),
                    Frame::TooLong { max } => Err((
                        RefusalReason::HelloTooLong,
                        format!("first line longer than {max} bytes: not a hello"),
                    )),
                };
            }
            let n = stream.read(&mut buf).await.map_err(|e| {
                (
                    RefusalReason::NoHello,
                    format!("read failed before hello: {e}"),
                )
            })?;
            if n == 0 {
                return Err((RefusalReason::NoHello, "closed before sending hello".into()));
            }
            decoder.push(&buf[..n], frames);
            let framed: usize = frames
                .iter()
                .map(|f| match f {
                    Frame::Line(l) => l.len(),
                    Frame::TooLong { .. } => 0,
                })
                .sum();
            guard.hold(decoder.buffered() + framed);
        }
    }

    async fn serve(self: Arc<Self>, mut stream: TcpStream) {
        let mut guard = PendingGuard {
            session: &self,
            bytes: 0,
        };
        let _ = stream.set_nodelay(true);
        let mut decoder = LineDecoder::new(MAX_HELLO_LINE);
        let mut frames = Vec::new();
        let line = match timeout(
            self.cfg.hello_timeout,
            self.read_hello(&mut stream, &mut decoder, &mut frames, &mut guard),
        )
        .await
        {
            Ok(Ok(line)) => line,
            Ok(Err((reason, why))) => return self.refuse(&mut stream, 0, reason, &why).await,
            Err(_) => {
                let why = format!("no hello within {:?}", self.cfg.hello_timeout);
                return self
                    .refuse(&mut stream, 0, RefusalReason::NoHello, &why)
                    .await;
            }
        };
        let msg = match decode(&line) {
            Ok(m) if m.kind == InboundKind::Hello => m,
            Ok(m) => {
                let why = format!("expected hello first, got {:?}", m.kind);
                return self
                    .refuse(&mut stream, m.id, RefusalReason::BadHello, &why)
                    .await;
            }
            Err(e) => {
                let why = format!("bad hello: {e}");
                return self
                    .refuse(&mut stream, 0, RefusalReason::BadHello, &why)
                    .await;
            }
        };
        let token = msg.body.get("token").and_then(Value::as_str).unwrap_or("");
        if !token_matches(self.cfg.token.expose(), token) {
            return self
                .refuse(
                    &mut stream,
                    msg.id,
                    RefusalReason::WrongToken,
                    "wrong token: set the EA's Token input to MTQ's bridge token",
                )
                .await;
        }
        let hello = match Hello::parse(&msg.body) {
            Ok(h) => h,
            Err(e) => {
                let why = format!("bad hello: {e}");
                return self
                    .refuse(&mut stream, msg.id, RefusalReason::BadHello, &why)
                    .await;
            }
        };
        let pinned = {
            let mut login = lock(&self.login);
            match *login {
                Some(l) if l != hello.login => Some(l),
                _ => {
                    *login = Some(hello.login);
                    None
                }
            }
        };
        if let Some(l) = pinned {
            let why = format!(
                "the terminal is logged in to account {}, but this MTQ serves account {l}",
                hello.login
            );
            return self
                .refuse(&mut stream, msg.id, RefusalReason::WrongAccount, &why)
                .await;
        }
        // Authenticated: the normal line cap applies, and the connection no longer counts as
        // waiting.
        decoder.set_max_line(self.cfg.max_line_bytes);
        drop(guard);
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let mut welcome = Map::new();
        welcome.insert("session".into(), generation.into());
        welcome.insert(
            "heartbeat_ms".into(),
            u64::try_from(self.cfg.heartbeat_interval.as_millis())
                .unwrap_or(u64::MAX)
                .into(),
        );
        let line = encode(msg.id, "welcome", welcome);
        if let Err(e) = stream.write_all(line.as_bytes()).await {
            warn!(error = %e, "bridge connection lost while welcoming it");
            return;
        }
        let (tx, rx) = mpsc::channel(256);
        let conn = Arc::new(Conn {
            generation,
            tx,
            hello: hello.clone(),
            kill: Notify::new(),
        });
        self.offset
            .store(hello.server_offset_secs, Ordering::Relaxed);
        if let Some(old) = self.current.send_replace(Some(Arc::clone(&conn))) {
            info!("a new bridge connection replaces the previous one");
            old.kill.notify_one();
        }
        self.bump(|s| s.connections += 1);
        info!(
            login = hello.login,
            server = %hello.server,
            build = hello.terminal_build,
            offset_secs = hello.server_offset_secs,
            "MT5 terminal connected"
        );
        if !hello.terminal_trade_allowed || !hello.ea_trade_allowed {
            warn!(
                "algo trading is disabled in the terminal or in the EA's properties: orders will be refused (10027)"
            );
        }
        self.emit(Mt5Event::Connected(hello));
        let reason = self.run(&conn, stream, decoder, frames, rx).await;
        self.lost(&conn, &reason);
    }

    async fn run(
        &self,
        conn: &Conn,
        stream: TcpStream,
        mut decoder: LineDecoder,
        mut frames: Vec<Frame>,
        mut rx: mpsc::Receiver<String>,
    ) -> String {
        let (mut rd, mut wr) = stream.into_split();
        let mut buf = vec![0u8; 64 * 1024];
        for f in frames.drain(..) {
            self.frame(f);
        }
        let mut beat = tokio::time::interval(self.cfg.heartbeat_interval);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_rx = Instant::now();
        let write_limit = self.cfg.heartbeat_timeout;
        loop {
            let dead_at = last_rx + self.cfg.heartbeat_timeout;
            let out = tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) => return "the terminal closed the connection".into(),
                    Ok(n) => {
                        last_rx = Instant::now();
                        decoder.push(&buf[..n], &mut frames);
                        for f in frames.drain(..) {
                            self.frame(f);
                        }
                        continue;
                    }
                    Err(e) => return format!("read failed: {e}"),
                },
                line = rx.recv() => match line {
                    Some(line) => line,
                    None => return "connector shut down".into(),
                },
                _ = beat.tick() => encode(0, "heartbeat", Map::new()),
                () = sleep_until(dead_at) => {
                    return format!(
                        "no message from the terminal for {:?}: heartbeat timeout, peer presumed dead",
                        self.cfg.heartbeat_timeout
                    );
                }
                () = conn.kill.notified() => return "connection closed by MTQ".into(),
            };
            match timeout(write_limit, wr.write_all(out.as_bytes())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return format!("write failed: {e}"),
                Err(_) => return format!("write blocked for {write_limit:?}"),
            }
        }
    }

    fn lost(&self, conn: &Conn, reason: &str) {
        let was_current = self.current.send_if_modified(|cur| match cur {
            Some(c) if c.generation == conn.generation => {
                *cur = None;
                true
            }
            _ => false,
        });
        let failed: Vec<Pending> = {
            let mut p = lock(&self.pending);
            let ids: Vec<u64> = p
                .iter()
                .filter(|(_, v)| v.generation == conn.generation)
                .map(|(k, _)| *k)
                .collect();
            ids.into_iter().filter_map(|id| p.remove(&id)).collect()
        };
        warn!(
            reason,
            in_flight = failed.len(),
            "MT5 terminal connection lost"
        );
        for f in failed {
            let _ = f.tx.send(Err(reason.to_string()));
        }
        self.bump(|s| s.last_disconnect = Some(reason.to_string()));
        if was_current {
            self.emit(Mt5Event::Disconnected {
                reason: reason.to_string(),
            });
        }
    }

    // ----- inbound -------------------------------------------------------------------------

    fn frame(&self, f: Frame) {
        let line = match f {
            Frame::Line(l) => l,
            Frame::TooLong { max } => {
                warn!(max, "dropped a line from the bridge longer than the cap");
                self.bump(|s| s.malformed_lines += 1);
                return;
            }
        };
        match decode(&line) {
            Ok(msg) => {
                if let Err(e) = self.message(msg) {
                    warn!(error = %e, line = %redact::log_line(&line), "unusable message from the bridge");
                    self.bump(|s| s.malformed_lines += 1);
                }
            }
            Err(e) => {
                warn!(error = %e, line = %redact::log_line(&line), "malformed line from the bridge skipped");
                self.bump(|s| s.malformed_lines += 1);
            }
        }
    }

    fn message(&self, msg: Inbound) -> Result<(), WireError> {
        match msg.kind {
            InboundKind::Reply => {
                let reply = Reply::parse(&msg.body)?;
                let waiter = lock(&self.pending).remove(&msg.id);
                match waiter {
                    Some(p) => {
                        let _ = p.tx.send(Ok(reply));
                    }
                    None if self.forget_given_up(msg.id) => {
                        warn!(
                            id = msg.id,
                            retcode = reply.retcode,
                            comment = %reply.comment,
                            "late reply to request {} that had timed out (reconciliation accounts for it)",
                            msg.id
                        );
                        self.bump(|s| s.late_replies += 1);
                    }
                    None => {
                        self.bump(|s| s.unknown_replies += 1);
                        return Err(WireError::Invalid {
                            field: "id",
                            detail: format!("reply to unknown request id {}", msg.id),
                        });
                    }
                }
            }
            InboundKind::Heartbeat => {
                if let Some(off) = offset_from(&msg.body)? {
                    let old = self.offset.swap(off, Ordering::Relaxed);
                    if old != off {
                        info!(old, new = off, "trade server UTC offset changed");
                    }
                }
            }
            InboundKind::Tick => {
                let broker = wire::field_str(&msg.body, "symbol")?;
                let sym = mtq_core::Symbol::new(broker).map_err(|e| WireError::Invalid {
                    field: "symbol",
                    detail: e.to_string(),
                })?;
                let tick = wire::tick(&Value::Object(msg.body.clone()), self.server_time())?;
                self.emit(Mt5Event::Tick {
                    symbol: self.names.mtq_name(sym),
                    tick,
                });
            }
            InboundKind::TradeTransaction => {
                let t = TradeTransaction::parse(&msg.body, |s| self.names.mtq_name(s))?;
                self.emit(Mt5Event::TradeTransaction(t));
            }
            InboundKind::Hello => {
                return Err(WireError::Invalid {
                    field: "type",
                    detail: "hello on an established connection".into(),
                });
            }
        }
        Ok(())
    }

    // ----- requests ------------------------------------------------------------------------

    /// Remembers that request `id` gave up waiting, so its reply is recognised as late.
    fn gave_up(&self, id: u64) {
        let mut g = lock(&self.given_up);
        if g.len() == GIVEN_UP_IDS {
            g.pop_front();
        }
        g.push_back(id);
    }

    /// True (once) when `id` is a request that gave up.
    fn forget_given_up(&self, id: u64) -> bool {
        let mut g = lock(&self.given_up);
        match g.iter().position(|&i| i == id) {
            Some(at) => {
                g.remove(at);
                true
            }
            None => false,
        }
    }

    async fn wait_conn(&self, deadline: Instant) -> Option<Arc<Conn>> {
        let mut rx = self.current.subscribe();
        loop {
            if let Some(c) = rx.borrow_and_update().clone() {
                return Some(c);
            }
            match timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Waits until a terminal is connected or `limit` passes.
    pub(crate) async fn wait_connected(&self, limit: Duration) -> Option<Hello> {
        self.wait_conn(Instant::now() + limit)
            .await
            .map(|c| c.hello.clone())
    }

    /// Sends a request and waits for its reply. See the module docs for what happens to it
    /// when the connection drops.
    pub(crate) async fn call(
        &self,
        kind: RequestKind,
        fields: Map<String, Value>,
    ) -> Result<Reply, BrokerError> {
        let trade = kind.is_trade();
        let start = Instant::now();
        let connect_deadline = start + self.cfg.request_timeout;
        // The reason a data request sent on a connection that then dropped got no answer.
        let mut lost_after_send: Option<String> = None;
        loop {
            let Some(conn) = self.wait_conn(connect_deadline).await else {
                if let Some(reason) = lost_after_send {
                    return Err(BrokerError::Unanswered {
                        request: kind.name().to_string(),
                        detail: format!("{reason}; no terminal connected again in time"),
                    });
                }
                return Err(BrokerError::Disconnected {
                    detail: format!(
                        "no MT5 terminal connected within {:?} (is the MtqBridge EA attached and allowed to connect to 127.0.0.1:{}?)",
                        self.cfg.request_timeout, self.cfg.port
                    ),
                    after_send: false,
                });
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            lock(&self.pending).insert(
                id,
                Pending {
                    tx,
                    generation: conn.generation,
                },
            );
            let line = encode(id, kind.name(), fields.clone());
            debug!(id, request = kind.name(), "request to the bridge");
            let queue_deadline = connect_deadline.max(Instant::now() + Duration::from_secs(1));
            let queued = timeout_at(queue_deadline, conn.tx.send(line)).await;
            if !matches!(queued, Ok(Ok(()))) {
                // Never reached the socket: safe to try again on the next connection.
                lock(&self.pending).remove(&id);
                conn.kill.notify_one();
                if Instant::now() >= connect_deadline {
                    return Err(BrokerError::Disconnected {
                        detail: "the bridge connection stopped taking requests".into(),
                        after_send: false,
                    });
                }
                tokio::task::yield_now().await;
                continue;
            }
            let reply_deadline = if trade {
                Instant::now() + self.cfg.trade_timeout
            } else {
                start + self.cfg.request_timeout
            };
            match timeout_at(reply_deadline, rx).await {
                Ok(Ok(Ok(reply))) => return Ok(reply),
                Ok(outcome) => {
                    let reason = match outcome {
                        Ok(Err(reason)) => reason,
                        _ => "connection dropped".to_string(),
                    };
                    if trade {
                        return Err(BrokerError::Disconnected {
                            detail: format!(
                                "{reason} after {} #{id} was sent; it may have executed",
                                kind.name()
                            ),
                            after_send: true,
                        });
                    }
                    if Instant::now() >= reply_deadline {
                        return Err(BrokerError::Unanswered {
                            request: kind.name().to_string(),
                            detail: reason,
                        });
                    }
                    debug!(
                        id,
                        request = kind.name(),
                        "connection lost; data request will be sent again"
                    );
                    lost_after_send = Some(reason);
                }
                Err(_) => {
                    lock(&self.pending).remove(&id);
                    self.gave_up(id);
                    if !trade {
                        // Sent, but a data request has no effect: transient, ask again.
                        return Err(BrokerError::Unanswered {
                            request: kind.name().to_string(),
                            detail: format!("no answer within {:?}", self.cfg.request_timeout),
                        });
                    }
                    return Err(BrokerError::Timeout {
                        millis: u64::try_from(self.cfg.trade_timeout.as_millis())
                            .unwrap_or(u64::MAX),
                        after_send: true,
                    });
                }
            }
        }
    }
}
