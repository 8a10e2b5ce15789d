//! Operator controls on a running trader, checked through the rows it writes to SQLite: the kill
//! switch halts entries and closes every position, and a hot reload changes risk for new trades
//! only. The trader is the live driver over the simulated broker, stepped bar by bar.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq::db::{DbIntentStore, DbLedger, DbOutlet};
use mtq::orchestrator::config::{self, ConfigSource, ConfigWatcher};
use mtq::orchestrator::{LiveOptions, LiveTrader, SessionSummary};
use mtq::persistence::{
    AccountId, AccountRepo, AuditRepo, EventWriter, NewAccount, OrderRecord, OrderRepo, OrderState,
    Store, StoreSink, TradeRepo, WriterConfig,
};
use mtq::sim::synthetic::{SyntheticFeed, default_pairs};
use mtq::sim::{SimBroker, SimConfig, Simulator};
use mtq_core::{Decimal, ManualClock, Timeframe};

const CONFIG: &str = r#"
global:
  max_concurrent_trades: 6
emergency:
  close_all_on_stop: true
  max_daily_loss_percent: 50
  max_drawdown_percent: 50
currencies:
  - symbol: EURUSD
    risk_percent: RISK
    strategy_type: crossover
    timeframe: M5
    fast_period: 5
    slow_period: 13
    sl_pips: 15
    tp_pips: 45
    cooldown_seconds: 0
  - symbol: GBPUSD
    risk_percent: RISK
    strategy_type: crossover
    timeframe: M5
    fast_period: 5
    slow_period: 13
    sl_pips: 15
    tp_pips: 45
    cooldown_seconds: 0
"#;

fn config_text(risk: &str) -> String {
    CONFIG.replace("RISK", risk)
}

struct Run {
    dir: PathBuf,
    url: String,
    account: Option<AccountId>,
}

impl Run {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mtq-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("mtq.db").display());
        Self {
            dir,
            url,
            account: None,
        }
    }

    fn store(&self) -> Store {
        Store::open(&self.url).unwrap()
    }

    fn orders(&self) -> Vec<OrderRecord> {
        let mut store = self.store();
        let mut all = store
            .orders_in_state(self.account, OrderState::Done)
            .unwrap();
        all.sort_by_key(|o| o.created_at);
        all
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Steps two days of synthetic M5 bars through a live trader recording to SQLite; `at_step` runs
/// before each step's cycle with the step's time.
async fn session(
    run: &mut Run,
    config_file: &Path,
    kill_file: &Path,
    mut at_step: impl FnMut(usize, DateTime<Utc>),
) -> SessionSummary {
    let cfg = config::load(&ConfigSource::File(config_file.to_path_buf()), &[]).unwrap();
    let mut watcher = ConfigWatcher::new(config_file.to_path_buf(), Vec::new());
    let start: DateTime<Utc> = "2024-03-04T00:00:00Z".parse().unwrap();
    let pairs: Vec<_> = default_pairs()
        .into_iter()
        .filter(|m| ["EURUSD", "GBPUSD"].contains(&m.spec.symbol.as_str()))
        .collect();
    let feed = SyntheticFeed::new(pairs, start, start + Duration::days(2), 11);
    let symbols = feed.symbols();
    let broker = Arc::new(SimBroker::new(
        Simulator::new(SimConfig::default(), feed.specs()).unwrap(),
    ));
    let mut store = run.store();
    let account = store
        .ensure_account(
            &NewAccount {
                broker: "sim".into(),
                server: "MTQ-Sim".into(),
                login: 7,
                currency: mtq_core::Currency::USD,
                margin_mode: mtq_core::MarginMode::Hedging,
                leverage: 100,
                label: "e2e".into(),
            },
            Utc::now(),
        )
        .unwrap()
        .id;
    run.account = Some(account);
    let intents = DbIntentStore::new(run.store(), Some(account));
    let ledger = DbLedger::new(intents.shared_store(), Some(account));
    let sink = StoreSink::new(store, Some(account))
        .unwrap()
        .with_external_intents();
    let (sender, writer) = EventWriter::spawn(sink, WriterConfig::default()).unwrap();
    let outlet = Arc::new(DbOutlet::new(sender));
    let clock = Arc::new(ManualClock::new(start));
    let (mut trader, _) = LiveTrader::start(
        broker.clone(),
        Arc::new(cfg),
        Arc::new(intents),
        clock.clone(),
        outlet.clone(),
        Some(Arc::new(ledger)),
        LiveOptions {
            kill_file: Some(kill_file.to_path_buf()),
            ..LiveOptions::default()
        },
    )
    .await
    .unwrap();
    for (n, step) in feed.steps().enumerate() {
        let time = step[0].1.time;
        clock.set(time);
        for (i, b) in &step {
            broker.open_bar(&symbols[*i], Timeframe::M5, *b).unwrap();
        }
        at_step(n, time);
        trader.poll_config(&mut watcher).await;
        trader.cycle().await.unwrap();
        for (i, _) in &step {
            broker.close_bar(&symbols[*i], Timeframe::M5).unwrap();
        }
    }
    let summary = trader.finish().await.unwrap();
    drop(outlet);
    let report = tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap()
        .unwrap();
    assert!(report.unwritten.is_empty());
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_halts_entries_and_closes_every_position() {
    let mut run = Run::new("kill-switch");
    let cfg = run.dir.join("mtq.yaml");
    std::fs::write(&cfg, config_text("0.5")).unwrap();
    let kill = run.dir.join("mtq.kill");
    let mut killed_at = None;
    let kill_path = kill.clone();
    let summary = session(&mut run, &cfg, &kill, |n, t| {
        if n == 300 {
            std::fs::write(&kill_path, "operator stop").unwrap();
            killed_at = Some(t);
        }
    })
    .await;
    let killed_at = killed_at.unwrap();
    let orders = run.orders();
    let before = orders.iter().filter(|o| o.created_at < killed_at).count();
    let after: Vec<_> = orders
        .iter()
        .filter(|o| o.created_at >= killed_at)
        .collect();
    assert!(before > 3, "the session traded before the stop: {before}");
    assert!(after.is_empty(), "orders after the kill switch: {after:?}");
    assert!(
        summary.signals > summary.orders_filled,
        "signals after the stop are recorded and refused"
    );

    let mut store = run.store();
    assert!(
        store.open_trades(run.account).unwrap().is_empty(),
        "close_all_on_stop closed every position"
    );
    let kills = store
        .audit_events(
            Some("kill_switch"),
            killed_at - Duration::minutes(1),
            killed_at + Duration::days(3),
        )
        .unwrap();
    assert!(
        kills.iter().any(|e| e.message.contains("halted")),
        "{kills:?}"
    );
    // Signals after the stop carry their refusal.
    let refused = store
        .audit_events(
            Some("signal_recorded"),
            killed_at + Duration::minutes(5),
            killed_at + Duration::days(3),
        )
        .unwrap();
    assert!(!refused.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_reload_changes_risk_for_new_trades_only() {
    let mut run = Run::new("hot-reload");
    let cfg = run.dir.join("mtq.yaml");
    std::fs::write(&cfg, config_text("0.25")).unwrap();
    let kill = run.dir.join("mtq.kill");
    let mut reloaded_at = None;
    let cfg_path = cfg.clone();
    session(&mut run, &cfg, &kill, |n, t| {
        if n == 280 {
            // A new modification time, whatever the file system's resolution.
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::fs::write(&cfg_path, config_text("1.0")).unwrap();
            let f = std::fs::File::options()
                .append(true)
                .open(&cfg_path)
                .unwrap();
            f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
                .unwrap();
            reloaded_at = Some(t);
        }
    })
    .await;
    let reloaded_at = reloaded_at.unwrap();
    let orders = run.orders();
    let (old, new): (Vec<&OrderRecord>, Vec<&OrderRecord>) =
        orders.iter().partition(|o| o.created_at < reloaded_at);
    assert!(
        old.len() > 2 && new.len() > 2,
        "{} / {}",
        old.len(),
        new.len()
    );
    let max_old: Decimal = old.iter().map(|o| o.request.volume).max().unwrap();
    let min_new: Decimal = new.iter().map(|o| o.request.volume).min().unwrap();
    assert!(
        min_new > max_old * Decimal::from(2),
        "four times the risk: new volumes from {min_new}, old up to {max_old}"
    );
    // Trades opened before the reload keep the volume they were opened with.
    let mut store = run.store();
    for o in &old {
        let ticket = o.position.unwrap();
        let trade = store.trade(run.account, ticket).unwrap().unwrap();
        assert_eq!(trade.volume, o.request.volume);
    }
    let reloads = store
        .audit_events(
            Some("config_reloaded"),
            reloaded_at - Duration::minutes(1),
            reloaded_at + Duration::minutes(10),
        )
        .unwrap();
    assert_eq!(reloads.len(), 1, "{reloads:?}");
    assert!(
        reloads[0].message.contains("risk_percent"),
        "{}",
        reloads[0].message
    );
}
