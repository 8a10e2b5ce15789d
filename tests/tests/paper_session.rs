//! The default paper session end to end: configuration, synthetic feed, trader core, risk,
//! executor and simulated broker together.

use std::sync::Arc;

use mtq_core::{DomainEvent, EventKind};
use mtq_orchestrator::config::{self, ConfigSource, DEFAULT_CONFIG};
use mtq_orchestrator::paper::{CollectEvents, PaperOptions, run_paper_session};
use mtq_orchestrator::{IntentState, MemoryIntentStore};

fn opts(weeks: u32) -> PaperOptions {
    PaperOptions {
        weeks,
        kill_file: None,
        ..PaperOptions::default()
    }
}

async fn session(
    overrides: &[(&str, &str)],
    weeks: u32,
) -> (
    mtq_orchestrator::paper::SessionSummary,
    Vec<DomainEvent>,
    Arc<MemoryIntentStore>,
) {
    let o: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    let cfg = config::load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &o).unwrap();
    let store = Arc::new(MemoryIntentStore::new());
    let events = Arc::new(CollectEvents::default());
    let summary = run_paper_session(Arc::new(cfg), &opts(weeks), store.clone(), events.clone())
        .await
        .unwrap();
    (summary, events.events(), store)
}

#[tokio::test]
async fn a_week_of_paper_trading_trades_every_pair_and_keeps_its_books() {
    let (s, events, store) = session(&[], 1).await;
    assert_eq!(s.bars, 6 * 5 * 288, "six pairs, five days of M5 bars");
    assert!(s.orders_filled > 10, "{s:?}");
    assert_eq!(s.orders_failed, 0, "{s:?}");
    // Every intent ended, and each filled one is a distinct signal.
    let intents = store.all();
    assert_eq!(intents.len(), s.orders_filled);
    assert!(
        intents
            .iter()
            .all(|i| matches!(i.state, IntentState::Filled { .. }))
    );
    // Every signal was recorded with its fate.
    let recorded = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::SignalRecorded { .. }))
        .count();
    assert_eq!(recorded, s.signals);
    // Money: the net P&L is the balance change, and the drawdown stayed inside the 15% limit
    // (the kill switch halts entries at it).
    assert_eq!(
        s.net_profit,
        s.final_balance - mtq_core::Decimal::from(10_000)
    );
    assert!(s.max_drawdown_pct < mtq_core::Decimal::from(20));
}

#[tokio::test]
async fn the_emergency_stop_halts_every_entry() {
    let (s, events, _) = session(&[("emergency.emergency_stop", "true")], 1).await;
    assert_eq!(s.orders_filled, 0);
    assert!(
        s.signals > 0,
        "signals are still recorded, with their refusal"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::KillSwitch { state, .. } if *state == mtq_core::KillSwitchState::Halted))
    );
    let refusals: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SignalRecorded {
                refusal: Some(r), ..
            } => Some(r.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        refusals
            .iter()
            .any(|r| r.contains("kill switch") || r.contains("halted")),
        "{:?}",
        refusals.first()
    );
}

#[tokio::test]
async fn the_same_seed_replays_the_same_session() {
    let (a, _, _) = session(&[], 1).await;
    let (b, _, _) = session(&[], 1).await;
    assert_eq!(
        (a.orders_filled, a.net_profit, a.closed_trades),
        (b.orders_filled, b.net_profit, b.closed_trades)
    );
}
