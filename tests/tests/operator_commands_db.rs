//! Operator commands through the control channel, checked in the rows the trader writes: a
//! close records the trade with exit reason `operator`, every command is journalled with its
//! actor, and a manual kill-switch trip is still in force after a restart until an admin
//! resets it. SQLite always; PostgreSQL too when `MTQ_TEST_DATABASE_URL` is set. The trader is
//! the live driver over the simulated broker, stepped bar by bar.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq::db::{DbIntentStore, DbLedger, DbOutlet};
use mtq::orchestrator::config::{self, ConfigSource};
use mtq::orchestrator::{
    Actor, ControlCommand, ControlOutcome, ControlRefusal, ControlRequest, LiveOptions, LiveTrader,
    Role,
};
use mtq::persistence::{
    AccountId, AccountRepo, AuditRepo, EventWriter, NewAccount, Store, StoreSink, TradeRepo,
    WriterConfig,
};
use mtq::sim::synthetic::{SyntheticFeed, default_pairs};
use mtq::sim::{SimBroker, SimConfig, Simulator};
use mtq_connector::Broker;
use mtq_core::{Bar, ExitReason, ManualClock, Symbol, Ticket, Timeframe};
use tokio::sync::oneshot;

/// `position` enters whenever it does not hold the side its averages point to.
const CONFIG: &str = r#"
emergency:
  max_daily_loss_percent: 50
  max_drawdown_percent: 50
currencies:
  - symbol: EURUSD
    risk_percent: 0.5
    strategy_type: position
    timeframe: M5
    fast_period: 5
    slow_period: 13
    sl_pips: 40
    tp_pips: 300
    cooldown_seconds: 0
"#;

struct World {
    dir: PathBuf,
    url: String,
    account: AccountId,
    broker: Arc<SimBroker>,
    clock: Arc<ManualClock>,
    symbol: Symbol,
    steps: std::vec::IntoIter<Vec<(usize, Bar)>>,
}

struct Trader {
    trader: LiveTrader,
    outlet: Arc<DbOutlet>,
    writer: EventWriter,
}

impl World {
    /// A simulated broker with a synthetic EURUSD feed, recorded at `url` (`None`: a SQLite
    /// file of its own).
    fn new(name: &str, url: Option<String>) -> Self {
        let dir = std::env::temp_dir().join(format!("mtq-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = url.unwrap_or_else(|| format!("sqlite://{}", dir.join("mtq.db").display()));
        let start: DateTime<Utc> = "2024-03-04T00:00:00Z".parse().unwrap();
        let pairs: Vec<_> = default_pairs()
            .into_iter()
            .filter(|m| m.spec.symbol.as_str() == "EURUSD")
            .collect();
        let feed = SyntheticFeed::new(pairs, start, start + Duration::days(2), 11);
        let symbol = feed.symbols()[0].clone();
        let broker = Arc::new(SimBroker::new(
            Simulator::new(SimConfig::default(), feed.specs()).unwrap(),
        ));
        // A login of its own, so rows of earlier runs on a shared database do not count.
        let login = u64::from(std::process::id()) * 1000 + u64::try_from(name.len()).unwrap();
        let account = Store::open(&url)
            .unwrap()
            .ensure_account(
                &NewAccount {
                    broker: "sim".into(),
                    server: format!("MTQ-Sim-{name}"),
                    login,
                    currency: mtq_core::Currency::USD,
                    margin_mode: mtq_core::MarginMode::Hedging,
                    leverage: 100,
                    label: "e2e".into(),
                },
                Utc::now(),
            )
            .unwrap()
            .id;
        Self {
            dir,
            url,
            account,
            broker,
            clock: Arc::new(ManualClock::new(start)),
            symbol,
            steps: feed.steps().collect::<Vec<_>>().into_iter(),
        }
    }

    async fn start(&self) -> Trader {
        let intents = DbIntentStore::new(Store::open(&self.url).unwrap(), Some(self.account));
        let ledger = DbLedger::new(intents.shared_store(), Some(self.account));
        let sink = StoreSink::new(Store::open(&self.url).unwrap(), Some(self.account))
            .unwrap()
            .with_external_intents();
        let (sender, writer) = EventWriter::spawn(sink, WriterConfig::default()).unwrap();
        let outlet = Arc::new(DbOutlet::new(sender));
        let cfg = config::load(&ConfigSource::Text(CONFIG.into()), &[]).unwrap();
        let (trader, _) = LiveTrader::start(
            self.broker.clone(),
            Arc::new(cfg),
            Arc::new(intents),
            self.clock.clone(),
            outlet.clone(),
            Some(Arc::new(ledger)),
            LiveOptions {
                kill_file: None,
                ..LiveOptions::default()
            },
        )
        .await
        .unwrap();
        Trader {
            trader,
            outlet,
            writer,
        }
    }

    /// The next bar opens, the trader runs a cycle on it, and the bar runs its course.
    async fn step(&mut self, trader: &mut LiveTrader) {
        let step = self.steps.next().expect("the feed is long enough");
        self.clock.set(step[0].1.time);
        self.broker
            .open_bar(&self.symbol, Timeframe::M5, step[0].1)
            .unwrap();
        trader.cycle().await.unwrap();
        self.broker.close_bar(&self.symbol, Timeframe::M5).unwrap();
    }

    async fn open_positions(&self) -> Vec<Ticket> {
        let ps = self.broker.positions().await.unwrap();
        ps.into_iter().map(|p| p.ticket).collect()
    }

    fn store(&self) -> Store {
        Store::open(&self.url).unwrap()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Trader {
    async fn send(
        &mut self,
        command: ControlCommand,
        role: Role,
    ) -> Result<ControlOutcome, ControlRefusal> {
        let (reply, answer) = oneshot::channel();
        let actor = Actor {
            id: format!("e2e-{role}"),
            role,
            via: "api".into(),
        };
        self.trader
            .handle_command(
                ControlRequest {
                    command,
                    actor,
                    reply,
                },
                None,
            )
            .await;
        answer.await.unwrap()
    }

    /// Ends the session and flushes the writer, as the binary does at exit.
    async fn stop(self) {
        let Trader {
            trader,
            outlet,
            writer,
        } = self;
        trader.finish().await.unwrap();
        drop(outlet);
        let report = tokio::task::spawn_blocking(move || writer.join())
            .await
            .unwrap()
            .unwrap();
        assert!(report.unwritten.is_empty());
    }
}

async fn operator_commands_are_recorded_and_a_manual_trip_survives_a_restart(world: &mut World) {
    let mut t = world.start().await;
    for _ in 0..200 {
        if !world.open_positions().await.is_empty() {
            break;
        }
        world.step(&mut t.trader).await;
    }
    let open = world.open_positions().await;
    assert_eq!(open.len(), 1, "the strategy entered");
    t.send(
        ControlCommand::ClosePosition {
            ticket: open[0],
            volume: None,
        },
        Role::Trader,
    )
    .await
    .unwrap();
    t.send(
        ControlCommand::TripKillSwitch {
            reason: "e2e: news".into(),
        },
        Role::Trader,
    )
    .await
    .unwrap();
    world.step(&mut t.trader).await;
    t.stop().await;

    let mut store = world.store();
    let row = store
        .trade(Some(world.account), open[0])
        .unwrap()
        .expect("a trade row");
    assert_eq!(row.exit_reason, Some(ExitReason::Operator), "{row:?}");
    let far = world.clock.now_utc() + Duration::days(1);
    let audit: Vec<_> = store
        .audit_events(Some("operator_command"), DateTime::<Utc>::UNIX_EPOCH, far)
        .unwrap()
        .into_iter()
        .filter(|r| r.account == Some(world.account))
        .collect();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(
        audit[0]
            .message
            .contains("close_position by e2e-trader via api: accepted")
    );

    // A restart: the manual trip is still in force, and no entry goes out.
    let mut t = world.start().await;
    assert_eq!(t.trader.snapshot().kill_switch, "halted");
    for _ in 0..20 {
        world.step(&mut t.trader).await;
    }
    assert!(
        world.open_positions().await.is_empty(),
        "halted after the restart"
    );
    t.send(
        ControlCommand::ResetKillSwitch {
            reason: "e2e: reviewed".into(),
        },
        Role::Admin,
    )
    .await
    .unwrap();
    t.stop().await;

    // Once reset, the next start trades again.
    let mut t = world.start().await;
    assert_eq!(t.trader.snapshot().kill_switch, "active");
    for _ in 0..200 {
        if !world.open_positions().await.is_empty() {
            break;
        }
        world.step(&mut t.trader).await;
    }
    assert!(!world.open_positions().await.is_empty(), "trading resumed");
    t.stop().await;
}

trait NowUtc {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl NowUtc for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        mtq_core::Clock::now(self)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_records_operator_commands_and_keeps_a_manual_trip_across_a_restart() {
    let mut world = World::new("operator-sqlite", None);
    operator_commands_are_recorded_and_a_manual_trip_survives_a_restart(&mut world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_records_operator_commands_and_keeps_a_manual_trip_across_a_restart() {
    let Ok(url) = std::env::var("MTQ_TEST_DATABASE_URL") else {
        eprintln!("skipped the PostgreSQL operator test: MTQ_TEST_DATABASE_URL is not set");
        return;
    };
    let mut world = World::new("operator-pg", Some(url));
    operator_commands_are_recorded_and_a_manual_trip_survives_a_restart(&mut world).await;
}
