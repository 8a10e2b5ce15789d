//! Fixtures for the crate's unit tests: specs, rates, accounts and positions that read as scenarios.

use chrono::{DateTime, Utc};
use mtq_core::{
    AccountInfo, Currency, Decimal, Magic, MarginMode, Position, Side, StaticRates, Symbol,
    SymbolSpec, Ticket,
};
use rust_decimal_macros::dec;

pub(crate) fn spec(name: &str) -> SymbolSpec {
    SymbolSpec::builtin(name).unwrap()
}

pub(crate) fn sym(name: &str) -> Symbol {
    Symbol::new(name).unwrap()
}

/// EUR/USD 1.10, GBP/USD 1.25, USD/JPY 150.
pub(crate) fn rates() -> StaticRates {
    StaticRates::new()
        .with(Currency::EUR, Currency::USD, dec!(1.10))
        .with(Currency::GBP, Currency::USD, dec!(1.25))
        .with(Currency::USD, Currency::JPY, dec!(150))
}

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A flat account (no positions, no margin used) with `balance` in `currency`, 1:100.
pub(crate) fn account(currency: Currency, balance: Decimal) -> AccountInfo {
    AccountInfo {
        login: 1,
        server: "Demo".into(),
        currency,
        balance,
        equity: balance,
        margin: Decimal::ZERO,
        free_margin: balance,
        margin_level: None,
        leverage: 100,
        margin_mode: MarginMode::Hedging,
    }
}

/// An open position at `open_price` with its current price equal to the open price.
pub(crate) fn position(
    ticket: u64,
    symbol: &str,
    side: Side,
    volume: Decimal,
    open_price: Decimal,
    sl: Option<Decimal>,
) -> Position {
    Position {
        ticket: Ticket(ticket),
        symbol: sym(symbol),
        side,
        volume,
        open_price,
        open_time: t("2024-03-04T08:00:00Z"),
        sl,
        tp: None,
        current_price: open_price,
        swap: Decimal::ZERO,
        profit: Decimal::ZERO,
        magic: Magic(7),
        comment: String::new(),
    }
}
