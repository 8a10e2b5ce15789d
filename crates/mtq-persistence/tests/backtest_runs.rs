//! Backtests as `mtq-trader backtest` stored them, for the dashboard: every field round-trips,
//! the newest run is listed first, and an unknown id is none; on SQLite and on PostgreSQL when
//! `MTQ_TEST_DATABASE_URL` is set.

mod common;

use common::{TestDb, t};
use mtq_core::{Symbol, Timeframe};
use mtq_persistence::*;
use rust_decimal_macros::dec;

on_both_backends!(
    a_backtest_run_round_trips_every_field,
    backtest_runs_are_listed_newest_first_up_to_the_limit,
);

fn run(hour: u32) -> NewBacktestRun {
    NewBacktestRun {
        symbol: Symbol::new("EURUSD").unwrap(),
        strategy: "crossover".into(),
        timeframe: Timeframe::M5,
        parameters: r#"{"fast_period":10,"slow_period":30}"#.into(),
        period_start: t(0, 0),
        period_end: t(23, 55),
        bars: 288,
        trades: 17,
        net_profit: dec!(-123.45),
        return_pct: -1.2345,
        win_rate: 41.17647058823529,
        profit_factor: Some(0.81),
        sharpe: None,
        max_drawdown_pct: 3.5,
        stats: r#"{"trades":17}"#.into(),
        settings: r#"{"sizing":"fixed:0.1"}"#.into(),
        equity: "[[\"2024-03-04T00:00:00Z\",10000.0]]".into(),
        report_dir: Some("out/bt".into()),
        created_at: t(hour, 0),
    }
}

fn a_backtest_run_round_trips_every_field(db: &TestDb) {
    let mut store = db.open();
    let id = store.record_backtest(&run(9)).unwrap();
    let got = store.backtest(id).unwrap().unwrap();
    assert_eq!(got, BacktestRunRecord { id, run: run(9) });
    let mut bare = run(10);
    bare.report_dir = None;
    bare.profit_factor = None;
    let id2 = store.record_backtest(&bare).unwrap();
    assert_eq!(store.backtest(id2).unwrap().unwrap().run, bare);
    assert_eq!(store.backtest(id2 + 100).unwrap(), None);
}

fn backtest_runs_are_listed_newest_first_up_to_the_limit(db: &TestDb) {
    let mut store = db.open();
    for hour in [9, 11, 10] {
        store.record_backtest(&run(hour)).unwrap();
    }
    let all = store.recent_backtests(50).unwrap();
    let hours: Vec<_> = all.iter().map(|r| r.run.created_at).collect();
    assert_eq!(hours, [t(11, 0), t(10, 0), t(9, 0)]);
    assert_eq!(store.recent_backtests(2).unwrap().len(), 2);
}
