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
    /// The configuration file (or the one the flags build) does not load.
    #[error("configuration: {0}")]
    ConfigFile(#[from] mtq_orchestrator::config::ConfigLoadError),
    /// The trader core refuses the configuration or the strategy.
    #[error("configuration: {0}")]
    Core(#[from] mtq_orchestrator::CoreError),
    /// Training, loading or evaluating a model.
    #[error("model: {0}")]
    Ml(#[from] mtq_ml::MlError),
    #[error("simulated broker: {0}")]
    Sim(#[from] mtq_sim::SimError),
    #[error("simulated broker: {0} was not added")]
    SymbolNotAdded(mtq_core::Symbol),
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
    #[error("database: {url}: {source}")]
    Database {
        url: String,
        #[source]
        source: mtq_persistence::PersistenceError,
    },
}

impl BacktestError {
    pub(crate) fn input(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Input {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_database_error_keeps_its_cause_and_names_the_url() {
        let cause = mtq_persistence::Store::open("postgres://nobody@127.0.0.1:1/none").unwrap_err();
        let text = cause.to_string();
        let e = BacktestError::Database {
            url: "postgres://nobody@127.0.0.1:1/none".into(),
            source: cause,
        };
        assert_eq!(
            e.to_string(),
            format!("database: postgres://nobody@127.0.0.1:1/none: {text}")
        );
        assert_eq!(e.source().map(ToString::to_string), Some(text));
    }
}
