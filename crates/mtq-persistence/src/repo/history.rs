//! The operator API's history reads: trades, signals, orders and journal events in pages, one
//! trade with everything that led to it, and the equity curve at a chosen step.
//!
//! **Pages.** Every list is read newest first in a stable order, by `(time, id)` descending, and
//! continued from an opaque [`Cursor`] (the last row's time and id): a page is one index range
//! scan from the cursor (see the indexes of migration `2026-12-04-000002_operator_api`), so the
//! thousandth page costs what the first does, and rows written meanwhile never shift a page.
//! A page holds at most [`MAX_PAGE_LIMIT`] rows.
//!
//! **Accounts.** `account: None` in a filter reads every account.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use diesel::connection::DefaultLoadingMode;
use diesel::prelude::*;
use mtq_core::{Bar, DomainEvent, EventKind, Timeframe};

use super::audit::{EventRow, event_record};
use super::{
    AccountId, AuditEventRecord, OrderRecord, OrderRepo, OrderState, OrderTransition, SignalRecord,
    SnapshotRecord, TradeRecord, TradeStatus, to_i64,
};
use crate::error::QueryContext;
use crate::schema::{account_snapshots as snaps, events, orders, signals, trades};
use crate::types::{DbDecimal, DbTime};
use crate::{Result, Store};

/// The most rows one page holds; a larger limit is clamped to it.
pub const MAX_PAGE_LIMIT: u32 = 500;
/// The most points [`HistoryRepo::equity_curve`] returns; a step that would give more is widened.
pub const MAX_EQUITY_POINTS: usize = 2_000;

/// Where a page ends: the last row's time and id. Its text form ([`Display`](fmt::Display),
/// [`Cursor::parse`]) is opaque to clients; they hand back what they were given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    time: DateTime<Utc>,
    id: i64,
}

/// A cursor that is not one this crate wrote.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cursor {0:?} is not valid: pass back the `next` value of the previous page unchanged")]
pub struct InvalidCursor(pub String);

impl Cursor {
    pub(crate) fn new(time: DateTime<Utc>, id: i64) -> Self {
        Self { time, id }
    }

    /// Reads a cursor's text form.
    pub fn parse(s: &str) -> Result<Self, InvalidCursor> {
        let bad = || InvalidCursor(s.chars().take(64).collect());
        let (t, id) = s.split_once('.').ok_or_else(bad)?;
        let micros = i64::from_str_radix(t, 16).map_err(|_| bad())?;
        let id = i64::from_str_radix(id, 16).map_err(|_| bad())?;
        let time = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
        if id < 0 {
            return Err(bad());
        }
        Ok(Self { time, id })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}.{:x}", self.time.timestamp_micros(), self.id)
    }
}

impl std::str::FromStr for Cursor {
    type Err = InvalidCursor;
    fn from_str(s: &str) -> Result<Self, InvalidCursor> {
        Self::parse(s)
    }
}

/// Which page to read: at most `limit` rows (clamped to `1..=`[`MAX_PAGE_LIMIT`]) after `after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// `None`: the first (newest) page.
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: 100,
            after: None,
        }
    }
}

impl PageRequest {
    /// The first page of `limit` rows.
    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }

    fn clamped(self) -> i64 {
        i64::from(self.limit.clamp(1, MAX_PAGE_LIMIT))
    }
}

/// One page of rows, newest first, and the cursor of the next page (`None`: this is the last).
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// Which trades to list. Times bound the entry time: `from` inclusive, `to` exclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradeFilter {
    pub account: Option<AccountId>,
    pub symbol: Option<String>,
    pub strategy: Option<String>,
    pub status: Option<TradeStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Which signals to list. Times bound the signal's bar time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignalFilter {
    pub account: Option<AccountId>,
    pub symbol: Option<String>,
    pub strategy: Option<String>,
    /// `Some(true)`: acted on; `Some(false)`: refused.
    pub executed: Option<bool>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Which orders to list. Times bound the intent's creation time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub account: Option<AccountId>,
    pub symbol: Option<String>,
    pub state: Option<OrderState>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Which journal events to list (the audit trail; `kind: Some("config_reloaded")` is the
/// configuration's change history). Times bound the event time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub account: Option<AccountId>,
    /// The event type's stable form (`kill_switch`, `config_reloaded`, `operator_command`, ...).
    pub kind: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// An order with every state it went through.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderWithTransitions {
    pub order: OrderRecord,
    pub transitions: Vec<OrderTransition>,
}

/// One trade and what led to it.
#[derive(Clone, Debug, PartialEq)]
pub struct TradeDetail {
    pub trade: TradeRecord,
    /// The signal acted on that opened it: the newest executed signal of the trade's symbol and
    /// strategy at or before its entry (signals carry no order id). `None` for a position opened
    /// by hand or before signals were recorded.
    pub signal: Option<SignalRecord>,
    /// The orders of its position (opening, closes, stop changes sent as orders), oldest first.
    pub orders: Vec<OrderWithTransitions>,
}

/// The equity curve at a step: the last snapshot of each step, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct EquityCurve {
    /// The step used: the one asked for, or wider so that at most [`MAX_EQUITY_POINTS`] points
    /// come back.
    pub step: Duration,
    pub points: Vec<SnapshotRecord>,
}

/// The API's history reads.
pub trait HistoryRepo {
    fn trades_page(&mut self, filter: &TradeFilter, page: PageRequest)
    -> Result<Page<TradeRecord>>;
    /// The trade with this row id (the `id` of [`TradeRecord`]), its signal and its orders.
    fn trade_detail(&mut self, id: i64) -> Result<Option<TradeDetail>>;
    /// The order with this row id (the `id` of [`OrderRecord`]) and every state it went
    /// through, oldest first.
    fn order_detail(&mut self, id: i64) -> Result<Option<OrderWithTransitions>>;
    fn signals_page(
        &mut self,
        filter: &SignalFilter,
        page: PageRequest,
    ) -> Result<Page<SignalRecord>>;
    fn orders_page(&mut self, filter: &OrderFilter, page: PageRequest)
    -> Result<Page<OrderRecord>>;
    fn events_page(
        &mut self,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEventRecord>>;
    /// The newest `limit` bars of `symbol` on `timeframe` that closed before `to`, as the trader
    /// journalled them (`bar_closed` events), oldest first, one per open time.
    fn closed_bars(
        &mut self,
        account: Option<AccountId>,
        symbol: &str,
        timeframe: Timeframe,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Bar>>;
    /// Snapshots of `account` (`None`: recorded without an account) in `from..to`, reduced to
    /// the last one in each `step` from `from`; never more than [`MAX_EQUITY_POINTS`] points.
    fn equity_curve(
        &mut self,
        account: Option<AccountId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> Result<EquityCurve>;
}

/// Splits `limit + 1` rows read into a page and its next cursor.
fn paged<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(&key);
        Page { items, next }
    } else {
        Page { items, next: None }
    }
}

/// `(time, id) < cursor` for a descending page: a filter on a boxed query.
macro_rules! before_cursor {
    ($q:expr, $time:expr, $id:expr, $after:expr) => {
        match $after {
            // `time <= t` repeats what the OR implies so that PostgreSQL's planner can start
            // the index scan at the cursor (it does not derive a bound from the OR).
            Some(c) => $q.filter($time.le(DbTime(c.time))).filter(
                $time
                    .lt(DbTime(c.time))
                    .or($time.eq(DbTime(c.time)).and($id.lt(c.id))),
            ),
            None => $q,
        }
    };
}

/// `from <= time < to` on a boxed query.
macro_rules! time_range {
    ($q:expr, $time:expr, $from:expr, $to:expr) => {{
        let mut q = $q;
        if let Some(f) = $from {
            q = q.filter($time.ge(DbTime(f)));
        }
        if let Some(t) = $to {
            q = q.filter($time.lt(DbTime(t)));
        }
        q
    }};
}

impl HistoryRepo for Store {
    fn trades_page(&mut self, f: &TradeFilter, page: PageRequest) -> Result<Page<TradeRecord>> {
        let limit = page.clamped();
        let mut q = trades::table
            .order((trades::entry_time.desc(), trades::id.desc()))
            .limit(limit + 1)
            .into_boxed();
        if let Some(a) = f.account {
            q = q.filter(trades::account_id.eq(a.0));
        }
        if let Some(s) = &f.symbol {
            q = q.filter(trades::symbol.eq(s.clone()));
        }
        if let Some(s) = &f.strategy {
            q = q.filter(trades::strategy.eq(s.clone()));
        }
        if let Some(s) = f.status {
            q = q.filter(trades::status.eq(s.as_str()));
        }
        let q = time_range!(q, trades::entry_time, f.from, f.to);
        let q = before_cursor!(q, trades::entry_time, trades::id, page.after);
        let rows: Vec<super::trades::Row> =
            q.load(&mut self.conn).context("reading a page of trades")?;
        let items = rows
            .into_iter()
            .map(super::trades::Row::into_record)
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, limit, |t| Cursor::new(t.entry_time, t.id)))
    }

    fn trade_detail(&mut self, id: i64) -> Result<Option<TradeDetail>> {
        let row: Option<super::trades::Row> = trades::table
            .filter(trades::id.eq(id))
            .first(&mut self.conn)
            .optional()
            .context("reading a trade")?;
        let Some(trade) = row.map(super::trades::Row::into_record).transpose()? else {
            return Ok(None);
        };
        let signal = self.opening_signal(&trade)?;
        let position = to_i64(trade.ticket.0, "trades", "ticket")?;
        let mut q = orders::table
            .filter(orders::position_ticket.eq(position))
            .order((orders::created_at, orders::id))
            .into_boxed();
        q = match trade.account {
            Some(a) => q.filter(orders::account_id.eq(a.0)),
            None => q.filter(orders::account_id.is_null()),
        };
        let rows: Vec<super::orders::Row> =
            q.load(&mut self.conn).context("reading a trade's orders")?;
        let mut orders = Vec::with_capacity(rows.len());
        for row in rows {
            let order = row.into_record()?;
            let transitions = self.transitions(order.account, &order.request.client_order_id)?;
            orders.push(OrderWithTransitions { order, transitions });
        }
        Ok(Some(TradeDetail {
            trade,
            signal,
            orders,
        }))
    }

    fn order_detail(&mut self, id: i64) -> Result<Option<OrderWithTransitions>> {
        let row: Option<super::orders::Row> = orders::table
            .filter(orders::id.eq(id))
            .first(&mut self.conn)
            .optional()
            .context("reading an order")?;
        let Some(order) = row.map(super::orders::Row::into_record).transpose()? else {
            return Ok(None);
        };
        let transitions = self.transitions(order.account, &order.request.client_order_id)?;
        Ok(Some(OrderWithTransitions { order, transitions }))
    }

    fn signals_page(&mut self, f: &SignalFilter, page: PageRequest) -> Result<Page<SignalRecord>> {
        let limit = page.clamped();
        let mut q = signals::table
            .order((signals::time.desc(), signals::id.desc()))
            .limit(limit + 1)
            .into_boxed();
        if let Some(a) = f.account {
            q = q.filter(signals::account_id.eq(a.0));
        }
        if let Some(s) = &f.symbol {
            q = q.filter(signals::symbol.eq(s.clone()));
        }
        if let Some(s) = &f.strategy {
            q = q.filter(signals::strategy.eq(s.clone()));
        }
        if let Some(e) = f.executed {
            q = q.filter(signals::executed.eq(e));
        }
        let q = time_range!(q, signals::time, f.from, f.to);
        let q = before_cursor!(q, signals::time, signals::id, page.after);
        let rows: Vec<super::signals::Row> = q
            .load(&mut self.conn)
            .context("reading a page of signals")?;
        let items = rows
            .into_iter()
            .map(super::signals::Row::into_record)
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, limit, |s| Cursor::new(s.signal.time, s.id)))
    }

    fn orders_page(&mut self, f: &OrderFilter, page: PageRequest) -> Result<Page<OrderRecord>> {
        let limit = page.clamped();
        let mut q = orders::table
            .order((orders::created_at.desc(), orders::id.desc()))
            .limit(limit + 1)
            .into_boxed();
        if let Some(a) = f.account {
            q = q.filter(orders::account_id.eq(a.0));
        }
        if let Some(s) = &f.symbol {
            q = q.filter(orders::symbol.eq(s.clone()));
        }
        if let Some(s) = f.state {
            q = q.filter(orders::state.eq(s.as_str()));
        }
        let q = time_range!(q, orders::created_at, f.from, f.to);
        let q = before_cursor!(q, orders::created_at, orders::id, page.after);
        let rows: Vec<super::orders::Row> =
            q.load(&mut self.conn).context("reading a page of orders")?;
        let items = rows
            .into_iter()
            .map(super::orders::Row::into_record)
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(items, limit, |o| Cursor::new(o.created_at, o.id)))
    }

    fn events_page(
        &mut self,
        f: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEventRecord>> {
        let limit = page.clamped();
        let mut q = events::table
            .order((events::time.desc(), events::id.desc()))
            .limit(limit + 1)
            .into_boxed();
        if let Some(a) = f.account {
            q = q.filter(events::account_id.eq(a.0));
        }
        if let Some(k) = &f.kind {
            q = q.filter(events::kind.eq(k.clone()));
        }
        let q = time_range!(q, events::time, f.from, f.to);
        let q = before_cursor!(q, events::time, events::id, page.after);
        let rows: Vec<EventRow> = q
            .load(&mut self.conn)
            .context("reading a page of the event journal")?;
        let items = rows.into_iter().map(event_record).collect();
        Ok(paged(items, limit, |e: &AuditEventRecord| {
            Cursor::new(e.time, e.id)
        }))
    }

    fn closed_bars(
        &mut self,
        account: Option<AccountId>,
        symbol: &str,
        timeframe: Timeframe,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Bar>> {
        let mut q = events::table
            .filter(events::kind.eq("bar_closed"))
            .filter(events::symbol.eq(symbol.to_string()))
            // The journal's message starts with the timeframe (`M5 bar closed at ...`).
            .filter(events::message.like(format!("{timeframe} bar closed%")))
            .filter(events::time.lt(DbTime(to)))
            .order((events::time.desc(), events::id.desc()))
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(a) = account {
            q = q.filter(events::account_id.eq(a.0));
        }
        let rows: Vec<EventRow> = q.load(&mut self.conn).context("reading closed bars")?;
        let mut bars: BTreeMap<DateTime<Utc>, Bar> = BTreeMap::new();
        for row in rows {
            let e = event_record(row);
            if let Ok(DomainEvent {
                kind:
                    EventKind::BarClosed {
                        bar, timeframe: tf, ..
                    },
                ..
            }) = serde_json::from_str::<DomainEvent>(&e.payload)
                && tf == timeframe
            {
                bars.entry(bar.time).or_insert(bar);
            }
        }
        Ok(bars.into_values().collect())
    }

    fn equity_curve(
        &mut self,
        account: Option<AccountId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> Result<EquityCurve> {
        let step = equity_step(from, to, step);
        let mut q = snaps::table
            .filter(snaps::time.ge(DbTime(from)))
            .filter(snaps::time.lt(DbTime(to)))
            .order((snaps::time, snaps::id))
            .select((
                snaps::time,
                snaps::balance,
                snaps::equity,
                snaps::margin,
                snaps::free_margin,
                snaps::margin_level,
                snaps::leverage,
            ))
            .into_boxed();
        q = match account {
            Some(a) => q.filter(snaps::account_id.eq(a.0)),
            None => q.filter(snaps::account_id.is_null()),
        };
        type Row = (
            DbTime,
            DbDecimal,
            DbDecimal,
            DbDecimal,
            DbDecimal,
            Option<DbDecimal>,
            i32,
        );
        let step_micros = step.num_microseconds().unwrap_or(i64::MAX).max(1);
        let mut points: Vec<SnapshotRecord> = Vec::new();
        let mut last_bucket = None;
        // Streamed: a year of per-second snapshots never sits in memory at once.
        let rows = q
            .load_iter::<Row, DefaultLoadingMode>(&mut self.conn)
            .context("reading account snapshots")?;
        for row in rows {
            let r = row.context("reading account snapshots")?;
            let bucket = (r.0.0 - from).num_microseconds().unwrap_or(i64::MAX) / step_micros;
            let point = SnapshotRecord {
                account,
                time: r.0.0,
                balance: r.1.0,
                equity: r.2.0,
                margin: r.3.0,
                free_margin: r.4.0,
                margin_level: r.5.map(|d| d.0),
                leverage: super::to_u32(r.6, "account_snapshots", "leverage")?,
            };
            if last_bucket == Some(bucket)
                && let Some(last) = points.last_mut()
            {
                *last = point;
            } else {
                points.push(point);
                last_bucket = Some(bucket);
            }
        }
        Ok(EquityCurve { step, points })
    }
}

/// The step asked for, at least one second, widened so that `from..to` holds at most
/// [`MAX_EQUITY_POINTS`] steps.
fn equity_step(from: DateTime<Utc>, to: DateTime<Utc>, step: Duration) -> Duration {
    let span = (to - from).max(Duration::zero());
    let min = Duration::seconds(1);
    let step = step.max(min);
    let widest_needed = span / i32::try_from(MAX_EQUITY_POINTS).unwrap_or(i32::MAX);
    if widest_needed > step {
        // Round up to a whole second so bucket edges stay readable.
        Duration::seconds(widest_needed.num_seconds() + 1)
    } else {
        step
    }
}

impl Store {
    fn opening_signal(&mut self, t: &TradeRecord) -> Result<Option<SignalRecord>> {
        let mut q = signals::table
            .filter(signals::symbol.eq(t.symbol.as_str().to_string()))
            .filter(signals::executed.eq(true))
            .filter(signals::time.le(DbTime(t.entry_time)))
            .order((signals::time.desc(), signals::id.desc()))
            .into_boxed();
        if let Some(s) = &t.strategy {
            q = q.filter(signals::strategy.eq(s.clone()));
        }
        q = match t.account {
            Some(a) => q.filter(signals::account_id.eq(a.0)),
            None => q.filter(signals::account_id.is_null()),
        };
        let row: Option<super::signals::Row> = q
            .first(&mut self.conn)
            .optional()
            .context("reading a trade's signal")?;
        row.map(super::signals::Row::into_record).transpose()
    }
}
