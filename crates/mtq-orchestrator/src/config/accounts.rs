//! `accounts:`: several accounts in one process, each its own validated [`AppConfig`].
//!
//! Each entry has a `name`, an `enabled` switch, an optional `magic` (the account's magic
//! number, `trader.magic`), an optional `file` (YAML with the same keys, read relative to the
//! main file) and overrides of the sections that may differ per account, under the same names
//! as at the top level: `global`, `emergency`, `modifications`, `currencies`, `broker`, `trader`.
//! An account starts from the top level of the file (without `accounts:` and `portfolio:`),
//! then its file, then its inline keys. A `currencies` override names its symbol and the keys
//! that change (`{symbol: GBPUSD, enabled: false}`); a symbol the top level lacks is added and
//! must then be complete. `database`, `logging`, `api` and `portfolio` are the process's.
//!
//! A file without `accounts:` is one account named [`DEFAULT_ACCOUNT`], exactly as [`super::load`]
//! reads it. Every problem names the account as well as the key.

use std::path::Path;

use mtq_core::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::parse::{Ctx, Layers, normalize};
use super::{AppConfig, BrokerKind, ConfigErrorKind, ConfigLoadError, keys, yaml};

/// The account of a file without `accounts:`, and the name in the API's paths for it.
pub const DEFAULT_ACCOUNT: &str = "default";
/// The sections an account may override.
pub(super) const SECTIONS: [&str; 6] = [
    "global",
    "emergency",
    "modifications",
    "currencies",
    "broker",
    "trader",
];
/// The keys of an account entry that are the account's own.
pub(super) const OWN_KEYS: [&str; 4] = ["name", "enabled", "file", "magic"];
/// More accounts than this in one process is a configuration mistake, not a plan.
pub const MAX_ACCOUNTS: usize = 64;
/// The longest account name: it appears in URLs, logs and table rows.
pub const MAX_ACCOUNT_NAME: usize = 32;

/// `portfolio:`: limits across every account of the process. When one is reached, entries halt
/// on every account (open positions are still managed) until the next trading day or an
/// operator resumes them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortfolioSection {
    /// The total loss of the day across accounts, in money (accounts are assumed to share a
    /// deposit currency; one that does not is left out of the sum, with a warning).
    pub max_daily_loss: Option<Decimal>,
    /// The net lots of any one currency across every account's positions (a buy of EURUSD is
    /// long EUR and short USD).
    pub max_currency_exposure_lots: Option<Decimal>,
}

impl PortfolioSection {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.max_daily_loss.is_some() || self.max_currency_exposure_lots.is_some()
    }
}

/// One account and its whole configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountConfig {
    pub name: String,
    pub enabled: bool,
    pub config: AppConfig,
}

/// Every account of a file and the limits across them.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountsConfig {
    /// In file order; never empty.
    pub accounts: Vec<AccountConfig>,
    pub portfolio: PortfolioSection,
    /// The file has an `accounts:` list (otherwise it is the one [`DEFAULT_ACCOUNT`]).
    pub listed: bool,
    /// The merged layers as a whole, `accounts:` and `portfolio:` included.
    pub raw: Value,
}

impl AccountsConfig {
    /// The accounts that trade.
    pub fn enabled(&self) -> impl Iterator<Item = &AccountConfig> {
        self.accounts.iter().filter(|a| a.enabled)
    }

    pub fn get(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The settings every account shares (`database`, `logging`, `api`): the first account's.
    pub fn process(&self) -> &AppConfig {
        &self.accounts[0].config
    }
}

/// Whether `name` may name an account: 1 to [`MAX_ACCOUNT_NAME`] ASCII letters, digits, `-`
/// or `_` (it goes into URL paths and WebSocket channel names unescaped).
pub fn check_account_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_ACCOUNT_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "an account name is 1 to {MAX_ACCOUNT_NAME} ASCII letters, digits, `-` or `_`"
        ))
    }
}

fn err(
    layers: &Layers,
    key: impl Into<String>,
    value: impl Into<String>,
    reason: impl Into<String>,
) -> ConfigLoadError {
    ConfigLoadError::new(
        &layers.file,
        ConfigErrorKind::InvalidValue,
        key,
        value,
        reason,
    )
}

/// `e`, found in an account's merged configuration, naming the account.
fn in_account(mut e: ConfigLoadError, i: usize, name: &str) -> ConfigLoadError {
    let at = format!("accounts[{i}] ({name})");
    e.key = if e.key.is_empty() {
        at
    } else {
        format!("{at}.{}", e.key)
    };
    if e.kind == ConfigErrorKind::UnknownKey {
        e.reason = format!("{} (account `{name}`)", e.reason);
    }
    e
}

/// Deep merge: maps key by key, anything else replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(x) if x.is_object() && v.is_object() => merge(x, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// A `currencies` value as a list (a map keyed by index, as overrides leave it, reads as one).
fn as_list(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Object(m)) => m.values().cloned().collect(),
        _ => Vec::new(),
    }
}

fn symbol_of(v: &Value) -> Option<&str> {
    v.get("symbol").and_then(Value::as_str)
}

/// Merges an account's `currencies` overrides into the top level's, entry by symbol.
fn merge_currencies(
    layers: &Layers,
    base: &mut Map<String, Value>,
    over: &Value,
    at: &str,
) -> Result<(), ConfigLoadError> {
    let Value::Array(entries) = over else {
        return Err(err(
            layers,
            format!("{at}.currencies"),
            over.to_string(),
            "must be a list of entries, each naming its symbol",
        ));
    };
    let mut list = as_list(base.get("currencies"));
    for (j, entry) in entries.iter().enumerate() {
        let Some(symbol) = symbol_of(entry) else {
            return Err(err(
                layers,
                format!("{at}.currencies[{j}].symbol"),
                "",
                "is missing: an account's entry names the symbol it overrides or adds",
            ));
        };
        match list.iter_mut().find(|e| symbol_of(e) == Some(symbol)) {
            Some(e) => merge(e, entry),
            None => list.push(entry.clone()),
        }
    }
    base.insert("currencies".into(), Value::Array(list));
    Ok(())
}

/// The file part of an account (`file:`), read and checked like the main file.
fn account_file(
    layers: &Layers,
    dir: Option<&Path>,
    file: &Value,
    at: &str,
) -> Result<Value, ConfigLoadError> {
    let Value::String(rel) = file else {
        return Err(err(
            layers,
            format!("{at}.file"),
            file.to_string(),
            "expected a path to a YAML file",
        ));
    };
    let path = match dir {
        Some(d) if Path::new(rel).is_relative() => d.join(rel),
        _ => Path::new(rel).to_path_buf(),
    };
    let text = yaml::read_file(&path)?;
    let label = path.display().to_string();
    let tree = normalize(&yaml::parse(&label, &text)?);
    keys::account(&label, &tree)?;
    if let Some(k) = ["name", "file"].iter().find(|k| tree.get(**k).is_some()) {
        return Err(ConfigLoadError::new(
            &label,
            ConfigErrorKind::InvalidValue,
            *k,
            "",
            format!("belongs in the main file's `{at}` entry, not in the account's file"),
        ));
    }
    Ok(tree)
}

/// A client-order-id prefix from an account's name: its letters and digits, at most
/// [`crate::MAX_PREFIX_LEN`].
fn prefix_from(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(crate::MAX_PREFIX_LEN)
        .collect()
}

/// Splits the merged layers into accounts.
pub(super) fn split(
    layers: &Layers,
    raw: &Value,
    dir: Option<&Path>,
) -> Result<AccountsConfig, ConfigLoadError> {
    let ctx = Ctx { layers, raw };
    let portfolio: PortfolioSection = ctx.section("portfolio")?;
    for (key, v) in [
        ("portfolio.max_daily_loss", portfolio.max_daily_loss),
        (
            "portfolio.max_currency_exposure_lots",
            portfolio.max_currency_exposure_lots,
        ),
    ] {
        if let Some(v) = v.filter(|v| *v <= Decimal::ZERO) {
            return Err(err(layers, key, v.to_string(), "must be greater than zero"));
        }
    }
    let list = match raw.get("accounts") {
        None | Some(Value::Null) => {
            let config = ctx.parse()?;
            return Ok(AccountsConfig {
                accounts: vec![AccountConfig {
                    name: DEFAULT_ACCOUNT.into(),
                    enabled: true,
                    config,
                }],
                portfolio,
                listed: false,
                raw: raw.clone(),
            });
        }
        Some(v @ (Value::Array(_) | Value::Object(_))) => as_list(Some(v)),
        Some(other) => {
            return Err(err(
                layers,
                "accounts",
                other.to_string(),
                "must be a list of accounts, each with a `name`",
            ));
        }
    };
    if list.is_empty() {
        return Err(err(
            layers,
            "accounts",
            "[]",
            "lists no account: list at least one, or remove `accounts:` for one account",
        ));
    }
    if list.len() > MAX_ACCOUNTS {
        return Err(err(
            layers,
            "accounts",
            format!("{} entries", list.len()),
            format!("at most {MAX_ACCOUNTS} accounts run in one process"),
        ));
    }
    let mut base = raw.clone();
    if let Value::Object(m) = &mut base {
        m.remove("accounts");
        m.remove("portfolio");
    }
    let mut accounts: Vec<AccountConfig> = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let entry = normalize(entry);
        let at = format!("accounts[{i}]");
        let Value::Object(own) = &entry else {
            return Err(err(
                layers,
                at,
                entry.to_string(),
                "expected a map with the account's `name` and settings",
            ));
        };
        let name = match own.get("name") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(err(
                    layers,
                    format!("{at}.name"),
                    other.to_string(),
                    "expected the account's name",
                ));
            }
            None => {
                return Err(err(
                    layers,
                    format!("{at}.name"),
                    "",
                    "is missing: every account has a name",
                ));
            }
        };
        check_account_name(&name).map_err(|r| err(layers, format!("{at}.name"), &name, r))?;
        let at = format!("accounts[{i}] ({name})");
        if accounts.iter().any(|a| a.name == name) {
            return Err(err(layers, format!("{at}.name"), &name, "listed twice"));
        }
        let enabled = match own.get("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(err(
                    layers,
                    format!("{at}.enabled"),
                    other.to_string(),
                    "expected true or false",
                ));
            }
        };
        let mut overrides = match own.get("file") {
            Some(f) => account_file(layers, dir, f, &at)?,
            None => Value::Object(Map::new()),
        };
        let inline: Map<String, Value> = own
            .iter()
            .filter(|(k, _)| SECTIONS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // The file's currencies, then the inline ones, each merged by symbol.
        let file_currencies = overrides
            .as_object_mut()
            .and_then(|m| m.remove("currencies"));
        let mut inline_currencies = inline.clone();
        let inline_list = inline_currencies.remove("currencies");
        merge(&mut overrides, &Value::Object(inline_currencies));
        if let Some(m) = own.get("magic") {
            merge(
                &mut overrides,
                &serde_json::json!({ "trader": { "magic": m } }),
            );
        }
        let mut merged = base.clone();
        merge(&mut merged, &overrides);
        let Value::Object(m) = &mut merged else {
            return Err(err(layers, "", "", "the configuration is not a map"));
        };
        for list in [file_currencies, inline_list].into_iter().flatten() {
            merge_currencies(layers, m, &list, &at)?;
        }
        let own_prefix = overrides
            .get("trader")
            .and_then(|t| t.get("id_prefix"))
            .is_some();
        if !own_prefix {
            // Client order ids are unique across the database: each account's carry its name.
            merge(
                &mut merged,
                &serde_json::json!({ "trader": { "id_prefix": prefix_from(&name) } }),
            );
        }
        keys::Walk {
            source: &layers.file,
            tree: &merged,
        }
        .tree()
        .map_err(|e| in_account(e, i, &name))?;
        let config = Ctx {
            layers,
            raw: &merged,
        }
        .parse()
        .map_err(|e| in_account(e, i, &name))?;
        accounts.push(AccountConfig {
            name,
            enabled,
            config,
        });
    }
    check_apart(layers, &accounts)?;
    Ok(AccountsConfig {
        accounts,
        portfolio,
        listed: true,
        raw: raw.clone(),
    })
}

/// What two enabled accounts may not share: a client-order-id prefix (ids would collide in
/// the database), an MT5 bridge port (one terminal would serve both).
fn check_apart(layers: &Layers, accounts: &[AccountConfig]) -> Result<(), ConfigLoadError> {
    if !accounts.iter().any(|a| a.enabled) {
        return Err(err(
            layers,
            "accounts",
            "",
            "every account is disabled: enable at least one",
        ));
    }
    let on: Vec<(usize, &AccountConfig)> = accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.enabled)
        .collect();
    for (n, (i, a)) in on.iter().enumerate() {
        for (j, b) in &on[..n] {
            let at = format!("accounts[{i}] ({})", a.name);
            if a.config.trader.id_prefix == b.config.trader.id_prefix {
                return Err(err(
                    layers,
                    format!("{at}.trader.id_prefix"),
                    &a.config.trader.id_prefix,
                    format!(
                        "account `{}` (accounts[{j}]) has the same client-order-id prefix: give each account its own",
                        b.name
                    ),
                ));
            }
            let mt5 = |c: &AccountConfig| c.config.broker.kind == BrokerKind::Mt5;
            if mt5(a) && mt5(b) && a.config.broker.mt5_port == b.config.broker.mt5_port {
                return Err(err(
                    layers,
                    format!("{at}.broker.mt5_port"),
                    a.config.broker.mt5_port.to_string(),
                    format!(
                        "account `{}` (accounts[{j}]) listens on the same port: each MT5 terminal needs its own",
                        b.name
                    ),
                ));
            }
        }
    }
    Ok(())
}
