//! A PostgreSQL outage under a live session: the trader talks to the real server through a
//! loopback proxy the test cuts and restores (the shared server itself is never restarted).
//! While the intent store cannot write, entries are refused and reported; when the database is
//! back they resume by themselves, a stop during an outage still ends with a summary, and no
//! order or trade is lost or duplicated. Runs when `MTQ_TEST_DATABASE_URL` is set.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use mtq::db::{DbIntentStore, DbLedger, DbOutlet};
use mtq::orchestrator::config::{self, ConfigSource};
use mtq::orchestrator::{LiveOptions, LiveTrader};
use mtq::persistence::{
    AccountRepo, AuditRepo, EventWriter, NewAccount, OrderRepo, OrderState, Store, StoreSink,
    TradeRepo, WriterConfig,
};
use mtq::sim::synthetic::{SyntheticFeed, default_pairs};
use mtq::sim::{SimBroker, SimConfig, Simulator};
use mtq_connector::Broker;
use mtq_core::{DealEntry, ManualClock, Timeframe};

/// A TCP proxy to the database that can drop every connection and refuse new ones.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (c, o) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if c.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut held = o.lock().unwrap();
                held.push(client.try_clone().unwrap());
                held.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Self { port, cut, open }
    }

    /// Every connection drops, and new ones are closed at once: the server is "down".
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

const CONFIG: &str = r#"
trader:
  id_prefix: PREFIX
global:
  max_concurrent_trades: 6
emergency:
  max_daily_loss_percent: 50
  max_drawdown_percent: 50
  max_consecutive_order_failures: 1000
currencies:
  - symbol: EURUSD
    risk_percent: 0.5
    strategy_type: crossover
    timeframe: M5
    fast_period: 5
    slow_period: 13
    sl_pips: 15
    tp_pips: 45
    cooldown_seconds: 0
  - symbol: GBPUSD
    risk_percent: 0.5
    strategy_type: crossover
    timeframe: M5
    fast_period: 5
    slow_period: 13
    sl_pips: 15
    tp_pips: 45
    cooldown_seconds: 0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_refuses_entries_loudly_and_they_resume_when_it_is_back() {
    let Ok(base) = std::env::var("MTQ_TEST_DATABASE_URL") else {
        eprintln!("skipped the PostgreSQL outage test: MTQ_TEST_DATABASE_URL is not set");
        return;
    };
    // A schema of its own in the shared database, reached through the proxy.
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let unique = format!("{:x}{:x}", std::process::id(), nanos & 0xff_ffff);
    let schema = format!("mtq_outage_{unique}");
    let mut admin = PgConnection::establish(&base).expect("MTQ_TEST_DATABASE_URL is unreachable");
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let at = base
        .find('@')
        .expect("a URL of the form postgres://USER@HOST:PORT/DB")
        + 1;
    let slash = at + base[at..].find('/').unwrap();
    let proxy = Proxy::start(base[at..slash].to_string());
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}127.0.0.1:{}{}{sep}options=-csearch_path%3D{schema}",
        &base[..at],
        proxy.port,
        &base[slash..]
    );

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
    let mut store = Store::open(&url).unwrap();
    let account = store
        .ensure_account(
            &NewAccount {
                broker: "sim".into(),
                server: "MTQ-Sim".into(),
                login: 8,
                currency: mtq_core::Currency::USD,
                margin_mode: mtq_core::MarginMode::Hedging,
                leverage: 100,
                label: "outage".into(),
            },
            Utc::now(),
        )
        .unwrap()
        .id;
    let intents = DbIntentStore::new(Store::open(&url).unwrap(), Some(account));
    let ledger = DbLedger::new(intents.shared_store(), Some(account));
    let sink = StoreSink::new(store, Some(account))
        .unwrap()
        .with_external_intents();
    let writer_cfg = WriterConfig {
        max_backoff: std::time::Duration::from_millis(500),
        ..WriterConfig::default()
    };
    let (sender, writer) = EventWriter::spawn(sink, writer_cfg).unwrap();
    let outlet = Arc::new(DbOutlet::new(sender));
    let clock = Arc::new(ManualClock::new(start));
    let text = CONFIG.replace("PREFIX", &format!("o{}", &unique[..unique.len().min(12)]));
    let cfg = config::load(&ConfigSource::Text(text), &[]).unwrap();
    let (mut trader, _) = LiveTrader::start(
        broker.clone(),
        Arc::new(cfg),
        Arc::new(intents),
        clock.clone(),
        outlet.clone(),
        Some(Arc::new(ledger)),
        LiveOptions {
            kill_file: None,
            ..LiveOptions::default()
        },
    )
    .await
    .unwrap();

    let (cut_at, restore_at) = (150, 330);
    let (mut cut_time, mut restore_time) = (start, start);
    let mut refused_seen = false;
    for (n, step) in feed.steps().enumerate() {
        let time = step[0].1.time;
        clock.set(time);
        if n == cut_at {
            proxy.cut();
            cut_time = time;
        }
        if n == restore_at {
            proxy.restore();
            restore_time = time;
            // The store reconnects with backoff (at most 5 s between attempts); the bars of
            // this test run much faster than the wall clock, so give it the backoff's length.
            tokio::time::sleep(std::time::Duration::from_secs(6)).await;
        }
        for (i, b) in &step {
            broker.open_bar(&symbols[*i], Timeframe::M5, *b).unwrap();
        }
        trader.cycle().await.unwrap();
        if (cut_at..restore_at).contains(&n) && !trader.health().intent_store_ok {
            refused_seen = true;
        }
        for (i, _) in &step {
            broker.close_bar(&symbols[*i], Timeframe::M5).unwrap();
        }
    }
    assert!(
        refused_seen,
        "the readiness state shows the intent store down"
    );
    assert!(
        trader.health().intent_store_ok,
        "entries resumed: {:?}",
        trader.health()
    );
    let broker_deals = broker
        .deals(start - Duration::days(1), start + Duration::days(3))
        .await
        .unwrap();

    // A stop while the database is away again still ends the session with its summary.
    proxy.cut();
    let summary = trader
        .finish()
        .await
        .expect("the summary despite the outage");
    proxy.restore();
    drop(outlet);
    let report = tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap()
        .unwrap();
    assert!(
        report.unwritten.is_empty(),
        "every event written after the outage"
    );

    let mut store = Store::open(&url).unwrap();
    let done = store
        .orders_in_state(Some(account), OrderState::Done)
        .unwrap();
    assert_eq!(done.len(), summary.orders_filled, "{summary:?}");
    let during = done
        .iter()
        .filter(|o| o.created_at >= cut_time && o.created_at < restore_time)
        .count();
    assert_eq!(during, 0, "no order went out without its intent on record");
    assert!(
        done.iter().any(|o| o.created_at >= restore_time),
        "entries resumed after the outage"
    );
    // Nothing duplicated or lost: one entry deal per order, and a trade row for each.
    let entries = broker_deals
        .iter()
        .filter(|d| d.entry == DealEntry::In)
        .count();
    assert_eq!(entries, done.len());
    for o in &done {
        let position = o.position.expect("a filled order names its position");
        assert!(
            store.trade(Some(account), position).unwrap().is_some(),
            "trade of {} recorded",
            o.request.client_order_id
        );
    }
    // Said once, loudly, for the outage; the stop's reconciliation failure is reported too.
    let errors = store
        .audit_events(
            Some("error"),
            start - Duration::days(1),
            Utc::now() + Duration::days(1),
        )
        .unwrap();
    let refusals = errors
        .iter()
        .filter(|e| e.message.contains("entries are refused"))
        .count();
    assert_eq!(refusals, 1, "{errors:?}");
    drop(store);
    let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
}
