//! The operator API's credentials: API keys, dashboard users and their refresh tokens.
//!
//! Only hashes are stored: an API key's secret and a user's password as argon2id PHC strings,
//! a refresh token as a hash of the token. Hashing and verifying is the API's job; these
//! repositories store and look up the strings. Roles are stored in their stable form
//! (`viewer`, `trader`, `admin`); the database refuses any other ([`PersistenceError::Query`](crate::PersistenceError::Query)).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::conn::{begin_transaction, insert_returning_id};
use crate::error::QueryContext;
use crate::schema::{api_keys, refresh_tokens, users};
use crate::types::DbTime;
use crate::{Result, Store};

/// An API key to create. `secret_hash` is the argon2id PHC string of the secret, never the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKey {
    /// The public key id: the part of the key the client sends before the secret, unique.
    pub key_id: String,
    pub name: String,
    /// `viewer`, `trader` or `admin`.
    pub role: String,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A stored API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub key_id: String,
    pub name: String,
    pub role: String,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

// The hash is not a secret, but there is no reason for it to reach a log either.
impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("key_id", &self.key_id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A dashboard user to create. `password_hash` is an argon2id PHC string.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    /// `viewer`, `trader` or `admin`.
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A stored user.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl UserRecord {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// A refresh token to store: the hash of the token, never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub token_hash: String,
    pub user_id: i64,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: i64,
    pub token_hash: String,
    pub user_id: i64,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The token that replaced this one when it was rotated.
    pub replaced_by: Option<i64>,
}

/// What [`RefreshTokenRepo::rotate_refresh_token`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The old token was valid: it is revoked and points at the new one, which is returned.
    Rotated(RefreshTokenRecord),
    /// No token has that hash.
    Unknown,
    /// The token has expired; nothing changed.
    Expired,
    /// The token was already revoked or rotated: someone replays it. Every live token of the
    /// user has been revoked (the count is returned), so a thief's copy stops working too.
    Reused { user_id: i64, revoked: usize },
}

/// API keys.
pub trait ApiKeyRepo {
    /// Stores a new key; fails when its `key_id` exists already.
    fn create_api_key(&mut self, key: &NewApiKey) -> Result<ApiKeyRecord>;
    /// The key with this public id, revoked or not.
    fn api_key(&mut self, key_id: &str) -> Result<Option<ApiKeyRecord>>;
    /// Every key, oldest first, revoked ones included.
    fn api_keys(&mut self) -> Result<Vec<ApiKeyRecord>>;
    /// Notes a successful use; `false` when the key is unknown.
    fn touch_api_key(&mut self, key_id: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Revokes a key; `false` when it is unknown or already revoked.
    fn revoke_api_key(&mut self, key_id: &str, at: DateTime<Utc>) -> Result<bool>;
}

/// Dashboard users.
pub trait UserRepo {
    /// Stores a new user; fails when the username exists already.
    fn create_user(&mut self, user: &NewUser) -> Result<UserRecord>;
    fn user_by_name(&mut self, username: &str) -> Result<Option<UserRecord>>;
    fn user(&mut self, id: i64) -> Result<Option<UserRecord>>;
    /// Every user, oldest first.
    fn users(&mut self) -> Result<Vec<UserRecord>>;
    /// Replaces the password hash; `false` when the user is unknown.
    fn set_password_hash(&mut self, username: &str, password_hash: &str) -> Result<bool>;
    /// Disables (`Some(time)`) or enables (`None`) a user; `false` when the user is unknown.
    fn set_user_disabled(&mut self, username: &str, at: Option<DateTime<Utc>>) -> Result<bool>;
}

/// Refresh tokens and their rotation.
pub trait RefreshTokenRepo {
    fn insert_refresh_token(&mut self, token: &NewRefreshToken) -> Result<RefreshTokenRecord>;
    fn refresh_token(&mut self, token_hash: &str) -> Result<Option<RefreshTokenRecord>>;
    /// In one transaction: checks the token with hash `old_hash` at `now`, and when it is valid
    /// revokes it, stores `new` and links the old one to it (see [`Rotation`]).
    fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        new: &NewRefreshToken,
        now: DateTime<Utc>,
    ) -> Result<Rotation>;
    /// Revokes one token (logout); `false` when it is unknown or already revoked.
    fn revoke_refresh_token(&mut self, token_hash: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Revokes every live token of a user; returns how many.
    fn revoke_user_refresh_tokens(&mut self, user_id: i64, at: DateTime<Utc>) -> Result<usize>;
}

type KeyRow = (
    i64,
    String,
    String,
    String,
    String,
    DbTime,
    Option<DbTime>,
    Option<DbTime>,
);

fn key_record(r: KeyRow) -> ApiKeyRecord {
    ApiKeyRecord {
        id: r.0,
        key_id: r.1,
        name: r.2,
        role: r.3,
        secret_hash: r.4,
        created_at: r.5.0,
        last_used_at: r.6.map(|t| t.0),
        revoked_at: r.7.map(|t| t.0),
    }
}

type UserRow = (i64, String, String, String, DbTime, Option<DbTime>);

fn user_record(r: UserRow) -> UserRecord {
    UserRecord {
        id: r.0,
        username: r.1,
        password_hash: r.2,
        role: r.3,
        created_at: r.4.0,
        disabled_at: r.5.map(|t| t.0),
    }
}

type TokenRow = (
    i64,
    String,
    i64,
    DbTime,
    DbTime,
    Option<DbTime>,
    Option<i64>,
);

fn token_record(r: TokenRow) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: r.0,
        token_hash: r.1,
        user_id: r.2,
        issued_at: r.3.0,
        expires_at: r.4.0,
        revoked_at: r.5.map(|t| t.0),
        replaced_by: r.6,
    }
}

impl ApiKeyRepo for Store {
    fn create_api_key(&mut self, k: &NewApiKey) -> Result<ApiKeyRecord> {
        let insert = diesel::insert_into(api_keys::table).values((
            api_keys::key_id.eq(&k.key_id),
            api_keys::name.eq(&k.name),
            api_keys::role.eq(&k.role),
            api_keys::secret_hash.eq(&k.secret_hash),
            api_keys::created_at.eq(DbTime(k.created_at)),
        ));
        let id = insert_returning_id!(&mut self.conn, insert, api_keys::id)
            .context("creating an API key")?;
        Ok(ApiKeyRecord {
            id,
            key_id: k.key_id.clone(),
            name: k.name.clone(),
            role: k.role.clone(),
            secret_hash: k.secret_hash.clone(),
            created_at: k.created_at,
            last_used_at: None,
            revoked_at: None,
        })
    }

    fn api_key(&mut self, key_id: &str) -> Result<Option<ApiKeyRecord>> {
        let row: Option<KeyRow> = api_keys::table
            .filter(api_keys::key_id.eq(key_id))
            .first(&mut self.conn)
            .optional()
            .context("reading an API key")?;
        Ok(row.map(key_record))
    }

    fn api_keys(&mut self) -> Result<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = api_keys::table
            .order(api_keys::id)
            .load(&mut self.conn)
            .context("listing API keys")?;
        Ok(rows.into_iter().map(key_record).collect())
    }

    fn touch_api_key(&mut self, key_id: &str, at: DateTime<Utc>) -> Result<bool> {
        let n = diesel::update(api_keys::table.filter(api_keys::key_id.eq(key_id)))
            .set(api_keys::last_used_at.eq(Some(DbTime(at))))
            .execute(&mut self.conn)
            .context("noting an API key's use")?;
        Ok(n > 0)
    }

    fn revoke_api_key(&mut self, key_id: &str, at: DateTime<Utc>) -> Result<bool> {
        let n = diesel::update(
            api_keys::table
                .filter(api_keys::key_id.eq(key_id))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(Some(DbTime(at))))
        .execute(&mut self.conn)
        .context("revoking an API key")?;
        Ok(n > 0)
    }
}

impl UserRepo for Store {
    fn create_user(&mut self, u: &NewUser) -> Result<UserRecord> {
        let insert = diesel::insert_into(users::table).values((
            users::username.eq(&u.username),
            users::password_hash.eq(&u.password_hash),
            users::role.eq(&u.role),
            users::created_at.eq(DbTime(u.created_at)),
        ));
        let id =
            insert_returning_id!(&mut self.conn, insert, users::id).context("creating a user")?;
        Ok(UserRecord {
            id,
            username: u.username.clone(),
            password_hash: u.password_hash.clone(),
            role: u.role.clone(),
            created_at: u.created_at,
            disabled_at: None,
        })
    }

    fn user_by_name(&mut self, username: &str) -> Result<Option<UserRecord>> {
        let row: Option<UserRow> = users::table
            .filter(users::username.eq(username))
            .first(&mut self.conn)
            .optional()
            .context("reading a user")?;
        Ok(row.map(user_record))
    }

    fn user(&mut self, id: i64) -> Result<Option<UserRecord>> {
        let row: Option<UserRow> = users::table
            .filter(users::id.eq(id))
            .first(&mut self.conn)
            .optional()
            .context("reading a user")?;
        Ok(row.map(user_record))
    }

    fn users(&mut self) -> Result<Vec<UserRecord>> {
        let rows: Vec<UserRow> = users::table
            .order(users::id)
            .load(&mut self.conn)
            .context("listing users")?;
        Ok(rows.into_iter().map(user_record).collect())
    }

    fn set_password_hash(&mut self, username: &str, password_hash: &str) -> Result<bool> {
        let n = diesel::update(users::table.filter(users::username.eq(username)))
            .set(users::password_hash.eq(password_hash))
            .execute(&mut self.conn)
            .context("changing a user's password")?;
        Ok(n > 0)
    }

    fn set_user_disabled(&mut self, username: &str, at: Option<DateTime<Utc>>) -> Result<bool> {
        let n = diesel::update(users::table.filter(users::username.eq(username)))
            .set(users::disabled_at.eq(at.map(DbTime)))
            .execute(&mut self.conn)
            .context("disabling or enabling a user")?;
        Ok(n > 0)
    }
}

fn insert_token(
    conn: &mut crate::AnyConnection,
    t: &NewRefreshToken,
) -> Result<RefreshTokenRecord> {
    let insert = diesel::insert_into(refresh_tokens::table).values((
        refresh_tokens::token_hash.eq(&t.token_hash),
        refresh_tokens::user_id.eq(t.user_id),
        refresh_tokens::issued_at.eq(DbTime(t.issued_at)),
        refresh_tokens::expires_at.eq(DbTime(t.expires_at)),
    ));
    let id = insert_returning_id!(conn, insert, refresh_tokens::id)
        .context("storing a refresh token")?;
    Ok(RefreshTokenRecord {
        id,
        token_hash: t.token_hash.clone(),
        user_id: t.user_id,
        issued_at: t.issued_at,
        expires_at: t.expires_at,
        revoked_at: None,
        replaced_by: None,
    })
}

fn token_by_hash(
    conn: &mut crate::AnyConnection,
    token_hash: &str,
) -> Result<Option<RefreshTokenRecord>> {
    let row: Option<TokenRow> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .first(conn)
        .optional()
        .context("reading a refresh token")?;
    Ok(row.map(token_record))
}

fn revoke_all(conn: &mut crate::AnyConnection, user_id: i64, at: DateTime<Utc>) -> Result<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(DbTime(at))))
    .execute(conn)
    .context("revoking a user's refresh tokens")
}

fn rotate(
    conn: &mut crate::AnyConnection,
    old_hash: &str,
    new: &NewRefreshToken,
    now: DateTime<Utc>,
) -> Result<Rotation> {
    let Some(old) = token_by_hash(conn, old_hash)? else {
        return Ok(Rotation::Unknown);
    };
    if old.revoked_at.is_some() {
        let revoked = revoke_all(conn, old.user_id, now)?;
        return Ok(Rotation::Reused {
            user_id: old.user_id,
            revoked,
        });
    }
    if old.expires_at <= now {
        return Ok(Rotation::Expired);
    }
    let fresh = insert_token(conn, new)?;
    diesel::update(refresh_tokens::table.filter(refresh_tokens::id.eq(old.id)))
        .set((
            refresh_tokens::revoked_at.eq(Some(DbTime(now))),
            refresh_tokens::replaced_by.eq(Some(fresh.id)),
        ))
        .execute(conn)
        .context("rotating a refresh token")?;
    Ok(Rotation::Rotated(fresh))
}

impl RefreshTokenRepo for Store {
    fn insert_refresh_token(&mut self, token: &NewRefreshToken) -> Result<RefreshTokenRecord> {
        insert_token(&mut self.conn, token)
    }

    fn refresh_token(&mut self, token_hash: &str) -> Result<Option<RefreshTokenRecord>> {
        token_by_hash(&mut self.conn, token_hash)
    }

    fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        new: &NewRefreshToken,
        now: DateTime<Utc>,
    ) -> Result<Rotation> {
        use diesel::connection::TransactionManager;
        type Tm = <crate::AnyConnection as diesel::Connection>::TransactionManager;
        let conn = &mut self.conn;
        begin_transaction(conn).context("beginning a refresh token rotation")?;
        match rotate(conn, old_hash, new, now) {
            Ok(r) => {
                Tm::commit_transaction(conn).context("committing a refresh token rotation")?;
                Ok(r)
            }
            Err(e) => {
                if let Err(rollback) = Tm::rollback_transaction(conn) {
                    tracing::warn!(error = %rollback, "rolling back a refresh token rotation failed");
                }
                Err(e)
            }
        }
    }

    fn revoke_refresh_token(&mut self, token_hash: &str, at: DateTime<Utc>) -> Result<bool> {
        let n = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(token_hash))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(Some(DbTime(at))))
        .execute(&mut self.conn)
        .context("revoking a refresh token")?;
        Ok(n > 0)
    }

    fn revoke_user_refresh_tokens(&mut self, user_id: i64, at: DateTime<Utc>) -> Result<usize> {
        revoke_all(&mut self.conn, user_id, at)
    }
}
