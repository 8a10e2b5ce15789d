//! What the metrics cost the trade path: one simulated week of the paper session (six pairs,
//! every cycle through the live driver over the simulated broker), first with no recorder
//! (what `trade`, and `serve` without a scrape token, run), then with the Prometheus recorder
//! installed, every broker call timed (`TimedBroker`) and every event observed (`EventMetrics`,
//! as `serve`'s `MetricsOutlet` does). Results: docs/benchmarks.md.

use std::sync::{Arc, Mutex};

use criterion::{Criterion, criterion_group, criterion_main};
use mtq_core::DomainEvent;
use mtq_metrics::EventMetrics;
use mtq_orchestrator::config::{self, ConfigSource, DEFAULT_CONFIG};
use mtq_orchestrator::paper::{PaperOptions, run_paper_session};
use mtq_orchestrator::{EventOutlet, MemoryIntentStore};

/// Drops every event (the database writer is not what is measured).
struct Discard;

#[async_trait::async_trait]
impl EventOutlet for Discard {
    async fn publish(&self, _: DomainEvent) {}
}

/// Observes every event into the metrics, then drops it.
struct Observed(Mutex<EventMetrics>);

#[async_trait::async_trait]
impl EventOutlet for Observed {
    async fn publish(&self, event: DomainEvent) {
        self.0.lock().unwrap().observe(&event);
    }
}

fn week(rt: &tokio::runtime::Runtime, outlet: Arc<dyn EventOutlet>) -> u64 {
    let cfg = Arc::new(config::load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[]).unwrap());
    let opts = PaperOptions {
        weeks: 1,
        kill_file: None,
        ..PaperOptions::default()
    };
    let store = Arc::new(MemoryIntentStore::new());
    let s = rt
        .block_on(run_paper_session(cfg, &opts, store, outlet))
        .unwrap();
    s.cycles
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("paper_week");
    g.sample_size(10);
    assert!(!mtq_metrics::enabled());
    g.bench_function("metrics_off", |b| b.iter(|| week(&rt, Arc::new(Discard))));
    let handle = mtq_metrics::install().unwrap();
    g.bench_function("metrics_on", |b| {
        b.iter(|| {
            let outlet = Observed(Mutex::new(EventMetrics::new("default")));
            week(&rt, Arc::new(outlet))
        });
    });
    g.finish();
    let scrape = mtq_metrics::render(&handle);
    assert!(scrape.contains("mtq_cycle_duration_seconds_bucket"));
}

criterion_group!(benches, bench);
criterion_main!(benches);
