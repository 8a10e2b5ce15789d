//! A real `mtq-trader serve` on the simulated broker for end-to-end tests: a temp directory
//! with its configuration, SQLite file and API keys, the process on a free loopback port, and
//! small HTTP and WebSocket clients that talk to it over TCP.
//!
//! The feed runs [`PACE`] times faster than the wall clock (`serve --pace`), and the strategy
//! is a fast moving-average crossover on four symbols with stacking allowed, so positions open
//! within seconds of the start and keep opening.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Simulated seconds per wall second: an M5 bar every 200 ms.
pub(crate) const PACE: u32 = 1_500;

/// How long any condition may take to come true on a loaded 2-core machine.
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

pub(crate) const ACCOUNT: &str = "/api/v1/accounts/default";

fn config(dir: &Path, port: u16) -> String {
    let entry = |symbol: &str| {
        format!(
            "  - symbol: {symbol}\n    enabled: true\n    risk_percent: 0.1\n    strategy_type: crossover\n    timeframe: M5\n    fast_period: 2\n    slow_period: 5\n    sl_pips: 30\n    tp_pips: 30\n    cooldown_seconds: 60\n    allow_position_stacking: true\n    max_positions_same_direction: 5\n"
        )
    };
    let currencies: String = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD"]
        .iter()
        .map(|s| entry(s))
        .collect();
    format!(
        r#"global:
  max_concurrent_trades: 20
  portfolio_risk_percent: 50.0
  max_currency_exposure_percent: 100000
  trading_day:
    timezone: UTC
    start: "00:00"
modifications:
  enable_breakeven: false
  breakeven_trigger_pips: 15
  breakeven_offset_pips: 1
  enable_trailing_stop: false
  trailing_activation_pips: 25
  trailing_stop_pips: 15
  trailing_step_pips: 2
  enable_partial_close: false
emergency:
  emergency_stop: false
  close_all_on_stop: false
  max_daily_loss_percent: 50.0
  stop_on_daily_loss: false
  max_drawdown_percent: 50.0
  stop_on_max_drawdown: false
  max_consecutive_order_failures: 50
currencies:
{currencies}broker:
  kind: sim
  deposit: 10000
  currency: USD
  leverage: 100
  margin_mode: hedging
  commission_per_lot: 3.5
database:
  url: "sqlite://{db}"
trader:
  magic: 20240304
  id_prefix: mtq
  interval_seconds: 5
  unknown_positions: ignore
logging:
  format: human
  level: warn
api:
  port: {port}
  manual_orders: true
  jwt_secret_file: "{secret}"
"#,
        db = dir.join("mtq.db").display(),
        secret = dir.join("jwt.secret").display(),
    )
}

/// A free loopback port (bound and released; `serve` binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One test's directory, keys and running server.
pub(crate) struct Serve {
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    pub(crate) admin: String,
    pub(crate) trader: String,
    /// Extra environment for the process (e.g. `MTQ_METRICS_TOKEN`).
    pub(crate) env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Serve {
    /// Writes the configuration, creates an admin and a trader key, starts `serve` and waits
    /// until its trader has run a cycle.
    pub(crate) async fn start(name: &str) -> Self {
        Self::start_with_env(name, &[]).await
    }

    /// [`Serve::start`], with extra environment variables for the process.
    pub(crate) async fn start_with_env(name: &str, env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("mtq-serve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the test directory");
        let port = free_port();
        std::fs::write(dir.join("mtq.yaml"), config(&dir, port)).expect("writing the config");
        let mut s = Self {
            admin: String::new(),
            trader: String::new(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            dir,
            port,
            child: None,
        };
        s.admin = s.api_key("e2e-admin", "admin");
        s.trader = s.api_key("e2e-trader", "trader");
        s.spawn().await;
        s
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.join("mtq.db").display())
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.dir.join("mtq.db")
    }

    fn api_key(&self, name: &str, role: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_mtq-trader"))
            .args(["api-key", "create", "--name", name, "--role", role])
            .args(["--database-url", &self.url()])
            .current_dir(&self.dir)
            .output()
            .expect("running api-key create");
        assert!(
            out.status.success(),
            "api-key create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Starts the process (again, after [`Serve::stop`]) and waits for its first cycles.
    pub(crate) async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("serve.log"))
            .expect("opening serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_mtq-trader"))
            .arg("serve")
            .arg("--config")
            .arg(self.dir.join("mtq.yaml"))
            .args(["--pace", &PACE.to_string()])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting mtq-trader serve");
        self.child = Some(child);
        self.until("the trader's first cycles", |s| async move {
            let r = s.try_get(ACCOUNT).await.ok()?;
            (r.status == 200 && r.json()["cycle"].as_u64()? >= 2).then_some(())
        })
        .await;
    }

    /// SIGTERM, then waits for the process to end (it finishes its records first).
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(status.success(), "serve exited {status}:\n{}", self.log());
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("serve did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    pub(crate) fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Polls `f` every 50 ms until it gives a value; fails the test after [`PATIENCE`].
    pub(crate) async fn until<'a, T, F, Fut>(&'a self, what: &str, mut f: F) -> T
    where
        F: FnMut(&'a Self) -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(v) = f(self).await {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "waited {PATIENCE:?} for {what}; serve log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn try_get(&self, path: &str) -> std::io::Result<Reply> {
        request(&self.authority(), "GET", path, &self.admin, &[], "").await
    }

    /// A GET as admin that must answer 200.
    pub(crate) async fn get(&self, path: &str) -> Value {
        let r = self
            .try_get(path)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }

    /// A request with the trader key.
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        request(&self.authority(), method, path, &self.trader, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub(crate) async fn send_admin(&self, method: &str, path: &str, body: &str) -> Reply {
        request(&self.authority(), method, path, &self.admin, &[], body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub(crate) async fn cycle(&self) -> u64 {
        self.get(ACCOUNT).await["cycle"].as_u64().expect("cycle")
    }

    /// Waits until the trader has run `n` more cycles.
    pub(crate) async fn cycles(&self, n: u64) {
        let target = self.cycle().await + n;
        self.until(&format!("{n} more cycles"), |s| async move {
            (s.cycle().await >= target).then_some(())
        })
        .await;
    }

    pub(crate) async fn positions(&self) -> Vec<Value> {
        match self.get(&format!("{ACCOUNT}/positions")).await {
            Value::Array(a) => a,
            other => panic!("positions: {other}"),
        }
    }

    /// Every item of a paged history route (`trades`, `orders`), newest first.
    pub(crate) async fn all(&self, route: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("{ACCOUNT}/{route}?limit=500&cursor={c}"),
                None => format!("{ACCOUNT}/{route}?limit=500"),
            };
            let page = self.get(&path).await;
            out.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    /// A single-use WebSocket ticket for the admin key.
    pub(crate) async fn ws_ticket(&self) -> String {
        let r = self.send_admin("POST", "/api/v1/auth/ws-ticket", "").await;
        assert_eq!(r.status, 200, "ws-ticket: {}", r.text());
        r.json()["ticket"].as_str().expect("ticket").to_string()
    }

    pub(crate) async fn ws_url(&self) -> String {
        format!(
            "ws://{}/api/v1/ws?ticket={}",
            self.authority(),
            self.ws_ticket().await
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A whole HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), read to the end.
pub(crate) async fn request(
    authority: &str,
    method: &str,
    path: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(authority).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await?;
    s.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("no answer within 60 s"))??;
    parse(&raw)
}

fn parse(raw: &[u8]) -> std::io::Result<Reply> {
    let bad =
        |what: &str| std::io::Error::other(format!("{what}: {}", String::from_utf8_lossy(raw)));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("bad chunk"))?;
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                break;
            }
            let start = eol + 2;
            out.extend_from_slice(&rest[start..start + size]);
            rest = &rest[start + size + 2..];
        }
        body = out;
    }
    Ok(Reply { status, body })
}

/// A price as the API writes it (a JSON string or number), as f64 for comparisons.
pub(crate) fn num(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}
