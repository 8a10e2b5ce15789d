//! ONNX models through tract: the fixtures written by `scripts/make_onnx_fixtures.py` give the
//! probabilities the exporting library computed (sklearn's `predict_proba`, torch's forward) to
//! 1e-6; a manifest that does not fit the pipeline or the graph is refused with a message naming
//! what to fix (never a panic); a sequence model's streaming window equals the batch path; a
//! model that fails to load goes through `on_failure`.

use std::path::{Path, PathBuf};

use mtq_core::testkit::{monday, random_walk};
use mtq_core::{SignalKind, Timeframe};
use mtq_ml::features::{self, FeatureStream, Row};
use mtq_ml::{MlFiltered, MlSettings, MlStatus, ModelDir, ModelRef, OnFailure};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The rows and probabilities the exporting script wrote.
fn expected(name: &str) -> (Vec<Row>, Vec<f64>, usize) {
    let v = json(&fixture(name).join("expected.json"));
    let rows = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r: Vec<f64> = r
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            Row::try_from(r.as_slice()).unwrap()
        })
        .collect();
    let probs = v["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let window = usize::try_from(v["window"].as_u64().unwrap()).unwrap();
    (rows, probs, window)
}

/// Loads the fixture and checks every window's probability against the exporter's.
fn agrees_with_exporter(name: &str) -> usize {
    let model = ModelDir::load(&fixture(name)).unwrap();
    let (rows, probs, window) = expected(name);
    assert_eq!(model.window(), window);
    assert_eq!(probs.len(), rows.len() + 1 - window);
    assert!(probs.len() >= 8);
    let mut worst = 0.0_f64;
    for (i, want) in probs.iter().enumerate() {
        let got = model.predict_rows(&rows[i..i + window]).unwrap();
        worst = worst.max((got - want).abs());
        assert!(
            (got - want).abs() <= 1e-6,
            "{name} window {i}: tract {got}, exporter {want}"
        );
    }
    // The probabilities vary: a model that answers a constant would pass nothing useful.
    let (lo, hi) = probs
        .iter()
        .fold((1.0_f64, 0.0_f64), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
    assert!(hi - lo > 0.05, "{name}: probabilities within {lo}..{hi}");
    eprintln!(
        "{name}: {} windows, worst difference {worst:e}",
        probs.len()
    );
    probs.len()
}

#[test]
fn the_skl2onnx_random_forest_gives_sklearns_probabilities() {
    assert_eq!(agrees_with_exporter("rf"), 64);
    let model = ModelDir::load(&fixture("rf")).unwrap();
    assert_eq!(model.manifest.id(), "onnx-rf@1");
    // One row through `predict` is the same call.
    let (rows, probs, _) = expected("rf");
    assert!((model.predict(&rows[3]).unwrap() - probs[3]).abs() <= 1e-6);
}

#[test]
fn the_torch_lstm_gives_torchs_probabilities() {
    agrees_with_exporter("lstm");
}

#[test]
fn the_torch_gru_gives_torchs_probabilities() {
    agrees_with_exporter("gru");
}

#[test]
fn the_64_unit_lstm_over_64_bars_gives_torchs_probabilities() {
    agrees_with_exporter("lstm64");
}

/// A copy of a fixture whose manifest `edit` changes, in a scratch directory.
fn edited(name: &str, case: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtq-onnx-{name}-{case}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture(name).join("model.onnx"), dir.join("model.onnx")).unwrap();
    let mut manifest = json(&fixture(name).join("manifest.json"));
    edit(&mut manifest);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    dir
}

fn refused(dir: &Path) -> String {
    match ModelDir::load(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => {
            eprintln!("refused: {e}");
            e.to_string()
        }
    }
}

fn assert_says(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "`{p}` not in: {err}");
    }
}

#[test]
fn a_manifest_with_a_feature_too_few_is_refused_naming_the_width() {
    let dir = edited("rf", "count", |m| {
        m["features"].as_array_mut().unwrap().pop();
    });
    assert_says(
        &refused(&dir),
        &[
            "input `features`",
            "the graph reads 17 features a row, the manifest lists 16",
            "in its order",
        ],
    );
}

#[test]
fn an_unknown_feature_is_refused_naming_the_pipelines_features() {
    let dir = edited("rf", "unknown", |m| m["features"][4] = "rsi_15".into());
    assert_says(
        &refused(&dir),
        &["feature 4 `rsi_15` is not one of the pipeline's", "rsi_14"],
    );
    let dir = edited("rf", "twice", |m| m["features"][4] = "ret_1".into());
    assert_says(
        &refused(&dir),
        &["feature `ret_1` is listed twice (features 0 and 4)"],
    );
}

#[test]
fn a_window_the_graph_does_not_read_is_refused() {
    let dir = edited("lstm", "window", |m| m["window"] = 20.into());
    assert_says(
        &refused(&dir),
        &["the graph reads a window of 16 bars, the manifest's `window` is 20"],
    );
    let dir = edited("gru", "window", |m| m["window"] = 8.into());
    assert_says(
        &refused(&dir),
        &["the graph reads a window of 12 bars, the manifest's `window` is 8"],
    );
    // A sequence window with the one-row layout.
    let dir = edited("lstm", "layout", |m| m["onnx"]["layout"] = "rows".into());
    assert_says(&refused(&dir), &["window 16 with layout `rows`"]);
    // The right window with the wrong layout: [16, 1, 6] against the graph's [1, 16, 6].
    let dir = edited("lstm", "seqfirst", |m| {
        m["onnx"]["layout"] = "sequence_first".into();
    });
    assert_says(
        &refused(&dir),
        &[
            "the graph's input [1, 16, 6] is the `batch_first` layout; the manifest says `sequence_first`",
        ],
    );
}

#[test]
fn a_wrong_input_or_output_is_refused_naming_the_graphs_own() {
    let dir = edited("rf", "output", |m| {
        m["onnx"]["output"] = "probability".into();
    });
    assert_says(
        &refused(&dir),
        &[
            "the graph's outputs are [label, probabilities]",
            "`onnx.output` is `probability`",
        ],
    );
    let dir = edited("rf", "label", |m| m["onnx"]["output"] = "label".into());
    assert_says(
        &refused(&dir),
        &["output `label` holds I64, not probabilities"],
    );
    let dir = edited("rf", "index", |m| m["onnx"]["output_index"] = 2.into());
    assert_says(
        &refused(&dir),
        &["output `probabilities` has shape [1, 2]; `onnx.output_index` 2 is not within it"],
    );
    let dir = edited("lstm", "input", |m| m["onnx"]["input"] = "x".into());
    assert_says(
        &refused(&dir),
        &["the graph's inputs are [window]", "`onnx.input` is `x`"],
    );
}

#[test]
fn bad_scaling_and_a_missing_section_are_refused() {
    let dir = edited("lstm", "scaling", |m| {
        m["scaling"]["std"].as_array_mut().unwrap().pop();
    });
    assert_says(
        &refused(&dir),
        &["scaling has 6 means and 5 deviations for 6 features"],
    );
    let dir = edited("lstm", "zero-std", |m| m["scaling"]["std"][2] = 0.0.into());
    assert_says(&refused(&dir), &["scaling of `ret_3`", "above 0"]);
    let dir = edited("rf", "no-section", |m| {
        m.as_object_mut().unwrap().remove("onnx");
    });
    assert_says(&refused(&dir), &["kind `onnx` needs an `onnx` section"]);
}

#[test]
fn a_missing_or_corrupt_graph_is_an_error_not_a_panic() {
    let dir = edited("rf", "missing", |_| {});
    std::fs::remove_file(dir.join("model.onnx")).unwrap();
    assert_says(&refused(&dir), &["model.onnx", "No such file"]);

    let dir = edited("rf", "garbage", |_| {});
    std::fs::write(
        dir.join("model.onnx"),
        b"this is not a protobuf \xff\xfe\x00",
    )
    .unwrap();
    assert_says(&refused(&dir), &["is not an ONNX model tract can read"]);

    // Cut in half: a valid start, a missing end.
    let dir = edited("lstm", "truncated", |_| {});
    let bytes = std::fs::read(dir.join("model.onnx")).unwrap();
    std::fs::write(dir.join("model.onnx"), &bytes[..bytes.len() / 2]).unwrap();
    let err = refused(&dir);
    assert!(err.contains("model.onnx"), "{err}");

    let dir = edited("rf", "empty", |_| {});
    std::fs::write(dir.join("model.onnx"), b"").unwrap();
    let err = refused(&dir);
    assert!(err.contains("model.onnx"), "{err}");
}

/// Bars with a signal now and then, so `base_signal` varies.
fn bars_and_signals(n: usize) -> (Vec<mtq_core::Bar>, Vec<Option<SignalKind>>) {
    let bars = random_walk(n, 5, Timeframe::H1, monday(), 1.1, 10);
    let signals = (0..n)
        .map(|i| match i % 11 {
            0 => Some(SignalKind::Buy),
            5 => Some(SignalKind::Sell),
            _ => None,
        })
        .collect();
    (bars, signals)
}

#[test]
fn a_sequence_models_streaming_window_equals_the_batch_window() {
    let (bars, signals) = bars_and_signals(900);
    let batch = features::batch(&bars, Timeframe::H1, &signals).unwrap();
    for name in ["lstm", "gru", "rf"] {
        let model = ModelDir::load(&fixture(name)).unwrap();
        let w = model.window();
        let mut stream = FeatureStream::new(Timeframe::H1).unwrap();
        let mut input = model.input().unwrap();
        let (mut compared, mut distinct) = (0, std::collections::BTreeSet::new());
        for (i, bar) in bars.iter().enumerate() {
            let row = stream.update(bar, signals[i]).copied();
            model.push(&mut input, row.as_ref());
            let live = model.predict_input(&input).unwrap();
            let window: Option<Vec<Row>> = (i + 1 >= w)
                .then(|| batch[i + 1 - w..=i].iter().copied().collect())
                .flatten();
            let batch_p = window.map(|rows| model.predict_rows(&rows).unwrap());
            match (live, batch_p) {
                (Some(a), Some(b)) => {
                    assert_eq!(a.to_bits(), b.to_bits(), "{name} bar {i}: {a} vs {b}");
                    compared += 1;
                    distinct.insert(a.to_bits());
                }
                (None, None) => {}
                (a, b) => panic!("{name} bar {i}: streaming {a:?}, batch {b:?}"),
            }
        }
        assert_eq!(
            compared,
            bars.len() - stream.warmup_bars() - (w - 1),
            "{name}"
        );
        assert!(distinct.len() > 10, "{name}: {} distinct", distinct.len());
    }
}

fn settings(path: PathBuf, on_failure: OnFailure) -> MlSettings {
    MlSettings {
        models: vec![ModelRef { path, weight: 1.0 }],
        threshold: 0.5,
        exit_below: None,
        size_by_confidence: false,
        on_failure,
    }
}

fn crossover() -> Box<dyn mtq_strategies::Strategy> {
    mtq_strategies::registry::build("crossover", &serde_json::json!({})).unwrap()
}

#[test]
fn a_model_that_fails_to_load_falls_back_or_stops_as_configured() {
    let dir = edited("lstm", "fail", |m| m["window"] = 20.into());
    let fallback = MlFiltered::new(
        crossover(),
        &settings(dir.clone(), OnFailure::Fallback),
        Timeframe::H1,
    )
    .unwrap();
    match fallback.status() {
        MlStatus::FallenBack(why) => {
            assert_says(why, &["load failed", "window of 16 bars"]);
        }
        s => panic!("{s:?}"),
    }
    let stop =
        MlFiltered::new(crossover(), &settings(dir, OnFailure::Stop), Timeframe::H1).unwrap();
    assert!(
        matches!(stop.status(), MlStatus::Stopped(_)),
        "{:?}",
        stop.status()
    );
    let ok = MlFiltered::new(
        crossover(),
        &settings(fixture("lstm"), OnFailure::Stop),
        Timeframe::H1,
    )
    .unwrap();
    assert_eq!(ok.status(), &MlStatus::Active);
    assert_eq!(ok.model_id(), "onnx-lstm@1");
    // Its first window is full 15 bars after the first row of features.
    let rows_from = FeatureStream::new(Timeframe::H1).unwrap().warmup_bars();
    assert_eq!(mtq_strategies::Strategy::warmup_bars(&ok), rows_from + 15);
}
