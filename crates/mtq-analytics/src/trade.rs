//! The input of every statistic: a closed trade reduced to what the statistics need.

use chrono::{DateTime, Duration, Utc};
use mtq_core::Symbol;
use mtq_persistence::TradeRecord;
use rust_decimal::Decimal;

/// A closed trade. `net_profit` is what it added to the balance: profit + commission + swap.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedTrade {
    pub symbol: Symbol,
    /// `None` when the strategy is unknown (e.g. a position opened by hand).
    pub strategy: Option<String>,
    pub entry_time: DateTime<Utc>,
    pub exit_time: DateTime<Utc>,
    pub net_profit: Decimal,
}

impl ClosedTrade {
    pub fn holding_time(&self) -> Duration {
        self.exit_time - self.entry_time
    }

    /// The closed trade a stored trade describes; `None` while it is still open.
    pub fn from_record(t: &TradeRecord) -> Option<Self> {
        Some(Self {
            symbol: t.symbol.clone(),
            strategy: t.strategy.clone(),
            entry_time: t.entry_time,
            exit_time: t.exit_time?,
            net_profit: t.net_profit(),
        })
    }
}

/// One point of an equity curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EquityPoint {
    pub time: DateTime<Utc>,
    pub equity: Decimal,
}

/// An equity curve built from a starting balance and closed trades in exit order: a point at the
/// start (the first entry time) and one after each trade. Used when no account snapshots exist.
pub fn equity_from_trades(start_balance: Decimal, trades: &[ClosedTrade]) -> Vec<EquityPoint> {
    let mut out = Vec::with_capacity(trades.len() + 1);
    let Some(first) = trades.first() else {
        return out;
    };
    out.push(EquityPoint {
        time: first.entry_time.min(first.exit_time),
        equity: start_balance,
    });
    let mut equity = start_balance;
    for t in trades {
        equity += t.net_profit;
        out.push(EquityPoint {
            time: t.exit_time,
            equity,
        });
    }
    out
}
