use std::path::PathBuf;

/// What went wrong in `mtq-ml`; each message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error(transparent)]
    Indicator(#[from] mtq_indicators::IndicatorError),
    #[error(transparent)]
    Strategy(#[from] mtq_strategies::StrategyError),
    #[error("{0}")]
    Input(String),
    #[error("model {dir}: {what}")]
    Model { dir: PathBuf, what: String },
    #[error("model {dir}: {path}: {source}")]
    Io {
        dir: PathBuf,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model {dir}: {path}: {source}")]
    Json {
        dir: PathBuf,
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "model {dir}: its manifest's features do not match this pipeline's: {what} (retrain it, \
         or use the MTQ version it was trained with)"
    )]
    Mismatch { dir: PathBuf, what: String },
}
