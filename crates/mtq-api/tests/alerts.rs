//! The alert history route and the `alerts` WebSocket channel, over real HTTP and WebSocket.

mod common;

use common::{get, send, start, start_with};
use futures_util::{SinkExt, StreamExt};
use mtq_persistence::{AuditRepo, NewAlert, Store};
use tokio_tungstenite::tungstenite::Message;

fn alert(minute: u32, channel: &str, delivered: bool) -> NewAlert {
    NewAlert {
        account: None,
        time: format!("2026-03-02T10:{minute:02}:00Z").parse().unwrap(),
        channel: channel.into(),
        severity: "critical".into(),
        title: "Kill switch tripped (halted)".into(),
        message: "daily loss".into(),
        delivered,
        error: (!delivered).then(|| "the endpoint answered 500".into()),
        event_type: "kill_switch_tripped".into(),
        attempts: if delivered { 1 } else { 4 },
        repeats: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_history_pages_newest_first_and_filters_by_channel() {
    let s = start(false).await;
    let mut store = Store::open(&s.db_url).unwrap();
    store.record_alert(&alert(1, "telegram", true)).unwrap();
    store.record_alert(&alert(2, "webhook", false)).unwrap();
    store.record_alert(&alert(3, "email", true)).unwrap();

    let r = get(s.addr, "/api/v1/alerts?limit=2", &s.viewer).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let channels: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["email", "webhook"]);
    assert_eq!(v["items"][1]["delivered"], false);
    assert_eq!(v["items"][1]["attempts"], 4);
    assert_eq!(v["items"][1]["error"], "the endpoint answered 500");
    let next = v["next"].as_i64().unwrap();
    let older = get(s.addr, &format!("/api/v1/alerts?before={next}"), &s.viewer).await;
    let older = older.json();
    assert_eq!(older["items"].as_array().unwrap().len(), 1);
    assert_eq!(older["items"][0]["channel"], "telegram");
    assert!(older["next"].is_null());

    let hooks = get(s.addr, "/api/v1/alerts?channel=webhook", &s.viewer).await;
    assert_eq!(hooks.json()["items"].as_array().unwrap().len(), 1);
    let bad = get(s.addr, "/api/v1/alerts?channel=sms", &s.viewer).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("telegram, webhook or email"));
    assert_eq!(
        get(s.addr, "/api/v1/alerts?limit=0", &s.viewer)
            .await
            .status,
        422
    );
    assert_eq!(get(s.addr, "/api/v1/alerts", "").await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alerts_channel_streams_each_delivery() {
    let (feed, _) = tokio::sync::broadcast::channel(16);
    let tx = feed.clone();
    let s = start_with(true, move |mut o| {
        o.alerts = Some(feed);
        o
    })
    .await;
    let r = send(s.addr, "POST", "/api/v1/auth/ws-ticket", &s.viewer, "").await;
    let t = r.json()["ticket"].as_str().unwrap().to_string();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/api/v1/ws?ticket={t}", s.addr))
            .await
            .unwrap();
    ws.send(Message::Text(
        r#"{"op":"subscribe","channels":["alerts"]}"#.into(),
    ))
    .await
    .unwrap();
    let first = ws.next().await.unwrap().unwrap();
    let env: serde_json::Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(
        (env["ch"].as_str(), env["type"].as_str()),
        (Some("alerts"), Some("snapshot"))
    );
    tx.send(serde_json::json!({"channel": "telegram", "kind": "kill_switch_tripped", "delivered": true}))
        .unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(30), ws.next())
        .await
        .expect("the delivery arrives")
        .unwrap()
        .unwrap();
    let env: serde_json::Value = serde_json::from_str(next.to_text().unwrap()).unwrap();
    assert_eq!(
        (
            env["ch"].as_str(),
            env["type"].as_str(),
            env["seq"].as_u64()
        ),
        (Some("alerts"), Some("event"), Some(2))
    );
    assert_eq!(env["data"]["kind"], "kill_switch_tripped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejected_credential_reaches_the_auth_failure_hook() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = seen.clone();
    let s = start_with(false, move |mut o| {
        o.on_auth_failure = Some(mtq_api::AuthFailureHook(std::sync::Arc::new(
            move |what: &str| sink.lock().unwrap().push(what.to_string()),
        )));
        o
    })
    .await;
    assert_eq!(
        get(s.addr, "/api/v1/alerts", "mtq_nope_nope").await.status,
        401
    );
    assert_eq!(get(s.addr, "/api/v1/alerts", "not.a.jwt").await.status, 401);
    let login = send(
        s.addr,
        "POST",
        "/api/v1/auth/login",
        "",
        r#"{"username":"ann","password":"not the password at all"}"#,
    )
    .await;
    assert_eq!(login.status, 401, "{}", login.body);
    // A good key is no failure.
    assert_eq!(get(s.addr, "/api/v1/alerts", &s.viewer).await.status, 200);
    assert_eq!(
        *seen.lock().unwrap(),
        ["api_key", "access_token", "password"]
    );
}
