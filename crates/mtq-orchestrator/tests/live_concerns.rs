//! The live driver's concerns one by one, over the simulated broker: start-up (what it does
//! with positions MTQ did not open), the cycle (each newly closed bar published once, missed
//! bars too), and the session report.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq_connector::Broker;
use mtq_core::testkit::{self, BarBuilder};
use mtq_core::{Bar, ClientOrderId, EventKind, ManualClock, OrderRequest, Side, Symbol, Timeframe};
use mtq_orchestrator::config::{self, ConfigSource};
use mtq_orchestrator::{
    CollectEvents, LiveOptions, LiveTrader, MemoryIntentStore, SessionSummary, StartupReport,
};
use mtq_sim::{SimBroker, SimConfig, Simulator};
use rust_decimal_macros::dec;

const CONFIG: &str = r#"
trader:
  unknown_positions: UNKNOWN
currencies:
  - symbol: EURUSD
    strategy_type: crossover
    timeframe: M5
    fast_period: 3
    slow_period: 6
"#;

fn t0() -> DateTime<Utc> {
    "2024-03-04T08:00:00Z".parse().unwrap()
}

fn eurusd() -> Symbol {
    testkit::symbol("EURUSD")
}

/// A flat M5 bar: nothing crosses, nothing trades.
fn bar(i: i64) -> Bar {
    BarBuilder::new()
        .at(t0() + Duration::minutes(5 * i))
        .ohlc(1.08, 1.0802, 1.0798, 1.08)
        .tick_volume(10)
        .spread(8)
        .build()
}

struct Rig {
    broker: Arc<SimBroker>,
    clock: Arc<ManualClock>,
    events: Arc<CollectEvents>,
    trader: LiveTrader,
    report: StartupReport,
}

/// 10 closed bars, then a trader started with `unknown_positions` as given; `foreign` places a
/// position of another magic number before the start.
async fn rig(unknown: &str, foreign: bool) -> Rig {
    let sim = Simulator::new(SimConfig::default(), [testkit::eurusd()]).unwrap();
    let broker = Arc::new(SimBroker::new(sim));
    for i in 0..10 {
        broker.push_bar(&eurusd(), Timeframe::M5, bar(i)).unwrap();
    }
    if foreign {
        let id = ClientOrderId::new("by-hand-1").unwrap();
        let order = OrderRequest::market(id, eurusd(), Side::Buy, dec!(0.1));
        broker.send_order(&order).await.unwrap();
    }
    let text = CONFIG.replace("UNKNOWN", unknown);
    let cfg = config::load(&ConfigSource::Text(text), &[]).unwrap();
    let clock = Arc::new(ManualClock::new(t0() + Duration::minutes(50)));
    let events = Arc::new(CollectEvents::default());
    let (trader, report) = LiveTrader::start(
        broker.clone(),
        Arc::new(cfg),
        Arc::new(MemoryIntentStore::new()),
        clock.clone(),
        events.clone(),
        None,
        LiveOptions {
            kill_file: None,
            ..LiveOptions::default()
        },
    )
    .await
    .unwrap();
    Rig {
        broker,
        clock,
        events,
        trader,
        report,
    }
}

fn bars_closed(events: &CollectEvents) -> Vec<DateTime<Utc>> {
    events
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::BarClosed {
                symbol,
                timeframe,
                bar,
            } => {
                assert_eq!((symbol, timeframe), (eurusd(), Timeframe::M5));
                // The event is dated when the bar closed.
                assert_eq!(e.time, bar.time + Duration::minutes(5));
                Some(bar.time)
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn each_newly_closed_bar_is_published_once_as_bar_closed_missed_ones_too() {
    let mut r = rig("ignore", false).await;
    assert!(r.report.warmed[&eurusd()] > 0, "the strategy warmed up");
    assert!(
        bars_closed(&r.events).is_empty(),
        "warm-up bars are not new"
    );

    r.broker
        .push_bar(&eurusd(), Timeframe::M5, bar(10))
        .unwrap();
    r.clock.set(t0() + Duration::minutes(55));
    r.trader.cycle().await.unwrap();
    assert_eq!(bars_closed(&r.events), vec![bar(10).time]);

    // A cycle with no new bar publishes none.
    r.clock.set(t0() + Duration::minutes(57));
    r.trader.cycle().await.unwrap();
    assert_eq!(bars_closed(&r.events).len(), 1);

    // Three bars closed while the trader was not looking: each is published, in order.
    for i in 11..14 {
        r.broker.push_bar(&eurusd(), Timeframe::M5, bar(i)).unwrap();
    }
    r.clock.set(t0() + Duration::minutes(70));
    let report = r.trader.cycle().await.unwrap();
    assert_eq!(report.bars, 3);
    let times: Vec<_> = (10..14).map(|i| bar(i).time).collect();
    assert_eq!(bars_closed(&r.events), times);
}

#[tokio::test]
async fn start_up_adopts_ignores_or_closes_a_position_mtq_did_not_open_as_configured() {
    let r = rig("adopt", true).await;
    assert_eq!(r.report.adopted.len(), 1, "{}", r.report.describe());
    assert!(r.trader.core().is_adopted(r.report.adopted[0]));

    let r = rig("ignore", true).await;
    assert_eq!(r.report.ignored.len(), 1);
    assert!(r.report.adopted.is_empty());
    assert_eq!(r.broker.positions().await.unwrap().len(), 1);

    let r = rig("close", true).await;
    assert_eq!(r.report.closed.len(), 1);
    assert!(r.broker.positions().await.unwrap().is_empty());
    assert!(
        r.report
            .describe()
            .contains(&format!("closed: {}", r.report.closed[0]))
    );
}

#[tokio::test]
async fn the_session_summary_counts_the_cycles_and_the_events_it_wrote() {
    let mut r = rig("ignore", false).await;
    for i in 10..13 {
        r.broker.push_bar(&eurusd(), Timeframe::M5, bar(i)).unwrap();
        r.clock.set(bar(i).time + Duration::minutes(5));
        r.trader.cycle().await.unwrap();
    }
    let summary = r.trader.finish().await.unwrap();
    assert_eq!((summary.cycles, summary.bars), (3, 3));
    assert_eq!(summary.events, r.events.events().len());
    assert_eq!(summary.final_balance, summary.final_equity);
    assert!(matches!(
        r.events.events().last().map(|e| &e.kind),
        Some(EventKind::Session { detail }) if detail.starts_with("session summary: 3 cycles, 3 bars")
    ));
}

#[test]
fn win_rate_and_profit_factor_need_closed_trades_and_losses() {
    let none = SessionSummary::default();
    assert_eq!((none.win_rate(), none.profit_factor()), (None, None));
    let s = SessionSummary {
        closed_trades: 4,
        wins: 3,
        gross_profit: dec!(300),
        gross_loss: dec!(-120),
        ..SessionSummary::default()
    };
    assert_eq!(s.win_rate(), Some(dec!(75)));
    assert_eq!(s.profit_factor(), Some(dec!(2.5)));
}
