//! A paper session recorded in a real SQLite file through the batching writer: every closed
//! trade the simulator booked is a closed row, with the strategy and the client order id.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mtq_core::{Currency, DomainEvent, MarginMode};
use mtq_orchestrator::MemoryIntentStore;
use mtq_orchestrator::config::{self, ConfigSource, DEFAULT_CONFIG};
use mtq_orchestrator::paper::{EventOutlet, PaperOptions, run_paper_session};
use mtq_persistence::{
    AccountRepo, EventSender, EventWriter, NewAccount, Store, StoreSink, TradeRepo, WriterConfig,
};

struct Writer(EventSender);

#[async_trait::async_trait]
impl EventOutlet for Writer {
    async fn publish(&self, event: DomainEvent) {
        self.0.send(event).await.expect("writer running");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_closed_trade_of_a_paper_week_is_a_row_in_sqlite() {
    let dir = std::env::temp_dir().join(format!("mtq-e2e-paper-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("paper.db").display());
    record_a_paper_week(&url).await;
    std::fs::remove_dir_all(&dir).ok();
}

/// The same on PostgreSQL, in a schema of its own, when `MTQ_TEST_DATABASE_URL` is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_closed_trade_of_a_paper_week_is_a_row_in_postgres() {
    use diesel::connection::SimpleConnection;
    let Ok(base) = std::env::var("MTQ_TEST_DATABASE_URL") else {
        eprintln!("skipped on PostgreSQL: MTQ_TEST_DATABASE_URL is not set");
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("mtq_e2e_paper_{}_{nanos}", std::process::id());
    let mut admin = Store::open(&base).expect("MTQ_TEST_DATABASE_URL is set but unreachable");
    admin
        .connection()
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    record_a_paper_week(&format!("{base}{sep}options=-csearch_path%3D{schema}")).await;
    admin
        .connection()
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

async fn record_a_paper_week(url: &str) {
    let mut store = Store::open(url).unwrap();
    let account = store
        .ensure_account(
            &NewAccount {
                broker: "sim".into(),
                server: "MTQ-Sim".into(),
                login: 1,
                currency: Currency::USD,
                margin_mode: MarginMode::Hedging,
                leverage: 100,
                label: "e2e".into(),
            },
            Utc::now(),
        )
        .unwrap()
        .id;
    let (tx, writer) = EventWriter::spawn(
        StoreSink::new(store, Some(account)).unwrap(),
        WriterConfig::default(),
    )
    .unwrap();
    let cfg = config::load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[]).unwrap();
    let opts = PaperOptions {
        weeks: 1,
        kill_file: None,
        ..PaperOptions::default()
    };
    let outlet = Arc::new(Writer(tx));
    let summary = run_paper_session(
        Arc::new(cfg),
        &opts,
        Arc::new(MemoryIntentStore::new()),
        outlet.clone(),
    )
    .await
    .unwrap();
    drop(outlet);
    let report = tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap()
        .unwrap();
    assert!(report.unwritten.is_empty());
    assert_eq!(report.stats.written, u64::try_from(summary.events).unwrap());

    let mut store = Store::open(url).unwrap();
    let from: DateTime<Utc> = "2000-01-01T00:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2100-01-01T00:00:00Z".parse().unwrap();
    let closed = store.closed_trades(Some(account), from, to).unwrap();
    assert_eq!(
        closed.len(),
        summary.closed_trades,
        "one closed row per closing deal"
    );
    assert!(store.open_trades(Some(account)).unwrap().len() == summary.open_positions);
    for t in &closed {
        assert_eq!(t.strategy.as_deref(), Some("crossover"));
        assert!(t.comment.starts_with("mtq-"), "{}", t.comment);
        assert!(t.exit_price.is_some() && t.exit_time >= Some(t.entry_time));
    }
    // Every money movement of the session is in the trade rows: the closed rows' profit, swap
    // and commission (entry and exit deals) and the open rows' entry commission add up to the
    // change in balance. (Before the entry deals were recorded the rows missed 207.18 USD of
    // entry commission here.)
    let open = store.open_trades(Some(account)).unwrap();
    let rows: mtq_core::Decimal = closed
        .iter()
        .chain(&open)
        .map(|t| t.profit + t.swap + t.commission)
        .sum();
    assert_eq!(rows, summary.net_profit, "rows against the balance");
}
