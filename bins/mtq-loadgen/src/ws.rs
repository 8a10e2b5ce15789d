//! `ws`: many WebSocket clients subscribed to channels; how late each event arrives.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::{ms, percentiles};

#[derive(clap::Args, Debug)]
pub(crate) struct WsArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    #[arg(long = "key")]
    keys: Vec<String>,
    #[arg(long)]
    keys_file: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Channels to subscribe to, comma-separated.
    #[arg(
        long,
        default_value = "trades:default,positions:default,account:default"
    )]
    channels: String,
    /// Only events of these channels (prefix before `:`) are measured, comma-separated.
    #[arg(long, default_value = "trades")]
    measure: String,
    #[arg(long, default_value_t = 60)]
    seconds: u64,
}

/// What one client saw: latencies from the server's stamp (`ts`), every measured arrival, and
/// the sequence gaps. (An event's own `data.time` is the simulated clock under a paper session,
/// not the wall clock, so it is not a latency base.)
#[derive(Default)]
struct Seen {
    from_stamp: Vec<Duration>,
    events: u64,
    gaps: u64,
    /// Each measured event as (channel and data, its server stamp, when it arrived): the same
    /// event reaches every client with the same data.
    arrivals: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
}

pub(crate) async fn run(args: WsArgs) -> anyhow::Result<()> {
    let keys = crate::keys(&args.keys, args.keys_file.as_deref())?;
    let authority = crate::authority(&args.base)?;
    let channels: Vec<String> = args.channels.split(',').map(str::to_string).collect();
    let measure: Vec<String> = args.measure.split(',').map(str::to_string).collect();
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let ticket = ticket(&authority, &keys[i % keys.len()])
            .await
            .with_context(|| format!("client {i}: getting a WebSocket ticket"))?;
        let url = format!("ws://{authority}/api/v1/ws?ticket={ticket}");
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("client {i}: connecting"))?;
        let sub = serde_json::json!({"op": "subscribe", "channels": channels}).to_string();
        socket.send(Message::Text(sub.into())).await?;
        let measure = measure.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            let mut last_seq = std::collections::HashMap::<String, u64>::new();
            loop {
                let left = until.saturating_duration_since(Instant::now());
                let Ok(Some(Ok(msg))) = tokio::time::timeout(left, socket.next()).await else {
                    break;
                };
                let Message::Text(text) = msg else { continue };
                let now = Utc::now();
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                let Some(ch) = v.get("ch").and_then(|c| c.as_str()) else {
                    continue;
                };
                if let Some(seq) = v.get("seq").and_then(serde_json::Value::as_u64) {
                    let prev = last_seq.insert(ch.to_string(), seq);
                    if prev.is_some_and(|p| seq != p + 1) {
                        seen.gaps += 1;
                    }
                }
                let prefix = ch.split(':').next().unwrap_or_default();
                if !measure.iter().any(|m| m == prefix)
                    || v.get("type").and_then(|t| t.as_str()) == Some("snapshot")
                {
                    continue;
                }
                seen.events += 1;
                let since = |t: Option<&serde_json::Value>| {
                    t.and_then(|t| t.as_str())
                        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                        .and_then(|t| (now - t).to_std().ok())
                };
                if let Some(d) = since(v.get("ts")) {
                    seen.from_stamp.push(d);
                }
                if let Some(ts) = v
                    .get("ts")
                    .and_then(|t| t.as_str())
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                {
                    let key = format!(
                        "{ch} {}",
                        v.get("data").map(ToString::to_string).unwrap_or_default()
                    );
                    seen.arrivals.push((key, ts, now));
                }
            }
            seen
        }));
    }
    eprintln!(
        "{} clients subscribed to {}; listening {} s",
        args.clients, args.channels, args.seconds
    );
    let mut all = Seen::default();
    let mut clients_with_events = 0;
    for t in tasks {
        let s = t.await.context("a client task failed")?;
        clients_with_events += usize::from(s.events > 0);
        all.events += s.events;
        all.gaps += s.gaps;
        all.from_stamp.extend(s.from_stamp);
        all.arrivals.extend(s.arrivals);
    }
    let mut from_first = from_first_stamp(&all.arrivals);
    println!(
        "{} events on {} over {} clients ({} clients got at least one); sequence gaps {}",
        all.events, args.measure, args.clients, clients_with_events, all.gaps
    );
    for (what, v) in [
        ("server stamp -> client", &mut all.from_stamp),
        (
            "first server stamp of the event -> each client",
            &mut from_first,
        ),
    ] {
        if let Some([p50, p90, p99, max]) = percentiles(v) {
            println!(
                "  {what}: n={} p50={} p90={} p99={} max={}",
                v.len(),
                ms(p50),
                ms(p90),
                ms(p99),
                ms(max)
            );
        }
    }
    Ok(())
}

/// For every arrival, the time since the event's earliest server stamp over all clients: the
/// moment the server first handled it, so the fan-out to the other clients counts (a client's
/// own stamp is taken when its session queues the event, after that client's wake-up).
fn from_first_stamp(arrivals: &[(String, DateTime<Utc>, DateTime<Utc>)]) -> Vec<Duration> {
    let mut first = std::collections::HashMap::<&str, DateTime<Utc>>::new();
    for (key, ts, _) in arrivals {
        let e = first.entry(key.as_str()).or_insert(*ts);
        *e = (*e).min(*ts);
    }
    arrivals
        .iter()
        .filter_map(|(key, _, at)| (*at - first[key.as_str()]).to_std().ok())
        .collect()
}

/// `POST /api/v1/auth/ws-ticket` with the key; the ticket from the JSON answer.
async fn ticket(authority: &str, key: &str) -> anyhow::Result<String> {
    let s = TcpStream::connect(authority).await?;
    let mut c = BufReader::new(s);
    let req = format!(
        "POST /api/v1/auth/ws-ticket HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    c.get_mut().write_all(req.as_bytes()).await?;
    let r = crate::http::read_response(&mut c).await?;
    if r.status != 200 {
        bail!("status {}: {}", r.status, String::from_utf8_lossy(&r.body));
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    v.get("ticket")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .context("no ticket in the answer")
}
