//! What a backtest runs with: the trader configuration (one symbol, one strategy), the simulated
//! account, the sizing mode and the fill timing, built from flags over a base configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mtq_core::{Decimal, Symbol, SymbolSpec, Timeframe};
use mtq_orchestrator::config::{AppConfig, ConfigSource, load};
use mtq_sim::{Commission, SimConfig, Slippage};
use serde_json::{Map, Value, json};

use crate::BacktestError;

/// How entries are sized.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sizing {
    /// Always this many lots (`fixed:LOTS`).
    Fixed(Decimal),
    /// Risk this percent of the balance between entry and stop loss (`risk:PERCENT`), the
    /// trader's own sizing.
    Risk(Decimal),
    /// Spend this fraction of equity (times leverage) on each entry, at the fill price, in whole
    /// volume steps, after commission (`equity:FRACTION`): the all-in sizing of the Python
    /// backtesting libraries at `equity:1.0`.
    Equity(Decimal),
}

impl std::str::FromStr for Sizing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let help = "expected fixed:LOTS, risk:PERCENT or equity:FRACTION (e.g. risk:1, equity:1.0)";
        let (kind, value) = s.split_once(':').ok_or_else(|| format!("`{s}`: {help}"))?;
        let v: Decimal = value
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: `{value}` is not a number; {help}"))?;
        if v <= Decimal::ZERO {
            return Err(format!("`{s}`: the value must be positive"));
        }
        match kind.trim() {
            "fixed" => Ok(Self::Fixed(v)),
            "risk" if v <= Decimal::ONE_HUNDRED => Ok(Self::Risk(v)),
            "risk" => Err(format!("`{s}`: a risk percent is at most 100")),
            "equity" if v <= Decimal::ONE => Ok(Self::Equity(v)),
            "equity" => Err(format!("`{s}`: an equity fraction is at most 1")),
            _ => Err(format!("`{s}`: unknown sizing `{kind}`; {help}")),
        }
    }
}

impl std::fmt::Display for Sizing {
    /// The form [`Sizing`]'s `FromStr` reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(v) => write!(f, "fixed:{v}"),
            Self::Risk(v) => write!(f, "risk:{v}"),
            Self::Equity(v) => write!(f, "equity:{v}"),
        }
    }
}

/// When an order decided on a closed bar is executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FillTiming {
    /// At the next bar's open (ask for buys, bid for sells): nothing trades on a price it used to
    /// decide. The default.
    #[default]
    NextOpen,
    /// At the signal bar's close: the whole bar reaches the simulator, then the core decides and
    /// its orders fill at the close. Optimistic for strategies that decide on the close; for
    /// comparisons (with tools that trade on the close) only.
    SignalClose,
}

/// Everything one backtest needs, validated.
#[derive(Clone, Debug)]
pub struct BacktestSetup {
    pub config: Arc<AppConfig>,
    pub symbol: Symbol,
    pub spec: SymbolSpec,
    pub timeframe: Timeframe,
    pub sim: SimConfig,
    pub sizing: Option<Sizing>,
    pub fill: FillTiming,
    /// The broker server's offset from UTC (bar alignment of higher timeframes, rollover).
    pub server_offset_secs: i32,
    /// Every bar's spread replaced by this many points (`--spread-points`).
    pub spread_points: Option<u32>,
}

/// The flags a backtest is built from, as plain values. `Default` is an M5 backtest with the
/// built-in spec, the plain base configuration and next-open fills.
#[derive(Clone, Debug)]
pub struct SetupOptions {
    pub symbol: String,
    pub symbol_spec: Option<PathBuf>,
    pub strategy: Option<String>,
    pub params: Vec<(String, String)>,
    pub config: Option<PathBuf>,
    pub timeframe: Timeframe,
    pub initial_balance: Option<Decimal>,
    pub leverage: Option<u32>,
    pub commission_per_lot: Option<Decimal>,
    pub commission_rate: Option<Decimal>,
    pub spread_points: Option<u32>,
    pub slippage_points: Option<u32>,
    pub sizing: Option<Sizing>,
    pub fill: FillTiming,
    pub server_offset_secs: i32,
}

impl Default for SetupOptions {
    fn default() -> Self {
        Self {
            symbol: String::new(),
            symbol_spec: None,
            strategy: None,
            params: Vec::new(),
            config: None,
            timeframe: Timeframe::M5,
            initial_balance: None,
            leverage: None,
            commission_per_lot: None,
            commission_rate: None,
            spread_points: None,
            slippage_points: None,
            sizing: None,
            fill: FillTiming::NextOpen,
            server_offset_secs: 0,
        }
    }
}

/// The configuration a backtest starts from without `--config`: the strategy alone, without the
/// live trader's portfolio caps, kill-switch triggers, breakeven or trailing stops, so a result
/// depends on the strategy, the sizing and the costs only.
pub fn plain_base() -> Value {
    json!({
        "global": {
            "max_concurrent_trades": 100,
            "portfolio_risk_percent": 100,
            "max_currency_exposure_percent": null,
            "min_margin_level_percent": null,
        },
        "modifications": {
            "enable_breakeven": false,
            "enable_trailing_stop": false,
            "enable_partial_close": false,
        },
        "emergency": {
            "emergency_stop": false,
            "close_all_on_stop": false,
            "stop_on_daily_loss": false,
            "max_daily_loss_percent": null,
            "stop_on_max_drawdown": false,
            "max_drawdown_percent": null,
            "max_consecutive_order_failures": null,
        },
        "broker": {"kind": "sim"},
        "currencies": [],
    })
}

/// A `--param` value: a number or boolean when it reads as one, else text.
pub fn param_value(v: &str) -> Value {
    if let Ok(i) = v.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = v.parse::<f64>()
        && f.is_finite()
    {
        return Value::from(f);
    }
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(v.to_string()),
    }
}

/// Parses `key=value`.
pub fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("`{s}`: expected key=value, e.g. fast_period=10")),
    }
}

/// The symbol's specification: from `file` when given (it must list the symbol), else built in.
pub fn load_spec(symbol: &Symbol, file: Option<&Path>) -> Result<SymbolSpec, BacktestError> {
    match file {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| BacktestError::Input {
                what: format!("--symbol-spec {}", p.display()),
                reason: e.to_string(),
            })?;
            let map = SymbolSpec::map_from_yaml(&text).map_err(|e| BacktestError::Input {
                what: format!("--symbol-spec {}", p.display()),
                reason: e.to_string(),
            })?;
            map.get(symbol)
                .cloned()
                .ok_or_else(|| BacktestError::Input {
                    what: format!("--symbol-spec {}", p.display()),
                    reason: format!(
                        "no entry for {symbol}; it lists {}",
                        map.keys()
                            .map(Symbol::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
        }
        None => SymbolSpec::builtin(symbol.as_str())
            .or_else(|| {
                symbol
                    .currency_pair()
                    .map(|(b, q)| SymbolSpec::forex(symbol.clone(), b, q))
            })
            .ok_or_else(|| BacktestError::Input {
                what: format!("--symbol {symbol}"),
                reason: "no built-in specification: give one with --symbol-spec FILE.yaml".into(),
            }),
    }
}

impl SetupOptions {
    /// Builds and validates the configuration and the simulated account.
    pub fn build(&self) -> Result<BacktestSetup, BacktestError> {
        let symbol = Symbol::new(&self.symbol).map_err(|e| BacktestError::Input {
            what: format!("--symbol {}", self.symbol),
            reason: e.to_string(),
        })?;
        let spec = load_spec(&symbol, self.symbol_spec.as_deref())?;
        let raw = self.base_config()?;
        self.build_from(symbol, spec, raw)
    }

    /// The base configuration as loaded: `--config`'s file, or [`plain_base`].
    pub(crate) fn base_config(&self) -> Result<Value, BacktestError> {
        Ok(match &self.config {
            Some(p) => {
                load(&ConfigSource::File(p.clone()), &[])
                    .map_err(BacktestError::ConfigFile)?
                    .raw
            }
            None => plain_base(),
        })
    }

    /// [`SetupOptions::build`] from a loaded specification and base configuration (the files
    /// named by `symbol_spec` and `config` are not read).
    pub(crate) fn build_from(
        &self,
        symbol: Symbol,
        spec: SymbolSpec,
        mut raw: Value,
    ) -> Result<BacktestSetup, BacktestError> {
        let entry = self.entry(&raw, &symbol, &spec)?;
        let obj = raw.as_object_mut().ok_or_else(|| {
            BacktestError::Config("the configuration is not a map of sections".into())
        })?;
        obj.insert("currencies".into(), Value::Array(vec![entry]));
        let broker = obj
            .entry("broker")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(b) = broker {
            b.insert("kind".into(), Value::from("sim"));
            if let Some(x) = self.initial_balance {
                b.insert("deposit".into(), Value::String(x.to_string()));
            }
            if let Some(l) = self.leverage {
                b.insert("leverage".into(), Value::from(l));
            }
            if let Some(c) = self.commission_per_lot {
                b.insert("commission_per_lot".into(), Value::String(c.to_string()));
            } else if self.commission_rate.is_some() {
                b.insert("commission_per_lot".into(), Value::from(0));
            }
        }
        let text = serde_json::to_string(&raw)
            .map_err(|e| BacktestError::Config(format!("building the configuration: {e}")))?;
        let config = load(&ConfigSource::Text(text), &[]).map_err(|e| {
            BacktestError::Config(format!(
                "{} (with the backtest's flags applied)",
                e.to_string().replacen("config text: ", "", 1)
            ))
        })?;
        let commission = match (self.commission_rate, config.broker.commission_per_lot) {
            (Some(r), _) => Commission::Rate(r),
            (None, c) if c.is_zero() => Commission::None,
            (None, c) => Commission::PerLot(c),
        };
        let sim = SimConfig {
            currency: config.broker.currency,
            deposit: config.broker.deposit,
            leverage: config.broker.leverage,
            margin_mode: config.broker.margin_mode,
            commission,
            slippage: self.slippage_points.map_or(Slippage::None, Slippage::Fixed),
            default_spread_points: self
                .spread_points
                .unwrap_or(SimConfig::default().default_spread_points),
            server_utc_offset_secs: self.server_offset_secs,
            // An empty name: the account snapshot the core reads every bar copies no text.
            server: String::new(),
            ..SimConfig::default()
        };
        Ok(BacktestSetup {
            config: Arc::new(config),
            symbol,
            spec,
            timeframe: self.timeframe,
            sim,
            sizing: self.sizing,
            fill: self.fill,
            server_offset_secs: self.server_offset_secs,
            spread_points: self.spread_points,
        })
    }

    /// The `currencies` entry for the symbol: the base configuration's own when it has one,
    /// then the strategy, timeframe, parameters and sizing from the flags.
    fn entry(
        &self,
        raw: &Value,
        symbol: &Symbol,
        spec: &SymbolSpec,
    ) -> Result<Value, BacktestError> {
        let existing = raw
            .get("currencies")
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter()
                    .find(|e| e.get("symbol").and_then(Value::as_str) == Some(symbol.as_str()))
            })
            .cloned();
        let from_file = existing.is_some();
        let mut e = match existing {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if !from_file {
            e.insert("cooldown_seconds".into(), Value::from(0));
            e.insert("allow_position_stacking".into(), Value::Bool(false));
            e.insert("max_positions_same_direction".into(), Value::from(1));
        }
        e.insert("symbol".into(), Value::from(symbol.as_str()));
        e.insert("enabled".into(), Value::Bool(true));
        e.insert("timeframe".into(), Value::from(self.timeframe.name()));
        match (&self.strategy, e.contains_key("strategy_type")) {
            (Some(s), _) => {
                e.insert("strategy_type".into(), Value::from(s.as_str()));
            }
            (None, true) => {}
            (None, false) => {
                return Err(BacktestError::Input {
                    what: "--strategy".into(),
                    reason: format!(
                        "missing, and the configuration has no entry for {symbol}; choose one of {}",
                        mtq_strategies::registry::names().join(", ")
                    ),
                });
            }
        }
        for (k, v) in &self.params {
            e.insert(k.clone(), param_value(v));
        }
        match self.sizing {
            Some(Sizing::Risk(p)) => {
                e.insert("sizing_mode".into(), Value::from("risk_percent"));
                e.insert("risk_percent".into(), Value::String(p.to_string()));
            }
            Some(Sizing::Fixed(l)) => {
                e.insert("sizing_mode".into(), Value::from("fixed_volume"));
                e.insert("fixed_volume".into(), Value::String(l.to_string()));
            }
            Some(Sizing::Equity(_)) => {
                // The core checks the entry at the smallest volume; the driver sizes it at the
                // fill (see `Sizing::Equity`).
                e.insert("sizing_mode".into(), Value::from("fixed_volume"));
                e.insert(
                    "fixed_volume".into(),
                    Value::String(spec.volume_min.to_string()),
                );
            }
            None => {}
        }
        Ok(Value::Object(e))
    }
}
