//! The keys the configuration knows, and the check that refuses any other with the nearest valid
//! name: a misspelt `risk_percnt` would otherwise leave the default risk in force.
//!
//! The key sets come from the typed sections themselves (their defaults, serialized), so a field
//! added to a section is known here without a second list to keep in step. A section whose default
//! is an empty map (`currency_exposure_caps`) takes any key: its keys are data, checked by type.

use mtq_risk::{EmergencyConfig, ManagementConfig, PortfolioConfig, SymbolRiskConfig};
use mtq_strategies::{FilterSettings, registry};
use serde::Serialize;
use serde_json::Value;

use super::{
    ApiSection, BrokerSection, ConfigErrorKind, ConfigLoadError, DatabaseSection, LoggingSection,
    PortfolioSection, TraderSection,
};

/// The keys of a `currencies` entry that are neither risk nor strategy settings (`ml` is the
/// symbol's models, checked field by field when it is parsed).
const ENTRY_KEYS: [&str; 5] = ["symbol", "enabled", "timeframe", "strategy_type", "ml"];
/// The keys of one `trading_hours` window.
const SESSION_KEYS: [&str; 4] = ["start", "end", "days", "timezone"];

/// The keys of a `currencies` entry that belong to the entry itself or to its risk settings, not
/// to its strategy.
pub(super) fn entry_and_risk_keys() -> Vec<String> {
    let mut keys: Vec<String> = ENTRY_KEYS.iter().map(|k| k.to_string()).collect();
    if let Shape::Keys(risk) = shape_of::<SymbolRiskConfig>() {
        keys.extend(risk.into_iter().map(|(k, _)| k));
    }
    keys
}

/// What may appear at one place in the configuration.
#[derive(Debug, Clone)]
pub(super) enum Shape {
    /// A value: its type is checked when it is deserialized.
    Leaf,
    /// A map with exactly these keys.
    Keys(Vec<(String, Shape)>),
    /// A map whose keys are data.
    AnyKeys,
    /// One map of this shape or a list of them (`trading_hours`).
    OneOrList(Box<Shape>),
    /// The `currencies` list: each entry's keys depend on its `strategy_type`.
    Currencies,
    /// The `accounts` list: each entry is [`account_shape`].
    Accounts,
}

fn shape_of<T: Serialize + Default>() -> Shape {
    shape(&serde_json::to_value(T::default()).unwrap_or(Value::Null))
}

fn shape(v: &Value) -> Shape {
    match v {
        Value::Object(m) if m.is_empty() => Shape::AnyKeys,
        Value::Object(m) => Shape::Keys(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        _ => Shape::Leaf,
    }
}

fn top() -> Shape {
    Shape::Keys(vec![
        ("global".into(), shape_of::<PortfolioConfig>()),
        ("emergency".into(), shape_of::<EmergencyConfig>()),
        ("modifications".into(), shape_of::<ManagementConfig>()),
        ("currencies".into(), Shape::Currencies),
        ("broker".into(), shape_of::<BrokerSection>()),
        ("database".into(), shape_of::<DatabaseSection>()),
        ("trader".into(), shape_of::<TraderSection>()),
        ("logging".into(), shape_of::<LoggingSection>()),
        ("api".into(), shape_of::<ApiSection>()),
        ("portfolio".into(), shape_of::<PortfolioSection>()),
        ("accounts".into(), Shape::Accounts),
        ("alerts".into(), shape_of::<super::AlertsSection>()),
        (
            "sentiment".into(),
            shape_of::<mtq_sentiment::SentimentConfig>(),
        ),
    ])
}

/// The keys an account's own settings may hold (in `accounts:` or in its `file`): its name and
/// switches, and overrides of the sections that may differ per account. `database`, `logging`,
/// `api` and `portfolio` are the process's. Its `currencies` entries are checked once merged
/// with the file's (an override names the symbol and the keys it changes).
pub(super) fn account_shape() -> Shape {
    let Shape::Keys(mut keys) = top() else {
        return Shape::AnyKeys;
    };
    keys.retain(|(k, _)| super::accounts::SECTIONS.contains(&k.as_str()));
    for (k, s) in &mut keys {
        if k == "currencies" {
            *s = Shape::Leaf;
        }
    }
    for k in super::accounts::OWN_KEYS {
        keys.push((k.to_string(), Shape::Leaf));
    }
    Shape::Keys(keys)
}

/// The keys a `currencies` entry for `strategy_type` may hold, or the error naming a
/// `strategy_type` that is no strategy.
fn entry_shape(strategy_type: Option<&Value>) -> Result<Shape, (String, String)> {
    let mut keys: Vec<(String, Shape)> = ENTRY_KEYS
        .iter()
        .map(|k| (k.to_string(), Shape::Leaf))
        .collect();
    if let Shape::Keys(risk) = shape_of::<SymbolRiskConfig>() {
        for (k, s) in risk {
            let s = if k == "trading_hours" {
                let session = SESSION_KEYS.map(|k| (k.to_string(), Shape::Leaf));
                Shape::OneOrList(Box::new(Shape::Keys(session.to_vec())))
            } else {
                s
            };
            keys.push((k, s));
        }
    }
    let name = match strategy_type {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err((other.to_string(), "must be a strategy name".into())),
    };
    let info = registry::info(&name).ok_or_else(|| {
        let names = registry::names();
        let hint = suggest(&name, names.iter().copied())
            .map(|s| format!("did you mean `{s}`? "))
            .unwrap_or_default();
        (
            name.clone(),
            format!("is not a strategy; {hint}valid: {}", names.join(", ")),
        )
    })?;
    if let Value::Object(params) = info.defaults() {
        for k in params.keys() {
            if !keys.iter().any(|(have, _)| have == k) {
                keys.push((k.clone(), Shape::Leaf));
            }
        }
    }
    keys.push(("filters".into(), shape_of::<FilterSettings>()));
    Ok(Shape::Keys(keys))
}

/// Where a check runs: the source to blame, and the whole tree (for the symbol of an entry).
pub(super) struct Walk<'a> {
    pub source: &'a str,
    pub tree: &'a Value,
}

impl Walk<'_> {
    /// Refuses the first unknown key anywhere in `tree` (the file layer).
    pub(super) fn tree(&self) -> Result<(), ConfigLoadError> {
        self.value(&top(), "", self.tree)
    }

    /// Refuses `path` (`global.max_concurrent_trades`, `currencies.0.risk_percent` or
    /// `currencies[0].risk_percent`, as an environment variable or `--set` gives it) when it names
    /// no key.
    pub(super) fn path(&self, path: &str) -> Result<(), ConfigLoadError> {
        let mut shape = top();
        let mut at = String::new();
        for seg in segments(path) {
            let next = match (&shape, seg) {
                (Shape::Keys(keys), Seg::Key(k)) => match keys.iter().find(|(n, _)| n == k) {
                    Some((_, s)) => s.clone(),
                    None => return Err(self.unknown(&at, k, keys)),
                },
                (Shape::Currencies, Seg::Index(i)) => {
                    let entry = self.entry_at(i);
                    let tag = entry.and_then(|e| e.get("strategy_type"));
                    entry_shape(tag).unwrap_or(Shape::AnyKeys)
                }
                (Shape::OneOrList(inner), Seg::Index(_)) => (**inner).clone(),
                (Shape::Accounts, Seg::Index(_)) => account_shape(),
                (Shape::OneOrList(inner), Seg::Key(_)) => {
                    // `trading_hours.start`: the one-map form.
                    shape = (**inner).clone();
                    let Shape::Keys(keys) = &shape else { break };
                    let Seg::Key(k) = seg else { break };
                    match keys.iter().find(|(n, _)| n == k) {
                        Some((_, s)) => s.clone(),
                        None => return Err(self.unknown(&at, k, keys)),
                    }
                }
                (Shape::Leaf | Shape::AnyKeys, _) => break,
                // An index into a map or a key of the list: the type check reports it.
                _ => break,
            };
            at = join(&at, &seg);
            shape = next;
        }
        Ok(())
    }

    fn entry_at(&self, i: usize) -> Option<&Value> {
        match self.tree.get("currencies")? {
            Value::Array(a) => a.get(i),
            Value::Object(m) => m.get(&i.to_string()),
            _ => None,
        }
    }

    fn value(&self, shape: &Shape, at: &str, v: &Value) -> Result<(), ConfigLoadError> {
        match (shape, v) {
            (Shape::Keys(keys), Value::Object(m)) => {
                for (k, x) in m {
                    match keys.iter().find(|(n, _)| n == k) {
                        Some((_, s)) => self.value(s, &join(at, &Seg::Key(k)), x)?,
                        None => return Err(self.unknown(at, k, keys)),
                    }
                }
                Ok(())
            }
            (Shape::OneOrList(inner), Value::Array(a)) => {
                for (i, x) in a.iter().enumerate() {
                    self.value(inner, &join(at, &Seg::Index(i)), x)?;
                }
                Ok(())
            }
            (Shape::OneOrList(inner), Value::Object(_)) => self.value(inner, at, v),
            (Shape::Accounts, Value::Array(a)) => {
                let shape = account_shape();
                for (i, x) in a.iter().enumerate() {
                    self.value(&shape, &join(at, &Seg::Index(i)), x)?;
                }
                Ok(())
            }
            (Shape::Currencies, Value::Array(a)) => {
                for (i, x) in a.iter().enumerate() {
                    let at = join(at, &Seg::Index(i));
                    if let Value::Object(entry) = x {
                        let shape = entry_shape(entry.get("strategy_type")).map_err(
                            |(value, reason)| {
                                ConfigLoadError::new(
                                    self.source,
                                    ConfigErrorKind::InvalidValue,
                                    pretty(&format!("{at}.strategy_type"), self.tree),
                                    value,
                                    reason,
                                )
                            },
                        )?;
                        self.value(&shape, &at, x)?;
                    }
                }
                Ok(())
            }
            // A wrong type (a list where a map belongs) is for the type check to name.
            _ => Ok(()),
        }
    }

    fn unknown(&self, at: &str, key: &str, keys: &[(String, Shape)]) -> ConfigLoadError {
        let names = keys.iter().map(|(n, _)| n.as_str());
        let place = if at.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in {}", pretty(at, self.tree))
        };
        let hint = match suggest(key, names.clone()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("valid keys: {}", names.collect::<Vec<_>>().join(", ")),
        };
        ConfigLoadError {
            file: self.source.to_string(),
            kind: ConfigErrorKind::UnknownKey,
            key: pretty(&join(at, &Seg::Key(key)), self.tree),
            value: String::new(),
            reason: format!("unknown key `{key}` {place}; {hint}"),
        }
    }
}

/// One step of a key path.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `currencies[0].risk_percent` and `currencies.0.risk_percent` alike.
fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').unwrap_or((part, ""));
        if !name.is_empty() {
            out.push(match name.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(name),
            });
        }
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse::<usize>() {
                out.push(Seg::Index(i));
            }
        }
    }
    out
}

fn join(at: &str, seg: &Seg<'_>) -> String {
    match seg {
        Seg::Index(i) => format!("{at}[{i}]"),
        Seg::Key(k) if at.is_empty() => k.to_string(),
        Seg::Key(k) => format!("{at}.{k}"),
    }
}

/// The canonical form of a key path: `currencies[0].risk_percent`.
pub(super) fn canonical(path: &str) -> String {
    segments(path)
        .iter()
        .fold(String::new(), |at, seg| join(&at, seg))
}

/// A key path as a person reads it: `currencies[0] (EURUSD).risk_percent`.
pub(super) fn pretty(path: &str, tree: &Value) -> String {
    let path = canonical(path);
    if let Some(rest) = path.strip_prefix("accounts[") {
        let name = rest.split_once(']').and_then(|(idx, tail)| {
            let i = idx.parse::<usize>().ok()?;
            let entry = tree.get("accounts")?.as_array()?.get(i)?;
            let name = entry.get("name")?.as_str()?;
            Some(format!("accounts[{idx}] ({name}){tail}"))
        });
        return name.unwrap_or(path);
    }
    let Some(rest) = path.strip_prefix("currencies[") else {
        return path;
    };
    let Some((idx, tail)) = rest.split_once(']') else {
        return path;
    };
    let symbol = idx.parse::<usize>().ok().and_then(|i| {
        let entry = match tree.get("currencies")? {
            Value::Array(a) => a.get(i)?,
            Value::Object(m) => m.get(&i.to_string())?,
            _ => return None,
        };
        entry.get("symbol")?.as_str().map(str::to_string)
    });
    match symbol {
        Some(s) => format!("currencies[{idx}] ({s}){tail}"),
        None => path,
    }
}

/// Checks one account's own settings (its `file`), `at` being `accounts[i]`.
pub(super) fn account(source: &str, tree: &Value) -> Result<(), ConfigLoadError> {
    Walk { source, tree }.value(&account_shape(), "", tree)
}

/// The valid name nearest to `key`, if one is near enough to be what was meant.
pub(super) fn suggest<'a>(
    key: &str,
    names: impl Iterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    let key = key.to_lowercase();
    let (best, dist) = names
        .clone()
        .map(|n| (n, levenshtein(&key, n)))
        .min_by_key(|(_, d)| *d)?;
    if dist <= (key.chars().count() / 3).max(2) {
        return Some(best);
    }
    // A part of the name (`risk_percent` for `portfolio_risk_percent`) is near enough too.
    (key.len() >= 4)
        .then(|| {
            names
                .filter(|n| n.contains(key.as_str()) || key.contains(n))
                .min_by_key(|n| n.len().abs_diff(key.len()))
        })
        .flatten()
}

/// Edits (insert, delete, substitute) from `a` to `b`.
pub(super) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
