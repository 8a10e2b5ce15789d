//! Models in backtests: a symbol's `ml:` section filters entries (threshold), scales size by
//! confidence, closes losing positions (position manager), and a model that fails to load falls
//! back to the strategy or stops the symbol, as configured.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use mtq_backtest::testkit::random_walk;
use mtq_backtest::{Backtest, BacktestResult, SetupOptions, Sizing};
use mtq_core::{Bar, DomainEvent, EventKind, ModelStatus, Signal, SignalKind, Timeframe};
use mtq_ml::{ForestParams, LabelSpec, TrainOptions};

fn start() -> DateTime<Utc> {
    "2024-01-01T00:00:00Z".parse().unwrap()
}

fn bars() -> Vec<Bar> {
    random_walk(6000, 11, Timeframe::H1, start(), 1.1, 10)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtq-ml-bt-{name}-{}", std::process::id()));
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

/// A model trained on the first half of the bars, written to `dir/model`.
fn trained_model(dir: &Path, bars: &[Bar]) -> PathBuf {
    trained_model_seeded(dir, bars, 1)
}

fn trained_model_seeded(dir: &Path, bars: &[Bar], seed: u64) -> PathBuf {
    let setup = options(None).build().unwrap();
    let opts = TrainOptions {
        name: "eurusd-rf".into(),
        version: "3".into(),
        label: LabelSpec::ForwardReturn {
            horizon: 12,
            threshold: 0.0005,
        },
        forest: ForestParams {
            trees: 30,
            seed,
            ..ForestParams::default()
        },
        train_fraction: 0.8,
        threshold: 0.55,
    };
    let trained = mtq_backtest::ml::train_on(&setup, &bars[..3000], &opts).unwrap();
    let path = dir.join(format!("model-{seed}"));
    trained.model.save(&path).unwrap();
    path
}

/// No portfolio caps, kill switch or position management: what a backtest without `--config`
/// runs with (`mtq_backtest::plain_base`), so that only the model differs.
const PLAIN: &str = "global: {max_concurrent_trades: 100, portfolio_risk_percent: 100, \
    max_currency_exposure_percent: null, min_margin_level_percent: null}\n\
    modifications: {enable_breakeven: false, enable_trailing_stop: false, enable_partial_close: false}\n\
    emergency: {emergency_stop: false, close_all_on_stop: false, stop_on_daily_loss: false, \
    max_daily_loss_percent: null, stop_on_max_drawdown: false, max_drawdown_percent: null, \
    max_consecutive_order_failures: null}\n";

/// A configuration trading EURUSD with `ml` (YAML flow map) as its `ml:` section.
fn config(dir: &Path, ml: &str) -> PathBuf {
    let path = dir.join(format!("config-{}.yaml", ml.len()));
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

type Recorded = Arc<Mutex<Vec<Signal>>>;

fn run(config: Option<PathBuf>, bars: &[Bar]) -> (BacktestResult, Vec<Signal>) {
    let signals: Recorded = Arc::default();
    let sink = signals.clone();
    let bt = Backtest::new(options(config).build().unwrap())
        .unwrap()
        .with_events(move |e: DomainEvent| {
            if let EventKind::SignalRecorded { signal, .. } = e.kind {
                sink.lock().unwrap().push(signal);
            }
        });
    let result = bt.run(&bars[3000..]);
    let signals = signals.lock().unwrap().clone();
    (result, signals)
}

fn entries(r: &BacktestResult) -> Vec<DateTime<Utc>> {
    r.trades.iter().map(|t| t.entry_time).collect()
}

/// The entries of `r` from the first entry of `model_run` on: a model's features warm up for
/// longer than the strategy, so the strategy alone starts trading earlier.
fn entries_alongside(r: &BacktestResult, model_run: &BacktestResult) -> Vec<DateTime<Utc>> {
    let from = model_run.trades[0].entry_time;
    entries(r).into_iter().filter(|t| *t >= from).collect()
}

#[test]
fn the_entry_filter_lets_through_fewer_trades_as_its_threshold_rises() {
    let bars = bars();
    let dir = scratch("filter");
    let model = trained_model(&dir, &bars);
    let ml = |t: f64| {
        config(
            &dir,
            &format!(
                "{{models: [{{path: {}}}], threshold: {t}}}",
                model.display()
            ),
        )
    };
    let (base, _) = run(None, &bars);
    let (open, open_signals) = run(Some(ml(0.0)), &bars);
    let (mid, mid_signals) = run(Some(ml(0.52)), &bars);
    let (shut, _) = run(Some(ml(0.999)), &bars);
    assert!(base.trades.len() > 20, "{} trades", base.trades.len());
    // Threshold 0 blocks nothing once the features are warm: the strategy's own trades.
    assert_eq!(entries(&open), entries_alongside(&base, &open));
    // Each entry read by the model carries its id and probability.
    let read: Vec<_> = open_signals.iter().filter_map(|s| s.ml.as_ref()).collect();
    assert!(!read.is_empty());
    assert!(
        read.iter()
            .all(|m| m.model == "eurusd-rf@3" && m.status == ModelStatus::Active)
    );
    assert!(
        read.iter()
            .all(|m| m.probability.is_some_and(|p| (0.0..=1.0).contains(&p)))
    );
    // A higher threshold only removes entries: the filtered run's entries are the strategy's.
    assert!(
        mid.trades.len() < base.trades.len(),
        "{} vs {}",
        mid.trades.len(),
        base.trades.len()
    );
    assert!(!mid.trades.is_empty());
    assert!(entries(&mid).iter().all(|t| entries(&base).contains(t)));
    let blocked = mid_signals
        .iter()
        .filter(|s| s.kind == SignalKind::Hold && s.reason.contains("< 0.52"))
        .count();
    assert!(blocked > 0);
    assert!(
        shut.trades.is_empty(),
        "{} trades at 0.999",
        shut.trades.len()
    );
}

#[test]
fn size_by_confidence_never_trades_more_than_the_risk_rules_size() {
    let bars = bars();
    let dir = scratch("size");
    let model = trained_model(&dir, &bars);
    let cfg = config(
        &dir,
        &format!(
            "{{models: [{{path: {}}}], threshold: 0.0, size_by_confidence: true}}",
            model.display()
        ),
    );
    let (base, _) = run(None, &bars);
    let (scaled, _) = run(Some(cfg), &bars);
    assert_eq!(entries(&scaled), entries_alongside(&base, &scaled));
    let mut smaller = 0;
    for s in &scaled.trades {
        let b = base
            .trades
            .iter()
            .find(|b| b.entry_time == s.entry_time)
            .unwrap();
        assert!(s.volume <= b.volume, "{} above {}", s.volume, b.volume);
        if s.volume < b.volume {
            smaller += 1;
        }
    }
    assert!(smaller > 0);
}

#[test]
fn the_position_manager_closes_losing_positions_when_confidence_falls() {
    let bars = bars();
    let dir = scratch("manager");
    let model = trained_model(&dir, &bars);
    let cfg = config(
        &dir,
        &format!(
            "{{models: [{{path: {}}}], threshold: 0.0, exit_below: 0.5}}",
            model.display()
        ),
    );
    let (base, _) = run(None, &bars);
    let (managed, signals) = run(Some(cfg), &bars);
    let closes: Vec<_> = signals
        .iter()
        .filter(|s| s.kind == SignalKind::Close && s.reason.contains("exit_below 0.5"))
        .collect();
    assert!(!closes.is_empty());
    assert!(closes.iter().all(|s| {
        s.ml.as_ref()
            .and_then(|m| m.probability)
            .is_some_and(|p| p < 0.5)
    }));
    // Positions closed early: the same strategy, shorter holds.
    let from = managed.trades[0].entry_time;
    let held = |r: &BacktestResult| {
        r.trades
            .iter()
            .filter(|t| t.entry_time >= from)
            .map(|t| (t.exit_time - t.entry_time).num_minutes())
            .sum::<i64>()
    };
    assert!(held(&managed) < held(&base));
}

#[test]
fn a_model_that_fails_to_load_falls_back_or_stops_the_symbol_as_configured() {
    let bars = bars();
    let dir = scratch("broken");
    let missing = dir.join("no-such-model");
    let (base, _) = run(None, &bars);
    let fallback = config(
        &dir,
        &format!(
            "{{models: [{{path: {}}}], threshold: 0.9, on_failure: fallback}}",
            missing.display()
        ),
    );
    let (fell_back, signals) = run(Some(fallback), &bars);
    assert_eq!(entries(&fell_back), entries_alongside(&base, &fell_back));
    let read: Vec<_> = signals.iter().filter_map(|s| s.ml.as_ref()).collect();
    assert!(!read.is_empty());
    assert!(
        read.iter()
            .all(|m| m.status == ModelStatus::FallenBack && m.probability.is_none())
    );
    assert!(signals.iter().any(|s| s.reason.contains("ml unavailable")));

    let stop = config(
        &dir,
        &format!(
            "{{models: [{{path: {}}}], on_failure: stop}}",
            missing.display()
        ),
    );
    let (stopped, signals) = run(Some(stop), &bars);
    assert!(stopped.trades.is_empty());
    assert!(
        signals
            .iter()
            .filter_map(|s| s.ml.as_ref())
            .all(|m| m.status == ModelStatus::Stopped)
    );
    assert!(signals.iter().any(|s| s.reason.contains("symbol stopped")));
}

#[test]
fn a_manifest_that_does_not_match_the_pipeline_is_a_failed_load_never_a_misread() {
    let bars = bars();
    let dir = scratch("mismatch");
    let model = trained_model(&dir, &bars);
    let manifest = model.join("manifest.json");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("\"rsi_14\"", "\"rsi_21\"");
    std::fs::write(&manifest, text).unwrap();
    let cfg = config(
        &dir,
        &format!(
            "{{models: [{{path: {}}}], on_failure: stop}}",
            model.display()
        ),
    );
    let (stopped, signals) = run(Some(cfg), &bars);
    assert!(stopped.trades.is_empty());
    let why = signals
        .iter()
        .find(|s| s.reason.contains("symbol stopped"))
        .unwrap();
    assert!(
        why.reason
            .contains("`rsi_21` in the manifest, `rsi_14` in the pipeline"),
        "{}",
        why.reason
    );
}

#[test]
fn an_ensemble_reads_the_weighted_mean_of_its_models() {
    let bars = bars();
    let dir = scratch("ensemble");
    let a = trained_model_seeded(&dir, &bars, 1);
    let b = trained_model_seeded(&dir, &bars, 2);
    let single = |m: &Path| {
        config(
            &dir,
            &format!("{{models: [{{path: {}}}], threshold: 0.0}}", m.display()),
        )
    };
    let both = config(
        &dir,
        &format!(
            "{{models: [{{path: {}, weight: 3}}, {{path: {}, weight: 1}}], threshold: 0.0}}",
            a.display(),
            b.display()
        ),
    );
    let probabilities = |signals: &[Signal]| -> Vec<f64> {
        signals
            .iter()
            .filter_map(|s| s.ml.as_ref()?.probability)
            .collect()
    };
    let (_, sa) = run(Some(single(&a)), &bars);
    let (_, sb) = run(Some(single(&b)), &bars);
    let (_, se) = run(Some(both), &bars);
    let (pa, pb, pe) = (probabilities(&sa), probabilities(&sb), probabilities(&se));
    assert!(!pe.is_empty());
    assert_eq!((pa.len(), pb.len()), (pe.len(), pe.len()));
    for k in 0..pe.len() {
        let expected = (3.0 * pa[k] + pb[k]) / 4.0;
        assert!(
            (pe[k] - expected).abs() < 1e-12,
            "signal {k}: {} vs {expected}",
            pe[k]
        );
    }
    assert!(
        pa.iter().zip(&pb).any(|(x, y)| (x - y).abs() > 1e-6),
        "two seeds, one forest"
    );
    let ids: Vec<_> = se
        .iter()
        .filter_map(|s| s.ml.as_ref())
        .map(|m| m.model.as_str())
        .collect();
    assert!(ids.iter().all(|m| *m == "eurusd-rf@3+eurusd-rf@3"));
}

#[test]
fn an_optimisation_evaluates_every_set_behind_the_symbols_models() {
    use mtq_backtest::optimize::{
        Objective, OptimizeOptions, Search, SetupFactory, optimize, parse_range,
    };
    let bars = bars();
    let dir = scratch("optimise");
    let model = trained_model(&dir, &bars);
    let grid = OptimizeOptions {
        ranges: vec![parse_range("fast_period=5..15:5").unwrap()],
        search: Search::Grid,
        objective: Objective::NetProfit,
        min_trades: 1,
        jobs: Some(2),
        progress: false,
    };
    let run = |config: Option<PathBuf>| {
        let factory = SetupFactory::new(options(config).build().unwrap());
        let o = optimize(&factory, &bars[3000..], &grid).unwrap();
        let mut by_fast: Vec<(String, u64)> = o
            .results
            .iter()
            .map(|e| (e.params["fast_period"].to_string(), e.stats.trades))
            .collect();
        by_fast.sort();
        by_fast
    };
    let ml = |t: f64| {
        config(
            &dir,
            &format!(
                "{{models: [{{path: {}}}], threshold: {t}}}",
                model.display()
            ),
        )
    };
    let alone = run(None);
    let filtered = run(Some(ml(0.52)));
    let shut = run(Some(ml(0.999)));
    assert_eq!(alone.len(), 3, "{alone:?}");
    assert_eq!(
        filtered.iter().map(|r| &r.0).collect::<Vec<_>>(),
        alone.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    // Every set's strategy is behind the models: fewer trades each, none at 0.999.
    for ((fast, base), (_, with)) in alone.iter().zip(&filtered) {
        assert!(*base > 0, "fast {fast}: no trades alone");
        assert!(
            with < base,
            "fast {fast}: {with} trades with the model, {base} without"
        );
    }
    assert!(shut.iter().all(|(_, n)| *n == 0), "{shut:?}");
}
