//! An entry waiting for an operator's approval (`trader.mode: semi`): the strategy's signal and
//! the order the filters and risk checks allowed, held until approved, rejected or expired.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{OrderRequest, Signal};

/// Where an approval stands. Only a pending one can be decided; each decision is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for an operator until its expiry.
    Pending,
    /// An operator approved it: its order was sent (or refused by the risk checks at approval
    /// time, which the decision's `note` says).
    Approved,
    /// An operator rejected it: nothing was sent.
    Rejected,
    /// Nobody decided before `expires`: nothing was sent.
    Expired,
}

impl ApprovalState {
    /// The stable snake_case form stored in rows and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }

    /// The inverse of [`ApprovalState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strategy's entry held for an operator. `id` is unique within its account; the order keeps
/// the client order id the strategy's signal gave it, so approving twice never sends twice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: u64,
    pub signal: Signal,
    /// The order as the filters, the risk checks and the sizing made it when the signal came.
    pub request: OrderRequest,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub state: ApprovalState,
    /// When it was decided (or expired), by whom (a user's or key's public id; `None` for an
    /// expiry), and what came of it.
    pub decided: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub note: Option<String>,
}

impl Approval {
    /// Pending and past its expiry at `now`.
    pub fn lapsed(&self, now: DateTime<Utc>) -> bool {
        self.state == ApprovalState::Pending && now >= self.expires
    }
}
