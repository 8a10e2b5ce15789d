//! Trading accounts: broker, server, login, currency, margin mode. Never a password.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use mtq_core::{Currency, MarginMode};

use super::{enum_text, parse_enum, parse_text, to_i32, to_i64, to_u32, to_u64};
use crate::error::QueryContext;
use crate::schema::accounts;
use crate::types::DbTime;
use crate::{Result, Store};

/// The database id of an account; every row that belongs to one account carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {}", self.0)
    }
}

/// An account to register. `label` is free text for people ("ICMarkets demo").
#[derive(Clone, Debug, PartialEq)]
pub struct NewAccount {
    pub broker: String,
    pub server: String,
    pub login: u64,
    pub currency: Currency,
    pub margin_mode: MarginMode,
    pub leverage: u32,
    pub label: String,
}

/// A registered account.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountRecord {
    pub id: AccountId,
    pub broker: String,
    pub server: String,
    pub login: u64,
    pub currency: Currency,
    pub margin_mode: MarginMode,
    pub leverage: u32,
    pub label: String,
    pub created_at: DateTime<Utc>,
}

/// Registering and finding accounts.
pub trait AccountRepo {
    /// The account with this broker, server and login, registered now if it is new. Currency,
    /// margin mode, leverage and label are updated to the given values.
    fn ensure_account(&mut self, account: &NewAccount, now: DateTime<Utc>)
    -> Result<AccountRecord>;
    fn account(&mut self, id: AccountId) -> Result<Option<AccountRecord>>;
    fn accounts(&mut self) -> Result<Vec<AccountRecord>>;
}

#[derive(Queryable)]
struct Row {
    id: i64,
    broker: String,
    server: String,
    login: i64,
    currency: String,
    margin_mode: String,
    leverage: i32,
    label: String,
    created_at: DbTime,
}

impl Row {
    fn into_record(self) -> Result<AccountRecord> {
        const T: &str = "accounts";
        Ok(AccountRecord {
            id: AccountId(self.id),
            broker: self.broker,
            server: self.server,
            login: to_u64(self.login, T, "login")?,
            currency: parse_text(&self.currency, T, "currency")?,
            margin_mode: parse_enum(&self.margin_mode, T, "margin_mode")?,
            leverage: to_u32(self.leverage, T, "leverage")?,
            label: self.label,
            created_at: self.created_at.0,
        })
    }
}

impl AccountRepo for Store {
    fn ensure_account(&mut self, a: &NewAccount, now: DateTime<Utc>) -> Result<AccountRecord> {
        let login = to_i64(a.login, "accounts", "login")?;
        let leverage = to_i32(a.leverage, "accounts", "leverage")?;
        let mode = enum_text(&a.margin_mode);
        self.transaction(|s| {
            let key = accounts::broker
                .eq(&a.broker)
                .and(accounts::server.eq(&a.server))
                .and(accounts::login.eq(login));
            let existing: Option<i64> = accounts::table
                .filter(key)
                .select(accounts::id)
                .first(&mut s.conn)
                .optional()
                .context("looking up an account")?;
            let id = match existing {
                Some(id) => {
                    diesel::update(accounts::table.find(id))
                        .set((
                            accounts::currency.eq(a.currency.as_str()),
                            accounts::margin_mode.eq(&mode),
                            accounts::leverage.eq(leverage),
                            accounts::label.eq(&a.label),
                        ))
                        .execute(&mut s.conn)
                        .context("updating an account")?;
                    id
                }
                None => crate::conn::insert_returning_id!(
                    &mut s.conn,
                    diesel::insert_into(accounts::table).values((
                        accounts::broker.eq(&a.broker),
                        accounts::server.eq(&a.server),
                        accounts::login.eq(login),
                        accounts::currency.eq(a.currency.as_str()),
                        accounts::margin_mode.eq(&mode),
                        accounts::leverage.eq(leverage),
                        accounts::label.eq(&a.label),
                        accounts::created_at.eq(DbTime(now)),
                    )),
                    accounts::id
                )
                .context("registering an account")?,
            };
            s.account(AccountId(id))?
                .ok_or(crate::PersistenceError::Data {
                    table: "accounts",
                    column: "id",
                    value: id.to_string(),
                    reason: "the account vanished while it was being registered".into(),
                })
        })
    }

    fn account(&mut self, id: AccountId) -> Result<Option<AccountRecord>> {
        let row: Option<Row> = accounts::table
            .find(id.0)
            .first(&mut self.conn)
            .optional()
            .context("reading an account")?;
        row.map(Row::into_record).transpose()
    }

    fn accounts(&mut self) -> Result<Vec<AccountRecord>> {
        let rows: Vec<Row> = accounts::table
            .order(accounts::id)
            .load(&mut self.conn)
            .context("listing accounts")?;
        rows.into_iter().map(Row::into_record).collect()
    }
}
