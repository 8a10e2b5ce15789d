//! # mtq-indicators: MTQ's indicators
//!
//! Owns technical indicators in two forms, over a whole series ([`batch`]) and one bar at a time
//! ([`stream`]), plus the indicators TA-Lib lacks ([`seeds`]), market-condition detection
//! ([`conditions`]) and multi-timeframe bars ([`resample`]).
//!
//! It does **not** reimplement the standard indicators: SMA, EMA, RSI, ATR, ADX, MACD, Bollinger
//! Bands and the rest are computed by TA-Lib's official pure-Rust port (the `ta-lib` crate,
//! bit-identical to the C library). This crate adds a typed API (`usize` periods, output aligned
//! to the input, [`IndicatorError`]s that name the parameter to fix), a single streaming trait,
//! and the rest. It does no I/O and holds no clock; it uses `mtq-core`'s [`Bar`](mtq_core::Bar)
//! and [`Timeframe`](mtq_core::Timeframe).
//!
//! Guarantees, each checked by the crate's tests:
//! - batch output has the input's length, `NaN` before the lookback, and equals TA-Lib's C
//!   library within a relative error of 1e-9 with the same `NaN` placement (a committed fixture
//!   generated with the Python `TA-Lib` package, `fixtures/generate_talib_fixture.py`);
//! - streaming output equals batch output bit for bit (property tests over random series);
//! - nothing looks ahead: a swing is reported when confirmed, a higher-timeframe bar once closed.
//!
//! ```
//! use mtq_indicators::batch;
//! use mtq_indicators::stream::{Indicator, Rsi};
//!
//! let close: Vec<f64> = (0..100).map(|i| 1.10 + 0.002 * (f64::from(i) * 0.3).sin()).collect();
//!
//! // A whole series at once: aligned to the input, NaN before the lookback.
//! let rsi = batch::rsi(&close, 14)?;
//! assert!(rsi[13].is_nan() && rsi[14].is_finite());
//!
//! // The same indicator live: warm up on history, then one closed bar at a time.
//! let mut live = Rsi::new(14)?;
//! live.warm_up(&close[..90]);
//! for (i, &c) in close.iter().enumerate().skip(90) {
//!     let forming = live.peek(c);            // a bar still forming: nothing committed
//!     let closed = live.update(c);           // the bar closed
//!     assert_eq!(forming, closed);
//!     assert_eq!(closed.map(f64::to_bits), Some(rsi[i].to_bits())); // bit for bit
//! }
//! # Ok::<(), mtq_indicators::IndicatorError>(())
//! ```
//!
//! See `examples/indicators_tour.rs` for a program that runs every family on an FX-like series.

pub mod batch;
pub mod conditions;
mod error;
pub mod resample;
pub mod seeds;
pub mod stream;

pub use error::IndicatorError;
pub use resample::Resampler;
pub use seeds::Direction;
