//! Models shared by the symbols that name them, and a bar close's inferences in one batch.
//!
//! A trader whose 20 symbols sit behind the same model directory loads it once: the
//! [`ModelPool`] it builds its strategies with hands every symbol's [`MlFiltered`](crate::MlFiltered)
//! the same [`SharedModel`], and each symbol keeps its rolling window in its own slot of it.
//!
//! The batch: when the trader closes a bar of several symbols, it first tells each symbol's
//! strategy ([`Strategy::prepare_bar`](mtq_strategies::Strategy::prepare_bar)). The filter
//! computes its features, pushes the row into its slot and, when its `on_bar` will read the
//! model (an entry to gate, or a losing position under `exit_below`), marks the slot wanted.
//! The first probability asked after that runs every wanted window through one
//! [`ModelDir::predict_inputs`] call (through MTQ's recurrent kernel four symbols share each
//! weight load, which is what brings 20 symbols' LSTM under a millisecond), and the other symbols
//! read theirs from the slot. Each probability is the same, bit for bit, as the symbol's own
//! [`ModelDir::predict_input`]; a slot not marked wanted is simply computed on its own when asked.
//! A backtest, one symbol, never prepares: every probability is computed when asked, as before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::MlError;
use crate::features::Row;
use crate::manifest::ModelDir;
use crate::onnx::ModelInput;

/// Loaded models by directory, shared by the strategies built with the pool; cloning the pool
/// shares it. See [the module docs](self).
#[derive(Debug, Clone, Default)]
pub struct ModelPool {
    models: Arc<Mutex<BTreeMap<PathBuf, Arc<SharedModel>>>>,
}

impl ModelPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// The model in `dir`, loaded on first use (a failed load is not kept: the next symbol
    /// naming the directory tries again and reports its own error).
    pub fn load(&self, dir: &Path) -> Result<Arc<SharedModel>, MlError> {
        // The same directory however it is spelled (`models/a`, `./models/a`).
        let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if let Some(m) = lock(&self.models).get(&key) {
            return Ok(Arc::clone(m));
        }
        // Loaded outside the lock: tract's optimisation of a graph takes a while.
        let loaded = Arc::new(SharedModel::new(ModelDir::load(dir)?));
        Ok(Arc::clone(lock(&self.models).entry(key).or_insert(loaded)))
    }

    /// Models loaded so far.
    pub fn len(&self) -> usize {
        lock(&self.models).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batches run and the windows they held, over every model of the pool.
    pub fn stats(&self) -> BatchStats {
        lock(&self.models)
            .values()
            .fold(BatchStats::default(), |acc, m| {
                let s = m.stats();
                BatchStats {
                    batches: acc.batches + s.batches,
                    windows: acc.windows + s.windows,
                }
            })
    }
}

/// How much of a model's work went through batches ([`ModelPool::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// `predict_inputs` calls for more than one window.
    pub batches: u64,
    /// Windows those calls held.
    pub windows: u64,
}

/// One loaded model and the symbols' windows for it; see [the module docs](self).
#[derive(Debug)]
pub struct SharedModel {
    dir: ModelDir,
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    /// One rolling window per symbol (empty for a forest, which reads the last row).
    inputs: Vec<ModelInput>,
    /// Whether the slot's strategy will read the probability of its window.
    wanted: Vec<bool>,
    /// The probability of the slot's window, once computed; cleared by each push.
    done: Vec<Option<Result<Option<f64>, String>>>,
    /// Slots whose strategy is gone, to be given out again.
    free: Vec<usize>,
    stats: BatchStats,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere with the lock held leaves plain data behind: still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SharedModel {
    /// A model used on its own (walk-forward trains its models in memory).
    pub fn new(dir: ModelDir) -> Self {
        Self {
            dir,
            slots: Mutex::default(),
        }
    }

    pub fn dir(&self) -> &ModelDir {
        &self.dir
    }

    /// A slot for one more symbol (`None` for a model without a rolling window).
    pub(crate) fn join(&self) -> Option<usize> {
        let input = self.dir.input()?;
        let mut s = lock(&self.slots);
        Some(match s.free.pop() {
            Some(i) => {
                s.inputs[i] = input;
                s.wanted[i] = false;
                s.done[i] = None;
                i
            }
            None => {
                s.inputs.push(input);
                s.wanted.push(false);
                s.done.push(None);
                s.inputs.len() - 1
            }
        })
    }

    /// The symbol of `slot` is gone.
    pub(crate) fn leave(&self, slot: usize) {
        let mut s = lock(&self.slots);
        if slot < s.inputs.len() && !s.free.contains(&slot) {
            s.wanted[slot] = false;
            s.done[slot] = None;
            s.free.push(slot);
        }
    }

    /// A closed bar's row (`None` when it has none) into `slot`'s window.
    pub(crate) fn push(&self, slot: usize, row: Option<&Row>) {
        let mut s = lock(&self.slots);
        let Slots {
            inputs,
            wanted,
            done,
            ..
        } = &mut *s;
        self.dir.push(&mut inputs[slot], row);
        wanted[slot] = false;
        done[slot] = None;
    }

    /// `slot`'s strategy will ask for its window's probability: compute it with the others.
    pub(crate) fn want(&self, slot: usize) {
        lock(&self.slots).wanted[slot] = true;
    }

    /// The probability of `slot`'s window (`None` until it is full): from the slot when a batch
    /// computed it, else in one batch with every other wanted slot not yet computed.
    pub(crate) fn predict(&self, slot: usize) -> Result<Option<f64>, MlError> {
        let mut s = lock(&self.slots);
        if let Some(done) = &s.done[slot] {
            return done.clone().map_err(MlError::Input);
        }
        let Slots {
            inputs,
            wanted,
            done,
            stats,
            ..
        } = &mut *s;
        let others = (0..inputs.len()).any(|i| i != slot && wanted[i] && done[i].is_none());
        if !others {
            // Alone (a backtest, or a symbol no other is waiting with): no batch to build.
            wanted[slot] = false;
            let p = self.dir.predict_input(&inputs[slot]);
            done[slot] = Some(p.as_ref().copied().map_err(ToString::to_string));
            return p;
        }
        let batch: Vec<usize> = (0..inputs.len())
            .filter(|&i| i == slot || (wanted[i] && done[i].is_none()))
            .collect();
        let windows: Vec<&ModelInput> = batch.iter().map(|&i| &inputs[i]).collect();
        let mut out = vec![None; batch.len()];
        let results: Vec<Result<Option<f64>, String>> =
            match self.dir.predict_inputs(&windows, &mut out) {
                Ok(()) => out.into_iter().map(Ok).collect(),
                // One bad window (a non-finite probability) must not fail the other symbols:
                // each is computed again on its own, with its own result.
                Err(_) => windows
                    .iter()
                    .map(|w| self.dir.predict_input(w).map_err(|e| e.to_string()))
                    .collect(),
            };
        stats.batches += 1;
        stats.windows += batch.len() as u64;
        let mut mine = Ok(None);
        for (&i, r) in batch.iter().zip(results) {
            if i == slot {
                mine = r.clone();
            }
            wanted[i] = false;
            done[i] = Some(r);
        }
        mine.map_err(MlError::Input)
    }

    fn stats(&self) -> BatchStats {
        lock(&self.slots).stats
    }
}
