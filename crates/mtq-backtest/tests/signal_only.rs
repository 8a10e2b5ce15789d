//! Signal-only strategies (`stop_mode: none`) on an instrument whose price quadruples, where no
//! fixed stop suits both sides, and the report's account of every refused entry.

use std::path::{Path, PathBuf};

use clap::Parser;
use mtq_backtest::cli::{BacktestArgs, run_backtest};
use mtq_backtest::testkit::to_csv;
use mtq_backtest::{Backtest, BacktestResult, RefusedAt, SetupOptions, Sizing};
use mtq_core::testkit::BarBuilder;
use mtq_core::{Bar, Side, Timeframe};
use rust_decimal_macros::dec;

fn goog_spec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/goog.yaml")
}

/// Six years of daily bars of a GOOG-like share: 50 rising to 200, with swings of +-8% that a
/// 10/30 crossover trades both ways.
fn goog_like() -> Vec<Bar> {
    let t0: chrono::DateTime<chrono::Utc> = "2015-01-02T00:00:00Z".parse().unwrap();
    let price = |x: f64| 50.0 * 4f64.powf(x / 1499.0) * (1.0 + 0.08 * (x / 23.0).sin());
    (0..1500_i32)
        .map(|i| {
            let x = f64::from(i);
            let (open, close) = (price(x - 1.0), price(x));
            let cents = |p: f64| (p * 100.0).round() / 100.0;
            BarBuilder::new()
                .at(t0 + chrono::Duration::days(i64::from(i)))
                .ohlc(
                    cents(open),
                    (open.max(close) * 100.5).round() / 100.0,
                    (open.min(close) * 99.5).round() / 100.0,
                    cents(close),
                )
                .tick_volume(1000)
                .spread(2)
                .build()
        })
        .collect()
}

fn options(stops: &[(&str, &str)], sizing: Option<Sizing>) -> SetupOptions {
    let mut params = vec![
        ("fast_period".to_string(), "10".to_string()),
        ("slow_period".to_string(), "30".to_string()),
    ];
    params.extend(stops.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    SetupOptions {
        symbol: "GOOG".into(),
        symbol_spec: Some(goog_spec()),
        strategy: Some("crossover".into()),
        params,
        timeframe: Timeframe::D1,
        sizing,
        leverage: Some(1),
        ..SetupOptions::default()
    }
}

fn run(opts: &SetupOptions) -> BacktestResult {
    Backtest::new(opts.build().unwrap())
        .unwrap()
        .run(&goog_like())
}

fn count(r: &BacktestResult, side: Side) -> usize {
    r.trades.iter().filter(|t| t.side == side).count()
}

#[test]
fn signal_only_crossover_with_stop_mode_none_trades_longs_and_shorts() {
    let equity = Some(Sizing::Equity(dec!(1.0)));
    let r = run(&options(&[("stop_mode", "none")], equity));
    assert!(count(&r, Side::Buy) >= 5, "{} longs", count(&r, Side::Buy));
    assert!(
        count(&r, Side::Sell) >= 5,
        "{} shorts",
        count(&r, Side::Sell)
    );
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert!(r.refusals.is_empty() && r.order_failures.is_empty());
    // No stop, no target: every trade ends on the next signal or at the end of the data.
    assert!(
        r.trades
            .iter()
            .all(|t| !t.exit_reason.contains("stop") && !t.exit_reason.contains("take")),
        "{:?}",
        r.trades.iter().map(|t| t.exit_reason).collect::<Vec<_>>()
    );
    // Fixed lots trade the same signals.
    let fixed = run(&options(
        &[("stop_mode", "none")],
        Some(Sizing::Fixed(dec!(10))),
    ));
    assert_eq!(fixed.trades.len(), r.trades.len());
    assert!(fixed.trades.iter().all(|t| t.volume == dec!(10)));
}

#[test]
fn risk_percent_sizing_without_a_stop_is_refused_at_load() {
    for sizing in [Some(Sizing::Risk(dec!(1))), None] {
        let err = options(&[("stop_mode", "none")], sizing)
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("currencies[0] (GOOG).stop_mode")
                && err.contains(
                    "risk-percent sizing needs a stop loss; use fixed lots or equity sizing with stop_mode: none"
                ),
            "{err}"
        );
    }
    // A portfolio risk cap cannot bound a position without a stop either.
    let mut o = options(&[("stop_mode", "none")], Some(Sizing::Fixed(dec!(1))));
    o.config = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/currencies.yaml"));
    let err = o.build().unwrap_err().to_string();
    assert!(err.contains("portfolio_risk_percent 6"), "{err}");
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mtq-signal-only-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BacktestArgs,
}

fn backtest(dir: &Path, stops: &[&str]) -> mtq_backtest::cli::BacktestOutcome {
    let data = dir.join("GOOG_D1.csv");
    std::fs::write(&data, to_csv(&goog_like())).unwrap();
    let (data, spec, report) = (
        data.display().to_string(),
        goog_spec().display().to_string(),
        dir.join("report").display().to_string(),
    );
    let mut argv = vec![
        "mtq",
        "--data",
        &data,
        "--symbol",
        "GOOG",
        "--symbol-spec",
        &spec,
        "--strategy",
        "crossover",
        "--sizing",
        "equity:1",
        "--leverage",
        "1",
        "--no-cache",
        "--report",
        &report,
        "--param",
        "fast_period=10",
        "--param",
        "slow_period=30",
    ];
    for s in stops {
        argv.extend(["--param", s]);
    }
    run_backtest(&Cli::try_parse_from(argv).unwrap().args).unwrap()
}

#[test]
fn the_far_stop_configuration_reports_why_each_long_was_refused() {
    let dir = temp("far");
    // 100 dollars: far enough for shorts, below zero for longs while the price is under 100.
    let out = backtest(&dir, &["sl_pips=10000", "tp_pips=0"]);
    let r = &out.result;
    let longs: Vec<_> = r
        .refused
        .iter()
        .filter(|x| x.side == Some(Side::Buy))
        .collect();
    assert!(!longs.is_empty(), "{:?}", r.refused);
    for x in &longs {
        assert_eq!(x.at, RefusedAt::Signal);
        assert!(
            x.reason.contains("invalid price -") && x.reason.contains("for the stop loss"),
            "{x:?}"
        );
    }
    assert_eq!(r.refusals.get("GOOG: invalid price"), Some(&longs.len()));
    // The text summary, report.json and report.html all say so.
    let text = out.render();
    assert!(
        text.contains(&format!(
            "refused signal x{}: GOOG: invalid price",
            longs.len()
        )) && text.contains("signal buy: GOOG: invalid price -"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report/report.json")).unwrap())
            .unwrap();
    let listed = json["refused"].as_array().unwrap();
    assert_eq!(listed.len(), r.refused.len());
    assert_eq!(listed[0]["at"], "signal");
    assert_eq!(listed[0]["side"], "buy");
    assert!(
        listed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("stop_mode: none")
    );
    let html = std::fs::read_to_string(dir.join("report/report.html")).unwrap();
    assert!(
        html.contains(&format!("Refused signals and orders ({})", r.refused.len()))
            && html.contains("for the stop loss"),
        "refusals missing from report.html"
    );
    // The same run with stop_mode none trades them.
    let out = backtest(&dir, &["stop_mode=none"]);
    assert!(out.result.refused.is_empty(), "{:?}", out.result.refused);
    assert!(count(&out.result, Side::Buy) > 0);
    std::fs::remove_dir_all(&dir).ok();
}
