//! The `UPDATE`s the event writer runs for every order answer, stop change and closing deal,
//! written out as fixed statements.
//!
//! diesel never caches the prepared statement of its own `update(..).set(..)` (a changeset may
//! skip `None` fields, so its SQL can vary from one call to the next), which made SQLite parse
//! and plan these statements again for every event. Each type here always produces the same SQL
//! text, so the statement is prepared once per connection. They bind every column they name
//! (`None` is written as `NULL`), exactly as the `.set((col.eq(..), ..))` tuples they replace.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Integer, Nullable, Text};

use crate::types::{DbDecimal, DbTime, Money, UtcTimestamp};

/// A fixed statement is its own query id: its SQL never changes, so diesel may cache it.
macro_rules! fixed_query_id {
    ($t:ident) => {
        impl QueryId for $t<'_> {
            type QueryId = $t<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
    };
}

/// `UPDATE orders SET state, retcode, message, deal_ticket, order_ticket, position_ticket,
/// filled_volume, fill_price, updated_at WHERE client_order_id = ? AND COALESCE(account_id, 0)
/// = ?`: a broker's answer to one account's order (the lookup uses the per-account unique index).
pub(crate) struct OrderOutcomeUpdate<'a> {
    /// [`super::orders::account_key`] of the order's account.
    pub account: i64,
    pub client_order_id: &'a str,
    pub state: &'a str,
    pub retcode: Option<i32>,
    pub message: Option<&'a str>,
    pub deal_ticket: Option<i64>,
    pub order_ticket: Option<i64>,
    pub position_ticket: Option<i64>,
    pub filled_volume: Option<DbDecimal>,
    pub fill_price: Option<DbDecimal>,
    pub updated_at: DbTime,
}
fixed_query_id!(OrderOutcomeUpdate);

impl<DB> QueryFragment<DB> for OrderOutcomeUpdate<'_>
where
    DB: Backend + HasSqlType<Money> + HasSqlType<UtcTimestamp>,
    DbDecimal: ToSql<Money, DB>,
    DbTime: ToSql<UtcTimestamp, DB>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE orders SET state = ");
        out.push_bind_param::<Text, _>(self.state)?;
        out.push_sql(", retcode = ");
        out.push_bind_param::<Nullable<Integer>, _>(&self.retcode)?;
        out.push_sql(", message = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.message)?;
        out.push_sql(", deal_ticket = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.deal_ticket)?;
        out.push_sql(", order_ticket = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.order_ticket)?;
        out.push_sql(", position_ticket = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.position_ticket)?;
        out.push_sql(", filled_volume = ");
        out.push_bind_param::<Nullable<Money>, _>(&self.filled_volume)?;
        out.push_sql(", fill_price = ");
        out.push_bind_param::<Nullable<Money>, _>(&self.fill_price)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<UtcTimestamp, _>(&self.updated_at)?;
        out.push_sql(" WHERE client_order_id = ");
        out.push_bind_param::<Text, _>(self.client_order_id)?;
        out.push_sql(" AND COALESCE(account_id, 0) = ");
        out.push_bind_param::<BigInt, _>(&self.account)?;
        Ok(())
    }
}

/// `UPDATE orders SET state, retcode, message, updated_at WHERE client_order_id = ? AND
/// COALESCE(account_id, 0) = ?`: a refusal.
pub(crate) struct OrderFailureUpdate<'a> {
    /// [`super::orders::account_key`] of the order's account.
    pub account: i64,
    pub client_order_id: &'a str,
    pub state: &'a str,
    pub retcode: Option<i32>,
    pub message: &'a str,
    pub updated_at: DbTime,
}
fixed_query_id!(OrderFailureUpdate);

impl<DB> QueryFragment<DB> for OrderFailureUpdate<'_>
where
    DB: Backend + HasSqlType<Money> + HasSqlType<UtcTimestamp>,
    DbTime: ToSql<UtcTimestamp, DB>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE orders SET state = ");
        out.push_bind_param::<Text, _>(self.state)?;
        out.push_sql(", retcode = ");
        out.push_bind_param::<Nullable<Integer>, _>(&self.retcode)?;
        out.push_sql(", message = ");
        out.push_bind_param::<Text, _>(self.message)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<UtcTimestamp, _>(&self.updated_at)?;
        out.push_sql(" WHERE client_order_id = ");
        out.push_bind_param::<Text, _>(self.client_order_id)?;
        out.push_sql(" AND COALESCE(account_id, 0) = ");
        out.push_bind_param::<BigInt, _>(&self.account)?;
        Ok(())
    }
}

/// `UPDATE trades SET sl, tp` on the trade of `ticket` in one account (`BY_ACCOUNT`) or among
/// trades recorded without one, found and updated in one statement. At most one row changes,
/// as when the trade was read first and updated by id.
pub(crate) struct TradeStopsUpdate<const BY_ACCOUNT: bool> {
    /// Ignored when `BY_ACCOUNT` is false.
    pub account: i64,
    pub ticket: i64,
    pub sl: Option<DbDecimal>,
    pub tp: Option<DbDecimal>,
}

impl<const BY_ACCOUNT: bool> QueryId for TradeStopsUpdate<BY_ACCOUNT> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB, const BY_ACCOUNT: bool> QueryFragment<DB> for TradeStopsUpdate<BY_ACCOUNT>
where
    DB: Backend + HasSqlType<Money> + HasSqlType<UtcTimestamp>,
    DbDecimal: ToSql<Money, DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE trades SET sl = ");
        out.push_bind_param::<Nullable<Money>, _>(&self.sl)?;
        out.push_sql(", tp = ");
        out.push_bind_param::<Nullable<Money>, _>(&self.tp)?;
        out.push_sql(" WHERE id = (SELECT id FROM trades WHERE ticket = ");
        out.push_bind_param::<BigInt, _>(&self.ticket)?;
        if BY_ACCOUNT {
            out.push_sql(" AND account_id = ");
            out.push_bind_param::<BigInt, _>(&self.account)?;
        } else {
            out.push_sql(" AND account_id IS NULL");
        }
        // A literal limit: a bound one would make SQLite re-prepare the statement every time.
        out.push_sql(" LIMIT 1)");
        Ok(())
    }
}

/// `UPDATE trades SET closed_volume, exit_price, exit_time, commission, swap, profit, pips,
/// status WHERE id = ?`: a closing deal applied.
pub(crate) struct TradeCloseUpdate<'a> {
    pub id: i64,
    pub closed_volume: DbDecimal,
    pub exit_price: Option<DbDecimal>,
    pub exit_time: Option<DbTime>,
    pub commission: DbDecimal,
    pub swap: DbDecimal,
    pub profit: DbDecimal,
    pub pips: Option<DbDecimal>,
    pub status: &'a str,
    pub exit_reason: Option<&'a str>,
}
fixed_query_id!(TradeCloseUpdate);

impl<DB> QueryFragment<DB> for TradeCloseUpdate<'_>
where
    DB: Backend + HasSqlType<Money> + HasSqlType<UtcTimestamp>,
    DbDecimal: ToSql<Money, DB>,
    DbTime: ToSql<UtcTimestamp, DB>,
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE trades SET closed_volume = ");
        out.push_bind_param::<Money, _>(&self.closed_volume)?;
        out.push_sql(", exit_price = ");
        out.push_bind_param::<Nullable<Money>, _>(&self.exit_price)?;
        out.push_sql(", exit_time = ");
        out.push_bind_param::<Nullable<UtcTimestamp>, _>(&self.exit_time)?;
        out.push_sql(", commission = ");
        out.push_bind_param::<Money, _>(&self.commission)?;
        out.push_sql(", swap = ");
        out.push_bind_param::<Money, _>(&self.swap)?;
        out.push_sql(", profit = ");
        out.push_bind_param::<Money, _>(&self.profit)?;
        out.push_sql(", pips = ");
        out.push_bind_param::<Nullable<Money>, _>(&self.pips)?;
        out.push_sql(", status = ");
        out.push_bind_param::<Text, _>(self.status)?;
        out.push_sql(", exit_reason = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.exit_reason)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        Ok(())
    }
}
