//! The optimiser's stored runs and best parameters over real HTTP: what the dashboard's
//! Optimisation view lists, for any role, with clear refusals of bad input.

mod common;

use chrono::{TimeZone, Utc};
use common::{get, start};
use mtq_core::{Symbol, Timeframe};
use mtq_persistence::{
    BestParameters, NewOptimizationResult, NewOptimizationRun, OptimizationRepo, Store,
};
use rust_decimal_macros::dec;

/// One finished run of three parameter sets, and its best set stored; returns the run id.
fn seed(db_url: &str) -> i64 {
    let mut store = Store::open(db_url).unwrap();
    let at = |h| Utc.with_ymd_and_hms(2026, 11, 2, h, 0, 0).unwrap();
    let id = store
        .start_run(&NewOptimizationRun {
            symbol: Symbol::new("EURUSD").unwrap(),
            strategy: "crossover".into(),
            timeframe: Timeframe::M5,
            period_start: at(0),
            period_end: at(20),
            objective: "sharpe".into(),
            parameter_space: r#"{"fast_period":[5,10,15]}"#.into(),
            started_at: at(21),
        })
        .unwrap();
    let result = |fast: u32, score: f64| NewOptimizationResult {
        parameters: format!(r#"{{"fast_period":{fast},"slow_period":30}}"#),
        score,
        net_profit: dec!(120.5),
        profit_factor: Some(1.4),
        sharpe: Some(score),
        max_drawdown_pct: 4.2,
        trades: 37,
        win_rate: 54.0,
    };
    store
        .record_results(id, &[result(5, 0.4), result(10, 1.2), result(15, 0.9)])
        .unwrap();
    store.finish_run(id, "finished", at(22)).unwrap();
    store
        .set_best_parameters(&BestParameters {
            symbol: Symbol::new("EURUSD").unwrap(),
            strategy: "crossover".into(),
            timeframe: Timeframe::M5,
            parameters: r#"{"fast_period":10,"slow_period":30}"#.into(),
            score: 1.2,
            run_id: Some(id),
            updated_at: at(22),
        })
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_lists_runs_with_their_best_result_and_the_best_parameters() {
    let s = start(false).await;
    let id = seed(&s.db_url);
    let r = get(s.addr, "/api/v1/optimizations", &s.viewer).await;
    assert_eq!(r.status, 200, "{}", r.json());
    let runs = r.json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let run = &runs[0];
    assert_eq!(run["id"], id);
    assert_eq!(
        (run["symbol"].as_str(), run["status"].as_str()),
        (Some("EURUSD"), Some("finished"))
    );
    assert_eq!(run["parameter_space"]["fast_period"][1], 10);
    assert_eq!(run["results"].as_array().unwrap().len(), 1);
    assert_eq!(run["results"][0]["parameters"]["fast_period"], 10);
    assert_eq!(run["results"][0]["net_profit"], "120.5");

    let r = get(
        s.addr,
        &format!("/api/v1/optimizations/{id}?limit=2"),
        &s.viewer,
    )
    .await;
    assert_eq!(r.status, 200);
    let scores: Vec<f64> = r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores, [1.2, 0.9]);

    let r = get(s.addr, "/api/v1/best-parameters", &s.viewer).await;
    assert_eq!(r.status, 200);
    let best = r.json();
    assert_eq!(best[0]["parameters"]["fast_period"], 10);
    assert_eq!(
        (best[0]["run_id"].as_i64(), best[0]["timeframe"].as_str()),
        (Some(id), Some("M5"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_run_is_404_and_bad_ids_and_limits_name_what_to_fix() {
    let s = start(false).await;
    seed(&s.db_url);
    let r = get(s.addr, "/api/v1/optimizations/999", &s.viewer).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["detail"].as_str().unwrap().contains("999"));
    let r = get(s.addr, "/api/v1/optimizations/abc", &s.viewer).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "id");
    for q in ["limit=0", "limit=201", "limit=x", "lmit=3"] {
        let r = get(s.addr, &format!("/api/v1/optimizations?{q}"), &s.viewer).await;
        assert_eq!(r.status, 422, "{q}: {}", r.json());
    }
    let r = get(s.addr, "/api/v1/optimizations/1?limit=501", &s.viewer).await;
    assert_eq!(r.status, 422);
}
