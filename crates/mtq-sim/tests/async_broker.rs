//! The simulator behind `Arc<dyn Broker>`: history without look-ahead, and injected faults.

mod testkit;

use std::sync::Arc;

use mtq_connector::{BarRange, Broker, BrokerError, RetcodeClass};
use mtq_core::{Retcode, Side, Timeframe};
use mtq_sim::{FaultConfig, SimBroker, SimConfig, SimError};
use rust_decimal_macros::dec;
use testkit::*;

fn broker() -> SimBroker {
    SimBroker::new(sim_with(SimConfig::default(), &["EURUSD"]))
}

#[tokio::test]
async fn bars_serve_only_what_has_been_pushed() {
    let b = broker();
    let s = sym("EURUSD");
    b.seed_history(
        &s,
        Timeframe::M1,
        &[flat_bar(minute(0), 1.09), flat_bar(minute(1), 1.095)],
    )
    .unwrap();
    b.push_bar(&s, Timeframe::M1, flat_bar(minute(2), 1.1))
        .unwrap();
    let broker: Arc<dyn Broker> = Arc::new(b);
    let last = broker
        .bars(&s, Timeframe::M1, BarRange::Last(2))
        .await
        .unwrap();
    assert_eq!(
        last.iter().map(|b| b.time).collect::<Vec<_>>(),
        vec![minute(1), minute(2)]
    );
    let range = broker
        .bars(&s, Timeframe::M1, BarRange::Between(minute(0), minute(1)))
        .await
        .unwrap();
    assert_eq!(range.len(), 2);
    assert!(
        broker
            .bars(&s, Timeframe::H1, BarRange::Last(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert!((broker.last_tick(&s).await.unwrap().bid - 1.1).abs() < 1e-12);
}

#[tokio::test]
async fn malformed_or_out_of_order_bars_are_refused_with_the_reason() {
    let b = broker();
    let s = sym("EURUSD");
    b.push_bar(&s, Timeframe::M1, flat_bar(minute(5), 1.1))
        .unwrap();
    let err = b
        .push_bar(&s, Timeframe::M1, flat_bar(minute(4), 1.1))
        .unwrap_err();
    assert!(matches!(err, SimError::OutOfOrder { .. }), "{err}");
    let mut bad = flat_bar(minute(6), 1.1);
    bad.high = 1.0;
    assert!(
        b.push_bar(&s, Timeframe::M1, bad)
            .unwrap_err()
            .to_string()
            .contains("EURUSD")
    );
    assert!(matches!(
        b.push_bar(&sym("GBPUSD"), Timeframe::M1, flat_bar(minute(7), 1.2)),
        Err(SimError::UnknownSymbol(_))
    ));
}

#[tokio::test]
async fn a_full_round_trip_through_the_trait_object() {
    let b = broker();
    b.push_bar(&sym("EURUSD"), Timeframe::M1, flat_bar(minute(0), 1.1))
        .unwrap();
    let broker: Arc<dyn Broker> = Arc::new(b);
    let out = broker
        .send_order(&market("EURUSD", Side::Buy, dec!(0.5)))
        .await
        .unwrap();
    let ticket = out.position.unwrap();
    broker
        .modify_position(ticket, Some(dec!(1.09)), Some(dec!(1.12)))
        .await
        .unwrap();
    let p = &broker.positions().await.unwrap()[0];
    assert_eq!(
        (p.sl, p.tp, p.comment.as_str()),
        (Some(dec!(1.09)), Some(dec!(1.12)), "t-1")
    );
    broker.close_position(ticket, None).await.unwrap();
    assert!(broker.positions().await.unwrap().is_empty());
    let deals = broker.deals(minute(0), minute(1)).await.unwrap();
    assert_eq!(deals.len(), 3, "deposit, in, out");
    assert_eq!(broker.account().await.unwrap().balance, dec!(9995));
    assert!(matches!(
        broker.symbol_spec(&sym("XAUUSD")).await,
        Err(BrokerError::UnknownSymbol(_))
    ));
}

#[tokio::test]
async fn a_timeout_after_acceptance_leaves_the_position_open_at_the_broker() {
    let b = broker().with_faults(FaultConfig {
        seed: 1,
        timeout_after_accept: 1.0,
        ..FaultConfig::default()
    });
    b.push_bar(&sym("EURUSD"), Timeframe::M1, flat_bar(minute(0), 1.1))
        .unwrap();
    let err = b
        .send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
        .await
        .unwrap_err();
    assert_eq!(err.class(), RetcodeClass::OutcomeUnknown);
    // The order did execute: a caller that reconciles finds it by its comment.
    let ps = b.positions().await.unwrap();
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].comment, "t-1");
}

#[tokio::test]
async fn injected_faults_are_reproducible_from_the_seed_and_never_half_execute_a_refusal() {
    let run = |seed| async move {
        let b = broker().with_faults(FaultConfig {
            seed,
            requote: 0.2,
            reject: 0.1,
            disconnect: 0.1,
            timeout_after_accept: 0.1,
            ..FaultConfig::default()
        });
        b.push_bar(&sym("EURUSD"), Timeframe::M1, flat_bar(minute(0), 1.1))
            .unwrap();
        let mut codes = Vec::new();
        for _ in 0..200 {
            let before = b.positions().await.unwrap().len();
            let r = b.send_order(&market("EURUSD", Side::Buy, dec!(0.01))).await;
            let after = b.positions().await.unwrap().len();
            match &r {
                Ok(_) => assert_eq!(after, before + 1),
                Err(e) if e.class() == RetcodeClass::OutcomeUnknown => assert!(after == before + 1),
                Err(_) => assert_eq!(after, before, "a refused request must not execute: {r:?}"),
            }
            codes.push(
                r.map(|o| o.retcode)
                    .unwrap_or_else(|e| e.retcode().unwrap_or(Retcode::Other(0))),
            );
        }
        codes
    };
    let a = run(9).await;
    assert_eq!(a, run(9).await);
    assert!(
        a.contains(&Retcode::Requote) && a.contains(&Retcode::Reject) && a.contains(&Retcode::Done)
    );
}

#[tokio::test(start_paused = true)]
async fn latency_delays_every_call() {
    let b = broker().with_faults(FaultConfig {
        latency_ms: (50, 50),
        ..FaultConfig::default()
    });
    let start = tokio::time::Instant::now();
    b.account().await.unwrap();
    assert_eq!(start.elapsed().as_millis(), 50);
}

#[tokio::test]
async fn an_open_bar_trades_at_its_open_and_stays_unreadable_until_it_closes() {
    let b = broker();
    let s = sym("EURUSD");
    b.push_bar(&s, Timeframe::M1, flat_bar(minute(0), 1.1))
        .unwrap();
    b.open_bar(
        &s,
        Timeframe::M1,
        bar(minute(1), 1.1010, 1.1100, 1.1010, 1.1050),
    )
    .unwrap();
    let broker: Arc<dyn Broker> = Arc::new(b);
    // The forming bar is invisible: only the closed one is served.
    let bars = broker
        .bars(&s, Timeframe::M1, BarRange::Last(5))
        .await
        .unwrap();
    assert_eq!(
        bars.iter().map(|b| b.time).collect::<Vec<_>>(),
        vec![minute(0)]
    );
    // The quote is the open, and a market order fills there.
    assert!((broker.last_tick(&s).await.unwrap().bid - 1.1010).abs() < 1e-12);
    let out = broker
        .send_order(&market("EURUSD", Side::Buy, dec!(0.1)))
        .await
        .unwrap();
    assert!(
        out.price >= dec!(1.1010) && out.price < dec!(1.1012),
        "{}",
        out.price
    );
}

#[tokio::test]
async fn closing_a_bar_walks_it_and_adds_it_to_the_history() {
    let b = broker();
    let s = sym("EURUSD");
    assert!(
        !b.close_bar(&s, Timeframe::M1).unwrap(),
        "nothing was forming"
    );
    b.open_bar(&s, Timeframe::M1, bar(minute(0), 1.1, 1.1050, 1.1, 1.1040))
        .unwrap();
    assert!(b.close_bar(&s, Timeframe::M1).unwrap());
    let broker: Arc<dyn Broker> = Arc::new(b);
    let bars = broker
        .bars(&s, Timeframe::M1, BarRange::Last(5))
        .await
        .unwrap();
    assert_eq!(bars.len(), 1);
    assert!((broker.last_tick(&s).await.unwrap().bid - 1.1040).abs() < 1e-12);
}
