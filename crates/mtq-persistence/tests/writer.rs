//! The event writer, end to end on a real database, and its retry behaviour on a failing sink.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::fixtures::*;
use common::{TestDb, demo_account, t};
use mtq_core::{DomainEvent, EventKind, Ticket};
use mtq_persistence::*;
use rust_decimal_macros::dec;

on_both_backends!(
    written_events_land_in_their_tables_and_the_journal,
    events_the_tables_refuse_are_still_journalled,
    a_refused_duplicate_order_does_not_rename_the_strategy_of_its_position,
    a_trade_opened_and_closed_in_one_batch_is_stored_as_when_written_event_by_event,
);

fn written_events_land_in_their_tables_and_the_journal(db: &TestDb) {
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    let sink = StoreSink::new(db.open(), Some(account)).unwrap();
    let (tx, writer) = EventWriter::spawn(sink, WriterConfig::default()).unwrap();
    for e in trade_story(1, 77) {
        tx.blocking_send(e).unwrap();
    }
    drop(tx);
    let report = writer.join().unwrap();
    assert_eq!(report.stats.written, 8);
    assert!(report.unwritten.is_empty());

    let a = Some(account);
    let trade = store.trade(a, Ticket(77)).unwrap().unwrap();
    assert_eq!(trade.status, TradeStatus::Closed);
    assert_eq!(
        trade.strategy.as_deref(),
        Some("ma_crossover"),
        "strategy follows signal -> order -> trade"
    );
    assert_eq!(trade.sl, Some(dec!(1.08127)));
    assert_eq!(trade.pips, Some(dec!(39.8)));
    assert_eq!(trade.net_profit(), dec!(39.33));
    assert_eq!(
        store.order(a, &coid(1)).unwrap().unwrap().state,
        OrderState::Done
    );
    assert_eq!(
        store.signals_between(a, t(0, 0), t(23, 0)).unwrap().len(),
        1
    );
    assert_eq!(
        store.snapshots(a, t(0, 0), t(23, 0)).unwrap()[0].equity,
        dec!(10039.33)
    );
    let journal = store.audit_events(None, t(0, 0), t(23, 0)).unwrap();
    assert_eq!(journal.len(), 8);
    let kill = store
        .audit_events(Some("kill_switch"), t(0, 0), t(23, 0))
        .unwrap();
    assert_eq!(kill[0].message, "active: daily loss limit reset");
    let back: DomainEvent = serde_json::from_str(&kill[0].payload).unwrap();
    assert_eq!(back, trade_story(1, 77)[7]);
}

/// The sink holds a trade opened in a batch in memory and inserts it once, with its stop changes
/// and closing deals applied: the rows must be those written one event at a time.
fn a_trade_opened_and_closed_in_one_batch_is_stored_as_when_written_event_by_event(db: &TestDb) {
    let mut events = trade_story(1, 77);
    // Two partial closes of a second trade, and a trade closed in a later batch.
    events.extend(trade_story(2, 78).into_iter().take(5));
    // Its entry deal's commission, seen a cycle after the position opened.
    events.push(DomainEvent::new(
        t(10, 1),
        EventKind::EntryDeal {
            deal: entry_deal(780, 78, t(10, 0)),
        },
    ));
    for (deal, volume, price, minute) in [
        (781, dec!(0.03), dec!(1.08327), 10),
        (782, dec!(0.07), dec!(1.0841), 20),
    ] {
        events.push(DomainEvent::new(
            t(12, minute),
            EventKind::PositionClosed {
                deal: closing_deal(deal, 78, volume, price, dec!(2.5), t(12, minute)),
            },
        ));
    }
    events.extend(trade_story(3, 79).into_iter().take(4));
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    let mut whole = StoreSink::new(db.open(), Some(account)).unwrap();
    whole.write_batch(&events).unwrap();
    // The same events again for no account, one per batch, then those of a second account
    // in one batch: each set is read back and compared with the first.
    let mut single = StoreSink::new(db.open(), None).unwrap();
    for e in &events {
        single.write_batch(std::slice::from_ref(e)).unwrap();
    }
    let later = DomainEvent::new(
        t(15, 0),
        EventKind::PositionClosed {
            deal: closing_deal(791, 79, dec!(0.10), dec!(1.0800), dec!(-3), t(15, 0)),
        },
    );
    // Trade 79's entry deal arrives in a later batch than its position: an update, not held.
    let entry = DomainEvent::new(
        t(14, 0),
        EventKind::EntryDeal {
            deal: entry_deal(790, 79, t(11, 0)),
        },
    );
    for e in [&entry, &later] {
        whole.write_batch(std::slice::from_ref(e)).unwrap();
        single.write_batch(std::slice::from_ref(e)).unwrap();
    }

    for ticket in [77, 78, 79] {
        let batched = store.trade(Some(account), Ticket(ticket)).unwrap().unwrap();
        let one_by_one = store.trade(None, Ticket(ticket)).unwrap().unwrap();
        assert_eq!(
            TradeRecord {
                id: 0,
                account: None,
                ..batched
            },
            TradeRecord {
                id: 0,
                ..one_by_one
            },
            "trade {ticket}"
        );
    }
    let t78 = store.trade(Some(account), Ticket(78)).unwrap().unwrap();
    assert_eq!(t78.status, TradeStatus::Closed);
    assert_eq!(t78.closed_volume, dec!(0.10));
    // The entry deal's commission and both closing deals'.
    assert_eq!(t78.commission, dec!(-1.05));
    assert_eq!(t78.volume, dec!(0.10));
    let t79 = store.trade(Some(account), Ticket(79)).unwrap().unwrap();
    assert_eq!(t79.commission, dec!(-0.70));
    assert_eq!(t79.status, TradeStatus::Closed);
    // Queries for no account read every account: split the rows by account.
    let (batched, one_by_one): (Vec<_>, Vec<_>) = store
        .signals_between(None, t(0, 0), t(23, 0))
        .unwrap()
        .into_iter()
        .map(|r| (r.account, (r.signal, r.refusal, r.recorded_at)))
        .partition(|(a, _)| a.is_some());
    assert_eq!(batched.len(), 3);
    fn values<T>(rows: Vec<(Option<AccountId>, T)>) -> Vec<T> {
        rows.into_iter().map(|r| r.1).collect()
    }
    assert_eq!(values(batched), values(one_by_one));
    let (batched, one_by_one): (Vec<_>, Vec<_>) = store
        .snapshots(None, t(0, 0), t(23, 0))
        .unwrap()
        .into_iter()
        .map(|s| (s.account, SnapshotRecord { account: None, ..s }))
        .partition(|(a, _)| a.is_some());
    assert!(!batched.is_empty());
    assert_eq!(values(batched), values(one_by_one));
}

/// The sink remembers the strategy of orders recorded in the current transaction; an intent the
/// database refused must not be remembered.
fn a_refused_duplicate_order_does_not_rename_the_strategy_of_its_position(db: &TestDb) {
    let mut store = db.open();
    let account = demo_account(&mut store).id;
    let mut sink = StoreSink::new(db.open(), Some(account)).unwrap();
    let ev = |kind| DomainEvent::new(t(9, 0), kind);
    let acted_on = |strategy| EventKind::SignalRecorded {
        signal: signal(strategy),
        refusal: None,
    };
    sink.write_batch(&[
        ev(acted_on("first")),
        ev(EventKind::OrderIntent {
            request: request(1),
        }),
    ])
    .unwrap();
    sink.write_batch(&[
        ev(acted_on("second")),
        ev(EventKind::OrderIntent {
            request: request(1),
        }),
        ev(EventKind::PositionOpened {
            position: position(77, 1),
        }),
    ])
    .unwrap();
    let trade = store.trade(Some(account), Ticket(77)).unwrap().unwrap();
    assert_eq!(trade.strategy.as_deref(), Some("first"));
}

fn events_the_tables_refuse_are_still_journalled(db: &TestDb) {
    let mut store = db.open();
    let mut sink = StoreSink::new(db.open(), None).unwrap();
    let intent = DomainEvent::new(
        t(9, 0),
        EventKind::OrderIntent {
            request: request(1),
        },
    );
    let stray = DomainEvent::new(
        t(9, 0),
        EventKind::OrderSucceeded {
            client_order_id: coid(9),
            outcome: outcome(5),
        },
    );
    // The second intent repeats a client order id: the unique key refuses it.
    sink.write_batch(&[intent.clone(), stray, intent]).unwrap();
    let journal = store.audit_events(None, t(0, 0), t(23, 0)).unwrap();
    assert_eq!(journal.len(), 3);
    assert!(
        journal[1]
            .message
            .contains("not projected: no order intent"),
        "{}",
        journal[1].message
    );
    assert!(
        journal[2].message.contains("not projected"),
        "{}",
        journal[2].message
    );
    assert_eq!(
        store
            .orders_in_state(None, OrderState::Intent)
            .unwrap()
            .len(),
        1
    );
}

/// A sink that fails while `down` is set, recording what it accepted.
#[derive(Clone, Default)]
struct FlakySink {
    down: Arc<std::sync::atomic::AtomicBool>,
    attempts: Arc<AtomicUsize>,
    written: Arc<Mutex<Vec<DomainEvent>>>,
}

impl EventSink for FlakySink {
    fn write_batch(&mut self, batch: &[DomainEvent]) -> Result<()> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(PersistenceError::WriterStopped(
                "database is down (test)".into(),
            ));
        }
        self.written.lock().unwrap().extend_from_slice(batch);
        Ok(())
    }
}

fn numbered(n: usize) -> Vec<DomainEvent> {
    (0..n)
        .map(|i| {
            DomainEvent::new(
                t(0, 0),
                EventKind::ConfigReloaded {
                    detail: i.to_string(),
                },
            )
        })
        .collect()
}

fn fast_retry() -> WriterConfig {
    WriterConfig {
        batch_size: 10,
        channel_capacity: 8,
        max_buffered: 50,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        drain_timeout: Duration::from_millis(50),
    }
}

fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("condition not reached");
}

#[test]
fn an_outage_loses_and_reorders_nothing() {
    let sink = FlakySink::default();
    sink.down.store(true, Ordering::SeqCst);
    let (tx, writer) = EventWriter::spawn(sink.clone(), fast_retry()).unwrap();
    let events = numbered(40);
    for e in &events[..20] {
        tx.blocking_send(e.clone()).unwrap();
    }
    wait_until(|| sink.attempts.load(Ordering::SeqCst) >= 3);
    sink.down.store(false, Ordering::SeqCst);
    for e in &events[20..] {
        tx.blocking_send(e.clone()).unwrap();
    }
    drop(tx);
    let report = writer.join().unwrap();
    assert_eq!(*sink.written.lock().unwrap(), events);
    assert_eq!(report.stats.written, 40);
    assert!(report.stats.failed_attempts >= 3);
}

#[test]
fn a_full_buffer_makes_producers_wait_instead_of_dropping() {
    let sink = FlakySink::default();
    sink.down.store(true, Ordering::SeqCst);
    let cfg = fast_retry();
    let (tx, writer) = EventWriter::spawn(sink.clone(), cfg).unwrap();
    let events = numbered(200);
    let producer = {
        let events = events.clone();
        std::thread::spawn(move || {
            for e in events {
                tx.blocking_send(e).unwrap();
            }
        })
    };
    wait_until(|| writer.stats().buffered >= 50);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        writer.stats().buffered,
        50,
        "the buffer stops at max_buffered"
    );
    assert!(!producer.is_finished(), "the producer waits");
    sink.down.store(false, Ordering::SeqCst);
    producer.join().unwrap();
    let report = writer.join().unwrap();
    assert_eq!(*sink.written.lock().unwrap(), events);
    assert!(report.unwritten.is_empty());
}

#[test]
fn events_the_database_still_refuses_at_shutdown_are_handed_back() {
    let sink = FlakySink::default();
    sink.down.store(true, Ordering::SeqCst);
    let (tx, writer) = EventWriter::spawn(sink, fast_retry()).unwrap();
    let events = numbered(15);
    for e in &events {
        tx.blocking_send(e.clone()).unwrap();
    }
    drop(tx);
    let report = writer.join().unwrap();
    assert_eq!(report.unwritten, events);
    assert_eq!(report.stats.written, 0);
}

#[test]
fn a_writer_config_that_cannot_work_is_refused() {
    let cfg = WriterConfig {
        batch_size: 0,
        ..WriterConfig::default()
    };
    let err = EventWriter::spawn(FlakySink::default(), cfg).unwrap_err();
    assert!(err.to_string().contains("batch_size"), "{err}");
}
