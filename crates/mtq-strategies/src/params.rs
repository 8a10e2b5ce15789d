//! Parameter parsing and validation shared by every strategy, and the moving-average choice.

use mtq_indicators::stream::{Ema, Indicator, Sma, Wma};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ParamError, StrategyError, indicator};

/// Parses a strategy's parameters from a map holding only its own keys: a key the strategy does
/// not know is refused with the nearest known key, a key of the wrong type names the key, the
/// value and what it must be. Missing keys take their defaults.
///
/// `#[serde(deny_unknown_fields)]` cannot be used on the parameter structs themselves: serde
/// does not support it together with the `#[serde(flatten)]` that puts the stop settings in the
/// same map. The known keys are therefore those of `P::default()` serialised, which is the same
/// set (a test holds every strategy to it).
pub(crate) fn parse<P: DeserializeOwned + Serialize + Default>(
    strategy: &'static str,
    map: &Map<String, Value>,
) -> Result<P, StrategyError> {
    let known = match serde_json::to_value(P::default()) {
        Ok(Value::Object(known)) => known,
        _ => Map::new(),
    };
    for (key, value) in map {
        if !known.contains_key(key) {
            return Err(ParamError::new(strategy, key, value, unknown(key, &known)).into());
        }
    }
    let whole = Value::Object(map.clone());
    match P::deserialize(&whole) {
        Ok(p) => Ok(p),
        Err(e) => {
            // Find the key at fault: the first that fails on its own (defaults for the rest).
            for (key, value) in map {
                let single = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
                if let Err(e) = P::deserialize(&single) {
                    let must = must_be(&e.to_string());
                    return Err(ParamError::new(strategy, key, value, must).into());
                }
            }
            Err(ParamError::new(strategy, "(parameters)", whole, e.to_string()).into())
        }
    }
}

/// What to say about a key the strategy does not know: the nearest known key, if one is close.
fn unknown(key: &str, known: &Map<String, Value>) -> String {
    let nearest = known
        .keys()
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min();
    match nearest {
        Some((_, k)) => format!("is not a parameter of this strategy (did you mean `{k}`?)"),
        None => {
            let all: Vec<&str> = known.keys().map(String::as_str).collect();
            format!(
                "is not a parameter of this strategy (its parameters: {})",
                all.join(", ")
            )
        }
    }
}

/// Levenshtein distance, for suggesting the key that was meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// What a value must be, from serde's message about the one that was not (`invalid type: string
/// "x", expected usize` -> `must be a whole number of 0 or more`).
fn must_be(serde_msg: &str) -> String {
    if let Some(rest) = serde_msg.strip_prefix("unknown field ") {
        let field = rest.split(',').next().unwrap_or(rest);
        let known = rest.split("expected one of ").nth(1).unwrap_or("");
        return format!("has no key {field} (its keys: {known})");
    }
    if let Some(variants) = serde_msg.split("expected one of ").nth(1) {
        return format!("must be one of {variants}");
    }
    let expected = serde_msg.rsplit(", expected ").next().unwrap_or("").trim();
    match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "must be a whole number of 0 or more".into(),
        "i64" | "i32" => "must be a whole number".into(),
        "f64" | "f32" => "must be a number".into(),
        "a boolean" => "must be true or false".into(),
        e if e.starts_with('`') => format!("must be {e}"),
        _ => format!("is invalid: {serde_msg}"),
    }
}

/// A period of at least `min`.
pub(crate) fn period(
    strategy: &'static str,
    field: &str,
    value: usize,
    min: usize,
) -> Result<(), ParamError> {
    if value < min || value > 100_000 {
        return Err(ParamError::new(
            strategy,
            field,
            value,
            format!("must be a whole number of bars from {min} to 100000"),
        ));
    }
    Ok(())
}

/// A finite number within `lo..=hi`.
pub(crate) fn within(
    strategy: &'static str,
    field: &str,
    value: f64,
    lo: f64,
    hi: f64,
) -> Result<(), ParamError> {
    if !value.is_finite() || value < lo || value > hi {
        return Err(ParamError::new(
            strategy,
            field,
            value,
            format!("must be a number from {lo} to {hi}"),
        ));
    }
    Ok(())
}

/// A finite number above zero.
pub(crate) fn positive(strategy: &'static str, field: &str, value: f64) -> Result<(), ParamError> {
    if !value.is_finite() || value <= 0.0 {
        return Err(ParamError::new(
            strategy,
            field,
            value,
            "must be a number above 0",
        ));
    }
    Ok(())
}

/// `a` strictly below `b`; the error names `a`.
pub(crate) fn below<T: PartialOrd + ToString>(
    strategy: &'static str,
    (field_a, a): (&str, T),
    (field_b, b): (&str, T),
) -> Result<(), ParamError> {
    if a >= b {
        let expected = format!("must be below `{field_b}` ({})", b.to_string());
        return Err(ParamError::new(strategy, field_a, a.to_string(), expected));
    }
    Ok(())
}

/// Which moving average a strategy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaType {
    #[default]
    Sma,
    Ema,
    Wma,
}

impl MaType {
    pub fn label(self) -> &'static str {
        match self {
            MaType::Sma => "SMA",
            MaType::Ema => "EMA",
            MaType::Wma => "WMA",
        }
    }
}

/// A streaming moving average of the chosen type (TA-Lib's, via `mtq-indicators`).
#[derive(Debug, Clone)]
pub(crate) enum Ma {
    Sma(Sma),
    Ema(Ema),
    Wma(Wma),
}

impl Ma {
    pub(crate) fn new(
        strategy: &'static str,
        kind: MaType,
        period: usize,
    ) -> Result<Self, StrategyError> {
        let e = indicator(strategy);
        Ok(match kind {
            MaType::Sma => Ma::Sma(Sma::new(period).map_err(e)?),
            MaType::Ema => Ma::Ema(Ema::new(period).map_err(e)?),
            MaType::Wma => Ma::Wma(Wma::new(period).map_err(e)?),
        })
    }

    #[inline]
    pub(crate) fn update(&mut self, x: f64) -> Option<f64> {
        match self {
            Ma::Sma(m) => m.update(x),
            Ma::Ema(m) => m.update(x),
            Ma::Wma(m) => m.update(x),
        }
    }

    pub(crate) fn lookback(&self) -> usize {
        match self {
            Ma::Sma(m) => m.lookback(),
            Ma::Ema(m) => m.lookback(),
            Ma::Wma(m) => m.lookback(),
        }
    }
}

/// A fast and a slow moving average of one type, updated together: the type is matched once a
/// bar rather than once an average, and both updates inline into one function.
#[derive(Debug, Clone)]
pub(crate) enum MaPair {
    Sma(Sma, Sma),
    Ema(Ema, Ema),
    Wma(Wma, Wma),
}

impl MaPair {
    pub(crate) fn new(
        strategy: &'static str,
        kind: MaType,
        fast: usize,
        slow: usize,
    ) -> Result<Self, StrategyError> {
        let e = indicator(strategy);
        Ok(match kind {
            MaType::Sma => MaPair::Sma(Sma::new(fast).map_err(&e)?, Sma::new(slow).map_err(&e)?),
            MaType::Ema => MaPair::Ema(Ema::new(fast).map_err(&e)?, Ema::new(slow).map_err(&e)?),
            MaType::Wma => MaPair::Wma(Wma::new(fast).map_err(&e)?, Wma::new(slow).map_err(&e)?),
        })
    }

    /// Feeds `x` to both averages; `(fast, slow)` once both have a value. Always inlined: with
    /// `crossover`'s choice between streaming and shared averages the compiler otherwise keeps
    /// it a call, some 30 instructions a bar of frame and saved registers (callgrind).
    #[inline(always)]
    pub(crate) fn update(&mut self, x: f64) -> Option<(f64, f64)> {
        match self {
            MaPair::Sma(f, s) => both(f, s, x),
            MaPair::Ema(f, s) => both(f, s, x),
            MaPair::Wma(f, s) => both(f, s, x),
        }
    }

    /// The slow average's lookback.
    pub(crate) fn slow_lookback(&self) -> usize {
        match self {
            MaPair::Sma(_, s) => s.lookback(),
            MaPair::Ema(_, s) => s.lookback(),
            MaPair::Wma(_, s) => s.lookback(),
        }
    }
}

#[inline(always)]
fn both<M>(fast: &mut M, slow: &mut M, x: f64) -> Option<(f64, f64)>
where
    M: Indicator<Input = f64, Output = f64>,
{
    // Both see every input, whether or not the other has a value yet.
    let f = fast.update(x);
    let s = slow.update(x);
    Some((f?, s?))
}

/// Which way a pair of lines crossed between two bars: `a` against `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cross {
    Above,
    Below,
}

/// `a` was at or below `b` and is now above it (`Above`), or the mirror (`Below`).
#[inline]
pub(crate) fn cross(prev: (f64, f64), now: (f64, f64)) -> Option<Cross> {
    if prev.0 <= prev.1 && now.0 > now.1 {
        Some(Cross::Above)
    } else if prev.0 >= prev.1 && now.0 < now.1 {
        Some(Cross::Below)
    } else {
        None
    }
}

/// Serialises parameters for [`Strategy::params`](crate::Strategy::params).
pub(crate) fn to_value<P: Serialize>(p: &P) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}
