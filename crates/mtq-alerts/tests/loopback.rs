//! Alerts and Telegram commands over the real protocols on loopback: a fake Telegram Bot API
//! (HTTP), a webhook receiver that verifies every signature (HTTP), and an SMTP server, with a
//! real paper session on the simulated broker and a real SQLite file for `alert_history`.

mod kit;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;
use kit::{FakeTelegram, Receiver, SmtpServer, TOKEN, WEBHOOK_SECRET, eventually};
use mtq_alerts::{AlertSetup, Alerter, BotOptions, History, TelegramBot, forward_events};
use mtq_core::{DomainEvent, EventKind};
use mtq_orchestrator::config::{
    self, AlertLevel, AlertsSection, ConfigSource, DEFAULT_CONFIG, EventLevels, Secret, SmtpTls,
};
use mtq_orchestrator::paper::run_paper_session_controlled;
use mtq_orchestrator::paper::{CollectEvents, PaperControl, PaperOptions};
use mtq_orchestrator::{
    Actor, ControlCommand, LiveSnapshot, MemoryIntentStore, Role, TradingState, control_channel,
};
use mtq_persistence::{AuditRepo, Store};

struct TempDb {
    dir: std::path::PathBuf,
    url: String,
}

impl TempDb {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "mtq-alerts-{tag}-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("alerts.db").display());
        Self { dir, url }
    }
    fn history(&self) -> History {
        History::new(Store::open(&self.url).unwrap(), None)
    }
    fn rows(&self) -> Vec<mtq_persistence::AlertRecord> {
        Store::open(&self.url)
            .unwrap()
            .recent_alerts(10_000, None, None)
            .unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

const CHAT: i64 = 42;

fn webhook_only(url: &str) -> AlertsSection {
    let mut a = AlertsSection::default();
    a.webhook.enabled = true;
    a.webhook.url = url.into();
    a.webhook.secret = Secret::new(WEBHOOK_SECRET);
    a.webhook.backoff_ms = 20;
    a
}

fn all_three(telegram: &str, webhook: &str, smtp_port: u16) -> AlertsSection {
    let mut a = webhook_only(webhook);
    a.telegram.enabled = true;
    a.telegram.api_url = telegram.into();
    a.telegram.bot_token = Secret::new(TOKEN);
    a.telegram.chat_ids = vec![CHAT];
    a.email.enabled = true;
    a.email.host = "127.0.0.1".into();
    a.email.port = smtp_port;
    a.email.tls = SmtpTls::None;
    a.email.from = "MTQ <mtq@localhost>".into();
    a.email.to = vec!["ops@localhost".into()];
    a
}

fn paper_config() -> Arc<config::AppConfig> {
    Arc::new(config::load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[]).unwrap())
}

fn trader() -> Actor {
    Actor {
        id: "test".into(),
        role: Role::Trader,
        via: "api".into(),
    }
}

/// A realtime paper session: one cycle at once, then it waits minutes for the next bar,
/// answering commands meanwhile (until a `stop`).
fn realtime() -> PaperOptions {
    PaperOptions {
        weeks: 1,
        realtime: true,
        kill_file: None,
        ..PaperOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_switch_trip_in_a_paper_session_reaches_telegram_the_webhook_and_email() {
    let (tg, tg_url) = FakeTelegram::start().await;
    let (hook, hook_url) = Receiver::start(StatusCode::OK).await;
    let (smtp, port) = SmtpServer::start().await;
    let db = TempDb::new("kill");
    let setup =
        AlertSetup::from_config(&all_three(&tg_url, &hook_url, port), &[], "default").unwrap();
    let (alerter, engine) = setup.start(Some(db.history()));
    let (handle, port_) = control_channel(LiveSnapshot::starting("default", chrono::Utc::now()));
    let forwarder = forward_events(handle.subscribe(), alerter.clone());
    let opts = realtime();
    let session = run_paper_session_controlled(
        paper_config(),
        &opts,
        Arc::new(MemoryIntentStore::new()),
        Arc::new(CollectEvents::default()),
        PaperControl::default(),
        Some(port_),
    );
    let operator = async {
        let trip = ControlCommand::TripKillSwitch {
            reason: "operator drill".into(),
        };
        handle.send(trip, trader()).await.unwrap();
        eventually("the kill switch alert on all three channels", || {
            !tg.texts_to(CHAT).is_empty()
                && !hook.bodies.lock().unwrap().is_empty()
                && !smtp.mails.lock().unwrap().is_empty()
        })
        .await;
        handle.send(ControlCommand::Stop, trader()).await.unwrap();
    };
    let guarded = tokio::time::timeout(Duration::from_secs(120), session);
    let (summary, ()) = tokio::join!(guarded, operator);
    summary.expect("a stop ends the session").unwrap();

    let texts = tg.texts_to(CHAT);
    assert!(texts[0].contains("Kill switch tripped") && texts[0].contains("operator drill"));
    let body = hook.bodies.lock().unwrap()[0].clone();
    assert_eq!(body["kind"], "kill_switch_tripped");
    assert_eq!(body["severity"], "critical");
    assert_eq!(hook.bad_signatures.load(Ordering::SeqCst), 0);
    let mail = smtp.mails.lock().unwrap()[0].clone();
    assert_eq!(mail.to, ["<ops@localhost>"]);
    assert!(
        mail.data
            .contains("Subject: [MTQ critical] Kill switch tripped"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("operator drill"));
    // The token never left the URL path: the fake saw no call with another token.
    assert_eq!(tg.bad_token_calls.load(Ordering::SeqCst), 0);

    drop(alerter);
    forwarder.abort();
    engine.finish(Duration::from_secs(10)).await;
    let rows = db.rows();
    let mut channels: Vec<&str> = rows
        .iter()
        .filter(|r| r.alert.event_type == "kill_switch_tripped")
        .map(|r| {
            assert!(r.alert.delivered, "{r:?}");
            assert_eq!(r.alert.attempts, 1);
            r.alert.channel.as_str()
        })
        .collect();
    channels.sort_unstable();
    assert_eq!(channels, ["email", "telegram", "webhook"]);
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_then_recorded_as_failed() {
    let (hook, url) = Receiver::start(StatusCode::INTERNAL_SERVER_ERROR).await;
    let db = TempDb::new("fail");
    let mut cfg = webhook_only(&url);
    cfg.webhook.retries = 2;
    let (alerter, engine) = AlertSetup::from_config(&cfg, &[], "default")
        .unwrap()
        .start(Some(db.history()));
    let t = chrono::Utc::now();
    let event = DomainEvent::new(
        t,
        EventKind::Connection {
            connected: false,
            detail: "heartbeat lost".into(),
        },
    );
    assert!(alerter.notify(mtq_alerts::Alert::from_event(&event).unwrap()));
    drop(alerter);
    engine.finish(Duration::from_secs(30)).await;
    // The first try and two retries, each signed correctly.
    assert_eq!(hook.calls.load(Ordering::SeqCst), 3);
    assert_eq!(hook.bad_signatures.load(Ordering::SeqCst), 0);
    let rows = db.rows();
    assert_eq!(rows.len(), 1);
    let r = &rows[0].alert;
    assert_eq!(
        (
            r.channel.as_str(),
            r.event_type.as_str(),
            r.delivered,
            r.attempts
        ),
        ("webhook", "broker_disconnected", false, 3)
    );
    assert_eq!(r.error.as_deref(), Some("the endpoint answered 500"));
    assert_eq!(r.severity, "critical");
}

/// Runs a fast (not paced) paper session of one week; `alerter`, when given, receives every
/// event the trader publishes.
async fn fast_session(alerter: Option<Alerter>) -> mtq_orchestrator::SessionSummary {
    let (handle, port) = control_channel(LiveSnapshot::starting("default", chrono::Utc::now()));
    let forwarder = alerter.map(|a| forward_events(handle.subscribe(), a));
    let opts = PaperOptions {
        weeks: 1,
        kill_file: None,
        ..PaperOptions::default()
    };
    let s = run_paper_session_controlled(
        paper_config(),
        &opts,
        Arc::new(MemoryIntentStore::new()),
        Arc::new(CollectEvents::default()),
        PaperControl::default(),
        Some(port),
    )
    .await
    .unwrap();
    drop(handle);
    if let Some(f) = forwarder {
        // Let the forwarder take what is buffered, then stop it.
        tokio::time::sleep(Duration::from_millis(100)).await;
        f.abort();
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_never_holds_up_the_trader() {
    // The endpoint accepts the connection and never answers; each try waits out a 30 s timeout.
    let url = kit::black_hole().await;
    let mut cfg = webhook_only(&url);
    cfg.webhook.timeout_seconds = 30;
    cfg.webhook.events = EventLevels::all(AlertLevel::On);
    cfg.dedup_seconds = 0;
    let (alerter, engine) = AlertSetup::from_config(&cfg, &[], "default")
        .unwrap()
        .start(None);
    let baseline = fast_session(None).await;
    let with_alerts = tokio::time::timeout(
        Duration::from_secs(120),
        fast_session(Some(alerter.clone())),
    )
    .await
    .expect("the session finished");
    // The same session, cycle for cycle, trade for trade...
    assert_eq!(with_alerts.cycles, baseline.cycles);
    assert_eq!(with_alerts.closed_trades, baseline.closed_trades);
    assert_eq!(with_alerts.net_profit, baseline.net_profit);
    assert_eq!(with_alerts.orders_filled, baseline.orders_filled);
    // ...that produced alerts, and finished while the first delivery was still waiting on the
    // dead endpoint: nothing of the trader waited for it.
    let stats = alerter.stats();
    assert!(stats.accepted > 10, "{stats:?}");
    assert_eq!(stats.delivered + stats.failed, 0, "{stats:?}");
    drop(alerter);
    engine.finish(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn a_burst_of_a_thousand_identical_events_is_sent_once() {
    let (hook, url) = Receiver::start(StatusCode::OK).await;
    let (tg, tg_url) = FakeTelegram::start().await;
    let db = TempDb::new("burst");
    let mut cfg = webhook_only(&url);
    cfg.telegram.enabled = true;
    cfg.telegram.api_url = tg_url;
    cfg.telegram.bot_token = Secret::new(TOKEN);
    cfg.telegram.chat_ids = vec![CHAT];
    let (alerter, engine) = AlertSetup::from_config(&cfg, &[], "default")
        .unwrap()
        .start(Some(db.history()));
    let (handle, port) = control_channel(LiveSnapshot::starting("default", chrono::Utc::now()));
    let forwarder = forward_events(handle.subscribe(), alerter.clone());
    let t = chrono::Utc::now();
    for _ in 0..1000 {
        port.events
            .send(DomainEvent::new(
                t,
                EventKind::Connection {
                    connected: false,
                    detail: "bridge: heartbeat lost".into(),
                },
            ))
            .unwrap();
    }
    eventually("the burst to be taken", || {
        let s = alerter.stats();
        s.accepted == 1000 && s.suppressed == 999
    })
    .await;
    forwarder.abort();
    drop(alerter);
    engine.finish(Duration::from_secs(10)).await;
    assert_eq!(hook.bodies.lock().unwrap().len(), 1);
    assert_eq!(tg.texts_to(CHAT).len(), 1);
    let rows = db.rows();
    assert_eq!(rows.len(), 2, "one delivery per channel");
    assert!(rows.iter().all(|r| r.alert.delivered));
}

#[tokio::test]
async fn telegram_429_is_waited_out_then_the_message_goes() {
    let (tg, tg_url) = FakeTelegram::start().await;
    let db = TempDb::new("429");
    let mut cfg = AlertsSection::default();
    cfg.telegram.enabled = true;
    cfg.telegram.api_url = tg_url;
    cfg.telegram.bot_token = Secret::new(TOKEN);
    cfg.telegram.chat_ids = vec![CHAT];
    tg.throttle.store(1, Ordering::SeqCst);
    let (alerter, engine) = AlertSetup::from_config(&cfg, &[], "default")
        .unwrap()
        .start(Some(db.history()));
    let t = chrono::Utc::now();
    alerter.notify(mtq_alerts::Alert::new(
        mtq_alerts::AlertKind::Test,
        t,
        "MTQ test message",
        "x",
        "",
    ));
    drop(alerter);
    engine.finish(Duration::from_secs(30)).await;
    assert_eq!(tg.texts_to(CHAT).len(), 1);
    let rows = db.rows();
    assert_eq!((rows[0].alert.delivered, rows[0].alert.attempts), (true, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_pause_from_an_allowed_chat_pauses_entries_and_from_another_chat_does_nothing() {
    const STRANGER: i64 = 999;
    const VIEWER: i64 = 7;
    let (tg, tg_url) = FakeTelegram::start().await;
    let client = mtq_alerts::telegram::TelegramClient::new(
        &tg_url,
        Secret::new(TOKEN),
        Duration::from_secs(5),
    )
    .unwrap();
    let (handle, port) = control_channel(LiveSnapshot::starting("default", chrono::Utc::now()));
    let events = Arc::new(CollectEvents::default());
    let opts = realtime();
    let session = run_paper_session_controlled(
        paper_config(),
        &opts,
        Arc::new(MemoryIntentStore::new()),
        events.clone(),
        PaperControl::default(),
        Some(port),
    );
    let bot = TelegramBot::new(
        client,
        handle.clone(),
        BotOptions {
            chats: [(CHAT, Role::Trader), (VIEWER, Role::Viewer)].into(),
            confirm: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            history: None,
        },
    );
    let (stop_bot, bot_stopped) = tokio::sync::watch::channel(false);
    let bot_task = tokio::spawn(bot.run(bot_stopped));
    let operator = async {
        // A chat that is not allowed: ignored, not answered.
        tg.say(STRANGER, "/pause");
        tg.say(STRANGER, "/confirm");
        let taken = tg.last_update();
        eventually("the bot to take the stranger's messages", || {
            *tg.offset.lock().unwrap() > taken
        })
        .await;
        assert_eq!(handle.snapshot().trading, TradingState::Running);
        assert!(tg.texts_to(STRANGER).is_empty());
        // A viewer may read but not steer.
        tg.say(VIEWER, "/pause");
        eventually("the viewer's answer", || !tg.texts_to(VIEWER).is_empty()).await;
        assert!(tg.texts_to(VIEWER)[0].starts_with("Not allowed"));
        // The trader's chat: asked to confirm, then done.
        tg.say(CHAT, "/status");
        tg.say(CHAT, "/pause");
        eventually("the request to confirm", || {
            tg.texts_to(CHAT).iter().any(|t| t.contains("/confirm"))
        })
        .await;
        assert_eq!(handle.snapshot().trading, TradingState::Running);
        tg.say(CHAT, "/confirm");
        eventually("the pause", || {
            tg.texts_to(CHAT).iter().any(|t| t.starts_with("Done"))
        })
        .await;
        assert_eq!(handle.snapshot().trading, TradingState::EntriesPaused);
        let texts = tg.texts_to(CHAT);
        assert!(texts[0].contains("Account default: running"), "{texts:?}");
        handle.send(ControlCommand::Stop, trader()).await.unwrap();
    };
    let guarded = tokio::time::timeout(Duration::from_secs(120), session);
    let (summary, ()) = tokio::join!(guarded, operator);
    summary.expect("a stop ends the session").unwrap();
    stop_bot.send(true).unwrap();
    bot_task.await.unwrap();
    // The audit trail names the chat.
    let audited: Vec<_> = events
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::OperatorCommand {
                command,
                actor,
                via,
                ..
            } => Some((command, actor, via)),
            _ => None,
        })
        .collect();
    assert!(audited.contains(&(
        "pause_entries".into(),
        format!("telegram:{CHAT}"),
        "telegram".into()
    )));
    assert!(
        !audited
            .iter()
            .any(|(_, a, _)| a.contains(&STRANGER.to_string()))
    );
}
