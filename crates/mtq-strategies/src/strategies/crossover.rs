//! `crossover` (TradingMTQ): the classic moving-average crossover, always in the market.
//!
//! Rules, on each closed bar once both averages exist:
//! - **Buy** on the bar where the fast average closes above the slow one, having been at or below
//!   it on the bar before;
//! - **Sell** on the bar where it closes below, having been at or above it;
//! - an entry while this strategy holds the other side reverses it (the reason says so), so the
//!   strategy is always in the market after the first cross.
//!
//! Averages are SMA, EMA or WMA of the close (`ma_type`), from TA-Lib's streaming handles, or,
//! built on a [`SeriesCache`] ([`Crossover::shared`]), read at the bar's index from series the
//! cache computed once for every parameter set over the same bars (the same values bit for bit;
//! see [`crate::shared`] for bars outside the cache's series).
//! Confidence is a fixed 0.6: a crossover carries no measure of its own strength.
//!
//! This is the strategy optimisers sweep, so its reasons are written once, at construction
//! (`fast SMA(10) crossed above slow SMA(20)`), not formatted with values on every signal.

use std::sync::Arc;

use mtq_core::{Bar, Side, Signal};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{Cross, MaPair, MaType, below, cross, period, to_value};
use crate::shared::{SeriesCache, SharedPair};
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
    averages: Averages,
    slow_lookback: usize,
    stops: Stops,
    /// The reasons for a buy and a sell.
    reasons: [String; 2],
}

/// Where the two averages come from.
// The streaming handles stay inline: boxing them would put a pointer chase on every bar of the
// streaming path, to save a few hundred bytes in a strategy of which a backtest has one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Averages {
    /// Streaming handles, and the pair at the bar before.
    Streaming(MaPair, Option<(f64, f64)>),
    /// Series shared through a cache, read at the bar's index.
    Shared(SharedPair),
}

impl Averages {
    /// `(fast, slow)` at the bar before and at this bar, once the strategy can tell a cross.
    #[inline(always)]
    fn step(&mut self, bar: &Bar) -> Option<((f64, f64), (f64, f64))> {
        match self {
            Averages::Streaming(pair, prev) => {
                let now = pair.update(bar.close)?;
                Some((prev.replace(now)?, now))
            }
            Averages::Shared(pair) => {
                let i = pair.index(bar.time)?;
                // Before the slow average's first value one of the pairs holds a `NaN`, and
                // `cross` finds no cross in a comparison with `NaN`: the streaming path's `None`.
                pair.around(i)
            }
        }
    }
}

impl Crossover {
    /// A crossover on its own streaming averages.
    pub fn new(params: CrossoverParams) -> Result<Self, StrategyError> {
        Self::build(params, None)
    }

    /// A crossover reading its averages from `cache`, to be fed the cache's bars in order (see
    /// [`crate::shared`]): the same signals as [`Crossover::new`] on those bars.
    pub fn shared(
        params: CrossoverParams,
        cache: &Arc<SeriesCache>,
    ) -> Result<Self, StrategyError> {
        Self::build(params, Some(cache))
    }

    fn build(
        params: CrossoverParams,
        cache: Option<&Arc<SeriesCache>>,
    ) -> Result<Self, StrategyError> {
        params.validate()?;
        let ma = params.ma_type.label();
        let (f, s) = (params.fast_period, params.slow_period);
        let reason = |word| format!("fast {ma}({f}) crossed {word} slow {ma}({s})");
        // The streaming pair checks the periods and gives the lookback either way.
        let streaming = MaPair::new(NAME, params.ma_type, f, s)?;
        let slow_lookback = streaming.slow_lookback();
        let averages = match cache {
            None => Averages::Streaming(streaming, None),
            Some(cache) => Averages::Shared(
                SharedPair::new(cache, params.ma_type, f, s).map_err(indicator(NAME))?,
            ),
        };
        Ok(Self {
            reasons: [reason("above"), reason("below")],
            averages,
            slow_lookback,
            stops: Stops::new(&params.stops, NAME)?,
            params,
        })
    }

    /// The cache this crossover reads its averages from, if it was built on one.
    pub fn series_cache(&self) -> Option<&Arc<SeriesCache>> {
        match &self.averages {
            Averages::Streaming(..) => None,
            Averages::Shared(pair) => Some(pair.cache()),
        }
    }
}

impl Strategy for Crossover {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        // One bar beyond the slow average's lookback gives the first "bar before".
        (self.slow_lookback + 1).max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    /// Always inlined, so that the default `on_bars` (compiled for this strategy) runs a quiet
    /// stretch of a backtest, and an optimiser's every set, in one loop with the bar's step in
    /// it: as a call, `on_bar` cost each bar its frame and saved registers, about a third of
    /// the strategy's instructions a bar with the optimiser's shared averages (callgrind).
    #[inline(always)]
    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let (prev, now) = self.averages.step(bar)?;
        let side = match cross(prev, now)? {
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
            reason.as_str(),
        )
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, held, run, run_with, series};
    use mtq_core::testkit::{close_to, ramp};

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
            fired(&run(&mut s, &series().closes(&v_then_fall()))),
            vec![(11, Buy), (19, Sell)]
        );
    }

    #[test]
    fn the_signal_carries_fixed_pip_stops_from_the_close_and_a_reason() {
        let mut s = fast2_slow4();
        let bars = series().closes(&v_then_fall());
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
        let open = [held(Side::Sell)];
        let sigs = run_with(&mut s, &series().closes(&v_then_fall()), &[], &open);
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
        let signals = fired(&run(&mut s, &series().closes(&v_then_fall())));
        assert_eq!(signals, vec![(11, Buy), (19, Sell)]);
    }

    /// `on_bars`, on shared averages and on its own: in runs of 1 to 12 bars,
    /// each refusing its third bar every fourth run, the signals of `on_bar` one bar at a time.
    #[test]
    fn runs_on_shared_or_own_averages_give_the_bar_by_bar_signals() {
        let closes: Vec<f64> = (0..600)
            .map(|i| 1.1 + 0.003 * (f64::from(i) / 7.0).sin() + 0.001 * (f64::from(i) / 2.3).cos())
            .collect();
        let bars = series().closes(&closes);
        let params = CrossoverParams {
            fast_period: 3,
            slow_period: 8,
            ..CrossoverParams::default()
        };
        let spec = mtq_core::testkit::eurusd();
        let ctx = Context::new(&spec, mtq_core::Timeframe::H1);
        let mut one = Crossover::new(params.clone()).unwrap();
        let expected: Vec<(usize, Signal)> = bars
            .iter()
            .enumerate()
            .filter_map(|(i, b)| one.on_bar(b, &ctx).map(|s| (i, s)))
            .collect();
        assert!(
            expected.len() > 20,
            "the series crosses: {}",
            expected.len()
        );
        let cache = Arc::new(SeriesCache::new(&bars).unwrap());
        for mut s in [
            Crossover::new(params.clone()).unwrap(),
            Crossover::shared(params, &cache).unwrap(),
        ] {
            let (mut got, mut at, mut call) = (Vec::new(), 0, 0usize);
            while at < bars.len() {
                call += 1;
                let chunk = &bars[at..bars.len().min(at + 1 + call % 12)];
                let refuse = (call % 4 == 0).then_some(2);
                let (taken, signal) = s.on_bars(chunk, &ctx, &mut |k| Some(k) != refuse);
                if let Some(sig) = signal {
                    got.push((at + taken - 1, sig));
                }
                at += taken;
            }
            assert_eq!(got, expected, "shared: {}", s.series_cache().is_some());
        }
        assert_eq!((cache.resyncs(), cache.strays()), (0, 0));
    }

    #[test]
    fn a_fast_period_not_below_the_slow_one_is_refused_by_name() {
        let p = CrossoverParams {
            fast_period: 30,
            ..CrossoverParams::default()
        };
        let err = Crossover::new(p).unwrap_err().to_string();
        assert!(
            err.contains("`fast_period` must be below `slow_period` (20), got 30"),
            "{err}"
        );
    }
}
