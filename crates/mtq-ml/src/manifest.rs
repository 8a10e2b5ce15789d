//! A model's manifest (`manifest.json` beside the model): what it was trained on and how to feed
//! it. Checked against the feature pipeline at load: a model never sees columns in an order it
//! was not trained with.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::features::FEATURES;
use crate::labels::LabelSpec;
use crate::{MlError, forest::Forest};

/// The manifest format this build reads and writes.
pub const FORMAT: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const FOREST_FILE: &str = "forest.json";

/// What kind of model the directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// MTQ's own random forest (`forest.json`).
    Forest,
}

/// How each feature is scaled before the model sees it: `(x - mean) / std`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scaling {
    None,
    Standard { mean: Vec<f64>, std: Vec<f64> },
}

/// Where the training rows came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSpan {
    pub symbol: String,
    pub timeframe: String,
    pub strategy: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub rows: usize,
}

/// See [the module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// The model's id as signals record it: its name and version.
    pub name: String,
    pub version: String,
    pub kind: ModelKind,
    /// Feature names, in the order the model takes them.
    pub features: Vec<String>,
    pub scaling: Scaling,
    /// Rows the model reads at once (1 for a forest; the sequence length of an LSTM).
    pub window: usize,
    pub label: LabelSpec,
    pub training: TrainingSpan,
    /// The test metrics at training time, as the report gives them.
    #[serde(default)]
    pub metrics: serde_json::Value,
}

impl Manifest {
    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// Refuses a manifest this pipeline cannot feed, naming the first difference.
    pub fn check(&self, dir: &Path) -> Result<(), MlError> {
        let mismatch = |what: String| MlError::Mismatch {
            dir: dir.to_path_buf(),
            what,
        };
        if self.format != FORMAT {
            return Err(MlError::Model {
                dir: dir.to_path_buf(),
                what: format!(
                    "manifest format {} (this build reads {FORMAT})",
                    self.format
                ),
            });
        }
        if self.features.len() != FEATURES.len() {
            return Err(mismatch(format!(
                "{} features in the manifest, {} in the pipeline ({})",
                self.features.len(),
                FEATURES.len(),
                FEATURES.join(", ")
            )));
        }
        if let Some((i, (m, p))) = self
            .features
            .iter()
            .zip(FEATURES)
            .enumerate()
            .find(|(_, (m, p))| m.as_str() != *p)
        {
            return Err(mismatch(format!(
                "feature {i} is `{m}` in the manifest, `{p}` in the pipeline"
            )));
        }
        if let Scaling::Standard { mean, std } = &self.scaling
            && (mean.len() != FEATURES.len() || std.len() != FEATURES.len())
        {
            return Err(mismatch(format!(
                "scaling has {} means and {} deviations for {} features",
                mean.len(),
                std.len(),
                FEATURES.len()
            )));
        }
        if self.window != 1 {
            return Err(mismatch(format!(
                "window {} for a {:?} model, which reads one row",
                self.window, self.kind
            )));
        }
        Ok(())
    }
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, file: &str) -> Result<T, MlError> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|source| MlError::Io {
        dir: dir.to_path_buf(),
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| MlError::Json {
        dir: dir.to_path_buf(),
        path,
        source,
    })
}

fn write_json<T: Serialize>(dir: &Path, file: &str, value: &T) -> Result<PathBuf, MlError> {
    let path = dir.join(file);
    let io = |source| MlError::Io {
        dir: dir.to_path_buf(),
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let text = serde_json::to_string_pretty(value).map_err(|source| MlError::Json {
        dir: dir.to_path_buf(),
        path: path.clone(),
        source,
    })?;
    std::fs::write(&path, text).map_err(io)?;
    Ok(path)
}

/// A model directory read and checked: the manifest and the model it describes.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub manifest: Manifest,
    pub forest: Forest,
}

impl ModelDir {
    /// Reads `dir/manifest.json` and the model, and checks both against the pipeline.
    pub fn load(dir: &Path) -> Result<Self, MlError> {
        let manifest: Manifest = read_json(dir, MANIFEST_FILE)?;
        manifest.check(dir)?;
        let forest: Forest = match manifest.kind {
            ModelKind::Forest => read_json(dir, FOREST_FILE)?,
        };
        if forest.features() != manifest.features.len() {
            return Err(MlError::Mismatch {
                dir: dir.to_path_buf(),
                what: format!(
                    "the forest takes {} features, the manifest lists {}",
                    forest.features(),
                    manifest.features.len()
                ),
            });
        }
        Ok(Self { manifest, forest })
    }

    /// Writes the manifest and the model into `dir` (created if missing).
    pub fn save(&self, dir: &Path) -> Result<(), MlError> {
        write_json(dir, FOREST_FILE, &self.forest)?;
        write_json(dir, MANIFEST_FILE, &self.manifest)?;
        Ok(())
    }

    /// The model's probability for one row of features (scaled as the manifest says).
    pub fn predict(&self, row: &crate::features::Row) -> Result<f64, MlError> {
        let p = match &self.manifest.scaling {
            Scaling::None => self.forest.predict(row)?,
            Scaling::Standard { mean, std } => {
                let mut x = *row;
                for (k, v) in x.iter_mut().enumerate() {
                    *v = (*v - mean[k]) / std[k];
                }
                self.forest.predict(&x)?
            }
        };
        if p.is_finite() {
            Ok(p)
        } else {
            Err(MlError::Input(format!(
                "model {} gave {p}",
                self.manifest.id()
            )))
        }
    }
}
