//! The declared feature set: what a model sees of the market at a closed bar.
//!
//! [`FEATURES`] names every column, in order; a model's manifest must list the same names in the
//! same order. [`FeatureStream`] computes one row per closed bar for live trading and backtests
//! (O(1), no allocation after construction); [`batch`] computes every row of a series at once for
//! training, from `mtq-indicators`' batch functions. The two agree bit for bit (tested): TA-Lib's
//! streaming handles equal its batch functions, and the derived columns use the same arithmetic.
//!
//! Nothing reads a bar after the one the row belongs to.

use chrono::{DateTime, Utc};
use mtq_core::{Bar, SignalKind, Timeframe};
use mtq_indicators::batch;
use mtq_indicators::conditions::{Session, sessions_at};
use mtq_indicators::stream::{Adx, Atr, Bbands, Ema, Indicator, Macd, Rsi};

use crate::MlError;

/// Feature names, in the order of a row.
pub const FEATURES: [&str; N_FEATURES] = [
    "ret_1",
    "ret_3",
    "ret_12",
    "ret_24",
    "rsi_14",
    "macd_hist_over_price",
    "atr_14_over_price",
    "bb_20_pct_b",
    "bb_20_width",
    "adx_14",
    "ema_20_slope",
    "ema_50_slope",
    "session_tokyo",
    "session_london",
    "session_new_york",
    "htf_trend",
    "base_signal",
];

/// Columns in a row.
pub const N_FEATURES: usize = 17;

/// One row of features.
pub type Row = [f64; N_FEATURES];

/// Return horizons, in bars (`ret_N` is `ln(close / close N bars ago)`).
const HORIZONS: [usize; 4] = [1, 3, 12, 24];
const LONGEST: usize = 24;
const RSI: usize = 14;
const MACD: (usize, usize, usize) = (12, 26, 9);
const ATR: usize = 14;
const BB: usize = 20;
const BB_K: f64 = 2.0;
const ADX: usize = 14;
const EMA_FAST: usize = 20;
const EMA_SLOW: usize = 50;
/// The higher timeframe's trend, read on the entry timeframe: the close against an EMA four
/// times as long as the 50-bar one, which is the EMA(50) of a timeframe four times coarser (H4
/// under H1) without waiting for that timeframe's bars to close.
const HTF_EMA: usize = 200;

/// The value of the base strategy's signal as a feature: `1` buy, `-1` sell, `0` anything else.
pub fn signal_value(kind: Option<SignalKind>) -> f64 {
    match kind {
        Some(SignalKind::Buy) => 1.0,
        Some(SignalKind::Sell) => -1.0,
        _ => 0.0,
    }
}

/// Sessions open when the bar closes: tokyo, london, new york (each 0 or 1).
fn sessions(open_time: DateTime<Utc>, timeframe: Timeframe) -> [f64; 3] {
    let open = sessions_at(open_time + timeframe.duration());
    let flag = |s| if open.contains(s) { 1.0 } else { 0.0 };
    [
        flag(Session::Tokyo),
        flag(Session::London),
        flag(Session::NewYork),
    ]
}

/// The parts of a row that come from indicators, in one place so that both paths share the
/// arithmetic.
#[derive(Debug, Clone, Copy)]
struct Readings {
    rsi: f64,
    macd_hist: f64,
    atr: f64,
    bb_upper: f64,
    bb_middle: f64,
    bb_lower: f64,
    adx: f64,
    ema_fast: (f64, f64),
    ema_slow: (f64, f64),
    htf: f64,
}

fn assemble(
    closes: &dyn Fn(usize) -> f64,
    bar: &Bar,
    timeframe: Timeframe,
    r: &Readings,
    signal: f64,
) -> Option<Row> {
    let c = bar.close;
    let mut row = [0.0; N_FEATURES];
    for (i, h) in HORIZONS.iter().enumerate() {
        row[i] = (c / closes(*h)).ln();
    }
    row[4] = r.rsi / 100.0;
    row[5] = r.macd_hist / c;
    row[6] = r.atr / c;
    let width = r.bb_upper - r.bb_lower;
    row[7] = if width > 0.0 {
        (c - r.bb_lower) / width
    } else {
        0.5
    };
    row[8] = width / r.bb_middle;
    row[9] = r.adx / 100.0;
    row[10] = r.ema_fast.1 / r.ema_fast.0 - 1.0;
    row[11] = r.ema_slow.1 / r.ema_slow.0 - 1.0;
    let s = sessions(bar.time, timeframe);
    row[12..15].copy_from_slice(&s);
    row[15] = c / r.htf - 1.0;
    row[16] = signal;
    row.iter().all(|x| x.is_finite()).then_some(row)
}

/// Features one closed bar at a time; see [the module docs](self).
#[derive(Debug, Clone)]
pub struct FeatureStream {
    timeframe: Timeframe,
    closes: [f64; LONGEST + 1],
    seen: usize,
    rsi: Rsi,
    macd: Macd,
    atr: Atr,
    bb: Bbands,
    adx: Adx,
    ema_fast: Ema,
    ema_slow: Ema,
    htf: Ema,
    prev_fast: Option<f64>,
    prev_slow: Option<f64>,
    row: Option<Row>,
}

impl FeatureStream {
    pub fn new(timeframe: Timeframe) -> Result<Self, MlError> {
        Ok(Self {
            timeframe,
            closes: [0.0; LONGEST + 1],
            seen: 0,
            rsi: Rsi::new(RSI)?,
            macd: Macd::new(MACD.0, MACD.1, MACD.2)?,
            atr: Atr::new(ATR)?,
            bb: Bbands::new(BB, BB_K, BB_K)?,
            adx: Adx::new(ADX)?,
            ema_fast: Ema::new(EMA_FAST)?,
            ema_slow: Ema::new(EMA_SLOW)?,
            htf: Ema::new(HTF_EMA)?,
            prev_fast: None,
            prev_slow: None,
            row: None,
        })
    }

    /// Bars fed before the first row.
    pub fn warmup_bars(&self) -> usize {
        [
            self.rsi.lookback(),
            self.macd.lookback(),
            self.atr.lookback(),
            self.bb.lookback(),
            self.adx.lookback(),
            self.ema_fast.lookback() + 1,
            self.ema_slow.lookback() + 1,
            self.htf.lookback(),
            LONGEST,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Takes one closed bar and the base strategy's signal on it; returns the row, `None` while
    /// warming up.
    pub fn update(&mut self, bar: &Bar, signal: Option<SignalKind>) -> Option<&Row> {
        self.closes[self.seen % (LONGEST + 1)] = bar.close;
        self.seen += 1;
        let rsi = self.rsi.update(bar.close);
        let macd = self.macd.update(bar.close);
        let atr = self.atr.update(*bar);
        let bb = self.bb.update(bar.close);
        let adx = self.adx.update(*bar);
        let fast = self.ema_fast.update(bar.close);
        let slow = self.ema_slow.update(bar.close);
        let htf = self.htf.update(bar.close);
        let prev_fast = std::mem::replace(&mut self.prev_fast, fast);
        let prev_slow = std::mem::replace(&mut self.prev_slow, slow);
        self.row = None;
        if self.seen <= LONGEST {
            return None;
        }
        let readings = Readings {
            rsi: rsi?,
            macd_hist: macd?.hist,
            atr: atr?,
            bb_upper: bb?.upper,
            bb_middle: bb?.middle,
            bb_lower: bb?.lower,
            adx: adx?,
            ema_fast: (prev_fast?, fast?),
            ema_slow: (prev_slow?, slow?),
            htf: htf?,
        };
        let (seen, ring) = (self.seen, &self.closes);
        let back = |n: usize| ring[(seen - 1 - n) % (LONGEST + 1)];
        self.row = assemble(&back, bar, self.timeframe, &readings, signal_value(signal));
        self.row.as_ref()
    }

    /// The row of the last bar taken, if it had one.
    pub fn last(&self) -> Option<&Row> {
        self.row.as_ref()
    }
}

/// Every row of `bars` at once: `None` where the stream would give none. `signals[i]` is the
/// base strategy's signal on bar `i` (as long as `bars`).
pub fn batch(
    bars: &[Bar],
    timeframe: Timeframe,
    signals: &[Option<SignalKind>],
) -> Result<Vec<Option<Row>>, MlError> {
    if signals.len() != bars.len() {
        return Err(MlError::Input(format!(
            "{} signals for {} bars: give one (or none) per bar",
            signals.len(),
            bars.len()
        )));
    }
    let close: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let high: Vec<f64> = bars.iter().map(|b| b.high).collect();
    let low: Vec<f64> = bars.iter().map(|b| b.low).collect();
    let rsi = batch::rsi(&close, RSI)?;
    let macd = batch::macd(&close, MACD.0, MACD.1, MACD.2)?;
    let atr = batch::atr(&high, &low, &close, ATR)?;
    let bb = batch::bbands(&close, BB, BB_K, BB_K)?;
    let adx = batch::adx(&high, &low, &close, ADX)?;
    let fast = batch::ema(&close, EMA_FAST)?;
    let slow = batch::ema(&close, EMA_SLOW)?;
    let htf = batch::ema(&close, HTF_EMA)?;
    let some = |x: f64| (!x.is_nan()).then_some(x);
    Ok((0..bars.len())
        .map(|i| {
            if i < LONGEST || i == 0 {
                return None;
            }
            let readings = Readings {
                rsi: some(rsi[i])?,
                macd_hist: some(macd.hist[i])?,
                atr: some(atr[i])?,
                bb_upper: some(bb.upper[i])?,
                bb_middle: some(bb.middle[i])?,
                bb_lower: some(bb.lower[i])?,
                adx: some(adx[i])?,
                ema_fast: (some(fast[i - 1])?, some(fast[i])?),
                ema_slow: (some(slow[i - 1])?, some(slow[i])?),
                htf: some(htf[i])?,
            };
            let back = |n: usize| close[i - n];
            assemble(
                &back,
                &bars[i],
                timeframe,
                &readings,
                signal_value(signals[i]),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtq_core::testkit::{monday, random_walk};

    fn walk(n: usize, seed: u64) -> Vec<Bar> {
        random_walk(n, seed, Timeframe::H1, monday(), 1.1, 10)
    }

    #[test]
    fn streaming_rows_equal_batch_rows_bit_for_bit() {
        let bars = walk(1500, 7);
        let signals: Vec<Option<SignalKind>> = (0..bars.len())
            .map(|i| match i % 7 {
                0 => Some(SignalKind::Buy),
                3 => Some(SignalKind::Sell),
                _ => None,
            })
            .collect();
        let batch = batch(&bars, Timeframe::H1, &signals).unwrap();
        let mut stream = FeatureStream::new(Timeframe::H1).unwrap();
        let mut rows = 0;
        for (i, bar) in bars.iter().enumerate() {
            let live = stream.update(bar, signals[i]).copied();
            match (live, batch[i]) {
                (Some(a), Some(b)) => {
                    rows += 1;
                    for k in 0..N_FEATURES {
                        assert_eq!(a[k].to_bits(), b[k].to_bits(), "bar {i} {}", FEATURES[k]);
                    }
                }
                (None, None) => {}
                (a, b) => panic!("bar {i}: stream {a:?}, batch {b:?}"),
            }
        }
        assert_eq!(rows, bars.len() - stream.warmup_bars());
    }

    #[test]
    fn a_row_ignores_every_later_bar() {
        let bars = walk(400, 3);
        let none = vec![None; bars.len()];
        let full = batch(&bars, Timeframe::H1, &none).unwrap();
        let cut = batch(&bars[..300], Timeframe::H1, &none[..300]).unwrap();
        assert_eq!(full[..300], cut[..]);
        assert!(full[299].is_some());
    }

    #[test]
    fn signals_of_the_wrong_length_are_refused() {
        let bars = walk(10, 1);
        let err = batch(&bars, Timeframe::H1, &[None])
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 signals for 10 bars"), "{err}");
    }
}
