//! The harness of the several-account tests: fake MT5 terminals that serve bars step by step,
//! and `mtq-trader serve` run on a configuration in a directory of its own.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, Utc};
use mtq::core::{Bar, Timeframe};
use mtq_core::testkit::swing_bar;
use mtq_mt5::fake::{FakeAccount, FakeSymbol, FakeTerminal, field};
use serde_json::Value;

use crate::serve_kit::{Reply, request};

pub const PATIENCE: Duration = Duration::from_secs(120);

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// One fake terminal and the bars it serves.
pub struct Terminal {
    pub fake: FakeTerminal,
    pub port: u16,
    pub token: String,
    pub start: DateTime<Utc>,
    pub bars: Vec<Bar>,
}

impl Terminal {
    pub fn new(login: u64, token: &str) -> Self {
        let account = FakeAccount {
            login,
            ..FakeAccount::default()
        };
        let fake = FakeTerminal::new(account, vec![FakeSymbol::forex("EURUSD")]);
        let start = (Utc::now() - chrono::Duration::hours(12))
            .duration_trunc(chrono::Duration::minutes(1))
            .unwrap();
        let t = Self {
            fake,
            port: free_port(),
            token: token.into(),
            start,
            bars: (0..40).map(|k| swing_bar(start, k, 1.1)).collect(),
        };
        t.publish();
        t
    }

    pub fn publish(&self) {
        self.fake
            .set_rates("EURUSD", Timeframe::M1, self.bars.clone());
        let last = self.bars.last().unwrap().close;
        self.fake.set_quote("EURUSD", last, last + 0.00012);
    }

    /// Adds a bar closing at `close` (opening at the last close) and serves it; returns how many
    /// times the trader had read the rates before, for [`Terminal::wait_read`].
    pub fn push(&mut self, close: f64) -> usize {
        let seen = self.fake.requests_of("rates").len();
        let last = self.bars.last().unwrap();
        let (open, time) = (last.close, last.time + chrono::Duration::minutes(1));
        self.bars.push(
            mtq_core::testkit::BarBuilder::new()
                .at(time)
                .ohlc(
                    open,
                    open.max(close) + 0.00005,
                    open.min(close) - 0.00005,
                    close,
                )
                .tick_volume(10)
                .spread(12)
                .build(),
        );
        self.publish();
        seen
    }

    /// Waits until the trader has read the rates more than `seen` times.
    pub async fn wait_read(&self, seen: usize, log: &dyn Fn() -> String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.fake.requests_of("rates").len() <= seen {
            assert!(
                Instant::now() < deadline,
                "the account on port {} stopped reading rates; log:\n{}",
                self.port,
                log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Adds a bar and waits until the trader has read the rates again.
    pub async fn step(&mut self, log: &dyn Fn() -> String) {
        self.step_or_order(log, false).await;
    }

    /// [`Terminal::step`], done as well as soon as the terminal has an order when `or_order`
    /// (a terminal made to hang once it has one reads no more rates).
    pub async fn step_or_order(&mut self, log: &dyn Fn() -> String, or_order: bool) {
        let seen = self.fake.requests_of("rates").len();
        let k = i64::try_from(self.bars.len()).unwrap();
        self.bars.push(swing_bar(self.start, k, 1.1));
        self.publish();
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.fake.requests_of("rates").len() <= seen
            && (!or_order || self.fake.orders_sent().is_empty())
        {
            assert!(
                Instant::now() < deadline,
                "the account on port {} stopped reading rates; log:\n{}",
                self.port,
                log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn config(dir: &Path, api: u16, alpha: u16, beta: u16, extra: &str) -> String {
    format!(
        r#"global:
  max_concurrent_trades: 3
modifications:
  enable_breakeven: false
  enable_trailing_stop: false
  enable_partial_close: false
emergency:
  stop_on_daily_loss: false
  stop_on_max_drawdown: false
currencies:
  - symbol: EURUSD
    risk_percent: 0.5
    strategy_type: crossover
    timeframe: M1
    fast_period: 2
    slow_period: 5
    sl_pips: 30
    tp_pips: 60
    cooldown_seconds: 0
trader:
  interval_seconds: 1
database:
  url: "sqlite://{db}"
logging:
  level: info
api:
  port: {api}
  jwt_secret_file: "{secret}"
{extra}accounts:
  - name: alpha
    magic: 111
    broker: {{kind: mt5, mt5_port: {alpha}, mt5_token_env: MTQ_TEST_TOKEN_ALPHA, expected_login: 1001}}
  - name: beta
    magic: 222
    broker: {{kind: mt5, mt5_port: {beta}, mt5_token_env: MTQ_TEST_TOKEN_BETA}}
  - name: paper
    magic: 333
    broker: {{kind: sim}}
    currencies:
      - {{symbol: EURUSD, timeframe: M5}}
"#,
        db = dir.join("mtq.db").display(),
        secret = dir.join("jwt.secret").display(),
    )
}

pub struct Server {
    pub dir: PathBuf,
    pub api: u16,
    pub key: String,
    pub child: Option<Child>,
    env: Vec<(String, String)>,
    runs: usize,
}

impl Server {
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.dir.join("mtq.db").display())
    }

    pub fn log(&self) -> String {
        log_in(&self.dir)
    }
}

/// The last lines of the `serve.log` in `dir`.
pub fn log_in(dir: &Path) -> String {
    {
        let text = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(80).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Server {
    pub fn start(
        name: &str,
        yaml: impl FnOnce(&Path, u16) -> String,
        env: &[(&str, &str)],
    ) -> Self {
        let dir = std::env::temp_dir().join(format!("mtq-accounts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let api = free_port();
        std::fs::write(dir.join("mtq.yaml"), yaml(&dir, api)).unwrap();
        let mut s = Self {
            dir,
            api,
            key: String::new(),
            child: None,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            runs: 0,
        };
        let out = Command::new(env!("CARGO_BIN_EXE_mtq-trader"))
            .args(["api-key", "create", "--name", "ops", "--role", "admin"])
            .args(["--database-url", &s.url()])
            .current_dir(&s.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.key = String::from_utf8_lossy(&out.stdout).trim().to_string();
        s.spawn();
        s
    }

    /// Starts `serve` on the same directory, configuration and database (again, after a
    /// [`Server::kill`] or [`Server::stop`]); its log goes to `serve.log`, earlier runs' logs
    /// to `serve-N.log`.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "serve is already running");
        if self.runs > 0 {
            let _ = std::fs::rename(
                self.dir.join("serve.log"),
                self.dir.join(format!("serve-{}.log", self.runs)),
            );
        }
        self.runs += 1;
        let log = std::fs::File::create(self.dir.join("serve.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mtq-trader"));
        cmd.arg("serve")
            .arg("--config")
            .arg(self.dir.join("mtq.yaml"))
            .args(["--pace", "1500"])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    /// SIGKILL: the process dies between any two instructions, as in a crash.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("serve is running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub async fn call(&self, method: &str, path: &str, body: &str) -> Reply {
        request(
            &format!("127.0.0.1:{}", self.api),
            method,
            path,
            &self.key,
            &[],
            body,
        )
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self.call("GET", path, "").await;
        assert_eq!(r.status, 200, "GET {path}: {}\n{}", r.text(), self.log());
        r.json()
    }

    /// Polls `f` until it gives a value; fails after [`PATIENCE`] with the log.
    pub async fn until<T, F, Fut>(&self, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn account(&self, name: &str) -> Option<Value> {
        let r = request(
            &format!("127.0.0.1:{}", self.api),
            "GET",
            &format!("/api/v1/accounts/{name}"),
            &self.key,
            &[],
            "",
        )
        .await
        .ok()?;
        (r.status == 200).then(|| r.json())
    }

    /// SIGTERM and wait for the exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("serve did not stop:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
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

/// Every order a terminal received carries `magic` and an id of `prefix`.
pub fn all_orders_are(t: &Terminal, magic: u64, prefix: &str) -> usize {
    let sent = t.fake.orders_sent();
    for o in &sent {
        assert_eq!(
            field(o, "magic").as_u64(),
            Some(magic),
            "order on the wrong terminal: {o}"
        );
        let comment = field(o, "comment").as_str().unwrap_or_default();
        assert!(
            comment.starts_with(prefix),
            "order on the wrong terminal: {o}"
        );
    }
    sent.len()
}
