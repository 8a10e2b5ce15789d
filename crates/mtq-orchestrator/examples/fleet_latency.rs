//! Many accounts in one process: the time from a bar's close to its order request, for every
//! account. Each account is a live driver over its own simulated broker with the six synthetic
//! pairs, all on one thread of one runtime (as `mtq-trader serve` runs them); at each step every
//! account's bars close at once, then every driver runs its cycle, and the time from that moment
//! to each order intent (written right before the order request goes to the broker) is one
//! sample. An account whose cycle runs last waits for the others: that wait is in its samples.
//!
//! ```sh
//! cargo run --release -p mtq-orchestrator --example fleet_latency            # 20 accounts, 2 weeks
//! cargo run --release -p mtq-orchestrator --example fleet_latency -- 20 4    # accounts, weeks
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mtq_core::{ClientOrderId, DomainEvent, ManualClock, Timeframe};
use mtq_orchestrator::config::{ConfigSource, DEFAULT_CONFIG, load_with_env};
use mtq_orchestrator::{
    EventOutlet, Inserted, Intent, IntentState, IntentStore, LiveOptions, LiveTrader,
    MemoryIntentStore, StoreError,
};
use mtq_sim::synthetic::{SyntheticFeed, default_pairs};
use mtq_sim::{SimBroker, SimConfig, Simulator};
use tokio::sync::Barrier;

/// When the current step's bars closed (every account's at once).
type Closed = Arc<Mutex<Option<Instant>>>;

/// The in-memory intent store, timing each intent from the bars' close.
struct Timed {
    inner: MemoryIntentStore,
    closed: Closed,
    samples: Arc<Mutex<Vec<Duration>>>,
}

#[async_trait]
impl IntentStore for Timed {
    async fn insert(&self, intent: &Intent) -> Result<Inserted, StoreError> {
        if let Some(t) = *self.closed.lock().unwrap() {
            self.samples.lock().unwrap().push(t.elapsed());
        }
        self.inner.insert(intent).await
    }
    async fn update(
        &self,
        id: &ClientOrderId,
        state: &IntentState,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.update(id, state, at).await
    }
    async fn get(&self, id: &ClientOrderId) -> Result<Option<Intent>, StoreError> {
        self.inner.get(id).await
    }
    async fn unresolved(&self) -> Result<Vec<Intent>, StoreError> {
        self.inner.unresolved().await
    }
}

/// Events go nowhere: the database writer is a thread of its own in the binary.
struct Discard;

#[async_trait]
impl EventOutlet for Discard {
    async fn publish(&self, _event: DomainEvent) {}
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let accounts: usize = args.first().map_or(Ok(20), |a| a.parse())?;
    let weeks: i64 = args.get(1).map_or(Ok(2), |a| a.parse())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let closed: Closed = Arc::new(Mutex::new(None));
    let barrier = Arc::new(Barrier::new(accounts));
    let start: DateTime<Utc> = "2024-03-03T22:00:00Z".parse()?;
    let end = start + chrono::Duration::weeks(weeks);
    let mut all_samples = Vec::new();
    for a in 0..accounts {
        // A fast crossover on all six pairs, so that orders are frequent.
        let mut overrides = vec![("trader.id_prefix".to_string(), format!("acct{a}"))];
        for i in 0..6 {
            overrides.push((format!("currencies[{i}].fast_period"), "2".into()));
            overrides.push((format!("currencies[{i}].slow_period"), "5".into()));
            overrides.push((format!("currencies[{i}].cooldown_seconds"), "0".into()));
        }
        let cfg = Arc::new(load_with_env(
            &ConfigSource::Text(DEFAULT_CONFIG.into()),
            &overrides,
            &[],
        )?);
        let seed = 20_240_304 + a as u64;
        let feed = SyntheticFeed::new(default_pairs(), start, end, seed);
        let symbols = feed.symbols();
        let broker = Arc::new(SimBroker::new(Simulator::new(
            SimConfig::default(),
            feed.specs(),
        )?));
        let clock = Arc::new(ManualClock::new(start));
        let samples = Arc::new(Mutex::new(Vec::new()));
        all_samples.push(samples.clone());
        let store = Arc::new(Timed {
            inner: MemoryIntentStore::new(),
            closed: closed.clone(),
            samples,
        });
        let (closed, barrier) = (closed.clone(), barrier.clone());
        local.spawn_local(async move {
            let opts = LiveOptions {
                account: format!("acct{a}"),
                kill_file: None,
                ..LiveOptions::default()
            };
            let (mut trader, _) = LiveTrader::start(
                broker.clone(),
                cfg,
                store,
                clock.clone(),
                Arc::new(Discard),
                None,
                opts,
            )
            .await
            .expect("starting a trader");
            for step in feed.steps() {
                clock.set(step[0].1.time);
                for (i, b) in &step {
                    broker
                        .open_bar(&symbols[*i], Timeframe::M5, *b)
                        .expect("a bar opens");
                }
                // Every account's bars have closed: the clock starts, then the cycles run.
                if barrier.wait().await.is_leader() {
                    *closed.lock().unwrap() = Some(Instant::now());
                }
                barrier.wait().await;
                trader.cycle().await.expect("a cycle");
                for (i, _) in &step {
                    broker
                        .close_bar(&symbols[*i], Timeframe::M5)
                        .expect("a bar closes");
                }
            }
        });
    }
    let wall = Instant::now();
    rt.block_on(local);
    let wall = wall.elapsed();
    let mut worst: BTreeMap<String, (usize, Duration, Duration)> = BTreeMap::new();
    let mut every = Vec::new();
    for (a, s) in all_samples.iter().enumerate() {
        let mut s = s.lock().unwrap().clone();
        s.sort_unstable();
        every.extend(s.iter().copied());
        worst.insert(
            format!("acct{a:02}"),
            (
                s.len(),
                percentile(&s, 0.99),
                s.last().copied().unwrap_or_default(),
            ),
        );
    }
    every.sort_unstable();
    println!(
        "{accounts} accounts x 6 symbols, {weeks} weeks of M5 bars, one thread; {} orders in {:.1} s",
        every.len(),
        wall.as_secs_f64()
    );
    println!(
        "{:<8} {:>7} {:>10} {:>10}",
        "account", "orders", "p99", "max"
    );
    for (name, (n, p99, max)) in &worst {
        println!("{name:<8} {n:>7} {:>10.3?} {:>10.3?}", p99, max);
    }
    println!(
        "all      {:>7} p50 {:.3?} p99 {:.3?} max {:.3?}; worst account p99 {:.3?}",
        every.len(),
        percentile(&every, 0.5),
        percentile(&every, 0.99),
        every.last().copied().unwrap_or_default(),
        worst.values().map(|w| w.1).max().unwrap_or_default()
    );
    Ok(())
}
