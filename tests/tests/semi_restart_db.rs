//! `trader.mode: semi` across a restart, checked in the rows the trader writes: an entry a run
//! left pending is recorded as expired when the next run starts (with the reason), even within
//! its time to live, is never sent and cannot be approved any more; the new run asks again at
//! its own prices. SQLite always; PostgreSQL too when `MTQ_TEST_DATABASE_URL` is set. The
//! trader is the live driver over the simulated broker, stepped bar by bar.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq::db::{DbIntentStore, DbLedger, DbOutlet};
use mtq::orchestrator::config::{self, ConfigSource};
use mtq::orchestrator::{
    Actor, ControlCommand, ControlOutcome, ControlRefusal, ControlRequest, LiveOptions, LiveTrader,
    Role, StartupReport,
};
use mtq::persistence::{
    AccountId, AccountRepo, ApprovalRepo, EventWriter, NewAccount, OrderRepo, Store, StoreSink,
    WriterConfig,
};
use mtq::sim::synthetic::{SyntheticFeed, default_pairs};
use mtq::sim::{SimBroker, SimConfig, Simulator};
use mtq_connector::Broker;
use mtq_core::{Approval, ApprovalState, Bar, ManualClock, Symbol, Ticket, Timeframe};
use tokio::sync::oneshot;

/// `position` enters whenever it does not hold the side its averages point to; each entry
/// waits for an operator for a day (far longer than the test's restart takes).
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
trader:
  mode: semi
  approval_ttl_seconds: 86400
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
        let dir = std::env::temp_dir().join(format!("mtq-e2e-semi-{name}-{}", std::process::id()));
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
                    server: format!(
                        "MTQ-Sim-semi-{name}-{}",
                        Utc::now().timestamp_nanos_opt().unwrap_or(0)
                    ),
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

    async fn start(&self) -> (Trader, StartupReport) {
        let intents = DbIntentStore::new(Store::open(&self.url).unwrap(), Some(self.account));
        let ledger = DbLedger::new(intents.shared_store(), Some(self.account));
        let sink = StoreSink::new(Store::open(&self.url).unwrap(), Some(self.account))
            .unwrap()
            .with_external_intents();
        let (sender, writer) = EventWriter::spawn(sink, WriterConfig::default()).unwrap();
        let outlet = Arc::new(DbOutlet::new(sender));
        let cfg = config::load(&ConfigSource::Text(CONFIG.into()), &[]).unwrap();
        let (trader, report) = LiveTrader::start(
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
        (
            Trader {
                trader,
                outlet,
                writer,
            },
            report,
        )
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

fn listed(out: &ControlOutcome) -> Vec<Approval> {
    serde_json::from_value(out.detail.clone().expect("a listing reports its approvals")).unwrap()
}

async fn list(t: &mut Trader) -> Vec<Approval> {
    listed(
        &t.send(ControlCommand::ListApprovals, Role::Viewer)
            .await
            .unwrap(),
    )
}

async fn an_approval_left_pending_is_expired_by_the_next_start(world: &mut World) {
    let (mut t, report) = world.start().await;
    assert!(report.approvals_expired.is_empty(), "{report:?}");
    let mut pending = Vec::new();
    for _ in 0..300 {
        world.step(&mut t.trader).await;
        pending = list(&mut t).await;
        if !pending.is_empty() {
            break;
        }
    }
    assert_eq!(
        pending.len(),
        1,
        "the strategy asked for an entry: {pending:?}"
    );
    let left = pending[0].clone();
    assert_eq!(left.state, ApprovalState::Pending);
    assert!(
        world.open_positions().await.is_empty(),
        "nothing sent unapproved"
    );
    t.stop().await;
    let stored = world
        .store()
        .approvals(Some(world.account), Some(ApprovalState::Pending), 10)
        .unwrap();
    assert_eq!(
        stored.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![left.id],
        "the stopped run left it pending in the records"
    );

    // The restart, well within the approval's time to live.
    world
        .clock
        .set(world.clock.now_utc() + Duration::minutes(1));
    assert!(world.clock.now_utc() < left.expires);
    let (mut t, report) = world.start().await;
    assert_eq!(report.approvals_expired, vec![left.id]);
    assert!(
        report
            .describe()
            .contains(&format!("approvals left pending, expired: {}", left.id)),
        "{}",
        report.describe()
    );
    let now = list(&mut t).await;
    let old = now
        .iter()
        .find(|a| a.id == left.id)
        .expect("listed after the restart");
    assert_eq!(old.state, ApprovalState::Expired);
    assert_eq!(old.decided_by, None);
    assert!(
        old.note.as_deref().is_some_and(|n| n.contains("restarted")),
        "{old:?}"
    );
    // An operator cannot send it any more, nor reject it.
    for command in [
        ControlCommand::Approve { id: left.id },
        ControlCommand::Reject { id: left.id },
    ] {
        match t.send(command, Role::Trader).await {
            Err(ControlRefusal::ApprovalDecided { id, state }) => {
                assert_eq!((id, state), (left.id, ApprovalState::Expired));
            }
            other => panic!("deciding an expired approval: {other:?}"),
        }
    }
    // The new run asks again, under a new id, at its own prices.
    let mut fresh = None;
    for _ in 0..300 {
        world.step(&mut t.trader).await;
        fresh = list(&mut t)
            .await
            .into_iter()
            .find(|a| a.state == ApprovalState::Pending);
        if fresh.is_some() {
            break;
        }
    }
    let fresh = fresh.expect("the strategy asks again after the restart");
    assert!(fresh.id > left.id, "{} after {}", fresh.id, left.id);
    assert_ne!(fresh.request.client_order_id, left.request.client_order_id);
    t.stop().await;

    let mut store = world.store();
    let rows = store.approvals(Some(world.account), None, 10).unwrap();
    let old = rows.iter().find(|a| a.id == left.id).expect("its row");
    assert_eq!(old.state, ApprovalState::Expired, "{old:?}");
    assert!(old.note.as_deref().is_some_and(|n| n.contains("restarted")));
    assert!(old.decided.is_some());
    assert!(
        store
            .order(Some(world.account), &left.request.client_order_id)
            .unwrap()
            .is_none(),
        "the expired entry was sent"
    );
    assert!(world.open_positions().await.is_empty());
    // A third start finds nothing left of the first run to expire; the second run's pending
    // approval is.
    let (t, report) = world.start().await;
    assert_eq!(report.approvals_expired, vec![fresh.id]);
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
async fn sqlite_expires_an_approval_left_pending_when_the_trader_restarts() {
    let mut world = World::new("sqlite", None);
    an_approval_left_pending_is_expired_by_the_next_start(&mut world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_expires_an_approval_left_pending_when_the_trader_restarts() {
    let Ok(url) = std::env::var("MTQ_TEST_DATABASE_URL") else {
        eprintln!("skipped the PostgreSQL semi restart test: MTQ_TEST_DATABASE_URL is not set");
        return;
    };
    let mut world = World::new("pg", Some(url));
    an_approval_left_pending_is_expired_by_the_next_start(&mut world).await;
}
