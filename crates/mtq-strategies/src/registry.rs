//! Builds a [`Strategy`] from `strategy_type` and its parameters, as the config names them.
//!
//! Parameters come as one map of `key: value` (a TradingMTQ `currencies` entry works as it is:
//! keys the strategy does not know, such as the risk keys, are ignored here; the trader's
//! configuration refuses keys that neither the strategy ([`StrategyInfo::defaults`]) nor the
//! risk settings know). Missing keys take their defaults. A `filters:` key in the same map wraps the strategy in
//! [`Filtered`] (see [`FiltersConfig`]).
//!
//! [`build_shared`] and [`build_entry_shared`] build the same strategies for an optimiser: those
//! that can read their indicator series from a [`SeriesCache`] (`crossover` and `position`) are
//! built on it; the others are built as [`build`] does.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::StrategyError;
use crate::filters::{Filtered, FiltersConfig};
use crate::params::parse;
use crate::shared::SeriesCache;
use crate::strategies::*;
use crate::{StopsConfig, Strategy};

/// Builds one strategy from its config map.
type Builder = fn(&Map<String, Value>) -> Result<Box<dyn Strategy>, StrategyError>;

/// Builds one strategy from its config map, reading its series from a cache.
type SharedBuilder =
    fn(&Map<String, Value>, &Arc<SeriesCache>) -> Result<Box<dyn Strategy>, StrategyError>;

/// One strategy the registry can build.
#[derive(Debug, Clone, Copy)]
pub struct StrategyInfo {
    /// The `strategy_type` that selects it.
    pub name: &'static str,
    /// The seed system it comes from.
    pub origin: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    build: Builder,
    /// For strategies that can read shared series.
    build_shared: Option<SharedBuilder>,
    defaults: fn() -> Value,
}

impl StrategyInfo {
    /// Every parameter with its default (the strategy's own, then the stop settings).
    pub fn defaults(&self) -> Value {
        (self.defaults)()
    }

    /// Whether [`build_shared`] builds this strategy on the cache's series.
    pub fn shares_series(&self) -> bool {
        self.build_shared.is_some()
    }
}

fn make<P, S>(
    name: &'static str,
    map: &Map<String, Value>,
    new: fn(P) -> Result<S, StrategyError>,
) -> Result<Box<dyn Strategy>, StrategyError>
where
    P: DeserializeOwned,
    S: Strategy + 'static,
{
    let params: P = parse(name, map)?;
    Ok(Box::new(new(params)?))
}

fn defaults_of<P: Default + Serialize>() -> Value {
    serde_json::to_value(P::default()).unwrap_or(Value::Null)
}

fn make_shared<P, S>(
    name: &'static str,
    map: &Map<String, Value>,
    cache: &Arc<SeriesCache>,
    new: fn(P, &Arc<SeriesCache>) -> Result<S, StrategyError>,
) -> Result<Box<dyn Strategy>, StrategyError>
where
    P: DeserializeOwned,
    S: Strategy + 'static,
{
    let params: P = parse(name, map)?;
    Ok(Box::new(new(params, cache)?))
}

macro_rules! entry {
    ($name:literal, $origin:literal, $desc:literal, $params:ty, $new:path) => {
        StrategyInfo {
            name: $name,
            origin: $origin,
            description: $desc,
            build: |m| make::<$params, _>($name, m, $new),
            build_shared: None,
            defaults: defaults_of::<$params>,
        }
    };
    ($name:literal, $origin:literal, $desc:literal, $params:ty, $new:path, shared: $shared:path) => {
        StrategyInfo {
            build_shared: Some(|m, c| make_shared::<$params, _>($name, m, c, $shared)),
            ..entry!($name, $origin, $desc, $params, $new)
        }
    };
}

/// Every strategy, in the order `mtq-trader strategies` lists them.
pub const STRATEGIES: [StrategyInfo; 14] = [
    entry!(
        "crossover",
        "TradingMTQ",
        "fast/slow moving-average crossover, always in the market (reverses on the opposite cross)",
        CrossoverParams,
        Crossover::new,
        shared: Crossover::shared
    ),
    entry!(
        "position",
        "TradingMTQ",
        "holds the side of whichever moving average is above, entering whenever it does not",
        PositionParams,
        PositionStrategy::new,
        shared: PositionStrategy::shared
    ),
    entry!(
        "rsi",
        "TradingMTQ",
        "buys RSI leaving oversold, sells RSI leaving overbought",
        RsiParams,
        RsiStrategy::new
    ),
    entry!(
        "macd",
        "TradingMTQ",
        "MACD signal-line cross, optional zero-line filter and histogram threshold",
        MacdParams,
        MacdStrategy::new
    ),
    entry!(
        "bollinger",
        "TradingMTQ",
        "Bollinger Bands, mean-reversion (fade the bands) or breakout (follow them)",
        BollingerParams,
        Bollinger::new
    ),
    entry!(
        "multi_indicator",
        "TradingMTQ",
        "weighted vote of MA, RSI, MACD and Bollinger with a confidence threshold",
        MultiIndicatorParams,
        MultiIndicator::new
    ),
    entry!(
        "ema_trend",
        "TradeSystemV1",
        "close crosses EMA21 inside an EMA21>50>200 stack; switchable two-pole, H1 two-pole, momentum-bias and EMA200 layers",
        EmaTrendParams,
        EmaTrend::new
    ),
    entry!(
        "macd_mtf",
        "TradeSystemV1",
        "MACD signal-line cross confirmed by the higher timeframe's MACD histogram",
        MacdMtfParams,
        MacdMtf::new
    ),
    entry!(
        "zero_lag",
        "TradeSystemV1",
        "fast/slow zero-lag EMA crossover",
        ZeroLagParams,
        ZeroLag::new
    ),
    entry!(
        "smart_money",
        "TradeSystemV1",
        "structure break (BOS/CHoCH), then a retest of an order block or fair value gap",
        SmartMoneyParams,
        SmartMoney::new
    ),
    entry!(
        "ma_rsi",
        "Forex Trading Bot",
        "trend from a moving average, entry when RSI crosses its midline with the trend",
        MaRsiParams,
        MaRsi::new
    ),
    entry!(
        "stochastic_cross",
        "Forex Trading Bot",
        "stochastic %K crossing %D inside the oversold or overbought zone",
        StochasticCrossParams,
        StochasticCross::new
    ),
    entry!(
        "break_retest",
        "Forex Trading Bot",
        "break of a swing high or low, entry on the retest that holds",
        BreakRetestParams,
        BreakRetest::new
    ),
    entry!(
        "j_hook",
        "Forex Trading Bot",
        "J-hook continuation: impulse, shallow pullback, close beyond the impulse's extreme",
        JHookParams,
        JHook::new
    ),
];

/// The valid `strategy_type` names.
pub fn names() -> Vec<&'static str> {
    STRATEGIES.iter().map(|s| s.name).collect()
}

/// The strategy called `name`, if there is one.
pub fn info(name: &str) -> Option<&'static StrategyInfo> {
    STRATEGIES.iter().find(|s| s.name == name)
}

/// Builds the strategy `strategy_type` from `params`, a map of `key: value` (`null` for all
/// defaults). A `filters` key wraps it in its signal filters.
pub fn build(strategy_type: &str, params: &Value) -> Result<Box<dyn Strategy>, StrategyError> {
    build_with(strategy_type, params, None)
}

/// As [`build`], on `cache`'s shared series when the strategy can read them (see
/// [`StrategyInfo::shares_series`]). The strategy must be fed `cache`'s bars, in order, from the
/// first (see [`crate::shared`]); it then gives the signals [`build`]'s would.
pub fn build_shared(
    strategy_type: &str,
    params: &Value,
    cache: &Arc<SeriesCache>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    build_with(strategy_type, params, Some(cache))
}

fn build_with(
    strategy_type: &str,
    params: &Value,
    cache: Option<&Arc<SeriesCache>>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    let info = info(strategy_type).ok_or_else(|| StrategyError::UnknownStrategy {
        name: strategy_type.to_string(),
        valid: names(),
    })?;
    let empty = Map::new();
    let map = match params {
        Value::Object(m) => m,
        Value::Null => &empty,
        other => {
            return Err(StrategyError::NotAMap {
                strategy: strategy_type.to_string(),
                found: other.to_string(),
            });
        }
    };
    let strategy = match (cache, info.build_shared) {
        (Some(cache), Some(shared)) => shared(map, cache)?,
        _ => (info.build)(map)?,
    };
    match map.get("filters") {
        None | Some(Value::Null) => Ok(strategy),
        Some(_) => {
            let config: FiltersConfig = parse(info.name, map)?;
            Ok(Box::new(Filtered::new(strategy, &config.filters)?))
        }
    }
}

/// Builds from one config entry that names its own `strategy_type` (a TradingMTQ `currencies`
/// entry), e.g. `{strategy_type: crossover, fast_period: 10, slow_period: 30, sl_pips: 40}`.
pub fn build_entry(entry: &Value) -> Result<Box<dyn Strategy>, StrategyError> {
    build_entry_with(entry, None)
}

/// As [`build_entry`], on `cache`'s shared series when the strategy can read them: see
/// [`build_shared`].
pub fn build_entry_shared(
    entry: &Value,
    cache: &Arc<SeriesCache>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    build_entry_with(entry, Some(cache))
}

fn build_entry_with(
    entry: &Value,
    cache: Option<&Arc<SeriesCache>>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    match entry.get("strategy_type") {
        Some(Value::String(name)) => build_with(name, entry, cache),
        other => Err(StrategyError::UnknownStrategy {
            name: other.map_or_else(|| "(missing)".to_string(), Value::to_string),
            valid: names(),
        }),
    }
}

/// The text `mtq-trader strategies` prints: every strategy with its description, parameters
/// and defaults, then the stop settings every strategy shares and the filters.
pub fn describe() -> String {
    let mut out = String::new();
    let shared = defaults_of::<StopsConfig>();
    let shared_keys: Vec<&String> = shared
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    for s in &STRATEGIES {
        out.push_str(&format!(
            "{:<17} {} ({})\n",
            s.name, s.description, s.origin
        ));
        if let Value::Object(m) = s.defaults() {
            let own: Vec<String> = m
                .iter()
                .filter(|(k, _)| !shared_keys.contains(k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&format!("{:<17} {}\n", "", own.join(" ")));
        }
    }
    out.push_str("\nstop settings, for every strategy:\n");
    if let Value::Object(m) = shared {
        for (k, v) in m {
            out.push_str(&format!("  {k}={v}\n"));
        }
    }
    out.push_str("\nfilters (under `filters:`, for every strategy):\n");
    out.push_str(crate::filters::FILTERS_HELP);
    out
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
