//! Trades: one row per position, from entry to exit. Partial closes accumulate into it.

use chrono::{DateTime, Utc};
use diesel::connection::DefaultLoadingMode;
use diesel::prelude::*;
use mtq_core::{Deal, DealEntry, ExitReason, Magic, Position, Side, Symbol, Ticket};
use rust_decimal::Decimal;

use super::updates::{TradeCloseUpdate, TradeStopsUpdate};
use super::{AccountId, enum_text, parse_enum, parse_text, to_i64, to_u64};
use crate::conn::{first_row, on_backend};
use crate::error::QueryContext;
use crate::schema::trades;
use crate::types::{DbDecimal, DbTime};
use crate::{AnyConnection, Result, Store};

/// Whether a position is still open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TradeStatus {
    Open,
    Closed,
}

impl TradeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// A stored trade. Money is in the account currency.
#[derive(Clone, Debug, PartialEq)]
pub struct TradeRecord {
    pub id: i64,
    pub account: Option<AccountId>,
    /// The position ticket.
    pub ticket: Ticket,
    pub symbol: Symbol,
    pub side: Side,
    pub volume: Decimal,
    pub closed_volume: Decimal,
    pub entry_price: Decimal,
    pub entry_time: DateTime<Utc>,
    /// Volume-weighted over partial closes.
    pub exit_price: Option<Decimal>,
    /// Time of the last closing deal.
    pub exit_time: Option<DateTime<Utc>>,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    pub commission: Decimal,
    pub swap: Decimal,
    /// Gross profit, before commission and swap.
    pub profit: Decimal,
    pub pips: Option<Decimal>,
    pub strategy: Option<String>,
    pub magic: Magic,
    pub comment: String,
    pub status: TradeStatus,
    /// Why the trade ended, once closed. While it is open: the reason MTQ already knows for
    /// its exit (a stop moved to breakeven or trailed, a close it sent), which the closing deal
    /// completes ([`ExitReason::at_close`]).
    pub exit_reason: Option<ExitReason>,
}

impl TradeRecord {
    /// What the trade added to the balance: profit plus commission plus swap (both usually negative).
    pub fn net_profit(&self) -> Decimal {
        self.profit + self.commission + self.swap
    }
}

/// Trades, as the trader, the API and the aggregator see them.
///
/// `account`: the single-trade methods and [`open_trades`](TradeRepo::open_trades) look in that
/// account (`None`: trades recorded without an account); the range queries
/// ([`closed_trades`](TradeRepo::closed_trades), [`closed_trade_span`](TradeRepo::closed_trade_span))
/// read every account when it is `None`.
pub trait TradeRepo {
    /// Records a newly opened position.
    fn open_trade(
        &mut self,
        account: Option<AccountId>,
        position: &Position,
        strategy: Option<&str>,
    ) -> Result<()>;
    /// Notes why MTQ closes (or may close, at a moved stop) an open trade; `false` when no open
    /// trade has this ticket.
    fn set_exit_reason(
        &mut self,
        account: Option<AccountId>,
        ticket: Ticket,
        reason: ExitReason,
    ) -> Result<bool>;
    /// Updates stops; `false` when the trade is unknown.
    fn modify_stops(
        &mut self,
        account: Option<AccountId>,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<bool>;
    /// Applies a deal of the trade's position: a closing deal (full or partial; `pip_size` fills
    /// in the pips when known) or an entry deal, which adds its commission. `false` when the
    /// deal's position is not a recorded trade.
    fn apply_close(
        &mut self,
        account: Option<AccountId>,
        deal: &Deal,
        pip_size: Option<Decimal>,
    ) -> Result<bool>;
    fn trade(&mut self, account: Option<AccountId>, ticket: Ticket) -> Result<Option<TradeRecord>>;
    fn open_trades(&mut self, account: Option<AccountId>) -> Result<Vec<TradeRecord>>;
    /// Closed trades with exit time in `from..to`, by exit time; all accounts when `None`.
    fn closed_trades(
        &mut self,
        account: Option<AccountId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<TradeRecord>>;
    /// The first and last exit times of closed trades, if any.
    fn closed_trade_span(
        &mut self,
        account: Option<AccountId>,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>>;
}

const T: &str = "trades";

#[derive(Queryable)]
pub(crate) struct Row {
    id: i64,
    account_id: Option<i64>,
    ticket: i64,
    symbol: String,
    side: String,
    volume: DbDecimal,
    closed_volume: DbDecimal,
    entry_price: DbDecimal,
    entry_time: DbTime,
    exit_price: Option<DbDecimal>,
    exit_time: Option<DbTime>,
    sl: Option<DbDecimal>,
    tp: Option<DbDecimal>,
    commission: DbDecimal,
    swap: DbDecimal,
    profit: DbDecimal,
    pips: Option<DbDecimal>,
    strategy: Option<String>,
    magic: i64,
    comment: String,
    status: String,
    exit_reason: Option<String>,
}

impl Row {
    pub(crate) fn into_record(self) -> Result<TradeRecord> {
        Ok(TradeRecord {
            id: self.id,
            account: self.account_id.map(AccountId),
            ticket: Ticket(to_u64(self.ticket, T, "ticket")?),
            symbol: parse_text(&self.symbol, T, "symbol")?,
            side: parse_enum(&self.side, T, "side")?,
            volume: self.volume.0,
            closed_volume: self.closed_volume.0,
            entry_price: self.entry_price.0,
            entry_time: self.entry_time.0,
            exit_price: self.exit_price.map(|d| d.0),
            exit_time: self.exit_time.map(|t| t.0),
            sl: self.sl.map(|d| d.0),
            tp: self.tp.map(|d| d.0),
            commission: self.commission.0,
            swap: self.swap.0,
            profit: self.profit.0,
            pips: self.pips.map(|d| d.0),
            strategy: self.strategy,
            magic: Magic(to_u64(self.magic, T, "magic")?),
            comment: self.comment,
            status: if self.status == "open" {
                TradeStatus::Open
            } else {
                TradeStatus::Closed
            },
            exit_reason: self
                .exit_reason
                .map(|r| {
                    r.parse().map_err(|reason| crate::PersistenceError::Data {
                        table: T,
                        column: "exit_reason",
                        value: r.clone(),
                        reason,
                    })
                })
                .transpose()?,
        })
    }
}

/// A closing deal (full or partial) applied to a trade: the exit price is volume-weighted over
/// the closes, commission, swap and profit accumulate, and the trade is closed once the closed
/// volume reaches its volume. `pip_size` fills in the pips when known. An entry deal only adds
/// its commission (and any swap or profit it carries): volume, prices and status stay.
pub(crate) fn apply_deal(t: &mut TradeRecord, deal: &Deal, pip_size: Option<Decimal>) {
    if deal.entry == DealEntry::In {
        t.commission += deal.commission;
        t.swap += deal.swap;
        t.profit += deal.profit;
        return;
    }
    t.exit_reason = Some(ExitReason::at_close(deal.reason, t.exit_reason));
    let closed = t.closed_volume + deal.volume;
    let exit_price = match t.exit_price {
        Some(prev) if !closed.is_zero() => {
            (prev * t.closed_volume + deal.price * deal.volume) / closed
        }
        _ => deal.price,
    };
    let sign = Decimal::from(t.side.sign());
    t.pips = pip_size
        .filter(|p| !p.is_zero())
        .map(|p| (sign * (exit_price - t.entry_price) / p).round_dp(1));
    t.status = if closed >= t.volume {
        TradeStatus::Closed
    } else {
        TradeStatus::Open
    };
    t.closed_volume = closed;
    t.exit_price = Some(exit_price);
    t.exit_time = Some(deal.time);
    t.commission += deal.commission;
    t.swap += deal.swap;
    t.profit += deal.profit;
}

/// The trade a newly opened position starts, as [`TradeRepo::open_trade`] records it (`id` is 0:
/// the database assigns it on insert).
pub(crate) fn opened_trade(
    account: Option<AccountId>,
    p: &Position,
    strategy: Option<&str>,
) -> TradeRecord {
    TradeRecord {
        id: 0,
        account,
        ticket: p.ticket,
        symbol: p.symbol.clone(),
        side: p.side,
        volume: p.volume,
        closed_volume: Decimal::ZERO,
        entry_price: p.open_price,
        entry_time: p.open_time,
        exit_price: None,
        exit_time: None,
        sl: p.sl,
        tp: p.tp,
        commission: Decimal::ZERO,
        swap: p.swap,
        profit: Decimal::ZERO,
        pips: None,
        strategy: strategy.map(str::to_string),
        magic: p.magic,
        comment: p.comment.clone(),
        status: TradeStatus::Open,
        exit_reason: None,
    }
}

/// Replaces each money value of `t` by what the database returns for it (`stored`), so that
/// arithmetic on a trade held in memory matches arithmetic on the trade read back.
pub(crate) fn as_read_back(t: &mut TradeRecord, stored: impl Fn(Decimal) -> Decimal) {
    for d in [
        &mut t.volume,
        &mut t.closed_volume,
        &mut t.entry_price,
        &mut t.commission,
        &mut t.swap,
        &mut t.profit,
    ] {
        *d = stored(*d);
    }
    for d in [&mut t.exit_price, &mut t.sl, &mut t.tp, &mut t.pips]
        .into_iter()
        .flatten()
    {
        *d = stored(*d);
    }
}

/// Inserts a whole trade row (every column bound, `None` as `NULL`): the event writer's trades
/// opened, and maybe modified and closed, within one batch.
pub(crate) fn insert_trade(conn: &mut AnyConnection, t: &TradeRecord) -> Result<()> {
    let insert = diesel::insert_into(trades::table).values((
        (
            trades::account_id.eq(t.account.map(|a| a.0)),
            trades::ticket.eq(to_i64(t.ticket.0, T, "ticket")?),
            trades::symbol.eq(t.symbol.as_str()),
            trades::side.eq(enum_text(&t.side)),
            trades::volume.eq(DbDecimal(t.volume)),
            trades::closed_volume.eq(DbDecimal(t.closed_volume)),
            trades::entry_price.eq(DbDecimal(t.entry_price)),
            trades::entry_time.eq(DbTime(t.entry_time)),
            trades::exit_price.eq(t.exit_price.map(DbDecimal)),
            trades::exit_time.eq(t.exit_time.map(DbTime)),
            trades::sl.eq(t.sl.map(DbDecimal)),
        ),
        (
            trades::tp.eq(t.tp.map(DbDecimal)),
            trades::commission.eq(DbDecimal(t.commission)),
            trades::swap.eq(DbDecimal(t.swap)),
            trades::profit.eq(DbDecimal(t.profit)),
            trades::pips.eq(t.pips.map(DbDecimal)),
            trades::strategy.eq(t.strategy.as_deref()),
            trades::magic.eq(to_i64(t.magic.0, T, "magic")?),
            trades::comment.eq(&t.comment),
            trades::status.eq(t.status.as_str()),
            trades::exit_reason.eq(t.exit_reason.map(ExitReason::as_str)),
        ),
    ));
    on_backend!(conn, |c| insert.execute(c)).context("recording a trade")?;
    Ok(())
}

/// Whether a trade with `ticket` is recorded in `account` (`None`: without an account).
pub(crate) fn trade_exists(
    conn: &mut AnyConnection,
    account: Option<AccountId>,
    ticket: Ticket,
) -> Result<bool> {
    let by_ticket = trades::table
        .filter(trades::ticket.eq(to_i64(ticket.0, T, "ticket")?))
        .select(trades::id);
    match account {
        Some(a) => {
            let q = by_ticket.filter(trades::account_id.eq(a.0));
            on_backend!(conn, |c| first_row(
                q.load_iter::<i64, DefaultLoadingMode>(c)
            ))
        }
        None => {
            let q = by_ticket.filter(trades::account_id.is_null());
            on_backend!(conn, |c| first_row(
                q.load_iter::<i64, DefaultLoadingMode>(c)
            ))
        }
    }
    .map(|id| id.is_some())
    .context("looking for a trade")
}

type Boxed<'a> = trades::BoxedQuery<'a, crate::conn::MultiBackend>;

fn for_account<'a>(q: Boxed<'a>, account: Option<AccountId>) -> Boxed<'a> {
    match account {
        Some(a) => q.filter(trades::account_id.eq(a.0)),
        None => q.filter(trades::account_id.is_null()),
    }
}

impl TradeRepo for Store {
    fn open_trade(
        &mut self,
        account: Option<AccountId>,
        p: &Position,
        strategy: Option<&str>,
    ) -> Result<()> {
        let insert = diesel::insert_into(trades::table).values((
            (
                trades::account_id.eq(account.map(|a| a.0)),
                trades::ticket.eq(to_i64(p.ticket.0, T, "ticket")?),
                trades::symbol.eq(p.symbol.as_str()),
                trades::side.eq(enum_text(&p.side)),
                trades::volume.eq(DbDecimal(p.volume)),
                trades::closed_volume.eq(DbDecimal(Decimal::ZERO)),
                trades::entry_price.eq(DbDecimal(p.open_price)),
                trades::entry_time.eq(DbTime(p.open_time)),
                trades::sl.eq(p.sl.map(DbDecimal)),
                trades::tp.eq(p.tp.map(DbDecimal)),
            ),
            (
                trades::commission.eq(DbDecimal(Decimal::ZERO)),
                trades::swap.eq(DbDecimal(p.swap)),
                trades::profit.eq(DbDecimal(Decimal::ZERO)),
                trades::strategy.eq(strategy),
                trades::magic.eq(to_i64(p.magic.0, T, "magic")?),
                trades::comment.eq(&p.comment),
                trades::status.eq(TradeStatus::Open.as_str()),
            ),
        ));
        on_backend!(&mut self.conn, |c| insert.execute(c)).context("recording an opened trade")?;
        Ok(())
    }

    fn set_exit_reason(
        &mut self,
        account: Option<AccountId>,
        ticket: Ticket,
        reason: ExitReason,
    ) -> Result<bool> {
        let ticket = to_i64(ticket.0, T, "ticket")?;
        let open = trades::ticket
            .eq(ticket)
            .and(trades::status.eq(TradeStatus::Open.as_str()));
        let n = match account {
            Some(a) => diesel::update(trades::table.filter(open.and(trades::account_id.eq(a.0))))
                .set(trades::exit_reason.eq(reason.as_str()))
                .execute(&mut self.conn),
            None => diesel::update(trades::table.filter(open.and(trades::account_id.is_null())))
                .set(trades::exit_reason.eq(reason.as_str()))
                .execute(&mut self.conn),
        }
        .context("recording a trade's exit reason")?;
        Ok(n > 0)
    }

    fn modify_stops(
        &mut self,
        account: Option<AccountId>,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<bool> {
        let ticket = to_i64(ticket.0, T, "ticket")?;
        let (sl, tp) = (sl.map(DbDecimal), tp.map(DbDecimal));
        let n = match account {
            Some(a) => {
                let update = TradeStopsUpdate::<true> {
                    account: a.0,
                    ticket,
                    sl,
                    tp,
                };
                on_backend!(&mut self.conn, |c| c.execute_returning_count(&update))
            }
            None => {
                let update = TradeStopsUpdate::<false> {
                    account: 0,
                    ticket,
                    sl,
                    tp,
                };
                on_backend!(&mut self.conn, |c| c.execute_returning_count(&update))
            }
        }
        .context("updating a trade's stops")?;
        Ok(n > 0)
    }

    fn apply_close(
        &mut self,
        account: Option<AccountId>,
        deal: &Deal,
        pip_size: Option<Decimal>,
    ) -> Result<bool> {
        let Some(position) = deal.position else {
            return Ok(false);
        };
        let Some(mut t) = self.trade(account, position)? else {
            return Ok(false);
        };
        apply_deal(&mut t, deal, pip_size);
        let update = TradeCloseUpdate {
            id: t.id,
            closed_volume: DbDecimal(t.closed_volume),
            exit_price: t.exit_price.map(DbDecimal),
            exit_time: t.exit_time.map(DbTime),
            commission: DbDecimal(t.commission),
            swap: DbDecimal(t.swap),
            profit: DbDecimal(t.profit),
            pips: t.pips.map(DbDecimal),
            status: t.status.as_str(),
            exit_reason: t.exit_reason.map(ExitReason::as_str),
        };
        on_backend!(&mut self.conn, |c| c.execute_returning_count(&update))
            .context("recording a closing deal")?;
        Ok(true)
    }

    fn trade(&mut self, account: Option<AccountId>, ticket: Ticket) -> Result<Option<TradeRecord>> {
        // The event writer reads a trade for every stop change and closing deal, so this is one
        // fixed statement per case (no boxed query) that diesel's prepared statement cache keeps,
        // and it takes the first row itself: a bound `LIMIT ?` (what `.first()` sends) makes
        // SQLite re-prepare the statement at every execution.
        let by_ticket = trades::table.filter(trades::ticket.eq(to_i64(ticket.0, T, "ticket")?));
        let row: Option<Row> = match account {
            Some(a) => {
                let q = by_ticket.filter(trades::account_id.eq(a.0));
                on_backend!(&mut self.conn, |c| first_row(
                    q.load_iter::<Row, DefaultLoadingMode>(c)
                ))
            }
            None => {
                let q = by_ticket.filter(trades::account_id.is_null());
                on_backend!(&mut self.conn, |c| first_row(
                    q.load_iter::<Row, DefaultLoadingMode>(c)
                ))
            }
        }
        .context("reading a trade")?;
        row.map(Row::into_record).transpose()
    }

    fn open_trades(&mut self, account: Option<AccountId>) -> Result<Vec<TradeRecord>> {
        let q = trades::table
            .filter(trades::status.eq(TradeStatus::Open.as_str()))
            .order((trades::entry_time, trades::id))
            .into_boxed();
        let rows: Vec<Row> = for_account(q, account)
            .load(&mut self.conn)
            .context("listing open trades")?;
        rows.into_iter().map(Row::into_record).collect()
    }

    fn closed_trades(
        &mut self,
        account: Option<AccountId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<TradeRecord>> {
        let mut q = trades::table
            .filter(trades::status.eq(TradeStatus::Closed.as_str()))
            .filter(trades::exit_time.ge(DbTime(from)))
            .filter(trades::exit_time.lt(DbTime(to)))
            .order((trades::exit_time, trades::id))
            .into_boxed();
        if let Some(a) = account {
            q = q.filter(trades::account_id.eq(a.0));
        }
        let rows: Vec<Row> = q.load(&mut self.conn).context("listing closed trades")?;
        rows.into_iter().map(Row::into_record).collect()
    }

    fn closed_trade_span(
        &mut self,
        account: Option<AccountId>,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        let base = || {
            let mut q = trades::table
                .filter(trades::status.eq(TradeStatus::Closed.as_str()))
                .select(trades::exit_time)
                .into_boxed();
            if let Some(a) = account {
                q = q.filter(trades::account_id.eq(a.0));
            }
            q
        };
        let first: Option<Option<DbTime>> = base()
            .order(trades::exit_time.asc())
            .first(&mut self.conn)
            .optional()
            .context("finding the first closed trade")?;
        let last: Option<Option<DbTime>> = base()
            .order(trades::exit_time.desc())
            .first(&mut self.conn)
            .optional()
            .context("finding the last closed trade")?;
        Ok(match (first.flatten(), last.flatten()) {
            (Some(a), Some(b)) => Some((a.0, b.0)),
            _ => None,
        })
    }
}
