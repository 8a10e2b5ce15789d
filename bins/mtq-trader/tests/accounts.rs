//! Several accounts in one `mtq-trader serve` (issue 18): two fake MT5 terminals on two ports
//! and a paper account. Each account's orders reach only its own terminal, with its own magic
//! number and client-order-id prefix; a terminal that stops leaves the others trading and is
//! recorded as disconnected; one account's kill switch, or its own daily-loss limit, halts only
//! it; the API lists every account with its connection state and agrees with the terminals and
//! the database; the portfolio limit pauses entries on every account; each account's alerts
//! name it; `/readyz` says which account is not ready.

#![cfg(unix)]

mod accounts_kit;
mod serve_kit;

use std::path::Path;
use std::time::Duration;

use accounts_kit::{Server, Terminal, all_orders_are, config};
use chrono::Utc;
use mtq::persistence::{Store, TradeRepo, TradingAccountRepo};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_account_trades_its_own_terminal_and_a_stopped_one_stalls_only_itself() {
    let mut alpha = Terminal::new(1001, "alpha-token-0123456789");
    let mut beta = Terminal::new(2002, "beta-token-0123456789");
    let (pa, pb) = (alpha.port, beta.port);
    let mut server = Server::start(
        "mt5",
        |dir, api| config(dir, api, pa, pb, ""),
        &[
            ("MTQ_TEST_TOKEN_ALPHA", &alpha.token),
            ("MTQ_TEST_TOKEN_BETA", &beta.token),
        ],
    );
    alpha.fake.connect(alpha.port, &alpha.token);
    beta.fake.connect(beta.port, &beta.token);
    let log = || server.log();
    for _ in 0..16 {
        alpha.step(&log).await;
        beta.step(&log).await;
    }
    let (a, b) = (
        all_orders_are(&alpha, 111, "alpha"),
        all_orders_are(&beta, 222, "beta"),
    );
    assert!(
        a >= 2 && b >= 2,
        "orders at alpha {a}, at beta {b}; log:\n{}",
        server.log()
    );

    // Every account is listed with its state.
    let list = server
        .until("every account connected", || async {
            let v = server.get("/api/v1/accounts").await;
            let all = v.as_array()?.clone();
            (all.len() == 3 && all.iter().all(|x| x["connection"] == "connected")).then_some(all)
        })
        .await;
    let names: Vec<&str> = list.iter().filter_map(|x| x["name"].as_str()).collect();
    assert_eq!(names, ["alpha", "beta", "paper"]);
    assert_eq!(list[0]["login"], 1001);
    assert_eq!(list[0]["broker_kind"], "mt5");
    assert_eq!(list[2]["broker_kind"], "sim");
    // Readiness covers every account.
    server
        .until("/readyz ready with all three accounts", || async {
            let r = server.call("GET", "/readyz", "").await;
            let n = r.json()["accounts"].as_array().map_or(0, Vec::len);
            (r.status == 200 && n == 3).then_some(())
        })
        .await;

    // One account's kill switch halts only that account.
    let r = server
        .call(
            "POST",
            "/api/v1/accounts/alpha/kill-switch/trip",
            r#"{"reason":"test"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let halted = server.get("/api/v1/accounts/alpha").await;
    assert_ne!(halted["kill_switch"], "active", "{halted}");
    for other in ["beta", "paper"] {
        let v = server.get(&format!("/api/v1/accounts/{other}")).await;
        assert_eq!(v["kill_switch"], "active", "{other}: {v}");
    }
    let r = server.call("GET", "/api/v1/accounts/gamma", "").await;
    assert_eq!(r.status, 404);

    // The API and the terminals agree on each account's positions.
    for (name, t) in [("alpha", &alpha), ("beta", &beta)] {
        let want: Vec<u64> = {
            let mut v: Vec<u64> = t.fake.open_positions().iter().map(|p| p.0).collect();
            v.sort_unstable();
            v
        };
        server
            .until(&format!("{name}'s positions in the API"), || async {
                let v = server
                    .get(&format!("/api/v1/accounts/{name}/positions"))
                    .await;
                let mut got: Vec<u64> = v
                    .as_array()?
                    .iter()
                    .filter_map(|p| p["ticket"].as_u64())
                    .collect();
                got.sort_unstable();
                (got == want).then_some(())
            })
            .await;
    }

    // Beta's terminal goes away: alpha keeps trading, beta is recorded as disconnected.
    beta.fake.stop();
    for _ in 0..4 {
        alpha.step(&log).await;
    }
    server
        .until("beta shown disconnected", || async {
            let v = server.get("/api/v1/accounts").await;
            let beta = v.as_array()?.iter().find(|x| x["name"] == "beta")?.clone();
            (beta["connection"] == "disconnected").then_some(())
        })
        .await;
    let alpha_now = server.get("/api/v1/accounts").await;
    assert_eq!(alpha_now[0]["connection"], "connected", "{alpha_now}");
    // The process is not ready while one account's terminal is away, and says which.
    let ready = server
        .until("/readyz naming beta", || async {
            let r = server.call("GET", "/readyz", "").await;
            (r.status == 503).then(|| r.json())
        })
        .await;
    let of = |name: &str| {
        ready["accounts"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{name} in {ready}"))
    };
    assert_eq!(of("beta")["broker_connected"], false, "{ready}");
    assert_eq!(of("alpha")["broker_connected"], true, "{ready}");
    assert_eq!(ready["broker_connected"], false, "{ready}");
    {
        let mut store = Store::open(&server.url()).unwrap();
        let row = store.trading_account("beta").unwrap().unwrap();
        assert!(!row.connected, "{row:?}");
        let history = store.connection_history(row.id, 50).unwrap();
        assert!(history.iter().any(|h| h.connected), "{history:?}");
        assert!(!history[0].connected, "{history:?}");
        assert!(store.trading_account("alpha").unwrap().unwrap().connected);
    }

    server.stop();
    // The database agrees with each terminal: every open trade of alpha's account is open there.
    let mut store = Store::open(&server.url()).unwrap();
    let alpha_row = store.trading_account("alpha").unwrap().unwrap();
    let open = store.open_trades(alpha_row.account).unwrap();
    let mut db: Vec<u64> = open.iter().map(|t| t.ticket.0).collect();
    let mut term: Vec<u64> = alpha.fake.open_positions().iter().map(|p| p.0).collect();
    db.sort_unstable();
    term.sort_unstable();
    assert_eq!(db, term, "alpha's open trades match its terminal");
    for t in &open {
        assert!(t.comment.starts_with("alpha"), "{t:?}");
    }
    // At exit every account is written stopped.
    for name in ["alpha", "beta", "paper"] {
        let row = store.trading_account(name).unwrap().unwrap();
        assert!(!row.connected && row.state_reason == "stopped", "{row:?}");
    }
}

fn sim_config(dir: &Path, api: u16) -> String {
    format!(
        r#"global:
  max_concurrent_trades: 10
  portfolio_risk_percent: 50.0
  max_currency_exposure_percent: 100000
emergency:
  stop_on_daily_loss: false
  stop_on_max_drawdown: false
currencies:
  - {{symbol: EURUSD, risk_percent: 0.1, strategy_type: crossover, timeframe: M5, fast_period: 2, slow_period: 5, sl_pips: 30, tp_pips: 30, cooldown_seconds: 60, allow_position_stacking: true, max_positions_same_direction: 5}}
  - {{symbol: GBPUSD, risk_percent: 0.1, strategy_type: crossover, timeframe: M5, fast_period: 2, slow_period: 5, sl_pips: 30, tp_pips: 30, cooldown_seconds: 60, allow_position_stacking: true, max_positions_same_direction: 5}}
database:
  url: "sqlite://{db}"
api:
  port: {api}
  jwt_secret_file: "{secret}"
portfolio:
  max_currency_exposure_lots: 0.01
accounts:
  - {{name: one, magic: 1}}
  - {{name: two, magic: 2}}
"#,
        db = dir.join("mtq.db").display(),
        secret = dir.join("jwt.secret").display(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portfolio_limit_pauses_entries_on_every_account() {
    let mut server = Server::start("portfolio", sim_config, &[]);
    // The first position anywhere reaches the exposure limit: entries pause on both accounts.
    for name in ["one", "two"] {
        server
            .until(&format!("{name} paused by the portfolio limit"), || async {
                let v = server.account(name).await?;
                (v["trading"] == "entries_paused").then_some(())
            })
            .await;
    }
    let risk = server.get("/api/v1/portfolio/risk").await;
    assert_eq!(
        risk["limit_reached"], "portfolio_currency_exposure",
        "{risk}"
    );
    assert!(
        risk["accounts"]["one"].is_object() && risk["accounts"]["two"].is_object(),
        "{risk}"
    );
    let perf = server.get("/api/v1/portfolio/performance").await;
    assert!(
        perf["accounts"]["one"].is_object() && perf["total"]["trades"].is_u64(),
        "{perf}"
    );
    assert!(
        server.log().contains("portfolio limit reached"),
        "{}",
        server.log()
    );
    let status = server.stop();
    assert!(status.success(), "exit {status}:\n{}", server.log());
    // Each account recorded into its own broker account.
    let mut store = Store::open(&server.url()).unwrap();
    let one = store.trading_account("one").unwrap().unwrap();
    let two = store.trading_account("two").unwrap().unwrap();
    assert_eq!(
        (one.server.as_str(), two.server.as_str()),
        ("MTQ-Sim/one", "MTQ-Sim/two")
    );
    assert!(
        one.account.is_some() && one.account != two.account,
        "{one:?} {two:?}"
    );
}

/// A webhook receiver on loopback (HTTP/1.1, keep-alive) that keeps each body whose
/// `X-MTQ-Signature` verifies against `secret`, and counts the ones that do not.
struct Hooks {
    port: u16,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    forged: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Hooks {
    async fn start(secret: &'static str) -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let forged = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (b, f) = (bodies.clone(), forged.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let (b, f) = (b.clone(), f.clone());
                tokio::spawn(async move {
                    let mut s = BufReader::new(s);
                    loop {
                        let mut headers = Vec::new();
                        loop {
                            let mut line = String::new();
                            if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            headers.push(line.trim_end().to_string());
                        }
                        let header = |name: &str| {
                            headers.iter().find_map(|h| {
                                let (k, v) = h.split_once(':')?;
                                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                            })
                        };
                        let len: usize = header("content-length")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        let mut body = vec![0; len];
                        if s.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let ok = mtq_alerts::webhook::verify(
                            secret.as_bytes(),
                            header("x-mtq-timestamp").as_deref(),
                            header("x-mtq-signature").as_deref(),
                            &body,
                            Utc::now().timestamp(),
                            Duration::from_secs(300),
                        )
                        .is_ok();
                        if ok {
                            b.lock()
                                .unwrap()
                                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                        } else {
                            f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if s.get_mut().write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            port,
            bodies,
            forged,
        }
    }

    fn of_kind(&self, kind: &str) -> Vec<Value> {
        let all = self.bodies.lock().unwrap();
        all.iter().filter(|b| b["kind"] == kind).cloned().collect()
    }
}

const HOOK_SECRET: &str = "a webhook secret of 32 bytes....";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_kill_switch_trip_alerts_the_webhook_naming_that_account() {
    let hooks = Hooks::start(HOOK_SECRET).await;
    let port = hooks.port;
    let mut server = Server::start(
        "alerts",
        move |dir, api| {
            sim_config(dir, api).replace(
                "portfolio:\n  max_currency_exposure_lots: 0.01\n",
                &format!(
                    "alerts:\n  webhook:\n    enabled: true\n    url: http://127.0.0.1:{port}/mtq\n    retries: 1\n    backoff_ms: 100\n    per_minute: 100000\n"
                ),
            )
        },
        &[("MTQ__ALERTS__WEBHOOK__SECRET", HOOK_SECRET)],
    );
    for name in ["one", "two"] {
        server
            .until(&format!("{name} trading"), || async {
                let v = server.account(name).await?;
                (v["trading"] == "running").then_some(())
            })
            .await;
    }
    let r = server
        .call(
            "POST",
            "/api/v1/accounts/two/kill-switch/trip",
            r#"{"reason":"alert test"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}\n{}", r.text(), server.log());
    let trips = server
        .until("the webhook's kill-switch alert", || async {
            let t = hooks.of_kind("kill_switch_tripped");
            (!t.is_empty()).then_some(t)
        })
        .await;
    assert!(
        trips.iter().all(|t| t["account"] == "two"),
        "only account two tripped: {trips:?}"
    );
    assert_eq!(hooks.forged.load(std::sync::atomic::Ordering::SeqCst), 0);
    // Account one trades on, and its own alerts still run (its engine is its own).
    let one = server.account("one").await.unwrap();
    assert_eq!(one["trading"], "running", "{one}");
    assert!(
        server.log().contains("alerts of account one to webhook")
            && server.log().contains("alerts of account two to webhook"),
        "{}",
        server.log()
    );
    let status = server.stop();
    assert!(status.success(), "exit {status}:\n{}", server.log());
    // Each delivery is in alert_history under its own account row.
    let mut store = Store::open(&server.url()).unwrap();
    let two = store.trading_account("two").unwrap().unwrap().account;
    let rows = mtq::persistence::AuditRepo::recent_alerts(&mut store, 1000, None, None).unwrap();
    let tripped: Vec<_> = rows
        .iter()
        .filter(|r| r.alert.event_type == "kill_switch_tripped" && r.alert.channel == "webhook")
        .collect();
    assert!(!tripped.is_empty(), "{rows:?}");
    assert!(
        tripped
            .iter()
            .all(|r| r.alert.account == two && r.alert.delivered),
        "{tripped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_accounts_daily_loss_limit_halts_only_that_account() {
    // Account one may lose one cent a day; account two has no daily-loss stop. No portfolio limit.
    let mut server = Server::start(
        "daily-loss",
        |dir, api| {
            sim_config(dir, api)
                .replace("portfolio:\n  max_currency_exposure_lots: 0.01\n", "")
                .replace(
                    "  - {name: one, magic: 1}",
                    "  - {name: one, magic: 1, emergency: {stop_on_daily_loss: true, max_daily_loss_money: 0.01}}",
                )
        },
        &[],
    );
    let halted = server
        .until("account one halted by its daily loss", || async {
            let v = server.account("one").await?;
            (v["kill_switch"] != "active").then_some(v)
        })
        .await;
    let reason = halted["kill_switch_reason"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(reason.contains("daily"), "{halted}");
    // Account two is untouched and keeps trading after one's halt.
    let two = server.account("two").await.unwrap();
    assert_eq!(two["kill_switch"], "active", "{two}");
    assert_eq!(two["trading"], "running", "{two}");
    let trades = |v: &Value| v["accounts"]["two"]["trades"].as_u64();
    let before = trades(&server.get("/api/v1/portfolio/performance").await)
        .expect("two's closed trades in the portfolio performance");
    server
        .until("account two trading on", || async {
            let now = trades(&server.get("/api/v1/portfolio/performance").await)?;
            (now > before).then_some(())
        })
        .await;
    let one = server.account("one").await.unwrap();
    assert_ne!(one["kill_switch"], "active", "one stays halted: {one}");
    let status = server.stop();
    assert!(status.success(), "exit {status}:\n{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_own_kill_file_halts_only_it_and_mtq_kill_halts_every_account() {
    let mut server = Server::start(
        "kill-files",
        |dir, api| {
            sim_config(dir, api).replace("portfolio:\n  max_currency_exposure_lots: 0.01\n", "")
        },
        &[],
    );
    for name in ["one", "two"] {
        server
            .until(&format!("{name} running"), || async {
                let v = server.account(name).await?;
                (v["trading"] == "running" && v["kill_switch"] == "active").then_some(())
            })
            .await;
    }
    // `mtq.two.kill` in the working directory: account two halts, account one does not.
    std::fs::write(server.dir.join("mtq.two.kill"), "").unwrap();
    server
        .until("two halted by its kill file", || async {
            let v = server.account("two").await?;
            (v["kill_switch"] != "active").then_some(())
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let one = server.account("one").await.unwrap();
    assert_eq!(one["kill_switch"], "active", "{one}");
    // `mtq.kill` halts every account.
    std::fs::write(server.dir.join("mtq.kill"), "").unwrap();
    server
        .until("one halted by mtq.kill", || async {
            let v = server.account("one").await?;
            (v["kill_switch"] != "active").then_some(())
        })
        .await;
    let status = server.stop();
    assert!(status.success(), "exit {status}:\n{}", server.log());
}
