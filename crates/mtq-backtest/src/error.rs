//! The crate's error type.

use crate::data::DataError;

/// Why a backtest, an import or an optimisation could not run. Messages name the flag, file,
/// line or key to fix.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Data(#[from] DataError),
    /// A flag or input file with a bad value.
    #[error("{what}: {reason}")]
    Input { what: String, reason: String },
    #[error("configuration: {0}")]
    Config(String),
    #[error("simulated broker: {0}")]
    Sim(String),
    #[error("{}: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("chart {}: {message}", path.display())]
    Chart {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("database: {0}")]
    Database(String),
}

impl BacktestError {
    pub(crate) fn input(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Input {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
