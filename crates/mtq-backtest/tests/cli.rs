//! The subcommands end to end: arguments as `mtq-trader` parses them, files on disk, the report
//! directory, the binary cache and the optimisation tables.

use std::path::{Path, PathBuf};

use clap::Parser;
use mtq_backtest::cli::{
    BacktestArgs, ImportArgs, OptimizeArgs, run_backtest, run_import, run_optimize,
};
use mtq_backtest::testkit::{random_walk, to_csv};
use mtq_core::Timeframe;
use serde_json::Value;

#[derive(Parser)]
struct Backtest {
    #[command(flatten)]
    args: BacktestArgs,
}

#[derive(Parser)]
struct Import {
    #[command(flatten)]
    args: ImportArgs,
}

#[derive(Parser)]
struct Optimize {
    #[command(flatten)]
    args: OptimizeArgs,
}

/// The JSON a report page carries in its `mtq-data` element.
fn report_data(html: &str) -> serde_json::Value {
    let start = html.find("id=\"mtq-data\">").expect("a data element") + "id=\"mtq-data\">".len();
    let len = html[start..]
        .find("</script>")
        .expect("the data element ends");
    serde_json::from_str(&html[start..start + len]).expect("the data is JSON")
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mtq-bt-cli-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Eight weeks of M5 bars as an MT5 export (tab-separated, server time UTC+2, CRLF), split
/// into two files.
fn mt5_files(dir: &Path) -> String {
    let bars = random_walk(
        11_520,
        9,
        Timeframe::M5,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        1.1,
        8,
    );
    let mut names = Vec::new();
    for (k, part) in bars.chunks(5_760).enumerate() {
        let mut s = String::from(
            "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\r\n",
        );
        for b in part {
            let t = b.time + chrono::Duration::hours(2);
            s.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t0\t{}\r\n",
                t.format("%Y.%m.%d"),
                t.format("%H:%M:%S"),
                b.open,
                b.high,
                b.low,
                b.close,
                b.tick_volume,
                b.spread
            ));
        }
        let p = dir.join(format!("EURUSD_M5_{k}.csv"));
        std::fs::write(&p, s).unwrap();
        names.push(p.display().to_string());
    }
    names.join(",")
}

#[test]
fn backtest_writes_every_report_file_with_the_required_fields() {
    let dir = temp("report");
    let data = mt5_files(&dir);
    let report = dir.join("out");
    let cli = Backtest::try_parse_from([
        "mtq",
        "--data",
        &data,
        "--symbol",
        "EURUSD",
        "--strategy",
        "crossover",
        "--param",
        "fast_period=10",
        "--param",
        "slow_period=30",
        "--server-tz",
        "+02:00",
        "--from",
        "2024-01-08",
        "--to",
        "2024-02-20",
        "--initial-balance",
        "5000",
        "--commission-per-lot",
        "3.5",
        "--sizing",
        "risk:1",
        "--report",
        report.to_str().unwrap(),
    ])
    .unwrap();
    let out = run_backtest(&cli.args).unwrap();
    assert!(out.stats.trades > 10, "{}", out.render());
    assert!(out.render().contains("win rate"));
    // The first trade comes after --from, the warm-up bars before it were taken from the data.
    let first = &out.result.trades[0];
    assert!(
        first.entry_time
            >= "2024-01-08T00:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
    );
    assert!(out.result.warmup_bars > 0);
    assert!(
        out.result.last_bar.unwrap()
            < "2024-02-21T00:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
    );

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    for k in [
        "final_equity",
        "net_profit",
        "trades",
        "win_rate",
        "profit_factor",
        "max_drawdown_pct",
        "sharpe",
    ] {
        assert!(json["stats"].get(k).is_some(), "stats.{k}");
    }
    assert_eq!(json["stats"]["initial_balance"], "5000");
    let t = &json["trades"][0];
    for k in [
        "symbol",
        "side",
        "volume",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "commission",
        "swap",
        "profit",
    ] {
        assert!(t.get(k).is_some(), "trades[0].{k}");
    }
    assert_eq!(t["symbol"], "EURUSD");
    let entry = t["entry_time"].as_str().unwrap();
    assert!(
        entry.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(entry).is_ok(),
        "{entry}"
    );
    assert_eq!(
        json["trades"].as_array().unwrap().len() as u64,
        json["stats"]["trades"].as_u64().unwrap()
    );

    let trades_csv = std::fs::read_to_string(report.join("trades.csv")).unwrap();
    assert_eq!(trades_csv.lines().count(), out.result.trades.len() + 1);
    let equity_csv = std::fs::read_to_string(report.join("equity.csv")).unwrap();
    assert!(equity_csv.starts_with("time,equity\n"));
    let png = std::fs::read(report.join("equity.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    assert!(
        std::fs::read_to_string(report.join("equity.svg"))
            .unwrap()
            .contains("<svg")
    );
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("<table") && html.contains("id=\"candles\""));
    // Self-contained: nothing loaded from anywhere, the chart library inline with its licence.
    assert!(
        !html.contains("src=\"") && !html.contains("href=\"") && !html.contains("<link"),
        "self-contained"
    );
    assert!(html.contains("LightweightCharts") && html.contains("Apache License"));
    // The page's data: the run's bars as candles and every trade, for markers and the table.
    let data = report_data(&html);
    let bars = data["bars"].as_array().unwrap();
    assert!(bars.len() >= out.result.bars, "{} candles", bars.len());
    let times: Vec<i64> = bars.iter().map(|b| b[0].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "candle times rise");
    let trades = data["trades"].as_array().unwrap();
    assert_eq!(trades.len(), out.result.trades.len());
    for (row, t) in trades.iter().zip(&out.result.trades) {
        assert_eq!(
            row["entry_time"].as_i64().unwrap(),
            t.entry_time.timestamp()
        );
        assert_eq!(row["exit_time"].as_i64().unwrap(), t.exit_time.timestamp());
        assert!(row["entry_time"].as_i64().unwrap() >= times[0]);
    }
    let equity = data["equity"].as_array().unwrap();
    assert!(!equity.is_empty() && equity.len() <= out.result.equity.len());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn import_builds_the_cache_and_a_backtest_then_reads_it() {
    let dir = temp("import");
    let data = mt5_files(&dir);
    let cli =
        Import::try_parse_from(["mtq", "--data", &data, "--server-tz", "Europe/Athens"]).unwrap();
    let out = run_import(&cli.args).unwrap();
    assert_eq!(out.rows, 11_520);
    assert!(out.render().contains("cached in"));
    let cli = Backtest::try_parse_from([
        "mtq",
        "--data",
        &data,
        "--symbol",
        "EURUSD",
        "--strategy",
        "crossover",
        "--server-tz",
        "Europe/Athens",
        "--sizing",
        "fixed:0.1",
    ])
    .unwrap();
    let out = run_backtest(&cli.args).unwrap();
    assert!(
        out.files
            .iter()
            .all(|f| f.cache == mtq_backtest::data::CacheStatus::Hit),
        "{:?}",
        out.files
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_flags_and_bad_files_are_named_in_the_error() {
    let dir = temp("errors");
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "time,open,high,low,close\n2024-01-01 00:00,1,1,1,1\n2024-01-01 00:05,1,x,1,1\n",
    )
    .unwrap();
    let cli = Backtest::try_parse_from([
        "mtq",
        "--data",
        bad.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--strategy",
        "crossover",
    ])
    .unwrap();
    let err = run_backtest(&cli.args).unwrap_err().to_string();
    assert!(err.contains("bad.csv: line 3: bad high `x`"), "{err}");

    let good = dir.join("good.csv");
    std::fs::write(
        &good,
        to_csv(&random_walk(
            500,
            1,
            Timeframe::M5,
            "2024-01-01T00:00:00Z".parse().unwrap(),
            1.1,
            8,
        )),
    )
    .unwrap();
    let g = good.to_str().unwrap();
    for (flags, want) in [
        (vec!["--strategy", "nope"], "nope"),
        (
            vec!["--strategy", "crossover", "--param", "fast_period=x"],
            "fast_period",
        ),
        (
            vec!["--strategy", "crossover", "--timeframe", "M1"],
            "--timeframe M1",
        ),
        (vec![], "--strategy"),
    ] {
        let mut argv = vec!["mtq", "--data", g, "--symbol", "EURUSD"];
        argv.extend(flags);
        let cli = Backtest::try_parse_from(&argv).unwrap();
        let err = run_backtest(&cli.args).unwrap_err().to_string();
        assert!(err.contains(want), "{argv:?}: {err}");
    }
    for argv in [
        vec![
            "mtq", "--data", g, "--symbol", "EURUSD", "--sizing", "all-in",
        ],
        vec![
            "mtq",
            "--data",
            g,
            "--symbol",
            "EURUSD",
            "--commission-per-lot",
            "1",
            "--commission-rate",
            "0.1",
        ],
        vec![
            "mtq", "--data", g, "--symbol", "EURUSD", "--param", "novalue",
        ],
        vec![
            "mtq",
            "--data",
            g,
            "--symbol",
            "EURUSD",
            "--from",
            "01/02/2024",
        ],
        vec![
            "mtq",
            "--data",
            g,
            "--symbol",
            "EURUSD",
            "--server-tz",
            "Nowhere/Else",
        ],
    ] {
        assert!(Backtest::try_parse_from(&argv).is_err(), "{argv:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn optimize_ranks_sets_stores_them_and_walks_forward() {
    use mtq_persistence::{OptimizationRepo, Store};
    let dir = temp("optimize");
    let data = mt5_files(&dir);
    let db = format!("sqlite://{}", dir.join("opt.db").display());
    let report = dir.join("opt");
    let cli = Optimize::try_parse_from([
        "mtq",
        "--data",
        &data,
        "--symbol",
        "EURUSD",
        "--strategy",
        "crossover",
        "--server-tz",
        "+02:00",
        "--sizing",
        "fixed:0.1",
        "--range",
        "fast_period=5..15:5",
        "--range",
        "slow_period=20..40:10",
        "--objective",
        "net_profit",
        "--min-trades",
        "5",
        "--database-url",
        &db,
        "--no-progress",
        "--report",
        report.to_str().unwrap(),
    ])
    .unwrap();
    let out = run_optimize(&cli.args).unwrap();
    let o = out.optimization.as_ref().unwrap();
    assert_eq!((o.grid_size, o.results.len()), (9, 9));
    let id = out.run_id.unwrap();
    let mut store = Store::open(&db).unwrap();
    assert_eq!(store.top_results(id, 50).unwrap().len(), 9);
    assert!(out.render().contains("rank"));
    assert!(report.join("results.csv").exists() && report.join("optimization.json").exists());
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("id=\"heatmap\"") && !html.contains("src=\""));
    let page = report_data(&html);
    assert_eq!(page["kind"], "optimization");
    let o = out.optimization.as_ref().unwrap();
    assert_eq!(page["results"].as_array().unwrap().len(), o.results.len());
    assert_eq!(page["results"][0]["params"], o.results[0].params);

    let wf_dir = dir.join("wf");
    let cli = Optimize::try_parse_from([
        "mtq",
        "--data",
        &data,
        "--symbol",
        "EURUSD",
        "--strategy",
        "crossover",
        "--sizing",
        "fixed:0.1",
        "--range",
        "fast_period=5,10",
        "--range",
        "slow_period=20,30",
        "--samples",
        "3",
        "--seed",
        "4",
        "--min-trades",
        "3",
        "--no-store",
        "--no-progress",
        "--walk-forward",
        "--wf-in-sample",
        "14",
        "--wf-out-of-sample",
        "7",
        "--report",
        wf_dir.to_str().unwrap(),
    ])
    .unwrap();
    let out = run_optimize(&cli.args).unwrap();
    let wf = out.walk_forward.as_ref().unwrap();
    assert!(wf.windows.len() >= 5, "{}", wf.windows.len());
    assert!(out.render().contains("parameter stability"));
    assert!(wf_dir.join("walk_forward.json").exists());
    assert!(wf_dir.join("out_of_sample/report.html").exists());
    let page = report_data(&std::fs::read_to_string(wf_dir.join("report.html")).unwrap());
    assert_eq!(page["kind"], "walk_forward");
    assert_eq!(page["windows"].as_array().unwrap().len(), wf.windows.len());
    assert_eq!(
        page["windows"][0]["out_of_sample_from"].as_i64().unwrap(),
        wf.windows[0].out_of_sample_from.timestamp()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn import_prints_repairs_and_gaps_under_the_file_and_refuses_a_far_price() {
    let dir = temp("warnings");
    let f = dir.join("EURUSD_D1.csv");
    std::fs::write(
        &f,
        "time,open,high,low,close\n2024-01-03,1.1,1.1,1.1,1.1\n2024-01-02,1.1,1.1,1.1,1.1\n\
         2024-01-02,1.2,1.2,1.2,1.2\n2024-01-20,1.1,1.1,1.1,1.1\n",
    )
    .unwrap();
    let name = f.display().to_string();
    let cli = Import::try_parse_from(["mtq", "--data", &name, "--max-gap", "5d"]).unwrap();
    let text = run_import(&cli.args).unwrap().render();
    for want in [
        format!("{name}: warning: rows not in time order: sorted (1 rows"),
        format!("{name}: warning: dropped 1 duplicate timestamp "),
        format!("{name}: warning: 1 gap longer than 5 days 0 h; the largest is 17 days 0 h"),
    ] {
        assert!(text.contains(&want), "{want}\n{text}");
    }
    // A backtest refuses a price below the symbol's point (EURUSD: 0.00001).
    std::fs::write(
        &f,
        "time,open,high,low,close\n2024-01-02,1.1,1.1,1.1,1.1\n2024-01-03,0.000001,0.000001,0.000001,0.000001\n",
    )
    .unwrap();
    let cli = Backtest::try_parse_from([
        "mtq",
        "--data",
        &name,
        "--symbol",
        "EURUSD",
        "--strategy",
        "crossover",
        "--no-cache",
    ])
    .unwrap();
    let err = run_backtest(&cli.args).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{name}: line 3: open 0.000001 is outside the sane range (0.00001 <= price"
        )),
        "{err}"
    );
    assert!(Import::try_parse_from(["mtq", "--data", &name, "--max-gap", "7x"]).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_backtest_with_a_database_url_is_stored_for_the_dashboard() {
    use mtq_persistence::{BacktestRunRepo, Store};
    let dir = temp("stored");
    let data = mt5_files(&dir);
    let url = format!("sqlite://{}", dir.join("runs.db").display());
    let cli = Backtest::try_parse_from([
        "mtq",
        "--data",
        &data,
        "--symbol",
        "EURUSD",
        "--strategy",
        "crossover",
        "--param",
        "fast_period=10",
        "--param",
        "slow_period=30",
        "--server-tz",
        "+02:00",
        "--sizing",
        "fixed:0.1",
        "--database-url",
        &url,
    ])
    .unwrap();
    let out = run_backtest(&cli.args).unwrap();
    let (id, db) = out.stored.clone().expect("stored");
    assert_eq!(db, url);
    assert!(
        out.render()
            .contains(&format!("stored as backtest run {id}"))
    );
    let mut store = Store::open(&url).unwrap();
    let run = store.backtest(id).unwrap().unwrap().run;
    assert_eq!(run.trades, out.stats.trades);
    assert_eq!(run.net_profit, out.stats.net_profit);
    assert_eq!(run.timeframe, Timeframe::M5);
    assert_eq!(run.bars, out.result.bars as u64);
    let params: Value = serde_json::from_str(&run.parameters).unwrap();
    assert_eq!(params["fast_period"], 10);
    let stats: Value = serde_json::from_str(&run.stats).unwrap();
    assert_eq!(stats["trades"], out.stats.trades);
    // The curve is thinned to at most 500 points and keeps its last one.
    let equity: Vec<(String, String)> = serde_json::from_str(&run.equity).unwrap();
    assert!(
        equity.len() <= 500 && equity.len() > 100,
        "{}",
        equity.len()
    );
    let last = out.result.equity.last().unwrap();
    assert_eq!(equity.last().unwrap().1, last.equity.to_string());
    assert_eq!(store.recent_backtests(10).unwrap().len(), 1);
    // Without the flag nothing is written.
    let mut again = cli.args;
    again.database_url = None;
    assert!(run_backtest(&again).unwrap().stored.is_none());
    assert_eq!(store.recent_backtests(10).unwrap().len(), 1);
}
