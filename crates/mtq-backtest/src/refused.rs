//! Refused signals and orders, listed one by one in the report so a user sees why an entry did
//! not trade (the counts by reason are in `BacktestResult::refusals` and `order_failures`).

use chrono::{DateTime, Utc};
use mtq_core::Side;
use serde::Serialize;

/// Where an entry or an order was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusedAt {
    /// The core's risk checks or sizing refused a strategy's buy or sell signal.
    Signal,
    /// Equity sizing found less than the minimum volume at the fill.
    Sizing,
    /// The simulated broker refused the order.
    Order,
    /// The simulated broker refused a close.
    Close,
    /// The simulated broker refused a change of stops.
    Modify,
}

impl RefusedAt {
    pub fn name(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::Sizing => "sizing",
            Self::Order => "order",
            Self::Close => "close",
            Self::Modify => "modify",
        }
    }
}

impl std::fmt::Display for RefusedAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One refusal, with the whole reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refused {
    pub time: DateTime<Utc>,
    pub at: RefusedAt,
    /// The entry's side (`None` for closes and stop changes).
    pub side: Option<Side>,
    pub reason: String,
}

/// The count key of a broker's refusal: its return code and meaning, without the comment
/// (which carries prices, so every refusal would count apart).
pub(crate) fn broker_kind(e: &mtq_connector::BrokerError) -> String {
    match e {
        mtq_connector::BrokerError::Rejected { retcode, .. } => {
            format!("broker refused the request: retcode {retcode}")
        }
        other => other.to_string(),
    }
}
