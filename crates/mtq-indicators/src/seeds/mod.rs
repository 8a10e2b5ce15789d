//! The indicators the MTQ strategies use beyond TA-Lib's standard set, with their formulas.
//!
//! Each is a streaming [`Indicator`](crate::stream::Indicator) with a batch form
//! (`seeds::swings(&bars, 2, 2)`, ...) that runs the same code over a series, so the two agree
//! bit for bit by construction (and property tests check it). Three of the indicators the
//! strategies need turned out to be in TA-Lib 0.8 after all; they are wrapped, not rewritten,
//! and their formulas are written down here too.
//!
//! # Zero-lag EMA — TA-Lib `ZLEMA`: [`batch::zlema`](crate::batch::zlema), [`stream::Zlema`](crate::stream::Zlema)
//! With lag `L = ⌊(n − 1) / 2⌋`, an EMA (`α = 2 / (n + 1)`, seeded by an SMA) of the de-lagged
//! series `d[t] = x[t] + (x[t] − x[t − L])`. For odd `n` an EMA of a straight line lags it by
//! exactly `(n − 1) / 2` bars, which the de-lag cancels: the ZLEMA of a linear ramp *is* the
//! ramp. Source: J. Ehlers and R. Way, "Zero Lag (Well, Almost)", *Technical Analysis of Stocks &
//! Commodities*, Nov 2010; TA-Lib's `ZLEMA` documentation.
//!
//! # SuperTrend — TA-Lib `SUPERTREND`: [`batch::supertrend`](crate::batch::supertrend), [`stream::SuperTrend`](crate::stream::SuperTrend)
//! Basic bands `hl2 ± m·ATR(n)` around the median price `hl2 = (high + low) / 2`. The final
//! lower band only rises while the trend is up (`max(basic, previous final)` unless the previous
//! close fell below it) and the final upper band only falls while it is down. The trend turns up
//! when the close rises above the final upper band and down when it falls below the final lower
//! band; the line is the lower band in an uptrend and the upper band in a downtrend. Source:
//! Olivier Seban's SuperTrend (2000s), as specified in TA-Lib's `SUPERTREND` documentation.
//!
//! # Heikin-Ashi — TA-Lib `HA`: [`batch::heikin_ashi`](crate::batch::heikin_ashi), [`stream::HeikinAshi`](crate::stream::HeikinAshi)
//! `close' = (o + h + l + c) / 4`, `open' = (open'[t−1] + close'[t−1]) / 2` (the first candle's
//! open is `(o + c) / 2`), `high' = max(h, open', close')`, `low' = min(l, open', close')`.
//! Source: Dan Valcu, "Using the Heikin-Ashi Technique", *TASC*, Feb 2004.
//!
//! # Two-pole oscillator — [`TwoPoleOscillator`]
//! `m = SMA(close, n)`, `d = close − m`, `z = (d − SMA(d, n)) / σ(d, n)` with `σ` the population
//! standard deviation over `n` bars (`z = 0` when `σ = 0`); then a two-pole smoother with
//! `α = 2 / (f + 1)`: `s1 = (1 − α)·s1 + α·z`, `s2 = (1 − α)·s2 + α·s1`, both seeded with the first
//! `z`. The value is `s2`, the signal line `s2` from `lag` bars before; a cross of value above
//! signal below zero is bullish, below signal above zero bearish. Defaults `n = 25`, `f = 20`,
//! `lag = 4`. Source: "Two-Pole Oscillator [BigBeluga]", TradingView open-source script (2024).
//! The EMA trend strategy uses it as its momentum filter.
//!
//! # Momentum bias index — [`MomentumBiasIndex`]
//! `mom = close − close[n]`, `r = 100·mom / EMA(high − low, n)`; `up = max(r, 0)`,
//! `down = min(r, 0)`; `U = max(HMA(Σ_b up, s), 0)`, `D = max(HMA(−Σ_b down, s), 0)` where `Σ_b` is
//! the sum over the last `b` bars and `HMA` the Hull moving average; the impulse boundary is
//! `EMA(a, B) + k·σ(a, B)` of `a = (U + D) / 2`. EMAs here are seeded with their first value, as
//! in Pine Script. The bias is bullish when `U > D`. Defaults `n = 10`, `b = 5`, `s = 10`, `B = 30`,
//! `k = 3`. Source: "Momentum Bias Index [AlgoAlpha]", TradingView open-source script (2024); the
//! formula is taken from its published ThinkScript port (usethinkscript.com, 2025), since the
//! Pine source is not reproduced here.
//!
//! # Pivot points — [`Pivots`], [`PivotLevels::compute`]
//! From the previous period's `H`, `L`, `C`, with `P = (H + L + C) / 3` and `R = H − L`:
//! - classic (floor-trader): `R1 = 2P − L`, `S1 = 2P − H`, `R2 = P + R`, `S2 = P − R`,
//!   `R3 = H + 2(P − L)`, `S3 = L − 2(H − P)`;
//! - Fibonacci: `R1, R2, R3 = P + {0.382, 0.618, 1.000}·R`, `S1, S2, S3 = P − {…}·R`;
//! - Camarilla (Nick Scott, 1989): `R1..R4 = C + 1.1·R / {12, 6, 4, 2}`, `S1..S4 = C − 1.1·R / {…}`.
//!
//! # Swing highs and lows — [`Swings`]
//! Bar `i` is a swing high when its high is strictly above the highs of the `left` bars before it
//! and at least the highs of the `right` bars after it (a swing low mirrors this with lows). It
//! is reported on bar `i + right`, the first bar at which it is known: no look-ahead. With
//! `left = right = 2` this is Bill Williams' fractal (*Trading Chaos*, 1995).
//!
//! # Market structure — [`MarketStructure`]
//! Tracks the most recent confirmed swing high and swing low. A close above the swing high (or
//! below the swing low) breaks it; each swing breaks once. A break in the direction of the
//! current trend, or the first break of the stream, is a break of structure (BOS); a break
//! against it is a change of character (CHoCH). The trend becomes the direction of the last
//! break. This is the "smart money concepts" reading of structure (ICT; LuxAlgo's "Smart Money
//! Concepts" script); no single published formula exists, so this is MTQ's definition: breaks
//! are decided on closes, not wicks.
//!
//! # Order blocks — [`OrderBlocks`]
//! On a bullish break, the order block is the last bearish candle (close < open) from the
//! broken swing's bar up to the bar before the break (the lowest-low candle if there is none);
//! its range `[low, high]` is the block. Bearish mirrors it. A bullish block is mitigated, and
//! dropped, when a later close falls below its low; a bearish one when a close rises above its
//! high. MTQ's definition after ICT's description of order blocks; no canonical formula exists.
//!
//! # Fair value gaps — [`FairValueGaps`]
//! For three consecutive candles `a, b, c`: a bullish gap `[a.high, c.low]` when
//! `c.low > a.high`, a bearish gap `[c.high, a.low]` when `c.high < a.low`, reported on `c`
//! when at least `min_size` wide. A bullish gap is filled, and dropped, when a later low reaches
//! its bottom; a bearish one when a later high reaches its top. Source: ICT's "fair value gap",
//! as LuxAlgo's "Fair Value Gap" script detects it (without its auto threshold).

mod fvg;
mod mbi;
mod order_blocks;
mod pivots;
mod structure;
mod swings;
mod two_pole;
pub(crate) mod window;

pub use fvg::{FairValueGap, FairValueGapUpdate, FairValueGaps};
pub use mbi::{MomentumBiasConfig, MomentumBiasIndex, MomentumBiasValue};
pub use order_blocks::{OrderBlock, OrderBlockConfig, OrderBlockUpdate, OrderBlocks};
pub use pivots::{PivotKind, PivotLevels, Pivots};
pub use structure::{BreakKind, MarketStructure, StructureBreak, StructureState};
pub use swings::{Swing, SwingKind, SwingPoints, Swings};
pub use two_pole::{TwoPoleConfig, TwoPoleOscillator, TwoPoleValue};

use mtq_core::{Bar, Timeframe};

use crate::IndicatorError;
use crate::stream::run;

/// Up or down: a trend, a break, a zone's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Bullish,
    Bearish,
}

/// [`TwoPoleOscillator`] over a close series; `None` before its lookback.
pub fn two_pole(
    close: &[f64],
    config: TwoPoleConfig,
) -> Result<Vec<Option<TwoPoleValue>>, IndicatorError> {
    Ok(run(TwoPoleOscillator::new(config)?, close))
}

/// [`MomentumBiasIndex`] over bars; `None` before its lookback.
pub fn momentum_bias(
    bars: &[Bar],
    config: MomentumBiasConfig,
) -> Result<Vec<Option<MomentumBiasValue>>, IndicatorError> {
    Ok(run(MomentumBiasIndex::new(config)?, bars))
}

/// [`Pivots`] over bars: at each bar, the levels from the last period closed by then.
pub fn pivots(
    bars: &[Bar],
    kind: PivotKind,
    source: Timeframe,
    period: Timeframe,
    server_offset_secs: i32,
) -> Result<Vec<Option<PivotLevels>>, IndicatorError> {
    Ok(run(
        Pivots::new(kind, source, period, server_offset_secs)?,
        bars,
    ))
}

/// [`Swings`] over bars, each swing at the bar that confirmed it.
pub fn swings(
    bars: &[Bar],
    left: usize,
    right: usize,
) -> Result<Vec<Option<SwingPoints>>, IndicatorError> {
    Ok(run(Swings::new(left, right)?, bars))
}

/// [`MarketStructure`] over bars.
pub fn market_structure(
    bars: &[Bar],
    left: usize,
    right: usize,
) -> Result<Vec<Option<StructureState>>, IndicatorError> {
    Ok(run(MarketStructure::new(left, right)?, bars))
}

/// [`OrderBlocks`] over bars.
pub fn order_blocks(
    bars: &[Bar],
    config: OrderBlockConfig,
) -> Result<Vec<Option<OrderBlockUpdate>>, IndicatorError> {
    Ok(run(OrderBlocks::new(config)?, bars))
}

/// [`FairValueGaps`] over bars.
pub fn fair_value_gaps(
    bars: &[Bar],
    min_size: f64,
    max_open: usize,
) -> Result<Vec<Option<FairValueGapUpdate>>, IndicatorError> {
    Ok(run(FairValueGaps::new(min_size, max_open)?, bars))
}
