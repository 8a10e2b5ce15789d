//! The live driver with a broker in transient trouble: reads that time out (a slow terminal, a
//! dropped bridge) are retried with backoff and reported, at start-up and in cycles; an error
//! that retrying cannot fix (an unknown symbol) still ends start-up at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use mtq_connector::{BarRange, Broker, BrokerError};
use mtq_core::testkit::{BarBuilder, eurusd, minute, symbol};
use mtq_core::{
    AccountInfo, Bar, Deal, Decimal, EventKind, ManualClock, OrderOutcome, OrderRequest,
    PendingOrder, Position, Symbol, SymbolSpec, Tick, Ticket, Timeframe,
};
use mtq_orchestrator::config::{self, ConfigSource};
use mtq_orchestrator::{
    CollectEvents, LiveError, LiveOptions, LiveTrader, MemoryIntentStore, TransientRetry,
};
use mtq_sim::{SimBroker, SimConfig, Simulator};

/// What the flaky broker does wrong.
#[derive(Default)]
struct Faults {
    /// Bar requests that time out before one is answered.
    bar_timeouts: AtomicU32,
    /// Position reads that find the bridge disconnected before one is answered.
    position_drops: AtomicU32,
    /// The symbol specification says the symbol is unknown (a configuration error).
    unknown_symbol: bool,
    spec_calls: AtomicU32,
    bar_calls: AtomicU32,
}

fn take(n: &AtomicU32) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

/// The simulated broker behind a terminal that is slow to answer.
struct Flaky {
    inner: SimBroker,
    faults: Arc<Faults>,
}

#[async_trait::async_trait]
impl Broker for Flaky {
    async fn account(&self) -> Result<AccountInfo, BrokerError> {
        self.inner.account().await
    }
    async fn symbol_spec(&self, symbol: &Symbol) -> Result<SymbolSpec, BrokerError> {
        self.faults.spec_calls.fetch_add(1, Ordering::SeqCst);
        if self.faults.unknown_symbol {
            return Err(BrokerError::UnknownSymbol(symbol.clone()));
        }
        self.inner.symbol_spec(symbol).await
    }
    async fn last_tick(&self, symbol: &Symbol) -> Result<Tick, BrokerError> {
        self.inner.last_tick(symbol).await
    }
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: BarRange,
    ) -> Result<Vec<Bar>, BrokerError> {
        self.faults.bar_calls.fetch_add(1, Ordering::SeqCst);
        if take(&self.faults.bar_timeouts) {
            return Err(BrokerError::Timeout {
                millis: 10_000,
                after_send: true,
            });
        }
        self.inner.bars(symbol, timeframe, range).await
    }
    async fn positions(&self) -> Result<Vec<Position>, BrokerError> {
        if take(&self.faults.position_drops) {
            return Err(BrokerError::Disconnected {
                detail: "bridge closed".into(),
                after_send: true,
            });
        }
        self.inner.positions().await
    }
    async fn pending_orders(&self) -> Result<Vec<PendingOrder>, BrokerError> {
        self.inner.pending_orders().await
    }
    async fn deals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Deal>, BrokerError> {
        self.inner.deals(from, to).await
    }
    async fn send_order(&self, request: &OrderRequest) -> Result<OrderOutcome, BrokerError> {
        self.inner.send_order(request).await
    }
    async fn modify_position(
        &self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        self.inner.modify_position(ticket, sl, tp).await
    }
    async fn close_position(
        &self,
        ticket: Ticket,
        volume: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        self.inner.close_position(ticket, volume).await
    }
    async fn cancel_order(&self, ticket: Ticket) -> Result<OrderOutcome, BrokerError> {
        self.inner.cancel_order(ticket).await
    }
}

const CONFIG: &str = r#"
currencies:
  - symbol: EURUSD
    strategy_type: crossover
    timeframe: M5
"#;

async fn start(
    faults: Arc<Faults>,
) -> (
    Result<LiveTrader, LiveError>,
    Arc<CollectEvents>,
    Arc<ManualClock>,
) {
    let t0 = minute(10 * 60);
    let sim = Simulator::new(SimConfig::default(), [eurusd()]).unwrap();
    let inner = SimBroker::new(sim);
    let eurusd = symbol("EURUSD");
    for i in 0..3 {
        let bar = BarBuilder::new()
            .at(t0 + Duration::minutes(5 * i))
            .ohlc(1.08, 1.0805, 1.0795, 1.08)
            .tick_volume(10)
            .build();
        inner.push_bar(&eurusd, Timeframe::M5, bar).unwrap();
    }
    let cfg = config::load(&ConfigSource::Text(CONFIG.into()), &[]).unwrap();
    let clock = Arc::new(ManualClock::new(t0 + Duration::minutes(15)));
    let events = Arc::new(CollectEvents::default());
    let started = LiveTrader::start(
        Arc::new(Flaky { inner, faults }),
        Arc::new(cfg),
        Arc::new(MemoryIntentStore::new()),
        clock.clone(),
        events.clone(),
        None,
        LiveOptions {
            kill_file: None,
            transient: TransientRetry {
                first_delay: StdDuration::from_millis(1),
                max_delay: StdDuration::from_millis(5),
                ..TransientRetry::default()
            },
            ..LiveOptions::default()
        },
    )
    .await
    .map(|(t, _)| t);
    (started, events, clock)
}

fn broker_errors(events: &CollectEvents) -> Vec<String> {
    events
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Error {
                source: mtq_core::ErrorSource::Broker,
                message,
            } => Some(message),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn start_up_retries_data_requests_that_time_out_and_reports_each_attempt() {
    let faults = Arc::new(Faults {
        bar_timeouts: AtomicU32::new(3),
        ..Faults::default()
    });
    let (started, events, _) = start(faults.clone()).await;
    let trader = started.expect("start-up rides out three timeouts");
    assert_eq!(faults.bar_calls.load(Ordering::SeqCst), 4);
    let errors = broker_errors(&events);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].contains("bars") && errors[0].contains("attempt 1 of 12"),
        "{errors:?}"
    );
    assert_eq!(trader.core().symbols().len(), 1);
}

#[tokio::test]
async fn a_running_cycle_rides_out_a_dropped_read() {
    let faults = Arc::new(Faults::default());
    let (started, events, clock) = start(faults.clone()).await;
    let mut trader = started.unwrap();
    faults.position_drops.store(1, Ordering::SeqCst);
    clock.advance(Duration::minutes(5));
    trader.cycle().await.expect("the dropped read is retried");
    assert_eq!(faults.position_drops.load(Ordering::SeqCst), 0);
    assert!(broker_errors(&events)[0].contains("positions"));
}

#[tokio::test]
async fn an_unknown_symbol_still_fails_start_up_at_once() {
    let faults = Arc::new(Faults {
        unknown_symbol: true,
        ..Faults::default()
    });
    let (started, events, _) = start(faults.clone()).await;
    let err = started.expect_err("a configuration error ends start-up");
    assert!(
        matches!(&err, LiveError::Broker(BrokerError::UnknownSymbol(_))),
        "{err}"
    );
    assert_eq!(faults.spec_calls.load(Ordering::SeqCst), 1, "not retried");
    assert!(broker_errors(&events).is_empty());
}

#[tokio::test]
async fn start_up_gives_up_after_its_attempts_with_the_broker_error() {
    let faults = Arc::new(Faults {
        bar_timeouts: AtomicU32::new(u32::MAX),
        ..Faults::default()
    });
    let (started, _, _) = start(faults.clone()).await;
    let err = started.expect_err("a broker that never answers ends start-up");
    assert!(
        matches!(&err, LiveError::Broker(BrokerError::Timeout { .. })),
        "{err}"
    );
    assert_eq!(faults.bar_calls.load(Ordering::SeqCst), 12);
}
