//! # mtq-analytics: how well MTQ trades
//!
//! Owns the performance statistics (trade statistics, drawdown, Sharpe, Sortino, Calmar, SQN,
//! breakdowns per symbol and per strategy), the daily aggregation into `daily_performance`, and the
//! equity and drawdown chart (PNG and SVG, with an embedded font). It reads through
//! `mtq-persistence`'s repository traits and never trades or decides anything.
//!
//! Statistics are pure functions of closed trades ([`ClosedTrade`], in exit order) and an equity
//! curve ([`EquityPoint`], in time order); the conventions (daily returns, annualisation, what
//! counts as a win) are written down in [`equity`] and on [`TradeStats`].
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use mtq_analytics::{ClosedTrade, PerformanceReport, equity_from_trades};
//! use mtq_core::Symbol;
//! use rust_decimal_macros::dec;
//!
//! let day = |d| Utc.with_ymd_and_hms(2024, 3, d, 12, 0, 0).unwrap();
//! let trade = |d, p| ClosedTrade {
//!     symbol: Symbol::new("EURUSD").unwrap(),
//!     strategy: Some("ma_crossover".into()),
//!     entry_time: day(d) - chrono::Duration::hours(2),
//!     exit_time: day(d),
//!     net_profit: p,
//! };
//! let trades = [trade(1, dec!(100)), trade(2, dec!(-50)), trade(3, dec!(150))];
//! let curve = equity_from_trades(dec!(10000), &trades);
//! let report = PerformanceReport::new(&trades, &curve);
//!
//! assert_eq!(report.trades.all.net_profit, dec!(200));
//! assert_eq!(report.trades.all.profit_factor, Some(5.0));
//! assert_eq!(report.equity.as_ref().unwrap().drawdown.max_money, dec!(50));
//! assert_eq!(report.recovery_factor, Some(4.0));
//! ```

mod chart;
pub mod daily;
pub mod equity;
pub mod performance;
mod report;
pub mod schedule;
mod stats;
mod trade;

pub use chart::{ChartError, ChartOptions, svg_string, write_png, write_svg};
pub use daily::{aggregate_day, aggregate_range, compute_day};
pub use equity::{
    Drawdown, EquityStats, ReturnStats, daily_returns, drawdown, drawdown_series, equity_stats,
    return_stats,
};
pub use performance::{
    GroupBy, GroupPerformance, PerformanceSummary, Period, PeriodPerformance, performance_by,
    performance_by_period, performance_summary,
};
pub use report::PerformanceReport;
pub use schedule::{DailyAggregationOptions, DailySchedule, spawn_daily_aggregation};
pub use stats::{
    Breakdown, TradeAccumulator, TradeStats, UNKNOWN_STRATEGY, breakdown, trade_stats,
};
pub use trade::{ClosedTrade, EquityPoint, equity_from_trades};
