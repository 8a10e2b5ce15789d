//! Embedding an MTQ trader in another Rust program.
//!
//! The host owns the market data: here it replays a synthetic EURUSD/GBPUSD feed into the
//! simulated broker, but the trader only sees `Arc<dyn Broker>`, so an MT5 connection
//! (`mtq::mt5::Mt5Broker`) drops in unchanged. Orders are written to an SQLite file before they
//! are sent, and every event goes through the batching writer.
//!
//! Run with `cargo run -p mtq --example embed`.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq::orchestrator::config::{self, ConfigSource};
use mtq::persistence::{AccountRepo, EventWriter, NewAccount, StoreSink, WriterConfig};
use mtq::prelude::*;
use mtq::sim::synthetic::{SyntheticFeed, default_pairs};

const CONFIG: &str = r#"
global:
  max_concurrent_trades: 2
currencies:
  - symbol: EURUSD
    strategy_type: crossover
    timeframe: M5
    fast_period: 8
    slow_period: 21
    sl_pips: 15
    tp_pips: 30
    risk_percent: 0.5
  - symbol: GBPUSD
    strategy_type: rsi
    timeframe: M5
    risk_percent: 0.5
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("mtq-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("embed.db").display());

    // 1. Configuration from the host's own text (files and MTQ__ variables work the same way).
    let cfg = Arc::new(config::load(&ConfigSource::Text(CONFIG.into()), &[])?);

    // 2. The broker: a simulated account fed by the host.
    let start: DateTime<Utc> = "2024-03-04T00:00:00Z".parse()?;
    let pairs: Vec<_> = default_pairs()
        .into_iter()
        .filter(|m| ["EURUSD", "GBPUSD"].contains(&m.spec.symbol.as_str()))
        .collect();
    let feed = SyntheticFeed::new(pairs, start, start + Duration::days(3), 7);
    let symbols = feed.symbols();
    let broker = Arc::new(SimBroker::new(Simulator::new(
        SimConfig::default(),
        feed.specs(),
    )?));

    // 3. Durable state: the intent store and the event writer, one account.
    let mut store = Store::open(&url)?;
    let account = store
        .ensure_account(
            &NewAccount {
                broker: "embedded".into(),
                server: "MTQ-Sim".into(),
                login: 42,
                currency: mtq::core::Currency::USD,
                margin_mode: mtq::core::MarginMode::Hedging,
                leverage: 100,
                label: "embed example".into(),
            },
            Utc::now(),
        )?
        .id;
    let intents = DbIntentStore::new(Store::open(&url)?, Some(account));
    let ledger = DbLedger::new(intents.shared_store(), Some(account));
    let sink = StoreSink::new(store, Some(account))?.with_external_intents();
    let (sender, writer) = EventWriter::spawn(sink, WriterConfig::default())?;
    let outlet = Arc::new(DbOutlet::new(sender));

    // 4. The trader: start-up reconciliation, then one cycle per bar the host delivers.
    let clock = Arc::new(ManualClock::new(start));
    let (mut trader, startup) = LiveTrader::start(
        broker.clone(),
        cfg,
        Arc::new(intents),
        clock.clone(),
        outlet.clone(),
        Some(Arc::new(ledger)),
        LiveOptions {
            kill_file: None,
            ..LiveOptions::default()
        },
    )
    .await?;
    println!("{}", startup.describe());
    for step in feed.steps() {
        clock.set(step[0].1.time);
        for (i, b) in &step {
            broker.open_bar(&symbols[*i], Timeframe::M5, *b)?;
        }
        trader.cycle().await?;
        for (i, _) in &step {
            broker.close_bar(&symbols[*i], Timeframe::M5)?;
        }
    }
    let summary = trader.finish().await?;
    println!("{}", summary.describe());

    // 5. Everything recorded before the program ends.
    drop(outlet);
    let report = tokio::task::spawn_blocking(move || writer.join()).await??;
    println!("{} events written to {url}", report.stats.written);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
