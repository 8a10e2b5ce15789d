use mtq_core::{CoreError, Currency, Symbol};

/// Errors setting up the simulator. Trade refusals are `BrokerError`s with MT5 return codes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("symbol {0} is listed twice")]
    DuplicateSymbol(Symbol),
    #[error(
        "cannot convert {from} into {to} for {symbol}: add a symbol quoting {from}{to} or {to}{from} \
         (or both against USD) to the simulator, or a fallback rate in SimConfig::fallback_rates"
    )]
    NoConversion {
        symbol: Symbol,
        from: Currency,
        to: Currency,
    },
    #[error("leverage must be at least 1, got {0}")]
    InvalidLeverage(u32),
    #[error("deposit must not be negative, got {0}")]
    InvalidDeposit(mtq_core::Decimal),
    #[error("symbol {0} is not traded by this simulator")]
    UnknownSymbol(Symbol),
    #[error("bar for {symbol}: {source}")]
    InvalidBar { symbol: Symbol, source: CoreError },
    #[error(
        "bar for {symbol} at {time} is older than the simulator's time {now}: feed bars in time order"
    )]
    OutOfOrder {
        symbol: Symbol,
        time: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    },
    #[error(transparent)]
    Spec(#[from] CoreError),
}
