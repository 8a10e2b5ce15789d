//! Stored backtests over real HTTP: what the dashboard's Research view lists, for any role, the
//! newest first, one run with its statistics and equity curve, and clear refusals of bad input.

mod common;

use chrono::{TimeZone, Utc};
use common::{get, start};
use mtq_core::{Symbol, Timeframe};
use mtq_persistence::{BacktestRunRepo, NewBacktestRun, Store};
use rust_decimal_macros::dec;

fn seed(db_url: &str) -> (i64, i64) {
    let mut store = Store::open(db_url).unwrap();
    let at = |h| Utc.with_ymd_and_hms(2026, 11, 2, h, 0, 0).unwrap();
    let run = |hour, fast: u32| NewBacktestRun {
        symbol: Symbol::new("EURUSD").unwrap(),
        strategy: "crossover".into(),
        timeframe: Timeframe::M5,
        parameters: format!(r#"{{"fast_period":{fast},"slow_period":30}}"#),
        period_start: at(0),
        period_end: at(20),
        bars: 240,
        trades: 12,
        net_profit: dec!(87.25),
        return_pct: 0.8725,
        win_rate: 58.3,
        profit_factor: Some(1.6),
        sharpe: Some(1.1),
        max_drawdown_pct: 2.4,
        stats: r#"{"trades":12,"net_profit":"87.25"}"#.into(),
        settings: r#"{"sizing":"Fixed(0.1)"}"#.into(),
        equity: r#"[["2026-11-02T00:00:00Z","10000"],["2026-11-02T20:00:00Z","10087.25"]]"#.into(),
        report_dir: None,
        created_at: at(hour),
    };
    let a = store.record_backtest(&run(21, 10)).unwrap();
    let b = store.record_backtest(&run(22, 20)).unwrap();
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_lists_backtests_newest_first_and_opens_one_with_its_curve() {
    let s = start(false).await;
    let (older, newer) = seed(&s.db_url);
    let r = get(s.addr, "/api/v1/backtests", &s.viewer).await;
    assert_eq!(r.status, 200);
    let list = r.json();
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [newer, older]);
    assert_eq!(list[0]["parameters"]["fast_period"], 20);
    assert_eq!(list[0]["net_profit"], "87.25");
    assert!(
        list[0].get("equity").is_none(),
        "the list is light: {}",
        list[0]
    );

    let r = get(s.addr, &format!("/api/v1/backtests/{older}"), &s.viewer).await;
    assert_eq!(r.status, 200);
    let one = r.json();
    assert_eq!(one["stats"]["trades"], 12);
    assert_eq!(one["equity"].as_array().unwrap().len(), 2);
    assert_eq!(one["timeframe"], "M5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_backtest_is_404_and_bad_ids_and_limits_name_what_to_fix() {
    let s = start(false).await;
    seed(&s.db_url);
    let r = get(s.addr, "/api/v1/backtests/999", &s.viewer).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["detail"].as_str().unwrap().contains("999"));
    let r = get(s.addr, "/api/v1/backtests/abc", &s.viewer).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "id");
    for q in ["limit=0", "limit=201", "limit=x", "lmit=3"] {
        let r = get(s.addr, &format!("/api/v1/backtests?{q}"), &s.viewer).await;
        assert_eq!(r.status, 422, "{q}: {}", r.json());
    }
}
