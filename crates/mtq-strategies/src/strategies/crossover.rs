//! `crossover` (TradingMTQ): the classic moving-average crossover, always in the market.
//!
//! Rules, on each closed bar once both averages exist:
//! - **Buy** on the bar where the fast average closes above the slow one, having been at or below
//!   it on the bar before;
//! - **Sell** on the bar where it closes below, having been at or above it;
//! - an entry while this strategy holds the other side reverses it (the reason says so), so the
//!   strategy is always in the market after the first cross.
//!
//! Averages are SMA, EMA or WMA of the close (`ma_type`), from TA-Lib's streaming handles.
//! Confidence is a fixed 0.6: a crossover carries no measure of its own strength.
//!
//! This is the strategy optimisers sweep, so its reasons are written once, at construction
//! (`fast SMA(10) crossed above slow SMA(20)`), not formatted with values on every signal.

use mtq_core::{Bar, Side, Signal};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError};
use crate::params::{Cross, MaPair, MaType, below, cross, period, to_value};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "crossover";
const CONFIDENCE: f64 = 0.6;

/// Parameters of [`Crossover`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrossoverParams {
    /// Fast average period (10).
    pub fast_period: usize,
    /// Slow average period, above `fast_period` (20).
    pub slow_period: usize,
    /// `sma`, `ema` or `wma` (`sma`).
    pub ma_type: MaType,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for CrossoverParams {
    fn default() -> Self {
        Self {
            fast_period: 10,
            slow_period: 20,
            ma_type: MaType::Sma,
            stops: StopsConfig::default(),
        }
    }
}

impl CrossoverParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "fast_period", self.fast_period, 1)?;
        period(NAME, "slow_period", self.slow_period, 2)?;
        below(
            NAME,
            ("fast_period", self.fast_period),
            ("slow_period", self.slow_period),
        )?;
        self.stops.validate(NAME)
    }
}

/// The moving-average crossover; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct Crossover {
    params: CrossoverParams,
    averages: MaPair,
    prev: Option<(f64, f64)>,
    stops: Stops,
    /// The reasons for a buy and a sell.
    reasons: [String; 2],
}

impl Crossover {
    pub fn new(params: CrossoverParams) -> Result<Self, StrategyError> {
        params.validate()?;
        let ma = params.ma_type.label();
        let (f, s) = (params.fast_period, params.slow_period);
        let reason = |word| format!("fast {ma}({f}) crossed {word} slow {ma}({s})");
        Ok(Self {
            reasons: [reason("above"), reason("below")],
            averages: MaPair::new(NAME, params.ma_type, f, s)?,
            stops: Stops::new(&params.stops, NAME)?,
            prev: None,
            params,
        })
    }
}

impl Strategy for Crossover {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        // One bar beyond the slow average's lookback gives the first "bar before".
        (self.averages.slow_lookback() + 1).max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    #[inline]
    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let (fast, slow) = self.averages.update(bar.close)?;
        let prev = self.prev.replace((fast, slow))?;
        let side = match cross(prev, (fast, slow))? {
            Cross::Above => Side::Buy,
            Cross::Below => Side::Sell,
        };
        self.signal(side, bar, ctx)
    }
}

impl Crossover {
    /// The entry on a cross. Out of line: one bar in twenty gets here, and keeping the signal's
    /// construction out of `on_bar` spares every other bar its registers and stack frame.
    #[inline(never)]
    fn signal(&self, side: Side, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        let reason = match side {
            Side::Buy => &self.reasons[0],
            Side::Sell => &self.reasons[1],
        };
        entry(
            ctx,
            bar,
            side,
            CONFIDENCE,
            NAME,
            &self.stops,
            reason.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{bars_from_closes, close_to, fired, position, ramp, run, run_with};

    fn fast2_slow4() -> Crossover {
        Crossover::new(CrossoverParams {
            fast_period: 2,
            slow_period: 4,
            ..CrossoverParams::default()
        })
        .unwrap()
    }

    /// Falls 10 pips a bar for 10 bars, rises 20 a bar for 8, falls 20 a bar for 8.
    fn v_then_fall() -> Vec<f64> {
        let mut c = ramp(1.1000, -0.0010, 10);
        c.extend(ramp(1.0930, 0.0020, 8));
        c.extend(ramp(1.1050, -0.0020, 8));
        c
    }

    #[test]
    fn buys_when_the_fast_average_crosses_above_and_sells_when_it_crosses_below() {
        // Bar 11: SMA(2) 1.0940 > SMA(4) 1.09275 after 1.0920 < 1.09225 on bar 10.
        // Bar 19: SMA(2) 1.1040 < SMA(4) 1.1050 after 1.1060 > 1.1050 on bar 18.
        let mut s = fast2_slow4();
        assert_eq!(
            fired(&run(&mut s, &bars_from_closes(&v_then_fall()))),
            vec![(11, Buy), (19, Sell)]
        );
    }

    #[test]
    fn the_signal_carries_fixed_pip_stops_from_the_close_and_a_reason() {
        let mut s = fast2_slow4();
        let bars = bars_from_closes(&v_then_fall());
        let (i, sig) = run(&mut s, &bars).remove(0);
        assert_eq!(sig.entry, None);
        assert!(close_to(sig.sl.unwrap(), bars[i].close - 0.0050));
        assert!(close_to(sig.tp.unwrap(), bars[i].close + 0.0100));
        assert_eq!(sig.strategy, "crossover");
        assert!(sig.reason.contains("crossed above"), "{}", sig.reason);
    }

    #[test]
    fn an_entry_against_an_open_position_says_it_reverses_it() {
        let mut s = fast2_slow4();
        let open = [position(Side::Sell)];
        let sigs = run_with(&mut s, &bars_from_closes(&v_then_fall()), &[], &open);
        assert!(
            sigs[0].1.reason.ends_with("reverses the open sell"),
            "{}",
            sigs[0].1.reason
        );
    }

    #[test]
    fn ema_averages_follow_the_same_cross_rule() {
        let mut s = Crossover::new(CrossoverParams {
            fast_period: 2,
            slow_period: 4,
            ma_type: MaType::Ema,
            ..CrossoverParams::default()
        })
        .unwrap();
        // Bar 10: EMA(2) ~1.09250 still below EMA(4) ~1.09270; bar 11: ~1.09417 above ~1.09362.
        // Bar 19: EMA(2) ~1.10378 falls below EMA(4) ~1.10384.
        let signals = fired(&run(&mut s, &bars_from_closes(&v_then_fall())));
        assert_eq!(signals, vec![(11, Buy), (19, Sell)]);
    }

    #[test]
    fn a_fast_period_not_below_the_slow_one_is_refused_by_name() {
        let p = CrossoverParams {
            fast_period: 30,
            ..CrossoverParams::default()
        };
        let err = Crossover::new(p).unwrap_err().to_string();
        assert!(
            err.contains("`fast_period` = 30") && err.contains("slow_period"),
            "{err}"
        );
    }
}
