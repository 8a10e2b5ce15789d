//! The one error type of the crate. Every variant names the indicator and what to change.

use chrono::{DateTime, Utc};
use mtq_core::Timeframe;

/// Why an indicator could not be built or computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndicatorError {
    /// A parameter is outside the range the indicator accepts.
    #[error("{indicator}: parameter `{param}` = {value} is invalid; expected {expected}")]
    InvalidParameter {
        indicator: &'static str,
        param: &'static str,
        value: String,
        expected: &'static str,
    },
    /// Two input series of one call have different lengths.
    #[error(
        "{indicator}: input `{input}` has {found} values but `{reference}` has {expected}; \
         pass series of the same length"
    )]
    LengthMismatch {
        indicator: &'static str,
        input: &'static str,
        found: usize,
        reference: &'static str,
        expected: usize,
    },
    /// TA-Lib refused a call our own checks accepted. This is a bug in mtq-indicators.
    #[error("{indicator}: TA-Lib refused the call ({reason}); please report this as a bug")]
    TaLib {
        indicator: &'static str,
        reason: String,
    },
    /// A resampler was asked to go from a timeframe to one that is not higher.
    #[error("cannot resample {source_tf} bars to {target}: the target must be a higher timeframe")]
    NotHigherTimeframe {
        source_tf: Timeframe,
        target: Timeframe,
    },
    /// Bars reached a resampler out of time order.
    #[error("bar at {time} arrived after the bar at {previous}; feed bars in time order")]
    OutOfOrder {
        time: DateTime<Utc>,
        previous: DateTime<Utc>,
    },
}

impl IndicatorError {
    pub(crate) fn talib(indicator: &'static str, code: ta_lib::RetCode) -> Self {
        IndicatorError::TaLib {
            indicator,
            reason: code.to_string(),
        }
    }
}
