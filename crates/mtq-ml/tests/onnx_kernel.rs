//! MTQ's recurrent kernel against tract: the PyTorch LSTM and GRU fixtures run through the
//! kernel, give tract's probability to 1e-6 on 200 random windows each (and the exporter's,
//! tests/onnx.rs), streaming and batch alike; a graph the kernel does not recognise exactly
//! still loads and runs through tract. The skl2onnx forest runs through MTQ's tree walk and
//! gives tract's probability bit for bit.

use std::path::{Path, PathBuf};

use mtq_ml::features::Row;
use mtq_ml::{Model, ModelDir, OnnxModel};
use prost::Message as _;
use serde_json::Value;
use tract_onnx::pb::{AttributeProto, NodeProto};
use tract_onnx::prelude::Framework as _;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

fn onnx(dir: &ModelDir) -> &OnnxModel {
    match &dir.model {
        Model::Onnx(m) => m,
        Model::Forest(_) => panic!("not an ONNX model"),
    }
}

/// The same model directory with every inference through tract.
fn through_tract(dir: &ModelDir) -> ModelDir {
    ModelDir {
        manifest: dir.manifest.clone(),
        model: Model::Onnx(onnx(dir).clone().without_kernel()),
    }
}

/// The exporter's rows (plausible feature values).
fn rows(name: &str) -> Vec<Row> {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(name).join("expected.json")).unwrap(),
    )
    .unwrap();
    v["rows"]
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
        .collect()
}

/// A seeded generator (no dependency): uniform in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` random windows: each row one of the exporter's rows, each value moved by up to ±60%
/// of its size (plus a little noise around zero), the discrete columns sometimes flipped.
fn random_windows(name: &str, window: usize, n: usize, seed: u64) -> Vec<Vec<Row>> {
    let base = rows(name);
    let mut rng = Lcg(seed);
    (0..n)
        .map(|_| {
            (0..window)
                .map(|_| {
                    let k = usize::try_from(rng.0 >> 33).unwrap() % base.len();
                    let mut row = base[k];
                    for v in &mut row {
                        *v = *v * (0.4 + 1.2 * rng.next()) + (rng.next() - 0.5) * 1e-4;
                    }
                    row
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_torch_fixtures_run_through_the_kernel_and_give_tracts_probability() {
    for (name, seed) in [("lstm", 1), ("gru", 2), ("lstm64", 3)] {
        let kernel = ModelDir::load(&fixture(name)).unwrap();
        assert!(onnx(&kernel).uses_kernel(), "{name}: not recognised");
        let tract = through_tract(&kernel);
        assert!(!onnx(&tract).uses_kernel());
        let (mut worst, mut lo, mut hi) = (0.0_f64, 1.0_f64, 0.0_f64);
        for (i, w) in random_windows(name, kernel.window(), 200, seed)
            .iter()
            .enumerate()
        {
            let got = kernel.predict_rows(w).unwrap();
            let want = tract.predict_rows(w).unwrap();
            assert!(
                (got - want).abs() <= 1e-6,
                "{name} window {i}: kernel {got}, tract {want}"
            );
            worst = worst.max((got - want).abs());
            lo = lo.min(got);
            hi = hi.max(got);
        }
        // The windows move the probability: agreement on a constant would prove nothing.
        assert!(hi - lo > 0.05, "{name}: {lo}..{hi}");
        eprintln!(
            "{name}: 200 random windows, worst |kernel - tract| {worst:e}, p in {lo:.3}..{hi:.3}"
        );
    }
}

#[test]
fn streaming_through_the_kernel_equals_its_batch_and_tracts_streaming() {
    for name in ["lstm", "gru", "lstm64"] {
        let kernel = ModelDir::load(&fixture(name)).unwrap();
        let tract = through_tract(&kernel);
        let w = kernel.window();
        let stream: Vec<Row> = random_windows(name, 1, 3 * w, 9)
            .into_iter()
            .map(|r| r[0])
            .collect();
        let (mut ki, mut ti) = (kernel.input().unwrap(), tract.input().unwrap());
        // An input made by the tract model, read by the kernel model (and the reverse).
        let (mut cross_k, mut cross_t) = (tract.input().unwrap(), kernel.input().unwrap());
        let mut compared = 0;
        for (i, row) in stream.iter().enumerate() {
            // A gap empties the windows in both.
            let row = (i != w + 3).then_some(row);
            for (m, input) in [
                (&kernel, &mut ki),
                (&tract, &mut ti),
                (&tract, &mut cross_k),
                (&kernel, &mut cross_t),
            ] {
                m.push(input, row);
            }
            let live = kernel.predict_input(&ki).unwrap();
            let reference = tract.predict_input(&ti).unwrap();
            assert_eq!(
                kernel.predict_input(&cross_k).unwrap(),
                live,
                "{name} bar {i}"
            );
            assert_eq!(
                tract.predict_input(&cross_t).unwrap(),
                reference,
                "{name} bar {i}"
            );
            match (live, reference) {
                (Some(a), Some(b)) => {
                    let batch = kernel.predict_rows(&stream[i + 1 - w..=i]).unwrap();
                    assert_eq!(a.to_bits(), batch.to_bits(), "{name} bar {i}");
                    assert!((a - b).abs() <= 1e-6, "{name} bar {i}: {a} vs tract {b}");
                    compared += 1;
                }
                (None, None) => {}
                (a, b) => panic!("{name} bar {i}: kernel {a:?}, tract {b:?}"),
            }
        }
        // Bars w-1..=w+2 before the gap, 2w+3..3w after it.
        assert_eq!(compared, 4 + (w - 3), "{name}");
    }
}

/// A copy of a fixture whose graph `edit` changes, written with prost, in a scratch directory.
fn edited_graph(name: &str, case: &str, edit: impl FnOnce(&mut Vec<NodeProto>)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mtq-kernel-{name}-{case}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        fixture(name).join("manifest.json"),
        dir.join("manifest.json"),
    )
    .unwrap();
    let bytes = std::fs::read(fixture(name).join("model.onnx")).unwrap();
    let mut proto = tract_onnx::onnx()
        .proto_model_for_read(&mut bytes.as_slice())
        .unwrap();
    edit(&mut proto.graph.as_mut().unwrap().node);
    std::fs::write(dir.join("model.onnx"), proto.encode_to_vec()).unwrap();
    dir
}

#[test]
fn a_graph_the_kernel_does_not_recognise_exactly_runs_through_tract() {
    // The graph written back unchanged: still recognised (the edit is what refuses).
    let same = ModelDir::load(&edited_graph("lstm", "same", |_| {})).unwrap();
    assert!(onnx(&same).uses_kernel());

    // An extra operator (an Identity before the sigmoid), and the LSTM's default activations
    // spelled out: the same model for tract, not the exact shape the kernel accepts.
    let identity = edited_graph("lstm", "identity", |nodes| {
        let sig = nodes.iter().position(|n| n.op_type == "Sigmoid").unwrap();
        let logit = std::mem::replace(&mut nodes[sig].input[0], "extra".into());
        nodes.insert(
            sig,
            NodeProto {
                op_type: "Identity".into(),
                name: "extra".into(),
                input: vec![logit],
                output: vec!["extra".into()],
                ..NodeProto::default()
            },
        );
    });
    let activations = edited_graph("lstm", "activations", |nodes| {
        let lstm = nodes.iter_mut().find(|n| n.op_type == "LSTM").unwrap();
        lstm.attribute.push(AttributeProto {
            name: "activations".into(),
            r#type: 8,
            strings: vec![b"Sigmoid".to_vec(), b"Tanh".to_vec(), b"Tanh".to_vec()],
            ..AttributeProto::default()
        });
    });
    let reference = ModelDir::load(&fixture("lstm")).unwrap();
    let windows = random_windows("lstm", 16, 20, 5);
    for dir in [identity, activations] {
        let m = ModelDir::load(&dir).unwrap();
        assert!(!onnx(&m).uses_kernel(), "{}", dir.display());
        for w in &windows {
            let (a, b) = (
                m.predict_rows(w).unwrap(),
                reference.predict_rows(w).unwrap(),
            );
            assert!((a - b).abs() <= 1e-6, "{}: {a} vs {b}", dir.display());
        }
    }
}

#[test]
fn the_skl2onnx_forest_runs_through_the_tree_walk_and_gives_tracts_probability_bit_for_bit() {
    let walk = ModelDir::load(&fixture("rf")).unwrap();
    assert!(onnx(&walk).uses_kernel(), "the forest is not recognised");
    let tract = through_tract(&walk);
    assert!(!onnx(&tract).uses_kernel());
    let (mut lo, mut hi) = (1.0_f64, 0.0_f64);
    for (i, w) in random_windows("rf", 1, 2000, 7).iter().enumerate() {
        let (got, want) = (
            walk.predict_rows(w).unwrap(),
            tract.predict_rows(w).unwrap(),
        );
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "row {i}: walk {got}, tract {want}"
        );
        lo = lo.min(got);
        hi = hi.max(got);
    }
    // The rows move the probability: agreement on a constant would prove nothing.
    assert!(hi - lo > 0.05, "{lo}..{hi}");

    // Both give scikit-learn's `predict_proba` to 1e-6 on the exporter's rows.
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("rf").join("expected.json")).unwrap(),
    )
    .unwrap();
    let rows = rows("rf");
    let (mut ww, mut wt) = (0.0_f64, 0.0_f64);
    for (i, want) in v["probabilities"].as_array().unwrap().iter().enumerate() {
        let want = want.as_f64().unwrap();
        let k = walk.predict_rows(&rows[i..=i]).unwrap();
        let t = tract.predict_rows(&rows[i..=i]).unwrap();
        assert!((k - want).abs() <= 1e-6, "{i}: walk {k}, sklearn {want}");
        ww = ww.max((k - want).abs());
        wt = wt.max((t - want).abs());
    }
    eprintln!("rf: worst against sklearn: walk {ww:e}, tract {wt:e}; p in {lo:.3}..{hi:.3}");

    // The first column (`output_index` 0, the other class): `1 - p`, through the walk too.
    let dir = edited_graph("rf", "first-column", |_| {});
    let mut m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    m["onnx"]["output_index"] = 0.into();
    std::fs::write(dir.join("manifest.json"), m.to_string()).unwrap();
    let first = ModelDir::load(&dir).unwrap();
    assert!(onnx(&first).uses_kernel());
    let first_tract = through_tract(&first);
    for w in &random_windows("rf", 1, 200, 8) {
        let (a, b) = (
            first.predict_rows(w).unwrap(),
            first_tract.predict_rows(w).unwrap(),
        );
        assert_eq!(a.to_bits(), b.to_bits());
        assert!((a + walk.predict_rows(w).unwrap() - 1.0).abs() <= 1e-6);
    }

    // A post-transform the walk does not take (LOGISTIC): the graph loads, runs through tract,
    // and tract applies the sigmoid to the same score.
    let logistic = edited_graph("rf", "logistic", |nodes| {
        let post = nodes[0]
            .attribute
            .iter_mut()
            .find(|a| a.name == "post_transform")
            .unwrap();
        post.s = b"LOGISTIC".to_vec();
    });
    let m = ModelDir::load(&logistic).unwrap();
    assert!(!onnx(&m).uses_kernel());
    for w in &random_windows("rf", 1, 50, 9) {
        let s = walk.predict_rows(w).unwrap();
        let p = m.predict_rows(w).unwrap();
        assert!(
            (p - 1.0 / (1.0 + (-s).exp())).abs() <= 1e-6,
            "{p} for a score of {s}"
        );
    }
}

#[test]
fn the_kernel_and_tract_both_give_the_exporters_probabilities() {
    for name in ["lstm", "gru", "lstm64"] {
        let kernel = ModelDir::load(&fixture(name)).unwrap();
        let tract = through_tract(&kernel);
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture(name).join("expected.json")).unwrap(),
        )
        .unwrap();
        let probs: Vec<f64> = v["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        let (rows, w) = (rows(name), kernel.window());
        let (mut wk, mut wt) = (0.0_f64, 0.0_f64);
        for (i, want) in probs.iter().enumerate() {
            let k = kernel.predict_rows(&rows[i..i + w]).unwrap();
            let t = tract.predict_rows(&rows[i..i + w]).unwrap();
            assert!(
                (k - want).abs() <= 1e-6,
                "{name} {i}: kernel {k}, torch {want}"
            );
            assert!(
                (t - want).abs() <= 1e-6,
                "{name} {i}: tract {t}, torch {want}"
            );
            wk = wk.max((k - want).abs());
            wt = wt.max((t - want).abs());
        }
        eprintln!("{name}: worst against torch: kernel {wk:e}, tract {wt:e}");
    }
}

#[test]
fn a_bar_close_for_many_symbols_gives_each_symbols_own_probability_bit_for_bit() {
    for name in ["lstm", "gru", "lstm64"] {
        for tract in [false, true] {
            let loaded = ModelDir::load(&fixture(name)).unwrap();
            let model = if tract {
                through_tract(&loaded)
            } else {
                loaded
            };
            let w = model.window();
            // 11 symbols (groups of four and a remainder), each its own stream; symbol 3 starts
            // late, so its window is not full while the others' are.
            let streams: Vec<Vec<Row>> = (0..11)
                .map(|s| {
                    random_windows(name, 1, w + 6, 40 + s)
                        .into_iter()
                        .map(|r| r[0])
                        .collect()
                })
                .collect();
            let mut inputs: Vec<_> = (0..11).map(|_| model.input().unwrap()).collect();
            let mut out = vec![None; 11];
            let (mut full, mut empty) = (0, 0);
            for bar in 0..w + 6 {
                for (s, input) in inputs.iter_mut().enumerate() {
                    let row = streams[s].get(bar).filter(|_| s != 3 || bar >= 4);
                    model.push(input, row);
                }
                let refs: Vec<_> = inputs.iter().collect();
                model.predict_inputs(&refs, &mut out).unwrap();
                for (s, input) in inputs.iter().enumerate() {
                    let one = model.predict_input(input).unwrap();
                    assert_eq!(
                        out[s].map(f64::to_bits),
                        one.map(f64::to_bits),
                        "{name} tract {tract} bar {bar} symbol {s}"
                    );
                    if one.is_some() { full += 1 } else { empty += 1 }
                }
            }
            // Both cases happened, and symbols differ from each other.
            assert!(
                full > 50 && empty > 11,
                "{name}: {full} full, {empty} empty"
            );
            assert_ne!(out[0], out[1]);
        }
    }
    let model = ModelDir::load(&fixture("lstm")).unwrap();
    let input = model.input().unwrap();
    assert!(model.predict_inputs(&[&input], &mut [None, None]).is_err());
}
