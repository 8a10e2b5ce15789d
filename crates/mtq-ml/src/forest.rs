//! A random forest classifier (CART trees on bootstrap samples, a random subset of features at
//! each split, Gini impurity), trained and evaluated in MTQ.
//!
//! Why our own and not smartcore's: `smartcore` 0.7's `RandomForestClassifier` returns class
//! votes only (no probability, which the threshold, AUC and log loss need), its trees'
//! `predict_proba` builds a matrix per call (too slow for 20 symbols under a millisecond) and
//! its serde support pulls `typetag`. This forest keeps each tree as a flat node array: one
//! prediction walks `depth` nodes per tree and allocates nothing.
//!
//! Training is deterministic for a seed: tree `t` draws from its own generator seeded with
//! `seed + t`, so the trees are the same whatever the thread count.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::MlError;

/// How a forest is grown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    /// Features tried at each split; 0 for the square root of the feature count.
    pub max_features: usize,
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            trees: 100,
            max_depth: 6,
            min_samples_leaf: 20,
            max_features: 0,
            seed: 1,
        }
    }
}

/// A node: a split (`feature < threshold` goes left) or, with `feature == LEAF`, a leaf whose
/// `value` is the share of positives that reached it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Node {
    feature: u16,
    threshold: f64,
    left: u32,
    right: u32,
    value: f64,
}

const LEAF: u16 = u16::MAX;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn predict(&self, x: &[f64]) -> f64 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.feature == LEAF {
                return n.value;
            }
            i = if x[usize::from(n.feature)] < n.threshold {
                n.left as usize
            } else {
                n.right as usize
            };
        }
    }
}

/// A trained forest; see [the module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    features: usize,
    params: ForestParams,
    trees: Vec<Tree>,
}

/// SplitMix64: small, seedable, and the same on every platform.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is a count of rows or features: far below 2^32, so the bias is negligible.
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(u64::MAX)).unwrap_or(0)
    }
}

impl Forest {
    /// Grows a forest on rows `x` (each `features` long) and labels `y`.
    pub fn fit(x: &[Vec<f64>], y: &[bool], params: ForestParams) -> Result<Self, MlError> {
        if x.len() != y.len() {
            return Err(MlError::Input(format!(
                "{} rows for {} labels",
                x.len(),
                y.len()
            )));
        }
        let features = x.first().map_or(0, Vec::len);
        if x.len() < 2 * params.min_samples_leaf.max(1) || features == 0 {
            return Err(MlError::Input(format!(
                "{} training rows: too few to grow trees with min_samples_leaf {} (more data, \
                 or a shorter horizon)",
                x.len(),
                params.min_samples_leaf
            )));
        }
        if features >= usize::from(LEAF) || x.iter().any(|r| r.len() != features) {
            return Err(MlError::Input("rows of different lengths".into()));
        }
        if params.trees == 0 || params.max_depth == 0 {
            return Err(MlError::Input(
                "a forest needs at least one tree of depth 1 or more".into(),
            ));
        }
        let mtry = if params.max_features == 0 {
            features.isqrt().clamp(1, features)
        } else {
            params.max_features.min(features)
        };
        let trees = (0..params.trees)
            .into_par_iter()
            .map(|t| {
                let mut rng = Rng(params.seed.wrapping_add(t as u64));
                let sample: Vec<usize> = (0..x.len()).map(|_| rng.below(x.len())).collect();
                let mut grower = Grower {
                    x,
                    y,
                    params: &params,
                    mtry,
                    rng,
                    nodes: Vec::new(),
                };
                grower.grow(sample, 0);
                Tree {
                    nodes: grower.nodes,
                }
            })
            .collect();
        Ok(Self {
            features,
            params,
            trees,
        })
    }

    /// The probability of the positive class: the mean of the trees' leaf shares.
    pub fn predict(&self, x: &[f64]) -> Result<f64, MlError> {
        if x.len() != self.features {
            return Err(MlError::Input(format!(
                "a row of {} features for a forest of {}",
                x.len(),
                self.features
            )));
        }
        let sum: f64 = self.trees.iter().map(|t| t.predict(x)).sum();
        Ok(sum / self.trees.len() as f64)
    }

    pub fn features(&self) -> usize {
        self.features
    }

    pub fn params(&self) -> &ForestParams {
        &self.params
    }
}

struct Grower<'a> {
    x: &'a [Vec<f64>],
    y: &'a [bool],
    params: &'a ForestParams,
    mtry: usize,
    rng: Rng,
    nodes: Vec<Node>,
}

impl Grower<'_> {
    /// Grows the subtree over `rows`; returns its root's index.
    fn grow(&mut self, mut rows: Vec<usize>, depth: usize) -> u32 {
        let at = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        let pos = rows.iter().filter(|&&r| self.y[r]).count();
        let value = pos as f64 / rows.len().max(1) as f64;
        self.nodes.push(Node {
            feature: LEAF,
            threshold: 0.0,
            left: 0,
            right: 0,
            value,
        });
        let leaf = self.params.min_samples_leaf.max(1);
        if depth >= self.params.max_depth || rows.len() < 2 * leaf || pos == 0 || pos == rows.len()
        {
            return at;
        }
        let Some((feature, threshold)) = self.best_split(&mut rows, pos, leaf) else {
            return at;
        };
        let (left, right): (Vec<usize>, Vec<usize>) =
            rows.iter().partition(|&&r| self.x[r][feature] < threshold);
        let l = self.grow(left, depth + 1);
        let r = self.grow(right, depth + 1);
        let n = &mut self.nodes[at as usize];
        n.feature = u16::try_from(feature).unwrap_or(LEAF);
        n.threshold = threshold;
        n.left = l;
        n.right = r;
        at
    }

    /// The split of lowest weighted Gini impurity over `mtry` features drawn at random.
    fn best_split(&mut self, rows: &mut [usize], pos: usize, leaf: usize) -> Option<(usize, f64)> {
        let n = rows.len();
        let features = self.x[rows[0]].len();
        let mut order: Vec<usize> = (0..features).collect();
        for i in 0..self.mtry {
            let j = i + self.rng.below(features - i);
            order.swap(i, j);
        }
        let gini = |p: usize, m: usize| {
            if m == 0 {
                return 0.0;
            }
            let f = p as f64 / m as f64;
            2.0 * f * (1.0 - f) * m as f64
        };
        let mut best: Option<(f64, usize, f64)> = None;
        for &f in &order[..self.mtry] {
            let x = self.x;
            rows.sort_by(|&a, &b| x[a][f].total_cmp(&x[b][f]).then(a.cmp(&b)));
            let mut left_pos = 0;
            for k in 1..n {
                if self.y[rows[k - 1]] {
                    left_pos += 1;
                }
                let (lo, hi) = (x[rows[k - 1]][f], x[rows[k]][f]);
                if k < leaf || n - k < leaf || lo >= hi {
                    continue;
                }
                let score = gini(left_pos, k) + gini(pos - left_pos, n - k);
                if best.is_none_or(|(s, _, _)| score < s) {
                    best = Some((score, f, lo + (hi - lo) / 2.0));
                }
            }
        }
        let parent = gini(pos, n);
        best.filter(|(s, _, _)| *s < parent).map(|(_, f, t)| (f, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut rng = Rng(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let a = rng.below(1000) as f64 / 1000.0;
            let b = rng.below(1000) as f64 / 1000.0;
            let noise = rng.below(10) == 0;
            x.push(vec![a, b, rng.below(1000) as f64]);
            y.push((a + b > 1.0) != noise);
        }
        (x, y)
    }

    #[test]
    fn the_same_seed_grows_the_same_forest_and_another_seed_does_not() {
        let (x, y) = data(2000, 5);
        let p = ForestParams {
            trees: 20,
            ..ForestParams::default()
        };
        let a = Forest::fit(&x, &y, p).unwrap();
        let b = Forest::fit(&x, &y, p).unwrap();
        assert_eq!(a, b);
        let c = Forest::fit(&x, &y, ForestParams { seed: 2, ..p }).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn a_forest_learns_a_plain_rule() {
        let (x, y) = data(3000, 9);
        let f = Forest::fit(&x, &y, ForestParams::default()).unwrap();
        assert!(f.predict(&[0.9, 0.9, 1.0]).unwrap() > 0.8);
        assert!(f.predict(&[0.1, 0.1, 1.0]).unwrap() < 0.2);
    }

    #[test]
    fn a_row_of_the_wrong_width_is_an_error() {
        let (x, y) = data(200, 1);
        let f = Forest::fit(&x, &y, ForestParams::default()).unwrap();
        let err = f.predict(&[1.0]).unwrap_err().to_string();
        assert!(
            err.contains("a row of 1 features for a forest of 3"),
            "{err}"
        );
    }
}
