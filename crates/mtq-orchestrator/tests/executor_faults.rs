//! The executor over a simulated broker that requotes, rejects, drops the connection and times
//! out after executing: no client order id ever becomes two orders, and every intent ends in a
//! terminal state that matches the broker's records.

use std::sync::Arc;
use std::time::Duration;

use mtq_connector::Broker;
use mtq_core::testkit::{self, BarBuilder, minute, symbol};
use mtq_core::{
    Bar, ClientOrderId, Clock, DealEntry, Decimal, ManualClock, MarginMode, OrderRequest, Side,
    Ticket, Timeframe,
};
use mtq_orchestrator::{
    ActionResult, IntentState, MemoryIntentStore, OrderExecutor, RetryPolicy, Submission,
};
use mtq_sim::{FaultConfig, SimBroker, SimConfig, Simulator};
use proptest::prelude::*;
use rust_decimal_macros::dec;

/// M1 bar `m` from Monday 00:00 UTC at `price`, with a 5-pip wick either side.
fn bar(m: i64, price: f64) -> Bar {
    BarBuilder::new()
        .at(minute(m))
        .ohlc(price, price + 0.0005, price - 0.0005, price)
        .tick_volume(10)
        .build()
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        reconcile_attempts: 3,
        reconcile_delay: Duration::from_millis(500),
        history_window: chrono::Duration::days(1),
    }
}

struct Rig {
    broker: Arc<SimBroker>,
    store: Arc<MemoryIntentStore>,
    clock: Arc<ManualClock>,
    exec: OrderExecutor,
}

fn rig(faults: FaultConfig, netting: bool) -> Rig {
    let cfg = SimConfig {
        margin_mode: if netting {
            MarginMode::Netting
        } else {
            MarginMode::Hedging
        },
        deposit: dec!(1_000_000),
        ..SimConfig::default()
    };
    let sim = Simulator::new(cfg, [testkit::eurusd()]).unwrap();
    let broker = Arc::new(SimBroker::new(sim).with_faults(faults));
    broker
        .push_bar(&symbol("EURUSD"), Timeframe::M1, bar(0, 1.1))
        .unwrap();
    let store = Arc::new(MemoryIntentStore::new());
    let clock = Arc::new(ManualClock::new(bar(0, 1.1).time));
    let exec =
        OrderExecutor::new(broker.clone(), store.clone(), clock.clone(), policy()).with_seed(7);
    Rig {
        broker,
        store,
        clock,
        exec,
    }
}

fn order(i: usize, side: Side) -> OrderRequest {
    OrderRequest::market(
        ClientOrderId::new(&format!("p-{i}")).unwrap(),
        symbol("EURUSD"),
        side,
        dec!(0.01),
    )
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_client_order_id_becomes_two_orders_and_every_intent_matches_the_broker(
        seed in any::<u64>(),
        requote in 0.0f64..0.4, reject in 0.0f64..0.2, disconnect in 0.0f64..0.3, timeout in 0.0f64..0.3,
        sides in proptest::collection::vec(any::<bool>(), 5..25),
        resend in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        netting in any::<bool>(),
    ) {
        paused_runtime().block_on(async {
            let faults = FaultConfig { seed, requote, reject, disconnect, timeout_after_accept: timeout, ..FaultConfig::default() };
            let r = rig(faults, netting);
            for (i, buy) in sides.iter().enumerate() {
                let side = if *buy { Side::Buy } else { Side::Sell };
                let minute = i64::try_from(i).unwrap() + 1;
                #[allow(clippy::cast_precision_loss)]
                let price = 1.1 + (minute % 7) as f64 * 0.0003;
                r.broker.push_bar(&symbol("EURUSD"), Timeframe::M1, bar(minute, price)).unwrap();
                r.clock.set(bar(minute, price).time);
                let sub = r.exec.submit(order(i, side)).await.unwrap();
                prop_assert!(matches!(sub, Submission::Processed(_)));
            }
            // The same signals again (a restart replaying bars, a double click): all caught.
            for idx in &resend {
                let i = idx.index(sides.len());
                let sub = r.exec.submit(order(i, Side::Buy)).await.unwrap();
                prop_assert!(matches!(sub, Submission::Duplicate(_)), "resend of p-{} was not caught", i);
            }
            let deals = r.broker.deals(bar(-10, 1.0).time, bar(10_000, 1.0).time).await.unwrap();
            for intent in r.store.all() {
                let id = intent.id().as_str();
                let mine: Vec<_> = deals.iter().filter(|d| d.entry != DealEntry::Balance && d.comment == id).collect();
                let orders: std::collections::BTreeSet<Option<Ticket>> = mine.iter().map(|d| d.order).collect();
                prop_assert!(orders.len() <= 1, "{} was executed by {} orders", id, orders.len());
                prop_assert!(intent.state.is_terminal(), "{} left in {:?}", id, intent.state);
                match &intent.state {
                    IntentState::Filled { volume, .. } => {
                        prop_assert!(!mine.is_empty(), "{} is filled in the store but has no deal", id);
                        let dealt: Decimal = mine.iter().map(|d| d.volume).sum();
                        prop_assert_eq!(*volume, dealt);
                    }
                    IntentState::Rejected { .. } | IntentState::NotFound { .. } => {
                        prop_assert!(mine.is_empty(), "{} is {:?} in the store but the broker dealt it", id, intent.state);
                    }
                    other => prop_assert!(false, "{} ended as {:?}", id, other),
                }
            }
            Ok(())
        })?;
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_after_execution_is_reconciled_to_the_position_not_resent() {
    let r = rig(
        FaultConfig {
            seed: 1,
            timeout_after_accept: 1.0,
            ..FaultConfig::default()
        },
        false,
    );
    let sub = r.exec.submit(order(1, Side::Buy)).await.unwrap();
    let IntentState::Filled { position, .. } = &sub.intent().state else {
        panic!("{:?}", sub.intent().state)
    };
    let positions = r.broker.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(Some(positions[0].ticket), *position);
}

#[tokio::test(start_paused = true)]
async fn a_rejection_is_final_and_nothing_reaches_the_broker() {
    let r = rig(
        FaultConfig {
            seed: 1,
            reject: 1.0,
            ..FaultConfig::default()
        },
        false,
    );
    let sub = r.exec.submit(order(1, Side::Buy)).await.unwrap();
    assert!(matches!(
        sub.intent().state,
        IntentState::Rejected {
            retcode: Some(mtq_core::Retcode::Reject),
            ..
        }
    ));
    assert!(r.broker.positions().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn requotes_are_retried_with_backoff_then_given_up_on() {
    let r = rig(
        FaultConfig {
            seed: 1,
            requote: 1.0,
            ..FaultConfig::default()
        },
        false,
    );
    let start = tokio::time::Instant::now();
    let sub = r.exec.submit(order(1, Side::Buy)).await.unwrap();
    let IntentState::Rejected { reason, .. } = &sub.intent().state else {
        panic!()
    };
    assert!(
        reason.contains("gave up after 4 attempts") && reason.contains("10004"),
        "{reason}"
    );
    // Three backoffs of at least 50, 100 and 200 ms.
    assert!(start.elapsed() >= Duration::from_millis(350));
    assert!(r.broker.positions().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn unresolved_intents_from_a_crash_are_reconciled_at_start_up() {
    // An intent recorded and sent, then the process died before the reply arrived.
    let r = rig(FaultConfig::default(), false);
    let req = order(7, Side::Sell);
    r.broker.send_order(&req).await.unwrap();
    let mut crashed = mtq_orchestrator::Intent::new(req, r.clock.now());
    crashed.state = IntentState::Sent { attempt: 1 };
    use mtq_orchestrator::IntentStore;
    r.store.insert(&crashed).await.unwrap();
    r.store
        .insert(&mtq_orchestrator::Intent::new(
            order(8, Side::Buy),
            r.clock.now(),
        ))
        .await
        .unwrap();
    let done = r.exec.reconcile_unresolved().await.unwrap();
    assert!(
        matches!(done[0].state, IntentState::Filled { .. })
            || matches!(done[1].state, IntentState::Filled { .. })
    );
    assert!(
        done.iter()
            .any(|i| matches!(i.state, IntentState::NotFound { .. }))
    );
    assert!(r.store.all().iter().all(|i| i.state.is_terminal()));
}

#[tokio::test(start_paused = true)]
async fn closes_whose_replies_are_lost_are_read_back_not_repeated() {
    let r = rig(FaultConfig::default(), false);
    let a = r
        .broker
        .send_order(&OrderRequest {
            volume: dec!(1),
            ..order(1, Side::Buy)
        })
        .await
        .unwrap()
        .position
        .unwrap();
    let b = r
        .broker
        .send_order(&OrderRequest {
            volume: dec!(1),
            ..order(2, Side::Buy)
        })
        .await
        .unwrap()
        .position
        .unwrap();
    // From now on every request executes and then times out.
    let lossy = Arc::new(
        SimBroker::new(r.broker.with_sim(|s| {
            std::mem::replace(
                s,
                Simulator::new(SimConfig::default(), [testkit::eurusd()]).unwrap(),
            )
        }))
        .with_faults(FaultConfig {
            seed: 3,
            timeout_after_accept: 1.0,
            ..FaultConfig::default()
        }),
    );
    let exec = OrderExecutor::new(lossy.clone(), r.store.clone(), r.clock.clone(), policy());
    assert_eq!(exec.close_position(a, None).await, ActionResult::Done(None));
    assert_eq!(
        exec.close_position(b, Some(dec!(0.4))).await,
        ActionResult::Done(None)
    );
    let left = lossy.positions().await.unwrap();
    assert_eq!(
        (left.len(), left[0].ticket, left[0].volume),
        (1, b, dec!(0.6)),
        "closed once, not twice"
    );
}
