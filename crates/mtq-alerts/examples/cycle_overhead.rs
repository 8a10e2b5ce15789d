//! What alerts cost the trader: the same one-week paper session (fast replay, the default
//! configuration) run without alerts, then with every event type on and sent to a webhook that
//! accepts connections and never answers (each try waits out a 30 s timeout), alternating
//! `RUNS` times. Prints the wall time per cycle of each run and what the alert engine did.
//!
//! ```sh
//! cargo run -p mtq-alerts --example cycle_overhead            # debug build, deps at -O2
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use mtq_alerts::{AlertSetup, Alerter, forward_events};
use mtq_orchestrator::config::{
    self, AlertLevel, AlertsSection, ConfigSource, DEFAULT_CONFIG, EventLevels, Secret,
};
use mtq_orchestrator::paper::{
    CollectEvents, PaperControl, PaperOptions, run_paper_session_controlled,
};
use mtq_orchestrator::{LiveSnapshot, MemoryIntentStore, control_channel};

const RUNS: usize = 5;

async fn session(alerter: Option<Alerter>) -> (u64, Duration) {
    let cfg = Arc::new(config::load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[]).unwrap());
    let (handle, port) = control_channel(LiveSnapshot::starting("default", chrono::Utc::now()));
    let forwarder = alerter.map(|a| forward_events(handle.subscribe(), a));
    let opts = PaperOptions {
        weeks: 1,
        kill_file: None,
        ..PaperOptions::default()
    };
    let t = Instant::now();
    let s = run_paper_session_controlled(
        cfg,
        &opts,
        Arc::new(MemoryIntentStore::new()),
        Arc::new(CollectEvents::default()),
        PaperControl::default(),
        Some(port),
    )
    .await
    .unwrap();
    let took = t.elapsed();
    if let Some(f) = forwarder {
        f.abort();
    }
    (s.cycles, took)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let mut cfg = AlertsSection {
        dedup_seconds: 0,
        ..AlertsSection::default()
    };
    cfg.webhook.enabled = true;
    cfg.webhook.url = format!("http://{addr}/hook");
    cfg.webhook.secret = Secret::new("a webhook secret of 32 bytes...");
    cfg.webhook.timeout_seconds = 30;
    cfg.webhook.events = EventLevels::all(AlertLevel::On);
    let (alerter, engine) = AlertSetup::from_config(&cfg, &[], "default")
        .unwrap()
        .start(None);
    let mut plain = Vec::new();
    let mut alerted = Vec::new();
    for _ in 0..RUNS {
        let (cycles, t) = session(None).await;
        plain.push(t.as_secs_f64() * 1e6 / cycles as f64);
        let (cycles, t) = session(Some(alerter.clone())).await;
        alerted.push(t.as_secs_f64() * 1e6 / cycles as f64);
        println!(
            "cycles {cycles}: without alerts {:.1} µs/cycle, with alerts to a dead webhook {:.1} µs/cycle",
            plain.last().unwrap(),
            alerted.last().unwrap()
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "median µs/cycle: without {:.1}, with {:.1}; alert engine: {:?}",
        median(&mut plain),
        median(&mut alerted),
        alerter.stats()
    );
    drop(alerter);
    engine.finish(Duration::from_millis(10)).await;
}
