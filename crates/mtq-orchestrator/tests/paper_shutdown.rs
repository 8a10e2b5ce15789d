//! A realtime paper session waits for the wall clock between bars (five minutes on M5): a
//! shutdown request must end that wait, not the next bar.

use std::sync::Arc;

use mtq_core::EventKind;
use mtq_orchestrator::config::{self, ConfigSource, DEFAULT_CONFIG};
use mtq_orchestrator::paper::{
    CollectEvents, PaperControl, PaperOptions, run_paper_session_controlled, run_paper_session_with,
};
use mtq_orchestrator::{
    Actor, ControlCommand, LiveSnapshot, MemoryIntentStore, Role, TradingState, control_channel,
};
use tokio::sync::watch;

#[tokio::test]
async fn a_realtime_paper_session_stops_when_shutdown_is_requested_during_the_wait() {
    let cfg = config::load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[]).unwrap();
    let opts = PaperOptions {
        weeks: 1,
        realtime: true,
        kill_file: None,
        ..PaperOptions::default()
    };
    let (tx, rx) = watch::channel(false);
    let session = run_paper_session_with(
        Arc::new(cfg),
        &opts,
        Arc::new(MemoryIntentStore::new()),
        Arc::new(CollectEvents::default()),
        PaperControl {
            shutdown: Some(rx),
            watcher: None,
            ledger: None,
        },
    );
    let stop = async {
        // The first bar is due at once; the session then sleeps until the second, 5 minutes on.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        tx.send(true).unwrap();
    };
    // A hang guard, not a timing assertion: before the fix the session slept out the 5 minutes.
    let guarded = tokio::time::timeout(std::time::Duration::from_secs(120), session);
    let (summary, ()) = tokio::join!(guarded, stop);
    let summary = summary
        .expect("the session is still sleeping until the next bar after shutdown was requested")
        .unwrap();
    assert!(summary.cycles <= 3, "{summary:?}");
}

#[tokio::test]
async fn a_realtime_paper_session_answers_commands_while_it_waits_and_a_stop_ends_it() {
    let cfg = config::load(&ConfigSource::Text(DEFAULT_CONFIG.into()), &[]).unwrap();
    let opts = PaperOptions {
        weeks: 1,
        realtime: true,
        kill_file: None,
        ..PaperOptions::default()
    };
    let (handle, port) = control_channel(LiveSnapshot::starting("default", chrono::Utc::now()));
    let events = Arc::new(CollectEvents::default());
    let session = run_paper_session_controlled(
        Arc::new(cfg),
        &opts,
        Arc::new(MemoryIntentStore::new()),
        events.clone(),
        PaperControl::default(),
        Some(port),
    );
    let operator = async {
        let actor = Actor {
            id: "key-1".into(),
            role: Role::Trader,
            via: "api".into(),
        };
        // The session waits 5 minutes for its second bar; the command is answered meanwhile.
        handle
            .send(ControlCommand::PauseEntries, actor.clone())
            .await
            .unwrap();
        assert_eq!(handle.snapshot().trading, TradingState::EntriesPaused);
        handle.send(ControlCommand::Stop, actor).await.unwrap();
    };
    let guarded = tokio::time::timeout(std::time::Duration::from_secs(120), session);
    let (summary, ()) = tokio::join!(guarded, operator);
    let summary = summary.expect("a stop ends the wait").unwrap();
    assert!(summary.cycles <= 3, "{summary:?}");
    let audited = events
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::OperatorCommand { accepted: true, .. }))
        .count();
    assert_eq!(audited, 2);
}
