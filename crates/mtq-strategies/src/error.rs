//! The crate's errors. Each names what the user can fix: the strategy, the parameter and its value.

use mtq_core::Timeframe;
use mtq_indicators::IndicatorError;

/// A parameter that is missing the mark: the strategy, the field, the value and what it must be,
/// e.g. "strategy `crossover`: `fast_period` must be a whole number of 0 or more, got -3".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("strategy `{strategy}`: `{field}` {expected}, got {value}")]
pub struct ParamError {
    pub strategy: &'static str,
    pub field: String,
    /// The value as given (JSON: a string is quoted).
    pub value: String,
    /// What the value must be, as a predicate: "must be a number above 0".
    pub expected: String,
}

impl ParamError {
    pub fn new(
        strategy: &'static str,
        field: impl Into<String>,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            strategy,
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// Why a strategy or filter could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrategyError {
    /// `strategy_type` names no strategy.
    #[error("unknown strategy_type {name:?}; valid names: {}", valid.join(", "))]
    UnknownStrategy {
        name: String,
        valid: Vec<&'static str>,
    },
    /// A parameter has the wrong type or an invalid value.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The strategy's parameters are not a map of `key: value`.
    #[error("strategy `{strategy}`: parameters must be a map of key: value, found {found}")]
    NotAMap { strategy: String, found: String },
    /// An indicator refused parameters that passed the strategy's own checks.
    #[error("strategy `{strategy}`: {source}")]
    Indicator {
        strategy: &'static str,
        source: IndicatorError,
    },
    /// A higher timeframe the strategy needs is not above the timeframe it runs on.
    #[error(
        "a higher timeframe {needed} is needed on top of {base}: run the strategy on a timeframe \
         below {needed} or change its higher-timeframe parameter"
    )]
    TimeframeNotHigher { base: Timeframe, needed: Timeframe },
    /// Something wrapped around the strategy (the `ml:` models) refused its settings; the
    /// message names the key to fix.
    #[error("{wrapper}: {message}")]
    Wrapper {
        wrapper: &'static str,
        message: String,
    },
}

/// Maps an indicator's construction error into a [`StrategyError`] naming the strategy.
pub(crate) fn indicator(strategy: &'static str) -> impl Fn(IndicatorError) -> StrategyError {
    move |source| StrategyError::Indicator { strategy, source }
}
