//! The order intent log: an order is written before it is sent, then updated with the answer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mtq_core::{ClientOrderId, Magic, OrderOutcome, OrderRequest, Retcode, RetcodeClass, Ticket};
use rust_decimal::Decimal;

use super::updates::{OrderFailureUpdate, OrderOutcomeUpdate};
use super::{AccountId, enum_text, parse_enum, parse_text, to_i32, to_i64, to_u32, to_u64};
use crate::conn::on_backend;
use crate::error::QueryContext;
use crate::schema::{order_transitions, orders};
use crate::types::{DbDecimal, DbTime};
use crate::{PersistenceError, Result, Store};

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Written, maybe sent; no answer yet. After a restart these are reconciled with the broker.
    Intent,
    Done,
    DonePartial,
    /// A pending order rests at the broker.
    Placed,
    /// Refused; nothing happened at the broker.
    Failed,
    /// The broker may or may not have executed it: reconcile, never resend.
    Unknown,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intent => "intent",
            Self::Done => "done",
            Self::DonePartial => "done_partial",
            Self::Placed => "placed",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    /// The state from its stable form (`intent`, `done`, `done_partial`, `placed`, `failed`, `unknown`).
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "intent" => Self::Intent,
            "done" => Self::Done,
            "done_partial" => Self::DonePartial,
            "placed" => Self::Placed,
            "failed" => Self::Failed,
            "unknown" => Self::Unknown,
            other => {
                return Err(PersistenceError::Data {
                    table: "orders",
                    column: "state",
                    value: other.to_string(),
                    reason: "not an order state".into(),
                });
            }
        })
    }

    /// The state a broker answer puts an order in; no return code means the answer was lost.
    pub fn from_retcode(retcode: Option<Retcode>) -> Self {
        match retcode.map(Retcode::class) {
            Some(RetcodeClass::Done) => Self::Done,
            Some(RetcodeClass::DonePartial) => Self::DonePartial,
            Some(RetcodeClass::Placed) => Self::Placed,
            Some(RetcodeClass::OutcomeUnknown) | None => Self::Unknown,
            Some(
                RetcodeClass::Rejected
                | RetcodeClass::RetryWithFreshPrice
                | RetcodeClass::RetryLater,
            ) => Self::Failed,
        }
    }
}

/// A stored order with its latest state.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderRecord {
    pub id: i64,
    pub account: Option<AccountId>,
    pub request: OrderRequest,
    pub strategy: Option<String>,
    pub state: OrderState,
    pub retcode: Option<Retcode>,
    pub message: Option<String>,
    pub deal: Option<Ticket>,
    pub order: Option<Ticket>,
    pub position: Option<Ticket>,
    pub filled_volume: Option<Decimal>,
    pub fill_price: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One step in an order's life.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderTransition {
    pub time: DateTime<Utc>,
    pub state: OrderState,
    pub retcode: Option<Retcode>,
    pub message: Option<String>,
}

/// The order intent log.
pub trait OrderRepo {
    /// Writes the intent. Fails if the client order id is already recorded for `account`:
    /// client order ids are unique per account, so two accounts may each have the same one.
    /// Every other method finds an order by its account and its id.
    fn record_intent(
        &mut self,
        account: Option<AccountId>,
        request: &OrderRequest,
        strategy: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// Records the broker's answer; `false` when no intent with this id exists.
    fn record_outcome(
        &mut self,
        account: Option<AccountId>,
        id: &ClientOrderId,
        outcome: &OrderOutcome,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Records a failure; `false` when no intent with this id exists.
    fn record_failure(
        &mut self,
        account: Option<AccountId>,
        id: &ClientOrderId,
        retcode: Option<Retcode>,
        message: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let state = OrderState::from_retcode(retcode);
        self.record_state(account, id, state, retcode, message, at)
    }
    /// Moves an order to `state` with a reason (MTQ gave up before sending; reconciliation
    /// found no trace of it); `false` when no intent with this id exists.
    fn record_state(
        &mut self,
        account: Option<AccountId>,
        id: &ClientOrderId,
        state: OrderState,
        retcode: Option<Retcode>,
        message: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// The order `id` of `account` (`None`: an order recorded without an account).
    fn order(
        &mut self,
        account: Option<AccountId>,
        id: &ClientOrderId,
    ) -> Result<Option<OrderRecord>>;
    /// Orders in `state`, oldest first: `Intent` and `Unknown` are what reconciliation looks at.
    fn orders_in_state(
        &mut self,
        account: Option<AccountId>,
        state: OrderState,
    ) -> Result<Vec<OrderRecord>>;
    fn transitions(
        &mut self,
        account: Option<AccountId>,
        id: &ClientOrderId,
    ) -> Result<Vec<OrderTransition>>;
    /// The states of the account's last `limit` orders, newest first (by creation time).
    fn latest_order_states(
        &mut self,
        account: Option<AccountId>,
        limit: usize,
    ) -> Result<Vec<OrderState>>;
}

#[derive(Queryable)]
pub(crate) struct Row {
    id: i64,
    account_id: Option<i64>,
    client_order_id: String,
    symbol: String,
    side: String,
    kind: String,
    volume: DbDecimal,
    price: Option<DbDecimal>,
    stop_limit: Option<DbDecimal>,
    sl: Option<DbDecimal>,
    tp: Option<DbDecimal>,
    deviation: i32,
    magic: i64,
    comment: String,
    filling: String,
    expiration: Option<DbTime>,
    strategy: Option<String>,
    state: String,
    retcode: Option<i32>,
    message: Option<String>,
    deal_ticket: Option<i64>,
    order_ticket: Option<i64>,
    position_ticket: Option<i64>,
    filled_volume: Option<DbDecimal>,
    fill_price: Option<DbDecimal>,
    created_at: DbTime,
    updated_at: DbTime,
}

const T: &str = "orders";

fn ticket(v: Option<i64>, column: &'static str) -> Result<Option<Ticket>> {
    v.map(|t| to_u64(t, T, column).map(Ticket)).transpose()
}

fn retcode(v: Option<i32>) -> Result<Option<Retcode>> {
    v.map(|c| to_u32(c, T, "retcode").map(Retcode::from_code))
        .transpose()
}

impl Row {
    pub(crate) fn into_record(self) -> Result<OrderRecord> {
        let client_order_id =
            ClientOrderId::new(&self.client_order_id).map_err(|e| PersistenceError::Data {
                table: T,
                column: "client_order_id",
                value: self.client_order_id.clone(),
                reason: e.to_string(),
            })?;
        Ok(OrderRecord {
            id: self.id,
            account: self.account_id.map(AccountId),
            request: OrderRequest {
                client_order_id,
                symbol: parse_text(&self.symbol, T, "symbol")?,
                side: parse_enum(&self.side, T, "side")?,
                kind: parse_enum(&self.kind, T, "kind")?,
                volume: self.volume.0,
                price: self.price.map(|d| d.0),
                stop_limit: self.stop_limit.map(|d| d.0),
                sl: self.sl.map(|d| d.0),
                tp: self.tp.map(|d| d.0),
                deviation: to_u32(self.deviation, T, "deviation")?,
                magic: Magic(to_u64(self.magic, T, "magic")?),
                comment: self.comment,
                filling: parse_enum(&self.filling, T, "filling")?,
                expiration: self.expiration.map(|t| t.0),
            },
            strategy: self.strategy,
            state: OrderState::parse(&self.state)?,
            retcode: retcode(self.retcode)?,
            message: self.message,
            deal: ticket(self.deal_ticket, "deal_ticket")?,
            order: ticket(self.order_ticket, "order_ticket")?,
            position: ticket(self.position_ticket, "position_ticket")?,
            filled_volume: self.filled_volume.map(|d| d.0),
            fill_price: self.fill_price.map(|d| d.0),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

fn opt_ticket(t: Option<Ticket>, column: &'static str) -> Result<Option<i64>> {
    t.map(|t| to_i64(t.0, T, column)).transpose()
}

/// The value an order's account has in the `COALESCE(account_id, 0)` lookups: row ids start at
/// 1, so 0 stands for "recorded without an account" in one fixed statement.
pub(crate) fn account_key(account: Option<AccountId>) -> i64 {
    account.map_or(0, |a| a.0)
}

fn push_transition(
    s: &mut Store,
    account: Option<AccountId>,
    id: &ClientOrderId,
    at: DateTime<Utc>,
    state: OrderState,
    retcode: Option<i32>,
    message: Option<&str>,
) -> Result<()> {
    let insert = diesel::insert_into(order_transitions::table).values((
        order_transitions::account_id.eq(account.map(|a| a.0)),
        order_transitions::client_order_id.eq(id.as_str()),
        order_transitions::time.eq(DbTime(at)),
        order_transitions::state.eq(state.as_str()),
        order_transitions::retcode.eq(retcode),
        order_transitions::message.eq(message),
    ));
    on_backend!(&mut s.conn, |c| insert.execute(c)).context("recording an order transition")?;
    Ok(())
}

impl OrderRepo for Store {
    fn record_intent(
        &mut self,
        account: Option<AccountId>,
        r: &OrderRequest,
        strategy: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let magic = to_i64(r.magic.0, T, "magic")?;
        let deviation = to_i32(r.deviation, T, "deviation")?;
        let insert = diesel::insert_into(orders::table).values((
            (
                orders::account_id.eq(account.map(|a| a.0)),
                orders::client_order_id.eq(r.client_order_id.as_str()),
                orders::symbol.eq(r.symbol.as_str()),
                orders::side.eq(enum_text(&r.side)),
                orders::kind.eq(enum_text(&r.kind)),
                orders::volume.eq(DbDecimal(r.volume)),
                orders::price.eq(r.price.map(DbDecimal)),
                orders::stop_limit.eq(r.stop_limit.map(DbDecimal)),
                orders::sl.eq(r.sl.map(DbDecimal)),
                orders::tp.eq(r.tp.map(DbDecimal)),
            ),
            (
                orders::deviation.eq(deviation),
                orders::magic.eq(magic),
                orders::comment.eq(&r.comment),
                orders::filling.eq(enum_text(&r.filling)),
                orders::expiration.eq(r.expiration.map(DbTime)),
                orders::strategy.eq(strategy),
                orders::state.eq(OrderState::Intent.as_str()),
                orders::created_at.eq(DbTime(at)),
                orders::updated_at.eq(DbTime(at)),
            ),
        ));
        on_backend!(&mut self.conn, |c| insert.execute(c)).context("recording an order intent")?;
        push_transition(
            self,
            account,
            &r.client_order_id,
            at,
            OrderState::Intent,
            None,
            None,
        )
    }

    fn record_outcome(
        &mut self,
        account: Option<AccountId>,
        id: &ClientOrderId,
        o: &OrderOutcome,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let state = OrderState::from_retcode(Some(o.retcode));
        let code = to_i32(o.retcode.code(), T, "retcode")?;
        let update = OrderOutcomeUpdate {
            account: account_key(account),
            client_order_id: id.as_str(),
            state: state.as_str(),
            retcode: Some(code),
            message: Some(&o.comment),
            deal_ticket: opt_ticket(o.deal, "deal_ticket")?,
            order_ticket: opt_ticket(o.order, "order_ticket")?,
            position_ticket: opt_ticket(o.position, "position_ticket")?,
            filled_volume: Some(DbDecimal(o.volume)),
            fill_price: Some(DbDecimal(o.price)),
            updated_at: DbTime(at),
        };
        let n = on_backend!(&mut self.conn, |c| c.execute_returning_count(&update))
            .context("recording an order outcome")?;
        if n == 0 {
            return Ok(false);
        }
        push_transition(self, account, id, at, state, Some(code), Some(&o.comment))?;
        Ok(true)
    }

    fn record_state(
        &mut self,
        account: Option<AccountId>,
        id: &ClientOrderId,
        state: OrderState,
        rc: Option<Retcode>,
        message: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let code = rc.map(|r| to_i32(r.code(), T, "retcode")).transpose()?;
        let update = OrderFailureUpdate {
            account: account_key(account),
            client_order_id: id.as_str(),
            state: state.as_str(),
            retcode: code,
            message,
            updated_at: DbTime(at),
        };
        let n = on_backend!(&mut self.conn, |c| c.execute_returning_count(&update))
            .context("recording an order failure")?;
        if n == 0 {
            return Ok(false);
        }
        push_transition(self, account, id, at, state, code, Some(message))?;
        Ok(true)
    }

    fn order(
        &mut self,
        account: Option<AccountId>,
        id: &ClientOrderId,
    ) -> Result<Option<OrderRecord>> {
        let mut q = orders::table
            .filter(orders::client_order_id.eq(id.as_str()))
            .into_boxed();
        q = match account {
            Some(a) => q.filter(orders::account_id.eq(a.0)),
            None => q.filter(orders::account_id.is_null()),
        };
        let row: Option<Row> = q
            .first(&mut self.conn)
            .optional()
            .context("reading an order")?;
        row.map(Row::into_record).transpose()
    }

    fn orders_in_state(
        &mut self,
        account: Option<AccountId>,
        state: OrderState,
    ) -> Result<Vec<OrderRecord>> {
        let mut q = orders::table
            .filter(orders::state.eq(state.as_str()))
            .order((orders::created_at, orders::id))
            .into_boxed();
        if let Some(a) = account {
            q = q.filter(orders::account_id.eq(a.0));
        }
        let rows: Vec<Row> = q.load(&mut self.conn).context("listing orders by state")?;
        rows.into_iter().map(Row::into_record).collect()
    }

    fn latest_order_states(
        &mut self,
        account: Option<AccountId>,
        limit: usize,
    ) -> Result<Vec<OrderState>> {
        let mut q = orders::table
            .select(orders::state)
            .order((orders::created_at.desc(), orders::id.desc()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .into_boxed();
        q = match account {
            Some(a) => q.filter(orders::account_id.eq(a.0)),
            None => q.filter(orders::account_id.is_null()),
        };
        let states: Vec<String> = q
            .load(&mut self.conn)
            .context("reading the latest order states")?;
        states.iter().map(|s| OrderState::parse(s)).collect()
    }

    fn transitions(
        &mut self,
        account: Option<AccountId>,
        id: &ClientOrderId,
    ) -> Result<Vec<OrderTransition>> {
        let mut q = order_transitions::table
            .filter(order_transitions::client_order_id.eq(id.as_str()))
            .into_boxed();
        q = match account {
            Some(a) => q.filter(order_transitions::account_id.eq(a.0)),
            None => q.filter(order_transitions::account_id.is_null()),
        };
        let rows: Vec<(DbTime, String, Option<i32>, Option<String>)> = q
            .order((order_transitions::time, order_transitions::id))
            .select((
                order_transitions::time,
                order_transitions::state,
                order_transitions::retcode,
                order_transitions::message,
            ))
            .load(&mut self.conn)
            .context("reading order transitions")?;
        rows.into_iter()
            .map(|(time, state, rc, message)| {
                Ok(OrderTransition {
                    time: time.0,
                    state: OrderState::parse(&state)?,
                    retcode: retcode(rc)?,
                    message,
                })
            })
            .collect()
    }
}
