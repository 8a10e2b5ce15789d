//! The `filters:` section of a strategy's config.

use mtq_core::Timeframe;
use mtq_indicators::conditions::{Regime, Session};
use serde::{Deserialize, Serialize};

use crate::error::ParamError;
use crate::params::{period, within};

/// What `mtq-trader strategies` prints about filters.
pub const FILTERS_HELP: &str = "\
  max_spread_pips: 2.0                     block entries on a bar whose spread is wider
  sessions: [london, new_york]             allow entries only while one of these is open
                                           (sydney, tokyo, london, new_york; DST-aware)
  trend: with_signal                       with_signal | trending | ranging (ADX 14/25 + EMA 50 slope)
  volatility: [normal, high]               allowed ATR-percentile regimes (low, normal, high, extreme)
  htf_trend: {timeframe: H4, period: 50}   buys only above, sells only below the higher EMA
  cooldown_bars: 5                         bars after a passed entry before the next
";

/// The config map holding the `filters` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FiltersConfig {
    pub filters: FilterSettings,
}

/// Which filters wrap a strategy; each is off unless set. See [`FILTERS_HELP`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterSettings {
    /// Widest spread, in pips, at which an entry passes.
    pub max_spread_pips: Option<f64>,
    /// Sessions of which one must be open when the signal bar closes; empty for any time.
    pub sessions: Vec<SessionName>,
    /// The market condition an entry needs.
    pub trend: Option<TrendRequirement>,
    /// Volatility regimes in which entries pass; empty for any.
    pub volatility: Vec<RegimeName>,
    /// Higher-timeframe trend the entry must agree with.
    pub htf_trend: Option<HtfTrend>,
    /// Entry-timeframe bars after a passed entry during which further entries are blocked.
    pub cooldown_bars: Option<usize>,
}

impl FilterSettings {
    pub fn validate(&self, strategy: &'static str) -> Result<(), ParamError> {
        if let Some(s) = self.max_spread_pips {
            within(strategy, "filters.max_spread_pips", s, 0.0, 1e6)?;
        }
        if let Some(h) = &self.htf_trend {
            period(strategy, "filters.htf_trend.period", h.period, 2)?;
        }
        if let Some(c) = self.cooldown_bars {
            period(strategy, "filters.cooldown_bars", c, 1)?;
        }
        Ok(())
    }
}

/// A forex session, as config spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionName {
    Sydney,
    Tokyo,
    London,
    NewYork,
}

impl SessionName {
    pub fn session(self) -> Session {
        match self {
            SessionName::Sydney => Session::Sydney,
            SessionName::Tokyo => Session::Tokyo,
            SessionName::London => Session::London,
            SessionName::NewYork => Session::NewYork,
        }
    }
}

/// A volatility regime, as config spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegimeName {
    Low,
    Normal,
    High,
    Extreme,
}

impl RegimeName {
    pub fn regime(self) -> Regime {
        match self {
            RegimeName::Low => Regime::Low,
            RegimeName::Normal => Regime::Normal,
            RegimeName::High => Regime::High,
            RegimeName::Extreme => Regime::Extreme,
        }
    }
}

/// The trend condition an entry needs (from `mtq-indicators`' `TrendDetector` with its defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendRequirement {
    /// Buys in a bullish trend, sells in a bearish one.
    WithSignal,
    /// Any direction, as long as the market trends.
    Trending,
    /// Only while the market ranges (for mean-reversion strategies).
    Ranging,
}

/// Agreement with an EMA of a higher timeframe's closes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HtfTrend {
    /// The higher timeframe (H4).
    pub timeframe: Timeframe,
    /// EMA period on it (50).
    pub period: usize,
}

impl Default for HtfTrend {
    fn default() -> Self {
        Self {
            timeframe: Timeframe::H4,
            period: 50,
        }
    }
}
