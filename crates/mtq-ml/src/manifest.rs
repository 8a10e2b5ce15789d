//! A model's manifest (`manifest.json` beside the model): what it was trained on and how to feed
//! it. Checked against the feature pipeline at load: a model never sees columns in an order it
//! was not trained with.
//!
//! Two kinds: MTQ's own random forest (`forest.json`, all of [`FEATURES`] in order, one row), and
//! an ONNX graph (see [`crate::onnx`]: any of the features in the model's order, a window of rows
//! for sequence models, checked against the graph's input and output at load).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::features::FEATURES;
use crate::labels::LabelSpec;
use crate::onnx::{ModelInput, OnnxModel, OnnxSpec};
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
    /// An ONNX graph read through tract (the manifest's `onnx` section names the file).
    Onnx,
}

/// How each feature is scaled before the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scaling {
    /// The model takes the raw features.
    None,
    /// MTQ feeds `(x - mean) / std`, one mean and std per manifest feature, in its order.
    Standard { mean: Vec<f64>, std: Vec<f64> },
    /// The graph scales its input itself (a declaration: MTQ feeds the raw features).
    InModel,
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
    /// For kind `onnx`: the graph file, its input and layout, and the probability output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onnx: Option<OnnxSpec>,
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
        if self.kind == ModelKind::Onnx {
            // Checked with the graph in hand: `OnnxModel::load`.
            return Ok(());
        }
        if self.onnx.is_some() {
            return Err(MlError::Model {
                dir: dir.to_path_buf(),
                what: "an `onnx` section in a manifest of kind `forest`: set `kind` to `onnx`"
                    .into(),
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
        if self.scaling == Scaling::InModel {
            return Err(mismatch(
                "scaling `in_model` for a forest, which has no scaling of its own".into(),
            ));
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

/// The model a directory holds.
#[derive(Debug, Clone)]
pub enum Model {
    Forest(Forest),
    Onnx(OnnxModel),
}

/// A model directory read and checked: the manifest and the model it describes.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub manifest: Manifest,
    pub model: Model,
}

impl ModelDir {
    /// Reads `dir/manifest.json` and the model, and checks both against the pipeline.
    pub fn load(dir: &Path) -> Result<Self, MlError> {
        let manifest: Manifest = read_json(dir, MANIFEST_FILE)?;
        manifest.check(dir)?;
        let model = match manifest.kind {
            ModelKind::Forest => {
                let forest: Forest = read_json(dir, FOREST_FILE)?;
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
                Model::Forest(forest)
            }
            ModelKind::Onnx => Model::Onnx(OnnxModel::load(dir, &manifest)?),
        };
        Ok(Self { manifest, model })
    }

    /// Writes the manifest and the model into `dir` (created if missing). An ONNX model is
    /// not rewritten: its graph is the exporter's file.
    pub fn save(&self, dir: &Path) -> Result<(), MlError> {
        match &self.model {
            Model::Forest(forest) => {
                write_json(dir, FOREST_FILE, forest)?;
            }
            Model::Onnx(_) => {
                return Err(MlError::Model {
                    dir: dir.to_path_buf(),
                    what: "an ONNX model is saved by its exporter, not by MTQ".into(),
                });
            }
        }
        write_json(dir, MANIFEST_FILE, &self.manifest)?;
        Ok(())
    }

    /// Rows the model reads at once (1 unless it is a sequence model).
    pub fn window(&self) -> usize {
        match &self.model {
            Model::Forest(_) => 1,
            Model::Onnx(m) => m.window(),
        }
    }

    /// The model's probability for one row of features (scaled as the manifest says); a
    /// sequence model needs [`ModelDir::predict_rows`] or a [`ModelInput`].
    pub fn predict(&self, row: &crate::features::Row) -> Result<f64, MlError> {
        let p = match (&self.model, &self.manifest.scaling) {
            (Model::Onnx(m), _) => m.predict_rows(std::slice::from_ref(row))?,
            (Model::Forest(forest), Scaling::Standard { mean, std }) => {
                let mut x = *row;
                for (k, v) in x.iter_mut().enumerate() {
                    *v = (*v - mean[k]) / std[k];
                }
                forest.predict(&x)?
            }
            (Model::Forest(forest), _) => forest.predict(row)?,
        };
        self.finite(p)
    }

    /// The probability for the window ending at the last of `rows` (exactly
    /// [`ModelDir::window`] rows, oldest first): the batch path.
    pub fn predict_rows(&self, rows: &[crate::features::Row]) -> Result<f64, MlError> {
        match (&self.model, rows) {
            (Model::Onnx(m), _) => self.finite(m.predict_rows(rows)?),
            (Model::Forest(_), [row]) => self.predict(row),
            (Model::Forest(_), _) => Err(MlError::Input(format!(
                "{} rows for the forest {}, which reads one",
                rows.len(),
                self.manifest.id()
            ))),
        }
    }

    /// A symbol's rolling input for this model (`None` for a forest, which reads the last row).
    pub fn input(&self) -> Option<ModelInput> {
        match &self.model {
            Model::Forest(_) => None,
            Model::Onnx(m) => Some(m.input()),
        }
    }

    /// Adds a closed bar's row (`None` when it has none) to `input`.
    pub fn push(&self, input: &mut ModelInput, row: Option<&crate::features::Row>) {
        if let Model::Onnx(m) = &self.model {
            m.push(input, row);
        }
    }

    /// The probability for the window `input` holds; `None` until it is full.
    pub fn predict_input(&self, input: &ModelInput) -> Result<Option<f64>, MlError> {
        match &self.model {
            Model::Onnx(m) => m.predict_input(input)?.map(|p| self.finite(p)).transpose(),
            Model::Forest(_) => Err(MlError::Input(format!(
                "the forest {} reads rows, not a rolling input",
                self.manifest.id()
            ))),
        }
    }

    /// The probabilities for several symbols' inputs at once (a bar close), one per input into
    /// `out`: the same as [`ModelDir::predict_input`] on each (see
    /// [`OnnxModel::predict_inputs`]).
    pub fn predict_inputs(
        &self,
        inputs: &[&ModelInput],
        out: &mut [Option<f64>],
    ) -> Result<(), MlError> {
        match &self.model {
            Model::Onnx(m) => {
                m.predict_inputs(inputs, out)?;
                for p in out.iter().flatten() {
                    self.finite(*p)?;
                }
                Ok(())
            }
            Model::Forest(_) => Err(MlError::Input(format!(
                "the forest {} reads rows, not a rolling input",
                self.manifest.id()
            ))),
        }
    }

    fn finite(&self, p: f64) -> Result<f64, MlError> {
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
