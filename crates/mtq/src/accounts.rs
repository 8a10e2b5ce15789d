//! The configured accounts in the database: each registered by name in `trading_accounts`
//! when the process starts, linked to its broker account once the broker has said hello, and
//! its connection state written by the orchestrator's watcher through [`DbConnectionJournal`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use mtq_orchestrator::ConnectionJournal;
use mtq_orchestrator::config::{AccountsConfig, BrokerKind};
use mtq_persistence::{
    AccountRecord, BrokerKindText, ConnectionChange, NewTradingAccount, Store, TradingAccountId,
    TradingAccountRepo,
};

/// Registers (or updates) every account of `config`, enabled or not; returns their ids by name.
pub fn register_accounts(
    store: &mut Store,
    config: &AccountsConfig,
    now: DateTime<Utc>,
) -> mtq_persistence::Result<BTreeMap<String, TradingAccountId>> {
    let mut ids = BTreeMap::new();
    for a in &config.accounts {
        let c = &a.config;
        let rec = store.register_trading_account(
            &NewTradingAccount {
                name: a.name.clone(),
                enabled: a.enabled,
                broker_kind: match c.broker.kind {
                    BrokerKind::Sim => BrokerKindText::Sim,
                    BrokerKind::Mt5 => BrokerKindText::Mt5,
                },
                currency: c.broker.currency,
                magic: c.trader.magic,
            },
            now,
        )?;
        ids.insert(a.name.clone(), rec.id);
    }
    Ok(ids)
}

/// Writes each account's connection changes and heartbeats on its own connection (the
/// trader's intents never wait behind it).
#[derive(Debug)]
pub struct DbConnectionJournal {
    store: Mutex<Store>,
    ids: BTreeMap<String, TradingAccountId>,
}

impl DbConnectionJournal {
    pub fn new(store: Store, ids: BTreeMap<String, TradingAccountId>) -> Self {
        Self {
            store: Mutex::new(store),
            ids,
        }
    }

    fn id(&self, account: &str) -> Result<TradingAccountId, String> {
        self.ids
            .get(account)
            .copied()
            .ok_or_else(|| format!("account `{account}` is not registered"))
    }

    fn with<T>(
        &self,
        f: impl FnMut(&mut Store) -> mtq_persistence::Result<T>,
    ) -> Result<T, String> {
        let mut s = self
            .store
            .lock()
            .map_err(|_| "the connection-state database handle is poisoned".to_string())?;
        s.reconnecting(f).map_err(|e| e.to_string())
    }

    /// Links account `name` to the broker account it trades.
    pub fn link(&self, name: &str, account: &AccountRecord) -> Result<(), String> {
        let id = self.id(name)?;
        self.with(|s| s.link_broker_account(id, account, Utc::now()))
    }
}

impl ConnectionJournal for DbConnectionJournal {
    fn changed(
        &self,
        account: &str,
        connected: bool,
        reason: &str,
        last_heartbeat: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Result<(), String> {
        let id = self.id(account)?;
        let change = ConnectionChange {
            connected,
            reason: reason.to_string(),
            last_heartbeat,
        };
        self.with(|s| s.record_connection_change(id, &change, at))
    }

    fn heartbeat(&self, account: &str, at: DateTime<Utc>) -> Result<(), String> {
        let id = self.id(account)?;
        self.with(|s| s.record_heartbeat(id, at))
    }
}
