//! `multi_indicator` (TradingMTQ): a weighted vote of MA, RSI, MACD and Bollinger Bands.
//!
//! On each closed bar, once every indicator exists, each votes +1 (buy), −1 (sell) or 0:
//! - MA: fast above slow +1, below −1;
//! - RSI: below `oversold` +1, above `overbought` −1;
//! - MACD: histogram above zero +1, below −1;
//! - Bollinger: close below the lower band +1, above the upper −1.
//!
//! The score is `Σ weight·vote / Σ weight`, in −1..=1. **Buy** on the bar where the score reaches
//! `min_confidence` or more, having been below it on the bar before; **Sell** on the bar where
//! it reaches `−min_confidence` or less, having been above it. The confidence is `|score|`. A
//! weight of 0 leaves an indicator out of the vote.

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::stream::{Bbands, Indicator, Macd, Rsi};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{Ma, MaType, below, period, positive, to_value, within};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "multi_indicator";

/// Parameters of [`MultiIndicator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MultiIndicatorParams {
    pub fast_period: usize,
    pub slow_period: usize,
    pub ma_type: MaType,
    pub rsi_period: usize,
    pub oversold: f64,
    pub overbought: f64,
    pub macd_fast: usize,
    pub macd_slow: usize,
    pub macd_signal: usize,
    pub bb_period: usize,
    pub bb_std_dev: f64,
    pub ma_weight: f64,
    pub rsi_weight: f64,
    pub macd_weight: f64,
    pub bb_weight: f64,
    /// Score, 0 to 1, an entry needs (0.6).
    pub min_confidence: f64,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for MultiIndicatorParams {
    fn default() -> Self {
        Self {
            fast_period: 10,
            slow_period: 20,
            ma_type: MaType::Sma,
            rsi_period: 14,
            oversold: 30.0,
            overbought: 70.0,
            macd_fast: 12,
            macd_slow: 26,
            macd_signal: 9,
            bb_period: 20,
            bb_std_dev: 2.0,
            ma_weight: 1.0,
            rsi_weight: 1.0,
            macd_weight: 1.0,
            bb_weight: 1.0,
            min_confidence: 0.6,
            stops: StopsConfig::default(),
        }
    }
}

impl MultiIndicatorParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "fast_period", self.fast_period, 1)?;
        below(
            NAME,
            ("fast_period", self.fast_period),
            ("slow_period", self.slow_period),
        )?;
        period(NAME, "rsi_period", self.rsi_period, 2)?;
        below(
            NAME,
            ("oversold", self.oversold),
            ("overbought", self.overbought),
        )?;
        within(NAME, "oversold", self.oversold, 0.0, 100.0)?;
        within(NAME, "overbought", self.overbought, 0.0, 100.0)?;
        period(NAME, "macd_fast", self.macd_fast, 2)?;
        below(
            NAME,
            ("macd_fast", self.macd_fast),
            ("macd_slow", self.macd_slow),
        )?;
        period(NAME, "macd_signal", self.macd_signal, 1)?;
        period(NAME, "bb_period", self.bb_period, 2)?;
        within(NAME, "bb_std_dev", self.bb_std_dev, 0.01, 10.0)?;
        for (field, w) in [
            ("ma_weight", self.ma_weight),
            ("rsi_weight", self.rsi_weight),
            ("macd_weight", self.macd_weight),
            ("bb_weight", self.bb_weight),
        ] {
            within(NAME, field, w, 0.0, 1e3)?;
        }
        let total = self.ma_weight + self.rsi_weight + self.macd_weight + self.bb_weight;
        positive(
            NAME,
            "ma_weight + rsi_weight + macd_weight + bb_weight",
            total,
        )?;
        within(NAME, "min_confidence", self.min_confidence, 0.01, 1.0)?;
        self.stops.validate(NAME)
    }
}

/// The weighted vote; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct MultiIndicator {
    params: MultiIndicatorParams,
    fast: Ma,
    slow: Ma,
    rsi: Rsi,
    macd: Macd,
    bands: Bbands,
    prev_score: Option<f64>,
    stops: Stops,
}

impl MultiIndicator {
    pub fn new(params: MultiIndicatorParams) -> Result<Self, StrategyError> {
        params.validate()?;
        let e = indicator(NAME);
        let p = &params;
        Ok(Self {
            fast: Ma::new(NAME, p.ma_type, p.fast_period)?,
            slow: Ma::new(NAME, p.ma_type, p.slow_period)?,
            rsi: Rsi::new(p.rsi_period).map_err(&e)?,
            macd: Macd::new(p.macd_fast, p.macd_slow, p.macd_signal).map_err(&e)?,
            bands: Bbands::new(p.bb_period, p.bb_std_dev, p.bb_std_dev).map_err(&e)?,
            stops: Stops::new(&p.stops, NAME)?,
            prev_score: None,
            params,
        })
    }
}

fn vote(buy: bool, sell: bool) -> f64 {
    if buy {
        1.0
    } else if sell {
        -1.0
    } else {
        0.0
    }
}

impl Strategy for MultiIndicator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        [
            self.slow.lookback(),
            self.rsi.lookback(),
            self.macd.lookback(),
            self.bands.lookback(),
        ]
        .into_iter()
        .fold(self.stops.warmup(), usize::max)
            + 1
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let c = bar.close;
        let (fast, slow) = (self.fast.update(c), self.slow.update(c));
        let (rsi, macd, bands) = (
            self.rsi.update(c),
            self.macd.update(c),
            self.bands.update(c),
        );
        let (fast, slow, rsi, macd, bands) = (fast?, slow?, rsi?, macd?, bands?);
        let p = &self.params;
        let votes = [
            vote(fast > slow, fast < slow),
            vote(rsi < p.oversold, rsi > p.overbought),
            vote(macd.hist > 0.0, macd.hist < 0.0),
            vote(c < bands.lower, c > bands.upper),
        ];
        let weights = [p.ma_weight, p.rsi_weight, p.macd_weight, p.bb_weight];
        let total: f64 = weights.iter().sum();
        let score = votes.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total;
        let prev = self.prev_score.replace(score)?;
        let m = p.min_confidence;
        let side = if score >= m && prev < m {
            Side::Buy
        } else if score <= -m && prev > -m {
            Side::Sell
        } else {
            return None;
        };
        let reason = format!(
            "vote {score:+.2} (MA {:+}, RSI {:+} at {rsi:.1}, MACD {:+}, BB {:+})",
            votes[0], votes[1], votes[2], votes[3]
        );
        entry(ctx, bar, side, score.abs(), NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, run, series};
    use mtq_core::testkit::close_to;

    /// A sine wave of period 40 bars and amplitude 100 pips around 1.1000: curved everywhere,
    /// so the MACD histogram is never lost in rounding noise as it is on a straight line.
    fn wave(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| {
                1.1 + 0.01
                    * (f64::from(u32::try_from(i).unwrap()) * std::f64::consts::TAU / 40.0).sin()
            })
            .collect()
    }

    fn small() -> MultiIndicatorParams {
        MultiIndicatorParams {
            fast_period: 2,
            slow_period: 4,
            rsi_period: 3,
            macd_fast: 3,
            macd_slow: 6,
            macd_signal: 3,
            bb_period: 5,
            ..MultiIndicatorParams::default()
        }
    }

    #[test]
    fn ma_and_macd_alone_buy_when_both_turn_up_and_sell_when_both_turn_down() {
        // With RSI and Bollinger weighted 0 the score is +1 once MA and MACD both vote buy:
        // the MACD(3,6,3) histogram turns positive on bar 26 (see the macd tests) and SMA(2)
        // crosses above SMA(4) on bar 32, two bars after the trough; the histogram turns down on
        // bar 46 and the averages on bar 52. Bar 12 is the first bar both are ready, past a peak.
        let p = MultiIndicatorParams {
            rsi_weight: 0.0,
            bb_weight: 0.0,
            ..small()
        };
        let sigs = run(
            &mut MultiIndicator::new(p).unwrap(),
            &series().closes(&wave(90)),
        );
        assert_eq!(
            fired(&sigs),
            vec![(12, Sell), (32, Buy), (52, Sell), (72, Buy)]
        );
        assert!(close_to(sigs[1].1.confidence, 1.0));
    }

    #[test]
    fn a_threshold_above_any_reachable_score_never_fires() {
        // MA and MACD agree but RSI is neutral and Bollinger votes against: at most 2/4 + 1/4.
        let p = MultiIndicatorParams {
            min_confidence: 0.9,
            ..small()
        };
        let sigs = run(
            &mut MultiIndicator::new(p).unwrap(),
            &series().closes(&wave(90)),
        );
        assert_eq!(fired(&sigs), vec![]);
    }

    #[test]
    fn all_weights_zero_is_refused() {
        let p = MultiIndicatorParams {
            ma_weight: 0.0,
            rsi_weight: 0.0,
            macd_weight: 0.0,
            bb_weight: 0.0,
            ..MultiIndicatorParams::default()
        };
        let err = MultiIndicator::new(p).unwrap_err().to_string();
        assert!(err.contains("ma_weight + rsi_weight"), "{err}");
    }
}
