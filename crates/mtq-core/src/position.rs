//! Positions, pending orders and deals as the broker reports them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Magic, OrderKind, Side, Symbol, Ticket};

/// An open position (MT5 `POSITION_*` properties). Money is in the account currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub ticket: Ticket,
    pub symbol: Symbol,
    pub side: Side,
    pub volume: Decimal,
    pub open_price: Decimal,
    pub open_time: DateTime<Utc>,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    /// Price the position would close at now (bid for buys, ask for sells).
    pub current_price: Decimal,
    /// Accumulated swap, not yet in the balance.
    pub swap: Decimal,
    /// Floating profit at `current_price`, before swap and commission.
    pub profit: Decimal,
    pub magic: Magic,
    pub comment: String,
}

/// A pending order waiting at the broker (MT5 `ORDER_*` properties).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingOrder {
    pub ticket: Ticket,
    pub symbol: Symbol,
    pub side: Side,
    pub kind: OrderKind,
    pub volume: Decimal,
    pub price: Decimal,
    pub stop_limit: Option<Decimal>,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    pub time_setup: DateTime<Utc>,
    pub expiration: Option<DateTime<Utc>>,
    pub magic: Magic,
    pub comment: String,
}

/// Whether a deal opened, closed or reversed a position (`DEAL_ENTRY_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealEntry {
    In,
    Out,
    /// Closed one position and opened the opposite one (netting accounts).
    InOut,
    /// A balance operation: deposit, withdrawal, correction.
    Balance,
}

/// Why a deal happened (`DEAL_REASON_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealReason {
    /// Sent by an expert (MTQ).
    Expert,
    /// A pending order was triggered.
    PendingTriggered,
    StopLoss,
    TakeProfit,
    /// Closed by the broker because margin level fell to the stop-out level.
    StopOut,
    /// A balance operation.
    Balance,
}

/// Why a trade ended: the `exit_reason` of its row, in the stable snake_case form of
/// [`ExitReason::as_str`] (also its serde form).
///
/// A closing deal at the stop loss, the take profit or by stop-out says so itself
/// (`DEAL_REASON_SL`/`TP`/`SO`); a stop loss after MTQ moved the stop to breakeven or trailed
/// it is `breakeven` or `trailing`. A close MTQ sent carries the core's reason (a signal, the
/// kill switch, the maximum holding time, an operator's command).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// A strategy's close or reversal signal.
    Signal,
    StopLoss,
    TakeProfit,
    /// The stop loss, after it was moved to breakeven.
    Breakeven,
    /// The stop loss, after it was trailed.
    Trailing,
    /// Position management closed part of the position.
    PartialClose,
    /// Position management closed it after the maximum holding time.
    MaxHoldingTime,
    /// Closed by hand or by an operator's command.
    Operator,
    KillSwitch,
    /// The broker closed it at the stop-out margin level.
    StopOut,
}

impl ExitReason {
    /// Every reason, for parsing and documentation.
    pub const ALL: [ExitReason; 10] = [
        Self::Signal,
        Self::StopLoss,
        Self::TakeProfit,
        Self::Breakeven,
        Self::Trailing,
        Self::PartialClose,
        Self::MaxHoldingTime,
        Self::Operator,
        Self::KillSwitch,
        Self::StopOut,
    ];

    /// The stable form stored in rows and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::StopLoss => "stop_loss",
            Self::TakeProfit => "take_profit",
            Self::Breakeven => "breakeven",
            Self::Trailing => "trailing",
            Self::PartialClose => "partial_close",
            Self::MaxHoldingTime => "max_holding_time",
            Self::Operator => "operator",
            Self::KillSwitch => "kill_switch",
            Self::StopOut => "stop_out",
        }
    }

    /// The reason a closing deal gives a trade. `known` is what MTQ knew before the deal: the
    /// reason of the close it sent, or `breakeven`/`trailing` after it moved the stop. A deal
    /// at the stop after a stop move keeps the move's reason; a deal at the take profit or by
    /// stop-out says so; any other close keeps the reason of MTQ's close, else `signal`.
    pub fn at_close(deal: DealReason, known: Option<ExitReason>) -> ExitReason {
        let stop_moved = matches!(known, Some(Self::Breakeven | Self::Trailing));
        match deal {
            DealReason::StopLoss if stop_moved => known.unwrap_or(Self::StopLoss),
            DealReason::StopLoss => Self::StopLoss,
            DealReason::TakeProfit => Self::TakeProfit,
            DealReason::StopOut => Self::StopOut,
            _ => match known {
                Some(k) if !stop_moved && !matches!(k, Self::StopLoss | Self::TakeProfit) => k,
                _ => Self::Signal,
            },
        }
    }
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Signal => "signal",
            Self::StopLoss => "stop loss",
            Self::TakeProfit => "take profit",
            Self::Breakeven => "breakeven stop",
            Self::Trailing => "trailing stop",
            Self::PartialClose => "partial close",
            Self::MaxHoldingTime => "maximum holding time",
            Self::Operator => "operator",
            Self::KillSwitch => "kill switch",
            Self::StopOut => "stop-out",
        })
    }
}

impl std::str::FromStr for ExitReason {
    type Err = String;

    /// Parses the stable form ([`ExitReason::as_str`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown exit reason {s:?}"))
    }
}

/// An executed deal in the account history. `profit`, `commission` and `swap` are the amounts
/// this deal moved into the balance, in the account currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    pub ticket: Ticket,
    /// The order that caused the deal.
    pub order: Option<Ticket>,
    pub position: Option<Ticket>,
    /// `None` for balance operations.
    pub symbol: Option<Symbol>,
    /// `None` for balance operations.
    pub side: Option<Side>,
    pub entry: DealEntry,
    pub reason: DealReason,
    pub volume: Decimal,
    pub price: Decimal,
    pub commission: Decimal,
    pub swap: Decimal,
    pub profit: Decimal,
    pub time: DateTime<Utc>,
    pub magic: Magic,
    pub comment: String,
}

impl Deal {
    /// Everything this deal added to the balance.
    pub fn balance_effect(&self) -> Decimal {
        self.profit + self.commission + self.swap
    }
}

#[cfg(test)]
mod exit_reason_tests {
    use super::{DealReason, ExitReason};

    #[test]
    fn exit_reasons_round_trip_through_their_stable_form() {
        for r in ExitReason::ALL {
            assert_eq!(r.as_str().parse::<ExitReason>(), Ok(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
    }

    #[test]
    fn a_stop_hit_after_a_stop_move_keeps_the_moves_reason() {
        use ExitReason as E;
        let cases = [
            (DealReason::StopLoss, None, E::StopLoss),
            (DealReason::StopLoss, Some(E::Breakeven), E::Breakeven),
            (DealReason::StopLoss, Some(E::Trailing), E::Trailing),
            (DealReason::StopLoss, Some(E::KillSwitch), E::StopLoss),
            (DealReason::TakeProfit, Some(E::Trailing), E::TakeProfit),
            (DealReason::StopOut, None, E::StopOut),
            (DealReason::Expert, Some(E::KillSwitch), E::KillSwitch),
            (DealReason::Expert, Some(E::Breakeven), E::Signal),
            (DealReason::Expert, None, E::Signal),
        ];
        for (deal, known, want) in cases {
            assert_eq!(
                ExitReason::at_close(deal, known),
                want,
                "{deal:?} {known:?}"
            );
        }
    }
}
