//! A netting account recorded in a real SQLite file: MTQ's position, reduced and then reversed by
//! hand in the terminal, is one trade row whose closed volume is the position's volume (never
//! the reversing deal's), closed, with the deals that closed it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DurationRound, Utc};
use mtq_connector::Broker;
use mtq_core::testkit::swing_bar;
use mtq_core::{Bar, Currency, DomainEvent, ManualClock, MarginMode, Side, Ticket, Timeframe};
use mtq_mt5::fake::{FakeAccount, FakeSymbol, FakeTerminal};
use mtq_mt5::{Mt5Broker, Mt5Config, Token};
use mtq_orchestrator::config::{self, ConfigSource};
use mtq_orchestrator::live::EventOutlet;
use mtq_orchestrator::{LiveOptions, LiveTrader, MemoryIntentStore};
use mtq_persistence::{
    AccountRepo, EventSender, EventWriter, NewAccount, Store, StoreSink, TradeRepo, TradeStatus,
    WriterConfig,
};
use rust_decimal_macros::dec;

const TOKEN: &str = "e2e-token-0123456789";

const CONFIG: &str = r#"
currencies:
  - symbol: EURUSD
    enabled: true
    risk_percent: 0.5
    strategy_type: crossover
    timeframe: M1
    fast_period: 2
    slow_period: 5
    sl_pips: 30
    tp_pips: 60
    cooldown_seconds: 0
"#;

struct Writer(EventSender);

#[async_trait::async_trait]
impl EventOutlet for Writer {
    async fn publish(&self, event: DomainEvent) {
        self.0.send(event).await.expect("writer running");
    }
}

/// A cycle a second later, with no new bar.
async fn idle(clock: &ManualClock, trader: &mut LiveTrader) {
    clock.advance(chrono::Duration::seconds(1));
    trader.cycle().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_netting_reduction_and_reversal_by_hand_close_mtqs_trade_with_its_own_volume() {
    let dir = std::env::temp_dir().join(format!("mtq-e2e-netting-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("mtq.db").display());
    let mut store = Store::open(&url).unwrap();
    let account = store
        .ensure_account(
            &NewAccount {
                broker: "mt5".into(),
                server: "MTQ-Fake-Demo".into(),
                login: 5_001_234,
                currency: Currency::USD,
                margin_mode: MarginMode::Netting,
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
    let outlet = Arc::new(Writer(tx));

    let fake = FakeTerminal::new(
        FakeAccount {
            margin_mode: MarginMode::Netting,
            ..FakeAccount::default()
        },
        vec![FakeSymbol::forex("EURUSD")],
    );
    let broker = Mt5Broker::listen(Mt5Config {
        request_timeout: Duration::from_secs(30),
        trade_timeout: Duration::from_secs(30),
        heartbeat_timeout: Duration::from_secs(120),
        ..Mt5Config::new(0, Token::new(TOKEN).unwrap())
    })
    .await
    .unwrap();
    fake.connect(broker.local_port(), TOKEN);
    broker
        .wait_connected(Duration::from_secs(60))
        .await
        .unwrap();
    let start = (Utc::now() - chrono::Duration::hours(12))
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap();
    let mut bars: Vec<Bar> = (0..12).map(|k| swing_bar(start, k, 1.08)).collect();
    let publish = |bars: &[Bar]| {
        fake.set_rates("EURUSD", Timeframe::M1, bars.to_vec());
        let last = bars.last().unwrap().close;
        fake.set_quote("EURUSD", last, last + 0.00012);
    };
    publish(&bars);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let b: Arc<dyn Broker> = Arc::new(broker);
    let (mut trader, _) = LiveTrader::start(
        b,
        Arc::new(config::load(&ConfigSource::Text(CONFIG.into()), &[]).unwrap()),
        Arc::new(MemoryIntentStore::new()),
        clock.clone(),
        outlet.clone(),
        None,
        LiveOptions {
            kill_file: None,
            ..LiveOptions::default()
        },
    )
    .await
    .unwrap();
    // Bars until MTQ opens a position.
    while fake.open_positions().is_empty() {
        assert!(bars.len() < 40, "the crossover opens a position");
        bars.push(swing_bar(start, i64::try_from(bars.len()).unwrap(), 1.08));
        publish(&bars);
        clock.advance(chrono::Duration::minutes(1));
        trader.cycle().await.unwrap();
    }
    let (ticket, _, volume, ..) = fake.open_positions()[0].clone();
    let side = if fake.orders_sent()[0]["order_type"] == "ORDER_TYPE_BUY" {
        Side::Buy
    } else {
        Side::Sell
    };
    // The user reduces it by 0.02 lots, then reverses it with 0.10 lots more than is left; no
    // new bar in between, so MTQ's strategy is quiet.
    fake.trade_by_hand("EURUSD", side.opposite(), dec!(0.02), 0);
    idle(&clock, &mut trader).await;
    fake.trade_by_hand(
        "EURUSD",
        side.opposite(),
        volume - dec!(0.02) + dec!(0.10),
        0,
    );
    idle(&clock, &mut trader).await;
    trader.finish().await.unwrap();
    drop(outlet);
    let report = tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap()
        .unwrap();
    assert!(report.unwritten.is_empty());

    let mut store = Store::open(&url).unwrap();
    let trade = store
        .trade(Some(account), Ticket(ticket))
        .unwrap()
        .expect("MTQ's trade is recorded");
    assert_eq!(trade.volume, volume);
    assert_eq!(
        trade.closed_volume, volume,
        "closed by the reduction and the reversal, never more than its volume"
    );
    assert_eq!(trade.status, TradeStatus::Closed);
    assert!(store.open_trades(Some(account)).unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
