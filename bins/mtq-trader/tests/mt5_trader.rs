//! The trader binary against a fake MT5 terminal over real TCP: it trades, manages and closes
//! positions through the bridge protocol; killed with SIGKILL mid-session and restarted on the
//! same database, it reconciles, sends no order twice and loses no record.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, Utc};
use mtq::core::{Bar, Timeframe};
use mtq::persistence::{AccountId, AccountRepo, OrderRepo, OrderState, Store, TradeRepo};
use mtq_core::testkit::swing_bar;
use mtq_mt5::fake::{FakeAccount, FakeSymbol, FakeTerminal, field};

const TOKEN: &str = "e2e-token-0123456789";

const CONFIG: &str = r#"
global:
  max_concurrent_trades: 3
modifications:
  enable_breakeven: true
  breakeven_trigger_pips: 4
  breakeven_offset_pips: 1
  enable_trailing_stop: false
  enable_partial_close: false
currencies:
  - symbol: EURUSD
    enabled: true
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
logging:
  level: info
"#;

struct Session {
    dir: PathBuf,
    url: String,
    port: u16,
    fake: FakeTerminal,
    start: DateTime<Utc>,
    bars: Vec<Bar>,
}

impl Session {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mtq-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("mtq.yaml"), CONFIG).unwrap();
        let url = format!("sqlite://{}", dir.join("mtq.db").display());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let fake = FakeTerminal::new(FakeAccount::default(), vec![FakeSymbol::forex("EURUSD")]);
        // History far enough back that every bar is closed: the trader warms up on it.
        let start = (Utc::now() - chrono::Duration::hours(12))
            .duration_trunc(chrono::Duration::minutes(1))
            .unwrap();
        let bars: Vec<Bar> = (0..40).map(|k| swing_bar(start, k, 1.1)).collect();
        let s = Self {
            dir,
            url,
            port,
            fake,
            start,
            bars,
        };
        s.publish();
        s
    }

    fn publish(&self) {
        self.fake
            .set_rates("EURUSD", Timeframe::M1, self.bars.clone());
        let last = self.bars.last().unwrap().close;
        self.fake.set_quote("EURUSD", last, last + 0.00012);
    }

    fn spawn(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("trader.log"))
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_mtq-trader"))
            .args([
                "trade",
                "--broker",
                "mt5",
                "--mt5-token",
                TOKEN,
                "--mt5-wait",
                "120",
            ])
            .args(["--mt5-port", &self.port.to_string()])
            .args(["--database-url", &self.url])
            .arg("--config")
            .arg(self.dir.join("mtq.yaml"))
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// Adds `n` bars, one per trader cycle: the next bar appears once the trader has read the
    /// rates after the previous one.
    async fn feed(&mut self, n: usize) {
        for _ in 0..n {
            let seen = self.fake.requests_of("rates").len();
            let k = i64::try_from(self.bars.len()).unwrap();
            self.bars.push(swing_bar(self.start, k, 1.1));
            self.publish();
            let deadline = Instant::now() + Duration::from_secs(60);
            while self.fake.requests_of("rates").len() <= seen {
                assert!(
                    Instant::now() < deadline,
                    "the trader stopped reading rates; log:\n{}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("trader.log")).unwrap_or_default()
    }

    fn store(&self) -> Store {
        Store::open(&self.url).unwrap()
    }
}

/// The one account the trader registered (the terminal's login).
fn account(store: &mut Store) -> Option<AccountId> {
    let all = store.accounts().unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    Some(all[0].id)
}

fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, log: impl Fn() -> String) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the trader did not stop; log:\n{}", log());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn comments(orders: &[serde_json::Value]) -> Vec<String> {
    orders
        .iter()
        .map(|o| field(o, "comment").as_str().unwrap_or_default().to_string())
        .collect()
}

fn remove(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trader_trades_manages_and_closes_through_the_bridge() {
    let mut s = Session::new("mt5-trade");
    let mut child = s.spawn();
    s.fake.connect(s.port, TOKEN);
    s.feed(24).await;
    terminate(&mut child);
    let status = wait_exit(&mut child, || s.log());
    assert!(status.success(), "exit {status}; log:\n{}", s.log());

    let sent = s.fake.orders_sent();
    assert!(
        sent.len() >= 3,
        "orders at the terminal: {sent:?}\n{}",
        s.log()
    );
    for o in &sent {
        assert_eq!(field(o, "magic").as_u64(), Some(20_240_304), "{o}");
        let comment = field(o, "comment").as_str().unwrap();
        assert!(comment.starts_with("mtq-") && comment.len() <= 31, "{o}");
        assert!(
            field(o, "sl").as_f64().unwrap_or(0.0) > 0.0,
            "every entry has a stop: {o}"
        );
    }
    assert!(
        !s.fake.closes().is_empty(),
        "crossover reverses: the terminal saw closes"
    );
    assert!(
        !s.fake.modifications().is_empty(),
        "breakeven moved stops at the terminal"
    );

    let mut store = s.store();
    let a = account(&mut store);
    for c in comments(&sent) {
        let id = mtq::core::ClientOrderId::new(&c).unwrap();
        let order = store
            .order(a, &id)
            .unwrap()
            .expect("every order is recorded");
        assert_eq!(order.state, OrderState::Done, "{c}");
    }
    let open = store.open_trades(a).unwrap();
    assert_eq!(open.len(), s.fake.open_positions().len());
    for (t, p) in open.iter().zip(s.fake.open_positions()) {
        assert_eq!((t.ticket.0, &t.comment), (p.0, &p.5));
    }
    let log = s.log();
    assert!(log.contains("session summary"), "{log}");
    assert!(!log.contains(TOKEN), "the token never reaches the log");
    remove(&s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_trader_restarts_reconciles_and_loses_nothing() {
    let mut s = Session::new("mt5-crash");
    let mut first = s.spawn();
    s.fake.connect(s.port, TOKEN);
    s.feed(14).await;
    // SIGKILL: no shutdown, no flush.
    first.kill().unwrap();
    let _ = first.wait();
    let before = s.fake.orders_sent().len();
    assert!(
        before >= 2,
        "orders before the crash: {before}\n{}",
        s.log()
    );

    // A write the crash lost: the newest open trade's row.
    let lost = {
        let mut store = s.store();
        let a = account(&mut store);
        let open = store.open_trades(a).unwrap();
        open.last().map(|t| t.ticket)
    };
    if let Some(ticket) = lost {
        use diesel::RunQueryDsl;
        let mut store = s.store();
        let sql = format!("DELETE FROM trades WHERE ticket = {}", ticket.0);
        let mtq::persistence::AnyConnection::Sqlite(c) = store.connection() else {
            unreachable!("the test database is SQLite")
        };
        diesel::sql_query(sql).execute(c).unwrap();
    }

    let mut second = s.spawn();
    s.feed(12).await;
    terminate(&mut second);
    let status = wait_exit(&mut second, || s.log());
    assert!(status.success(), "exit {status}; log:\n{}", s.log());

    let sent = s.fake.orders_sent();
    let ids = comments(&sent);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an order was sent twice: {ids:?}");

    let mut store = s.store();
    let a = account(&mut store);
    let mut positions = Vec::new();
    for c in &ids {
        let id = mtq::core::ClientOrderId::new(c).unwrap();
        let order = store
            .order(a, &id)
            .unwrap()
            .expect("every order is recorded");
        assert_eq!(order.state, OrderState::Done, "{c}: {order:?}");
        positions.push(order.position.expect("a filled order names its position"));
    }
    for state in [OrderState::Intent, OrderState::Unknown] {
        assert!(store.orders_in_state(None, state).unwrap().is_empty());
    }
    for p in &positions {
        assert!(
            store.trade(a, *p).unwrap().is_some(),
            "position {p} has no trade record; log:\n{}",
            s.log()
        );
    }
    let mut open: Vec<u64> = store
        .open_trades(a)
        .unwrap()
        .iter()
        .map(|t| t.ticket.0)
        .collect();
    let mut at_terminal: Vec<u64> = s.fake.open_positions().iter().map(|p| p.0).collect();
    at_terminal.sort_unstable();
    open.sort_unstable();
    assert_eq!(open, at_terminal, "open trades match the terminal");
    let log = s.log();
    assert!(log.contains("start-up reconciliation"), "{log}");
    if let Some(t) = lost {
        assert!(
            log.contains(&format!("records restored (opened): {t}")),
            "{log}"
        );
    }
    remove(&s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_how_each_symbol_maps_at_a_broker_with_a_suffix() {
    let dir = std::env::temp_dir().join(format!("mtq-e2e-check-map-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let gbpusd = CONFIG
        .split("  - symbol: EURUSD")
        .nth(1)
        .and_then(|rest| rest.split("trader:").next())
        .unwrap();
    let config = CONFIG.replace(
        "trader:",
        &format!("  - symbol: GBPUSD{gbpusd}broker:\n  symbols: {{GBPUSD: GBPUSD.m}}\ntrader:"),
    );
    std::fs::write(dir.join("mtq.yaml"), config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = FakeTerminal::new(
        FakeAccount::default(),
        vec![
            FakeSymbol::forex("EURUSD.m"),
            FakeSymbol::forex("GBPUSD.m").outside_market_watch(),
        ],
    );
    let child = Command::new(env!("CARGO_BIN_EXE_mtq-trader"))
        .args(["check", "--broker", "mt5", "--mt5-token", TOKEN])
        .args(["--mt5-port", &port.to_string()])
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.join("mtq.db").display()))
        .arg("--config")
        .arg(dir.join("mtq.yaml"))
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    fake.connect(port, TOKEN);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = |sym: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(sym) && l.contains("->"))
            .unwrap_or_else(|| panic!("no mapping line for {sym}:\n{stdout}"))
            .to_string()
    };
    let eur = line("EURUSD");
    assert!(
        eur.contains("EURUSD.m") && eur.contains("discovered"),
        "{eur}"
    );
    let gbp = line("GBPUSD");
    assert!(
        gbp.contains("GBPUSD.m")
            && gbp.contains("broker.symbols")
            && gbp.contains("added to Market Watch"),
        "{gbp}"
    );
    assert!(fake.in_market_watch("GBPUSD.m"));
    fake.stop();
    remove(&dir);
}
