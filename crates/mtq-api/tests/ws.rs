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
