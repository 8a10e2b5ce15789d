//! Recognises, in an ONNX graph, a scikit-learn tree ensemble as skl2onnx exports it (one
//! `ai.onnx.ml` `TreeEnsembleClassifier` reading the graph's input and writing the probability
//! output the manifest names), and evaluates its node arrays with MTQ's own tree walk.
//!
//! Why: tract-onnx-opl 0.23.9 finds a leaf's votes by stepping from the first leaf of the whole
//! ensemble to it (`outer_iter().skip(start)`), so one prediction of a 100-tree forest costs
//! hundreds of microseconds; the walk here costs one visit per level of each tree.
//!
//! Accepted: `classlabels_int64s` or `classlabels_strings`; the six `BRANCH_*` modes and
//! `LEAF`; `nodes_missing_value_tracks_true`; `post_transform` `NONE`; no `base_values`; node ids
//! within each tree numbered from 0 without gaps, each child after its parent (so every walk
//! ends). The output follows ONNX-ML's (and tract's) rule: a two-class model whose leaves all
//! vote for class 0 (skl2onnx's binary layout) outputs `[1 - s, s]`; otherwise one score per
//! class. Scores are summed in `f32` in tree order, as tract does, so both give the same bits.
//! Anything else (the opset-3 `*_as_tensor` attributes, another post-transform, an unknown
//! attribute, an id out of range) gives `None` and tract runs the model; being refused is never
//! an error. The caller still compares the walk with tract on trial rows before using it.

use tract_onnx::pb::{GraphProto, NodeProto};

use super::recognise::{ATTR_FLOATS, ATTR_INTS, ATTR_STRING, ATTR_STRINGS, attrs};

/// How a branch node compares the feature `x` with its value `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

impl Test {
    /// Whether `x` (not NaN) takes the `yes` branch; a leaf has no branch.
    #[allow(clippy::float_cmp)]
    fn holds(self, x: f32, v: f32) -> bool {
        match self {
            Self::Leq => x <= v,
            Self::Lt => x < v,
            Self::Gte => x >= v,
            Self::Gt => x > v,
            Self::Eq => x == v,
            Self::Neq => x != v,
            Self::Leaf => false,
        }
    }
}

/// One node; for a leaf, `yes..no` is its range in [`Trees::votes`].
#[derive(Debug, Clone, Copy)]
struct Node {
    test: Test,
    /// Where a missing value (NaN) goes: `yes` when true.
    nan_yes: bool,
    feature: u32,
    value: f32,
    yes: u32,
    no: u32,
}

/// What the model outputs at the manifest's `output_index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Class 0's score `s`.
    Score,
    /// `1 - s` (the binary layout's first column).
    Complement,
}

/// A recognised tree ensemble, reduced to the one output MTQ reads.
#[derive(Debug, Clone)]
pub(crate) struct Trees {
    /// Each tree's root in `nodes`.
    roots: Vec<u32>,
    nodes: Vec<Node>,
    /// The leaves' votes for the class that is read, in the graph's order.
    votes: Vec<f32>,
    read: Read,
}

impl Trees {
    /// The output at the recognised index for one row of `f32` features.
    pub(crate) fn predict(&self, row: &[f32]) -> f32 {
        let mut score = 0.0_f32;
        for &root in &self.roots {
            let mut at = root as usize;
            loop {
                let n = self.nodes[at];
                if n.test == Test::Leaf {
                    for &v in &self.votes[n.yes as usize..n.no as usize] {
                        score += v;
                    }
                    break;
                }
                let x = row[n.feature as usize];
                let yes = if x.is_nan() {
                    n.nan_yes
                } else {
                    n.test.holds(x, n.value)
                };
                at = if yes { n.yes } else { n.no } as usize;
            }
        }
        match self.read {
            Read::Score => score,
            Read::Complement => 1.0 - score,
        }
    }

    /// `count` rows of `width` features (flattened) for checking the walk against tract: each
    /// feature set to a value some node compares it with, or just below or above it, picked
    /// pseudo-randomly, so that the rows take many different paths; features no node reads
    /// are 0.
    pub(crate) fn trial_rows(&self, width: usize, count: usize) -> Vec<f32> {
        let mut cuts: Vec<Vec<f32>> = vec![Vec::new(); width];
        for n in &self.nodes {
            if n.test != Test::Leaf && (n.feature as usize) < width && n.value.is_finite() {
                cuts[n.feature as usize].push(n.value);
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap_or(0) % n.max(1)
        };
        let mut rows = Vec::with_capacity(width * count);
        for _ in 0..count {
            for c in &cuts {
                let x = if c.is_empty() {
                    0.0
                } else {
                    let v = c[next(c.len())];
                    let step = v.abs() * 1e-4 + 1e-6;
                    match next(3) {
                        0 => v - step,
                        1 => v,
                        _ => v + step,
                    }
                };
                rows.push(x);
            }
        }
        rows
    }

    /// Trees in the ensemble.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.roots.len()
    }
}

fn usizes(v: &[i64]) -> Option<Vec<usize>> {
    v.iter().map(|&x| usize::try_from(x).ok()).collect()
}

/// Recognises `graph` (input `input`, `features` wide) as a tree ensemble whose output
/// `output`, flattened, holds MTQ's probability at `index`; `None` for anything else.
pub(crate) fn recognise(
    graph: &GraphProto,
    input: &str,
    output: &str,
    index: usize,
    features: usize,
) -> Option<Trees> {
    // The node that writes the output; its input must be the graph's input itself.
    let node = graph
        .node
        .iter()
        .find(|n| n.output.iter().any(|o| o == output))?;
    if node.op_type != "TreeEnsembleClassifier"
        || node.domain != "ai.onnx.ml"
        || node.input.len() != 1
        || node.input[0] != input
        || node.output.get(1).map(String::as_str) != Some(output)
        || graph
            .node
            .iter()
            .filter(|n| n.output.iter().any(|o| o == output))
            .count()
            != 1
    {
        return None;
    }
    classifier(node, index, features)
}

fn classifier(node: &NodeProto, index: usize, features: usize) -> Option<Trees> {
    let a = attrs(
        node,
        &[
            "class_ids",
            "class_nodeids",
            "class_treeids",
            "class_weights",
            "classlabels_int64s",
            "classlabels_strings",
            "nodes_falsenodeids",
            "nodes_featureids",
            "nodes_hitrates",
            "nodes_missing_value_tracks_true",
            "nodes_modes",
            "nodes_nodeids",
            "nodes_treeids",
            "nodes_truenodeids",
            "nodes_values",
            "post_transform",
        ],
    )?;
    let typed = |name: &str, ty: i32| a.get(name).is_none_or(|x| x.r#type == ty);
    let ints = |name: &str| -> Option<Vec<usize>> {
        let x = a.get(name)?;
        (x.r#type == ATTR_INTS).then(|| usizes(&x.ints))?
    };
    let floats = |name: &str| -> Option<&[f32]> {
        let x = a.get(name)?;
        (x.r#type == ATTR_FLOATS).then_some(x.floats.as_slice())
    };
    if !(typed("classlabels_int64s", ATTR_INTS)
        && typed("classlabels_strings", ATTR_STRINGS)
        && typed("post_transform", ATTR_STRING)
        && typed("nodes_hitrates", ATTR_FLOATS))
    {
        return None;
    }
    if let Some(p) = a.get("post_transform")
        && p.s != b"NONE"
    {
        return None;
    }
    let classes = match (a.get("classlabels_int64s"), a.get("classlabels_strings")) {
        (Some(x), None) => x.ints.len(),
        (None, Some(x)) => x.strings.len(),
        _ => return None,
    };

    let tree_ids = ints("nodes_treeids")?;
    let node_ids = ints("nodes_nodeids")?;
    let feature_ids = ints("nodes_featureids")?;
    let true_ids = ints("nodes_truenodeids")?;
    let false_ids = ints("nodes_falsenodeids")?;
    let values = floats("nodes_values")?;
    let modes = {
        let x = a.get("nodes_modes")?;
        (x.r#type == ATTR_STRINGS).then_some(&x.strings)?
    };
    let n = tree_ids.len();
    let missing = match a.get("nodes_missing_value_tracks_true") {
        None => vec![0; n],
        Some(_) => ints("nodes_missing_value_tracks_true")?,
    };
    if n == 0
        || [
            node_ids.len(),
            feature_ids.len(),
            true_ids.len(),
            false_ids.len(),
            values.len(),
            modes.len(),
            missing.len(),
        ]
        .iter()
        .any(|&l| l != n)
    {
        return None;
    }

    // Trees numbered 0, 1, ... in the order they first appear; node ids in each from 0 with no
    // gap, so a node's place is the tree's start plus its id.
    let trees = tree_ids.iter().max()? + 1;
    let mut sizes = vec![0_usize; trees];
    for &t in &tree_ids {
        sizes[t] += 1;
    }
    if sizes.contains(&0) {
        return None;
    }
    let mut starts = Vec::with_capacity(trees);
    let mut total = 0_usize;
    for &s in &sizes {
        starts.push(total);
        total += s;
    }
    let place = |t: usize, id: usize| (id < sizes[t]).then(|| starts[t] + id);
    let blank = Node {
        test: Test::Leaf,
        nan_yes: false,
        feature: 0,
        value: 0.0,
        yes: u32::MAX,
        no: u32::MAX,
    };
    let mut nodes = vec![blank; total];
    let mut seen = vec![false; total];
    for k in 0..n {
        let (t, id) = (tree_ids[k], node_ids[k]);
        let at = place(t, id)?;
        if std::mem::replace(&mut seen[at], true) {
            return None;
        }
        let test = match modes[k].as_slice() {
            b"BRANCH_LEQ" => Test::Leq,
            b"BRANCH_LT" => Test::Lt,
            b"BRANCH_GTE" => Test::Gte,
            b"BRANCH_GT" => Test::Gt,
            b"BRANCH_EQ" => Test::Eq,
            b"BRANCH_NEQ" => Test::Neq,
            b"LEAF" => Test::Leaf,
            _ => return None,
        };
        let node = &mut nodes[at];
        node.test = test;
        if test == Test::Leaf {
            continue;
        }
        // Children after their parent, in the same tree: every walk ends.
        let (yes, no) = (place(t, true_ids[k])?, place(t, false_ids[k])?);
        if yes <= at || no <= at || feature_ids[k] >= features || missing[k] > 1 {
            return None;
        }
        node.nan_yes = missing[k] == 1;
        node.feature = u32::try_from(feature_ids[k]).ok()?;
        node.value = values[k];
        node.yes = u32::try_from(yes).ok()?;
        node.no = u32::try_from(no).ok()?;
    }

    // The votes: each leaf's, in the order the graph lists them (tract's order too).
    let class_ids = ints("class_ids")?;
    let leaf_trees = ints("class_treeids")?;
    let leaf_nodes = ints("class_nodeids")?;
    let weights = floats("class_weights")?;
    let m = class_ids.len();
    if m == 0 || leaf_trees.len() != m || leaf_nodes.len() != m || weights.len() != m {
        return None;
    }
    if class_ids.iter().any(|&c| c >= classes) {
        return None;
    }
    // ONNX-ML's binary layout: two classes, every vote for class 0: the output is [1 - s, s].
    let binary = classes == 2 && class_ids.iter().all(|&c| c == 0);
    let (class, read) = match (binary, index) {
        (true, 0) => (0, Read::Complement),
        (true, 1) => (0, Read::Score),
        (false, i) if i < classes => (i, Read::Score),
        _ => return None,
    };
    let mut per_leaf: Vec<Vec<f32>> = vec![Vec::new(); total];
    for k in 0..m {
        if leaf_trees[k] >= trees {
            return None;
        }
        let at = place(leaf_trees[k], leaf_nodes[k])?;
        if nodes[at].test != Test::Leaf {
            return None;
        }
        if class_ids[k] == class {
            per_leaf[at].push(weights[k]);
        }
    }
    let mut votes = Vec::new();
    for (node, v) in nodes.iter_mut().zip(&per_leaf) {
        if node.test == Test::Leaf {
            node.yes = u32::try_from(votes.len()).ok()?;
            votes.extend_from_slice(v);
            node.no = u32::try_from(votes.len()).ok()?;
        }
    }
    let roots = starts
        .iter()
        .map(|&s| u32::try_from(s).ok())
        .collect::<Option<_>>()?;
    Some(Trees {
        roots,
        nodes,
        votes,
        read,
    })
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb::ModelProto;
    use tract_onnx::prelude::Framework as _;

    use super::*;

    fn rf() -> ModelProto {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/rf");
        let bytes = std::fs::read(dir.join("model.onnx")).unwrap();
        tract_onnx::onnx()
            .proto_model_for_read(&mut bytes.as_slice())
            .unwrap()
    }

    fn run(p: &ModelProto, index: usize) -> Option<Trees> {
        recognise(
            p.graph.as_ref().unwrap(),
            "features",
            "probabilities",
            index,
            17,
        )
    }

    fn edited(edit: impl FnOnce(&mut NodeProto)) -> Option<Trees> {
        let mut p = rf();
        edit(&mut p.graph.as_mut().unwrap().node[0]);
        run(&p, 1)
    }

    fn attr<'a>(n: &'a mut NodeProto, name: &str) -> &'a mut tract_onnx::pb::AttributeProto {
        n.attribute.iter_mut().find(|a| a.name == name).unwrap()
    }

    #[test]
    fn the_fixture_forest_is_recognised_at_either_index() {
        let p = rf();
        let t = run(&p, 1).unwrap();
        assert_eq!(t.len(), 100);
        assert_eq!(t.read, Read::Score);
        assert_eq!(run(&p, 0).unwrap().read, Read::Complement);
        assert!(run(&p, 2).is_none());
        // A probability, and its complement.
        let row = [0.0_f32; 17];
        let (s, c) = (t.predict(&row), run(&p, 0).unwrap().predict(&row));
        assert!((0.0..=1.0).contains(&s));
        assert!((s + c - 1.0).abs() < 1e-6);
        // Another output name, another input name, a narrower row: refused.
        let g = p.graph.as_ref().unwrap();
        assert!(recognise(g, "features", "label", 0, 17).is_none());
        assert!(recognise(g, "x", "probabilities", 1, 17).is_none());
        assert!(recognise(g, "features", "probabilities", 1, 16).is_none());
    }

    #[test]
    fn what_is_not_the_recognised_shape_is_refused() {
        assert!(edited(|n| attr(n, "post_transform").s = b"LOGISTIC".to_vec()).is_none());
        assert!(edited(|n| n.domain = "com.example".into()).is_none());
        assert!(edited(|n| n.op_type = "TreeEnsembleRegressor".into()).is_none());
        assert!(
            edited(|n| {
                let mut extra = n.attribute[0].clone();
                extra.name = "base_values".into();
                n.attribute.push(extra);
            })
            .is_none()
        );
        // A child pointing back at its parent (a cycle), an id past the tree's end, a mode
        // ONNX does not define, a vote on a branch node.
        assert!(edited(|n| attr(n, "nodes_truenodeids").ints[1] = 0).is_none());
        assert!(edited(|n| attr(n, "nodes_falsenodeids").ints[0] = 10_000).is_none());
        assert!(edited(|n| attr(n, "nodes_modes").strings[0] = b"BRANCH_XX".to_vec()).is_none());
        assert!(edited(|n| attr(n, "class_nodeids").ints[0] = 0).is_none());
        // A node listed twice; arrays of different lengths.
        assert!(edited(|n| attr(n, "nodes_nodeids").ints[1] = 0).is_none());
        assert!(
            edited(|n| {
                attr(n, "nodes_values").floats.pop();
            })
            .is_none()
        );
    }

    #[test]
    #[allow(clippy::float_cmp)] // the votes are exact binary fractions
    fn missing_values_and_every_comparison_follow_onnx() {
        // One tree: node 0 tests feature 2 against 0.5 and sends yes to leaf 1 (vote 0.25), no
        // to leaf 2 (vote 0.75).
        let leaf = |v: u32| Node {
            test: Test::Leaf,
            nan_yes: false,
            feature: 0,
            value: 0.0,
            yes: v,
            no: v + 1,
        };
        let tree = |test, nan_yes| Trees {
            roots: vec![0],
            nodes: vec![
                Node {
                    test,
                    nan_yes,
                    feature: 2,
                    value: 0.5,
                    yes: 1,
                    no: 2,
                },
                leaf(0),
                leaf(1),
            ],
            votes: vec![0.25, 0.75],
            read: Read::Score,
        };
        let at = |x: f32| [9.0, 9.0, x];
        for (test, below, equal, above) in [
            (Test::Leq, 0.25, 0.25, 0.75),
            (Test::Lt, 0.25, 0.75, 0.75),
            (Test::Gte, 0.75, 0.25, 0.25),
            (Test::Gt, 0.75, 0.75, 0.25),
            (Test::Eq, 0.75, 0.25, 0.75),
            (Test::Neq, 0.25, 0.75, 0.25),
        ] {
            let t = tree(test, false);
            assert_eq!(t.predict(&at(0.4)), below, "{test:?}");
            assert_eq!(t.predict(&at(0.5)), equal, "{test:?}");
            assert_eq!(t.predict(&at(0.6)), above, "{test:?}");
            assert_eq!(t.predict(&at(f32::NAN)), 0.75, "{test:?}: NaN goes no");
            assert_eq!(tree(test, true).predict(&at(f32::NAN)), 0.25, "{test:?}");
        }
    }
}
