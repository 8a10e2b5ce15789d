//! The live driver after a restart: the risk limits remember the day's starting equity, the
//! equity peak and the orders that failed in a row from the records, so a restart cannot reset
//! the daily loss limit or the order-failure kill switch.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq_core::{Bar, EventKind, ManualClock, Symbol, SymbolSpec, Ticket, Timeframe};
use mtq_orchestrator::config::{self, ConfigSource};
use mtq_orchestrator::{
    CollectEvents, LiveOptions, LiveTrader, MemoryIntentStore, RiskMemory, StoreError, TradeLedger,
};
use mtq_sim::{SimBroker, SimConfig, Simulator};
use rust_decimal_macros::dec;

struct Remembers(RiskMemory);

#[async_trait::async_trait]
impl TradeLedger for Remembers {
    async fn open_positions(&self) -> Result<Vec<(Ticket, DateTime<Utc>)>, StoreError> {
        Ok(Vec::new())
    }

    async fn risk_memory(
        &self,
        _day_start: DateTime<Utc>,
        _peak_since: DateTime<Utc>,
    ) -> Result<RiskMemory, StoreError> {
        Ok(self.0.clone())
    }
}

const CONFIG: &str = r#"
emergency:
  max_daily_loss_percent: 5
  stop_on_daily_loss: true
  max_consecutive_order_failures: 3
currencies:
  - symbol: EURUSD
    strategy_type: crossover
    timeframe: M5
"#;

async fn first_cycle_events(memory: RiskMemory) -> Vec<EventKind> {
    let t0: DateTime<Utc> = "2024-03-04T10:00:00Z".parse().unwrap();
    let sim = Simulator::new(
        SimConfig::default(),
        [SymbolSpec::builtin("EURUSD").unwrap()],
    )
    .unwrap();
    let broker = Arc::new(SimBroker::new(sim));
    let eurusd = Symbol::new("EURUSD").unwrap();
    let bar = |i: i64| Bar {
        time: t0 + Duration::minutes(5 * i),
        open: 1.08,
        high: 1.0805,
        low: 1.0795,
        close: 1.08,
        tick_volume: 10,
        real_volume: 0,
        spread: 10,
    };
    for i in 0..3 {
        broker.push_bar(&eurusd, Timeframe::M5, bar(i)).unwrap();
    }
    let cfg = config::load(&ConfigSource::Text(CONFIG.into()), &[]).unwrap();
    let clock = Arc::new(ManualClock::new(t0 + Duration::minutes(15)));
    let events = Arc::new(CollectEvents::default());
    let (mut trader, _) = LiveTrader::start(
        broker,
        Arc::new(cfg),
        Arc::new(MemoryIntentStore::new()),
        clock,
        events.clone(),
        Some(Arc::new(Remembers(memory))),
        LiveOptions {
            kill_file: None,
            ..LiveOptions::default()
        },
    )
    .await
    .unwrap();
    trader.cycle().await.unwrap();
    events.events().into_iter().map(|e| e.kind).collect()
}

/// The state and reason of the first kill-switch transition among `events`.
fn kill_switch(events: &[EventKind]) -> Option<(String, String)> {
    events.iter().find_map(|k| match k {
        EventKind::KillSwitch { state, reason } => Some((state.clone(), reason.clone())),
        _ => None,
    })
}

#[tokio::test]
async fn a_restart_keeps_the_daily_loss_the_records_show() {
    // The account has 10,000 now; the day began at 11,000: a 9% loss, over the 5% limit.
    let events = first_cycle_events(RiskMemory {
        day_start_equity: Some(dec!(11000)),
        equity_peak: Some(dec!(11000)),
        ..RiskMemory::default()
    })
    .await;
    let (state, reason) = kill_switch(&events).expect("the kill switch trips on the first cycle");
    assert_ne!(state, "active", "{reason}");
    assert!(reason.contains("daily loss"), "{reason}");
}

#[tokio::test]
async fn without_records_the_day_starts_at_the_current_equity() {
    let events = first_cycle_events(RiskMemory::default()).await;
    assert_eq!(kill_switch(&events), None, "{events:?}");
}

#[tokio::test]
async fn a_restart_keeps_the_order_failures_the_records_show() {
    // The last three orders failed: at the limit of three, the switch trips again at once.
    let events = first_cycle_events(RiskMemory {
        order_failures_in_a_row: 3,
        ..RiskMemory::default()
    })
    .await;
    let (state, reason) = kill_switch(&events).expect("the kill switch trips on the first cycle");
    assert_ne!(state, "active", "{reason}");
    assert!(reason.contains("3 orders failed in a row"), "{reason}");
    // Two failures are below the limit: nothing trips.
    let events = first_cycle_events(RiskMemory {
        order_failures_in_a_row: 2,
        ..RiskMemory::default()
    })
    .await;
    assert_eq!(kill_switch(&events), None, "{events:?}");
}
