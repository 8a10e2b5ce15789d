//! ONNX models in backtests, through a symbol's `ml:` section like MTQ's own forest: the
//! skl2onnx random forest and the PyTorch LSTM fixtures (crates/mtq-ml/tests/fixtures/onnx,
//! written by scripts/make_onnx_fixtures.py) filter the strategy's entries at a threshold, and a
//! graph that fails to load goes through `on_failure`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use mtq_backtest::testkit::random_walk;
use mtq_backtest::{Backtest, BacktestResult, SetupOptions, Sizing};
use mtq_core::{Bar, DomainEvent, EventKind, ModelStatus, Signal, SignalKind, Timeframe};

fn bars() -> Vec<Bar> {
    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    random_walk(3000, 11, Timeframe::H1, start, 1.1, 10)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mtq-ml/tests/fixtures/onnx")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtq-onnx-bt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn options(config: Option<PathBuf>) -> SetupOptions {
    SetupOptions {
        symbol: "EURUSD".into(),
        strategy: Some("crossover".into()),
        params: vec![
            ("fast_period".into(), "10".into()),
            ("slow_period".into(), "30".into()),
            ("sl_pips".into(), "30".into()),
            ("tp_pips".into(), "60".into()),
        ],
        config,
        timeframe: Timeframe::H1,
        sizing: Some(Sizing::Fixed(1.into())),
        ..SetupOptions::default()
    }
}

/// No portfolio caps, kill switch or position management, so that only the model differs.
const PLAIN: &str = "global: {max_concurrent_trades: 100, portfolio_risk_percent: 100, \
    max_currency_exposure_percent: null, min_margin_level_percent: null}\n\
    modifications: {enable_breakeven: false, enable_trailing_stop: false, enable_partial_close: false}\n\
    emergency: {emergency_stop: false, close_all_on_stop: false, stop_on_daily_loss: false, \
    max_daily_loss_percent: null, stop_on_max_drawdown: false, max_drawdown_percent: null, \
    max_consecutive_order_failures: null}\n";

fn config(dir: &Path, tag: &str, ml: &str) -> PathBuf {
    let path = dir.join(format!("config-{tag}.yaml"));
    std::fs::write(
        &path,
        format!(
            "{PLAIN}currencies:\n  - symbol: EURUSD\n    timeframe: H1\n    strategy_type: crossover\n    \
             fast_period: 10\n    slow_period: 30\n    sl_pips: 30\n    tp_pips: 60\n    \
             ml: {ml}\n"
        ),
    )
    .unwrap();
    path
}

fn run(config: Option<PathBuf>, bars: &[Bar]) -> (BacktestResult, Vec<Signal>) {
    let signals: Arc<Mutex<Vec<Signal>>> = Arc::default();
    let sink = signals.clone();
    let bt = Backtest::new(options(config).build().unwrap())
        .unwrap()
        .with_events(move |e: DomainEvent| {
            if let EventKind::SignalRecorded { signal, .. } = e.kind {
                sink.lock().unwrap().push(signal);
            }
        });
    let result = bt.run(bars);
    let signals = signals.lock().unwrap().clone();
    (result, signals)
}

fn entries(r: &BacktestResult) -> Vec<DateTime<Utc>> {
    r.trades.iter().map(|t| t.entry_time).collect()
}

/// The model's probabilities on the entries it read, in a run that blocks nothing.
fn read(signals: &[Signal], id: &str) -> Vec<f64> {
    signals
        .iter()
        .filter_map(|s| s.ml.as_ref())
        .inspect(|m| {
            assert_eq!(m.model, id);
            assert_eq!(m.status, ModelStatus::Active);
        })
        .filter_map(|m| m.probability)
        .collect()
}

/// With the model at threshold 0 the run is the strategy's own (from the model's warm-up on);
/// at the median of its readings it removes the entries below it and only those.
fn filters_like_a_model(name: &str, id: &str) {
    let bars = bars();
    let dir = scratch(name);
    let path = fixture(name);
    let ml = |t: f64| {
        config(
            &dir,
            &format!("{name}-{t}"),
            &format!("{{models: [{{path: {}}}], threshold: {t}}}", path.display()),
        )
    };
    let (base, _) = run(None, &bars);
    let (open, open_signals) = run(Some(ml(0.0)), &bars);
    assert!(base.trades.len() > 20, "{} trades", base.trades.len());
    let from = open.trades[0].entry_time;
    let alongside: Vec<_> = entries(&base).into_iter().filter(|t| *t >= from).collect();
    assert_eq!(
        entries(&open),
        alongside,
        "{name}: threshold 0 changed the trades"
    );

    let mut ps = read(&open_signals, id);
    assert!(ps.len() > 20, "{name}: {} readings", ps.len());
    ps.sort_by(f64::total_cmp);
    let median = ps[ps.len() / 2];
    assert!(ps[0] < median, "{name}: every reading is {median}");
    let t = (median * 1000.0).round() / 1000.0;
    let (filtered, signals) = run(Some(ml(t)), &bars);
    assert!(
        !filtered.trades.is_empty() && filtered.trades.len() < open.trades.len(),
        "{name}: {} trades at {t}, {} at 0",
        filtered.trades.len(),
        open.trades.len()
    );
    assert!(
        entries(&filtered)
            .iter()
            .all(|e| entries(&base).contains(e))
    );
    // Every entry signal cleared the threshold; every blocked one fell short of it.
    let mut blocked = 0;
    for s in &signals {
        let Some(p) = s.ml.as_ref().and_then(|m| m.probability) else {
            continue;
        };
        match s.kind {
            SignalKind::Buy | SignalKind::Sell => assert!(p >= t, "{name}: entry at p={p} < {t}"),
            SignalKind::Hold => {
                assert!(p < t, "{name}: blocked at p={p} >= {t}");
                assert!(s.reason.contains(&format!("ml {id} p=")), "{}", s.reason);
                blocked += 1;
            }
            _ => {}
        }
    }
    assert!(blocked > 0, "{name}: nothing blocked at {t}");
}

#[test]
fn the_skl2onnx_forest_filters_a_backtests_entries() {
    filters_like_a_model("rf", "onnx-rf@1");
}

#[test]
fn the_torch_lstm_filters_a_backtests_entries() {
    filters_like_a_model("lstm", "onnx-lstm@1");
}

#[test]
fn a_corrupt_graph_stops_the_symbol_when_configured() {
    let bars = bars();
    let dir = scratch("corrupt");
    let model = dir.join("model");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::copy(
        fixture("rf").join("manifest.json"),
        model.join("manifest.json"),
    )
    .unwrap();
    std::fs::write(model.join("model.onnx"), b"not onnx").unwrap();
    let cfg = |how: &str| {
        config(
            &dir,
            how,
            &format!(
                "{{models: [{{path: {}}}], threshold: 0.5, on_failure: {how}}}",
                model.display()
            ),
        )
    };
    let (base, _) = run(None, &bars);
    let (stopped, signals) = run(Some(cfg("stop")), &bars);
    assert!(stopped.trades.is_empty());
    assert!(
        signals
            .iter()
            .any(|s| s.reason.contains("symbol stopped") && s.reason.contains("not an ONNX model"))
    );
    let (fallen, signals) = run(Some(cfg("fallback")), &bars);
    // The strategy's own entries, from the (unused) model's warm-up on.
    let from = fallen.trades[0].entry_time;
    let alongside: Vec<_> = entries(&base).into_iter().filter(|t| *t >= from).collect();
    assert_eq!(entries(&fallen), alongside);
    assert!(signals.iter().any(|s| {
        s.ml.as_ref()
            .is_some_and(|m| m.status == ModelStatus::FallenBack)
    }));
}
