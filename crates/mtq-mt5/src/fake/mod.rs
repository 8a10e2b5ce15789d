//! A fake MT5 terminal with the bridge EA attached: connects to a connector over real TCP,
//! speaks protocol v1 as `docs/mt5-bridge.md` specifies it (built from JSON literals, not from
//! the connector's own types, so a field the two disagree on fails a test), runs a small trade
//! server (hedging, or netting when the account's margin mode says so), records every request, and can be scripted to misbehave.
//!
//! ```
//! use std::time::Duration;
//! use mtq_connector::Broker;
//! use mtq_mt5::fake::{FakeAccount, FakeSymbol, FakeTerminal};
//! use mtq_mt5::{Mt5Broker, Mt5Config, Token};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let token = "test-token-123";
//! let broker = Mt5Broker::listen(Mt5Config::new(0, Token::new(token).unwrap())).await.unwrap();
//! let fake = FakeTerminal::new(FakeAccount::default(), vec![FakeSymbol::forex("EURUSD")]);
//! fake.set_quote("EURUSD", 1.08000, 1.08012);
//! fake.connect(broker.local_port(), token);
//! broker.wait_connected(Duration::from_secs(30)).await.unwrap();
//! assert_eq!(broker.account().await.unwrap().login, FakeAccount::default().login);
//! # });
//! ```

mod state;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use mtq_core::{Bar, Decimal, Timeframe};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use state::{Action, State, margin_mode_name};
pub use state::{FakeAccount, FakeSymbol};

use crate::codec::{Frame, LineDecoder};

/// How the fake answers the next request of a type, instead of serving it normally.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeReaction {
    /// Reply with this trade return code without executing (requote 10004, 10030, ...).
    Retcode { retcode: u32, comment: String },
    /// Execute only `filled` lots and reply 10010.
    Partial { filled: Decimal },
    /// Execute the request, then drop the connection without replying: the reply is lost.
    ExecuteThenDisconnect,
    /// Drop the connection before executing anything.
    DisconnectBeforeExecuting,
    /// Never answer this request.
    NoReply,
    /// Execute the request and never answer it: the reply is lost as when MTQ dies right after
    /// sending (the connection stays up).
    ExecuteNoReply,
}

/// Misbehaviour on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireQuirks {
    /// Write every reply in three pieces with pauses between them.
    pub split_replies: bool,
    /// Write a heartbeat, a tick push and the reply in one `write`.
    pub coalesce: bool,
    /// Write malformed lines (bad JSON, wrong version, unknown type, binary junk) before replies.
    pub garbage: bool,
}

/// A request the fake received, as the JSON object it read.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The `type` field: `order_send`, `position_modify`, ...
    pub kind: String,
    pub body: Value,
}

#[derive(Debug, Default)]
struct Control {
    quirks: WireQuirks,
    silent: bool,
    auto_reconnect: bool,
    connections: u64,
    refusals: Vec<String>,
    connected: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    control: Mutex<Control>,
    kick: Notify,
    changed: Notify,
    push: Mutex<Option<mpsc::UnboundedSender<String>>>,
}

/// The fake terminal. Cheap to clone; clones share the terminal.
#[derive(Debug, Clone)]
pub struct FakeTerminal {
    shared: Arc<Shared>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeTerminal {
    pub fn new(account: FakeAccount, symbols: Vec<FakeSymbol>) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(account, symbols)),
                control: Mutex::new(Control {
                    auto_reconnect: true,
                    ..Control::default()
                }),
                kick: Notify::new(),
                changed: Notify::new(),
                push: Mutex::new(None),
            }),
            task: Arc::new(Mutex::new(None)),
        }
    }

    /// Starts the bridge: connects to 127.0.0.1:`port` with `token`, and reconnects after every
    /// disconnect (like the EA) until [`FakeTerminal::stop`].
    pub fn connect(&self, port: u16, token: &str) {
        let shared = Arc::clone(&self.shared);
        let token = token.to_string();
        let handle = tokio::spawn(async move { run(shared, port, token).await });
        if let Some(old) = lock(&self.task).replace(handle) {
            old.abort();
        }
    }

    /// Stops the bridge and closes its connection.
    pub fn stop(&self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
        lock(&self.shared.control).connected = false;
    }

    /// Sets the quote of a broker symbol and pushes a tick if the connector subscribed to it.
    pub fn set_quote(&self, symbol: &str, bid: f64, ask: f64) {
        let push = {
            let mut st = lock(&self.shared.state);
            st.quotes.insert(symbol.to_string(), (bid, ask));
            if st.subscribed.iter().any(|s| s == symbol) {
                st.tick_json(symbol).and_then(|mut t| {
                    let o = t.as_object_mut()?;
                    o.insert("v".into(), json!(1));
                    o.insert("id".into(), json!(0));
                    o.insert("type".into(), json!("tick"));
                    Some(format!("{t}\n"))
                })
            } else {
                None
            }
        };
        if let (Some(line), Some(tx)) = (push, lock(&self.shared.push).as_ref()) {
            let _ = tx.send(line);
        }
    }

    /// Bars (UTC open times) the terminal has for a broker symbol and timeframe, oldest first.
    pub fn set_rates(&self, symbol: &str, tf: Timeframe, bars: Vec<Bar>) {
        lock(&self.shared.state)
            .rates
            .insert((symbol.to_string(), tf), bars);
    }

    /// When on, `symbol_info` of a symbol outside Market Watch fails with 4302
    /// (`ERR_MARKET_NOT_SELECTED`) instead of answering with `select: false`.
    pub fn set_symbol_info_needs_market_watch(&self, on: bool) {
        lock(&self.shared.state).symbol_info_needs_market_watch = on;
    }

    /// Whether the broker symbol `name` is in Market Watch now.
    pub fn in_market_watch(&self, name: &str) -> bool {
        lock(&self.shared.state)
            .symbols
            .iter()
            .any(|s| s.name == name && s.selected)
    }

    /// Symbols the bridge itself put in Market Watch because a request named one outside it
    /// (MTQ selects every symbol it uses first, so this stays empty when MTQ does its part).
    pub fn auto_selected(&self) -> Vec<String> {
        lock(&self.shared.state).auto_selected.clone()
    }

    /// Algo Trading on or off: off answers every trade request with 10027.
    pub fn set_algo_trading(&self, on: bool) {
        lock(&self.shared.state).account.algo_trading = on;
    }

    /// Opens or closes the market of a broker symbol: while closed, every trade request for it
    /// (orders, closes, modifications) is answered with 10018 (`TRADE_RETCODE_MARKET_CLOSED`).
    pub fn set_market_closed(&self, symbol: &str, closed: bool) {
        let mut st = lock(&self.shared.state);
        if closed {
            st.closed_markets.insert(symbol.to_string());
        } else {
            st.closed_markets.remove(symbol);
        }
    }

    /// A market order the user sends by hand in the terminal (magic 0 for a manual trade): it
    /// opens a position, or on a netting account nets against the symbol's position (adds,
    /// reduces, closes or reverses it with a `DEAL_ENTRY_INOUT` deal). Returns the position it
    /// opened or changed; `None` for an unknown symbol.
    pub fn trade_by_hand(
        &self,
        symbol: &str,
        side: mtq_core::Side,
        volume: Decimal,
        magic: u64,
    ) -> Option<u64> {
        lock(&self.shared.state).trade_by_hand(symbol, side, volume, magic)
    }

    /// Scripts the next request of `kind` (`"order_send"`, `"position_close"`, ...). Several
    /// reactions for one kind apply in order.
    pub fn react_next(&self, kind: &str, reaction: FakeReaction) {
        lock(&self.shared.state)
            .reactions
            .entry(kind.to_string())
            .or_default()
            .push_back(reaction);
    }

    pub fn set_quirks(&self, quirks: WireQuirks) {
        lock(&self.shared.control).quirks = quirks;
    }

    /// Stops heartbeats and replies while keeping the socket open: a hung terminal.
    pub fn go_silent(&self, silent: bool) {
        lock(&self.shared.control).silent = silent;
    }

    /// Drops the current connection now (the bridge reconnects unless stopped).
    pub fn drop_connection(&self) {
        self.shared.kick.notify_one();
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.state).recorded.clone()
    }

    /// The bodies of requests of one type.
    pub fn requests_of(&self, kind: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.body)
            .collect()
    }

    /// `order_send` requests received.
    pub fn orders_sent(&self) -> Vec<Value> {
        self.requests_of("order_send")
    }

    /// `position_modify` requests received.
    pub fn modifications(&self) -> Vec<Value> {
        self.requests_of("position_modify")
    }

    /// `position_close` requests received.
    pub fn closes(&self) -> Vec<Value> {
        self.requests_of("position_close")
    }

    /// `order_cancel` requests received.
    pub fn cancels(&self) -> Vec<Value> {
        self.requests_of("order_cancel")
    }

    /// Open positions: (ticket, broker symbol, volume, sl, tp, comment).
    pub fn open_positions(&self) -> Vec<(u64, String, Decimal, Decimal, Decimal, String)> {
        lock(&self.shared.state)
            .positions
            .iter()
            .map(|p| {
                (
                    p.ticket,
                    p.symbol.clone(),
                    p.volume,
                    p.sl,
                    p.tp,
                    p.comment.clone(),
                )
            })
            .collect()
    }

    /// Authenticated connections so far.
    pub fn connections(&self) -> u64 {
        lock(&self.shared.control).connections
    }

    /// Reasons the connector gave when it refused the bridge.
    pub fn refusals(&self) -> Vec<String> {
        lock(&self.shared.control).refusals.clone()
    }

    /// Waits until at least `n` connections were welcomed, or `limit` passes; returns the count.
    pub async fn wait_connections(&self, n: u64, limit: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.changed.notified();
            let c = self.connections();
            if c >= n {
                return c;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.connections();
            }
        }
    }

    /// Waits until the connector has refused the bridge at least once.
    pub async fn wait_refused(&self, limit: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.changed.notified();
            if let Some(r) = self.refusals().first() {
                return Some(r.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

fn hello_line(st: &State, token: &str) -> String {
    let a = &st.account;
    let server = st.server_now();
    let v = json!({"v": 1, "id": 1, "type": "hello", "token": token, "ea_version": "fake-1",
        "terminal_build": 4755, "terminal_name": "MTQ Fake Terminal", "login": a.login,
        "server": a.server, "company": "MTQ Fake Broker", "currency": a.currency,
        "leverage": a.leverage, "margin_mode": margin_mode_name(a.margin_mode),
        "terminal_trade_allowed": a.algo_trading, "ea_trade_allowed": a.algo_trading,
        "time_trade_server": server, "time_gmt": Utc::now().timestamp()});
    format!("{v}\n")
}

fn heartbeat_line(st: &State) -> String {
    let v = json!({"v": 1, "id": 0, "type": "heartbeat", "time_trade_server": st.server_now(),
        "time_gmt": Utc::now().timestamp()});
    format!("{v}\n")
}

/// Lines no connector should choke on.
const GARBAGE: &[&[u8]] = &[
    b"this is not json\n",
    b"{\"v\":1,\"id\":3}\n",
    b"{\"v\":99,\"id\":3,\"type\":\"reply\"}\n",
    b"{\"v\":1,\"id\":3,\"type\":\"launch_missiles\"}\n",
    b"[1,2,3]\n",
    b"\xff\xfe\x00\x01{{{\n",
    b"{\"v\":1,\"id\":999999,\"type\":\"reply\",\"retcode\":\"x\"}\n",
];

async fn write(wr: &mut OwnedWriteHalf, line: &str, quirks: WireQuirks, extra: &[String]) -> bool {
    if quirks.garbage {
        for g in GARBAGE {
            if wr.write_all(g).await.is_err() {
                return false;
            }
        }
    }
    if quirks.coalesce {
        let mut all = extra.concat();
        all.push_str(line);
        return wr.write_all(all.as_bytes()).await.is_ok();
    }
    if quirks.split_replies && line.len() >= 3 {
        let bytes = line.as_bytes();
        let (a, b) = (bytes.len() / 3, 2 * bytes.len() / 3);
        for part in [&bytes[..a], &bytes[a..b], &bytes[b..]] {
            if wr.write_all(part).await.is_err() || wr.flush().await.is_err() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        return true;
    }
    wr.write_all(line.as_bytes()).await.is_ok()
}

async fn run(shared: Arc<Shared>, port: u16, token: String) {
    let mut backoff = Duration::from_millis(50);
    loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await {
            backoff = Duration::from_millis(50);
            session(&shared, stream, &token).await;
            lock(&shared.control).connected = false;
            *lock(&shared.push) = None;
            shared.changed.notify_waiters();
        }
        if !lock(&shared.control).auto_reconnect {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

async fn session(shared: &Shared, stream: TcpStream, token: &str) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let hello = hello_line(&lock(&shared.state), token);
    if wr.write_all(hello.as_bytes()).await.is_err() {
        return;
    }
    let (push_tx, mut push_rx) = mpsc::unbounded_channel();
    let mut decoder = LineDecoder::new(1 << 24);
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut beat = tokio::time::interval(Duration::from_millis(500));
    let mut welcomed = false;
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => {
                let n = match r { Ok(0) | Err(_) => return, Ok(n) => n };
                decoder.push(&buf[..n], &mut frames);
                for f in std::mem::take(&mut frames) {
                    let Frame::Line(line) = f else { continue };
                    let Ok(Value::Object(msg)) = serde_json::from_slice::<Value>(&line) else { continue };
                    match msg.get("type").and_then(Value::as_str) {
                        Some("welcome") => {
                            welcomed = true;
                            {
                                let mut c = lock(&shared.control);
                                c.connections += 1;
                                c.connected = true;
                            }
                            *lock(&shared.push) = Some(push_tx.clone());
                            shared.changed.notify_waiters();
                        }
                        Some("error") => {
                            let why = msg.get("comment").and_then(Value::as_str).unwrap_or("").to_string();
                            lock(&shared.control).refusals.push(why);
                            shared.changed.notify_waiters();
                            return;
                        }
                        Some("heartbeat") => {}
                        Some(_) if welcomed => {
                            let (quirks, silent) = {
                                let c = lock(&shared.control);
                                (c.quirks, c.silent)
                            };
                            if silent {
                                continue;
                            }
                            let (action, extra) = {
                                let mut st = lock(&shared.state);
                                let action = st.handle(&msg);
                                let mut extra = vec![heartbeat_line(&st)];
                                if let Some(sym) = st.quotes.keys().next().cloned()
                                    && let Some(Value::Object(mut t)) = st.tick_json(&sym)
                                {
                                    t.insert("v".into(), json!(1));
                                    t.insert("id".into(), json!(0));
                                    t.insert("type".into(), json!("tick"));
                                    extra.push(format!("{}\n", Value::Object(t)));
                                }
                                (action, extra)
                            };
                            match action {
                                Action::Reply(line) => {
                                    if !write(&mut wr, &line, quirks, &extra).await {
                                        return;
                                    }
                                }
                                Action::Disconnect => return,
                                Action::Nothing => {}
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some(line) = push_rx.recv() => {
                if wr.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
            _ = beat.tick() => {
                if lock(&shared.control).silent {
                    continue;
                }
                let line = heartbeat_line(&lock(&shared.state));
                if wr.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
            () = shared.kick.notified() => return,
        }
    }
}

/// A JSON object's field, for assertions on recorded requests.
pub fn field<'a>(body: &'a Value, name: &str) -> &'a Value {
    body.get(name).unwrap_or(&Value::Null)
}
