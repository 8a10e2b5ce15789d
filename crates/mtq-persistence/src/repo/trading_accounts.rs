//! The accounts a configuration names (`trading_accounts`), each with its current connection
//! state, and every change of that state (`account_connection_states`). Never a password.
//!
//! A trading account is the operator's name for one broker link (`prop-challenge`); the broker
//! account it trades (`accounts`: broker, server, login) is linked once the broker has said
//! which login it is. A terminal that never connected still has its row and its history.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mtq_core::Currency;

use super::{AccountId, parse_text, to_i64, to_u64};
use crate::conn::insert_returning_id;
use crate::error::QueryContext;
use crate::schema::{account_connection_states as conns, trading_accounts as ta};
use crate::types::DbTime;
use crate::{PersistenceError, Result, Store};

/// The database id of a configured account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TradingAccountId(pub i64);

/// Which kind of broker an account trades through, in its stable form (`sim`, `mt5`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerKindText {
    Sim,
    Mt5,
}

impl BrokerKindText {
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerKindText::Sim => "sim",
            BrokerKindText::Mt5 => "mt5",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "sim" => Ok(Self::Sim),
            "mt5" => Ok(Self::Mt5),
            other => Err(PersistenceError::Data {
                table: "trading_accounts",
                column: "broker_kind",
                value: other.into(),
                reason: "expected sim or mt5".into(),
            }),
        }
    }
}

/// A configured account to register (or update, by name).
#[derive(Clone, Debug, PartialEq)]
pub struct NewTradingAccount {
    pub name: String,
    pub enabled: bool,
    pub broker_kind: BrokerKindText,
    pub currency: Currency,
    pub magic: u64,
}

/// A configured account and its current connection state.
#[derive(Clone, Debug, PartialEq)]
pub struct TradingAccountRecord {
    pub id: TradingAccountId,
    pub name: String,
    pub enabled: bool,
    pub broker_kind: BrokerKindText,
    /// The broker's company, server and login, once it has connected.
    pub broker: String,
    pub server: String,
    pub login: Option<u64>,
    pub currency: Currency,
    pub magic: u64,
    /// The broker account it trades, once known.
    pub account: Option<AccountId>,
    pub connected: bool,
    /// Why the state is what it is (the broker's error, "stopped", "connected").
    pub state_reason: String,
    pub state_changed_at: Option<DateTime<Utc>>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change of an account's broker link.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionChange {
    pub connected: bool,
    pub reason: String,
    /// When the account's driver was last seen alive.
    pub last_heartbeat: Option<DateTime<Utc>>,
}

/// One row of an account's connection history.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionChangeRecord {
    pub time: DateTime<Utc>,
    pub connected: bool,
    pub reason: String,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub account: Option<AccountId>,
}

/// Registering configured accounts and recording their connection state.
pub trait TradingAccountRepo {
    /// Registers the account by name, or updates its enabled switch, broker kind, currency and
    /// magic number. Its connection state is left as it is.
    fn register_trading_account(
        &mut self,
        a: &NewTradingAccount,
        now: DateTime<Utc>,
    ) -> Result<TradingAccountRecord>;
    /// Links the broker account the configured one trades (after the broker said hello).
    fn link_broker_account(
        &mut self,
        id: TradingAccountId,
        account: &crate::AccountRecord,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Writes a change of the connection state: a history row, and the account's current state.
    fn record_connection_change(
        &mut self,
        id: TradingAccountId,
        change: &ConnectionChange,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The driver was seen alive at `at` (no history row: only changes are history).
    fn record_heartbeat(&mut self, id: TradingAccountId, at: DateTime<Utc>) -> Result<()>;
    /// Every configured account, by name.
    fn trading_accounts(&mut self) -> Result<Vec<TradingAccountRecord>>;
    fn trading_account(&mut self, name: &str) -> Result<Option<TradingAccountRecord>>;
    /// The newest `limit` changes of an account's connection, newest first.
    fn connection_history(
        &mut self,
        id: TradingAccountId,
        limit: i64,
    ) -> Result<Vec<ConnectionChangeRecord>>;
}

type Row = (
    i64,
    String,
    bool,
    String,
    String,
    String,
    Option<i64>,
    String,
    i64,
    Option<i64>,
    bool,
    String,
    Option<DbTime>,
    Option<DbTime>,
    DbTime,
    DbTime,
);

/// One `account_connection_states` row as read: time, connected, reason, heartbeat, account.
type HistoryRow = (DbTime, bool, String, Option<DbTime>, Option<i64>);

const T: &str = "trading_accounts";

fn record(r: Row) -> Result<TradingAccountRecord> {
    Ok(TradingAccountRecord {
        id: TradingAccountId(r.0),
        name: r.1,
        enabled: r.2,
        broker_kind: BrokerKindText::parse(&r.3)?,
        broker: r.4,
        server: r.5,
        login: r.6.map(|l| to_u64(l, T, "login")).transpose()?,
        currency: parse_text(&r.7, T, "currency")?,
        magic: to_u64(r.8, T, "magic")?,
        account: r.9.map(AccountId),
        connected: r.10,
        state_reason: r.11,
        state_changed_at: r.12.map(|t| t.0),
        last_heartbeat: r.13.map(|t| t.0),
        created_at: r.14.0,
        updated_at: r.15.0,
    })
}

macro_rules! columns {
    () => {
        (
            ta::id,
            ta::name,
            ta::enabled,
            ta::broker_kind,
            ta::broker,
            ta::server,
            ta::login,
            ta::currency,
            ta::magic,
            ta::account_id,
            ta::connected,
            ta::state_reason,
            ta::state_changed_at,
            ta::last_heartbeat,
            ta::created_at,
            ta::updated_at,
        )
    };
}

impl TradingAccountRepo for Store {
    fn register_trading_account(
        &mut self,
        a: &NewTradingAccount,
        now: DateTime<Utc>,
    ) -> Result<TradingAccountRecord> {
        let magic = to_i64(a.magic, T, "magic")?;
        self.transaction(|s| {
            let existing: Option<i64> = ta::table
                .filter(ta::name.eq(&a.name))
                .select(ta::id)
                .first(&mut s.conn)
                .optional()
                .context("looking up a trading account")?;
            match existing {
                Some(id) => {
                    diesel::update(ta::table.find(id))
                        .set((
                            ta::enabled.eq(a.enabled),
                            ta::broker_kind.eq(a.broker_kind.as_str()),
                            ta::currency.eq(a.currency.as_str()),
                            ta::magic.eq(magic),
                            ta::updated_at.eq(DbTime(now)),
                        ))
                        .execute(&mut s.conn)
                        .context("updating a trading account")?;
                }
                None => {
                    let insert = diesel::insert_into(ta::table).values((
                        ta::name.eq(&a.name),
                        ta::enabled.eq(a.enabled),
                        ta::broker_kind.eq(a.broker_kind.as_str()),
                        ta::currency.eq(a.currency.as_str()),
                        ta::magic.eq(magic),
                        ta::connected.eq(false),
                        ta::state_reason.eq("registered"),
                        ta::created_at.eq(DbTime(now)),
                        ta::updated_at.eq(DbTime(now)),
                    ));
                    insert_returning_id!(&mut s.conn, insert, ta::id)
                        .context("registering a trading account")?;
                }
            }
            s.trading_account(&a.name)?
                .ok_or_else(|| PersistenceError::Data {
                    table: T,
                    column: "name",
                    value: a.name.clone(),
                    reason: "the account vanished while it was being registered".into(),
                })
        })
    }

    fn link_broker_account(
        &mut self,
        id: TradingAccountId,
        account: &crate::AccountRecord,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let login = to_i64(account.login, T, "login")?;
        diesel::update(ta::table.find(id.0))
            .set((
                ta::account_id.eq(Some(account.id.0)),
                ta::broker.eq(&account.broker),
                ta::server.eq(&account.server),
                ta::login.eq(Some(login)),
                ta::currency.eq(account.currency.as_str()),
                ta::updated_at.eq(DbTime(now)),
            ))
            .execute(&mut self.conn)
            .context("linking a trading account to its broker account")?;
        Ok(())
    }

    fn record_connection_change(
        &mut self,
        id: TradingAccountId,
        c: &ConnectionChange,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.transaction(|s| {
            let account: Option<Option<i64>> = ta::table
                .find(id.0)
                .select(ta::account_id)
                .first(&mut s.conn)
                .optional()
                .context("reading a trading account")?;
            let Some(account) = account else {
                return Err(PersistenceError::Data {
                    table: T,
                    column: "id",
                    value: id.0.to_string(),
                    reason: "no such trading account".into(),
                });
            };
            diesel::insert_into(conns::table)
                .values((
                    conns::account_id.eq(account),
                    conns::trading_account_id.eq(Some(id.0)),
                    conns::time.eq(DbTime(now)),
                    conns::connected.eq(c.connected),
                    conns::detail.eq(&c.reason),
                    conns::last_heartbeat.eq(c.last_heartbeat.map(DbTime)),
                ))
                .execute(&mut s.conn)
                .context("recording a connection change")?;
            diesel::update(ta::table.find(id.0))
                .set((
                    ta::connected.eq(c.connected),
                    ta::state_reason.eq(&c.reason),
                    ta::state_changed_at.eq(Some(DbTime(now))),
                    ta::last_heartbeat.eq(c.last_heartbeat.map(DbTime)),
                    ta::updated_at.eq(DbTime(now)),
                ))
                .execute(&mut s.conn)
                .context("updating a trading account's state")?;
            Ok(())
        })
    }

    fn record_heartbeat(&mut self, id: TradingAccountId, at: DateTime<Utc>) -> Result<()> {
        diesel::update(ta::table.find(id.0))
            .set(ta::last_heartbeat.eq(Some(DbTime(at))))
            .execute(&mut self.conn)
            .context("recording a heartbeat")?;
        Ok(())
    }

    fn trading_accounts(&mut self) -> Result<Vec<TradingAccountRecord>> {
        let rows: Vec<Row> = ta::table
            .order(ta::name)
            .select(columns!())
            .load(&mut self.conn)
            .context("listing trading accounts")?;
        rows.into_iter().map(record).collect()
    }

    fn trading_account(&mut self, name: &str) -> Result<Option<TradingAccountRecord>> {
        let row: Option<Row> = ta::table
            .filter(ta::name.eq(name))
            .select(columns!())
            .first(&mut self.conn)
            .optional()
            .context("reading a trading account")?;
        row.map(record).transpose()
    }

    fn connection_history(
        &mut self,
        id: TradingAccountId,
        limit: i64,
    ) -> Result<Vec<ConnectionChangeRecord>> {
        let rows: Vec<HistoryRow> = conns::table
            .filter(conns::trading_account_id.eq(id.0))
            .order((conns::time.desc(), conns::id.desc()))
            .limit(limit.max(0))
            .select((
                conns::time,
                conns::connected,
                conns::detail,
                conns::last_heartbeat,
                conns::account_id,
            ))
            .load(&mut self.conn)
            .context("reading a connection history")?;
        Ok(rows
            .into_iter()
            .map(|(t, connected, reason, hb, acc)| ConnectionChangeRecord {
                time: t.0,
                connected,
                reason,
                last_heartbeat: hb.map(|t| t.0),
                account: acc.map(AccountId),
            })
            .collect())
    }
}
