//! One simulated paper week, with the metrics off or on, for counting instructions under
//! callgrind (deterministic on a loaded machine, unlike wall time):
//!
//! ```sh
//! cargo build --release -p mtq-orchestrator --example paper_metrics_cost
//! valgrind --tool=callgrind target/release/examples/paper_metrics_cost off
//! valgrind --tool=callgrind target/release/examples/paper_metrics_cost on
//! ```
//!
//! `on` installs the Prometheus recorder, so every broker call is timed and every event
//! observed, as under `serve` with a scrape token. docs/benchmarks.md has the results.

use std::sync::{Arc, Mutex};

use mtq_core::DomainEvent;
use mtq_metrics::EventMetrics;
use mtq_orchestrator::config::{self, ConfigSource, DEFAULT_CONFIG};
use mtq_orchestrator::paper::{PaperOptions, run_paper_session};
use mtq_orchestrator::{EventOutlet, MemoryIntentStore};

struct Discard;

#[async_trait::async_trait]
impl EventOutlet for Discard {
    async fn publish(&self, _: DomainEvent) {}
}

struct Observed(Mutex<EventMetrics>);

#[async_trait::async_trait]
impl EventOutlet for Observed {
    async fn publish(&self, event: DomainEvent) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .observe(&event);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let on = match std::env::args().nth(1).as_deref() {
        Some("on") => true,
        Some("off") => false,
        _ => return Err("usage: paper_metrics_cost on|off".into()),
    };
    let outlet: Arc<dyn EventOutlet> = if on {
        mtq_metrics::install()?;
        Arc::new(Observed(Mutex::new(EventMetrics::new("default"))))
    } else {
        Arc::new(Discard)
    };
    let cfg = Arc::new(config::load(
        &ConfigSource::Text(DEFAULT_CONFIG.into()),
        &[],
    )?);
    let opts = PaperOptions {
        weeks: 1,
        kill_file: None,
        ..PaperOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let s = rt.block_on(run_paper_session(
        cfg,
        &opts,
        Arc::new(MemoryIntentStore::new()),
        outlet,
    ))?;
    println!(
        "metrics {}: {} cycles, {} orders",
        if on { "on" } else { "off" },
        s.cycles,
        s.orders_filled
    );
    Ok(())
}
