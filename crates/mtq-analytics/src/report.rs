//! The full performance report: trade statistics, equity statistics, and the ratios that need both.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::equity::{EquityStats, equity_stats};
use crate::stats::{Breakdown, breakdown};
use crate::{ClosedTrade, EquityPoint};

/// Everything MTQ reports about a period.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PerformanceReport {
    pub trades: Breakdown,
    /// `None` without an equity curve.
    pub equity: Option<EquityStats>,
    /// Net profit / maximum drawdown in money; `None` without a drawdown.
    pub recovery_factor: Option<f64>,
}

impl PerformanceReport {
    /// The report for `trades` (in exit order) and `curve` (in time order; may be empty).
    pub fn new(trades: &[ClosedTrade], curve: &[EquityPoint]) -> Self {
        let trades = breakdown(trades);
        let equity = equity_stats(curve);
        let recovery_factor = equity
            .as_ref()
            .map(|e| e.drawdown.max_money)
            .filter(|dd| *dd > Decimal::ZERO)
            .and_then(|dd| (trades.all.net_profit / dd).to_f64());
        Self {
            trades,
            equity,
            recovery_factor,
        }
    }
}
