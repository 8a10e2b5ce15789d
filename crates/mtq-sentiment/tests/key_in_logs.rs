//! The API key never reaches a log line, an error or a verdict: every tracing event of the
//! process is captured (TRACE, every target, HTTP client included) while the filter talks to a
//! fake provider on loopback that answers well, refuses the key and quotes it back (OpenAI's and
//! Anthropic's headers), and answers with the key inside a malformed verdict. The key must have
//! been sent (the fake saw it) and the failures logged (the lines are there), yet no captured
//! line, error text or verdict contains it.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{TimeZone, Utc};
use mtq_core::Side;
use mtq_sentiment::{SentimentConfig, SentimentFilter};
use serde_json::json;
use tokio::net::TcpListener;

const KEY: &str = "sk-live-9f8e7d6c5b4a39281706-never-in-a-log";

const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>FX wire</title><link>http://x</link><description>d</description>
<item><title>ECB signals deeper rate cuts as euro-area growth stalls</title><pubDate>Sat, 05 Dec 2026 09:00:00 GMT</pubDate></item>
</channel></rss>"#;

/// Every formatted tracing line of the test process.
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

/// What each route of the fake provider does, and the credentials it was sent.
#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Vec<String>>>,
}

fn credential(headers: &HeaderMap) -> String {
    ["authorization", "x-api-key"]
        .iter()
        .filter_map(|h| headers.get(*h))
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn openai_answer(text: &str) -> serde_json::Value {
    json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10}
    })
}

async fn good(State(f): State<Fake>, headers: HeaderMap) -> Json<serde_json::Value> {
    f.seen.lock().unwrap().push(credential(&headers));
    let text = json!({"scores": [
        {"currency": "EUR", "score": -0.7, "reason": "ECB cuts"},
        {"currency": "USD", "score": 0.4, "reason": "payrolls beat"}
    ]})
    .to_string();
    Json(openai_answer(&text))
}

/// A 401 that quotes the credential it refused, as some servers and proxies do.
async fn refuses(State(f): State<Fake>, headers: HeaderMap) -> Response {
    let got = credential(&headers);
    f.seen.lock().unwrap().push(got.clone());
    let body = json!({"error": {"message": format!("Incorrect API key provided: {got}")}});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// A verdict that is not one, carrying the key in its text.
async fn echoes(State(f): State<Fake>, headers: HeaderMap) -> Json<serde_json::Value> {
    let got = credential(&headers);
    f.seen.lock().unwrap().push(got.clone());
    Json(openai_answer(&format!(
        "I cannot score this; your key is {got}"
    )))
}

async fn start() -> (Fake, SocketAddr) {
    let fake = Fake::default();
    let app = Router::new()
        .route("/good/chat/completions", post(good))
        .route("/refuses/chat/completions", post(refuses))
        .route("/refuses/messages", post(refuses))
        .route("/echoes/chat/completions", post(echoes))
        .route(
            "/rss.xml",
            get(|| async { ([("content-type", "application/xml")], RSS) }),
        )
        .with_state(fake.clone());
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (fake, addr)
}

fn filter(addr: SocketAddr, provider: &str, route: &str) -> SentimentFilter {
    let yaml = format!(
        "enabled: true\nprovider: {provider}\nmodel: test-model\nbase_url: http://{addr}/{route}\n\
         api_key_env: FAKE_LLM_KEY\nfeeds: ['http://{addr}/rss.xml']\nfail_mode: closed\n"
    );
    let config: SentimentConfig = serde_norway::from_str(&yaml).unwrap();
    let settings = config
        .validate(|var| (var == "FAKE_LLM_KEY").then(|| KEY.to_owned()))
        .unwrap();
    SentimentFilter::new(settings).unwrap()
}

#[tokio::test]
async fn the_key_is_sent_but_never_logged_even_when_the_server_quotes_it_back() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let (fake, addr) = start().await;
    let now = Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap();
    let mut shown = Vec::new();
    for (provider, route) in [
        ("openai", "good"),
        ("openai", "refuses"),
        ("anthropic", "refuses"),
        ("openai", "echoes"),
    ] {
        let f = filter(addr, provider, route);
        let v = f.check("EURUSD", Side::Buy, now).await;
        // What the trader stores and logs with the signal, and the filter as logged at start.
        shown.push(format!("{v:?} {} {f:?}", v.reason));
    }

    // The key went out, on both providers' headers.
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen[0] == format!("Bearer {KEY}"), "{seen:?}");
    assert!(seen[2] == KEY, "{seen:?}");

    // The failures were logged, with the servers' own words.
    let text = logs.text();
    assert!(text.contains("sentiment: provider failed"), "{text}");
    assert!(text.contains("Incorrect API key provided"), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
    assert!(
        text.contains("sentiment: malformed answer rejected"),
        "{text}"
    );
    // ...and nothing of the key: not whole, not its distinctive middle.
    for (what, s) in [("log", text.as_str()), ("verdicts", &shown.join("\n"))] {
        assert!(!s.contains(KEY), "the key in the {what}: {s}");
        assert!(
            !s.contains("9f8e7d6c5b4a39281706"),
            "part of the key in the {what}: {s}"
        );
    }
}
