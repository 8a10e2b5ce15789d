//! A fixed-length window of recent values, and the Pine-style EMA the published scripts use.
//!
//! Statistics are recomputed over the window on every call (no running sums), so a value
//! depends only on the window's contents, never on how long the stream has run: streaming and
//! batch agree bit for bit, and no rounding error accumulates.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub(crate) struct Window {
    len: usize,
    values: VecDeque<f64>,
}

impl Window {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            len,
            values: VecDeque::with_capacity(len + 1),
        }
    }

    pub(crate) fn push(&mut self, x: f64) {
        if self.values.len() == self.len {
            self.values.pop_front();
        }
        self.values.push_back(x);
    }

    pub(crate) fn is_full(&self) -> bool {
        self.values.len() == self.len
    }

    pub(crate) fn oldest(&self) -> Option<f64> {
        self.values.front().copied()
    }

    pub(crate) fn sum(&self) -> f64 {
        self.values.iter().sum()
    }

    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn mean(&self) -> f64 {
        self.sum() / self.values.len() as f64
    }

    /// Population standard deviation, as Pine's `ta.stdev` (biased) computes it.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn pstdev(&self) -> f64 {
        let m = self.mean();
        let var =
            self.values.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / self.values.len() as f64;
        var.sqrt()
    }

    /// Linearly weighted mean, newest weight `len`, oldest weight 1 (Pine's `ta.wma`).
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn wma(&self) -> f64 {
        let mut num = 0.0;
        let mut den = 0.0;
        for (i, x) in self.values.iter().enumerate() {
            let w = (i + 1) as f64;
            num += w * x;
            den += w;
        }
        num / den
    }

    pub(crate) fn clear(&mut self) {
        self.values.clear();
    }
}

/// Pine's `ta.ema` / ThinkScript's `ExpAverage`: `alpha = 2 / (len + 1)`, seeded with the first
/// value (not with an SMA as TA-Lib's EMA is).
#[derive(Debug, Clone)]
pub(crate) struct PineEma {
    alpha: f64,
    value: Option<f64>,
}

impl PineEma {
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn new(len: usize) -> Self {
        Self {
            alpha: 2.0 / (len as f64 + 1.0),
            value: None,
        }
    }

    pub(crate) fn update(&mut self, x: f64) -> f64 {
        let v = match self.value {
            None => x,
            Some(prev) => self.alpha * x + (1.0 - self.alpha) * prev,
        };
        self.value = Some(v);
        v
    }

    pub(crate) fn clear(&mut self) {
        self.value = None;
    }
}

/// Hull moving average: `WMA(2·WMA(x, n/2) − WMA(x, n), ⌊√n⌋)` (Alan Hull, 2005; Pine `ta.hma`).
#[derive(Debug, Clone)]
pub(crate) struct Hull {
    half: Window,
    full: Window,
    outer: Window,
}

impl Hull {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            half: Window::new((n / 2).max(1)),
            full: Window::new(n),
            outer: Window::new(isqrt(n).max(1)),
        }
    }

    pub(crate) fn update(&mut self, x: f64) -> Option<f64> {
        self.half.push(x);
        self.full.push(x);
        if !self.full.is_full() {
            return None;
        }
        self.outer.push(2.0 * self.half.wma() - self.full.wma());
        self.outer.is_full().then(|| self.outer.wma())
    }

    pub(crate) fn clear(&mut self) {
        self.half.clear();
        self.full.clear();
        self.outer.clear();
    }
}

pub(crate) fn isqrt(n: usize) -> usize {
    let mut r = 0;
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r
}

impl Window {
    pub(crate) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        self.values.iter().copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }
}
