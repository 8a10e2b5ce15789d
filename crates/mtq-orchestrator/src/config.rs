//! The trader's configuration: TradingMTQ's `currencies.yaml` layout plus MTQ's sections,
//! layered (file, then `MTQ__SECTION__KEY` environment variables, then command-line overrides),
//! validated once into typed structs, and watched for changes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use mtq_core::{Currency, Decimal, MarginMode, Symbol, Timeframe};
use mtq_risk::{RiskConfig, SymbolRiskConfig};
use mtq_strategies::{Strategy, StrategyError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod keys;
mod yaml;

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
}

impl Default for TraderSection {
    fn default() -> Self {
        Self {
            magic: 20_240_304,
            id_prefix: "mtq".into(),
            interval_seconds: 5,
            unknown_positions: UnknownPositions::Ignore,
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

/// One `currencies:` entry: the symbol, its timeframe, its risk settings, and the whole entry
/// for the strategy registry (which reads `strategy_type` and its own keys from it).
#[derive(Clone, Debug, PartialEq)]
pub struct CurrencyConfig {
    pub symbol: Symbol,
    pub enabled: bool,
    pub timeframe: Timeframe,
    pub strategy_type: String,
    pub risk: SymbolRiskConfig,
    pub entry: Value,
}

impl CurrencyConfig {
    /// A fresh strategy instance for this entry.
    pub fn build_strategy(&self) -> Result<Box<dyn Strategy>, StrategyError> {
        mtq_strategies::registry::build_entry(&self.entry)
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
    Ctx {
        layers: &layers,
        raw: &raw,
    }
    .parse()
}

/// Where each value came from: the file, unless an environment variable or a flag set its key.
struct Layers {
    file: String,
    /// `(canonical key path, source)`, environment first, then flags: the last match wins.
    set: Vec<(String, String)>,
}

impl Layers {
    /// The source of the value at `key` (or of a value inside it, or of the section holding it).
    fn source_of(&self, key: &str) -> &str {
        let key = keys::canonical(key);
        let within = |inner: &str, outer: &str| {
            inner == outer
                || inner.starts_with(&format!("{outer}."))
                || inner.starts_with(&format!("{outer}["))
        };
        self.set
            .iter()
            .rev()
            .find(|(path, _)| within(&key, path))
            .or_else(|| self.set.iter().rev().find(|(path, _)| within(path, &key)))
            .map_or(&self.file, |(_, label)| label)
    }

    /// Every source, for an error that cannot be pinned on one.
    fn all(&self) -> String {
        let mut all = vec![self.file.clone()];
        all.extend(self.set.iter().map(|(_, label)| label.clone()));
        all.join(", ")
    }
}

/// Refuses `nan`, `inf` and numbers beyond a float's range from the environment or a flag.
fn finite(label: &str, key: &str, value: &str) -> Result<(), ConfigLoadError> {
    let v = value.trim().to_lowercase();
    let v = v.strip_prefix(['+', '-']).unwrap_or(&v);
    let special = matches!(v, "nan" | ".nan" | "inf" | ".inf" | "infinity");
    if special || value.trim().parse::<f64>().is_ok_and(|f| !f.is_finite()) {
        return Err(ConfigLoadError::new(
            label,
            ConfigErrorKind::NotFinite,
            key,
            value,
            "must be a finite number",
        ));
    }
    Ok(())
}

/// Numbers that arrived as strings (environment variables, `--set`) become numbers again, and
/// "true"/"false" booleans, so typed fields accept them.
fn normalize(v: &Value) -> Value {
    match v {
        Value::String(s) => match (s.parse::<i64>(), s.parse::<f64>(), s.as_str()) {
            (Ok(i), _, _) => Value::from(i),
            (_, Ok(f), _) if f.is_finite() => Value::from(f),
            (_, _, "true") => Value::Bool(true),
            (_, _, "false") => Value::Bool(false),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(77).collect::<String>())
    } else {
        s
    }
}

/// Hides the password of a URL (`postgres://mtq:secret@host/db`): values reach messages and logs.
fn redact(key: &str, value: String) -> String {
    if !key.ends_with("url") {
        return value;
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return value;
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or("");
            format!("{scheme}://{name}:****@{host}")
        }
        _ => value,
    }
}

/// What a key expects, for a value of the wrong type: the key's own range where it has one,
/// else the type serde names.
fn expected(key: &str, serde_msg: &str) -> String {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    let leaf = leaf.split('[').next().unwrap_or(leaf);
    let range = match leaf {
        "risk_percent"
        | "portfolio_risk_percent"
        | "max_daily_loss_percent"
        | "max_drawdown_percent" => Some("a number between 0 and 100"),
        "partial_close_percent" => Some("a number above 0 and below 100"),
        "equity_fraction" | "stacking_risk_multiplier" => Some("a number above 0 and at most 1"),
        "max_concurrent_trades"
        | "max_positions_same_direction"
        | "max_total_positions"
        | "max_consecutive_order_failures"
        | "max_holding_minutes"
        | "interval_seconds"
        | "leverage" => Some("a whole number >= 1"),
        "mt5_port" => Some("a port number from 1 to 65535"),
        _ => None,
    };
    if let Some(r) = range {
        return format!("expected {r}");
    }
    let named = serde_msg.rsplit(", expected ").next().unwrap_or("");
    let kind = match named.trim() {
        d if d.starts_with("a Decimal") => "a number",
        "f64" | "f32" => "a number",
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number >= 0",
        "i32" | "i64" => "a whole number",
        "a boolean" => "true or false",
        _ => return serde_msg.to_string(),
    };
    format!("expected {kind}")
}

/// The merged configuration being turned into typed sections.
struct Ctx<'a> {
    layers: &'a Layers,
    raw: &'a Value,
}

impl Ctx<'_> {
    /// An invalid value at `key`, blamed on the source that set it.
    fn err(
        &self,
        key: &str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> ConfigLoadError {
        ConfigLoadError::new(
            self.layers.source_of(key),
            ConfigErrorKind::InvalidValue,
            keys::pretty(key, self.raw),
            redact(key, value.into()),
            reason,
        )
    }

    /// `v` (the map at `at`) as `T`; on failure, the first key that fails on its own (one level
    /// down for a nested map), with its value and what it expects.
    fn typed<T: DeserializeOwned>(&self, at: &str, v: &Value) -> Result<T, ConfigLoadError> {
        let de = |v: Value| serde_json::from_value::<T>(v);
        let whole = match de(v.clone()) {
            Ok(t) => return Ok(t),
            Err(e) => e.to_string(),
        };
        let join = |a: &str, k: &str| {
            if a.is_empty() {
                k.to_string()
            } else {
                format!("{a}.{k}")
            }
        };
        if let Value::Object(m) = v {
            for (k, x) in m {
                let one =
                    |inner: Value| Value::Object(serde_json::Map::from_iter([(k.clone(), inner)]));
                let Err(e) = de(one(x.clone())) else { continue };
                if let Value::Object(inner) = x {
                    for (k2, y) in inner {
                        let two = one(Value::Object(serde_json::Map::from_iter([(
                            k2.clone(),
                            y.clone(),
                        )])));
                        if let Err(e2) = de(two) {
                            let key = join(&join(at, k), k2);
                            return Err(self.err(&key, short(y), expected(&key, &e2.to_string())));
                        }
                    }
                }
                let key = join(at, k);
                return Err(self.err(&key, short(x), expected(&key, &e.to_string())));
            }
        }
        Err(self.err(at, short(v), expected(at, &whole)))
    }

    /// A section (`trader:`), its defaults when left out.
    fn section<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, ConfigLoadError> {
        match self.raw.get(key) {
            None | Some(Value::Null) => Ok(T::default()),
            Some(v) => self.typed(key, &normalize(v)),
        }
    }

    /// A risk validation error (`global.max_concurrent_trades`), blamed on its source.
    fn invalid(&self, e: mtq_risk::ConfigError) -> ConfigLoadError {
        self.err(&e.field, e.value, e.reason)
    }

    fn parse(&self) -> Result<AppConfig, ConfigLoadError> {
        let risk = RiskConfig {
            global: self.section("global")?,
            emergency: self.section("emergency")?,
            modifications: self.section("modifications")?,
        };
        risk.validate().map_err(|e| self.invalid(e))?;
        let currencies = self.currencies()?;
        let trader: TraderSection = self.section("trader")?;
        crate::check_prefix(&trader.id_prefix)
            .map_err(|e| self.err("trader.id_prefix", &trader.id_prefix, e.to_string()))?;
        if trader.interval_seconds == 0 {
            return Err(self.err("trader.interval_seconds", "0", "must be at least 1"));
        }
        let broker: BrokerSection = self.section("broker")?;
        let mut currencies = currencies;
        for c in &mut currencies {
            // Sizing counts the round-trip commission as risk: a symbol without its own rate pays
            // the broker's.
            if c.entry.get("commission_per_lot").is_none() {
                c.risk.commission_per_lot = broker.commission_per_lot;
            }
        }
        if broker.leverage == 0 {
            return Err(self.err("broker.leverage", "0", "must be at least 1"));
        }
        if broker.deposit <= Decimal::ZERO {
            return Err(self.err(
                "broker.deposit",
                broker.deposit.to_string(),
                "must be greater than zero",
            ));
        }
        Ok(AppConfig {
            risk,
            currencies,
            broker,
            database: self.section("database")?,
            trader,
            logging: self.section("logging")?,
            source: self.layers.file.clone(),
            raw: self.raw.clone(),
        })
    }

    fn currencies(&self) -> Result<Vec<CurrencyConfig>, ConfigLoadError> {
        let list = match self.raw.get("currencies") {
            Some(Value::Array(a)) => a.clone(),
            // A map keyed by index (overrides of a list the file does not have) reads as a list.
            Some(Value::Object(m)) => m.values().cloned().collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(other) => {
                return Err(self.err(
                    "currencies",
                    short(other),
                    "must be a list of symbol entries",
                ));
            }
        };
        let mut out: Vec<CurrencyConfig> = Vec::new();
        for (i, entry) in list.iter().enumerate() {
            let at = |k: &str| format!("currencies[{i}].{k}");
            let entry = normalize(entry);
            if !entry.is_object() {
                return Err(self.err(
                    &format!("currencies[{i}]"),
                    short(&entry),
                    "expected a map of keys (symbol, strategy_type, ...)",
                ));
            }
            let text = |k: &str, what: &str| -> Result<Option<String>, ConfigLoadError> {
                match entry.get(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(other) => Err(self.err(&at(k), short(other), format!("expected {what}"))),
                }
            };
            let name = text("symbol", "a symbol name such as EURUSD")?.ok_or_else(|| {
                self.err(
                    &at("symbol"),
                    "",
                    "is missing: every entry names its symbol",
                )
            })?;
            let name = name.as_str();
            let symbol =
                Symbol::new(name).map_err(|e| self.err(&at("symbol"), name, e.to_string()))?;
            if out.iter().any(|c| c.symbol == symbol) {
                return Err(self.err(&at("symbol"), name, "listed twice"));
            }
            let enabled = match entry.get("enabled") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(self.err(&at("enabled"), short(other), "expected true or false"));
                }
            };
            let tf_text = text("timeframe", "a timeframe such as M5 or H1")?
                .unwrap_or_else(|| "M5".to_string());
            let timeframe: Timeframe = tf_text.parse().map_err(|e: mtq_core::CoreError| {
                self.err(&at("timeframe"), &tf_text, e.to_string())
            })?;
            let strategy_type = text("strategy_type", "a strategy name")?.unwrap_or_default();
            let risk: SymbolRiskConfig = self.typed(&format!("currencies[{i}]"), &entry)?;
            risk.validate(name).map_err(|e| {
                // `currencies.EURUSD.risk_percent` -> `currencies[0].risk_percent`
                let field = e.field.strip_prefix(&format!("currencies.{name}.")).map(at);
                self.err(&field.unwrap_or(e.field), e.value, e.reason)
            })?;
            let c = CurrencyConfig {
                symbol,
                enabled,
                timeframe,
                strategy_type,
                risk,
                entry,
            };
            c.build_strategy().map_err(|e| match e {
                StrategyError::Param(p) => {
                    let value = p.value.trim_matches('"').to_string();
                    let key = at(&p.field);
                    self.err(&key, value, expected(&key, &p.expected))
                }
                other => self.err(&at("strategy_type"), &c.strategy_type, other.to_string()),
            })?;
            out.push(c);
        }
        Ok(out)
    }
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
}

impl ConfigWatcher {
    pub fn new(path: PathBuf, overrides: Vec<(String, String)>) -> Self {
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        Self {
            path,
            overrides,
            modified,
        }
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
        Some(load(
            &ConfigSource::File(self.path.clone()),
            &self.overrides,
        ))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod error_tests;
