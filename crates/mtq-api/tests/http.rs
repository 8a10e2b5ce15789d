//! Commands, authentication and bad input over real HTTP against a scripted driver.

mod common;

use std::sync::Arc;

use common::{call, get, send, start};

const A: &str = "/api/v1/accounts/default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_reaches_the_driver_with_the_callers_identity_and_returns_the_new_state() {
    let s = start(true).await;
    let r = send(s.addr, "POST", &format!("{A}/trading/pause"), &s.trader, "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["account"]["trading"], "entries_paused");
    assert_eq!(s.commands.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_order_sent_twice_with_one_idempotency_key_executes_once() {
    let s = start(true).await;
    let auth = format!("Bearer {}", s.trader);
    let body = br#"{"symbol":"EURUSD","side":"buy","volume":"0.10"}"#;
    let h = [
        ("Authorization", auth.as_str()),
        ("Idempotency-Key", "op-7"),
    ];
    let first = call(s.addr, "POST", &format!("{A}/orders"), &h, Some(body)).await;
    let second = call(s.addr, "POST", &format!("{A}/orders"), &h, Some(body)).await;
    assert_eq!(
        (first.status, second.status),
        (200, 200),
        "{} {}",
        first.body,
        second.body
    );
    assert_eq!(first.json()["duplicate"], false);
    assert_eq!(second.json()["duplicate"], true);
    assert_eq!(second.json()["actions"], 0);
    let missing = send(
        s.addr,
        "POST",
        &format!("{A}/orders"),
        &s.trader,
        std::str::from_utf8(body).unwrap(),
    )
    .await;
    assert_eq!(missing.status, 422);
    assert_eq!(missing.json()["field"], "Idempotency-Key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_by_state_is_409_with_the_reason() {
    let s = start(true).await;
    let trip = send(
        s.addr,
        "POST",
        &format!("{A}/kill-switch/trip"),
        &s.trader,
        r#"{"reason":"news"}"#,
    )
    .await;
    assert_eq!(trip.status, 200, "{}", trip.body);
    let auth = format!("Bearer {}", s.trader);
    let h = [("Authorization", auth.as_str()), ("Idempotency-Key", "k1")];
    let r = call(
        s.addr,
        "POST",
        &format!("{A}/orders"),
        &h,
        Some(br#"{"symbol":"EURUSD","side":"sell","volume":"0.1"}"#),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["reason"], "kill_switch");
    // Resetting needs admin.
    let reset = send(
        s.addr,
        "POST",
        &format!("{A}/kill-switch/reset"),
        &s.trader,
        r#"{"reason":"ok"}"#,
    )
    .await;
    assert_eq!(reset.status, 403);
    let reset = send(
        s.addr,
        "POST",
        &format!("{A}/kill-switch/reset"),
        &s.admin,
        r#"{"reason":"ok"}"#,
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_naming_what_to_fix() {
    let s = start(true).await;
    let t = &s.trader;
    let malformed = send(
        s.addr,
        "PATCH",
        &format!("{A}/positions/42"),
        t,
        r#"{"sl": 1.2"#,
    )
    .await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    let wrong_type = send(
        s.addr,
        "PATCH",
        &format!("{A}/positions/42"),
        t,
        r#"{"sl": true}"#,
    )
    .await;
    assert_eq!(wrong_type.status, 422, "{}", wrong_type.body);
    assert_eq!(wrong_type.json()["field"], "sl");
    let unknown_field = send(
        s.addr,
        "POST",
        &format!("{A}/positions/42/close"),
        t,
        r#"{"lots": 1}"#,
    )
    .await;
    assert_eq!(unknown_field.status, 422, "{}", unknown_field.body);
    let negative = send(
        s.addr,
        "POST",
        &format!("{A}/positions/42/close"),
        t,
        r#"{"volume": "-1"}"#,
    )
    .await;
    assert_eq!(negative.json()["field"], "volume");
    let huge = "x".repeat(mtq_api::BODY_LIMIT + 1);
    let r = send(
        s.addr,
        "POST",
        &format!("{A}/kill-switch/trip"),
        t,
        &format!(r#"{{"reason":"{huge}"}}"#),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.body);
    let r = get(s.addr, "/api/v1/accounts/other/positions", &s.viewer).await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (404, Some("account"))
    );
    let r = get(s.addr, &format!("{A}/positions/999"), &s.viewer).await;
    assert_eq!(r.status, 404);
    let r = send(s.addr, "POST", &format!("{A}/positions/999/close"), t, "{}").await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = send(
        s.addr,
        "PATCH",
        &format!("{A}/symbols/EUR%20USD"),
        t,
        r#"{"enabled":false}"#,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = get(s.addr, &format!("{A}/trades?limit=501"), &s.viewer).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (422, Some("limit")));
    let r = get(s.addr, &format!("{A}/trades?limit=abc"), &s.viewer).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = get(s.addr, &format!("{A}/trades/123"), &s.viewer).await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_wrong_and_revoked_credentials_are_401() {
    let s = start(true).await;
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4iLCJ1aWQiOjEsInJvbGUiOiJhZG1pbiIsImlhdCI6MCwiZXhwIjo5OTk5OTk5OTk5LCJ0eXAiOiJhY2Nlc3MifQ.bm90LWEtc2lnbmF0dXJl";
    assert_eq!(get(s.addr, "/api/v1/version", forged).await.status, 401);
    let mut wrong = s.viewer.clone();
    wrong.pop();
    wrong.push('z');
    assert_eq!(get(s.addr, "/api/v1/version", &wrong).await.status, 401);
    assert_eq!(get(s.addr, "/api/v1/version", &s.viewer).await.status, 200);
    let id = s.viewer.split('_').nth(1).unwrap().to_string();
    let mut store = mtq_persistence::Store::open(&s.db_url).unwrap();
    use mtq_persistence::ApiKeyRepo;
    assert!(store.revoke_api_key(&id, chrono::Utc::now()).unwrap());
    assert_eq!(get(s.addr, "/api/v1/version", &s.viewer).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refresh_rotates_and_logout_revokes() {
    let s = start(true).await;
    let bad = call(
        s.addr,
        "POST",
        "/api/v1/auth/login",
        &[],
        Some(br#"{"username":"ann","password":"wrong password!"}"#),
    )
    .await;
    assert_eq!(bad.status, 401);
    let ok = call(
        s.addr,
        "POST",
        "/api/v1/auth/login",
        &[],
        Some(br#"{"username":"ann","password":"a long enough password"}"#),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let tokens = ok.json();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let me = get(s.addr, "/api/v1/auth/me", &access).await;
    assert_eq!(me.json()["role"], "trader");
    let body = format!(r#"{{"refresh_token":"{refresh}"}}"#);
    let rotated = call(
        s.addr,
        "POST",
        "/api/v1/auth/refresh",
        &[],
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let again = call(
        s.addr,
        "POST",
        "/api/v1/auth/refresh",
        &[],
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(again.status, 401, "a used refresh token worked twice");
    let newest = rotated.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let access2 = rotated.json()["access_token"].as_str().unwrap().to_string();
    let out = send(s.addr, "POST", "/api/v1/auth/logout", &access2, "").await;
    assert_eq!(out.status, 200);
    let body = format!(r#"{{"refresh_token":"{newest}"}}"#);
    let after = call(
        s.addr,
        "POST",
        "/api/v1/auth/refresh",
        &[],
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(after.status, 401, "a refresh token outlived logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_limited_with_retry_after() {
    let s = start(true).await;
    let mut last = 0;
    let mut retry = None;
    for _ in 0..15 {
        let r = call(
            s.addr,
            "POST",
            "/api/v1/auth/login",
            &[],
            Some(br#"{"username":"ann","password":"guess guess guess"}"#),
        )
        .await;
        last = r.status;
        retry = r.headers.get("retry-after").cloned();
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default_and_lists_only_configured_origins() {
    let s = start(false).await;
    let h = [("Origin", "https://evil.example")];
    let r = call(s.addr, "GET", "/healthz", &h, None).await;
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    let s = common::start_with(false, |mut o| {
        o.cors_origins = vec!["https://ops.example".into()];
        o
    })
    .await;
    let r = call(
        s.addr,
        "GET",
        "/healthz",
        &[("Origin", "https://ops.example")],
        None,
    )
    .await;
    assert_eq!(
        r.headers
            .get("access-control-allow-origin")
            .map(String::as_str),
        Some("https://ops.example")
    );
    let r = call(s.addr, "GET", "/healthz", &h, None).await;
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    assert!(mtq_api::validate_origins(&["*".into()]).is_err());
    assert!(mtq_api::validate_origins(&["https://ops.example/".into()]).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_trader_history_is_served_and_commands_are_409() {
    let s = start(false).await;
    assert_eq!(
        get(s.addr, &format!("{A}/trades"), &s.viewer).await.status,
        200
    );
    let r = send(s.addr, "POST", &format!("{A}/trading/pause"), &s.trader, "").await;
    assert_eq!(
        (r.status, r.json()["reason"].as_str()),
        (409, Some("no_trader"))
    );
    assert_eq!(call(s.addr, "GET", "/readyz", &[], None).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_measures_the_loop_by_the_wall_clock_not_the_session_clock() {
    let s = start(true).await;
    let publish = |sim: &str, wall_age_secs: i64| {
        let mut snap = (**s.port.as_ref().unwrap().borrow()).clone();
        // A paper session's own clock runs on simulated (historic) time.
        snap.health.last_cycle = Some(sim.parse().unwrap());
        snap.health.loop_alive =
            Some(chrono::Utc::now() - chrono::Duration::seconds(wall_age_secs));
        s.port.as_ref().unwrap().send_replace(Arc::new(snap));
    };
    publish("2024-03-04T10:00:00Z", 0);
    let r = call(s.addr, "GET", "/readyz", &[], None).await;
    assert_eq!(
        (r.status, r.json()["loop_fresh"].as_bool()),
        (200, Some(true))
    );
    publish("2024-03-04T10:00:00Z", 3_600);
    let r = call(s.addr, "GET", "/readyz", &[], None).await;
    assert_eq!(
        (r.status, r.json()["loop_fresh"].as_bool()),
        (503, Some(false))
    );
}
