//! Signal filters that wrap any strategy: maximum spread, allowed sessions, market condition
//! (trend or volatility regime), higher-timeframe trend agreement, and a cooldown.
//!
//! [`Filtered`] is itself a [`Strategy`]. Every filter watches every bar (O(1) each); when the
//! wrapped strategy proposes an entry (`Buy` or `Sell`) each filter passes or blocks it:
//! - all pass: the signal goes out unchanged but for its reason, which gains
//!   `; filters passed: ...` with each filter's reading;
//! - any blocks: the signal becomes `Hold` (no action) with the reason
//!   `blocked <side>: <blocking filters>; passed: <the others>; <the strategy's reason>`, so the
//!   signal log shows what was proposed and why it did not trade.
//!
//! `Close` and `Hold` signals pass untouched: filters gate entries, never exits.

mod config;

pub use config::{
    FILTERS_HELP, FilterSettings, FiltersConfig, HtfTrend, RegimeName, SessionName,
    TrendRequirement,
};

use std::fmt::Write as _;

use mtq_core::{Bar, Signal, SignalKind};
use mtq_indicators::conditions::{
    Regime, TrendConfig, TrendDetector, TrendState, VolatilityConfig, VolatilityRegime, sessions_at,
};
use mtq_indicators::stream::{Ema, Indicator};

use crate::error::{StrategyError, indicator};
use crate::higher::Cursor;
use crate::{Context, HigherNeed, Strategy};

const NAME: &str = "filters";

/// A strategy behind its signal filters; see [the module docs](self).
#[derive(Debug)]
pub struct Filtered {
    inner: Box<dyn Strategy>,
    settings: FilterSettings,
    filters: Vec<Filter>,
    needs: Vec<HigherNeed>,
}

#[derive(Debug, Clone)]
enum Filter {
    Spread(f64),
    Sessions(Vec<SessionName>),
    Trend {
        want: TrendRequirement,
        detector: Box<TrendDetector>,
        state: Option<TrendState>,
    },
    Volatility {
        allowed: Vec<Regime>,
        detector: Box<VolatilityRegime>,
        regime: Option<Regime>,
    },
    HigherTrend {
        config: HtfTrend,
        ema: Ema,
        cursor: Cursor,
        last: Option<(f64, f64)>,
    },
    Cooldown {
        bars: usize,
        since: Option<usize>,
    },
}

impl Filtered {
    /// Wraps `inner` in the filters `settings` turns on.
    pub fn new(inner: Box<dyn Strategy>, settings: &FilterSettings) -> Result<Self, StrategyError> {
        settings.validate(inner.name())?;
        let e = indicator(NAME);
        let mut filters = Vec::new();
        if let Some(max) = settings.max_spread_pips {
            filters.push(Filter::Spread(max));
        }
        if !settings.sessions.is_empty() {
            filters.push(Filter::Sessions(settings.sessions.clone()));
        }
        if let Some(want) = settings.trend {
            filters.push(Filter::Trend {
                want,
                detector: Box::new(TrendDetector::new(TrendConfig::default()).map_err(&e)?),
                state: None,
            });
        }
        if !settings.volatility.is_empty() {
            let detector = VolatilityRegime::new(VolatilityConfig::default()).map_err(&e)?;
            filters.push(Filter::Volatility {
                allowed: settings.volatility.iter().map(|r| r.regime()).collect(),
                detector: Box::new(detector),
                regime: None,
            });
        }
        let mut needs = inner.higher_timeframes().to_vec();
        if let Some(config) = settings.htf_trend {
            needs.push(HigherNeed {
                timeframe: config.timeframe,
                bars: config.period,
            });
            filters.push(Filter::HigherTrend {
                config,
                ema: Ema::new(config.period).map_err(&e)?,
                cursor: Cursor::default(),
                last: None,
            });
        }
        if let Some(bars) = settings.cooldown_bars {
            filters.push(Filter::Cooldown { bars, since: None });
        }
        Ok(Self {
            inner,
            settings: settings.clone(),
            filters,
            needs,
        })
    }
}

impl Filter {
    fn label(&self) -> &'static str {
        match self {
            Filter::Spread(_) => "spread",
            Filter::Sessions(_) => "session",
            Filter::Trend { .. } => "trend",
            Filter::Volatility { .. } => "volatility",
            Filter::HigherTrend { .. } => "htf_trend",
            Filter::Cooldown { .. } => "cooldown",
        }
    }

    fn warmup(&self) -> usize {
        match self {
            Filter::Trend { detector, .. } => detector.lookback(),
            Filter::Volatility { detector, .. } => detector.lookback(),
            _ => 0,
        }
    }

    /// Watches one bar, whatever the strategy does.
    fn observe(&mut self, bar: &Bar, ctx: &Context<'_>) {
        match self {
            Filter::Trend {
                detector, state, ..
            } => *state = detector.update(*bar).map(|r| r.state),
            Filter::Volatility {
                detector, regime, ..
            } => *regime = detector.update(*bar).map(|r| r.regime),
            Filter::HigherTrend {
                config,
                ema,
                cursor,
                last,
            } => {
                for b in cursor.fresh(ctx.higher_bars(config.timeframe)) {
                    if let Some(v) = ema.update(b.close) {
                        *last = Some((b.close, v));
                    }
                }
            }
            Filter::Cooldown { since, .. } => {
                if let Some(n) = since.as_mut() {
                    *n += 1;
                }
            }
            Filter::Spread(_) | Filter::Sessions(_) => {}
        }
    }

    /// Passes (`Ok`) or blocks (`Err`) an entry, with the reading either way.
    fn check(&self, signal: &Signal, bar: &Bar, ctx: &Context<'_>) -> Result<String, String> {
        let buy = signal.kind == SignalKind::Buy;
        match self {
            Filter::Spread(max) => {
                let per_pip = f64::try_from(ctx.spec.points_per_pip()).unwrap_or(1.0);
                let pips = f64::from(bar.spread) / per_pip;
                let text = format!("spread {pips:.1} pips (max {max})");
                if pips <= *max { Ok(text) } else { Err(text) }
            }
            Filter::Sessions(allowed) => {
                let at = bar.time + ctx.timeframe.duration();
                let open = sessions_at(at);
                match allowed.iter().find(|s| open.contains(s.session())) {
                    Some(s) => Ok(format!("session {s:?} open")),
                    None => Err(format!("no allowed session open at {at}")),
                }
            }
            Filter::Trend { want, state, .. } => {
                let Some(state) = *state else {
                    return Err("trend not known yet".into());
                };
                let ok = match want {
                    TrendRequirement::WithSignal if buy => state == TrendState::Bullish,
                    TrendRequirement::WithSignal => state == TrendState::Bearish,
                    TrendRequirement::Trending => state != TrendState::Ranging,
                    TrendRequirement::Ranging => state == TrendState::Ranging,
                };
                let text = format!("trend {state:?} ({want:?} wanted)");
                if ok { Ok(text) } else { Err(text) }
            }
            Filter::Volatility {
                allowed, regime, ..
            } => match regime {
                Some(r) if allowed.contains(r) => Ok(format!("volatility {r:?}")),
                Some(r) => Err(format!("volatility {r:?} not allowed")),
                None => Err("volatility not known yet".into()),
            },
            Filter::HigherTrend { config, last, .. } => {
                let tf = config.timeframe;
                let Some((close, ema)) = *last else {
                    return Err(format!("{tf} EMA({}) not ready", config.period));
                };
                let ok = if buy { close > ema } else { close < ema };
                let side = if close > ema { "above" } else { "at or below" };
                let text = format!(
                    "{tf} close {close:.5} {side} EMA({}) {ema:.5}",
                    config.period
                );
                if ok { Ok(text) } else { Err(text) }
            }
            Filter::Cooldown { bars, since } => match since {
                Some(n) if n < bars => Err(format!("cooldown, {n} of {bars} bars since the last")),
                _ => Ok("no cooldown".into()),
            },
        }
    }
}

impl Strategy for Filtered {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn warmup_bars(&self) -> usize {
        self.filters
            .iter()
            .map(Filter::warmup)
            .fold(self.inner.warmup_bars(), usize::max)
    }

    fn higher_timeframes(&self) -> &[HigherNeed] {
        &self.needs
    }

    fn params(&self) -> serde_json::Value {
        let mut p = self.inner.params();
        if let (Some(map), Ok(f)) = (p.as_object_mut(), serde_json::to_value(&self.settings)) {
            map.insert("filters".into(), f);
        }
        p
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        for f in &mut self.filters {
            f.observe(bar, ctx);
        }
        let mut signal = self.inner.on_bar(bar, ctx)?;
        if !matches!(signal.kind, SignalKind::Buy | SignalKind::Sell) {
            return Some(signal);
        }
        let (mut passed, mut blocked) = (String::new(), String::new());
        for f in &self.filters {
            let (list, text) = match f.check(&signal, bar, ctx) {
                Ok(t) => (&mut passed, t),
                Err(t) => (&mut blocked, t),
            };
            let sep = if list.is_empty() { "" } else { ", " };
            let _ = write!(list, "{sep}{}: {text}", f.label());
        }
        if blocked.is_empty() {
            let _ = write!(signal.reason, "; filters passed: {passed}");
            for f in &mut self.filters {
                if let Filter::Cooldown { since, .. } = f {
                    *since = Some(0);
                }
            }
        } else {
            let side = if signal.kind == SignalKind::Buy {
                "buy"
            } else {
                "sell"
            };
            let passed = if passed.is_empty() {
                "none".into()
            } else {
                passed
            };
            signal.reason = format!(
                "blocked {side}: {blocked}; passed: {passed}; {}",
                signal.reason
            );
            signal.kind = SignalKind::Hold;
        }
        Some(signal)
    }
}

#[cfg(test)]
mod tests;
