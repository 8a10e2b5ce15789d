//! The filter against a fake LLM provider and a fake feed server, both real HTTP on loopback:
//! a good verdict (OpenAI and Anthropic shapes), a malformed answer (rejected and counted), a
//! timeout, the request and cost caps (fail-open against fail-closed), and feeds that fail.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chrono::{DateTime, TimeZone, Utc};
use mtq_core::Side;
use mtq_sentiment::{SentimentConfig, SentimentFilter, Unavailable};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const KEY: &str = "sk-test-key-never-logged";

const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>FX wire</title><link>http://x</link><description>d</description>
<item><title>ECB signals deeper rate cuts as euro-area growth stalls</title><pubDate>Sat, 05 Dec 2026 09:00:00 GMT</pubDate></item>
<item><title>Older item about the yen</title><pubDate>Fri, 04 Dec 2026 09:00:00 GMT</pubDate></item>
</channel></rss>"#;

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Macro</title><id>urn:x</id><updated>2026-12-05T10:00:00Z</updated>
<entry><title>US payrolls beat forecasts; dollar firms</title><id>urn:1</id><updated>2026-12-05T10:00:00Z</updated></entry>
</feed>"#;

/// What the fake provider answers and what it saw.
#[derive(Clone, Default)]
struct Fake {
    /// The model's text answer.
    answer: Arc<Mutex<String>>,
    /// Delay before answering (for the timeout case).
    delay: Arc<Mutex<Duration>>,
    calls: Arc<AtomicU32>,
    /// The last request's headers and body.
    seen: Arc<Mutex<Option<(HeaderMap, Value)>>>,
}

fn good_answer() -> String {
    json!({"scores": [
        {"currency": "EUR", "score": -0.7, "reason": "ECB cuts"},
        {"currency": "USD", "score": 0.4, "reason": "payrolls beat"}
    ]})
    .to_string()
}

async fn openai(State(f): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    let text = answer(&f, headers, body).await;
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    }))
}

async fn anthropic(
    State(f): State<Fake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let text = answer(&f, headers, body).await;
    Json(json!({
        "id": "msg_1", "type": "message", "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "usage": {"input_tokens": 1000, "output_tokens": 100}
    }))
}

async fn answer(f: &Fake, headers: HeaderMap, body: Value) -> String {
    f.calls.fetch_add(1, Ordering::SeqCst);
    *f.seen.lock().unwrap() = Some((headers, body));
    let delay = *f.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    f.answer.lock().unwrap().clone()
}

async fn listen(app: Router) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

async fn start() -> (Fake, SocketAddr) {
    let fake = Fake::default();
    *fake.answer.lock().unwrap() = good_answer();
    let xml = |body: &'static str| {
        move || async move { ([(header::CONTENT_TYPE, "application/xml")], body) }
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic))
        .route("/rss.xml", get(xml(RSS)))
        .route("/atom.xml", get(xml(ATOM)))
        .route(
            "/broken.xml",
            get(|| async { (StatusCode::OK, "<html>not a feed") }),
        )
        .route(
            "/gone.xml",
            get(|| async { StatusCode::NOT_FOUND.into_response() }),
        )
        .with_state(fake.clone());
    (fake, listen(app).await)
}

fn filter(addr: SocketAddr, provider: &str, extra: &str) -> SentimentFilter {
    let yaml = format!(
        "enabled: true\nprovider: {provider}\nmodel: test-model\nbase_url: http://{addr}/v1\n\
         api_key_env: FAKE_LLM_KEY\nfeeds: ['http://{addr}/rss.xml', 'http://{addr}/atom.xml']\n{extra}"
    );
    let config: SentimentConfig = serde_norway::from_str(&yaml).unwrap();
    let settings = config
        .validate(|var| (var == "FAKE_LLM_KEY").then(|| KEY.to_owned()))
        .unwrap();
    SentimentFilter::new(settings).unwrap()
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, h, m, 0).unwrap()
}

#[tokio::test]
async fn a_good_openai_verdict_refuses_the_entry_the_news_is_against_and_is_cached() {
    let (fake, addr) = start().await;
    let f = filter(addr, "openai", "threshold: 0.5\nfail_mode: closed");

    let buy = f.check("EURUSD", Side::Buy, at(10, 0)).await;
    assert!(!buy.allowed, "{buy:?}");
    assert!(buy.unavailable.is_none());
    let pair = buy.pair_score.unwrap();
    assert!((pair - -1.1).abs() < 1e-9, "{pair}");
    assert!(
        buy.reason.starts_with("sentiment filter: EURUSD -1.10"),
        "{}",
        buy.reason
    );

    // Same interval: the cached scores answer, no second request.
    let sell = f.check("EURUSD", Side::Sell, at(10, 5)).await;
    assert!(sell.allowed, "{sell:?}");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    assert_eq!(f.stats().cache_hits.load(Ordering::SeqCst), 1);

    let (headers, body) = fake.seen.lock().unwrap().clone().unwrap();
    assert_eq!(headers[header::AUTHORIZATION], format!("Bearer {KEY}"));
    assert_eq!(body["model"], "test-model");
    let user = body["messages"][1]["content"].as_str().unwrap();
    // Both feeds, newest first.
    let atom = user.find("US payrolls beat").unwrap();
    let rss = user.find("ECB signals deeper").unwrap();
    let old = user.find("Older item").unwrap();
    assert!(atom < rss && rss < old, "{user}");
    assert!(user.starts_with("Currencies: EUR, USD"), "{user}");

    // The next interval asks again.
    f.check("EURUSD", Side::Buy, at(10, 20)).await;
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    // And the key never shows in the filter's Debug output.
    assert!(!format!("{f:?}").contains(KEY));
}

#[tokio::test]
async fn a_good_anthropic_verdict_allows_the_entry_the_news_supports() {
    let (fake, addr) = start().await;
    let f = filter(addr, "anthropic", "");
    let sell = f.check("EURUSD", Side::Sell, at(10, 0)).await;
    assert!(sell.allowed && sell.unavailable.is_none(), "{sell:?}");
    assert_eq!(sell.provider, "anthropic");
    let (headers, body) = fake.seen.lock().unwrap().clone().unwrap();
    assert_eq!(headers["x-api-key"], KEY);
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert!(
        body["system"]
            .as_str()
            .unwrap()
            .contains("forex news analyst")
    );
}

#[tokio::test]
async fn a_malformed_answer_is_rejected_counted_and_not_cached() {
    let (fake, addr) = start().await;
    let f = filter(addr, "openai_compatible", "fail_mode: open");
    *fake.answer.lock().unwrap() =
        r#"{"scores":[{"currency":"EUR","score":7,"reason":"moon"},{"currency":"USD","score":0,"reason":""}]}"#.into();
    let v = f.check("EURUSD", Side::Buy, at(10, 0)).await;
    assert!(v.allowed, "fail-open lets it through: {v:?}");
    assert_eq!(v.unavailable, Some(Unavailable::Malformed));
    assert!(v.reason.contains("fail-open"), "{}", v.reason);
    assert_eq!(f.stats().malformed.load(Ordering::SeqCst), 1);

    *fake.answer.lock().unwrap() = "I think the euro will fall.".into();
    let v = f.check("EURUSD", Side::Buy, at(10, 1)).await;
    assert_eq!(v.unavailable, Some(Unavailable::Malformed));
    assert_eq!(f.stats().malformed.load(Ordering::SeqCst), 2);
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        2,
        "a rejected answer is not cached"
    );
}

#[tokio::test]
async fn a_provider_slower_than_the_timeout_fails_closed_when_so_configured() {
    let (fake, addr) = start().await;
    *fake.delay.lock().unwrap() = Duration::from_secs(5);
    let f = filter(addr, "openai", "timeout_seconds: 1\nfail_mode: closed");
    let v = f.check("EURUSD", Side::Sell, at(10, 0)).await;
    assert!(!v.allowed, "{v:?}");
    assert_eq!(v.unavailable, Some(Unavailable::Timeout));
    assert!(v.reason.contains("fail-closed"), "{}", v.reason);
    assert_eq!(f.stats().timeouts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_daily_request_cap_answers_by_the_fail_mode_and_resets_the_next_day() {
    for (mode, allowed) in [("open", true), ("closed", false)] {
        let (fake, addr) = start().await;
        let f = filter(
            addr,
            "openai",
            &format!("max_requests_per_day: 1\ncache_seconds: 60\nfail_mode: {mode}"),
        );
        assert!(
            f.check("EURUSD", Side::Sell, at(10, 0))
                .await
                .unavailable
                .is_none()
        );
        let capped = f.check("EURUSD", Side::Sell, at(11, 0)).await;
        assert_eq!(capped.unavailable, Some(Unavailable::RequestCap), "{mode}");
        assert_eq!(capped.allowed, allowed, "{mode}: {capped:?}");
        assert!(
            capped.reason.contains("daily request cap of 1"),
            "{}",
            capped.reason
        );
        assert_eq!(
            fake.calls.load(Ordering::SeqCst),
            1,
            "{mode}: no request past the cap"
        );
        assert_eq!(f.stats().capped.load(Ordering::SeqCst), 1);

        let tomorrow = Utc.with_ymd_and_hms(2026, 12, 6, 0, 5, 0).unwrap();
        assert!(
            f.check("EURUSD", Side::Sell, tomorrow)
                .await
                .unavailable
                .is_none()
        );
        assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    }
}

#[tokio::test]
async fn the_daily_cost_cap_stops_requests_once_spent() {
    let (fake, addr) = start().await;
    // 1000 input tokens at 600 USD/Mtok + 100 output at 4000 USD/Mtok = 1.0 USD a request.
    let f = filter(
        addr,
        "openai",
        "max_cost_per_day_usd: 1.0\ninput_usd_per_mtok: 600\noutput_usd_per_mtok: 4000\ncache_seconds: 60\nfail_mode: closed",
    );
    assert!(f.check("EURUSD", Side::Sell, at(10, 0)).await.allowed);
    let capped = f.check("EURUSD", Side::Sell, at(10, 2)).await;
    assert_eq!(capped.unavailable, Some(Unavailable::CostCap));
    assert!(!capped.allowed);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn feeds_that_all_fail_leave_nothing_to_judge() {
    let (fake, addr) = start().await;
    let yaml = format!(
        "enabled: true\nprovider: openai_compatible\nmodel: m\nbase_url: http://{addr}/v1\n\
         feeds: ['http://{addr}/broken.xml', 'http://{addr}/gone.xml']\nfail_mode: closed"
    );
    let config: SentimentConfig = serde_norway::from_str(&yaml).unwrap();
    let f = SentimentFilter::new(config.validate(|_| None).unwrap()).unwrap();
    let v = f.check("GBPJPY", Side::Buy, at(10, 0)).await;
    assert_eq!(v.unavailable, Some(Unavailable::FeedsFailed));
    assert!(!v.allowed);
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        0,
        "no provider request without headlines"
    );
    assert!(fake.seen.lock().unwrap().is_none());
    // With no key configured, no Authorization header would be sent either.
    let v = f.check("XAUUSD", Side::Buy, at(10, 0)).await;
    assert!(!v.allowed);
}

#[tokio::test]
async fn an_openai_compatible_local_server_is_asked_without_a_key() {
    // A local llama.cpp or Ollama server: the OpenAI request at its base URL, no key at all.
    let (fake, addr) = start().await;
    let yaml = format!(
        "enabled: true\nprovider: openai_compatible\nmodel: llama3.1\nbase_url: http://{addr}/v1\n\
         feeds: ['http://{addr}/rss.xml']\nthreshold: 0.5\nfail_mode: closed"
    );
    let config: SentimentConfig = serde_norway::from_str(&yaml).unwrap();
    let settings = config.validate(|_| None).unwrap();
    let f = SentimentFilter::new(settings).unwrap();
    let buy = f.check("EURUSD", Side::Buy, at(10, 0)).await;
    assert!(!buy.allowed && buy.unavailable.is_none(), "{buy:?}");
    assert_eq!(buy.provider, "openai_compatible");
    let (headers, body) = fake.seen.lock().unwrap().clone().unwrap();
    assert!(headers.get(header::AUTHORIZATION).is_none(), "{headers:?}");
    assert_eq!(body["model"], "llama3.1");
    assert_eq!(body["response_format"]["type"], "json_object");
}
