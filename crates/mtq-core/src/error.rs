use chrono::{DateTime, Utc};

/// Errors from parsing and validating domain values. Each names what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    #[error("invalid symbol {name:?}: {reason}")]
    InvalidSymbol { name: String, reason: &'static str },
    #[error("invalid currency {0:?}: expected a three-letter code such as USD")]
    InvalidCurrency(String),
    #[error("invalid timeframe {0:?}: expected one of M1 M5 M15 M30 H1 H4 D1 W1 MN1")]
    InvalidTimeframe(String),
    #[error("invalid client order id {0:?}: 1 to 31 printable ASCII characters without spaces")]
    InvalidClientOrderId(String),
    #[error("invalid bar at {time}: {reason}")]
    InvalidBar {
        time: DateTime<Utc>,
        reason: &'static str,
    },
    #[error("signal confidence {0} is outside 0..=1")]
    InvalidConfidence(f64),
    #[error("symbol spec {symbol}: field `{field}` = {value} {reason}")]
    InvalidSpec {
        symbol: String,
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("symbol spec YAML: {0}")]
    SpecYaml(String),
}
