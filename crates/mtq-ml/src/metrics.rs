//! Classification metrics of a model's probabilities against labels.

use serde::{Deserialize, Serialize};

/// Test-set figures, as the training report prints them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub rows: usize,
    /// Share of positive labels: the accuracy of always saying "yes" when above one half.
    pub base_rate: f64,
    /// Share of rows where `p >= 0.5` agrees with the label.
    pub accuracy: f64,
    /// Area under the ROC curve (0.5: no better than chance); ties count one half.
    pub auc: f64,
    /// Mean negative log-likelihood, probabilities clipped to [1e-15, 1 - 1e-15].
    pub log_loss: f64,
    pub threshold: f64,
    /// Share of positives among rows with `p >= threshold`; `None` when none clears it.
    pub precision_at_threshold: Option<f64>,
    /// Rows with `p >= threshold`.
    pub selected: usize,
}

impl Metrics {
    pub fn of(p: &[f64], y: &[bool], threshold: f64) -> Self {
        let n = p.len().min(y.len());
        let (p, y) = (&p[..n], &y[..n]);
        let pos = y.iter().filter(|&&v| v).count();
        let nf = n.max(1) as f64;
        let accuracy = p.iter().zip(y).filter(|(p, y)| (**p >= 0.5) == **y).count() as f64 / nf;
        let log_loss = p
            .iter()
            .zip(y)
            .map(|(p, y)| {
                let q = p.clamp(1e-15, 1.0 - 1e-15);
                if *y { -q.ln() } else { -(1.0 - q).ln() }
            })
            .sum::<f64>()
            / nf;
        let picked: Vec<bool> = p
            .iter()
            .zip(y)
            .filter(|(p, _)| **p >= threshold)
            .map(|(_, y)| *y)
            .collect();
        let precision = (!picked.is_empty())
            .then(|| picked.iter().filter(|&&v| v).count() as f64 / picked.len() as f64);
        Self {
            rows: n,
            base_rate: pos as f64 / nf,
            accuracy,
            auc: auc(p, y),
            log_loss,
            threshold,
            precision_at_threshold: precision,
            selected: picked.len(),
        }
    }
}

/// The Mann-Whitney form of the ROC area, ties averaged.
fn auc(p: &[f64], y: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut ranks = vec![0.0; p.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && p[idx[j + 1]].total_cmp(&p[idx[i]]).is_eq() {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            ranks[*k] = r;
        }
        i = j + 1;
    }
    let pos = y.iter().filter(|&&v| v).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.5;
    }
    let sum: f64 = ranks
        .iter()
        .zip(y)
        .filter(|(_, y)| **y)
        .map(|(r, _)| r)
        .sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_ranking_has_auc_one_and_a_reversed_one_zero() {
        let y = [false, false, true, true];
        assert!((Metrics::of(&[0.1, 0.2, 0.8, 0.9], &y, 0.5).auc - 1.0).abs() < 1e-12);
        assert!(Metrics::of(&[0.9, 0.8, 0.2, 0.1], &y, 0.5).auc.abs() < 1e-12);
    }

    #[test]
    fn accuracy_log_loss_and_precision_follow_their_definitions() {
        let m = Metrics::of(&[0.9, 0.6, 0.4, 0.7], &[true, false, false, true], 0.65);
        assert!((m.accuracy - 0.75).abs() < 1e-12);
        let ll = -(0.9f64.ln() + 0.4f64.ln() + 0.6f64.ln() + 0.7f64.ln()) / 4.0;
        assert!((m.log_loss - ll).abs() < 1e-12);
        assert_eq!((m.selected, m.precision_at_threshold), (2, Some(1.0)));
        assert!((m.base_rate - 0.5).abs() < 1e-12);
    }
}
