//! Trade records across stops, checked in the SQLite rows: a clean stop right after a close
//! records the close, and a trader killed between a fill and the cycle that records its entry
//! deal records, at the next start, both legs' commissions and the stop-loss exit that happened
//! while it was down. The trader is the live driver over the simulated broker, stepped bar by bar.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq::db::{DbIntentStore, DbLedger, DbOutlet};
use mtq::orchestrator::config::{self, ConfigSource};
use mtq::orchestrator::{LiveOptions, LiveTrader};
use mtq::persistence::{
    AccountId, AccountRepo, AuditRepo, EventWriter, NewAccount, Store, StoreSink, TradeRecord,
    TradeRepo, TradeStatus, WriterConfig,
};
use mtq::sim::synthetic::{SyntheticFeed, default_pairs};
use mtq::sim::{Commission, SimBroker, SimConfig, Simulator};
use mtq_connector::Broker;
use mtq_core::{
    Bar, Clock, DealEntry, Decimal, ExitReason, ManualClock, Symbol, Ticket, Timeframe,
};
use rust_decimal_macros::dec;

const CONFIG: &str = r#"
emergency:
  close_all_on_stop: true
  max_daily_loss_percent: 50
  max_drawdown_percent: 50
currencies:
  - symbol: EURUSD
    risk_percent: 0.5
    strategy_type: crossover
    timeframe: M5
    fast_period: 5
    slow_period: 13
    sl_pips: SL
    tp_pips: 300
    cooldown_seconds: 0
"#;

/// A database file, a simulated broker with commission and a synthetic EURUSD feed.
struct World {
    dir: PathBuf,
    url: String,
    account: AccountId,
    broker: Arc<SimBroker>,
    clock: Arc<ManualClock>,
    symbol: Symbol,
    steps: std::vec::IntoIter<Vec<(usize, Bar)>>,
    config: String,
}

/// A running trader and its recording.
struct Trader {
    trader: LiveTrader,
    outlet: Arc<DbOutlet>,
    writer: EventWriter,
}

impl World {
    fn new(name: &str, sl_pips: u32) -> Self {
        let dir = std::env::temp_dir().join(format!("mtq-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("mtq.db").display());
        let start: DateTime<Utc> = "2024-03-04T00:00:00Z".parse().unwrap();
        let pairs: Vec<_> = default_pairs()
            .into_iter()
            .filter(|m| m.spec.symbol.as_str() == "EURUSD")
            .collect();
        let feed = SyntheticFeed::new(pairs, start, start + Duration::days(3), 5);
        let symbol = feed.symbols()[0].clone();
        let sim = SimConfig {
            commission: Commission::PerLot(dec!(3.5)),
            ..SimConfig::default()
        };
        let broker = Arc::new(SimBroker::new(Simulator::new(sim, feed.specs()).unwrap()));
        let account = Store::open(&url)
            .unwrap()
            .ensure_account(
                &NewAccount {
                    broker: "sim".into(),
                    server: "MTQ-Sim".into(),
                    login: 9,
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
            config: CONFIG.replace("SL", &sl_pips.to_string()),
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
        let cfg = config::load(&ConfigSource::Text(self.config.clone()), &[]).unwrap();
        let (trader, _) = LiveTrader::start(
            self.broker.clone(),
            Arc::new(cfg),
            Arc::new(intents),
            self.clock.clone(),
            outlet.clone(),
            Some(Arc::new(ledger)),
            LiveOptions {
                kill_file: Some(self.dir.join("mtq.kill")),
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

    /// The next bar opens; `cycle` runs the trader on it; the bar then runs its course.
    async fn step(&mut self, trader: Option<&mut LiveTrader>) -> bool {
        let Some(step) = self.steps.next() else {
            return false;
        };
        self.clock.set(step[0].1.time);
        self.broker
            .open_bar(&self.symbol, Timeframe::M5, step[0].1)
            .unwrap();
        if let Some(t) = trader {
            t.cycle().await.unwrap();
        }
        self.broker.close_bar(&self.symbol, Timeframe::M5).unwrap();
        true
    }

    async fn open_positions(&self) -> Vec<Ticket> {
        let ps = self.broker.positions().await.unwrap();
        ps.into_iter().map(|p| p.ticket).collect()
    }

    fn trade(&self, ticket: Ticket) -> TradeRecord {
        Store::open(&self.url)
            .unwrap()
            .trade(Some(self.account), ticket)
            .unwrap()
            .expect("a trade row")
    }

    /// Commission and profit of every deal of a position, as the broker booked them.
    async fn booked(&self, ticket: Ticket) -> (Decimal, Decimal) {
        let t = self.clock.now();
        let deals = self
            .broker
            .deals(t - Duration::days(10), t + Duration::days(1))
            .await
            .unwrap();
        deals
            .iter()
            .filter(|d| d.position == Some(ticket))
            .fold((Decimal::ZERO, Decimal::ZERO), |(c, p), d| {
                (c + d.commission, p + d.profit)
            })
    }
}

impl Trader {
    /// Flushes the writer, as the binary does at exit.
    async fn stop_recording(self) -> Option<LiveTrader> {
        let Trader {
            trader,
            outlet,
            writer,
        } = self;
        drop(outlet);
        drop(trader);
        let report = tokio::task::spawn_blocking(move || writer.join())
            .await
            .unwrap()
            .unwrap();
        assert!(report.unwritten.is_empty());
        None
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_in_the_cycle_of_a_close_records_the_closed_trade_with_its_profit() {
    let mut world = World::new("close-then-stop", 40);
    let mut t = world.start().await;
    // A few bars after an entry, with the position still open, the operator's kill switch
    // closes everything, and SIGTERM follows at once.
    while world.open_positions().await.is_empty() {
        assert!(
            world.step(Some(&mut t.trader)).await,
            "no entry in the feed"
        );
    }
    world.step(Some(&mut t.trader)).await;
    world.step(Some(&mut t.trader)).await;
    let open = world.open_positions().await;
    assert!(
        !open.is_empty(),
        "the position is still open before the stop"
    );
    std::fs::write(world.dir.join("mtq.kill"), "operator stop").unwrap();
    world.step(Some(&mut t.trader)).await;
    assert!(
        world.open_positions().await.is_empty(),
        "the kill switch closed it"
    );
    let Trader {
        trader,
        outlet,
        writer,
    } = t;
    let summary = trader.finish().await.unwrap();
    drop(outlet);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap()
        .unwrap();
    for ticket in open {
        let row = world.trade(ticket);
        assert_eq!(row.status, TradeStatus::Closed, "{row:?}");
        let (commission, profit) = world.booked(ticket).await;
        assert_eq!(row.exit_time.map(|_| row.profit), Some(profit), "{row:?}");
        assert_eq!(row.commission, commission, "{row:?}");
        assert_eq!(row.exit_reason, Some(ExitReason::KillSwitch), "{row:?}");
    }
    assert!(summary.closed_trades >= 1);
    // The order_succeeded events keep the reply's quote.
    let journal = Store::open(&world.url)
        .unwrap()
        .audit_events(
            Some("order_succeeded"),
            world.clock.now() - Duration::days(10),
            world.clock.now() + Duration::days(1),
        )
        .unwrap();
    assert!(!journal.is_empty());
    for row in journal {
        let e: mtq_core::DomainEvent = serde_json::from_str(&row.payload).unwrap();
        let mtq_core::EventKind::OrderSucceeded { outcome, .. } = e.kind else {
            panic!("{e:?}");
        };
        assert!(
            outcome.bid > Decimal::ZERO && outcome.ask > outcome.bid,
            "{outcome:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deals_done_while_the_trader_was_down_are_recorded_at_the_next_start() {
    // A tight stop: the position hits it soon after the trader is killed.
    let mut world = World::new("killed-after-fill", 5);
    let t = world.start().await;
    let mut t = t;
    while world.open_positions().await.is_empty() {
        assert!(
            world.step(Some(&mut t.trader)).await,
            "no entry in the feed"
        );
    }
    let ticket = world.open_positions().await[0];
    // Killed before the cycle that would record the entry deal (its commission): what was
    // published reaches the database, nothing more.
    t.stop_recording().await;
    while world.open_positions().await.contains(&ticket) {
        assert!(world.step(None).await, "the stop loss never hit");
    }
    let t = world.start().await;
    let Trader {
        trader,
        outlet,
        writer,
    } = t;
    trader.finish().await.unwrap();
    drop(outlet);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap()
        .unwrap();

    let row = world.trade(ticket);
    let t = world.clock.now();
    let deals = world
        .broker
        .deals(t - Duration::days(10), t + Duration::days(1))
        .await
        .unwrap();
    let legs: Vec<_> = deals
        .iter()
        .filter(|d| d.position == Some(ticket))
        .collect();
    assert_eq!(legs.len(), 2, "{legs:?}");
    assert!(legs.iter().any(|d| d.entry == DealEntry::In));
    assert_eq!(row.status, TradeStatus::Closed, "{row:?}");
    assert_eq!(
        row.commission,
        legs.iter().map(|d| d.commission).sum::<Decimal>(),
        "both legs' commission: {row:?}"
    );
    assert!(row.commission < Decimal::ZERO);
    assert_eq!(row.exit_reason, Some(ExitReason::StopLoss), "{row:?}");
    assert_eq!(
        row.profit,
        legs.iter().map(|d| d.profit).sum::<Decimal>(),
        "{row:?}"
    );
}
