//! `mtq-trader ml train` and `mtq-trader ml walk-forward` against the binary: the model, its
//! manifest and the report written; the same seed trains the same model; bad input refused with
//! a message naming what to fix; the walk-forward on real EURUSD H1 bars says whether the model
//! helps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mtq_core::Timeframe;
use mtq_core::testkit::random_walk;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtq-ml-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` H1 bars of the seeded walk as an OHLCV CSV file.
fn csv(dir: &Path, n: usize) -> PathBuf {
    let start = "2024-01-01T00:00:00Z".parse().unwrap();
    let mut s = String::from("time,open,high,low,close,volume\n");
    for b in random_walk(n, 5, Timeframe::H1, start, 1.1, 10) {
        s.push_str(&format!(
            "{},{},{},{},{},{}\n",
            b.time.format("%Y-%m-%d %H:%M:%S"),
            b.open,
            b.high,
            b.low,
            b.close,
            b.tick_volume
        ));
    }
    let path = dir.join("EURUSD_H1.csv");
    std::fs::write(&path, s).unwrap();
    path
}

fn mtq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtq-trader"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn refused(out: &Output, says: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted: {stderr}");
    for s in says {
        assert!(stderr.contains(s), "`{stderr}` lacks `{s}`");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn train(data: &Path, model: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "ml",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--timeframe",
        "H1",
        "--strategy",
        "crossover",
        "--model",
        model.to_str().unwrap(),
        "--trees",
        "25",
        "--no-cache",
    ];
    args.extend_from_slice(extra);
    mtq(&args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn ml_train_writes_the_model_its_manifest_and_a_metrics_report() {
    let dir = scratch("train");
    let data = csv(&dir, 4000);
    let model = dir.join("models").join("eurusd-rf");
    let out = ok(&train(
        &data,
        &model,
        &["--label", "forward:6:0.0005", "--seed", "9"],
    ));
    for s in [
        "accuracy",
        "AUC",
        "log loss",
        "precision",
        "at p >= 0.55",
        "eurusd-rf@1",
    ] {
        assert!(out.contains(s), "`{out}` lacks `{s}`");
    }
    let manifest = json(&model.join("manifest.json"));
    assert_eq!(manifest["name"], "eurusd-rf");
    assert_eq!(manifest["features"][0], "ret_1");
    assert_eq!(manifest["label"]["kind"], "forward_return");
    assert_eq!(manifest["label"]["horizon"], 6);
    assert_eq!(manifest["training"]["symbol"], "EURUSD");
    let report = json(&model.join("report.json"));
    let test = &report["test"];
    for k in ["accuracy", "auc", "log_loss", "precision_at_threshold"] {
        assert!(test[k].is_number(), "{k}: {test}");
    }
    // The test set follows the training rows in time: both counted, neither empty.
    assert!(report["train_rows"].as_u64().unwrap() > test["rows"].as_u64().unwrap());
    assert!(model.join("forest.json").is_file());
}

#[test]
fn ml_train_is_deterministic_for_a_seed() {
    let dir = scratch("seed");
    let data = csv(&dir, 3000);
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    ok(&train(&data, &a, &["--seed", "4"]));
    ok(&train(&data, &b, &["--seed", "4"]));
    ok(&train(&data, &c, &["--seed", "5"]));
    let forest = |d: &Path| std::fs::read(d.join("forest.json")).unwrap();
    assert_eq!(forest(&a), forest(&b));
    assert_ne!(forest(&a), forest(&c));
}

#[test]
fn ml_train_refuses_bad_input_naming_what_to_fix() {
    let dir = scratch("bad");
    let data = csv(&dir, 3000);
    let model = dir.join("m");
    refused(
        &train(&dir.join("missing.csv"), &model, &[]),
        &["missing.csv"],
    );
    refused(
        &train(&data, &model, &["--label", "forward:0:0.001"]),
        &["--label", "forward:0:0.001", "bar count above 0"],
    );
    refused(
        &train(&data, &model, &["--label", "backward:3"]),
        &["forward:BARS:THRESHOLD", "meta:BARS"],
    );
    refused(
        &train(&data, &model, &["--train-fraction", "1.5"]),
        &["--train-fraction", "at most 1"],
    );
    refused(
        &train(&data, &model, &["--threshold", "2"]),
        &["--threshold", "within 0..=1"],
    );
    let short = scratch("short");
    refused(&train(&csv(&short, 260), &model, &[]), &["too few"]);
    let out = mtq(&[
        "ml",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--strategy",
        "crossoverr",
        "--model",
        model.to_str().unwrap(),
    ]);
    refused(&out, &["crossoverr"]);
    assert!(!model.join("manifest.json").exists());
}

/// The real EURUSD H1 series of the `backtesting` package (scripts/export_eurusd.py).
fn eurusd_csv() -> PathBuf {
    let Some(path) = std::env::var_os("MTQ_TEST_EURUSD_CSV") else {
        panic!(
            "MTQ_TEST_EURUSD_CSV is not set: this test walks forward on real EURUSD H1 bars. \
             Run `pip install --no-deps -r scripts/requirements-ml-data.txt && python3 \
             scripts/export_eurusd.py /tmp/EURUSD_H1.csv` and set \
             MTQ_TEST_EURUSD_CSV=/tmp/EURUSD_H1.csv (.ci/run does both)"
        );
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "MTQ_TEST_EURUSD_CSV={}: no such file; export it with scripts/export_eurusd.py",
        path.display()
    );
    path
}

#[test]
fn ml_walk_forward_on_real_eurusd_h1_states_the_out_of_sample_difference() {
    let data = eurusd_csv();
    let dir = scratch("walk");
    let out = ok(&mtq(&[
        "ml",
        "walk-forward",
        "--data",
        data.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--strategy",
        "crossover",
        "--param",
        "fast_period=10",
        "--param",
        "slow_period=30",
        "--param",
        "sl_pips=30",
        "--param",
        "tp_pips=60",
        "--sizing",
        "fixed:1",
        "--wf-in-sample",
        "120",
        "--wf-out-of-sample",
        "30",
        "--trees",
        "40",
        "--no-cache",
        "--report",
        dir.to_str().unwrap(),
    ]));
    let report = json(&dir.join("walk_forward.json"));
    let windows = report["windows"].as_array().unwrap();
    // 5,000 bars from 2017-04-19 to 2018-02-07: 120 days in, then 30-day steps.
    assert!(windows.len() >= 5, "{} windows", windows.len());
    for w in windows {
        assert!(w["train_rows"].as_u64().unwrap() > 1000, "{w}");
        assert!(w["without_model"]["trades"].as_u64().unwrap() > 0, "{w}");
        assert!(w["model_out_of_sample"]["auc"].is_number(), "{w}");
    }
    // The filter only removes entries.
    let trades = |k: &str| report[k].as_u64().unwrap();
    assert!(trades("trades_with") <= trades("trades_without"));
    let money = |k: &str| -> f64 {
        let v = &report[k];
        v.as_f64()
            .or_else(|| v.as_str()?.parse().ok())
            .unwrap_or_else(|| panic!("{k}: {v}"))
    };
    let (with, without) = (money("net_profit_with"), money("net_profit_without"));
    let helps = report["helps"].as_bool().unwrap();
    assert_eq!(helps, with > without);
    let verdict = report["verdict"].as_str().unwrap();
    assert!(out.contains(verdict), "{out}");
    if helps {
        assert!(
            verdict.starts_with("the model helped out of sample"),
            "{verdict}"
        );
    } else {
        assert!(verdict.starts_with("the model does NOT help"), "{verdict}");
    }
}

/// A paper session (the live driver on the simulated broker) for one week of synthetic M5 bars,
/// with `ml` as the symbol's `ml:` section; the signals it stored.
fn paper_session(dir: &Path, ml: &str) -> (Output, Vec<mtq::persistence::SignalRecord>) {
    use mtq::persistence::{SignalRepo, Store};
    let config = dir.join("paper.yaml");
    std::fs::write(
        &config,
        format!(
            "currencies:\n  - symbol: EURUSD\n    timeframe: M5\n    strategy_type: crossover\n    \
             fast_period: 5\n    slow_period: 20\n    sl_pips: 15\n    tp_pips: 30\n    ml: {ml}\n"
        ),
    )
    .unwrap();
    let db = dir.join("paper.sqlite");
    let _ = std::fs::remove_file(&db);
    let url = format!("sqlite://{}", db.display());
    let out = mtq(&[
        "trade",
        "--config",
        config.to_str().unwrap(),
        "--weeks",
        "1",
        "--database-url",
        &url,
    ]);
    let mut store = Store::open(&url).unwrap();
    let from = "2000-01-01T00:00:00Z".parse().unwrap();
    let to = "2100-01-01T00:00:00Z".parse().unwrap();
    (out, store.signals_between(None, from, to).unwrap())
}

#[test]
fn a_paper_session_filters_through_the_model_and_stores_its_readings() {
    use mtq_core::{ModelStatus, SignalKind};
    let dir = scratch("paper");
    let data = csv(&dir, 3000);
    let model = dir.join("eurusd-rf");
    ok(&train(&data, &model, &["--seed", "2"]));
    let (out, signals) = paper_session(
        &dir,
        &format!(
            "{{models: [{{path: {}}}], threshold: 0.5}}",
            model.display()
        ),
    );
    ok(&out);
    let read: Vec<_> = signals
        .iter()
        .filter_map(|s| s.signal.ml.as_ref())
        .collect();
    assert!(read.len() > 5, "{} signals read by the model", read.len());
    assert!(
        read.iter()
            .all(|m| m.model == "eurusd-rf@1" && m.status == ModelStatus::Active)
    );
    // A signal before the features have warmed up is held back without a probability.
    for s in &signals {
        if s.signal
            .ml
            .as_ref()
            .is_some_and(|m| m.probability.is_none())
        {
            assert!(
                s.signal.reason.contains("ml features not ready"),
                "{}",
                s.signal.reason
            );
        }
    }
    assert!(read.iter().filter(|m| m.probability.is_some()).count() > 5);
    // Some entries pass the threshold, some are held back by it.
    let blocked = signals
        .iter()
        .filter(|s| s.signal.kind == SignalKind::Hold && s.signal.reason.contains("blocked"))
        .count();
    let passed = signals
        .iter()
        .filter(|s| matches!(s.signal.kind, SignalKind::Buy | SignalKind::Sell))
        .count();
    assert!(
        blocked > 0 && passed > 0,
        "{blocked} blocked, {passed} passed"
    );
}

#[test]
fn a_paper_session_with_a_broken_model_stops_the_symbol_and_says_so() {
    use mtq_core::{ModelStatus, SignalKind};
    let dir = scratch("paper-broken");
    let missing = dir.join("no-such-model");
    let (out, signals) = paper_session(
        &dir,
        &format!(
            "{{models: [{{path: {}}}], on_failure: stop}}",
            missing.display()
        ),
    );
    ok(&out);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.contains("entries stopped (on_failure: stop)"), "{log}");
    assert!(log.contains("no-such-model"), "{log}");
    assert!(!signals.is_empty());
    assert!(
        signals
            .iter()
            .all(|s| !matches!(s.signal.kind, SignalKind::Buy | SignalKind::Sell))
    );
    let read: Vec<_> = signals
        .iter()
        .filter_map(|s| s.signal.ml.as_ref())
        .collect();
    assert!(!read.is_empty());
    assert!(
        read.iter()
            .all(|m| m.status == ModelStatus::Stopped && m.probability.is_none())
    );
}
