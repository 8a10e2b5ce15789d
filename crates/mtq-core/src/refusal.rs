//! Why a signal was not acted on, what state the kill switch is in, and where an error came
//! from: typed, so nothing downstream parses text that code upstream wrote.
//!
//! Each type has a `Display` for people (the sentence the signal log, the journal and reports
//! show, unchanged from when these were strings) and a stable snake_case form for JSON and the
//! database. Rows written before the types existed still load: a refusal stored as its sentence
//! reads back as [`SignalRefusal::Text`], and the kill switch's `reduce-only` as
//! [`KillSwitchState::ReduceOnly`].

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Currency, Side, Symbol, Ticket};

/// What trading may do now. Ordered by severity.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum KillSwitchState {
    /// Everything is allowed.
    #[default]
    Active,
    /// No new entries; stops may be tightened and positions reduced or closed.
    /// (Kill-switch events before the state was typed stored it as `reduce-only`.)
    #[serde(alias = "reduce-only")]
    ReduceOnly,
    /// No new entries and no position management.
    Halted,
}

impl KillSwitchState {
    pub fn allows_entries(self) -> bool {
        self == KillSwitchState::Active
    }

    /// Whether breakeven, trailing, partial closes and time exits may run.
    pub fn allows_management(self) -> bool {
        self != KillSwitchState::Halted
    }

    /// The state as people read it (and as the journal's messages show it).
    pub fn as_str(self) -> &'static str {
        match self {
            KillSwitchState::Active => "active",
            KillSwitchState::ReduceOnly => "reduce-only",
            KillSwitchState::Halted => "halted",
        }
    }
}

impl fmt::Display for KillSwitchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What tripped the kill switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillSwitchTrigger {
    EmergencyStop,
    KillSwitchFile,
    Manual,
    Drawdown,
    DailyLoss,
    OrderFailures,
}

/// A refused entry. Sizing and every pre-trade check answer with one of these; `Display` is the
/// sentence to show and record, [`Refusal::code`] a stable name for metrics and the database.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    #[error("trading is {state}: {reason}")]
    KillSwitch {
        state: KillSwitchState,
        /// What tripped the switch; `None` in a refusal recorded before it was kept.
        #[serde(default)]
        trigger: Option<KillSwitchTrigger>,
        reason: String,
    },
    #[error("no symbol specification for {symbol}: add it to the symbol specs")]
    UnknownSymbol { symbol: Symbol },
    #[error(
        "no exchange rate from {from} to {to}: provide a {from}/{to} or {from}/USD and USD/{to} rate"
    )]
    NoConversionRate { from: Currency, to: Currency },
    #[error("a numeric value is out of range while {during}")]
    OutOfRange { during: Cow<'static, str> },
    #[error("{symbol}: invalid price {price} for {what}")]
    InvalidPrice {
        symbol: Symbol,
        what: Cow<'static, str>,
        price: Decimal,
    },
    #[error("{symbol}: a stop loss is required to size or risk-check an entry")]
    NoStopLoss { symbol: Symbol },
    #[serde(rename = "stop_loss_wrong_side")]
    #[error("{symbol}: stop loss {sl} is on the wrong side of entry {entry} for a {}", side_word(*.side))]
    StopLossOnWrongSide {
        symbol: Symbol,
        side: Side,
        entry: Decimal,
        sl: Decimal,
    },
    #[error("nothing to risk: the {base} is {amount} {currency}")]
    NoRiskCapital {
        base: Cow<'static, str>,
        amount: Decimal,
        currency: Currency,
    },
    #[error("account leverage is 0: margin cannot be computed")]
    ZeroLeverage,
    #[error(
        "{symbol}: even the minimum volume {min_volume} lots would risk {risk_at_min} {currency}, more than the {budget} {currency} allowed"
    )]
    MinimumVolumeTooRisky {
        symbol: Symbol,
        min_volume: Decimal,
        risk_at_min: Decimal,
        budget: Decimal,
        currency: Currency,
    },
    #[error("{symbol}: volume {volume} lots is below the minimum {min_volume} lots")]
    BelowMinimumVolume {
        symbol: Symbol,
        volume: Decimal,
        min_volume: Decimal,
    },
    #[error("outside the trading hours for {symbol} at {now}")]
    OutsideTradingHours { symbol: Symbol, now: DateTime<Utc> },
    #[error("{symbol}: spread {spread_pips} pips is wider than the {max_pips} pips allowed")]
    SpreadTooWide {
        symbol: Symbol,
        spread_pips: Decimal,
        max_pips: Decimal,
    },
    #[error(
        "{symbol}: cooling down, {remaining_seconds} s left of {cooldown_seconds} s since the last entry"
    )]
    Cooldown {
        symbol: Symbol,
        remaining_seconds: i64,
        cooldown_seconds: u64,
    },
    #[error("{open} positions are open, the portfolio maximum is {max}")]
    MaxPositions { open: usize, max: u32 },
    #[error("{symbol}: {open} positions are open, the maximum for the symbol is {max}")]
    MaxSymbolPositions {
        symbol: Symbol,
        open: usize,
        max: u32,
    },
    #[error("{symbol}: a {} position is already open and position stacking is off", side_word(*.side))]
    StackingNotAllowed { symbol: Symbol, side: Side },
    #[error("{symbol}: {open} {} positions are open, the maximum in one direction is {max}", side_word(*.side))]
    MaxSameDirection {
        symbol: Symbol,
        side: Side,
        open: usize,
        max: u32,
    },
    #[error(
        "daily loss limit reached: lost {loss} {currency} today ({loss_percent}% of the day's starting equity), the limit is {limit_percent}%"
    )]
    DailyLossPercent {
        loss: Decimal,
        loss_percent: Decimal,
        limit_percent: Decimal,
        currency: Currency,
    },
    #[error(
        "daily loss limit reached: lost {loss} {currency} today, the limit is {limit} {currency}"
    )]
    DailyLossMoney {
        loss: Decimal,
        limit: Decimal,
        currency: Currency,
    },
    #[error(
        "drawdown {drawdown_percent}% from the equity peak {peak} {currency} reaches the {limit_percent}% limit"
    )]
    Drawdown {
        drawdown_percent: Decimal,
        limit_percent: Decimal,
        peak: Decimal,
        currency: Currency,
    },
    #[error(
        "free margin after the trade would be {after} {currency}, below the {min} {currency} required"
    )]
    FreeMargin {
        after: Decimal,
        min: Decimal,
        currency: Currency,
    },
    #[error("margin level after the trade would be {level}%, below the {min}% required")]
    MarginLevel { level: Decimal, min: Decimal },
    #[error(
        "net {currency} exposure would reach {exposure_percent}% of equity, above the {cap_percent}% cap"
    )]
    CurrencyExposure {
        currency: Currency,
        exposure_percent: Decimal,
        cap_percent: Decimal,
    },
    #[error(
        "open risk would reach {open_risk} {currency} ({risk_percent}% of balance), above portfolio_risk_percent {limit_percent}%"
    )]
    PortfolioRisk {
        open_risk: Decimal,
        risk_percent: Decimal,
        limit_percent: Decimal,
        currency: Currency,
    },
    #[error("open position {ticket} on {symbol} has no stop loss, so the open risk is unbounded")]
    UnboundedOpenRisk { ticket: Ticket, symbol: Symbol },
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

impl Refusal {
    /// A stable snake_case name for the refusal's kind.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::KillSwitch { .. } => "kill_switch",
            Refusal::UnknownSymbol { .. } => "unknown_symbol",
            Refusal::NoConversionRate { .. } => "no_conversion_rate",
            Refusal::OutOfRange { .. } => "out_of_range",
            Refusal::InvalidPrice { .. } => "invalid_price",
            Refusal::NoStopLoss { .. } => "no_stop_loss",
            Refusal::StopLossOnWrongSide { .. } => "stop_loss_wrong_side",
            Refusal::NoRiskCapital { .. } => "no_risk_capital",
            Refusal::ZeroLeverage => "zero_leverage",
            Refusal::MinimumVolumeTooRisky { .. } => "minimum_volume_too_risky",
            Refusal::BelowMinimumVolume { .. } => "below_minimum_volume",
            Refusal::OutsideTradingHours { .. } => "outside_trading_hours",
            Refusal::SpreadTooWide { .. } => "spread_too_wide",
            Refusal::Cooldown { .. } => "cooldown",
            Refusal::MaxPositions { .. } => "max_positions",
            Refusal::MaxSymbolPositions { .. } => "max_symbol_positions",
            Refusal::StackingNotAllowed { .. } => "stacking_not_allowed",
            Refusal::MaxSameDirection { .. } => "max_same_direction",
            Refusal::DailyLossPercent { .. } => "daily_loss_percent",
            Refusal::DailyLossMoney { .. } => "daily_loss_money",
            Refusal::Drawdown { .. } => "drawdown",
            Refusal::FreeMargin { .. } => "free_margin",
            Refusal::MarginLevel { .. } => "margin_level",
            Refusal::CurrencyExposure { .. } => "currency_exposure",
            Refusal::PortfolioRisk { .. } => "portfolio_risk",
            Refusal::UnboundedOpenRisk { .. } => "unbounded_open_risk",
        }
    }

    /// The refusal without the numbers that make each one unique: what a report counts
    /// refusals by. The text is the sentence's opening words.
    pub fn summary(&self) -> String {
        match self {
            Refusal::KillSwitch { state, trigger, .. } => match trigger {
                Some(KillSwitchTrigger::EmergencyStop) => {
                    format!("trading is {state}: emergency.emergency_stop is set in the config")
                }
                Some(KillSwitchTrigger::KillSwitchFile) => {
                    format!("trading is {state}: the kill-switch file is present")
                }
                Some(KillSwitchTrigger::Manual) => format!("trading is {state}: stopped by hand"),
                Some(KillSwitchTrigger::Drawdown) => format!("trading is {state}: drawdown"),
                Some(KillSwitchTrigger::DailyLoss) => {
                    format!("trading is {state}: daily loss limit reached: lost")
                }
                Some(KillSwitchTrigger::OrderFailures) | None => format!("trading is {state}"),
            },
            Refusal::UnknownSymbol { .. }
            | Refusal::NoConversionRate { .. }
            | Refusal::OutOfRange { .. }
            | Refusal::NoStopLoss { .. }
            | Refusal::StackingNotAllowed { .. } => self.to_string(),
            Refusal::InvalidPrice { symbol, .. } => format!("{symbol}: invalid price"),
            Refusal::StopLossOnWrongSide { symbol, .. } => format!("{symbol}: stop loss"),
            Refusal::NoRiskCapital { base, .. } => format!("nothing to risk: the {base} is"),
            Refusal::ZeroLeverage => "account leverage is".into(),
            Refusal::MinimumVolumeTooRisky { symbol, .. } => {
                format!("{symbol}: even the minimum volume")
            }
            Refusal::BelowMinimumVolume { symbol, .. } => format!("{symbol}: volume"),
            Refusal::OutsideTradingHours { symbol, .. } => {
                format!("outside the trading hours for {symbol} at")
            }
            Refusal::SpreadTooWide { symbol, .. } => format!("{symbol}: spread"),
            Refusal::Cooldown { symbol, .. } => format!("{symbol}: cooling down,"),
            Refusal::MaxPositions { .. } => "the portfolio maximum of positions is open".into(),
            Refusal::MaxSymbolPositions { symbol, .. } => {
                format!("{symbol}: the maximum positions for the symbol are open")
            }
            Refusal::MaxSameDirection { symbol, side, .. } => format!(
                "{symbol}: the maximum {} positions in one direction are open",
                side_word(*side)
            ),
            Refusal::DailyLossPercent { .. } | Refusal::DailyLossMoney { .. } => {
                "daily loss limit reached: lost".into()
            }
            Refusal::Drawdown { .. } => "drawdown".into(),
            Refusal::FreeMargin { .. } => "free margin after the trade would be".into(),
            Refusal::MarginLevel { .. } => "margin level after the trade would be".into(),
            Refusal::CurrencyExposure { currency, .. } => {
                format!("net {currency} exposure would reach")
            }
            Refusal::PortfolioRisk { .. } => "open risk would reach".into(),
            Refusal::UnboundedOpenRisk { .. } => "open position".into(),
        }
    }
}

/// Why a signal's entry was not sent although the risk checks would allow it: the reasons the
/// trader core and the live driver add to the risk layer's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum EntryRefusal {
    /// A netting account holds one position per symbol, and an order nets against it: an entry
    /// would reduce, close or reverse a position MTQ does not own (opened by hand or by another
    /// program, or ignored at start-up).
    ForeignPosition { symbol: Symbol, ticket: Ticket },
    /// A netting account already holds MTQ's own position in the symbol: another order would
    /// add to it instead of opening a position of its own.
    NettingPositionHeld { symbol: Symbol, ticket: Ticket },
    /// The broker said the symbol's market is closed (or trading is disabled): requests for it
    /// wait until `until`.
    MarketClosed {
        symbol: Symbol,
        until: DateTime<Utc>,
    },
    /// The reversal's close of the opposite position was refused or its outcome is unknown:
    /// sending the entry could hold both sides. The signal lapses; the strategy's next signal
    /// reverses again.
    ReversalNotClosed { ticket: Ticket },
    /// An operator paused entries (through the API or a bot); positions are still managed.
    EntriesPaused,
    /// An operator disabled entries on this symbol; its positions are still managed.
    SymbolDisabled { symbol: Symbol },
    /// The account trades in `manual` mode: the strategy's signal is advice, recorded and not
    /// sent; only operator orders execute.
    ManualMode,
    /// The LLM sentiment filter (mtq-sentiment) refused the entry: `reason` names the filter,
    /// the scores, or why no score was had under fail-closed.
    Sentiment { reason: String },
    /// The account trades in `semi` mode: the entry passed every check and waits for an
    /// operator's approval (`approval`, its id), sent only if approved before it expires.
    AwaitingApproval { approval: u64 },
}

impl fmt::Display for EntryRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ForeignPosition { symbol, ticket } => write!(
                f,
                "netting account: {symbol} holds position {ticket}, which MTQ does not own; \
                 MTQ does not trade {symbol} while it is open"
            ),
            Self::NettingPositionHeld { symbol, ticket } => write!(
                f,
                "netting account: MTQ already holds position {ticket} in {symbol}, and an order \
                 would add to it"
            ),
            Self::MarketClosed { symbol, until } => write!(
                f,
                "market closed for {symbol}: requests wait until {}",
                until.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Self::ReversalNotClosed { ticket } => write!(
                f,
                "reversal not sent: the close of position {ticket} did not complete (the signal lapses)"
            ),
            Self::EntriesPaused => f.write_str("entries are paused by an operator"),
            Self::SymbolDisabled { symbol } => {
                write!(f, "entries on {symbol} are disabled by an operator")
            }
            Self::ManualMode => f.write_str(
                "advice only: the account trades in manual mode (only operator orders execute)",
            ),
            Self::Sentiment { reason } => f.write_str(reason),
            Self::AwaitingApproval { approval } => write!(
                f,
                "awaiting approval {approval}: the account trades in semi mode (sent only if an operator approves)"
            ),
        }
    }
}

impl EntryRefusal {
    /// The refusal without its numbers: what a report counts refusals by.
    pub fn summary(&self) -> String {
        match self {
            Self::ForeignPosition { symbol, .. } => {
                format!("netting account: {symbol} holds position")
            }
            Self::NettingPositionHeld { .. } => {
                "netting account: MTQ already holds position".into()
            }
            Self::MarketClosed { symbol, .. } => {
                format!("market closed for {symbol}: requests wait until")
            }
            Self::ReversalNotClosed { .. } => "reversal not sent: the close of position".into(),
            Self::EntriesPaused | Self::SymbolDisabled { .. } | Self::ManualMode => {
                self.to_string()
            }
            Self::Sentiment { .. } => "sentiment filter".into(),
            Self::AwaitingApproval { .. } => "awaiting approval".into(),
        }
    }
}

/// Why a recorded signal was not acted on: the risk rule, the trader's own reason, or the
/// strategy holding. `Display` is the sentence the signal log shows.
///
/// In JSON a typed refusal is an object naming what refused (`refused_by`) and, for the risk
/// layer and the trader, its `code` and numbers; [`SignalRefusal::Text`] is a plain string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "refused_by", rename_all = "snake_case")]
pub enum SignalRefusal {
    /// A risk check or the sizing refused the entry.
    Risk(Refusal),
    /// The trader did not send an entry the risk checks allowed.
    Entry(EntryRefusal),
    /// The strategy (or one of its filters) held: `reason` is the signal's own.
    Hold { reason: String },
    /// A close signal with no position of the strategy's open.
    NothingToClose,
    /// No client order id could be made for the entry (the config's id prefix is invalid).
    OrderId { message: String },
    /// A refusal recorded as its sentence, before refusals were typed: read back from old rows.
    #[serde(untagged)]
    Text(String),
}

impl fmt::Display for SignalRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Risk(r) => r.fmt(f),
            Self::Entry(r) => r.fmt(f),
            Self::Hold { reason } => write!(f, "hold: {reason}"),
            Self::NothingToClose => f.write_str("nothing to close"),
            Self::OrderId { message } | Self::Text(message) => f.write_str(message),
        }
    }
}

impl SignalRefusal {
    /// A stable snake_case name for the refusal's kind, for metrics and queries.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Risk(r) => r.code(),
            Self::Entry(r) => match r {
                EntryRefusal::ForeignPosition { .. } => "foreign_position",
                EntryRefusal::NettingPositionHeld { .. } => "netting_position_held",
                EntryRefusal::MarketClosed { .. } => "market_closed",
                EntryRefusal::ReversalNotClosed { .. } => "reversal_not_closed",
                EntryRefusal::EntriesPaused => "entries_paused",
                EntryRefusal::SymbolDisabled { .. } => "symbol_disabled",
                EntryRefusal::ManualMode => "manual_mode",
                EntryRefusal::Sentiment { .. } => "sentiment",
                EntryRefusal::AwaitingApproval { .. } => "awaiting_approval",
            },
            Self::Hold { .. } => "hold",
            Self::NothingToClose => "nothing_to_close",
            Self::OrderId { .. } => "order_id",
            Self::Text(_) => "text",
        }
    }

    /// The refusal without the numbers that make each one unique, so that a report counts
    /// refusals of one kind together.
    pub fn summary(&self) -> String {
        match self {
            Self::Risk(r) => r.summary(),
            Self::Entry(r) => r.summary(),
            Self::Hold { .. } => "hold".into(),
            Self::NothingToClose => "nothing to close".into(),
            Self::OrderId { .. } => "no client order id".into(),
            Self::Text(text) => text.clone(),
        }
    }
}

impl From<Refusal> for SignalRefusal {
    fn from(r: Refusal) -> Self {
        Self::Risk(r)
    }
}

impl From<EntryRefusal> for SignalRefusal {
    fn from(r: EntryRefusal) -> Self {
        Self::Entry(r)
    }
}

/// Where an [`EventKind::Error`](crate::EventKind::Error) came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    /// The broker connection or a broker request.
    Broker,
    /// A netting account's position the trader does not own.
    Netting,
    /// The database that holds order intents.
    IntentStore,
    /// The configuration or its reload.
    Config,
    /// Closing a position.
    Close,
    /// Modifying a position's stops.
    Modify,
    /// A trading cycle as a whole.
    Cycle,
}

impl ErrorSource {
    /// The stable snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Broker => "broker",
            Self::Netting => "netting",
            Self::IntentStore => "intent_store",
            Self::Config => "config",
            Self::Close => "close",
            Self::Modify => "modify",
            Self::Cycle => "cycle",
        }
    }
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[path = "refusal_tests.rs"]
mod tests;
