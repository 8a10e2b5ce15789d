//! What the dashboard lists of the optimiser's work: the newest runs first and every best
//! parameter set, on SQLite and on PostgreSQL when `MTQ_TEST_DATABASE_URL` is set.

mod common;

use common::fixtures::*;
use common::{TestDb, t};
use mtq_core::{Symbol, Timeframe};
use mtq_persistence::*;

on_both_backends!(
    runs_are_listed_newest_first_up_to_the_limit,
    every_best_parameter_set_is_listed_by_symbol_strategy_and_timeframe,
);

fn run(symbol: Symbol, hour: u32) -> NewOptimizationRun {
    NewOptimizationRun {
        symbol,
        strategy: "crossover".into(),
        timeframe: Timeframe::M5,
        period_start: t(0, 0),
        period_end: t(23, 0),
        objective: "sharpe".into(),
        parameter_space: r#"{"fast_period":[5,10]}"#.into(),
        started_at: t(hour, 0),
    }
}

fn runs_are_listed_newest_first_up_to_the_limit(db: &TestDb) {
    let mut store = db.open();
    assert!(store.recent_runs(10).unwrap().is_empty());
    let old = store.start_run(&run(eurusd(), 1)).unwrap();
    let new = store.start_run(&run(eurusd(), 3)).unwrap();
    let mid = store
        .start_run(&run(Symbol::new("GBPUSD").unwrap(), 2))
        .unwrap();
    store.finish_run(new, "finished", t(4, 0)).unwrap();
    let listed = store.recent_runs(10).unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        [new, mid, old]
    );
    assert_eq!(listed[0].status, "finished");
    assert_eq!(listed[0].run, run(eurusd(), 3));
    assert_eq!(listed[1].status, "running");
    assert_eq!(store.recent_runs(1).unwrap().len(), 1);
}

fn every_best_parameter_set_is_listed_by_symbol_strategy_and_timeframe(db: &TestDb) {
    let mut store = db.open();
    assert!(store.all_best_parameters().unwrap().is_empty());
    let best = |symbol: &str, timeframe: Timeframe, score: f64| BestParameters {
        symbol: Symbol::new(symbol).unwrap(),
        strategy: "crossover".into(),
        timeframe,
        parameters: r#"{"fast_period":10,"slow_period":30}"#.into(),
        score,
        run_id: None,
        updated_at: t(5, 0),
    };
    store
        .set_best_parameters(&best("GBPUSD", Timeframe::H1, 1.0))
        .unwrap();
    store
        .set_best_parameters(&best("EURUSD", Timeframe::M5, 2.0))
        .unwrap();
    // Replaced, not added.
    store
        .set_best_parameters(&best("EURUSD", Timeframe::M5, 2.5))
        .unwrap();
    let listed = store.all_best_parameters().unwrap();
    assert_eq!(
        listed,
        [
            best("EURUSD", Timeframe::M5, 2.5),
            best("GBPUSD", Timeframe::H1, 1.0)
        ]
    );
}
