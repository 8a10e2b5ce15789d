//! Builds a [`Strategy`] from `strategy_type` and its parameters, as the config names them.
//!
//! Parameters come as one map of `key: value`, parsed once into a typed [`StrategyConfig`]
//! (missing keys take their defaults; a key the strategy does not know is refused). A TradingMTQ
//! `currencies` entry works as it is through [`build_entry`], which leaves out the keys that are
//! not the strategy's (the risk keys); the trader's configuration refuses keys that neither the
//! strategy ([`StrategyInfo::defaults`]) nor the risk settings know. A `filters:` key in the same
//! map wraps the strategy in [`Filtered`](crate::Filtered) (see
//! [`FiltersConfig`](crate::filters::FiltersConfig)).
//!
//! [`build_shared`] and [`build_entry_shared`] build the same strategies for an optimiser: those
//! that can read their indicator series from a [`SeriesCache`] (`crossover` and `position`) are
//! built on it; the others are built as [`build`] does.

use std::sync::Arc;

use serde_json::Value;

use crate::config::{StrategyConfig, StrategyParams};
use crate::error::StrategyError;
use crate::shared::SeriesCache;
use crate::{StopsConfig, Strategy};

/// One strategy the registry can build.
#[derive(Debug, Clone, Copy)]
pub struct StrategyInfo {
    /// The `strategy_type` that selects it.
    pub name: &'static str,
    /// The seed system it comes from.
    pub origin: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    default_params: fn() -> StrategyParams,
}

impl StrategyInfo {
    /// The strategy's typed default parameters.
    pub fn default_params(&self) -> StrategyParams {
        (self.default_params)()
    }

    /// Every parameter with its default (the strategy's own, then the stop settings).
    pub fn defaults(&self) -> Value {
        self.default_params().to_value()
    }

    /// Whether [`build_shared`] builds this strategy on the cache's series.
    pub fn shares_series(&self) -> bool {
        self.default_params().shares_series()
    }
}

macro_rules! entry {
    ($name:literal, $origin:literal, $desc:literal, $variant:ident) => {
        StrategyInfo {
            name: $name,
            origin: $origin,
            description: $desc,
            default_params: || StrategyParams::$variant(Default::default()),
        }
    };
}

/// Every strategy, in the order `mtq-trader strategies` lists them.
pub const STRATEGIES: [StrategyInfo; 14] = [
    entry!(
        "crossover",
        "TradingMTQ",
        "fast/slow moving-average crossover, always in the market (reverses on the opposite cross)",
        Crossover
    ),
    entry!(
        "position",
        "TradingMTQ",
        "holds the side of whichever moving average is above, entering whenever it does not",
        Position
    ),
    entry!(
        "rsi",
        "TradingMTQ",
        "buys RSI leaving oversold, sells RSI leaving overbought",
        Rsi
    ),
    entry!(
        "macd",
        "TradingMTQ",
        "MACD signal-line cross, optional zero-line filter and histogram threshold",
        Macd
    ),
    entry!(
        "bollinger",
        "TradingMTQ",
        "Bollinger Bands, mean-reversion (fade the bands) or breakout (follow them)",
        Bollinger
    ),
    entry!(
        "multi_indicator",
        "TradingMTQ",
        "weighted vote of MA, RSI, MACD and Bollinger with a confidence threshold",
        MultiIndicator
    ),
    entry!(
        "ema_trend",
        "TradeSystemV1",
        "close crosses EMA21 inside an EMA21>50>200 stack; switchable two-pole, H1 two-pole, momentum-bias and EMA200 layers",
        EmaTrend
    ),
    entry!(
        "macd_mtf",
        "TradeSystemV1",
        "MACD signal-line cross confirmed by the higher timeframe's MACD histogram",
        MacdMtf
    ),
    entry!(
        "zero_lag",
        "TradeSystemV1",
        "fast/slow zero-lag EMA crossover",
        ZeroLag
    ),
    entry!(
        "smart_money",
        "TradeSystemV1",
        "structure break (BOS/CHoCH), then a retest of an order block or fair value gap",
        SmartMoney
    ),
    entry!(
        "ma_rsi",
        "Forex Trading Bot",
        "trend from a moving average, entry when RSI crosses its midline with the trend",
        MaRsi
    ),
    entry!(
        "stochastic_cross",
        "Forex Trading Bot",
        "stochastic %K crossing %D inside the oversold or overbought zone",
        StochasticCross
    ),
    entry!(
        "break_retest",
        "Forex Trading Bot",
        "break of a swing high or low, entry on the retest that holds",
        BreakRetest
    ),
    entry!(
        "j_hook",
        "Forex Trading Bot",
        "J-hook continuation: impulse, shallow pullback, close beyond the impulse's extreme",
        JHook
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
/// defaults): [`StrategyConfig::parse`], then [`StrategyConfig::build`]. A `filters` key wraps it
/// in its signal filters; any other key that is not one of the strategy's parameters is refused.
pub fn build(strategy_type: &str, params: &Value) -> Result<Box<dyn Strategy>, StrategyError> {
    StrategyConfig::parse(strategy_type, params)?.build()
}

/// As [`build`], on `cache`'s shared series when the strategy can read them (see
/// [`StrategyInfo::shares_series`]). The strategy must be fed `cache`'s bars, in order, from the
/// first (see [`crate::shared`]); it then gives the signals [`build`]'s would.
pub fn build_shared(
    strategy_type: &str,
    params: &Value,
    cache: &Arc<SeriesCache>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    StrategyConfig::parse(strategy_type, params)?.build_shared(cache)
}

/// Parses one config entry that names its own `strategy_type` (a TradingMTQ `currencies`
/// entry), e.g. `{strategy_type: crossover, fast_period: 10, slow_period: 30, sl_pips: 40}`,
/// leaving out every key that is not one of the strategy's parameters or `filters` (the risk
/// settings): the trader's configuration, which knows the risk keys, parses entries strictly
/// with [`StrategyConfig::from_entry`].
pub fn entry_config(entry: &Value) -> Result<StrategyConfig, StrategyError> {
    let own = entry
        .get("strategy_type")
        .and_then(Value::as_str)
        .and_then(info)
        .map(StrategyInfo::defaults);
    StrategyConfig::from_entry(entry, |k| {
        k != "filters" && own.as_ref().is_none_or(|d| d.get(k).is_none())
    })
}

/// Builds from one config entry that names its own `strategy_type`: [`entry_config`], then
/// [`StrategyConfig::build`].
pub fn build_entry(entry: &Value) -> Result<Box<dyn Strategy>, StrategyError> {
    entry_config(entry)?.build()
}

/// As [`build_entry`], on `cache`'s shared series when the strategy can read them: see
/// [`build_shared`].
pub fn build_entry_shared(
    entry: &Value,
    cache: &Arc<SeriesCache>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    entry_config(entry)?.build_shared(cache)
}

/// The text `mtq-trader strategies` prints: every strategy with its description, parameters
/// and defaults, then the stop settings every strategy shares and the filters.
pub fn describe() -> String {
    let mut out = String::new();
    let shared = serde_json::to_value(StopsConfig::default()).unwrap_or(Value::Null);
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
