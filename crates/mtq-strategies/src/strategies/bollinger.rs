//! `bollinger` (TradingMTQ): Bollinger Bands, mean-reversion or breakout.
//!
//! Bands: SMA(`bb_period`) of the close ± `bb_std_dev` population standard deviations (TA-Lib
//! `BBANDS`). Rules, on each closed bar once the bands exist, comparing the close with the bands
//! of the same bar:
//! - `mode: mean_reversion` (default): **Buy** on the bar that closes back at or above the lower
//!   band after a close below it; **Sell** on the bar that closes back at or below the upper
//!   band after a close above it;
//! - `mode: breakout`: **Buy** on the bar that closes above the upper band after a close at or
//!   below it; **Sell** on the bar that closes below the lower band after a close at or above it.
//!
//! Confidence is 0.6.

use mtq_core::{Bar, Side, Signal};
use mtq_indicators::stream::{Bbands, Indicator};
use serde::{Deserialize, Serialize};

use crate::error::{ParamError, StrategyError, indicator};
use crate::params::{period, to_value, within};
use crate::stops::{Stops, StopsConfig};
use crate::strategy::entry;
use crate::{Context, Strategy};

const NAME: &str = "bollinger";
const CONFIDENCE: f64 = 0.6;

/// How [`Bollinger`] reads the bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BollingerMode {
    /// Fade the excursion: buy the return inside from below, sell from above.
    #[default]
    MeanReversion,
    /// Follow the excursion: buy the close above the upper band, sell below the lower.
    Breakout,
}

/// Parameters of [`Bollinger`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BollingerParams {
    /// Period of the middle SMA and the deviation (20).
    pub bb_period: usize,
    /// Band width in standard deviations (2.0).
    pub bb_std_dev: f64,
    /// `mean_reversion` or `breakout`.
    pub mode: BollingerMode,
    #[serde(flatten)]
    pub stops: StopsConfig,
}

impl Default for BollingerParams {
    fn default() -> Self {
        Self {
            bb_period: 20,
            bb_std_dev: 2.0,
            mode: BollingerMode::MeanReversion,
            stops: StopsConfig::default(),
        }
    }
}

impl BollingerParams {
    pub fn validate(&self) -> Result<(), ParamError> {
        period(NAME, "bb_period", self.bb_period, 2)?;
        within(NAME, "bb_std_dev", self.bb_std_dev, 0.01, 10.0)?;
        self.stops.validate(NAME)
    }
}

/// The Bollinger Bands strategy; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct Bollinger {
    params: BollingerParams,
    bands: Bbands,
    /// Previous close and its bands (upper, lower).
    prev: Option<(f64, f64, f64)>,
    stops: Stops,
}

impl Bollinger {
    pub fn new(params: BollingerParams) -> Result<Self, StrategyError> {
        params.validate()?;
        let k = params.bb_std_dev;
        Ok(Self {
            bands: Bbands::new(params.bb_period, k, k).map_err(indicator(NAME))?,
            stops: Stops::new(&params.stops, NAME)?,
            prev: None,
            params,
        })
    }
}

impl Strategy for Bollinger {
    fn name(&self) -> &'static str {
        NAME
    }

    fn warmup_bars(&self) -> usize {
        (self.bands.lookback() + 1).max(self.stops.warmup())
    }

    fn params(&self) -> serde_json::Value {
        to_value(&self.params)
    }

    fn on_bar(&mut self, bar: &Bar, ctx: &Context<'_>) -> Option<Signal> {
        self.stops.update(bar);
        let b = self.bands.update(bar.close)?;
        let c = bar.close;
        let (pc, pu, pl) = self.prev.replace((c, b.upper, b.lower))?;
        let (side, what) = match self.params.mode {
            BollingerMode::MeanReversion if pc < pl && c >= b.lower => {
                (Side::Buy, "back above the lower band")
            }
            BollingerMode::MeanReversion if pc > pu && c <= b.upper => {
                (Side::Sell, "back below the upper band")
            }
            BollingerMode::Breakout if pc <= pu && c > b.upper => {
                (Side::Buy, "above the upper band")
            }
            BollingerMode::Breakout if pc >= pl && c < b.lower => {
                (Side::Sell, "below the lower band")
            }
            _ => return None,
        };
        let reason = format!(
            "close {c:.5} {what} (bands {:.5} / {:.5} / {:.5})",
            b.upper, b.middle, b.lower
        );
        entry(ctx, bar, side, CONFIDENCE, NAME, &self.stops, reason)
    }
}

#[cfg(test)]
mod tests {
    use mtq_core::SignalKind::{Buy, Sell};

    use super::*;
    use crate::testkit::{fired, run, series};

    fn strategy(mode: BollingerMode) -> Bollinger {
        Bollinger::new(BollingerParams {
            bb_period: 5,
            bb_std_dev: 1.5,
            mode,
            ..BollingerParams::default()
        })
        .unwrap()
    }

    /// A 2-pip zigzag around 1.1000, a drop to 1.0900 at bar 8 and a recovery to 1.0980 at
    /// bar 9; later a jump to 1.1100 at bar 16 and a return to 1.1020 at bar 17.
    fn closes() -> Vec<f64> {
        let zig = |n: usize| (0..n).map(|i| if i % 2 == 0 { 1.1000 } else { 1.1002 });
        let mut c: Vec<f64> = zig(8).collect();
        c.extend([1.0900, 1.0980]);
        c.extend(zig(6));
        c.extend([1.1100, 1.1020]);
        c.extend(zig(4));
        c
    }

    #[test]
    fn mean_reversion_buys_the_close_back_inside_the_lower_band_and_sells_the_upper() {
        // Bar 8 closes at 1.0900, below its lower band 1.0920; bar 9 closes at 1.0980, above 1.0918.
        // Bar 16 closes at 1.1100, above its upper band 1.1080; bar 17 at 1.1020, below 1.1082.
        let signals = fired(&run(
            &mut strategy(BollingerMode::MeanReversion),
            &series().closes(&closes()),
        ));
        assert_eq!(signals, vec![(9, Buy), (17, Sell)]);
    }

    #[test]
    fn breakout_sells_the_close_below_the_lower_band_and_buys_above_the_upper() {
        let signals = fired(&run(
            &mut strategy(BollingerMode::Breakout),
            &series().closes(&closes()),
        ));
        assert_eq!(signals, vec![(8, Sell), (16, Buy)]);
    }

    #[test]
    fn modes_parse_from_config_names() {
        let p: BollingerParams = serde_json::from_str(r#"{"mode": "breakout"}"#).unwrap();
        assert_eq!(p.mode, BollingerMode::Breakout);
        assert!(serde_json::from_str::<BollingerParams>(r#"{"mode": "fade"}"#).is_err());
    }
}
