//! Recognises, in an ONNX graph, the one shape of sequence model MTQ runs through its own
//! kernel ([`super::recurrent`]): the window, optionally scaled in the graph by constant
//! vectors (`Sub`, `Div`, `Add`, `Mul`), optionally transposed, through one forward LSTM or GRU
//! node of one layer with ONNX's default activations, the last time step (`Gather`, `Slice`
//! and `Squeeze` on the sequence, or the node's last hidden state), a linear layer to one logit
//! (`Gemm`, or `MatMul` and `Add`) and a `Sigmoid`. The zero initial states PyTorch builds
//! from the input's shape (`Shape`, `Gather`, `Unsqueeze`, `Concat`, `Expand` of a zero
//! constant) are folded as constants.
//!
//! Each node is interpreted over a small abstract domain (a constant, or the data with its axes
//! named); any other operator, domain, attribute, constant type or shape gives `None`, and the
//! model keeps running through tract. Being refused here is never an error.

use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, TensorProto};

/// Which recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cell {
    /// ONNX LSTM: gates `i, o, f, c` in `W`, `R` and `B`.
    Lstm,
    /// ONNX GRU with `linear_before_reset = 1` (PyTorch's): gates `z, r, h`.
    Gru,
}

impl Cell {
    /// Gates per hidden unit.
    pub(crate) fn gates(self) -> usize {
        match self {
            Self::Lstm => 4,
            Self::Gru => 3,
        }
    }
}

/// An elementwise operation the graph applies to each input row before the recurrence, with a
/// constant of one value per feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PreOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// The recognised model: everything the kernel needs, in ONNX's own layouts.
#[derive(Debug, Clone)]
pub(crate) struct Recurrent {
    pub(crate) cell: Cell,
    pub(crate) hidden: usize,
    pub(crate) features: usize,
    /// Applied in order to each row (`x = x op c`), in f32.
    pub(crate) pre: Vec<(PreOp, Vec<f32>)>,
    /// `[gates * hidden, features]`.
    pub(crate) w: Vec<f32>,
    /// `[gates * hidden, hidden]`.
    pub(crate) r: Vec<f32>,
    /// `[2 * gates * hidden]`: `Wb` then `Rb` (zeros when the graph has no `B`).
    pub(crate) b: Vec<f32>,
    /// The linear layer: one weight per hidden unit and the bias.
    pub(crate) head_w: Vec<f32>,
    pub(crate) head_b: f32,
}

/// A named axis of the data: its size follows from the window, the features and the hidden
/// size; `Last` is the time axis cut to its last step, `Dir` the one direction, `Out` the one
/// logit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ax {
    Time,
    Batch,
    Feat,
    Dir,
    Hidden,
    Last,
    Out,
}

#[derive(Debug, Clone)]
enum Stage {
    /// The input rows, with the elementwise operations applied so far.
    Input(Vec<(PreOp, Vec<f32>)>),
    /// The recurrent node's output over all time steps.
    Seq,
    /// The hidden state after the last step.
    Last,
    /// The logit: the head's weights and bias so far (`Add` after `MatMul` sets the bias).
    Logit {
        w: Vec<f32>,
        b: f32,
        biased: bool,
    },
    Prob {
        w: Vec<f32>,
        b: f32,
    },
}

#[derive(Debug, Clone)]
enum Val {
    F32(Vec<usize>, Vec<f32>),
    I64(Vec<usize>, Vec<i64>),
    Data(Vec<Ax>, Stage),
}

struct Sizes {
    window: usize,
    features: usize,
    hidden: Option<usize>,
}

impl Sizes {
    fn of(&self, ax: Ax) -> Option<usize> {
        match ax {
            Ax::Time => Some(self.window),
            Ax::Feat => Some(self.features),
            Ax::Hidden => self.hidden,
            Ax::Batch | Ax::Dir | Ax::Last | Ax::Out => Some(1),
        }
    }
}

/// The data type codes of ONNX's `TensorProto.DataType`.
const FLOAT: i32 = 1;
const INT64: i32 = 7;
/// `AttributeProto.AttributeType`.
const ATTR_FLOAT: i32 = 1;
const ATTR_INT: i32 = 2;
pub(super) const ATTR_STRING: i32 = 3;
const ATTR_TENSOR: i32 = 4;
pub(super) const ATTR_FLOATS: i32 = 6;
pub(super) const ATTR_INTS: i32 = 7;
pub(super) const ATTR_STRINGS: i32 = 8;

fn count(dims: &[usize]) -> usize {
    dims.iter().product()
}

/// A tensor stored in the file (raw little-endian or typed fields), f32 or i64 only.
fn tensor(t: &TensorProto) -> Option<Val> {
    if !t.external_data.is_empty() || t.data_location.unwrap_or(0) != 0 || t.segment.is_some() {
        return None;
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<_>>()?;
    let n = count(&dims);
    match t.data_type {
        FLOAT => {
            let v: Vec<f32> = if t.raw_data.is_empty() {
                t.float_data.clone()
            } else {
                t.raw_data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            };
            (v.len() == n && (t.raw_data.is_empty() || t.raw_data.len() == 4 * n))
                .then_some(Val::F32(dims, v))
        }
        INT64 => {
            let v: Vec<i64> = if t.raw_data.is_empty() {
                t.int64_data.clone()
            } else {
                t.raw_data
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect()
            };
            (v.len() == n && (t.raw_data.is_empty() || t.raw_data.len() == 8 * n))
                .then_some(Val::I64(dims, v))
        }
        _ => None,
    }
}

/// The node's attributes, refused when one is not in `allowed` or is repeated.
pub(super) fn attrs<'a>(node: &'a NodeProto, allowed: &[&str]) -> Option<Attrs<'a>> {
    for (k, a) in node.attribute.iter().enumerate() {
        if !allowed.contains(&a.name.as_str())
            || node.attribute[..k].iter().any(|b| b.name == a.name)
            || !a.ref_attr_name.is_empty()
        {
            return None;
        }
    }
    Some(Attrs(&node.attribute))
}

pub(super) struct Attrs<'a>(&'a [AttributeProto]);

impl Attrs<'_> {
    pub(super) fn get(&self, name: &str) -> Option<&AttributeProto> {
        self.0.iter().find(|a| a.name == name)
    }
    /// `Some(default)` when absent, `None` when present with another type.
    fn int(&self, name: &str, default: i64) -> Option<i64> {
        match self.get(name) {
            None => Some(default),
            Some(a) if a.r#type == ATTR_INT => Some(a.i),
            Some(_) => None,
        }
    }
    fn float(&self, name: &str, default: f32) -> Option<f32> {
        match self.get(name) {
            None => Some(default),
            Some(a) if a.r#type == ATTR_FLOAT => Some(a.f),
            Some(_) => None,
        }
    }
    fn ints(&self, name: &str) -> Option<Option<&[i64]>> {
        match self.get(name) {
            None => Some(None),
            Some(a) if a.r#type == ATTR_INTS => Some(Some(&a.ints)),
            Some(_) => None,
        }
    }
    fn string(&self, name: &str) -> Option<Option<&[u8]>> {
        match self.get(name) {
            None => Some(None),
            Some(a) if a.r#type == ATTR_STRING => Some(Some(&a.s)),
            Some(_) => None,
        }
    }
}

/// An axis index, negative from the end, within `rank`.
fn axis(a: i64, rank: usize) -> Option<usize> {
    let rank = i64::try_from(rank).ok()?;
    let a = if a < 0 { a + rank } else { a };
    (0..rank).contains(&a).then(|| usize::try_from(a).ok())?
}

/// Recognises `proto` as the recurrent model MTQ's kernel runs, for an input named `input`
/// laid out as `layout` (`true`: `[1, window, features]`; `false`: `[window, 1, features]`)
/// and one output named `output`; `None` for anything else.
pub(crate) fn recognise(
    proto: &ModelProto,
    input: &str,
    output: &str,
    batch_first: bool,
    window: usize,
    features: usize,
) -> Option<Recurrent> {
    let graph = proto.graph.as_ref()?;
    // The default domain only (no ai.onnx.ml, no custom operators), any opset from 7 (the
    // LSTM and GRU semantics used here are the same since).
    if proto
        .opset_import
        .iter()
        .any(|o| !o.domain.is_empty() || o.version < 7)
    {
        return None;
    }
    if !graph.sparse_initializer.is_empty() || graph.output.len() != 1 {
        return None;
    }
    let mut vals: std::collections::HashMap<&str, Val> = std::collections::HashMap::new();
    for t in &graph.initializer {
        vals.insert(t.name.as_str(), tensor(t)?);
    }
    // The one graph input that is not an initializer (older IRs list those too).
    let inputs: Vec<&str> = graph
        .input
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| !vals.contains_key(n))
        .collect();
    if inputs != [input] || graph.output[0].name != output {
        return None;
    }
    let axes = if batch_first {
        vec![Ax::Batch, Ax::Time, Ax::Feat]
    } else {
        vec![Ax::Time, Ax::Batch, Ax::Feat]
    };
    vals.insert(input, Val::Data(axes, Stage::Input(Vec::new())));
    let mut sizes = Sizes {
        window,
        features,
        hidden: None,
    };
    let mut cell: Option<Recurrent> = None;
    for node in &graph.node {
        if !node.domain.is_empty() {
            return None;
        }
        let args: Vec<Option<&Val>> = node
            .input
            .iter()
            .map(|n| {
                if n.is_empty() {
                    None
                } else {
                    vals.get(n.as_str())
                }
            })
            .collect();
        // An input that names nothing known (neither produced before nor optional-empty).
        if node
            .input
            .iter()
            .zip(&args)
            .any(|(n, a)| !n.is_empty() && a.is_none())
        {
            return None;
        }
        let outs = step(node, &args, &mut sizes, &mut cell)?;
        if outs.len() > node.output.len() {
            return None;
        }
        for (name, v) in node.output.iter().zip(outs) {
            if !name.is_empty() {
                if vals.contains_key(name.as_str()) {
                    return None;
                }
                vals.insert(name.as_str(), v);
            }
        }
    }
    let mut cell = cell?;
    match vals.get(output) {
        Some(Val::Data(axes, Stage::Prob { w, b }))
            if axes
                .iter()
                .all(|a| matches!(a, Ax::Batch | Ax::Out | Ax::Dir | Ax::Last)) =>
        {
            cell.head_w.clone_from(w);
            cell.head_b = *b;
            Some(cell)
        }
        _ => None,
    }
}

/// One node over the abstract values: its outputs, or `None` to refuse the graph.
#[allow(clippy::too_many_lines)]
fn step(
    node: &NodeProto,
    args: &[Option<&Val>],
    sizes: &mut Sizes,
    cell: &mut Option<Recurrent>,
) -> Option<Vec<Val>> {
    let arg = |k: usize| args.get(k).copied().flatten();
    let op = node.op_type.as_str();
    match op {
        "Constant" => {
            let a = attrs(node, &["value"])?;
            let v = a.get("value")?;
            if v.r#type != ATTR_TENSOR || !args.is_empty() {
                return None;
            }
            Some(vec![tensor(v.t.as_ref()?)?])
        }
        "Shape" => {
            attrs(node, &[])?;
            let dims: Vec<usize> = match arg(0)? {
                Val::Data(axes, _) => axes.iter().map(|&a| sizes.of(a)).collect::<Option<_>>()?,
                Val::F32(d, _) | Val::I64(d, _) => d.clone(),
            };
            let v = dims
                .iter()
                .map(|&d| i64::try_from(d).ok())
                .collect::<Option<Vec<_>>>()?;
            Some(vec![Val::I64(vec![v.len()], v)])
        }
        "Gather" => {
            let a = attrs(node, &["axis"])?;
            let ax = a.int("axis", 0)?;
            let Some(Val::I64(idims, idx)) = arg(1) else {
                return None;
            };
            match arg(0)? {
                Val::I64(dims, v) if dims.len() == 1 && axis(ax, 1) == Some(0) => {
                    let n = i64::try_from(v.len()).ok()?;
                    let picked = idx
                        .iter()
                        .map(|&i| {
                            let i = if i < 0 { i + n } else { i };
                            v.get(usize::try_from(i).ok()?).copied()
                        })
                        .collect::<Option<Vec<_>>>()?;
                    Some(vec![Val::I64(idims.clone(), picked)])
                }
                Val::Data(axes, Stage::Seq) => {
                    let k = axis(ax, axes.len())?;
                    let t = i64::try_from(sizes.window).ok()?;
                    if axes[k] != Ax::Time || idx.len() != 1 || !(idx[0] == -1 || idx[0] == t - 1) {
                        return None;
                    }
                    let mut axes = axes.clone();
                    match idims.as_slice() {
                        [] => {
                            axes.remove(k);
                        }
                        [1] => axes[k] = Ax::Last,
                        _ => return None,
                    }
                    Some(vec![Val::Data(axes, Stage::Last)])
                }
                _ => None,
            }
        }
        "Slice" => {
            attrs(node, &[])?;
            let Some(Val::Data(axes, Stage::Seq)) = arg(0) else {
                return None;
            };
            let ints = |k: usize| match arg(k) {
                Some(Val::I64(d, v)) if d.len() == 1 && v.len() == 1 => Some(v[0]),
                _ => None,
            };
            let (start, end) = (ints(1)?, ints(2)?);
            let ax = if args.len() > 3 { ints(3)? } else { 0 };
            if args.len() > 4 && ints(4)? != 1 {
                return None;
            }
            let k = axis(ax, axes.len())?;
            let t = i64::try_from(sizes.window).ok()?;
            if axes[k] != Ax::Time || !(start == -1 || start == t - 1) || end < t {
                return None;
            }
            let mut axes = axes.clone();
            axes[k] = Ax::Last;
            Some(vec![Val::Data(axes, Stage::Last)])
        }
        "Unsqueeze" => {
            let a = attrs(node, &["axes"])?;
            let list: Vec<i64> = match (a.ints("axes")?, arg(1)) {
                (Some(v), None) if args.len() == 1 => v.to_vec(),
                (None, Some(Val::I64(d, v))) if d.len() == 1 => v.clone(),
                _ => return None,
            };
            let Val::I64(dims, v) = arg(0)? else {
                return None;
            };
            let rank = dims.len() + list.len();
            let mut at: Vec<usize> = list.iter().map(|&x| axis(x, rank)).collect::<Option<_>>()?;
            at.sort_unstable();
            at.dedup();
            if at.len() != list.len() {
                return None;
            }
            let mut out = dims.clone();
            for &k in &at {
                out.insert(k, 1);
            }
            Some(vec![Val::I64(out, v.clone())])
        }
        "Concat" => {
            let a = attrs(node, &["axis"])?;
            if axis(a.int("axis", 0)?, 1)? != 0 {
                return None;
            }
            let mut out = Vec::new();
            for k in 0..args.len() {
                let Some(Val::I64(d, v)) = arg(k) else {
                    return None;
                };
                if d.len() != 1 {
                    return None;
                }
                out.extend_from_slice(v);
            }
            Some(vec![Val::I64(vec![out.len()], out)])
        }
        "Expand" => {
            attrs(node, &[])?;
            let Some(Val::I64(sd, shape)) = arg(1) else {
                return None;
            };
            if sd.len() != 1 {
                return None;
            }
            let (dims, first) = match arg(0)? {
                Val::F32(d, v) => (d, v.first().copied()?),
                _ => return None,
            };
            let Val::F32(_, v) = arg(0)? else {
                return None;
            };
            // Only a constant filled with one value (PyTorch's zero states).
            if v.iter().any(|x| x.to_bits() != first.to_bits()) {
                return None;
            }
            let shape: Vec<usize> = shape
                .iter()
                .map(|&d| usize::try_from(d).ok())
                .collect::<Option<_>>()?;
            let rank = dims.len().max(shape.len());
            let pad = |d: &[usize], k: usize| -> usize {
                (k + d.len()).checked_sub(rank).map_or(1, |i| d[i])
            };
            let mut out = Vec::with_capacity(rank);
            for k in 0..rank {
                let (x, y) = (pad(dims, k), pad(&shape, k));
                out.push(match (x, y) {
                    _ if x == y => x,
                    (1, y) => y,
                    (x, 1) => x,
                    _ => return None,
                });
            }
            let n = count(&out);
            Some(vec![Val::F32(out, vec![first; n])])
        }
        "Transpose" => {
            let a = attrs(node, &["perm"])?;
            let Val::Data(axes, stage) = arg(0)? else {
                return None;
            };
            if matches!(stage, Stage::Prob { .. }) || args.len() != 1 {
                return None;
            }
            let perm: Vec<usize> = match a.ints("perm")? {
                Some(p) => p
                    .iter()
                    .map(|&k| usize::try_from(k).ok())
                    .collect::<Option<_>>()?,
                None => (0..axes.len()).rev().collect(),
            };
            let mut seen = vec![false; axes.len()];
            let mut out = Vec::with_capacity(axes.len());
            for &k in &perm {
                if k >= axes.len() || std::mem::replace(&mut seen[k], true) {
                    return None;
                }
                out.push(axes[k]);
            }
            (out.len() == axes.len()).then(|| vec![Val::Data(out, stage.clone())])
        }
        "Squeeze" => {
            let a = attrs(node, &["axes"])?;
            let Val::Data(axes, stage) = arg(0)? else {
                return None;
            };
            let list: Option<Vec<i64>> = match (a.ints("axes")?, arg(1)) {
                (Some(v), None) if args.len() == 1 => Some(v.to_vec()),
                (None, Some(Val::I64(d, v))) if d.len() == 1 => Some(v.clone()),
                (None, None) if args.len() == 1 => None,
                _ => return None,
            };
            let drop: Vec<usize> = match list {
                Some(l) => l
                    .iter()
                    .map(|&x| axis(x, axes.len()))
                    .collect::<Option<_>>()?,
                None => (0..axes.len())
                    .filter(|&k| sizes.of(axes[k]) == Some(1))
                    .collect(),
            };
            if drop.iter().any(|&k| sizes.of(axes[k]) != Some(1)) {
                return None;
            }
            let out: Vec<Ax> = (0..axes.len())
                .filter(|k| !drop.contains(k))
                .map(|k| axes[k])
                .collect();
            Some(vec![Val::Data(out, stage.clone())])
        }
        "Add" | "Sub" | "Mul" | "Div" => {
            attrs(node, &[])?;
            if args.len() != 2 {
                return None;
            }
            let pre = match op {
                "Add" => PreOp::Add,
                "Sub" => PreOp::Sub,
                "Mul" => PreOp::Mul,
                _ => PreOp::Div,
            };
            // Data first; for `Add` and `Mul` either order.
            let (data, konst) = match (arg(0)?, arg(1)?) {
                (d @ Val::Data(..), c @ Val::F32(..)) => (d, c),
                (c @ Val::F32(..), d @ Val::Data(..)) if matches!(pre, PreOp::Add | PreOp::Mul) => {
                    (d, c)
                }
                _ => return None,
            };
            let (Val::Data(axes, stage), Val::F32(cd, cv)) = (data, konst) else {
                return None;
            };
            // The constant broadcasts along the last axis only, and does not widen the data.
            if cd.len() > axes.len() || cd.iter().rev().skip(1).any(|&d| d != 1) {
                return None;
            }
            let last = *axes.last()?;
            match stage {
                Stage::Input(ops) if last == Ax::Feat && cv.len() == sizes.features => {
                    let mut ops = ops.clone();
                    ops.push((pre, cv.clone()));
                    Some(vec![Val::Data(axes.clone(), Stage::Input(ops))])
                }
                Stage::Logit {
                    w,
                    b,
                    biased: false,
                } if pre == PreOp::Add && last == Ax::Out && cv.len() == 1 => {
                    let stage = Stage::Logit {
                        w: w.clone(),
                        b: b + cv[0],
                        biased: true,
                    };
                    Some(vec![Val::Data(axes.clone(), stage)])
                }
                _ => None,
            }
        }
        "LSTM" | "GRU" => recurrent(node, args, sizes, cell),
        "Gemm" => {
            let a = attrs(node, &["alpha", "beta", "transA", "transB"])?;
            #[allow(clippy::float_cmp)]
            if a.float("alpha", 1.0)? != 1.0
                || a.float("beta", 1.0)? != 1.0
                || a.int("transA", 0)? != 0
            {
                return None;
            }
            let trans_b = a.int("transB", 0)?;
            let h = sizes.hidden?;
            let Val::Data(axes, Stage::Last) = arg(0)? else {
                return None;
            };
            let Some(Val::F32(wd, w)) = arg(1) else {
                return None;
            };
            let ok_w = match trans_b {
                0 => wd.as_slice() == [h, 1],
                1 => wd.as_slice() == [1, h],
                _ => false,
            };
            if axes.as_slice() != [Ax::Batch, Ax::Hidden] || !ok_w || args.len() > 3 {
                return None;
            }
            let b = match arg(2) {
                None if args.len() < 3 || node.input[2].is_empty() => 0.0,
                Some(Val::F32(_, c)) if c.len() == 1 => c[0],
                _ => return None,
            };
            let stage = Stage::Logit {
                w: w.clone(),
                b,
                biased: true,
            };
            Some(vec![Val::Data(vec![Ax::Batch, Ax::Out], stage)])
        }
        "MatMul" => {
            attrs(node, &[])?;
            let h = sizes.hidden?;
            let (Some(Val::Data(axes, Stage::Last)), Some(Val::F32(wd, w))) = (arg(0), arg(1))
            else {
                return None;
            };
            if args.len() != 2 || wd.as_slice() != [h, 1] || axes.last() != Some(&Ax::Hidden) {
                return None;
            }
            if axes[..axes.len() - 1]
                .iter()
                .any(|&a| sizes.of(a) != Some(1))
            {
                return None;
            }
            let mut out = axes.clone();
            *out.last_mut()? = Ax::Out;
            let stage = Stage::Logit {
                w: w.clone(),
                b: 0.0,
                biased: false,
            };
            Some(vec![Val::Data(out, stage)])
        }
        "Sigmoid" => {
            attrs(node, &[])?;
            let Val::Data(axes, Stage::Logit { w, b, .. }) = arg(0)? else {
                return None;
            };
            if args.len() != 1 {
                return None;
            }
            let stage = Stage::Prob {
                w: w.clone(),
                b: *b,
            };
            Some(vec![Val::Data(axes.clone(), stage)])
        }
        _ => None,
    }
}

/// The LSTM or GRU node: one, forward, one layer, default activations, no clip, no peepholes,
/// no sequence lengths, zero (or absent) initial states, the `[T, B, F]` layout.
fn recurrent(
    node: &NodeProto,
    args: &[Option<&Val>],
    sizes: &mut Sizes,
    cell: &mut Option<Recurrent>,
) -> Option<Vec<Val>> {
    if cell.is_some() {
        return None;
    }
    let arg = |k: usize| args.get(k).copied().flatten();
    let lstm = node.op_type == "LSTM";
    let kind = if lstm { Cell::Lstm } else { Cell::Gru };
    let a = if lstm {
        attrs(
            node,
            &["hidden_size", "direction", "layout", "input_forget"],
        )?
    } else {
        attrs(
            node,
            &["hidden_size", "direction", "layout", "linear_before_reset"],
        )?
    };
    let h = usize::try_from(a.int("hidden_size", 0)?).ok()?;
    if h == 0
        || !matches!(a.string("direction")?, None | Some(b"forward"))
        || a.int("layout", 0)? != 0
        || a.int("input_forget", 0)? != 0
        || (!lstm && a.int("linear_before_reset", 0)? != 1)
    {
        return None;
    }
    // Inputs: X, W, R, B, sequence_lens, initial_h, (LSTM) initial_c, P.
    if args.len() > if lstm { 8 } else { 6 } {
        return None;
    }
    let Val::Data(axes, Stage::Input(pre)) = arg(0)? else {
        return None;
    };
    if axes.as_slice() != [Ax::Time, Ax::Batch, Ax::Feat] {
        return None;
    }
    let (f, g) = (sizes.features, kind.gates() * h);
    let weights = |k: usize, dims: &[usize]| match arg(k) {
        Some(Val::F32(d, v)) if d.as_slice() == dims => Some(v.clone()),
        _ => None,
    };
    let w = weights(1, &[1, g, f])?;
    let r = weights(2, &[1, g, h])?;
    let b = if arg(3).is_none() && node.input.get(3).is_none_or(String::is_empty) {
        vec![0.0; 2 * g]
    } else {
        weights(3, &[1, 2 * g])?
    };
    if arg(4).is_some() {
        return None;
    }
    // Initial states: absent, or constant zeros of shape [1, 1, H].
    let states = if lstm { [5, 6] } else { [5, 5] };
    for k in states {
        match arg(k) {
            None => {}
            Some(Val::F32(d, v))
                if d.as_slice() == [1, 1, h] && v.iter().all(|x| x.to_bits() == 0) => {}
            _ => return None,
        }
    }
    if arg(7).is_some() {
        return None;
    }
    sizes.hidden = Some(h);
    *cell = Some(Recurrent {
        cell: kind,
        hidden: h,
        features: f,
        pre: pre.clone(),
        w,
        r,
        b,
        head_w: Vec::new(),
        head_b: 0.0,
    });
    // Y [T, 1, B, H] and Y_h [1, B, H]; Y_c (LSTM) is not read by anything recognised.
    Some(vec![
        Val::Data(vec![Ax::Time, Ax::Dir, Ax::Batch, Ax::Hidden], Stage::Seq),
        Val::Data(vec![Ax::Dir, Ax::Batch, Ax::Hidden], Stage::Last),
    ])
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb::{AttributeProto, ModelProto};
    use tract_onnx::prelude::Framework as _;

    use super::*;

    /// The fixture's graph, its input layout, window and width.
    fn fixture(name: &str) -> (ModelProto, bool, usize, usize) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/onnx")
            .join(name);
        let bytes = std::fs::read(dir.join("model.onnx")).unwrap();
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut bytes.as_slice())
            .unwrap();
        match name {
            "lstm" => (proto, true, 16, 6),
            "gru" => (proto, false, 12, 17),
            "lstm64" => (proto, true, 64, 17),
            _ => (proto, false, 1, 17),
        }
    }

    fn run(p: &(ModelProto, bool, usize, usize)) -> Option<Recurrent> {
        recognise(&p.0, "window", "probability", p.1, p.2, p.3)
    }

    /// The fixture with `edit` applied to its recurrent node.
    fn with_cell_edit(name: &str, edit: impl FnOnce(&mut NodeProto)) -> Option<Recurrent> {
        let mut p = fixture(name);
        let graph = p.0.graph.as_mut().unwrap();
        let node = graph
            .node
            .iter_mut()
            .find(|n| n.op_type == "LSTM" || n.op_type == "GRU")
            .unwrap();
        edit(node);
        run(&p)
    }

    fn string_attr(name: &str, value: &str) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: ATTR_STRING,
            s: value.as_bytes().to_vec(),
            ..AttributeProto::default()
        }
    }

    #[test]
    fn the_torch_fixtures_are_recognised_with_their_shapes() {
        let lstm = run(&fixture("lstm")).unwrap();
        assert_eq!((lstm.cell, lstm.hidden, lstm.features), (Cell::Lstm, 8, 6));
        assert!(lstm.pre.is_empty());
        assert_eq!(
            (lstm.w.len(), lstm.r.len(), lstm.b.len()),
            (32 * 6, 32 * 8, 64)
        );
        assert_eq!(lstm.head_w.len(), 8);
        let gru = run(&fixture("gru")).unwrap();
        assert_eq!((gru.cell, gru.hidden, gru.features), (Cell::Gru, 8, 17));
        // The in-graph scaling: (x - mean) / std.
        let ops: Vec<PreOp> = gru.pre.iter().map(|p| p.0).collect();
        assert_eq!(ops, [PreOp::Sub, PreOp::Div]);
        let big = run(&fixture("lstm64")).unwrap();
        assert_eq!((big.cell, big.hidden, big.features), (Cell::Lstm, 64, 17));
        // The forest is not a recurrent graph; a wrong input name or layout is not recognised.
        assert!(run(&fixture("rf")).is_none());
        let p = fixture("lstm");
        assert!(recognise(&p.0, "x", "probability", true, 16, 6).is_none());
        assert!(recognise(&p.0, "window", "probability", false, 16, 6).is_none());
        assert!(recognise(&p.0, "window", "probability", true, 16, 5).is_none());
    }

    #[test]
    fn a_bidirectional_or_unusual_cell_is_not_recognised() {
        assert!(
            with_cell_edit("lstm", |n| n
                .attribute
                .push(string_attr("direction", "forward")))
            .is_some()
        );
        assert!(
            with_cell_edit("lstm", |n| n
                .attribute
                .push(string_attr("direction", "bidirectional")))
            .is_none()
        );
        assert!(
            with_cell_edit("lstm", |n| n
                .attribute
                .push(string_attr("direction", "reverse")))
            .is_none()
        );
        assert!(
            with_cell_edit("gru", |n| n
                .attribute
                .push(string_attr("direction", "bidirectional")))
            .is_none()
        );
        // Activations, even the default ones spelled out, clip, a peephole, input_forget.
        assert!(
            with_cell_edit("lstm", |n| n.attribute.push(AttributeProto {
                name: "activations".into(),
                r#type: 8,
                strings: vec![b"Sigmoid".to_vec(), b"Tanh".to_vec(), b"Tanh".to_vec()],
                ..AttributeProto::default()
            }))
            .is_none()
        );
        assert!(
            with_cell_edit("lstm", |n| n.attribute.push(AttributeProto {
                name: "clip".into(),
                r#type: ATTR_FLOAT,
                f: 3.0,
                ..AttributeProto::default()
            }))
            .is_none()
        );
        assert!(
            with_cell_edit("lstm", |n| n.attribute.push(AttributeProto {
                name: "input_forget".into(),
                r#type: ATTR_INT,
                i: 1,
                ..AttributeProto::default()
            }))
            .is_none()
        );
        assert!(with_cell_edit("lstm", |n| n.input.push("head.bias".into())).is_none());
        // GRU without linear_before_reset (ONNX's default 0).
        assert!(
            with_cell_edit("gru", |n| n
                .attribute
                .retain(|a| a.name != "linear_before_reset"))
            .is_none()
        );
        // Another hidden size than the weights'.
        assert!(with_cell_edit("lstm", |n| n.attribute[0].i = 4).is_none());
        // Sequence lengths.
        assert!(with_cell_edit("lstm", |n| n.input[4] = "head.bias".into()).is_none());
    }

    #[test]
    fn a_second_layer_or_an_extra_operator_is_not_recognised() {
        // A second recurrent node (a 2-layer model has one per layer).
        let mut p = fixture("lstm");
        let graph = p.0.graph.as_mut().unwrap();
        let at = graph.node.iter().position(|n| n.op_type == "LSTM").unwrap();
        let mut second = graph.node[at].clone();
        for o in &mut second.output {
            o.push_str("_again");
        }
        graph.node.insert(at + 1, second);
        assert!(run(&p).is_none());

        // An operator outside the recognised set (Relu, even Identity) before the sigmoid.
        for op in ["Relu", "Identity", "Tanh"] {
            let mut p = fixture("lstm");
            let graph = p.0.graph.as_mut().unwrap();
            let sig = graph
                .node
                .iter()
                .position(|n| n.op_type == "Sigmoid")
                .unwrap();
            let logit = graph.node[sig].input[0].clone();
            graph.node[sig].input[0] = "extra".into();
            graph.node.insert(
                sig,
                NodeProto {
                    op_type: op.into(),
                    input: vec![logit],
                    output: vec!["extra".into()],
                    ..NodeProto::default()
                },
            );
            assert!(run(&p).is_none(), "{op}");
        }

        // A step other than the last: Gather index 0.
        let mut p = fixture("lstm");
        let graph = p.0.graph.as_mut().unwrap();
        let gather = graph
            .node
            .iter()
            .find(|n| n.op_type == "Gather" && n.name == "/Gather")
            .unwrap()
            .input[1]
            .clone();
        let c = graph
            .node
            .iter_mut()
            .find(|n| n.output[0] == gather)
            .unwrap();
        c.attribute[0].t.as_mut().unwrap().raw_data = 0_i64.to_le_bytes().to_vec();
        assert!(run(&p).is_none());

        // No sigmoid: the logit is the output.
        let mut p = fixture("lstm");
        let graph = p.0.graph.as_mut().unwrap();
        graph.node.retain(|n| n.op_type != "Sigmoid");
        let gemm = graph.node.iter_mut().find(|n| n.op_type == "Gemm").unwrap();
        gemm.output[0] = "probability".into();
        assert!(run(&p).is_none());

        // A non-zero initial state.
        let mut p = fixture("lstm");
        let graph = p.0.graph.as_mut().unwrap();
        let zero = graph
            .node
            .iter_mut()
            .find(|n| n.name == "/rnn/Constant")
            .unwrap();
        zero.attribute[0].t.as_mut().unwrap().raw_data[3] = 0x3f;
        assert!(run(&p).is_none());
    }
}
