//! The trader's configuration: TradingMTQ's `currencies.yaml` layout plus MTQ's sections,
//! layered (file, then `MTQ__SECTION__KEY` environment variables, then command-line overrides),
//! validated once into typed structs, and watched for changes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use mtq_core::{Currency, Decimal, MarginMode, Symbol, Timeframe};
use mtq_risk::{RiskConfig, SymbolRiskConfig};
use mtq_strategies::{Strategy, StrategyConfig, StrategyError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod accounts;
mod alerts;
mod keys;
mod parse;
mod yaml;

pub use accounts::{
    AccountConfig, AccountsConfig, DEFAULT_ACCOUNT, MAX_ACCOUNT_NAME, MAX_ACCOUNTS,
    PortfolioSection, check_account_name,
};
pub use alerts::{
    AlertLevel, AlertsSection, EmailSection, EventLevels, Secret, SmtpTls, TelegramSection,
    WebhookSection,
};

use parse::{Ctx, Layers, finite, normalize, redact};

pub use yaml::{MAX_CONFIG_BYTES, MAX_DEPTH, MAX_EXPANDED_VALUES};

/// The configuration MTQ ships with: `config/currencies.yaml`, embedded.
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/currencies.yaml");
/// Where the trader looks for its configuration when not told.
pub const DEFAULT_CONFIG_PATH: &str = "config/currencies.yaml";

/// What kind of configuration problem: a person reads the message, code (a reload, a test)
/// matches on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file does not exist.
    NotFound,
    /// The path is a directory (or another non-file).
    NotAFile,
    /// The file exists but cannot be read as UTF-8 text.
    Unreadable,
    /// The file is above [`MAX_CONFIG_BYTES`].
    TooLarge,
    /// The file is empty or only comments.
    Empty,
    /// The YAML expands to too many values (an alias bomb) or nests too deep.
    TooComplex,
    /// The YAML does not parse.
    Syntax,
    /// A key the configuration does not know (a misspelling would leave a default in force).
    UnknownKey,
    /// `.nan`, `.inf` or a number too large for a float.
    NotFinite,
    /// A value of the wrong type or out of range.
    InvalidValue,
}

/// A configuration problem, naming where (the file, the environment variable or the `--set`
/// flag the value came from), which key, the bad value, and what is expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigLoadError {
    /// The source to fix: the file's path, `environment variable MTQ__...`, `--set KEY`, or
    /// "built-in defaults" / "config text".
    pub file: String,
    pub kind: ConfigErrorKind,
    /// The key path, e.g. `currencies[0] (EURUSD).risk_percent`; empty for the file as a whole.
    pub key: String,
    pub value: String,
    pub reason: String,
}

impl ConfigLoadError {
    fn new(
        source: &str,
        kind: ConfigErrorKind,
        key: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            file: source.to_string(),
            kind,
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// A problem with the source as a whole (not found, empty, an alias bomb).
    fn file(source: &str, kind: ConfigErrorKind, reason: String) -> Self {
        Self::new(source, kind, "", "", reason)
    }

    fn render(&self) -> String {
        let Self {
            file, key, value, ..
        } = self;
        let reason = &self.reason;
        match (
            key.is_empty() || self.kind == ConfigErrorKind::UnknownKey,
            value.is_empty(),
        ) {
            (true, _) => format!("{file}: {reason}"),
            (false, true) => format!("{file}: {key}: {reason}"),
            (false, false) => format!("{file}: {key} = {value}: {reason}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    #[default]
    Sim,
    Mt5,
}

/// `broker:` — which venue, and the simulated account's terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerSection {
    pub kind: BrokerKind,
    pub deposit: Decimal,
    pub currency: Currency,
    pub leverage: u32,
    pub margin_mode: MarginMode,
    pub commission_per_lot: Decimal,
    pub mt5_port: u16,
    /// MT5 only: the broker's symbol suffix (`.m` for `EURUSD.m`); `--mt5-suffix` wins.
    pub mt5_suffix: Option<String>,
    /// MT5 only: the environment variable holding the bridge's token (default `MTQ_MT5_TOKEN`;
    /// `--mt5-token` wins for a one-account file). The token itself never goes in a file.
    pub mt5_token_env: Option<String>,
    /// MT5 only: the account login the terminal must be logged in to; another login is refused
    /// at start-up (a terminal attached to the wrong account would trade it).
    pub expected_login: Option<u64>,
    /// MT5 only: MTQ's symbol -> the broker's name (`{EURUSD: EURUSD.m}`), checked before
    /// `--mt5-suffix` and discovery.
    pub symbols: std::collections::BTreeMap<Symbol, Symbol>,
}

impl Default for BrokerSection {
    fn default() -> Self {
        Self {
            kind: BrokerKind::Sim,
            deposit: Decimal::from(10_000),
            currency: Currency::USD,
            leverage: 100,
            margin_mode: MarginMode::Hedging,
            commission_per_lot: Decimal::ZERO,
            mt5_port: 7788,
            mt5_suffix: None,
            mt5_token_env: None,
            expected_login: None,
            symbols: std::collections::BTreeMap::new(),
        }
    }
}

/// `database:`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    pub url: String,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: "sqlite://mtq.db".into(),
        }
    }
}

/// What to do with positions at the broker that MTQ did not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPositions {
    Adopt,
    #[default]
    Ignore,
    Close,
}

/// `trader:`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraderSection {
    pub magic: u64,
    pub id_prefix: String,
    pub interval_seconds: u64,
    pub unknown_positions: UnknownPositions,
    /// Who decides entries: the strategies (`auto`, the default), the strategies with an
    /// operator's approval of each entry (`semi`), or an operator (`manual`).
    pub mode: TradingMode,
    /// `semi` mode: how long an entry waits for an operator's approval before it expires
    /// (10 seconds to a day).
    pub approval_ttl_seconds: u64,
}

/// The shortest and longest `trader.approval_ttl_seconds`: under ten seconds no operator can
/// answer; past a day the market the strategy saw is gone.
pub const APPROVAL_TTL_SECONDS: std::ops::RangeInclusive<u64> = 10..=86_400;

/// `trader.mode`: who decides the account's entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TradingMode {
    /// The strategies' entries are sent after the filters and the risk checks (as ever).
    #[default]
    Auto,
    /// Each entry the strategy wants, after the filters and the risk checks, waits for an
    /// operator's approval (API, dashboard, Telegram) for `trader.approval_ttl_seconds`; an
    /// approved entry meets the risk checks again and is sent, a rejected or expired one never.
    Semi,
    /// The strategies advise: their signals are recorded, never sent; only operator orders
    /// (the manual order route, Telegram) execute. Positions are still managed.
    Manual,
}

impl Default for TraderSection {
    fn default() -> Self {
        Self {
            magic: 20_240_304,
            id_prefix: "mtq".into(),
            interval_seconds: 5,
            unknown_positions: UnknownPositions::Ignore,
            mode: TradingMode::Auto,
            approval_ttl_seconds: 300,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// `logging:`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingSection {
    pub format: LogFormat,
    pub level: String,
}

impl Default for LoggingSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

/// `api:`: the operator API's settings (`mtq-trader serve`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSection {
    /// Whether an operator may send manual market orders through the control channel. Off by
    /// default: the API steers the strategies' trading and does not trade by itself.
    pub manual_orders: bool,
    /// The address `serve` listens on; anything but loopback needs `behind_tls_proxy` and
    /// credentials (`--bind`).
    pub bind: String,
    /// The port `serve` listens on (`--port`).
    pub port: u16,
    /// Origins a browser may call the API from (CORS); empty: same origin only. Never `*`.
    pub cors_origins: Vec<String>,
    /// The operator's word that a TLS-terminating proxy is in front (`--behind-tls-proxy`).
    pub behind_tls_proxy: bool,
    /// Where the access-token signing secret is kept (created with mode 0600 on first start).
    pub jwt_secret_file: String,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            manual_orders: false,
            bind: "127.0.0.1".into(),
            port: 8080,
            cors_origins: Vec::new(),
            behind_tls_proxy: false,
            jwt_secret_file: "mtq-api.secret".into(),
        }
    }
}

/// One `currencies:` entry: the symbol, its timeframe, its risk settings and its strategy's
/// configuration, each parsed once when the file is loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrencyConfig {
    pub symbol: Symbol,
    pub enabled: bool,
    pub timeframe: Timeframe,
    pub strategy_type: String,
    pub risk: SymbolRiskConfig,
    /// The strategy's typed parameters and filters.
    pub strategy: StrategyConfig,
    /// The entry as the configuration gives it (normalized): what an optimiser varies before it
    /// parses a grid point again with [`CurrencyConfig::parse_strategy`].
    pub entry: Value,
    /// The symbol's models (`ml:`): an entry filter, size by confidence, an ensemble and the
    /// position manager around the strategy. `None` (the default): no model.
    pub ml: Option<mtq_ml::MlSettings>,
}

impl CurrencyConfig {
    /// A fresh strategy instance for this entry, from its parsed configuration.
    pub fn build_strategy(&self) -> Result<Box<dyn Strategy>, StrategyError> {
        self.with_ml(self.strategy.build()?)
    }

    /// [`CurrencyConfig::build_strategy`] with its models from `pool`: a trader builds all its
    /// symbols' strategies with one pool, so a model several symbols name is loaded once and a
    /// bar close's inferences run in one batch.
    pub fn build_strategy_in(
        &self,
        pool: &mtq_ml::ModelPool,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        self.with_ml_in(self.strategy.build()?, pool)
    }

    /// `base` behind the entry's models when it has an `ml:` section (read from disk here: a
    /// model that fails to load is handled as its `on_failure` says, and logged), else `base`.
    pub fn with_ml(&self, base: Box<dyn Strategy>) -> Result<Box<dyn Strategy>, StrategyError> {
        self.with_ml_in(base, &mtq_ml::ModelPool::new())
    }

    /// [`CurrencyConfig::with_ml`] with the models from `pool`.
    pub fn with_ml_in(
        &self,
        base: Box<dyn Strategy>,
        pool: &mtq_ml::ModelPool,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        match &self.ml {
            None => Ok(base),
            Some(ml) => mtq_ml::MlFiltered::new_in(base, ml, self.timeframe, pool)
                .map(|f| Box::new(f) as Box<dyn Strategy>)
                .map_err(|e| StrategyError::Wrapper {
                    wrapper: "ml",
                    message: e.to_string(),
                }),
        }
    }

    /// The strategy's part of a `currencies` entry, parsed strictly: the entry's own keys
    /// (`symbol`, `timeframe`...) and the risk settings are left out, and any other key must be
    /// a parameter of the strategy `strategy_type` names, or `filters`.
    pub fn parse_strategy(entry: &Value) -> Result<StrategyConfig, StrategyError> {
        let others = keys::entry_and_risk_keys();
        let own = entry
            .get("strategy_type")
            .and_then(Value::as_str)
            .and_then(mtq_strategies::registry::info)
            .map(|info| info.defaults());
        StrategyConfig::from_entry(entry, |k| {
            // A key both sides know goes to both (none does today).
            others.iter().any(|o| o == k) && own.as_ref().is_none_or(|d| d.get(k).is_none())
        })
    }
}

/// The whole validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct AppConfig {
    pub risk: RiskConfig,
    pub currencies: Vec<CurrencyConfig>,
    pub broker: BrokerSection,
    pub database: DatabaseSection,
    pub trader: TraderSection,
    pub logging: LoggingSection,
    pub api: ApiSection,
    /// Operator notifications and Telegram commands (`mtq-alerts`).
    pub alerts: AlertsSection,
    /// The LLM sentiment filter on entries (`mtq-sentiment`; off unless `enabled`).
    pub sentiment: mtq_sentiment::SentimentConfig,
    /// Where the file part came from (a path, or "built-in defaults").
    pub source: String,
    /// The merged values, for diffs on reload.
    pub raw: Value,
}

/// Where the file layer comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigSource {
    /// This file, which must exist.
    File(PathBuf),
    /// `config/currencies.yaml` if it exists in the working directory, else the embedded default.
    Default,
    /// YAML text (tests, embedding).
    Text(String),
}

/// The prefix of the environment variables that override keys: `MTQ__GLOBAL__MAX_CONCURRENT_TRADES`.
pub const ENV_PREFIX: &str = "MTQ__";

/// Loads and validates: the file layer, then `MTQ__SECTION__KEY` variables, then `overrides`
/// (`("trader.interval_seconds", "1")`, as the command line gives them).
///
/// Every key is checked against the keys the configuration knows; an error names the source of
/// the value (the file, the variable or the flag), its key path, the value and what is expected.
pub fn load(
    source: &ConfigSource,
    overrides: &[(String, String)],
) -> Result<AppConfig, ConfigLoadError> {
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.to_uppercase().starts_with(ENV_PREFIX))
        .collect();
    load_with_env(source, overrides, &env)
}

/// As [`load`], with the environment given (`("MTQ__GLOBAL__MAX_CONCURRENT_TRADES", "3")`)
/// instead of read from the process.
pub fn load_with_env(
    source: &ConfigSource,
    overrides: &[(String, String)],
    env: &[(String, String)],
) -> Result<AppConfig, ConfigLoadError> {
    let (layers, raw) = layered(source, overrides, env)?;
    Ctx {
        layers: &layers,
        raw: &raw,
    }
    .parse()
}

/// Loads every account a file configures (`accounts:`), each validated on its own; a file
/// without `accounts:` is one account named [`DEFAULT_ACCOUNT`], exactly as [`load`] reads it.
pub fn load_accounts(
    source: &ConfigSource,
    overrides: &[(String, String)],
) -> Result<AccountsConfig, ConfigLoadError> {
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.to_uppercase().starts_with(ENV_PREFIX))
        .collect();
    load_accounts_with_env(source, overrides, &env)
}

/// As [`load_accounts`], with the environment given.
pub fn load_accounts_with_env(
    source: &ConfigSource,
    overrides: &[(String, String)],
    env: &[(String, String)],
) -> Result<AccountsConfig, ConfigLoadError> {
    let (layers, raw) = layered(source, overrides, env)?;
    let dir = match source {
        ConfigSource::File(p) => p.parent().map(Path::to_path_buf),
        ConfigSource::Default => Some(PathBuf::from("config")),
        ConfigSource::Text(_) => None,
    };
    accounts::split(&layers, &raw, dir.as_deref())
}

/// The file, environment and override layers merged, every key checked.
fn layered(
    source: &ConfigSource,
    overrides: &[(String, String)],
    env: &[(String, String)],
) -> Result<(Layers, Value), ConfigLoadError> {
    use config::{Config, File, FileFormat};
    let (name, text) = match source {
        ConfigSource::File(p) => (p.display().to_string(), yaml::read_file(p)?),
        ConfigSource::Default if Path::new(DEFAULT_CONFIG_PATH).exists() => (
            DEFAULT_CONFIG_PATH.to_string(),
            yaml::read_file(Path::new(DEFAULT_CONFIG_PATH))?,
        ),
        ConfigSource::Default => ("built-in defaults".to_string(), DEFAULT_CONFIG.to_string()),
        ConfigSource::Text(t) => ("config text".to_string(), t.clone()),
    };
    // Bounded, and every key known, before the `config` crate expands anything.
    let tree = yaml::parse(&name, &text)?;
    keys::Walk {
        source: &name,
        tree: &tree,
    }
    .tree()?;
    let mut layers = Layers {
        file: name,
        set: Vec::new(),
    };
    // Environment variables are applied as overrides of their key path: `config`'s own
    // environment source would turn `MTQ__CURRENCIES__0__RISK_PERCENT` into a map replacing the
    // whole `currencies` list.
    let mut builder = Config::builder().add_source(File::from_str(&text, FileFormat::Yaml));
    for (var, value) in env {
        let Some(rest) = var
            .to_lowercase()
            .strip_prefix(&ENV_PREFIX.to_lowercase())
            .map(str::to_string)
        else {
            continue;
        };
        let path = keys::canonical(&rest.replace("__", "."));
        let label = format!("environment variable {var}");
        finite(&label, &path, value)?;
        builder = builder
            .set_override(path.as_str(), value.as_str())
            .map_err(|e| {
                ConfigLoadError::new(
                    &label,
                    ConfigErrorKind::InvalidValue,
                    &path,
                    redact(&path, value.clone()),
                    e.to_string(),
                )
            })?;
        layers.set.push((path, label));
    }
    for (k, v) in overrides {
        let label = format!("--set {k}");
        finite(&label, k, v)?;
        builder = builder.set_override(k.as_str(), v.as_str()).map_err(|e| {
            ConfigLoadError::new(
                &label,
                ConfigErrorKind::InvalidValue,
                k,
                redact(k, v.clone()),
                e.to_string(),
            )
        })?;
        layers.set.push((keys::canonical(k), label));
    }
    let merged = builder.build().map_err(|e| {
        ConfigLoadError::file(&layers.all(), ConfigErrorKind::Syntax, e.to_string())
    })?;
    let raw: Value = merged.try_deserialize().map_err(|e| {
        ConfigLoadError::file(&layers.all(), ConfigErrorKind::Syntax, e.to_string())
    })?;
    for (path, label) in &layers.set {
        keys::Walk {
            source: label,
            tree: &raw,
        }
        .path(path)?;
    }
    Ok((layers, raw))
}

/// Flattens `raw` to `a.b[2].c = value` lines.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// What changed between two configurations, one `key: old -> new` line per key.
pub fn diff(old: &AppConfig, new: &AppConfig) -> Vec<String> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    flatten("", &normalize(&old.raw), &mut a);
    flatten("", &normalize(&new.raw), &mut b);
    let a: std::collections::BTreeMap<_, _> = a.into_iter().collect();
    let b: std::collections::BTreeMap<_, _> = b.into_iter().collect();
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (a.get(k), b.get(k));
            (x != y).then(|| {
                format!(
                    "{k}: {} -> {}",
                    x.map_or("(none)", String::as_str),
                    y.map_or("(none)", String::as_str)
                )
            })
        })
        .collect()
}

/// Watches a configuration file and reloads it when its modification time changes.
#[derive(Debug)]
pub struct ConfigWatcher {
    path: PathBuf,
    overrides: Vec<(String, String)>,
    modified: Option<SystemTime>,
    /// The account whose configuration this watcher reloads (`accounts:`); `None`: the file's
    /// top level, as a one-account file has it.
    account: Option<String>,
}

impl ConfigWatcher {
    pub fn new(path: PathBuf, overrides: Vec<(String, String)>) -> Self {
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        Self {
            path,
            overrides,
            modified,
            account: None,
        }
    }

    /// Reloads the configuration of account `name` of the file's `accounts:` list.
    #[must_use]
    pub fn for_account(mut self, name: &str) -> Self {
        self.account = Some(name.to_string());
        self
    }

    fn load(&self) -> Result<AppConfig, ConfigLoadError> {
        let source = ConfigSource::File(self.path.clone());
        let Some(name) = &self.account else {
            return load(&source, &self.overrides);
        };
        let mut all = load_accounts(&source, &self.overrides)?;
        match all.accounts.iter().position(|a| &a.name == name) {
            Some(i) => Ok(all.accounts.swap_remove(i).config),
            None => Err(ConfigLoadError::new(
                &self.path.display().to_string(),
                ConfigErrorKind::InvalidValue,
                "accounts",
                name.clone(),
                "the running account is no longer in the file; a reload cannot remove an account",
            )),
        }
    }

    /// Loads the file now, changed or not (an operator's reload command).
    pub fn load_now(&mut self) -> Result<AppConfig, ConfigLoadError> {
        self.modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        self.load()
    }

    /// `None` when the file has not changed; otherwise the newly validated configuration, or why
    /// it was refused (the running configuration then stays as it is).
    pub fn poll(&mut self) -> Option<Result<AppConfig, ConfigLoadError>> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if modified == self.modified {
            return None;
        }
        self.modified = modified;
        Some(self.load())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod error_tests;

#[cfg(test)]
mod accounts_tests;
