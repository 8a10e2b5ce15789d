//! ONNX model speed on a bar close: features plus the probability for 20 symbols (the issue-22
//! goal: under 1 ms on one core) with the skl2onnx 100-tree random forest (through MTQ's tree
//! walk and, for comparison, forced through tract) and
//! with a PyTorch LSTM of 64 units over a 64-bar window (each symbol keeps its own rolling
//! window), through MTQ's recurrent kernel and, for comparison, forced through tract
//! ([`OnnxModel::without_kernel`]); and one inference of each alone. Then the trader's own path
//! for the LSTM: 20 symbols' [`MlFiltered`] over one [`ModelPool`] (an entry signal on every bar,
//! so every symbol's gate reads the model), the bar close prepared for all symbols first
//! (`Strategy::prepare_bar`, as the live cycle does: one batch) and, beside it, one symbol at a
//! time (as without the pool).
//!
//! `env -u RUST_BACKTRACE cargo bench -p mtq-ml --bench onnx` (tract is 2-3x slower with
//! `RUST_BACKTRACE` set); the models are the fixtures in
//! crates/mtq-ml/tests/fixtures/onnx (scripts/make_onnx_fixtures.py). Results and method:
//! docs/benchmarks.md, "ML inference through tract (issue 22)".

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mtq_core::testkit::{monday, random_walk};
use mtq_core::{Bar, Signal, SignalKind, SymbolSpec, Timeframe};
use mtq_ml::features::FeatureStream;
use mtq_ml::{
    MlFiltered, MlSettings, Model, ModelDir, ModelInput, ModelPool, ModelRef, OnFailure, OnnxModel,
};
use mtq_strategies::{Context, Strategy};

const SYMBOLS: usize = 20;
const WARM: usize = 2000;
const BARS: usize = 3000;

/// The fixture `name`; `tract`: every inference through tract even if the kernel could run it.
fn model(name: &str, tract: bool) -> ModelDir {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name);
    let mut m = ModelDir::load(&dir).unwrap();
    if let Model::Onnx(onnx) = &m.model {
        let onnx: OnnxModel = if tract {
            onnx.clone().without_kernel()
        } else {
            onnx.clone()
        };
        m.model = Model::Onnx(onnx);
    }
    m
}

/// 20 symbols, each with its own walk, warmed up (features and the model's window) on the
/// first `WARM` bars.
struct Symbols {
    series: Vec<Vec<Bar>>,
    streams: Vec<FeatureStream>,
    inputs: Vec<ModelInput>,
    next: usize,
}

impl Symbols {
    fn new(model: &ModelDir) -> Self {
        let series: Vec<Vec<Bar>> = (0..SYMBOLS)
            .map(|s| random_walk(BARS, 100 + s as u64, Timeframe::H1, monday(), 1.1, 10))
            .collect();
        let mut streams = Vec::new();
        let mut inputs = Vec::new();
        for bars in &series {
            let mut f = FeatureStream::new(Timeframe::H1).unwrap();
            let mut input = model.input().unwrap();
            for b in &bars[..WARM] {
                let row = f.update(b, None);
                model.push(&mut input, row);
            }
            streams.push(f);
            inputs.push(input);
        }
        Self {
            series,
            streams,
            inputs,
            next: WARM,
        }
    }

    /// One bar close on every symbol: features, the window, the probability.
    fn bar_close(&mut self, model: &ModelDir) -> f64 {
        let k = self.next;
        let mut sum = 0.0;
        for s in 0..SYMBOLS {
            let row = self.streams[s].update(&self.series[s][k], Some(SignalKind::Buy));
            model.push(&mut self.inputs[s], row);
            sum += model.predict_input(&self.inputs[s]).unwrap().unwrap_or(0.0);
        }
        self.next = if k + 1 < BARS { k + 1 } else { WARM };
        sum
    }

    /// The same bar close with one call for the 20 probabilities (`ModelDir::predict_inputs`).
    fn bar_close_together(&mut self, model: &ModelDir, out: &mut [Option<f64>]) -> f64 {
        let k = self.next;
        for s in 0..SYMBOLS {
            let row = self.streams[s].update(&self.series[s][k], Some(SignalKind::Buy));
            model.push(&mut self.inputs[s], row);
        }
        let refs: [&ModelInput; SYMBOLS] = std::array::from_fn(|s| &self.inputs[s]);
        model.predict_inputs(&refs, out).unwrap();
        self.next = if k + 1 < BARS { k + 1 } else { WARM };
        out.iter().map(|p| p.unwrap_or(0.0)).sum()
    }
}

fn bar_close(c: &mut Criterion) {
    let mut g = c.benchmark_group("onnx");
    g.sample_size(50)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    for (name, tract, label) in [
        ("rf", false, "skl2onnx_forest_100_trees"),
        ("rf", true, "skl2onnx_forest_100_trees_tract"),
        ("lstm64", false, "lstm_64_units_64_bars_kernel"),
        ("lstm64", true, "lstm_64_units_64_bars_tract"),
    ] {
        let model = model(name, tract);
        if let Model::Onnx(m) = &model.model {
            assert_eq!(m.uses_kernel(), !tract, "{label}");
        }
        let mut symbols = Symbols::new(&model);
        g.bench_function(format!("features_and_{label}_20_symbols"), |b| {
            b.iter(|| black_box(symbols.bar_close(&model)));
        });
        if name == "lstm64" {
            let mut out = [None; SYMBOLS];
            g.bench_function(format!("features_and_{label}_20_symbols_together"), |b| {
                b.iter(|| black_box(symbols.bar_close_together(&model, &mut out)));
            });
        }
        let input = symbols.inputs[0].clone();
        g.bench_function(format!("{label}_one_inference"), |b| {
            b.iter(|| black_box(model.predict_input(black_box(&input)).unwrap()));
        });
    }
    g.finish();
}

/// A base strategy that proposes a buy on every bar: the filter's gate reads the model each time.
#[derive(Debug)]
struct AlwaysBuy;

impl Strategy for AlwaysBuy {
    fn name(&self) -> &'static str {
        "always_buy"
    }
    fn warmup_bars(&self) -> usize {
        0
    }
    fn params(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        Signal::new(
            ctx.spec.symbol.clone(),
            ctx.timeframe,
            bar.time,
            SignalKind::Buy,
            1.0,
            "always_buy",
            "bench",
        )
        .ok()
    }
}

/// 20 symbols' filters over one pool, warmed up; `bar_close` hands each its next bar.
struct Filters {
    series: Vec<Vec<Bar>>,
    filters: Vec<MlFiltered>,
    spec: SymbolSpec,
    next: usize,
}

impl Filters {
    fn new() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/lstm64");
        let settings = MlSettings {
            models: vec![ModelRef {
                path: dir,
                weight: 1.0,
            }],
            threshold: 0.5,
            exit_below: None,
            size_by_confidence: false,
            on_failure: OnFailure::Stop,
        };
        let pool = ModelPool::new();
        let spec = SymbolSpec::builtin("EURUSD").unwrap();
        let series: Vec<Vec<Bar>> = (0..SYMBOLS)
            .map(|s| random_walk(BARS, 100 + s as u64, Timeframe::H1, monday(), 1.1, 10))
            .collect();
        let mut filters = Vec::new();
        for bars in &series {
            let mut f =
                MlFiltered::new_in(Box::new(AlwaysBuy), &settings, Timeframe::H1, &pool).unwrap();
            let ctx = Context::new(&spec, Timeframe::H1);
            for b in &bars[..WARM] {
                let _ = f.on_bar(b, &ctx);
            }
            filters.push(f);
        }
        assert_eq!(pool.len(), 1);
        Self {
            series,
            filters,
            spec,
            next: WARM,
        }
    }

    /// One bar close on every symbol; `prepared`: every filter prepares it before any is asked.
    fn bar_close(&mut self, prepared: bool) -> usize {
        let k = self.next;
        let ctx = Context::new(&self.spec, Timeframe::H1);
        if prepared {
            for (f, bars) in self.filters.iter_mut().zip(&self.series) {
                f.prepare_bar(&bars[k], &ctx);
            }
        }
        let mut passed = 0;
        for (f, bars) in self.filters.iter_mut().zip(&self.series) {
            let s = f.on_bar(&bars[k], &ctx);
            passed += usize::from(s.is_some_and(|s| s.kind == SignalKind::Buy));
        }
        self.next = if k + 1 < BARS { k + 1 } else { WARM };
        passed
    }
}

fn ml_filter(c: &mut Criterion) {
    let mut g = c.benchmark_group("onnx");
    g.sample_size(50)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    let mut filters = Filters::new();
    g.bench_function("ml_filter_lstm_64_20_symbols_bar_close_prepared", |b| {
        b.iter(|| black_box(filters.bar_close(true)));
    });
    g.bench_function(
        "ml_filter_lstm_64_20_symbols_bar_close_one_at_a_time",
        |b| {
            b.iter(|| black_box(filters.bar_close(false)));
        },
    );
    g.finish();
}

criterion_group!(benches, bar_close, ml_filter);
criterion_main!(benches);
