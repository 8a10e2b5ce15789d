//! A distributed optimisation's ledger: runs tagged with the run's key, chunks planned then
//! stored once (a redelivered chunk is skipped), one result per set, on SQLite and on PostgreSQL
//! when `MTQ_TEST_DATABASE_URL` is set.

mod common;

use common::fixtures::*;
use common::{TestDb, t};
use mtq_core::Timeframe;
use mtq_persistence::*;
use rust_decimal::Decimal;

on_both_backends!(
    a_chunk_is_stored_once_however_often_it_is_delivered,
    a_set_stored_twice_is_refused_by_the_database,
    runs_are_found_by_their_distributed_key,
);

fn run() -> NewOptimizationRun {
    NewOptimizationRun {
        symbol: eurusd(),
        strategy: "crossover".into(),
        timeframe: Timeframe::M5,
        period_start: t(0, 0),
        period_end: t(23, 0),
        objective: "sharpe".into(),
        parameter_space: r#"{"fast_period":[5,10]}"#.into(),
        started_at: t(1, 0),
    }
}

fn result(i: u64) -> (u64, NewOptimizationResult) {
    (
        i,
        NewOptimizationResult {
            parameters: format!(r#"{{"fast_period":{i}}}"#),
            score: 0.1 * i as f64,
            net_profit: Decimal::new(i64::try_from(i).unwrap() * 1_234, 2),
            profit_factor: Some(1.5),
            sharpe: None,
            max_drawdown_pct: 3.25,
            trades: 40,
            win_rate: 55.5,
        },
    )
}

fn done(chunk: u32, sets: std::ops::Range<u64>) -> ChunkResults {
    ChunkResults {
        chunk,
        results: sets.map(result).collect(),
        invalid: 1,
        worker: "w1".into(),
        seconds: 0.5,
        finished_at: t(2, 0),
    }
}

fn plan(store: &mut Store, id: i64) {
    store
        .plan_chunks(
            id,
            &[
                ChunkPlan {
                    chunk: 0,
                    first_set: 0,
                    sets: 3,
                },
                ChunkPlan {
                    chunk: 1,
                    first_set: 3,
                    sets: 3,
                },
            ],
        )
        .unwrap();
}

fn a_chunk_is_stored_once_however_often_it_is_delivered(db: &TestDb) {
    let mut store = db.open();
    let id = store.start_run(&run()).unwrap();
    plan(&mut store, id);
    assert_eq!(
        store.chunk_progress(id).unwrap(),
        ChunkProgress {
            chunks: 2,
            chunks_done: 0,
            sets: 6,
            sets_done: 0
        }
    );
    assert!(store.record_chunk(id, &done(0, 0..2)).unwrap());
    assert!(
        !store.record_chunk(id, &done(0, 0..2)).unwrap(),
        "second delivery skipped"
    );
    assert!(store.record_chunk(id, &done(1, 3..6)).unwrap());
    let rows = store.results_by_set(id).unwrap();
    assert_eq!(rows, [0, 1, 3, 4, 5].map(result));
    let chunks = store.chunks(id).unwrap();
    assert_eq!(chunks[0].status, "done");
    assert_eq!(
        (chunks[0].invalid, chunks[0].worker.as_deref()),
        (1, Some("w1"))
    );
    assert_eq!(chunks[1].finished_at, Some(t(2, 0)));
    assert_eq!(store.chunk_progress(id).unwrap().sets_done, 6);
    // A chunk never planned is an error naming it, not a silent insert.
    let e = store
        .record_chunk(id, &done(7, 9..10))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no such chunk"), "{e}");
    assert_eq!(store.results_by_set(id).unwrap().len(), 5);
}

fn a_set_stored_twice_is_refused_by_the_database(db: &TestDb) {
    let mut store = db.open();
    let id = store.start_run(&run()).unwrap();
    plan(&mut store, id);
    store.record_chunk(id, &done(0, 0..3)).unwrap();
    // Chunk 1 wrongly claims set 2 as well: the unique (run, set) index refuses the whole chunk.
    assert!(store.record_chunk(id, &done(1, 2..6)).is_err());
    assert_eq!(store.results_by_set(id).unwrap().len(), 3);
    assert_eq!(store.chunks(id).unwrap()[1].status, "pending");
}

fn runs_are_found_by_their_distributed_key(db: &TestDb) {
    let mut store = db.open();
    let a = store.start_run(&run()).unwrap();
    let _local = store.start_run(&run()).unwrap();
    let b = store.start_run(&run()).unwrap();
    store.set_distributed_run(a, "r1").unwrap();
    store.set_distributed_run(b, "r1").unwrap();
    let ids: Vec<i64> = store
        .distributed_runs("r1")
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [a, b]);
    assert!(store.distributed_runs("r2").unwrap().is_empty());
}
