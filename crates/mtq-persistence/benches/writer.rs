//! Event writer throughput on SQLite: a realistic mix of events (signals, order intents and
//! answers, position opens, modifies and closes, snapshots, journal-only events), written
//! through `StoreSink` by the `EventWriter`, from the first send to the last commit.
//!
//! `CARGO_TARGET_DIR=/work/target-persist cargo bench -p mtq-persistence --bench writer`

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mtq_core::testkit::{self, BarBuilder};
use mtq_core::{
    AccountInfo, ClientOrderId, Currency, Deal, DealEntry, DealReason, DomainEvent, EventKind,
    Magic, OrderOutcome, OrderRequest, Position, Retcode, Side, Signal, SignalKind, Symbol, Ticket,
    Timeframe,
};
use mtq_persistence::{EventWriter, Store, StoreSink, WriterConfig};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const EVENTS: usize = 100_000;

/// Ten events per trade: signal, intent, fill, open, modify, close, snapshot, bar, two audit rows.
fn events(n: usize) -> Vec<DomainEvent> {
    let sym = Symbol::new("EURUSD").unwrap();
    let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let mut out = Vec::with_capacity(n);
    let mut i: u64 = 0;
    while out.len() < n {
        i += 1;
        let at = base + chrono::Duration::seconds(i64::try_from(i).unwrap());
        let id = ClientOrderId::new(&format!("b-{i}")).unwrap();
        let signal = Signal::new(
            sym.clone(),
            Timeframe::M5,
            at,
            SignalKind::Buy,
            0.6,
            "ma",
            "cross",
        )
        .unwrap();
        let request = OrderRequest {
            magic: Magic(7),
            ..OrderRequest::market(id.clone(), sym.clone(), Side::Buy, dec!(0.10))
        };
        let price = dec!(1.08) + Decimal::new(i64::try_from(i % 100).unwrap(), 5);
        let outcome = OrderOutcome {
            retcode: Retcode::Done,
            deal: Some(Ticket(i * 10)),
            order: Some(Ticket(i * 10 + 1)),
            position: Some(Ticket(i)),
            volume: dec!(0.10),
            price,
            bid: price,
            ask: price,
            comment: "done".into(),
            time: at,
        };
        let position = Position {
            ticket: Ticket(i),
            symbol: sym.clone(),
            side: Side::Buy,
            volume: dec!(0.10),
            open_price: price,
            open_time: at,
            sl: None,
            tp: None,
            current_price: price,
            swap: Decimal::ZERO,
            profit: Decimal::ZERO,
            magic: Magic(7),
            comment: id.to_string(),
        };
        let deal = Deal {
            ticket: Ticket(i * 10 + 2),
            order: None,
            position: Some(Ticket(i)),
            symbol: Some(sym.clone()),
            side: Some(Side::Sell),
            entry: DealEntry::Out,
            reason: DealReason::Expert,
            volume: dec!(0.10),
            price: price + dec!(0.0005),
            commission: dec!(-0.35),
            swap: Decimal::ZERO,
            profit: dec!(5),
            time: at,
            magic: Magic(7),
            comment: String::new(),
        };
        let account = AccountInfo {
            server: "S".into(),
            equity: dec!(10005),
            free_margin: dec!(10005),
            ..testkit::account(Currency::USD, dec!(10000))
        };
        let bar = BarBuilder::new()
            .at(at)
            .ohlc(1.08, 1.081, 1.079, 1.0805)
            .tick_volume(10)
            .spread(1)
            .build();
        for kind in [
            EventKind::SignalRecorded {
                signal,
                refusal: None,
            },
            EventKind::OrderIntent { request },
            EventKind::OrderSucceeded {
                client_order_id: id,
                outcome,
            },
            EventKind::PositionOpened { position },
            EventKind::PositionModified {
                ticket: Ticket(i),
                sl: Some(price - dec!(0.002)),
                tp: None,
            },
            EventKind::PositionClosed { deal },
            EventKind::AccountSnapshot { account },
            EventKind::BarClosed {
                symbol: sym.clone(),
                timeframe: Timeframe::M5,
                bar,
            },
            EventKind::Connection {
                connected: true,
                detail: "heartbeat ok".into(),
            },
            EventKind::Error {
                source: mtq_core::ErrorSource::Broker,
                message: "synthetic".into(),
            },
        ] {
            out.push(DomainEvent::new(at, kind));
        }
    }
    out.truncate(n);
    out
}

fn write_all(events: &[DomainEvent]) -> Duration {
    let dir = std::env::temp_dir().join(format!(
        "mtq-bench-writer-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let sink = StoreSink::new(Store::open(&url).unwrap(), None).unwrap();
    let (tx, writer) = EventWriter::spawn(sink, WriterConfig::default()).unwrap();
    let start = Instant::now();
    for e in events {
        tx.blocking_send(e.clone()).unwrap();
    }
    drop(tx);
    let report = writer.join().unwrap();
    let took = start.elapsed();
    assert_eq!(report.stats.written, u64::try_from(events.len()).unwrap());
    std::fs::remove_dir_all(&dir).ok();
    took
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let evs = events(EVENTS);
    let mut g = c.benchmark_group("event_writer_sqlite");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::try_from(EVENTS).unwrap()));
    g.bench_function("mixed_100k_events", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| write_all(&evs)).sum());
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
