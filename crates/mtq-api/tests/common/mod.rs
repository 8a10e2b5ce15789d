//! The API's test kit: a server on a loopback port over a fresh SQLite database, a scripted
//! driver behind the control channel, keys of each role, and a plain HTTP/1.1 client.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use mtq_api::{ApiOptions, ApiState, create_api_key, create_user};
use mtq_core::{AccountInfo, Currency, Magic, MarginMode, Position, Side, Symbol, Ticket};
use mtq_orchestrator::{
    ControlCommand, ControlOutcome, ControlPort, ControlRefusal, LiveHealth, LiveQuote,
    LiveSnapshot, Role, SymbolState, TradingState, control_channel,
};
use mtq_persistence::Store;
use rust_decimal_macros::dec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Server {
    pub addr: SocketAddr,
    pub state: ApiState,
    pub openapi: utoipa::openapi::OpenApi,
    pub viewer: String,
    pub trader: String,
    pub admin: String,
    pub db_url: String,
    pub commands: Arc<Mutex<Vec<ControlCommand>>>,
    pub port: Option<Arc<tokio::sync::watch::Sender<Arc<LiveSnapshot>>>>,
    pub events: Option<tokio::sync::broadcast::Sender<mtq_core::DomainEvent>>,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> TempDir {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("mtq-api-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

pub fn position(ticket: u64, symbol: &str) -> Position {
    Position {
        ticket: Ticket(ticket),
        symbol: Symbol::new(symbol).unwrap(),
        side: Side::Buy,
        volume: dec!(0.10),
        open_price: dec!(1.08500),
        open_time: Utc::now(),
        sl: Some(dec!(1.08000)),
        tp: None,
        current_price: dec!(1.08600),
        swap: dec!(0),
        profit: dec!(10),
        magic: Magic(7),
        comment: "mtq".into(),
    }
}

pub fn snapshot() -> LiveSnapshot {
    LiveSnapshot {
        account_name: "default".into(),
        at: Utc::now(),
        cycle: 1,
        account: Some(AccountInfo {
            login: 5_001_234,
            server: "Demo".into(),
            currency: Currency::USD,
            balance: dec!(10000),
            equity: dec!(10010),
            margin: dec!(100),
            free_margin: dec!(9910),
            margin_level: Some(dec!(10010)),
            leverage: 100,
            margin_mode: MarginMode::Hedging,
        }),
        positions: vec![position(42, "EURUSD")],
        pending: vec![],
        trading: TradingState::Running,
        kill_switch: "active".into(),
        kill_switch_reason: String::new(),
        health: LiveHealth {
            intent_store_ok: true,
            broker_connected: true,
            last_cycle: Some(Utc::now()),
            loop_alive: Some(Utc::now()),
        },
        disabled_symbols: BTreeSet::new(),
        daily_pnl: dec!(-50),
        daily_loss_limit: Some(dec!(200)),
        drawdown_pct: dec!(1.5),
        drawdown_limit_pct: Some(dec!(10)),
        quotes: [(
            Symbol::new("EURUSD").unwrap(),
            LiveQuote {
                bid: dec!(1.08595),
                ask: dec!(1.08605),
                time: Utc::now(),
            },
        )]
        .into_iter()
        .collect(),
        symbols: vec![SymbolState {
            symbol: Symbol::new("EURUSD").unwrap(),
            timeframe: mtq_core::Timeframe::M5,
            strategy: "ma_crossover".into(),
            parameters: serde_json::json!({"symbol": "EURUSD", "strategy_type": "ma_crossover", "fast_period": 10, "slow_period": 20}),
            configured: true,
            spec: mtq_core::SymbolSpec::builtin("EURUSD"),
        }],
    }
}

/// A scripted driver: answers commands as the live driver would for this snapshot, records
/// them, and publishes the state they change.
fn spawn_driver(
    mut port: ControlPort,
    commands: Arc<Mutex<Vec<ControlCommand>>>,
) -> Arc<tokio::sync::watch::Sender<Arc<LiveSnapshot>>> {
    let snaps = Arc::new(port.snapshots);
    let publisher = snaps.clone();
    tokio::spawn(async move {
        let mut keys: HashSet<String> = HashSet::new();
        while let Some(req) = port.commands.recv().await {
            commands.lock().unwrap().push(req.command.clone());
            let mut snap = (**publisher.borrow()).clone();
            let ok = |m: &str| {
                Ok(ControlOutcome {
                    message: m.into(),
                    actions: 0,
                    client_order_ids: vec![],
                    duplicate: false,
                    detail: None,
                })
            };
            let answer: Result<ControlOutcome, ControlRefusal> = match &req.command {
                ControlCommand::PauseEntries => {
                    snap.trading = TradingState::EntriesPaused;
                    ok("entries paused")
                }
                ControlCommand::ResumeEntries => {
                    snap.trading = TradingState::Running;
                    ok("entries resumed")
                }
                ControlCommand::TripKillSwitch { reason } => {
                    snap.kill_switch = "halted".into();
                    snap.kill_switch_reason = reason.clone();
                    ok("tripped")
                }
                ControlCommand::ClosePosition { ticket, .. }
                | ControlCommand::ModifyPosition { ticket, .. } => {
                    if snap.positions.iter().any(|p| p.ticket == *ticket) {
                        ok("sent")
                    } else {
                        Err(ControlRefusal::UnknownPosition(*ticket))
                    }
                }
                ControlCommand::TestSignal { symbol } => {
                    if symbol.as_str() == "EURUSD" {
                        Ok(ControlOutcome {
                            message: "EURUSD: Buy would be refused".into(),
                            actions: 0,
                            client_order_ids: vec![],
                            duplicate: false,
                            detail: Some(serde_json::json!({
                                "symbol": "EURUSD", "timeframe": "M5",
                                "bar_time": "2026-03-02T10:00:00Z", "bars": 31,
                                "signal": null, "verdict": "refused",
                                "rule": "max_positions", "refusal": "too many positions",
                                "volume": null
                            })),
                        })
                    } else {
                        Err(ControlRefusal::UnknownSymbol(symbol.to_string()))
                    }
                }
                ControlCommand::CancelOrder { ticket } => {
                    let before = snap.pending.len();
                    snap.pending.retain(|o| o.ticket != *ticket);
                    if snap.pending.len() < before {
                        ok("deleted")
                    } else {
                        Err(ControlRefusal::UnknownOrder(*ticket))
                    }
                }
                ControlCommand::ManualOrder {
                    idempotency_key, ..
                } => {
                    if snap.kill_switch != "active" {
                        Err(ControlRefusal::KillSwitch {
                            state: snap.kill_switch.clone(),
                            reason: snap.kill_switch_reason.clone(),
                        })
                    } else {
                        let dup = !keys.insert(idempotency_key.clone());
                        Ok(ControlOutcome {
                            message: "order".into(),
                            actions: usize::from(!dup),
                            client_order_ids: vec![idempotency_key.clone()],
                            duplicate: dup,
                            detail: None,
                        })
                    }
                }
                ControlCommand::ListApprovals => Ok(ControlOutcome {
                    message: "0 pending of 0 approvals".into(),
                    actions: 0,
                    client_order_ids: vec![],
                    duplicate: false,
                    detail: Some(serde_json::json!([])),
                }),
                ControlCommand::Approve { id } | ControlCommand::Reject { id } => {
                    Err(ControlRefusal::UnknownApproval(*id))
                }
                _ => ok("done"),
            };
            snap.cycle += 1;
            let _ = publisher.send(Arc::new(snap));
            let _ = req.reply.send(answer);
        }
    });
    snaps
}

pub async fn start(with_trader: bool) -> Server {
    start_with(with_trader, |o| o).await
}

pub async fn start_with(with_trader: bool, opts: impl FnOnce(ApiOptions) -> ApiOptions) -> Server {
    start_full(with_trader, false, opts).await
}

/// A server whose performance routes use a second connection to the database, as `serve`'s.
pub async fn start_with_analytics_connection() -> Server {
    start_full(true, true, |o| o).await
}

async fn start_full(
    with_trader: bool,
    analytics: bool,
    opts: impl FnOnce(ApiOptions) -> ApiOptions,
) -> Server {
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.0.join("api.db").display());
    let mut store = Store::open(&db_url).unwrap();
    let viewer = create_api_key(&mut store, "viewer", Role::Viewer)
        .unwrap()
        .key;
    let trader = create_api_key(&mut store, "trader", Role::Trader)
        .unwrap()
        .key;
    let admin = create_api_key(&mut store, "admin", Role::Admin)
        .unwrap()
        .key;
    create_user(&mut store, "ann", "a long enough password", Role::Trader).unwrap();
    let commands = Arc::new(Mutex::new(Vec::new()));
    let (control, port, events) = if with_trader {
        let (h, p) = control_channel(snapshot());
        let events = p.events.clone();
        (
            Some(h),
            Some(spawn_driver(p, commands.clone())),
            Some(events),
        )
    } else {
        (None, None, None)
    };
    let mut options = opts(ApiOptions::new(vec![9; 32]));
    if analytics {
        options.analytics_database_url = Some(db_url.clone());
    }
    let state = ApiState::new(Store::open(&db_url).unwrap(), control, options).unwrap();
    let (app, openapi) = mtq_api::router(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server {
        addr,
        state,
        openapi,
        viewer,
        trader,
        admin,
        db_url,
        commands,
        port,
        events,
        _dir: dir,
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    if let Some(b) = body {
        // A server may answer (413) before reading a huge body: a failed write is fine.
        let _ = s.write_all(b).await;
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub async fn get(addr: SocketAddr, path: &str, key: &str) -> Reply {
    let auth = format!("Bearer {key}");
    call(addr, "GET", path, &[("Authorization", &auth)], None).await
}

pub async fn send(addr: SocketAddr, method: &str, path: &str, key: &str, body: &str) -> Reply {
    let auth = format!("Bearer {key}");
    call(
        addr,
        method,
        path,
        &[("Authorization", &auth)],
        Some(body.as_bytes()),
    )
    .await
}
