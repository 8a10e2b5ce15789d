//! From the merged layers to the typed configuration: which source set each key, and the
//! errors that name that source, the key path, the value and what is expected.

use mtq_core::{Decimal, Symbol, Timeframe};
use mtq_risk::{RiskConfig, SymbolRiskConfig};
use mtq_strategies::StrategyError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    AppConfig, BrokerSection, ConfigErrorKind, ConfigLoadError, CurrencyConfig, TraderSection, keys,
};

/// Where each value came from: the file, unless an environment variable or a flag set its key.
pub(super) struct Layers {
    pub(super) file: String,
    /// `(canonical key path, source)`, environment first, then flags: the last match wins.
    pub(super) set: Vec<(String, String)>,
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
    pub(super) fn all(&self) -> String {
        let mut all = vec![self.file.clone()];
        all.extend(self.set.iter().map(|(_, label)| label.clone()));
        all.join(", ")
    }
}

/// Refuses `nan`, `inf` and numbers beyond a float's range from the environment or a flag.
pub(super) fn finite(label: &str, key: &str, value: &str) -> Result<(), ConfigLoadError> {
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
pub(super) fn normalize(v: &Value) -> Value {
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
pub(super) fn redact(key: &str, value: String) -> String {
    // A secret key's value (`alerts.telegram.bot_token`) is never shown.
    if ["token", "secret", "password"]
        .iter()
        .any(|w| key.ends_with(w))
    {
        return "****".into();
    }
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
pub(super) struct Ctx<'a> {
    pub(super) layers: &'a Layers,
    pub(super) raw: &'a Value,
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
    pub(super) fn section<T: DeserializeOwned + Default>(
        &self,
        key: &str,
    ) -> Result<T, ConfigLoadError> {
        match self.raw.get(key) {
            None | Some(Value::Null) => Ok(T::default()),
            Some(v) => self.typed(key, &normalize(v)),
        }
    }

    /// A risk validation error (`global.max_concurrent_trades`), blamed on its source.
    fn invalid(&self, e: mtq_risk::ConfigError) -> ConfigLoadError {
        self.err(&e.field, e.value, e.reason)
    }

    pub(super) fn parse(&self) -> Result<AppConfig, ConfigLoadError> {
        let risk = RiskConfig {
            global: self.section("global")?,
            emergency: self.section("emergency")?,
            modifications: self.section("modifications")?,
        };
        risk.validate().map_err(|e| self.invalid(e))?;
        let currencies = self.currencies()?;
        for (i, c) in currencies.iter().enumerate() {
            let stops = c.strategy.params.stops();
            if !stops.stop_mode.places_stop_loss() {
                mtq_risk::check_stopless_entries(&c.risk, risk.global.portfolio_risk_percent)
                    .map_err(|e| {
                        self.err(&format!("currencies[{i}].stop_mode"), "none", e.to_string())
                    })?;
            }
        }
        let trader: TraderSection = self.section("trader")?;
        crate::check_prefix(&trader.id_prefix)
            .map_err(|e| self.err("trader.id_prefix", &trader.id_prefix, e.to_string()))?;
        if trader.interval_seconds == 0 {
            return Err(self.err("trader.interval_seconds", "0", "must be at least 1"));
        }
        if !super::APPROVAL_TTL_SECONDS.contains(&trader.approval_ttl_seconds) {
            return Err(self.err(
                "trader.approval_ttl_seconds",
                trader.approval_ttl_seconds.to_string(),
                format!(
                    "must be {} to {} seconds",
                    super::APPROVAL_TTL_SECONDS.start(),
                    super::APPROVAL_TTL_SECONDS.end()
                ),
            ));
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
            api: self.section("api")?,
            alerts: self.section("alerts")?,
            sentiment: self.sentiment()?,
            source: self.layers.file.clone(),
            raw: self.raw.clone(),
        })
    }

    /// `sentiment:`, checked when enabled (the API key's variable must be set at load, so a
    /// missing key stops the start, not the first signal).
    fn sentiment(&self) -> Result<mtq_sentiment::SentimentConfig, ConfigLoadError> {
        let section: mtq_sentiment::SentimentConfig = self.section("sentiment")?;
        if section.enabled
            && let Err(mtq_sentiment::SentimentError::Config { key, reason }) =
                section.validate(|var| std::env::var(var).ok())
        {
            let value = self
                .raw
                .pointer(&format!("/{}", key.replace('.', "/")))
                .map(|v| v.to_string())
                .unwrap_or_default();
            return Err(self.err(&key, value, reason));
        }
        Ok(section)
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
            let refused = |e: StrategyError| match e {
                StrategyError::Param(p) => {
                    let value = p.value.trim_matches('"').to_string();
                    let key = at(&p.field);
                    self.err(&key, value, expected(&key, &p.expected))
                }
                other => self.err(&at("strategy_type"), &strategy_type, other.to_string()),
            };
            let strategy = CurrencyConfig::parse_strategy(&entry).map_err(refused)?;
            // Built once here so that what only the indicators check is refused at load too.
            strategy.build().map_err(refused)?;
            let ml = match entry.get("ml") {
                None | Some(Value::Null) => None,
                Some(v) => {
                    let ml: mtq_ml::MlSettings = serde_json::from_value(v.clone())
                        .map_err(|e| self.err(&at("ml"), short(v), e.to_string()))?;
                    ml.validate()
                        .map_err(|e| self.err(&at("ml"), short(v), e.to_string()))?;
                    Some(ml)
                }
            };
            out.push(CurrencyConfig {
                symbol,
                enabled,
                timeframe,
                strategy_type,
                risk,
                strategy,
                entry,
                ml,
            });
        }
        Ok(out)
    }
}
