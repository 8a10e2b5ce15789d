//! ONNX models through `tract-onnx` (pure Rust; nothing is downloaded): scikit-learn classifiers
//! exported with skl2onnx (the `ai.onnx.ml` tree ensembles), and sequence models (LSTM, GRU)
//! exported from PyTorch or Keras.
//!
//! A manifest of kind `onnx` names the graph file, its input and the output that holds the
//! positive class's probability, the features it reads (any of the pipeline's
//! [`FEATURES`], in the model's own order), how they are scaled, and for a sequence model the
//! window (bars) and the input layout. [`OnnxModel::load`] checks all of it against the pipeline
//! and the graph (input count, rank, width, window, type; output name, type and size; a trial
//! inference), then optimises the graph once. Every failure is an [`MlError`] naming what to
//! fix; none panics.
//!
//! Per bar, a [`ModelInput`] holds the model's last `window` rows, already selected, scaled and
//! converted to `f32`, in a mirrored ring: a push writes one row twice, and the window is always
//! one contiguous slice, oldest first. [`OnnxModel::predict_rows`] is the batch path over the
//! same arithmetic: streaming and batch give the same probability, bit for bit.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tract_onnx::prelude::{
    DatumType, Framework, InferenceFact, InferenceModelExt, IntoRunnable, Tensor,
    TypedRunnableModel, tvec,
};

use tract_onnx::tract_hir::infer::Factoid as _;

use crate::MlError;
use crate::features::{FEATURES, Row};
use crate::manifest::{Manifest, Scaling};

mod recognise;
mod recurrent;
mod trees;

use recurrent::{Isa, Kernel};
use trees::Trees;

/// How the window's rows are laid out in the graph's input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `[1, features]`: one row (a scikit-learn classifier); `window` must be 1.
    #[default]
    Rows,
    /// `[1, window, features]`: PyTorch's `batch_first=True`, Keras.
    BatchFirst,
    /// `[window, 1, features]`: PyTorch's default, ONNX's own LSTM/GRU layout.
    SequenceFirst,
}

/// The manifest's `onnx` section: where the graph is and how to feed and read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxSpec {
    /// The graph, relative to the model directory (`model.onnx`).
    pub file: PathBuf,
    /// The graph's input name (skl2onnx: the name given in `initial_types`; torch:
    /// `input_names`).
    pub input: String,
    #[serde(default)]
    pub layout: Layout,
    /// The output that holds the probabilities (skl2onnx with `zipmap: False`:
    /// `probabilities`; torch: `output_names`).
    pub output: String,
    /// The positive class's position in that output, flattened (`1` in skl2onnx's `[1, 2]`,
    /// `0` for a single sigmoid).
    pub output_index: usize,
}

/// A loaded, optimised ONNX graph and how to feed it; see [the module docs](self).
#[derive(Clone)]
pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    /// The pipeline columns the model reads, in its order.
    columns: Vec<usize>,
    /// `(mean, std)` per model column, applied by MTQ; `None` when the model takes raw values.
    scale: Option<Standard>,
    window: usize,
    shape: Vec<usize>,
    output_index: usize,
    output_type: DatumType,
    /// MTQ's own kernel, when the graph is a recurrent model it recognises (see
    /// [`OnnxModel::uses_kernel`]).
    kernel: Option<Arc<Kernel>>,
    /// MTQ's own tree walk, when the graph is a tree ensemble it recognises.
    trees: Option<Arc<Trees>>,
}

impl fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxModel")
            .field("columns", &self.columns)
            .field("window", &self.window)
            .field("shape", &self.shape)
            .field("output_index", &self.output_index)
            .field("kernel", &self.kernel.is_some())
            .field("trees", &self.trees.is_some())
            .finish_non_exhaustive()
    }
}

/// Which pipeline column each of the manifest's features is: unknown and repeated names are
/// refused, naming the known ones.
fn columns(dir: &Path, features: &[String]) -> Result<Vec<usize>, MlError> {
    let mismatch = |what: String| MlError::Mismatch {
        dir: dir.to_path_buf(),
        what,
    };
    if features.is_empty() {
        return Err(mismatch("the manifest lists no features".into()));
    }
    let mut cols = Vec::with_capacity(features.len());
    for (i, name) in features.iter().enumerate() {
        let Some(c) = FEATURES.iter().position(|f| f == name) else {
            return Err(mismatch(format!(
                "feature {i} `{name}` is not one of the pipeline's ({})",
                FEATURES.join(", ")
            )));
        };
        if let Some(j) = cols.iter().position(|&k| k == c) {
            return Err(MlError::Model {
                dir: dir.to_path_buf(),
                what: format!("feature `{name}` is listed twice (features {j} and {i})"),
            });
        }
        cols.push(c);
    }
    Ok(cols)
}

/// `(mean, std)` per model column.
type Standard = (Vec<f64>, Vec<f64>);

fn scale(dir: &Path, manifest: &Manifest) -> Result<Option<Standard>, MlError> {
    match &manifest.scaling {
        Scaling::None | Scaling::InModel => Ok(None),
        Scaling::Standard { mean, std } => {
            let n = manifest.features.len();
            if mean.len() != n || std.len() != n {
                return Err(MlError::Model {
                    dir: dir.to_path_buf(),
                    what: format!(
                        "scaling has {} means and {} deviations for {n} features: give one \
                         of each per feature, in the features' order",
                        mean.len(),
                        std.len()
                    ),
                });
            }
            if let Some(k) = (0..n)
                .find(|&k| !(mean[k].is_finite() && std[k].is_finite()))
                .or_else(|| (0..n).find(|&k| std[k] <= 0.0))
            {
                return Err(MlError::Model {
                    dir: dir.to_path_buf(),
                    what: format!(
                        "scaling of `{}`: mean {} and std {} (the std must be a number above 0)",
                        manifest.features[k], mean[k], std[k]
                    ),
                });
            }
            Ok(Some((mean.clone(), std.clone())))
        }
    }
}

impl OnnxModel {
    /// Reads `dir/<manifest.onnx.file>`, checks it against the manifest and the pipeline,
    /// optimises it and runs it once on zeros.
    pub fn load(dir: &Path, manifest: &Manifest) -> Result<Self, MlError> {
        let model_err = |what: String| MlError::Model {
            dir: dir.to_path_buf(),
            what,
        };
        let Some(spec) = &manifest.onnx else {
            return Err(model_err(
                "kind `onnx` needs an `onnx` section (file, input, layout, output, \
                 output_index)"
                    .into(),
            ));
        };
        let columns = columns(dir, &manifest.features)?;
        let scale = scale(dir, manifest)?;
        let (window, width) = (manifest.window, columns.len());
        let shape = match spec.layout {
            Layout::Rows if window != 1 => {
                return Err(model_err(format!(
                    "window {window} with layout `rows`, which feeds one row: set `layout` to \
                     `batch_first` or `sequence_first` for a sequence model, or `window` to 1"
                )));
            }
            _ if window == 0 => {
                return Err(model_err("window 0: a model reads at least one row".into()));
            }
            Layout::Rows => vec![1, width],
            Layout::BatchFirst => vec![1, window, width],
            Layout::SequenceFirst => vec![window, 1, width],
        };
        let path = dir.join(&spec.file);
        let file = spec.file.display();
        let bytes = std::fs::read(&path).map_err(|source| MlError::Io {
            dir: dir.to_path_buf(),
            path: path.clone(),
            source,
        })?;
        let mut graph = tract_onnx::onnx()
            .model_for_read(&mut bytes.as_slice())
            .map_err(|e| model_err(format!("{file} is not an ONNX model tract can read: {e:#}")))?;

        // The input: one, named as the manifest says, of the rank, width and window MTQ feeds.
        let inputs: Vec<String> = graph
            .input_outlets()
            .map_err(|e| model_err(format!("{file}: {e}")))?
            .iter()
            .map(|o| graph.node(o.node).name.clone())
            .collect();
        if inputs.len() != 1 || inputs[0] != spec.input {
            return Err(model_err(format!(
                "{file}: the graph's inputs are [{}]; the manifest's `onnx.input` is `{}` \
                 (MTQ feeds exactly one input)",
                inputs.join(", "),
                spec.input
            )));
        }
        let declared = graph
            .input_fact(0)
            .map_err(|e| model_err(format!("{file}: {e}")))?
            .clone();
        check_input(&declared, &shape, spec.layout, &manifest.features)
            .map_err(|what| model_err(format!("{file}: input `{}`: {what}", spec.input)))?;
        graph
            .set_input_fact(0, InferenceFact::dt_shape(DatumType::F32, shape.clone()))
            .map_err(|e| model_err(format!("{file}: {e}")))?;

        // The output, by name.
        let outputs: Vec<String> = graph
            .output_outlets()
            .map_err(|e| model_err(format!("{file}: {e}")))?
            .iter()
            .map(|o| {
                graph
                    .outlet_label(*o)
                    .map_or_else(|| graph.node(o.node).name.clone(), str::to_string)
            })
            .collect();
        if !outputs.contains(&spec.output) {
            return Err(model_err(format!(
                "{file}: the graph's outputs are [{}]; the manifest's `onnx.output` is `{}`",
                outputs.join(", "),
                spec.output
            )));
        }
        graph
            .select_outputs_by_name([spec.output.as_str()])
            .map_err(|e| model_err(format!("{file}: output `{}`: {e}", spec.output)))?;

        let typed = graph.into_optimized().map_err(|e| {
            model_err(format!(
                "{file}: the graph cannot be prepared for input {shape:?}: {e:#}"
            ))
        })?;
        let out = typed
            .output_fact(0)
            .map_err(|e| model_err(format!("{file}: {e}")))?;
        let output_type = out.datum_type;
        if !matches!(output_type, DatumType::F32 | DatumType::F64) {
            return Err(model_err(format!(
                "{file}: output `{}` holds {output_type:?}, not probabilities (f32 or f64): name \
                 the probability output (skl2onnx: `probabilities`, exported with zipmap off)",
                spec.output
            )));
        }
        match out.shape.as_concrete() {
            Some(d) if spec.output_index < d.iter().product::<usize>() => {}
            d => {
                return Err(model_err(format!(
                    "{file}: output `{}` has shape {}; `onnx.output_index` {} is not within it",
                    spec.output,
                    d.map_or_else(|| format!("{:?}", out.shape), |d| format!("{d:?}")),
                    spec.output_index
                )));
            }
        }
        let plan = typed
            .into_runnable()
            .map_err(|e| model_err(format!("{file}: {e:#}")))?;
        let mut model = Self {
            plan,
            columns,
            scale,
            window,
            shape,
            output_index: spec.output_index,
            output_type,
            kernel: None,
            trees: None,
        };
        let zeros = vec![0.0_f32; window * width];
        model
            .infer(&zeros)
            .map_err(|e| model_err(format!("{file}: a trial inference on zeros failed: {e}")))?;
        model.kernel = model.kernel_for(&bytes, spec).map(Arc::new);
        model.trees = model.trees_for(&bytes, spec).map(Arc::new);
        Ok(model)
    }

    /// MTQ's tree walk for this graph, when [`trees::recognise`] accepts it and the walk gives
    /// tract's probability (within 1e-6) on zeros and on 64 rows near the trees' thresholds;
    /// `None` otherwise (the model then runs through tract).
    fn trees_for(&self, bytes: &[u8], spec: &OnnxSpec) -> Option<Trees> {
        if spec.layout != Layout::Rows {
            return None;
        }
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .ok()?;
        let w = self.width();
        let found = trees::recognise(
            proto.graph.as_ref()?,
            &spec.input,
            &spec.output,
            spec.output_index,
            w,
        )?;
        let mut rows = vec![0.0; w];
        rows.extend(found.trial_rows(w, 64));
        for row in rows.chunks_exact(w) {
            let want = self.infer(row).ok()?;
            let got = f64::from(found.predict(row));
            // NaN included: anything but a close number drops the walk.
            let close = (got - want).abs() <= 1e-6;
            if !close {
                tracing::debug!(want, got, "the tree walk differs from tract: not used");
                return None;
            }
        }
        Some(found)
    }

    /// MTQ's kernel for this graph, when [`recognise`] accepts it and the kernel gives tract's
    /// probability (within 1e-5) on zeros and on three pseudo-random windows; `None` otherwise
    /// (the model then runs through tract, as any graph).
    fn kernel_for(&self, bytes: &[u8], spec: &OnnxSpec) -> Option<Kernel> {
        let batch_first = match spec.layout {
            Layout::BatchFirst => true,
            Layout::SequenceFirst => false,
            Layout::Rows => return None,
        };
        if spec.output_index != 0 {
            return None;
        }
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .ok()?;
        let found = recognise::recognise(
            &proto,
            &spec.input,
            &spec.output,
            batch_first,
            self.window,
            self.width(),
        )?;
        let kernel = Kernel::new(&found, Isa::detect());
        let (w, n) = (self.width(), self.window);
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for trial in 0..4 {
            let input: Vec<f32> = (0..n * w)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let u = f64::from(u32::try_from(seed >> 40).unwrap_or(0)) / f64::from(1 << 24);
                    #[allow(clippy::cast_possible_truncation)]
                    let x = if trial == 0 {
                        0.0
                    } else {
                        (4.0 * u - 2.0) as f32
                    };
                    x
                })
                .collect();
            let want = self.infer(&input).ok()?;
            let mut proj = vec![0.0; n * kernel.stride()];
            for (row, out) in input
                .chunks_exact(w)
                .zip(proj.chunks_exact_mut(kernel.stride()))
            {
                kernel.project(row, out);
            }
            let got = f64::from(kernel.infer(&proj));
            // NaN included: anything but a close number drops the kernel.
            let close = (got - want).abs() <= 1e-5;
            if !close {
                tracing::debug!(
                    want,
                    got,
                    "the recurrent kernel differs from tract: not used"
                );
                return None;
            }
        }
        Some(kernel)
    }

    /// Whether inferences run through MTQ's own code (the recurrent kernel for an LSTM or GRU
    /// graph, the tree walk for a scikit-learn tree ensemble, each of the recognised shape: see
    /// docs/ml.md) rather than tract.
    pub fn uses_kernel(&self) -> bool {
        self.kernel.is_some() || self.trees.is_some()
    }

    /// The same model with every inference through tract, even when the kernel could run it:
    /// the reference for checks and benchmarks. Make its [`ModelInput`]s with the returned
    /// model.
    #[must_use]
    pub fn without_kernel(mut self) -> Self {
        self.kernel = None;
        self.trees = None;
        self
    }

    /// Rows the model reads at once.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Features a row of the model has.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// One pipeline row as the model sees it: its columns, scaled, as `f32` (the graph's input
    /// type: the narrowing is the model's).
    #[allow(clippy::cast_possible_truncation)]
    fn prepare(&self, row: &Row, out: &mut [f32]) {
        match &self.scale {
            Some((mean, std)) => {
                for (k, &c) in self.columns.iter().enumerate() {
                    out[k] = ((row[c] - mean[k]) / std[k]) as f32;
                }
            }
            None => {
                for (k, &c) in self.columns.iter().enumerate() {
                    out[k] = row[c] as f32;
                }
            }
        }
    }

    /// The probability for `input`: `window` prepared rows, oldest first.
    fn infer(&self, input: &[f32]) -> Result<f64, MlError> {
        let fail = |e: &dyn fmt::Display| MlError::Input(format!("onnx inference: {e}"));
        let tensor = Tensor::from_shape(&self.shape, input).map_err(|e| fail(&e))?;
        let out = self.plan.run(tvec!(tensor.into())).map_err(|e| fail(&e))?;
        let view = out[0].try_as_plain_ram().map_err(|e| fail(&e))?;
        let p = match self.output_type {
            DatumType::F64 => view.as_slice::<f64>().map_err(|e| fail(&e))?[self.output_index],
            _ => f64::from(view.as_slice::<f32>().map_err(|e| fail(&e))?[self.output_index]),
        };
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(MlError::Input(format!(
                "onnx output gave {p}, not a probability (check `onnx.output` and `output_index`)"
            )))
        }
    }

    /// The probability for the window ending at the last of `rows` (pipeline rows, oldest
    /// first; exactly `window` of them): the batch path.
    pub fn predict_rows(&self, rows: &[Row]) -> Result<f64, MlError> {
        if rows.len() != self.window {
            return Err(MlError::Input(format!(
                "{} rows for a model with a window of {}",
                rows.len(),
                self.window
            )));
        }
        let w = self.width();
        let mut input = vec![0.0_f32; self.window * w];
        for (row, out) in rows.iter().zip(input.chunks_exact_mut(w)) {
            self.prepare(row, out);
        }
        match (&self.kernel, &self.trees) {
            (Some(k), _) => Self::kernel_rows(k, &input, w),
            (None, Some(t)) => Self::probability(t.predict(&input)),
            (None, None) => self.infer(&input),
        }
    }

    /// The kernel over prepared rows: each projected, then the recurrence.
    fn kernel_rows(k: &Kernel, input: &[f32], w: usize) -> Result<f64, MlError> {
        let st = k.stride();
        let mut proj = vec![0.0_f32; input.len() / w * st];
        for (row, out) in input.chunks_exact(w).zip(proj.chunks_exact_mut(st)) {
            k.project(row, out);
        }
        Self::probability(k.infer(&proj))
    }

    fn probability(p: f32) -> Result<f64, MlError> {
        let p = f64::from(p);
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(MlError::Input(format!(
                "MTQ's own evaluation of the model gave {p}, not a probability"
            )))
        }
    }

    /// An empty rolling window for this model (one per symbol).
    pub fn input(&self) -> ModelInput {
        let stride = self.kernel.as_ref().map_or(0, |k| k.stride());
        ModelInput {
            width: self.width(),
            window: self.window,
            ring: vec![0.0; 2 * self.window * self.width()],
            stride,
            proj: vec![0.0; 2 * self.window * stride],
            next: 0,
            filled: 0,
        }
    }

    /// Adds the row of a closed bar to `input`; `None` (no row on that bar) empties it, as the
    /// batch path never reads a window with a gap.
    pub fn push(&self, input: &mut ModelInput, row: Option<&Row>) {
        let Some(row) = row else {
            input.filled = 0;
            return;
        };
        let (w, n) = (input.width, input.window);
        let at = input.next * w;
        let (first, second) = input.ring.split_at_mut(n * w);
        self.prepare(row, &mut first[at..at + w]);
        second[at..at + w].copy_from_slice(&first[at..at + w]);
        if let Some(k) = &self.kernel
            && input.stride == k.stride()
        {
            // The row's projection, kept beside it (mirrored the same way).
            let st = input.stride;
            let at_p = input.next * st;
            let (first_p, second_p) = input.proj.split_at_mut(n * st);
            k.project(&first[at..at + w], &mut first_p[at_p..at_p + st]);
            second_p[at_p..at_p + st].copy_from_slice(&first_p[at_p..at_p + st]);
        }
        input.next = (input.next + 1) % n;
        input.filled = (input.filled + 1).min(n);
    }

    /// The probability for the window in `input`; `None` until it holds `window` rows.
    pub fn predict_input(&self, input: &ModelInput) -> Result<Option<f64>, MlError> {
        if input.filled < input.window {
            return Ok(None);
        }
        // The oldest row sits at `next`; its mirror makes the window contiguous.
        let w = input.width;
        let from = input.next * w;
        let rows = &input.ring[from..from + input.window * w];
        match &self.kernel {
            Some(k) if input.stride == k.stride() => {
                let st = input.stride;
                let from = input.next * st;
                Self::probability(k.infer(&input.proj[from..from + input.window * st])).map(Some)
            }
            // An input made by this model without the kernel: project its rows now.
            Some(k) => Self::kernel_rows(k, rows, w).map(Some),
            None => match &self.trees {
                Some(t) => Self::probability(t.predict(rows)).map(Some),
                None => self.infer(rows).map(Some),
            },
        }
    }
}

impl OnnxModel {
    /// The probabilities for several symbols' windows at once (a bar close), into `out` (one
    /// per input, `None` for a window not yet full): the same values, bit for bit, as
    /// [`OnnxModel::predict_input`] on each, but through the recurrent kernel on AVX-512 the
    /// symbols' recurrences run four at a time, each weight loaded once for the four. No
    /// allocation.
    pub fn predict_inputs(
        &self,
        inputs: &[&ModelInput],
        out: &mut [Option<f64>],
    ) -> Result<(), MlError> {
        if out.len() != inputs.len() {
            return Err(MlError::Input(format!(
                "{} inputs and room for {} probabilities",
                inputs.len(),
                out.len()
            )));
        }
        let Some(k) = &self.kernel else {
            for (input, o) in inputs.iter().zip(out.iter_mut()) {
                *o = self.predict_input(input)?;
            }
            return Ok(());
        };
        let st = k.stride();
        // Full windows with their projections, in groups of up to eight.
        const BATCH: usize = 8;
        let mut at = 0;
        while at < inputs.len() {
            let mut projs: [&[f32]; BATCH] = [&[]; BATCH];
            let mut which = [0_usize; BATCH];
            let mut count = 0;
            while at < inputs.len() && count < BATCH {
                let input = inputs[at];
                if input.filled < input.window {
                    out[at] = None;
                } else if input.stride == st {
                    let from = input.next * st;
                    projs[count] = &input.proj[from..from + input.window * st];
                    which[count] = at;
                    count += 1;
                } else {
                    out[at] = self.predict_input(input)?;
                }
                at += 1;
            }
            let mut probs = [0.0_f32; BATCH];
            k.infer_many(&projs[..count], &mut probs[..count]);
            for (&i, &p) in which[..count].iter().zip(&probs[..count]) {
                out[i] = Some(Self::probability(p)?);
            }
        }
        Ok(())
    }
}

/// A symbol's last `window` rows for one model; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct ModelInput {
    width: usize,
    window: usize,
    /// `2 * window` rows: row `i` is stored at `i` and at `i + window`.
    ring: Vec<f32>,
    /// Floats per projected row when the model runs through its recurrent kernel, else 0.
    stride: usize,
    /// The rows' input projections for the kernel, mirrored like `ring` (empty without it).
    proj: Vec<f32>,
    /// Where the next row goes (and, once full, where the oldest is).
    next: usize,
    filled: usize,
}

/// Checks the graph's declared input (type, rank and the dimensions it fixes) against what MTQ
/// will feed; the error names what to change.
fn check_input(
    declared: &InferenceFact,
    shape: &[usize],
    layout: Layout,
    features: &[String],
) -> Result<(), String> {
    if let Some(dt) = declared.datum_type.concretize()
        && dt != DatumType::F32
    {
        return Err(format!(
            "the graph takes {dt:?}; MTQ feeds f32 (export it with a float input, e.g. \
             skl2onnx's FloatTensorType)"
        ));
    }
    let dims: Vec<Option<i64>> = declared
        .shape
        .dims()
        .map(|d| d.concretize().and_then(|d| d.to_i64().ok()))
        .collect();
    if declared.shape.is_open() && dims.is_empty() {
        return Ok(());
    }
    if !declared.shape.is_open() && dims.len() != shape.len() {
        return Err(format!(
            "the graph's input has rank {} ({}); layout `{}` feeds rank {} {shape:?}",
            dims.len(),
            show(&dims),
            layout_name(layout),
            shape.len()
        ));
    }
    let width = features.len();
    for (axis, (d, want)) in dims.iter().zip(shape).enumerate() {
        let Some(d) = *d else { continue };
        if usize::try_from(d).ok() == Some(*want) {
            continue;
        }
        let what = match (layout, axis) {
            (Layout::Rows, 1) | (_, 2) => format!(
                "the graph reads {d} features a row, the manifest lists {width} ({}): list \
                 exactly the features the model was trained on, in its order",
                features.join(", ")
            ),
            (Layout::BatchFirst, 1) | (Layout::SequenceFirst, 0) => format!(
                "the graph reads a window of {d} bars, the manifest's `window` is {}",
                shape[axis]
            ),
            _ => format!(
                "the graph's batch dimension is {d}; MTQ feeds one window at a time (export \
                 it with a batch of 1 or a dynamic batch), or the layout is not `{}`",
                layout_name(layout)
            ),
        };
        // The same dimensions in the other sequence layout: say so.
        let other = match layout {
            Layout::BatchFirst => Some((Layout::SequenceFirst, [shape[1], shape[0], shape[2]])),
            Layout::SequenceFirst => Some((Layout::BatchFirst, [shape[1], shape[0], shape[2]])),
            Layout::Rows => None,
        };
        if let Some((other, want)) = other
            && dims
                .iter()
                .zip(want)
                .all(|(d, w)| d.is_none_or(|d| usize::try_from(d).ok() == Some(w)))
        {
            return Err(format!(
                "the graph's input {} is the `{}` layout; the manifest says `{}`",
                show(&dims),
                layout_name(other),
                layout_name(layout)
            ));
        }
        return Err(format!("{what} (graph input {})", show(&dims)));
    }
    Ok(())
}

fn layout_name(layout: Layout) -> &'static str {
    match layout {
        Layout::Rows => "rows",
        Layout::BatchFirst => "batch_first",
        Layout::SequenceFirst => "sequence_first",
    }
}

fn show(dims: &[Option<i64>]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| d.map_or_else(|| "?".to_string(), |d| d.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}
