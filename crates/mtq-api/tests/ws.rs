//! The WebSocket over loopback: tickets, snapshots, gap-free sequence numbers, slow clients.

mod common;

use std::time::Duration;

use common::{send, start, start_with};
use futures_util::{SinkExt, StreamExt};
use mtq_core::{DomainEvent, EventKind, Ticket};
use tokio_tungstenite::tungstenite::Message;

async fn ticket(s: &common::Server) -> String {
    let r = send(s.addr, "POST", "/api/v1/auth/ws-ticket", &s.viewer, "").await;
    r.json()["ticket"].as_str().unwrap().to_string()
}

fn modified(n: u64) -> DomainEvent {
    DomainEvent::new(
        chrono::Utc::now(),
        EventKind::PositionModified {
            ticket: Ticket(n),
            sl: None,
            tp: None,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gets_a_snapshot_then_every_trade_event_in_order_without_a_gap() {
    let s = start(true).await;
    let t = ticket(&s).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/api/v1/ws?ticket={t}", s.addr))
            .await
            .unwrap();
    ws.send(Message::Text(
        r#"{"op":"subscribe","channels":["trades:default"]}"#.into(),
    ))
    .await
    .unwrap();
    let first = ws.next().await.unwrap().unwrap();
    let env: serde_json::Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(
        (env["type"].as_str(), env["seq"].as_u64()),
        (Some("snapshot"), Some(1))
    );
    let events = s.events.clone().unwrap();
    for n in 0..200 {
        events.send(modified(n)).unwrap();
    }
    let mut expect = 2;
    while expect < 202 {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Message::Text(text) = m else { continue };
        let env: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(env["seq"].as_u64(), Some(expect), "{env}");
        assert_eq!(env["data"]["kind"]["ticket"].as_u64(), Some(expect - 2));
        expect += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_opens_one_socket_only() {
    let s = start(true).await;
    let t = ticket(&s).await;
    let url = format!("ws://{}/api/v1/ws?ticket={t}", s.addr);
    assert!(tokio_tungstenite::connect_async(&url).await.is_ok());
    assert!(
        tokio_tungstenite::connect_async(&url).await.is_err(),
        "a ticket worked twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_disconnected_and_counted_while_events_keep_flowing() {
    let s = start_with(true, |mut o| {
        o.ws_queue = 8;
        o
    })
    .await;
    let t = ticket(&s).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/api/v1/ws?ticket={t}", s.addr))
            .await
            .unwrap();
    ws.send(Message::Text(
        r#"{"op":"subscribe","channels":["trades:default"]}"#.into(),
    ))
    .await
    .unwrap();
    // The client reads nothing; the publisher never waits.
    let events = s.events.clone().unwrap();
    let started = std::time::Instant::now();
    for n in 0..20_000 {
        let _ = events.send(modified(n));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "publishing waited on a client"
    );
    let mut dropped = 0;
    for _ in 0..50 {
        dropped = s.state.ws_dropped();
        if dropped > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dropped, 1);
}

async fn open(s: &common::Server, key: &str, channels: &str) -> WsClient {
    let r = send(s.addr, "POST", "/api/v1/auth/ws-ticket", key, "").await;
    let t = r.json()["ticket"].as_str().unwrap().to_string();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/api/v1/ws?ticket={t}", s.addr))
            .await
            .unwrap();
    ws.send(Message::Text(
        format!(r#"{{"op":"subscribe","channels":{channels}}}"#).into(),
    ))
    .await
    .unwrap();
    ws
}

type WsClient =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message, or `None` after `wait` of silence.
async fn next_json(ws: &mut WsClient, wait: Duration) -> Option<serde_json::Value> {
    loop {
        let m = tokio::time::timeout(wait, ws.next()).await.ok()??.ok()?;
        if let Message::Text(t) = m {
            return Some(serde_json::from_str(t.as_str()).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_are_throttled_per_symbol_and_the_newest_one_arrives() {
    let s = start(true).await;
    let mut ws = open(
        &s,
        &s.viewer,
        r#"["quotes:default:EURUSD","quotes:default:XAUUSD"]"#,
    )
    .await;
    let snap = next_json(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (snap["type"].as_str(), snap["seq"].as_u64()),
        (Some("snapshot"), Some(1))
    );
    assert_eq!(snap["data"]["bid"], "1.08595");
    assert_eq!(snap["data"]["spread_points"], "10");
    let unknown = next_json(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(unknown["type"], "error", "{unknown}");
    // A burst of 50 new quotes: far fewer messages, gap-free, ending on the newest.
    let port = s.port.clone().unwrap();
    let mut last = rust_decimal::Decimal::ZERO;
    for i in 1..=50u32 {
        last = rust_decimal_macros::dec!(1.08595) + rust_decimal::Decimal::new(i.into(), 5);
        port.send_modify(|snap| {
            let mut new = (**snap).clone();
            let q = new.quotes.values_mut().next().unwrap();
            q.bid = last;
            q.ask = last + rust_decimal_macros::dec!(0.0001);
            *snap = std::sync::Arc::new(new);
        });
    }
    let mut got = Vec::new();
    while let Some(m) = next_json(&mut ws, Duration::from_millis(1500)).await {
        got.push(m);
    }
    assert!(
        !got.is_empty() && got.len() < 50,
        "{} quote messages",
        got.len()
    );
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m["seq"].as_u64(), Some(i as u64 + 2), "{m}");
        assert_eq!(m["ch"], "quotes:default:EURUSD");
    }
    assert_eq!(got.last().unwrap()["data"]["bid"], last.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_channel_is_for_admins_and_streams_new_lines_after_a_snapshot() {
    let logs = mtq_api::LogBuffer::new(100);
    let buf = logs.clone();
    let s = start_with(true, move |mut o| {
        o.logs = Some(buf);
        o
    })
    .await;
    logs.push(
        chrono::Utc::now(),
        tracing::Level::WARN,
        "mtq",
        "before".into(),
    );
    let mut viewer = open(&s, &s.viewer, r#"["logs"]"#).await;
    let refused = next_json(&mut viewer, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(refused["type"], "error", "{refused}");
    let mut admin = open(&s, &s.admin, r#"["logs"]"#).await;
    let snap = next_json(&mut admin, Duration::from_secs(5)).await.unwrap();
    assert_eq!(snap["type"], "snapshot");
    let lines = snap["data"].as_array().unwrap();
    assert!(lines.iter().any(|l| l["message"] == "before"), "{snap}");
    logs.push(
        chrono::Utc::now(),
        tracing::Level::DEBUG,
        "mtq",
        "too quiet".into(),
    );
    logs.push(
        chrono::Utc::now(),
        tracing::Level::ERROR,
        "mtq",
        "after".into(),
    );
    let ev = next_json(&mut admin, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (ev["type"].as_str(), ev["seq"].as_u64()),
        (Some("event"), Some(2))
    );
    assert_eq!(ev["data"]["message"], "after");
    assert_eq!(ev["data"]["level"], "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_performance_channel_sends_the_day_then_only_changes_of_it() {
    let s = start(true).await;
    let mut ws = open(&s, &s.viewer, r#"["performance:default"]"#).await;
    let snap = next_json(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (snap["type"].as_str(), snap["seq"].as_u64()),
        (Some("snapshot"), Some(1)),
        "{snap}"
    );
    assert_eq!(snap["data"]["daily_pnl"], "-50");
    assert_eq!(snap["data"]["daily_loss_used_pct"], "25.00");
    assert_eq!(snap["data"]["drawdown_used_pct"], "15.00");
    assert_eq!(snap["data"]["open_positions"], 1);
    let port = s.port.clone().unwrap();
    // A new cycle that changes none of the day's figures sends nothing.
    port.send_modify(|snap| {
        let mut new = (**snap).clone();
        new.cycle += 1;
        *snap = std::sync::Arc::new(new);
    });
    assert!(
        next_json(&mut ws, Duration::from_millis(800))
            .await
            .is_none(),
        "a cycle without a change was sent"
    );
    // A trade closed at a loss: the day's P&L moves, the delta follows with the next seq.
    port.send_modify(|snap| {
        let mut new = (**snap).clone();
        new.cycle += 1;
        new.daily_pnl = rust_decimal_macros::dec!(-150);
        new.positions.clear();
        *snap = std::sync::Arc::new(new);
    });
    let delta = next_json(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (delta["type"].as_str(), delta["seq"].as_u64()),
        (Some("delta"), Some(2)),
        "{delta}"
    );
    assert_eq!(delta["ch"], "performance:default");
    assert_eq!(delta["data"]["daily_pnl"], "-150");
    assert_eq!(delta["data"]["daily_loss_used_pct"], "75.00");
    assert_eq!(delta["data"]["open_positions"], 0);
}
