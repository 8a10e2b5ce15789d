//! What recording costs on the trade path: a domain event through [`EventMetrics`], a broker
//! call through [`TimedBroker`] against the same call undecorated, and a cycle's record, each
//! with the Prometheus recorder installed (the cost `serve` pays with a scrape token set).
//! Results and method: docs/benchmarks.md.

use std::hint::black_box;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use mtq_connector::{BarRange, Broker, BrokerError};
use mtq_core::{
    AccountInfo, Bar, Deal, Decimal, DomainEvent, EventKind, OrderOutcome, OrderRequest,
    PendingOrder, Position, Signal, SignalKind, Symbol, SymbolSpec, Tick, Ticket, Timeframe,
};
use mtq_metrics::{EventMetrics, TimedBroker};

/// A broker that answers at once: what is left to time is the decorator.
struct Instant;

fn nope<T>() -> Result<T, BrokerError> {
    Err(BrokerError::Protocol("not in this bench".into()))
}

#[async_trait]
impl Broker for Instant {
    async fn account(&self) -> Result<AccountInfo, BrokerError> {
        nope()
    }
    async fn symbol_spec(&self, symbol: &Symbol) -> Result<SymbolSpec, BrokerError> {
        SymbolSpec::builtin(symbol.as_str())
            .ok_or_else(|| BrokerError::UnknownSymbol(symbol.clone()))
    }
    async fn last_tick(&self, _symbol: &Symbol) -> Result<Tick, BrokerError> {
        Ok(Tick {
            time: DateTime::<Utc>::UNIX_EPOCH,
            bid: 1.0850,
            ask: 1.0851,
            last: 0.0,
            volume: 0,
        })
    }
    async fn bars(&self, _: &Symbol, _: Timeframe, _: BarRange) -> Result<Vec<Bar>, BrokerError> {
        nope()
    }
    async fn positions(&self) -> Result<Vec<Position>, BrokerError> {
        Ok(Vec::new())
    }
    async fn pending_orders(&self) -> Result<Vec<PendingOrder>, BrokerError> {
        nope()
    }
    async fn deals(&self, _: DateTime<Utc>, _: DateTime<Utc>) -> Result<Vec<Deal>, BrokerError> {
        nope()
    }
    async fn send_order(&self, _: &OrderRequest) -> Result<OrderOutcome, BrokerError> {
        nope()
    }
    async fn modify_position(
        &self,
        _: Ticket,
        _: Option<Decimal>,
        _: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        nope()
    }
    async fn close_position(
        &self,
        _: Ticket,
        _: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        nope()
    }
    async fn cancel_order(&self, _: Ticket) -> Result<OrderOutcome, BrokerError> {
        nope()
    }
}

fn signal_event() -> DomainEvent {
    let t: DateTime<Utc> = "2024-03-04T10:00:00Z".parse().unwrap();
    DomainEvent::new(
        t,
        EventKind::SignalRecorded {
            signal: Signal {
                symbol: Symbol::new("EURUSD").unwrap(),
                timeframe: Timeframe::M5,
                time: t,
                kind: SignalKind::Buy,
                entry: None,
                sl: Some(1.08),
                tp: Some(1.09),
                confidence: 0.7,
                strategy: "crossover".into(),
                reason: "fast crossed above slow".into(),
                ml: None,
            },
            refusal: None,
        },
    )
}

fn bench(c: &mut Criterion) {
    let handle = mtq_metrics::install().expect("the recorder installs once");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let eurusd = Symbol::new("EURUSD").unwrap();
    let raw: Arc<dyn Broker> = Arc::new(Instant);
    let timed = TimedBroker::wrap(raw.clone(), "default");
    rt.block_on(timed.symbol_spec(&eurusd)).unwrap();

    let mut g = c.benchmark_group("metrics");
    g.bench_function("broker_last_tick_undecorated", |b| {
        b.iter(|| rt.block_on(raw.last_tick(black_box(&eurusd))).unwrap());
    });
    g.bench_function("broker_last_tick_timed", |b| {
        b.iter(|| rt.block_on(timed.last_tick(black_box(&eurusd))).unwrap());
    });
    let mut events = EventMetrics::new("default");
    let event = signal_event();
    g.bench_function("observe_signal_event", |b| {
        b.iter(|| events.observe(black_box(&event)));
    });
    g.bench_function("record_cycle", |b| {
        b.iter(|| {
            mtq_metrics::record_cycle(
                "default",
                black_box(std::time::Duration::from_micros(40)),
                true,
            );
        });
    });
    g.bench_function("render_scrape", |b| {
        b.iter(|| mtq_metrics::render(&handle).len());
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
