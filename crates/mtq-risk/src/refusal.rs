//! Why a trade was not taken, in words a trader understands.

use chrono::{DateTime, Utc};
use mtq_core::{Currency, Decimal, Side, Symbol};

use crate::kill_switch::KillSwitchState;

/// A refused entry. Sizing and every pre-trade check answer with one of these; `Display` is the
/// sentence to show and record, [`Refusal::code`] a stable name for metrics and the database.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("trading is {state}: {reason}")]
    KillSwitch {
        state: KillSwitchState,
        reason: String,
    },
    #[error("no symbol specification for {symbol}: add it to the symbol specs")]
    UnknownSymbol { symbol: Symbol },
    #[error(
        "no exchange rate from {from} to {to}: provide a {from}/{to} or {from}/USD and USD/{to} rate"
    )]
    NoConversionRate { from: Currency, to: Currency },
    #[error("a numeric value is out of range while {during}")]
    OutOfRange { during: &'static str },
    #[error("{symbol}: invalid price {price} for {what}")]
    InvalidPrice {
        symbol: Symbol,
        what: &'static str,
        price: Decimal,
    },
    #[error("{symbol}: a stop loss is required to size or risk-check an entry")]
    NoStopLoss { symbol: Symbol },
    #[error("{symbol}: stop loss {sl} is on the wrong side of entry {entry} for a {}", side_word(*.side))]
    StopLossOnWrongSide {
        symbol: Symbol,
        side: Side,
        entry: Decimal,
        sl: Decimal,
    },
    #[error("nothing to risk: the {base} is {amount} {currency}")]
    NoRiskCapital {
        base: &'static str,
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
    UnboundedOpenRisk {
        ticket: mtq_core::Ticket,
        symbol: Symbol,
    },
}

/// A money or percentage figure as a message shows it: two decimals, no trailing zeros.
pub(crate) fn shown(d: Decimal) -> Decimal {
    d.round_dp(2).normalize()
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
}
