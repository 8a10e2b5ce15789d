//! `macd_mtf` (TradeSystemV1): MACD signal-line cross confirmed by a higher timeframe.
//!
//! Rules, on each closed bar once MACD(`fast_period`, `slow_period`, `signal_period`) exists on
//! the entry timeframe and on the last closed `htf_timeframe` bar (H4 by default; the same
//! periods on both):
//! - **Buy** on the bar where the entry histogram turns positive (at or below zero on the bar
//!   before, above now) while the higher timeframe's histogram is positive;
//! - **Sell** on the bar where it turns negative while the higher one is negative.
//!
//! The higher-timeframe MACD is fed each higher bar once, when it closes, so nothing looks ahead.
//! Confidence is 0.7.

use mtq_core::{Bar, Side, Signal, Timeframe};
use mtq_indicators::stream::{Indicator, Macd, MacdValue};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::higher::Cursor;
use crate::params::{below, period, to_value};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, HigherNeed, Strategy};

const NAME: &str = "macd_mtf";
const CONFIDENCE: f64 = 0.7;

/// Parameters of [`MacdMtf`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MacdMtfParams {
    pub fast_period: usize,
    pub slow_period: usize,
    pub signal_period: usize,
    /// The confirming timeframe (H4); it must be above the entry timeframe.
    pub htf_timeframe: Timeframe,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for MacdMtfParams {
    fn default() -> Self {
        Self {
            fast_period: 12,
            slow_period: 26,
            signal_period: 9,
            htf_timeframe: Timeframe::H4,
            stops: StopsConfig::default(),
        }
    }
}

impl MacdMtfParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "fast_period", self.fast_period, 2)?;
        period(NAME, "slow_period", self.slow_period, 2)?;
        period(NAME, "signal_period", self.signal_period, 1)?;
        below(
            NAME,
            ("fast_period", self.fast_period),
            ("slow_period", self.slow_period),
        )?;
        self.stops.validate(NAME)
    }
}

/// MACD with higher-timeframe confirmation; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct MacdMtf {
    params: MacdMtfParams,
    macd: Macd,
    prev_hist: Option<f64>,
    htf_macd: Macd,
    htf_last: Option<MacdValue>,
    cursor: Cursor,
    needs: [HigherNeed; 1],
    stops: Stops,
}

impl MacdMtf {
    pub fn new(params: MacdMtfParams) -> Result<Self, StrategyError> {
        params.validate()?;
        let p = &params;
        let macd =
            Macd::new(p.fast_period, p.slow_period, p.signal_period).map_err(indicator(NAME))?;
        let needs = [HigherNeed {
            timeframe: p.htf_timeframe,
            bars: macd.lookback() + 1,
        }];
        Ok(Self {
            htf_macd: macd.clone(),
            macd,
            prev_hist: None,
            htf_last: None,
            cursor: Cursor::default(),
            needs,
            stops: Stops::new(&p.stops, NAME)?,
            params,
        })
    }
}

impl Strategy for MacdMtf {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        (self.macd.lookback() + 1).max(self.stops.warmup())
    }

    fn higher_timeframes(&self) -> &[HigherNeed] {
        &self.needs
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let tf = self.params.htf_timeframe;
        for b in self.cursor.fresh(ctx.higher_bars(tf)) {
            if let Some(v) = self.htf_macd.update(b.close) {
                self.htf_last = Some(v);
            }
        }
        let m = self.macd.update(bar.close)?;
        let prev = self.prev_hist.replace(m.hist)?;
        let htf = self.htf_last?;
        let side = if prev <= 0.0 && m.hist > 0.0 && htf.hist > 0.0 {
            Side::Buy
        } else if prev >= 0.0 && m.hist < 0.0 && htf.hist < 0.0 {
            Side::Sell
        } else {
            return None;
        };
        let word = if side == Side::Buy { "above" } else { "below" };
        let reason = format!(
            "MACD crossed {word} its signal (histogram {:+.5}), confirmed by {tf} histogram {:+.5}",
            m.hist, htf.hist
        );
        entry(ctx, bar, side, CONFIDENCE, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::HigherBars;
    use crate::testkit::{fired, run_with, series};
    use mtq_core::testkit::wednesday;

    fn wave(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let x = f64::from(u32::try_from(i).unwrap()) * std::f64::consts::TAU / 40.0;
                1.1 + 0.01 * x.sin()
            })
            .collect()
    }

    /// 60 H4 bars closing before and during the H1 series, accelerating up (or down): their
    /// MACD histogram stays clearly positive (negative).
    fn h4(up: bool) -> Vec<Bar> {
        (0..60)
            .map(|k| {
                let x = f64::from(k) * 0.0001 * f64::from(k);
                let c = if up { 1.0 + x } else { 1.5 - x };
                let mut b = series().bar(0, c, c + 0.0005, c - 0.0005, c);
                b.time = wednesday() + Duration::hours(4 * (i64::from(k) - 40));
                b
            })
            .collect()
    }

    fn strategy() -> MacdMtf {
        MacdMtf::new(MacdMtfParams {
            fast_period: 3,
            slow_period: 6,
            signal_period: 3,
            ..MacdMtfParams::default()
        })
        .unwrap()
    }

    #[test]
    fn takes_only_the_entry_crosses_the_higher_timeframe_agrees_with() {
        // The H1 wave's MACD(3,6,3) crosses: buys on bars 26 and 66, sells on 46 and 86 (see the
        // macd strategy's tests).
        let bars = series().closes(&wave(90));
        for (up, expected) in [
            (true, vec![(26, Buy), (66, Buy)]),
            (false, vec![(46, Sell), (86, Sell)]),
        ] {
            let higher = h4(up);
            let views = [HigherBars {
                timeframe: Timeframe::H4,
                closed: &higher,
            }];
            let sigs = run_with(&mut strategy(), &bars, &views, &[]);
            assert_eq!(fired(&sigs), expected);
        }
    }

    #[test]
    fn without_higher_timeframe_bars_it_never_fires() {
        let bars = series().closes(&wave(90));
        assert_eq!(fired(&run_with(&mut strategy(), &bars, &[], &[])), vec![]);
    }
}
