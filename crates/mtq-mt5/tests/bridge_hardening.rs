//! The bridge's listener under hostile or broken peers, over real TCP: unauthenticated memory,
//! secrets in logs, refusal floods and replies to ids MTQ never issued.
//!
//! The log tests run on a current-thread runtime so that a thread-local subscriber sees every
//! task's output. No test asserts a duration.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mtq_connector::{Broker, BrokerError, RetcodeClass};
use mtq_core::Symbol;
use mtq_mt5::fake::{FakeAccount, FakeSymbol, FakeTerminal};
use mtq_mt5::{Mt5Broker, Mt5Config, Token};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tracing_subscriber::layer::SubscriberExt;

const TOKEN: &str = "hardening-secret-7731";
const WAIT: Duration = Duration::from_secs(60);

fn cfg() -> Mt5Config {
    Mt5Config {
        request_timeout: Duration::from_secs(30),
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(300),
        hello_timeout: Duration::from_secs(120),
        max_line_bytes: 64 * 1024,
        refusal_log_interval: Duration::from_secs(3600),
        ..Mt5Config::new(0, Token::new(TOKEN).unwrap())
    }
}

fn hello(token: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let v = json!({"v": 1, "id": 1, "type": "hello", "token": token, "ea_version": "raw-1",
        "terminal_build": 4755, "terminal_name": "raw", "login": 5001, "server": "Demo",
        "company": "Raw", "currency": "USD", "leverage": 100,
        "margin_mode": "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING", "terminal_trade_allowed": true,
        "ea_trade_allowed": true, "time_trade_server": now + 7200, "time_gmt": now});
    format!("{v}\n")
}

/// A bridge written by hand: sends exactly the lines a test gives it.
struct RawBridge {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl RawBridge {
    async fn connect(port: u16) -> Self {
        let (rd, wr) = TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap()
            .into_split();
        Self {
            rd: BufReader::new(rd),
            wr,
        }
    }

    async fn authenticated(port: u16) -> Self {
        let mut b = Self::connect(port).await;
        b.send(&hello(TOKEN)).await;
        let welcome = b.next_message().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        b
    }

    async fn send(&mut self, line: &str) {
        self.wr.write_all(line.as_bytes()).await.unwrap();
    }

    /// The next line that is not a heartbeat.
    async fn next_message(&mut self) -> Value {
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(WAIT, self.rd.read_line(&mut line))
                .await
                .expect("a line from MTQ")
                .unwrap();
            assert!(n > 0, "MTQ closed the connection");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["type"] != "heartbeat" {
                return v;
            }
        }
    }
}

/// Log output in the human and the JSON format at once.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture_logs() -> (Captured, Captured, tracing::subscriber::DefaultGuard) {
    let (human, json) = (Captured::default(), Captured::default());
    let (h, j) = (human.clone(), json.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || h.clone()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || j.clone()),
        );
    let guard = tracing::subscriber::set_default(subscriber);
    (human, json, guard)
}

async fn until(mut done: impl FnMut() -> bool) {
    tokio::time::timeout(WAIT, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("condition reached");
}

#[tokio::test]
async fn no_log_line_carries_a_token_whatever_the_message_or_the_path() {
    let (human, json, _guard) = capture_logs();
    let broker = Mt5Broker::listen(cfg()).await.unwrap();
    let port = broker.local_port();
    let other = "attacker-guess-4411";

    // Before the hello: a wrong token, a first line that is not a hello, a broken hello.
    for first in [
        hello(other),
        format!("{{\"v\":1,\"id\":3,\"type\":\"heartbeat\",\"token\":\"{TOKEN}\"}}\n"),
        format!("{{\"v\":1,\"id\":1,\"type\":\"hello\",\"token\":\"{TOKEN}\"}}\n"),
        format!("{{\"v\":2,\"id\":1,\"type\":\"hello\",\"token\":\"{TOKEN}\"}}\n"),
        format!("{{\"v\":1,\"type\":\"hello\",\"token\":\"{TOKEN}\"\n"),
    ] {
        let mut b = RawBridge::connect(port).await;
        b.send(&first).await;
        let mut rest = Vec::new();
        let _ = b.rd.read_to_end(&mut rest).await;
    }
    until(|| broker.stats().refused == 5).await;

    // On an established connection: every message type, each with a token field.
    let mut b = RawBridge::authenticated(port).await;
    let pending = tokio::spawn({
        let broker = Arc::new(broker);
        let b2 = Arc::clone(&broker);
        async move { (b2.account().await, broker) }
    });
    let request = b.next_message().await;
    assert_eq!(request["type"], "account");
    let data = json!({"login": 5001, "server": "Demo", "currency": "USD", "balance": 1000.0,
        "equity": 1000.0, "margin": 0.0, "margin_free": 1000.0, "margin_level": 0.0,
        "leverage": 100, "margin_mode": "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING",
        "trade_allowed": true, "trade_expert": true, "token": TOKEN});
    let lines = [
        hello(TOKEN),
        json!({"v": 1, "id": 4242, "type": "reply", "retcode": 0, "error": 0, "comment": "",
            "token": TOKEN, "data": null})
        .to_string(),
        json!({"v": 1, "id": 0, "type": "heartbeat", "token": TOKEN, "time_trade_server": "x"})
            .to_string(),
        json!({"v": 1, "id": 0, "type": "tick", "token": TOKEN, "symbol": ""}).to_string(),
        json!({"v": 1, "id": 0, "type": "trade_transaction", "token": TOKEN}).to_string(),
        json!({"v": 1, "id": 0, "type": "mystery", "token": TOKEN}).to_string(),
        json!({"v": 9, "id": 0, "type": "tick", "token": TOKEN}).to_string(),
        json!({"v": 1, "id": 0, "type": "tick", "nested": {"password": TOKEN, "Api_Key": TOKEN}})
            .to_string(),
        format!("{{\"v\":1,\"id\":0,\"type\":\"hello\",\"token\":\"{TOKEN}\""),
        format!(
            "{{\"token\":\"{TOKEN}\",\"pad\":\"{}\"}}",
            "x".repeat(70 * 1024)
        ),
    ];
    let unusable = lines.len() as u64;
    for line in &lines {
        b.send(&format!("{line}\n")).await;
    }
    b.send(
        &json!({"v": 1, "id": request["id"], "type": "reply", "retcode": 0, "error": 0,
            "comment": "", "data": data})
        .to_string(),
    )
    .await;
    b.send("\n").await;
    let (account, broker) = pending.await.unwrap();
    assert_eq!(account.unwrap().login, 5001);
    until(|| broker.stats().malformed_lines >= unusable).await;

    let (human, json) = (human.text(), json.text());
    for (format, out) in [("human", &human), ("json", &json)] {
        assert!(
            out.contains("hello on an established connection"),
            "{format} log lacks the second hello:\n{out}"
        );
        assert!(out.contains("refused"), "{format} log lacks the refusal");
        assert!(
            !out.contains(TOKEN),
            "{format} log carries the token:\n{out}"
        );
        assert!(!out.contains(other), "{format} log carries a guessed token");
    }
}

#[tokio::test]
async fn a_flood_of_refused_connections_logs_one_line_not_one_per_connection() {
    let (human, json, _guard) = capture_logs();
    let broker = Mt5Broker::listen(cfg()).await.unwrap();
    let port = broker.local_port();
    let flood = 200;
    for i in 0..flood {
        let mut b = RawBridge::connect(port).await;
        let line = if i % 2 == 0 {
            hello("wrong-token-0000")
        } else {
            "not json at all\n".to_string()
        };
        b.send(&line).await;
        let mut rest = Vec::new();
        let _ = b.rd.read_to_end(&mut rest).await;
    }
    until(|| broker.stats().refused == flood).await;
    for (format, out) in [("human", human.text()), ("json", json.text())] {
        let refusals = out.lines().filter(|l| l.contains("refused")).count();
        assert_eq!(refusals, 1, "{format} log:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_hello_floods_hold_bounded_memory_and_excess_connections_close_at_once() {
    let broker = Mt5Broker::listen(cfg()).await.unwrap();
    let port = broker.local_port();

    // 20 idle connections: 16 wait for their hello, the others are closed at once.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    until(|| broker.stats().refused == 4).await;
    assert_eq!(broker.stats().pending_connections, 16);
    let mut closed = 0;
    for s in &mut idle {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(200), s.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    assert_eq!(closed, 4, "the connections over the cap are closed at once");
    drop(idle);
    until(|| broker.stats().pending_connections == 0).await;

    // 250 connections sending 1 MiB each without a newline.
    let mut floods = Vec::new();
    for _ in 0..250 {
        floods.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
                return;
            };
            let chunk = vec![b'{'; 64 * 1024];
            for _ in 0..16 {
                if s.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }));
    }
    let mut peak_seen = 0;
    for f in floods {
        peak_seen = peak_seen.max(broker.stats().pending_bytes);
        let _ = f.await;
    }
    let stats = broker.stats();
    let bound = 16 * 8 * 1024;
    assert!(
        stats.peak_pending_bytes <= bound && peak_seen <= bound,
        "unauthenticated connections held {} bytes at most (bound {bound})",
        stats.peak_pending_bytes
    );
    assert!(
        stats.peak_pending_bytes > 0,
        "the flood was buffered at all"
    );

    // The real terminal still gets in, and the normal line cap applies after its hello.
    until(|| broker.stats().pending_connections == 0).await;
    let fake = FakeTerminal::new(FakeAccount::default(), vec![FakeSymbol::forex("EURUSD")]);
    fake.connect(port, TOKEN);
    broker.wait_connected(WAIT).await.unwrap();
    let spec = broker
        .symbol_spec(&Symbol::new("EURUSD").unwrap())
        .await
        .unwrap();
    assert_eq!(spec.digits, 5);
    fake.stop();
}

#[tokio::test]
async fn a_reply_to_an_id_never_issued_is_a_protocol_error_not_a_late_reply() {
    let (human, _json, _guard) = capture_logs();
    let quick = Mt5Config {
        request_timeout: Duration::from_millis(300),
        ..cfg()
    };
    let broker = Arc::new(Mt5Broker::listen(quick).await.unwrap());
    let mut b = RawBridge::authenticated(broker.local_port()).await;

    b.send("{\"v\":1,\"id\":999,\"type\":\"reply\",\"retcode\":0,\"data\":null}\n")
        .await;
    until(|| broker.stats().unknown_replies == 1).await;
    assert_eq!(broker.stats().late_replies, 0);

    // A data request that is sent and never answered: transient, and not "not sent".
    let asking = tokio::spawn({
        let broker = Arc::clone(&broker);
        async move { broker.account().await }
    });
    let request = b.next_message().await;
    let err = asking.await.unwrap().unwrap_err();
    assert!(matches!(err, BrokerError::Unanswered { .. }), "{err}");
    assert_eq!(err.class(), RetcodeClass::RetryLater);
    assert!(!err.to_string().contains("not sent"), "{err}");

    // Its answer, late: a late reply, not a protocol error.
    let id = request["id"].as_u64().unwrap();
    b.send(&format!(
        "{{\"v\":1,\"id\":{id},\"type\":\"reply\",\"retcode\":0,\"data\":null}}\n"
    ))
    .await;
    until(|| broker.stats().late_replies == 1).await;
    assert_eq!(broker.stats().unknown_replies, 1);
    let out = human.text();
    assert!(out.contains("reply to unknown request id 999"), "{out}");
    assert!(
        out.contains(&format!("late reply to request {id} that had timed out")),
        "{out}"
    );
    assert!(!out.contains("999 that had timed out"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_data_errors_are_transient_but_an_unknown_symbol_is_not() {
    let quick = Mt5Config {
        request_timeout: Duration::from_millis(300),
        ..cfg()
    };
    // Nobody connected: not sent, retry later.
    let broker = Arc::new(Mt5Broker::listen(quick).await.unwrap());
    let err = broker.account().await.unwrap_err();
    assert!(
        matches!(
            err,
            BrokerError::Disconnected {
                after_send: false,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.class(), RetcodeClass::RetryLater);

    // Sent, then the connection drops before the answer: transient, never "not sent".
    let mut b = RawBridge::authenticated(broker.local_port()).await;
    let asking = tokio::spawn({
        let broker = Arc::clone(&broker);
        async move { broker.positions().await }
    });
    let request = b.next_message().await;
    assert_eq!(request["type"], "positions");
    drop(b);
    let err = asking.await.unwrap().unwrap_err();
    assert_eq!(err.class(), RetcodeClass::RetryLater, "{err}");
    assert!(!err.to_string().contains("not sent"), "{err}");

    // A symbol the broker does not have is a configuration to fix.
    let account = FakeAccount {
        login: 5001,
        ..FakeAccount::default()
    };
    let fake = FakeTerminal::new(account, vec![FakeSymbol::forex("EURUSD")]);
    fake.connect(broker.local_port(), TOKEN);
    broker.wait_connected(WAIT).await.unwrap();
    let err = broker
        .symbol_spec(&Symbol::new("USDJPY").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::UnknownSymbol(_)), "{err}");
    assert_eq!(err.class(), RetcodeClass::Rejected);
    fake.stop();
}
