//! The operator API's performance figures: one summary of a period, the same per day, week or
//! month, and per symbol, strategy or exit reason, all from the closed trades in the database.
//!
//! Every figure comes from the statistics in [`crate::stats`] and [`crate::equity`], so the API
//! reports what the backtest report and the daily aggregation report. The equity curve behind
//! drawdown and Sharpe is the account's equity before the period (its last snapshot) plus the
//! trades' running net profit; without a snapshot (or over all accounts together) it is the
//! running net profit from zero, so the drawdown has no percentage and Sharpe is not given.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use mtq_persistence::{AccountId, PersistenceError, SnapshotRepo, TradeRecord, TradeRepo};
use rust_decimal::Decimal;

use crate::equity::{drawdown, equity_stats};
use crate::stats::TradeAccumulator;
use crate::{ClosedTrade, equity_from_trades};

/// The figures the API shows for a set of closed trades.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PerformanceSummary {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// wins / trades, 0..=1.
    pub win_rate: f64,
    /// gross profit / |gross loss|; `None` without a loss.
    pub profit_factor: Option<f64>,
    /// Net of commission and swap.
    pub net_profit: Decimal,
    pub gross_profit: Decimal,
    /// Zero or negative.
    pub gross_loss: Decimal,
    /// Average net profit per trade.
    pub expectancy: Decimal,
    /// Largest fall of the equity curve from a running peak, in money.
    pub max_drawdown: Decimal,
    /// The same in percent of the peak; `None` without a starting equity.
    pub max_drawdown_pct: Option<f64>,
    /// Annualised from daily returns (see [`crate::equity`]); `None` without a starting equity
    /// or under two days of returns.
    pub sharpe: Option<f64>,
}

/// A calendar period for [`performance_by_period`]; weeks start on Monday (ISO 8601), all UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    /// The first day of the period holding `date`.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => date,
            Self::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
            Self::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day of the period `n` periods before the one holding `date` (`n = 0`: its own).
    pub fn periods_back(self, date: NaiveDate, n: u32) -> NaiveDate {
        let start = self.start_of(date);
        match self {
            Self::Day => start - Duration::days(i64::from(n)),
            Self::Week => start - Duration::weeks(i64::from(n)),
            Self::Month => start
                .checked_sub_months(chrono::Months::new(n))
                .unwrap_or(NaiveDate::MIN),
        }
    }
}

/// How [`performance_by`] groups trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupBy {
    Symbol,
    /// Trades without a known strategy are under [`crate::UNKNOWN_STRATEGY`].
    Strategy,
    /// The exit reason's stable form (`stop_loss`, `operator`, ...); `unknown` when not recorded.
    ExitReason,
}

/// One period's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodPerformance {
    /// The period's first day.
    pub start: NaiveDate,
    pub summary: PerformanceSummary,
}

/// One group's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupPerformance {
    /// The symbol, strategy or exit reason.
    pub key: String,
    pub summary: PerformanceSummary,
}

/// The closed trades of `from..to` (by exit time) and the equity they start from.
fn load<S>(
    store: &mut S,
    account: Option<AccountId>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(Vec<TradeRecord>, Option<Decimal>), PersistenceError>
where
    S: TradeRepo + SnapshotRepo + ?Sized,
{
    let trades = store.closed_trades(account, from, to)?;
    let start_equity = match (account, trades.first()) {
        (Some(_), Some(first)) => {
            // The equity before the first trade opened (or at `from`, if it opened earlier).
            let at = first.entry_time.max(from);
            store.snapshot_before(account, at)?.map(|s| s.equity)
        }
        _ => None,
    };
    Ok((trades, start_equity))
}

/// The summary of closed trades in exit order, starting from `start_equity` when known.
pub fn summarize(trades: &[ClosedTrade], start_equity: Option<Decimal>) -> PerformanceSummary {
    let mut acc = TradeAccumulator::new();
    for t in trades {
        acc.push(t);
    }
    let s = acc.finish();
    let curve = equity_from_trades(start_equity.unwrap_or(Decimal::ZERO), trades);
    let (max_drawdown, max_drawdown_pct, sharpe) = match start_equity {
        Some(_) => match equity_stats(&curve) {
            Some(e) => (e.drawdown.max_money, Some(e.drawdown.max_percent), e.sharpe),
            None => (Decimal::ZERO, Some(0.0), None),
        },
        None => (drawdown(&curve).max_money, None, None),
    };
    PerformanceSummary {
        trades: s.trades,
        wins: s.wins,
        losses: s.losses,
        win_rate: s.win_rate,
        profit_factor: s.profit_factor,
        net_profit: s.net_profit,
        gross_profit: s.gross_profit,
        gross_loss: s.gross_loss,
        expectancy: s.expectancy,
        max_drawdown,
        max_drawdown_pct,
        sharpe,
    }
}

fn closed(records: &[TradeRecord]) -> Vec<ClosedTrade> {
    records
        .iter()
        .filter_map(ClosedTrade::from_record)
        .collect()
}

/// The summary of trades closed in `from..to`; every account together when `account` is `None`.
pub fn performance_summary<S>(
    store: &mut S,
    account: Option<AccountId>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<PerformanceSummary, PersistenceError>
where
    S: TradeRepo + SnapshotRepo + ?Sized,
{
    let (records, start_equity) = load(store, account, from, to)?;
    Ok(summarize(&closed(&records), start_equity))
}

/// One summary per period with closed trades in `from..to` (by exit date), oldest first. Each
/// period's equity starts where the previous one's ended.
pub fn performance_by_period<S>(
    store: &mut S,
    account: Option<AccountId>,
    period: Period,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PeriodPerformance>, PersistenceError>
where
    S: TradeRepo + SnapshotRepo + ?Sized,
{
    let (records, start_equity) = load(store, account, from, to)?;
    let mut buckets: BTreeMap<NaiveDate, Vec<ClosedTrade>> = BTreeMap::new();
    for t in closed(&records) {
        buckets
            .entry(period.start_of(t.exit_time.date_naive()))
            .or_default()
            .push(t);
    }
    let mut equity = start_equity;
    Ok(buckets
        .into_iter()
        .map(|(start, trades)| {
            let summary = summarize(&trades, equity);
            equity = equity.map(|e| e + summary.net_profit);
            PeriodPerformance { start, summary }
        })
        .collect())
}

/// One summary per symbol, strategy or exit reason of trades closed in `from..to`, by key.
/// Groups have no starting equity (a group is not an account), so no percentage or Sharpe.
pub fn performance_by<S>(
    store: &mut S,
    account: Option<AccountId>,
    group: GroupBy,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<GroupPerformance>, PersistenceError>
where
    S: TradeRepo + SnapshotRepo + ?Sized,
{
    let records = store.closed_trades(account, from, to)?;
    let mut groups: BTreeMap<String, Vec<ClosedTrade>> = BTreeMap::new();
    for r in &records {
        let Some(t) = ClosedTrade::from_record(r) else {
            continue;
        };
        let key = match group {
            GroupBy::Symbol => r.symbol.as_str().to_string(),
            GroupBy::Strategy => r
                .strategy
                .clone()
                .unwrap_or_else(|| crate::UNKNOWN_STRATEGY.to_string()),
            GroupBy::ExitReason => r
                .exit_reason
                .map_or_else(|| "unknown".to_string(), |e| e.as_str().to_string()),
        };
        groups.entry(key).or_default().push(t);
    }
    Ok(groups
        .into_iter()
        .map(|(key, trades)| GroupPerformance {
            key,
            summary: summarize(&trades, None),
        })
        .collect())
}
