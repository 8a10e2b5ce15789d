//! The ML entry filter, ensemble and position manager: [`MlFiltered`] wraps any strategy.
//!
//! On every closed bar it feeds the [`FeatureStream`] (with the base strategy's signal on that
//! bar). When the strategy proposes an entry, the models' weighted probability that the entry is
//! right must clear `threshold`, or the entry becomes `Hold` with the reading in its reason.
//! With `exit_below`, a losing position is closed early when that probability for its side falls
//! below it. The model id and probability go into the signal's reason (`ml NAME@V p=0.612`).
//!
//! A model that cannot be loaded or evaluated falls back to the base strategy's signal, or stops
//! the symbol's entries, as `on_failure` says; the reason, the log and the
//! [`MlFiltered::status`] say which.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use mtq_core::{Bar, ModelReading, ModelStatus, Side, Signal, SignalKind, Timeframe};
use mtq_strategies::{Context, HigherNeed, Strategy};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::MlError;
use crate::features::FeatureStream;
use crate::manifest::ModelDir;
use crate::pool::{ModelPool, SharedModel};

/// One model of the ensemble and its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    pub path: PathBuf,
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// What to do when a model fails to load or to evaluate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Trade the base strategy's signals unfiltered.
    #[default]
    Fallback,
    /// Block every entry on the symbol.
    Stop,
}

/// A symbol's `ml:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlSettings {
    pub models: Vec<ModelRef>,
    /// Entries pass when the ensemble's probability is at least this.
    #[serde(default = "half")]
    pub threshold: f64,
    /// Close a losing position when the probability for its side falls below this.
    #[serde(default)]
    pub exit_below: Option<f64>,
    /// Set the entry signal's confidence to the probability (the trader scales size by it,
    /// never above the risk rules' size).
    #[serde(default)]
    pub size_by_confidence: bool,
    #[serde(default)]
    pub on_failure: OnFailure,
}

fn half() -> f64 {
    0.5
}

impl MlSettings {
    /// Checks the numbers (not the files: [`MlFiltered::new`] reads those).
    pub fn validate(&self) -> Result<(), MlError> {
        if self.models.is_empty() {
            return Err(MlError::Input(
                "ml.models: name at least one model directory".into(),
            ));
        }
        let prob = |k: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(MlError::Input(format!(
                    "ml.{k} must be within 0..=1, got {v}"
                )))
            }
        };
        prob("threshold", self.threshold)?;
        if let Some(e) = self.exit_below {
            prob("exit_below", e)?;
        }
        for m in &self.models {
            if !(m.weight.is_finite() && m.weight > 0.0) {
                return Err(MlError::Input(format!(
                    "ml.models: weight of {} must be above 0, got {}",
                    m.path.display(),
                    m.weight
                )));
            }
        }
        Ok(())
    }
}

/// Whether the models are in use.
#[derive(Debug, Clone, PartialEq)]
pub enum MlStatus {
    Active,
    /// Failed; the base strategy trades alone.
    FallenBack(String),
    /// Failed; entries are blocked.
    Stopped(String),
}

/// A strategy behind its models; see [the module docs](self).
#[derive(Debug)]
pub struct MlFiltered {
    inner: Box<dyn Strategy>,
    settings: MlSettings,
    models: Vec<(f64, Arc<SharedModel>)>,
    /// This symbol's slot in each model (its rolling window of rows; `None` for a forest).
    slots: Vec<Option<usize>>,
    features: FeatureStream,
    status: MlStatus,
    id: String,
    /// The bar [`Strategy::prepare_bar`] took in, with the base strategy's signal on it, for
    /// `on_bar` to finish.
    prepared: Option<(DateTime<Utc>, Option<Signal>)>,
}

impl MlFiltered {
    /// Wraps `inner`. Bad settings are an error; a model that fails to load is handled as
    /// `on_failure` says (and logged).
    pub fn new(
        inner: Box<dyn Strategy>,
        settings: &MlSettings,
        timeframe: Timeframe,
    ) -> Result<Self, MlError> {
        Self::new_in(inner, settings, timeframe, &ModelPool::new())
    }

    /// [`MlFiltered::new`] with the models taken from `pool` (loaded there on first use): the
    /// symbols of one trader share each model, and a bar close's inferences run in one batch
    /// ([`crate::pool`]).
    pub fn new_in(
        inner: Box<dyn Strategy>,
        settings: &MlSettings,
        timeframe: Timeframe,
        pool: &ModelPool,
    ) -> Result<Self, MlError> {
        settings.validate()?;
        let loaded: Result<Vec<_>, MlError> = settings
            .models
            .iter()
            .map(|m| Ok((m.weight, pool.load(&m.path)?)))
            .collect();
        let mut s = Self::unloaded(inner, settings, timeframe)?;
        match loaded {
            Ok(models) => s.set_models(models),
            Err(e) => s.fail(format!("load failed: {e}")),
        }
        Ok(s)
    }

    /// Wraps `inner` with models already in memory (walk-forward trains them in-process);
    /// `settings.models` only names them (their paths are not read).
    pub fn with_models(
        inner: Box<dyn Strategy>,
        settings: &MlSettings,
        timeframe: Timeframe,
        models: Vec<(f64, ModelDir)>,
    ) -> Result<Self, MlError> {
        let mut s = Self::unloaded(inner, settings, timeframe)?;
        if models.is_empty() {
            return Err(MlError::Input("ml: no model given".into()));
        }
        s.set_models(
            models
                .into_iter()
                .map(|(w, m)| (w, Arc::new(SharedModel::new(m))))
                .collect(),
        );
        Ok(s)
    }

    fn unloaded(
        inner: Box<dyn Strategy>,
        settings: &MlSettings,
        timeframe: Timeframe,
    ) -> Result<Self, MlError> {
        Ok(Self {
            inner,
            settings: settings.clone(),
            models: Vec::new(),
            slots: Vec::new(),
            features: FeatureStream::new(timeframe)?,
            status: MlStatus::Active,
            // Until the manifests are read, the models are known by their directories.
            id: settings
                .models
                .iter()
                .map(|m| m.path.display().to_string())
                .collect::<Vec<_>>()
                .join("+"),
            prepared: None,
        })
    }

    fn set_models(&mut self, models: Vec<(f64, Arc<SharedModel>)>) {
        self.id = models
            .iter()
            .map(|(_, m)| m.dir().manifest.id())
            .collect::<Vec<_>>()
            .join("+");
        self.slots = models.iter().map(|(_, m)| m.join()).collect();
        self.models = models;
    }

    pub fn status(&self) -> &MlStatus {
        &self.status
    }

    /// The ensemble's id: `name@version` of each model joined by `+`.
    pub fn model_id(&self) -> &str {
        &self.id
    }

    fn fail(&mut self, why: String) {
        self.status = match self.settings.on_failure {
            OnFailure::Fallback => {
                tracing::warn!(
                    strategy = self.inner.name(),
                    "ml model {why}; trading the base strategy alone (on_failure: fallback)"
                );
                MlStatus::FallenBack(why)
            }
            OnFailure::Stop => {
                tracing::error!(
                    strategy = self.inner.name(),
                    "ml model {why}; entries stopped (on_failure: stop)"
                );
                MlStatus::Stopped(why)
            }
        };
    }

    /// The ensemble's weighted probability that an entry on `side` is right.
    fn probability(&self, side: Side) -> Result<Option<f64>, MlError> {
        let Some(row) = self.features.last() else {
            return Ok(None);
        };
        let (mut sum, mut weights) = (0.0, 0.0);
        for ((w, m), slot) in self.models.iter().zip(&self.slots) {
            let p = match slot {
                None => m.dir().predict(row)?,
                Some(slot) => match m.predict(*slot)? {
                    Some(p) => p,
                    // A sequence model's window is not full yet.
                    None => return Ok(None),
                },
            };
            sum += w * m.dir().manifest.label.entry_probability(p, side);
            weights += w;
        }
        Ok(Some(sum / weights))
    }

    /// What is recorded with a signal the models read (or failed to).
    fn reading(&self, probability: Option<f64>) -> ModelReading {
        ModelReading {
            model: self.id.clone(),
            probability,
            status: match self.status {
                MlStatus::Active => ModelStatus::Active,
                MlStatus::FallenBack(_) => ModelStatus::FallenBack,
                MlStatus::Stopped(_) => ModelStatus::Stopped,
            },
        }
    }

    fn block(signal: &mut Signal, why: &str) {
        let side = if signal.kind == SignalKind::Buy {
            "buy"
        } else {
            "sell"
        };
        signal.reason = format!("blocked {side}: {why}; {}", signal.reason);
        signal.kind = SignalKind::Hold;
    }

    fn gate(&mut self, mut signal: Signal) -> Signal {
        let side = if signal.kind == SignalKind::Buy {
            Side::Buy
        } else {
            Side::Sell
        };
        match &self.status {
            MlStatus::FallenBack(why) => {
                let _ = write!(
                    signal.reason,
                    "; ml unavailable ({why}), base signal passes"
                );
                signal.ml = Some(self.reading(None));
                return signal;
            }
            MlStatus::Stopped(why) => {
                let why = format!("ml unavailable ({why}), symbol stopped");
                Self::block(&mut signal, &why);
                signal.ml = Some(self.reading(None));
                return signal;
            }
            MlStatus::Active => {}
        }
        match self.probability(side) {
            Ok(None) => {
                Self::block(&mut signal, "ml features not ready");
                signal.ml = Some(self.reading(None));
            }
            Ok(Some(p)) => {
                signal.ml = Some(self.reading(Some(p)));
                let t = self.settings.threshold;
                if p >= t {
                    let _ = write!(signal.reason, "; ml {} p={p:.3} >= {t}", self.id);
                    if self.settings.size_by_confidence {
                        signal.confidence = p.clamp(0.0, 1.0);
                    }
                } else {
                    Self::block(&mut signal, &format!("ml {} p={p:.3} < {t}", self.id));
                }
            }
            Err(e) => {
                self.fail(format!("inference failed: {e}"));
                return self.gate(signal);
            }
        }
        signal
    }

    /// The position manager: a `Close` when a losing position's side has lost the models'
    /// confidence.
    fn manage(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        let floor = self.settings.exit_below?;
        if self.status != MlStatus::Active {
            return None;
        }
        let losing = ctx.positions.iter().find(|p| p.profit < Decimal::ZERO)?;
        let p = match self.probability(losing.side) {
            Ok(p) => p?,
            Err(e) => {
                self.fail(format!("inference failed: {e}"));
                return None;
            }
        };
        if p >= floor {
            return None;
        }
        let reading = self.reading(Some(p));
        let mut close = Signal::new(
            ctx.spec.symbol.clone(),
            ctx.timeframe,
            bar.time,
            SignalKind::Close,
            (1.0 - p).clamp(0.0, 1.0),
            self.inner.name(),
            format!(
                "ml {} p={p:.3} < exit_below {floor} with a losing {}",
                self.id,
                if losing.side == Side::Buy {
                    "buy"
                } else {
                    "sell"
                }
            ),
        )
        .ok()?;
        close.ml = Some(reading);
        Some(close)
    }
}

impl MlFiltered {
    /// The first half of a bar: the base strategy's signal, the features' row into each
    /// model's window.
    fn take_in(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        let signal = self.inner.on_bar(bar, ctx);
        let row = self.features.update(bar, signal.as_ref().map(|s| s.kind));
        for ((_, m), slot) in self.models.iter().zip(&self.slots) {
            if let Some(slot) = slot {
                m.push(*slot, row);
            }
        }
        signal
    }
}

impl Drop for MlFiltered {
    fn drop(&mut self) {
        for ((_, m), slot) in self.models.iter().zip(&self.slots) {
            if let Some(slot) = slot {
                m.leave(*slot);
            }
        }
    }
}

impl Strategy for MlFiltered {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn warmup_bars(&self) -> usize {
        // A sequence model reads its first window `window - 1` rows after the first row.
        let window = self
            .models
            .iter()
            .map(|(_, m)| m.dir().window())
            .max()
            .unwrap_or(1);
        self.inner
            .warmup_bars()
            .max(self.features.warmup_bars() + window - 1)
    }

    fn higher_timeframes(&self) -> &[HigherNeed] {
        self.inner.higher_timeframes()
    }

    fn params(&self) -> serde_json::Value {
        let mut p = self.inner.params();
        if let (Some(map), Ok(ml)) = (p.as_object_mut(), serde_json::to_value(&self.settings)) {
            map.insert("ml".into(), ml);
        }
        p
    }

    /// The base strategy's signal on the bar and the features' row, into each model's window;
    /// and, when `on_bar` will read the models, each slot marked wanted so that the first
    /// symbol to ask runs every symbol's window in one batch.
    fn prepare_bar(&mut self, bar: &Bar, ctx: &Context<'_>) {
        let signal = self.take_in(bar, ctx);
        let entry = signal
            .as_ref()
            .is_some_and(|s| matches!(s.kind, SignalKind::Buy | SignalKind::Sell));
        let other = signal.as_ref().is_none_or(|s| {
            !matches!(
                s.kind,
                SignalKind::Buy | SignalKind::Sell | SignalKind::Close
            )
        });
        let manages = other
            && self.settings.exit_below.is_some()
            && ctx.positions.iter().any(|p| p.profit < Decimal::ZERO);
        if self.status == MlStatus::Active && (entry || manages) {
            for ((_, m), slot) in self.models.iter().zip(&self.slots) {
                if let Some(slot) = slot {
                    m.want(*slot);
                }
            }
        }
        self.prepared = Some((bar.time, signal));
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        let signal = match self.prepared.take() {
            Some((time, signal)) if time == bar.time => signal,
            _ => self.take_in(bar, ctx),
        };
        match signal {
            Some(s) if matches!(s.kind, SignalKind::Buy | SignalKind::Sell) => Some(self.gate(s)),
            Some(s) if s.kind == SignalKind::Close => Some(s),
            other => self.manage(bar, ctx).or(other),
        }
    }
}
