//! Daily aggregation into `daily_performance`: one row per account and UTC day, plus one for all
//! accounts together. Re-running a day replaces its rows, so aggregation is idempotent.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use mtq_persistence::{
    ALL_ACCOUNTS, AccountId, AccountRepo, DailyPerformanceRecord, DailyPerformanceRepo,
    PersistenceError, SnapshotRepo, TradeRepo,
};
use rust_decimal::Decimal;

use crate::equity::drawdown;
use crate::stats::trade_stats;
use crate::{ClosedTrade, EquityPoint};

fn day_bounds(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = date.and_time(chrono::NaiveTime::MIN).and_utc();
    (start, start + Duration::days(1))
}

/// Computes one day for `account` (`None`: every account together) from the store.
///
/// With an account, the equity curve is its snapshots of the day, starting from the last
/// snapshot before the day; without snapshots (and for all accounts together) it is the running
/// closed P&L of the day, from the day's start equity when one is known, else from zero (then
/// the percentage drawdown is zero, having no base).
pub fn compute_day<S>(
    store: &mut S,
    account: Option<AccountId>,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<DailyPerformanceRecord, PersistenceError>
where
    S: TradeRepo + SnapshotRepo + ?Sized,
{
    let (start, end) = day_bounds(date);
    let records = store.closed_trades(account, start, end)?;
    let trades: Vec<ClosedTrade> = records
        .iter()
        .filter_map(ClosedTrade::from_record)
        .collect();
    let stats = trade_stats(&trades);
    let (mut curve, start_equity, end_equity) = match account {
        Some(_) => {
            let before = store.snapshot_before(account, start)?;
            let day = store.snapshots(account, start, end)?;
            let start_equity = before.as_ref().or(day.first()).map(|s| s.equity);
            let end_equity = day.last().map(|s| s.equity).or(start_equity);
            let curve: Vec<EquityPoint> = before
                .iter()
                .chain(day.iter())
                .map(|s| EquityPoint {
                    time: s.time,
                    equity: s.equity,
                })
                .collect();
            (curve, start_equity, end_equity)
        }
        None => (Vec::new(), None, None),
    };
    if curve.len() < 2 {
        curve = crate::equity_from_trades(start_equity.unwrap_or(Decimal::ZERO), &trades);
    }
    let dd = drawdown(&curve);
    // A running P&L from zero has no base to take a percentage of.
    let dd_pct = if start_equity.is_some() {
        dd.max_percent
    } else {
        0.0
    };
    let commission = records.iter().map(|t| t.commission).sum();
    let swap = records.iter().map(|t| t.swap).sum();
    let to_u32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(DailyPerformanceRecord {
        account_id: account.map_or(ALL_ACCOUNTS, |a| a.0),
        date,
        trades: to_u32(stats.trades),
        wins: to_u32(stats.wins),
        losses: to_u32(stats.losses),
        gross_profit: stats.gross_profit,
        gross_loss: stats.gross_loss,
        net_profit: stats.net_profit,
        commission,
        swap,
        largest_win: stats.largest_win,
        largest_loss: stats.largest_loss,
        win_rate: stats.win_rate,
        profit_factor: stats.profit_factor,
        start_equity,
        end_equity,
        max_drawdown: dd.max_money,
        max_drawdown_pct: dd_pct,
        computed_at: now,
    })
}

/// Computes and writes (replacing) the day for every account in `accounts` and for all accounts
/// together; returns the rows written, all-accounts row first.
pub fn aggregate_day<S>(
    store: &mut S,
    accounts: &[AccountId],
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<DailyPerformanceRecord>, PersistenceError>
where
    S: TradeRepo + SnapshotRepo + DailyPerformanceRepo + ?Sized,
{
    let mut rows = Vec::with_capacity(accounts.len() + 1);
    rows.push(compute_day(store, None, date, now)?);
    for a in accounts {
        rows.push(compute_day(store, Some(*a), date, now)?);
    }
    for row in &rows {
        store.replace_day(row)?;
    }
    Ok(rows)
}

/// Aggregates every day from `first` to `last` (inclusive) for every account in the store and
/// for all together, replacing rows already there; returns the rows written, day by day. The
/// one code path of `mtq-aggregator`'s backfills and of the scheduled aggregation.
pub fn aggregate_range<S>(
    store: &mut S,
    first: NaiveDate,
    last: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<DailyPerformanceRecord>, PersistenceError>
where
    S: TradeRepo + SnapshotRepo + DailyPerformanceRepo + AccountRepo + ?Sized,
{
    let accounts: Vec<AccountId> = store.accounts()?.into_iter().map(|a| a.id).collect();
    let mut written = Vec::new();
    for date in dates(first, last) {
        written.extend(aggregate_day(store, &accounts, date, now)?);
    }
    Ok(written)
}

/// Every date from `first` to `last`, inclusive.
pub fn dates(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    first.iter_days().take_while(move |d| *d <= last)
}
