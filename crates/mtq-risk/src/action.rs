//! What risk asks the executor to do to an open position.

use mtq_core::{Decimal, Symbol, Ticket};
use serde::{Deserialize, Serialize};

/// Why a position action was produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionReason {
    Breakeven,
    TrailingStop,
    PartialClose,
    MaxHoldingTime,
    KillSwitch,
}

/// A modification of one open position. Prices and volumes are already on the symbol's grid and
/// respect its stops and freeze levels as of the price the rule saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PositionAction {
    /// Move the stop loss to `sl`, keeping the take profit `tp` as it is.
    ModifyStops {
        ticket: Ticket,
        symbol: Symbol,
        sl: Decimal,
        tp: Option<Decimal>,
        reason: ActionReason,
    },
    /// Close `volume` lots of the position.
    ClosePartial {
        ticket: Ticket,
        symbol: Symbol,
        volume: Decimal,
        reason: ActionReason,
    },
    /// Close the whole position.
    Close {
        ticket: Ticket,
        symbol: Symbol,
        volume: Decimal,
        reason: ActionReason,
    },
}

impl PositionAction {
    pub fn ticket(&self) -> Ticket {
        match self {
            PositionAction::ModifyStops { ticket, .. }
            | PositionAction::ClosePartial { ticket, .. }
            | PositionAction::Close { ticket, .. } => *ticket,
        }
    }

    pub fn reason(&self) -> ActionReason {
        match self {
            PositionAction::ModifyStops { reason, .. }
            | PositionAction::ClosePartial { reason, .. }
            | PositionAction::Close { reason, .. } => *reason,
        }
    }
}
