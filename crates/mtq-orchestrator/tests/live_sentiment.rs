//! The LLM sentiment filter at the live driver's entry seam, over the simulated broker and a
//! fake OpenAI-compatible provider and feed served on loopback (real HTTP): an entry the news
//! is against is recorded refused by the sentiment filter and never sent; one it supports is.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use mtq_core::testkit::{self, BarBuilder};
use mtq_core::{Bar, EventKind, ManualClock, Symbol, Timeframe};
use mtq_orchestrator::config::{self, ConfigSource};
use mtq_orchestrator::{CollectEvents, LiveOptions, LiveTrader, MemoryIntentStore};
use mtq_sim::{SimBroker, SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>w</title><link>http://x</link><description>d</description>
<item><title>Euro rallies as ECB turns hawkish</title><pubDate>Mon, 04 Mar 2024 08:00:00 GMT</pubDate></item>
</channel></rss>"#;

/// A minimal HTTP/1.1 server: `GET /rss.xml` is the feed, `POST /v1/chat/completions` answers
/// with the model text in `answer`; it counts the completions asked.
async fn fake_server(answer: Arc<Mutex<String>>, asked: Arc<Mutex<u32>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let answer = answer.clone();
            let asked = asked.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (i + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let first = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let (kind, body) = if first.starts_with("GET /rss.xml") {
                    ("application/rss+xml", RSS.to_string())
                } else if first.starts_with("POST /v1/chat/completions") {
                    *asked.lock().unwrap() += 1;
                    let text = answer.lock().unwrap().clone();
                    let body = serde_json::json!({
                        "choices": [{"message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": 200, "completion_tokens": 40}
                    });
                    ("application/json", body.to_string())
                } else {
                    ("text/plain", String::new())
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr.to_string()
}

/// `position` on EURUSD: it sells into a falling market.
fn config(addr: &str) -> String {
    format!(
        r#"
emergency:
  max_daily_loss_percent: 50
  close_all_on_stop: false
sentiment:
  enabled: true
  provider: openai_compatible
  model: local-test
  base_url: http://{addr}/v1
  feeds: ['http://{addr}/rss.xml']
  cache_seconds: 60
  threshold: 0.5
  fail_mode: closed
currencies:
  - symbol: EURUSD
    strategy_type: position
    timeframe: M5
    fast_period: 3
    slow_period: 6
    sl_pips: 20
    tp_pips: 60
    cooldown_seconds: 0
    risk_percent: 0.5
    max_position_size: 1
"#
    )
}

fn t0() -> DateTime<Utc> {
    "2024-03-04T08:00:00Z".parse().unwrap()
}

fn eurusd() -> Symbol {
    testkit::symbol("EURUSD")
}

fn bar(i: i64) -> Bar {
    let close = 1.1000 - 0.0003 * i as f64;
    BarBuilder::new()
        .at(t0() + Duration::minutes(5 * i))
        .ohlc(close + 0.0002, close + 0.0004, close - 0.0002, close)
        .tick_volume(50)
        .spread(8)
        .build()
}

fn scores(eur: f64, usd: f64) -> String {
    serde_json::json!({"scores": [
        {"currency": "EUR", "score": eur, "reason": "ECB"},
        {"currency": "USD", "score": usd, "reason": "Fed"}
    ]})
    .to_string()
}

#[tokio::test]
async fn an_entry_the_news_is_against_is_refused_by_the_sentiment_filter_and_not_sent() {
    let answer = Arc::new(Mutex::new(scores(0.8, -0.2)));
    let asked = Arc::new(Mutex::new(0));
    let addr = fake_server(answer.clone(), asked.clone()).await;

    let sim = Simulator::new(SimConfig::default(), [testkit::eurusd()]).unwrap();
    let broker = Arc::new(SimBroker::new(sim));
    for i in 0..12 {
        broker.push_bar(&eurusd(), Timeframe::M5, bar(i)).unwrap();
    }
    let cfg = config::load(&ConfigSource::Text(config(&addr)), &[]).unwrap();
    let clock = Arc::new(ManualClock::new(t0() + Duration::minutes(60)));
    let events = Arc::new(CollectEvents::default());
    let (mut trader, _) = LiveTrader::start(
        broker.clone(),
        Arc::new(cfg),
        Arc::new(MemoryIntentStore::new()),
        clock.clone(),
        events.clone(),
        None,
        LiveOptions {
            kill_file: None,
            ..LiveOptions::default()
        },
    )
    .await
    .unwrap();
    let intents = |e: &CollectEvents| {
        e.events()
            .iter()
            .filter(|e| matches!(e.kind, EventKind::OrderIntent { .. }))
            .count()
    };

    // The strategy sells; the news is bullish on the euro (EURUSD +1.00): refused, not sent.
    broker.push_bar(&eurusd(), Timeframe::M5, bar(12)).unwrap();
    clock.set(t0() + Duration::minutes(65));
    trader.cycle().await.unwrap();
    let refused: Vec<String> = events
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SignalRecorded {
                refusal: Some(why), ..
            } if why.code() == "sentiment" => Some(why.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].starts_with("sentiment filter: EURUSD +1.00"),
        "{}",
        refused[0]
    );
    assert_eq!(intents(&events), 0);
    let open = mtq_connector::Broker::positions(broker.as_ref())
        .await
        .unwrap();
    assert!(open.is_empty());
    assert_eq!(*asked.lock().unwrap(), 1);

    // Later the news turns bearish on the euro: the next sell is allowed and sent.
    *answer.lock().unwrap() = scores(-0.6, 0.3);
    broker.push_bar(&eurusd(), Timeframe::M5, bar(13)).unwrap();
    clock.set(t0() + Duration::minutes(70) + Duration::seconds(60));
    trader.cycle().await.unwrap();
    assert_eq!(*asked.lock().unwrap(), 2);
    assert_eq!(intents(&events), 1);
    let open = mtq_connector::Broker::positions(broker.as_ref())
        .await
        .unwrap();
    assert_eq!(open.len(), 1);

    // Each verdict, the allowing one too, is journalled with the signal it filtered.
    let verdicts: Vec<(bool, mtq_core::Signal, String)> = events
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::SentimentVerdict {
                signal,
                allowed,
                reason,
                ..
            } => Some((allowed, signal, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        verdicts.iter().map(|v| v.0).collect::<Vec<_>>(),
        [false, true],
        "{verdicts:?}"
    );
    assert_eq!(verdicts[0].2, refused[0]);
    assert_eq!(verdicts[1].1.symbol, eurusd());
    assert_eq!(verdicts[1].1.time, bar(13).time);
    assert_eq!(verdicts[1].1.kind, mtq_core::SignalKind::Sell);
}

#[tokio::test]
async fn an_enabled_filter_without_its_api_key_is_refused_at_load() {
    let text = config("127.0.0.1:9").replace(
        "provider: openai_compatible",
        "provider: openai\n  api_key_env: MTQ_TEST_UNSET_SENTIMENT_KEY",
    );
    let err = config::load(&ConfigSource::Text(text), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sentiment.api_key_env") && err.contains("MTQ_TEST_UNSET_SENTIMENT_KEY"),
        "{err}"
    );
}
