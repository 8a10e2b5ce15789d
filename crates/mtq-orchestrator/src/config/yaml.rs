//! Reading the file layer safely: the file itself (not found, a directory, too large, empty), then
//! the YAML, bounded before anything is built from it.
//!
//! YAML aliases repeat a whole anchored node, so ten lines of nested aliases (the "billion laughs")
//! expand to a billion values: `yaml-rust2`, which the `config` crate parses with, clones every
//! alias and runs out of memory. So the text is first read as an event stream, which expands
//! nothing, counting how many values the document would expand to and how deep it nests; only a
//! document within both bounds is loaded.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::{Yaml, YamlLoader};

use super::{ConfigErrorKind, ConfigLoadError};

/// The largest configuration file read: the shipped ones are a few KiB.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// The most values a document may expand to, aliases expanded (the shipped one has ~200).
pub const MAX_EXPANDED_VALUES: u64 = 100_000;
/// The deepest nesting of maps and lists (the shipped configuration nests 4 deep).
pub const MAX_DEPTH: usize = 64;

/// Reads `path` as text, naming what is wrong with it.
pub(super) fn read_file(path: &Path) -> Result<String, ConfigLoadError> {
    let name = path.display().to_string();
    let fail = |kind, reason: String| ConfigLoadError::file(&name, kind, reason);
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(ConfigErrorKind::NotFound, "not found".into()));
        }
        Err(e) => {
            return Err(fail(
                ConfigErrorKind::Unreadable,
                format!("cannot be read: {e}"),
            ));
        }
    };
    if meta.is_dir() {
        return Err(fail(
            ConfigErrorKind::NotAFile,
            "is a directory, not a file".into(),
        ));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(fail(ConfigErrorKind::TooLarge, too_large(meta.len())));
    }
    // Read at most one byte past the cap: the file may grow between the two calls.
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(ConfigErrorKind::Unreadable, format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(fail(
            ConfigErrorKind::TooLarge,
            too_large(bytes.len() as u64),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(
            ConfigErrorKind::Unreadable,
            format!(
                "is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

fn too_large(len: u64) -> String {
    format!("is {len} bytes; a configuration above {MAX_CONFIG_BYTES} bytes (1 MiB) is refused")
}

/// Parses `text` (from `source`) into the JSON tree the rest of the loader works on, refusing
/// oversized, alias-bombed, too deeply nested, empty and non-map documents and non-finite numbers.
pub(super) fn parse(source: &str, text: &str) -> Result<Value, ConfigLoadError> {
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigLoadError::file(
            source,
            ConfigErrorKind::TooLarge,
            too_large(text.len() as u64),
        ));
    }
    let syntax = |e: yaml_rust2::ScanError| {
        ConfigLoadError::file(
            source,
            ConfigErrorKind::Syntax,
            format!("invalid YAML: {e}"),
        )
    };
    bound(source, text, syntax)?;
    let docs = YamlLoader::load_from_str(text).map_err(syntax)?;
    let root = match docs.as_slice() {
        [] | [Yaml::Null] => {
            return Err(ConfigLoadError::file(
                source,
                ConfigErrorKind::Empty,
                "is empty: it must hold the configuration's sections (global, currencies, ...)"
                    .into(),
            ));
        }
        [one] => one,
        more => {
            return Err(ConfigLoadError::file(
                source,
                ConfigErrorKind::Syntax,
                format!("holds {} YAML documents; one is expected", more.len()),
            ));
        }
    };
    if !matches!(root, Yaml::Hash(_)) {
        return Err(ConfigLoadError::file(
            source,
            ConfigErrorKind::InvalidValue,
            "must be a map of sections (global, currencies, broker, ...)".into(),
        ));
    }
    to_json(source, "", root)
}

/// Walks the event stream once, counting expanded values and nesting; builds nothing.
fn bound(
    source: &str,
    text: &str,
    syntax: impl Fn(yaml_rust2::ScanError) -> ConfigLoadError,
) -> Result<(), ConfigLoadError> {
    let refuse = |reason: String| {
        Err(ConfigLoadError::file(
            source,
            ConfigErrorKind::TooComplex,
            reason,
        ))
    };
    // Per anchor, how many values the anchored node expands to; per open map or list, its own.
    let mut anchors: HashMap<usize, u64> = HashMap::new();
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut total: u64 = 0;
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, _) = parser.next_token().map_err(&syntax)?;
        let (size, anchor) = match event {
            Event::StreamEnd => return Ok(()),
            Event::Scalar(_, _, anchor, _) => (1, anchor),
            Event::Alias(id) => (anchors.get(&id).copied().unwrap_or(1), 0),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, 1));
                total += 1;
                if open.len() > MAX_DEPTH {
                    return refuse(format!(
                        "nests maps and lists more than {MAX_DEPTH} levels deep; refused"
                    ));
                }
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some((anchor, size)) => {
                    // Its values were counted into `total` as they came.
                    close(&mut anchors, &mut open, anchor, size);
                    continue;
                }
                None => continue,
            },
            _ => continue,
        };
        total = total.saturating_add(size);
        if total > MAX_EXPANDED_VALUES {
            return refuse(format!(
                "expands to more than {MAX_EXPANDED_VALUES} values once its YAML aliases are \
                 expanded (an alias bomb?); refused"
            ));
        }
        close(&mut anchors, &mut open, anchor, size);
    }
}

/// A node of `size` values ends: remember it under its anchor, and count it into its parent.
fn close(anchors: &mut HashMap<usize, u64>, open: &mut [(usize, u64)], anchor: usize, size: u64) {
    if anchor > 0 {
        anchors.insert(anchor, size);
    }
    if let Some(parent) = open.last_mut() {
        parent.1 = parent.1.saturating_add(size);
    }
}

/// The YAML tree as JSON, as the `config` crate reads it (keys become text), refusing numbers
/// that are not finite with their key path.
fn to_json(source: &str, path: &str, y: &Yaml) -> Result<Value, ConfigLoadError> {
    Ok(match y {
        Yaml::Real(s) => match s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Some(n) => Value::Number(n),
            None => {
                return Err(ConfigLoadError::new(
                    source,
                    ConfigErrorKind::NotFinite,
                    path,
                    s.as_str(),
                    "must be a finite number",
                ));
            }
        },
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| to_json(source, &format!("{path}[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(h) => {
            // An entry's keys read `currencies[0] (EURUSD).risk_percent`.
            let symbol = h.get(&Yaml::String("symbol".into())).and_then(Yaml::as_str);
            let path = match symbol {
                Some(s) if path.starts_with("currencies[") && path.ends_with(']') => {
                    format!("{path} ({s})")
                }
                _ => path.to_string(),
            };
            let at = |k: &str| {
                if path.is_empty() {
                    k.to_string()
                } else {
                    format!("{path}.{k}")
                }
            };
            let path = path.as_str();
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => {
                        return Err(ConfigLoadError::new(
                            source,
                            ConfigErrorKind::InvalidValue,
                            path,
                            format!("{other:?}"),
                            "a key must be plain text",
                        ));
                    }
                };
                let v = to_json(source, &at(&key), v)?;
                m.insert(key, v);
            }
            Value::Object(m)
        }
        _ => Value::Null,
    })
}
