//! The crate's error type.

/// Why a distributed run could not be submitted, worked on, collected or controlled. Messages
/// name what to fix: the NATS URL (without its password), the run, the flag.
#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    #[error("NATS {url}: {reason}")]
    Nats { url: String, reason: String },
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error(transparent)]
    Backtest(#[from] mtq_backtest::BacktestError),
    #[error("database: {url}: {source}")]
    Database {
        url: String,
        #[source]
        source: mtq_persistence::PersistenceError,
    },
    /// A message that is not what this version of MTQ sends.
    #[error("message on {subject}: {reason}")]
    Message { subject: String, reason: String },
    #[error("data: {0}")]
    Data(String),
    /// A flag or run key the user gave that cannot be used.
    #[error("{what}: {reason}")]
    Input { what: String, reason: String },
}

impl DistributedError {
    pub(crate) fn input(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Input {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
