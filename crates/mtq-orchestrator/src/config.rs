//! The trader's configuration: TradingMTQ's `currencies.yaml` layout plus MTQ's sections,
//! layered (file, then `MTQ__SECTION__KEY` environment variables, then command-line overrides),
//! validated once into typed structs, and watched for changes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use mtq_core::{Currency, Decimal, MarginMode, Symbol, Timeframe};
use mtq_risk::{RiskConfig, SymbolRiskConfig};
use mtq_strategies::{Strategy, StrategyError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The configuration MTQ ships with: `config/currencies.yaml`, embedded.
pub const DEFAULT_CONFIG: &str = include_str!("../../../config/currencies.yaml");
/// Where the trader looks for its configuration when not told.
pub const DEFAULT_CONFIG_PATH: &str = "config/currencies.yaml";

/// A configuration problem, naming where, which key, and the bad value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {}{reason}", if key.is_empty() { String::new() } else { format!("{key} = {value}: ") })]
pub struct ConfigLoadError {
    /// The file (or "built-in defaults", "command line").
    pub file: String,
    pub key: String,
    pub value: String,
    pub reason: String,
}

impl ConfigLoadError {
    fn new(
        source: &str,
        key: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            file: source.to_string(),
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
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

/// Loads and validates: the file layer, then `MTQ__SECTION__KEY` variables, then `overrides`
/// (`("trader.interval_seconds", "1")`, as the command line gives them).
pub fn load(
    source: &ConfigSource,
    overrides: &[(String, String)],
) -> Result<AppConfig, ConfigLoadError> {
    use config::{Config, Environment, File, FileFormat};
    let (name, mut builder) = match source {
        ConfigSource::File(p) => (
            p.display().to_string(),
            Config::builder().add_source(
                File::from(p.as_path())
                    .format(FileFormat::Yaml)
                    .required(true),
            ),
        ),
        ConfigSource::Default if Path::new(DEFAULT_CONFIG_PATH).exists() => (
            DEFAULT_CONFIG_PATH.to_string(),
            Config::builder().add_source(File::new(DEFAULT_CONFIG_PATH, FileFormat::Yaml)),
        ),
        ConfigSource::Default => (
            "built-in defaults".to_string(),
            Config::builder().add_source(File::from_str(DEFAULT_CONFIG, FileFormat::Yaml)),
        ),
        ConfigSource::Text(t) => (
            "config text".to_string(),
            Config::builder().add_source(File::from_str(t, FileFormat::Yaml)),
        ),
    };
    builder = builder.add_source(
        Environment::with_prefix("MTQ")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true),
    );
    for (k, v) in overrides {
        builder = builder
            .set_override(k.as_str(), v.as_str())
            .map_err(|e| ConfigLoadError::new("command line", k, v, e.to_string()))?;
    }
    let merged = builder
        .build()
        .map_err(|e| ConfigLoadError::new(&name, "", "", e.to_string()))?;
    let raw: Value = merged
        .try_deserialize()
        .map_err(|e| ConfigLoadError::new(&name, "", "", e.to_string()))?;
    parse(&name, raw)
}

fn section<T: for<'de> Deserialize<'de> + Default>(
    src: &str,
    raw: &Value,
    key: &str,
) -> Result<T, ConfigLoadError> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(normalize(v))
            .map_err(|e| ConfigLoadError::new(src, key, short(v), e.to_string())),
    }
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
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..77])
    } else {
        s
    }
}

fn parse(src: &str, raw: Value) -> Result<AppConfig, ConfigLoadError> {
    let mut risk_raw = serde_json::Map::new();
    for k in ["global", "emergency", "modifications"] {
        if let Some(v) = raw.get(k) {
            risk_raw.insert(k.to_string(), normalize(v));
        }
    }
    let risk: RiskConfig = serde_json::from_value(Value::Object(risk_raw)).map_err(|e| {
        ConfigLoadError::new(src, "global/emergency/modifications", "", e.to_string())
    })?;
    risk.validate()
        .map_err(|e| ConfigLoadError::new(src, e.field.clone(), e.value.clone(), e.reason))?;
    let currencies = parse_currencies(src, &raw)?;
    let trader: TraderSection = section(src, &raw, "trader")?;
    crate::check_prefix(&trader.id_prefix).map_err(|e| {
        ConfigLoadError::new(src, "trader.id_prefix", &trader.id_prefix, e.to_string())
    })?;
    if trader.interval_seconds == 0 {
        return Err(ConfigLoadError::new(
            src,
            "trader.interval_seconds",
            "0",
            "must be at least 1",
        ));
    }
    let broker: BrokerSection = section(src, &raw, "broker")?;
    let mut currencies = currencies;
    for c in &mut currencies {
        // Sizing counts the round-trip commission as risk: a symbol without its own rate pays
        // the broker's.
        if c.entry.get("commission_per_lot").is_none() {
            c.risk.commission_per_lot = broker.commission_per_lot;
        }
    }
    if broker.leverage == 0 || broker.deposit <= Decimal::ZERO {
        return Err(ConfigLoadError::new(
            src,
            "broker.leverage / broker.deposit",
            format!("{} / {}", broker.leverage, broker.deposit),
            "must both be positive",
        ));
    }
    Ok(AppConfig {
        risk,
        currencies,
        broker,
        database: section(src, &raw, "database")?,
        trader,
        logging: section(src, &raw, "logging")?,
        source: src.to_string(),
        raw,
    })
}

fn parse_currencies(src: &str, raw: &Value) -> Result<Vec<CurrencyConfig>, ConfigLoadError> {
    let list = match raw.get("currencies") {
        Some(Value::Array(a)) => a.clone(),
        // Environment overrides turn lists into maps keyed by index.
        Some(Value::Object(m)) => m.values().cloned().collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            return Err(ConfigLoadError::new(
                src,
                "currencies",
                short(other),
                "must be a list of symbol entries",
            ));
        }
    };
    let mut out: Vec<CurrencyConfig> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let entry = normalize(entry);
        let name = entry
            .get("symbol")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = name.as_str();
        let at = |k: &str| format!("currencies[{i}].{k}");
        let symbol = Symbol::new(name)
            .map_err(|e| ConfigLoadError::new(src, at("symbol"), name, e.to_string()))?;
        if out.iter().any(|c| c.symbol == symbol) {
            return Err(ConfigLoadError::new(
                src,
                at("symbol"),
                name,
                "listed twice",
            ));
        }
        let enabled = entry
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let tf_text = entry
            .get("timeframe")
            .and_then(Value::as_str)
            .unwrap_or("M5");
        let timeframe: Timeframe = tf_text.parse().map_err(|e: mtq_core::CoreError| {
            ConfigLoadError::new(src, at("timeframe"), tf_text, e.to_string())
        })?;
        let strategy_type = entry
            .get("strategy_type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let risk: SymbolRiskConfig = serde_json::from_value(entry.clone()).map_err(|e| {
            ConfigLoadError::new(src, format!("currencies[{i}] ({name})"), "", e.to_string())
        })?;
        risk.validate(name)
            .map_err(|e| ConfigLoadError::new(src, e.field.clone(), e.value.clone(), e.reason))?;
        let c = CurrencyConfig {
            symbol,
            enabled,
            timeframe,
            strategy_type,
            risk,
            entry,
        };
        c.build_strategy().map_err(|e| {
            ConfigLoadError::new(
                src,
                format!("currencies[{i}] ({name})"),
                &c.strategy_type,
                e.to_string(),
            )
        })?;
        out.push(c);
    }
    Ok(out)
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
