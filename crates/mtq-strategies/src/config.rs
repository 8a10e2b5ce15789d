//! A strategy's configuration parsed once into types: [`StrategyConfig`] holds the strategy's
//! typed parameters ([`StrategyParams`], one variant per strategy) and its filters.
//!
//! The configuration loader parses each `currencies:` entry into a `StrategyConfig` when it loads
//! the file, and an optimiser each grid point when it makes the point's setup; after that, building
//! a strategy reads the types, never the config text again. Errors name the strategy, the key,
//! what the value must be and the value given:
//!
//! ```
//! use mtq_strategies::{StrategyConfig, StrategyParams};
//! use serde_json::json;
//!
//! let config = StrategyConfig::parse("crossover", &json!({"fast_period": 5, "sl_pips": 30}))?;
//! let StrategyParams::Crossover(p) = &config.params else { unreachable!() };
//! assert_eq!((p.fast_period, p.slow_period, p.stops.sl_pips), (5, 20, 30.0));
//! assert_eq!(config.build()?.name(), "crossover");
//!
//! let err = StrategyConfig::parse("crossover", &json!({"fast_period": -3})).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "strategy `crossover`: `fast_period` must be a whole number of 0 or more, got -3"
//! );
//! let err = StrategyConfig::parse("crossover", &json!({"fast_perod": 5})).unwrap_err();
//! assert!(err.to_string().contains("did you mean `fast_period`?"), "{err}");
//! # Ok::<(), mtq_strategies::StrategyError>(())
//! ```

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::StrategyError;
use crate::filters::{Filtered, FiltersConfig};
use crate::params::{parse, to_value};
use crate::shared::SeriesCache;
use crate::strategies::*;
use crate::{FilterSettings, StopsConfig, Strategy};

/// The key of a strategy's config map that holds its filters.
const FILTERS: &str = "filters";

macro_rules! strategy_params {
    ($( $variant:ident($params:ty, $strategy:ty) = $name:literal ),+ $(,)?) => {
        /// One strategy's typed parameters: the variant names the strategy.
        #[derive(Debug, Clone, PartialEq)]
        pub enum StrategyParams {
            $( $variant($params), )+
        }

        impl StrategyParams {
            /// Parses the parameters of the strategy `name` from a map of its own keys only.
            fn parse(name: &str, map: &Map<String, Value>) -> Result<Self, StrategyError> {
                match name {
                    $( $name => {
                        let p: $params = parse($name, map)?;
                        p.validate()?;
                        Ok(Self::$variant(p))
                    } )+
                    _ => Err(unknown_strategy(name)),
                }
            }

            /// The registry name of the strategy these parameters are for.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $name, )+
                }
            }

            /// The stop-loss and take-profit settings.
            pub fn stops(&self) -> &StopsConfig {
                match self {
                    $( Self::$variant(p) => &p.stops, )+
                }
            }

            /// The parameters as config spells them: every key, defaults filled in.
            pub fn to_value(&self) -> Value {
                match self {
                    $( Self::$variant(p) => to_value(p), )+
                }
            }

            /// The strategy, on its own streaming indicators.
            pub fn build(&self) -> Result<Box<dyn Strategy>, StrategyError> {
                Ok(match self {
                    $( Self::$variant(p) => Box::new(<$strategy>::new(p.clone())?), )+
                })
            }
        }
    };
}

strategy_params! {
    Crossover(CrossoverParams, Crossover) = "crossover",
    Position(PositionParams, PositionStrategy) = "position",
    Rsi(RsiParams, RsiStrategy) = "rsi",
    Macd(MacdParams, MacdStrategy) = "macd",
    Bollinger(BollingerParams, Bollinger) = "bollinger",
    MultiIndicator(MultiIndicatorParams, MultiIndicator) = "multi_indicator",
    EmaTrend(EmaTrendParams, EmaTrend) = "ema_trend",
    MacdMtf(MacdMtfParams, MacdMtf) = "macd_mtf",
    ZeroLag(ZeroLagParams, ZeroLag) = "zero_lag",
    SmartMoney(SmartMoneyParams, SmartMoney) = "smart_money",
    MaRsi(MaRsiParams, MaRsi) = "ma_rsi",
    StochasticCross(StochasticCrossParams, StochasticCross) = "stochastic_cross",
    BreakRetest(BreakRetestParams, BreakRetest) = "break_retest",
    JHook(JHookParams, JHook) = "j_hook",
}

impl StrategyParams {
    /// Whether [`StrategyParams::build_shared`] reads the cache's series (`crossover` and
    /// `position`); the others build as [`StrategyParams::build`] does.
    pub fn shares_series(&self) -> bool {
        matches!(self, Self::Crossover(_) | Self::Position(_))
    }

    /// The strategy, reading its indicator series from `cache` when it can (see
    /// [`crate::shared`]); it must then be fed `cache`'s bars, in order, from the first.
    pub fn build_shared(
        &self,
        cache: &Arc<SeriesCache>,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        Ok(match self {
            Self::Crossover(p) => Box::new(Crossover::shared(p.clone(), cache)?),
            Self::Position(p) => Box::new(PositionStrategy::shared(p.clone(), cache)?),
            other => other.build()?,
        })
    }
}

/// A strategy's whole configuration, typed: its parameters and its filters.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyConfig {
    pub params: StrategyParams,
    /// The filters that wrap the strategy, when the config has a `filters` key.
    pub filters: Option<FilterSettings>,
}

impl StrategyConfig {
    /// Parses the config map of the strategy `strategy_type`: every key must be one of its
    /// parameters (see [`StrategyInfo::defaults`](crate::registry::StrategyInfo::defaults)) or
    /// `filters`; `null` for all defaults.
    pub fn parse(strategy_type: &str, params: &Value) -> Result<Self, StrategyError> {
        Self::parse_with(strategy_type, params, |_| false)
    }

    /// Parses one config entry that names its own `strategy_type` (a TradingMTQ `currencies`
    /// entry), leaving out the keys for which `foreign` is true (the symbol, the risk
    /// settings...): every other key must be a parameter of the strategy or `filters`.
    pub fn from_entry(
        entry: &Value,
        foreign: impl Fn(&str) -> bool,
    ) -> Result<Self, StrategyError> {
        match entry.get("strategy_type") {
            Some(Value::String(name)) => {
                Self::parse_with(name, entry, |k| k == "strategy_type" || foreign(k))
            }
            other => Err(StrategyError::UnknownStrategy {
                name: other.map_or_else(|| "(missing)".to_string(), Value::to_string),
                valid: crate::registry::names(),
            }),
        }
    }

    fn parse_with(
        strategy_type: &str,
        params: &Value,
        foreign: impl Fn(&str) -> bool,
    ) -> Result<Self, StrategyError> {
        let info =
            crate::registry::info(strategy_type).ok_or_else(|| unknown_strategy(strategy_type))?;
        let map = match params {
            Value::Object(m) => m,
            Value::Null => &Map::new(),
            other => {
                return Err(StrategyError::NotAMap {
                    strategy: strategy_type.to_string(),
                    found: other.to_string(),
                });
            }
        };
        let own: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| k.as_str() != FILTERS && !foreign(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let params = StrategyParams::parse(info.name, &own)?;
        let filters = match map.get(FILTERS) {
            None | Some(Value::Null) => None,
            Some(f) => {
                let only = Map::from_iter([(FILTERS.to_string(), f.clone())]);
                let config: FiltersConfig = parse(info.name, &only)?;
                config.filters.validate(info.name)?;
                Some(config.filters)
            }
        };
        Ok(Self { params, filters })
    }

    /// The registry name of the strategy.
    pub fn name(&self) -> &'static str {
        self.params.name()
    }

    /// The strategy, wrapped in its filters when it has any.
    pub fn build(&self) -> Result<Box<dyn Strategy>, StrategyError> {
        self.wrap(self.params.build()?)
    }

    /// As [`StrategyConfig::build`], on `cache`'s series when the strategy can read them (see
    /// [`StrategyParams::build_shared`]).
    pub fn build_shared(
        &self,
        cache: &Arc<SeriesCache>,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        self.wrap(self.params.build_shared(cache)?)
    }

    fn wrap(&self, strategy: Box<dyn Strategy>) -> Result<Box<dyn Strategy>, StrategyError> {
        match &self.filters {
            None => Ok(strategy),
            Some(settings) => Ok(Box::new(Filtered::new(strategy, settings)?)),
        }
    }
}

fn unknown_strategy(name: &str) -> StrategyError {
    StrategyError::UnknownStrategy {
        name: name.to_string(),
        valid: crate::registry::names(),
    }
}
