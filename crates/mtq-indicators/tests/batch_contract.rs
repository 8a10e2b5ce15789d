//! The batch contract: aligned output, NaN before the lookback, errors that name what to fix.

use mtq_indicators::stream::{Ema, Indicator, Rsi};
use mtq_indicators::{IndicatorError, batch};

#[test]
fn output_is_aligned_to_input_with_nan_before_the_lookback() {
    let close: Vec<f64> = (0..40).map(|i| 1.0 + f64::from(i % 7) * 0.01).collect();
    let rsi = batch::rsi(&close, 14).unwrap();
    assert_eq!(rsi.len(), close.len());
    assert!(rsi[..14].iter().all(|v| v.is_nan()));
    assert!(rsi[14..].iter().all(|v| v.is_finite()));
    assert_eq!(Rsi::new(14).unwrap().lookback(), 14);
}

#[test]
fn an_input_shorter_than_the_lookback_gives_all_nan_and_an_empty_input_gives_nothing() {
    assert!(
        batch::sma(&[1.0, 2.0], 5)
            .unwrap()
            .iter()
            .all(|v| v.is_nan())
    );
    assert!(batch::sma(&[], 5).unwrap().is_empty());
    assert!(batch::atr(&[], &[], &[], 14).unwrap().is_empty());
}

#[test]
fn a_zero_period_is_refused_and_named() {
    let err = batch::ema(&[1.0, 2.0, 3.0], 0).unwrap_err();
    assert!(matches!(
        err,
        IndicatorError::InvalidParameter {
            indicator: "EMA",
            param: "period",
            ..
        }
    ));
    assert!(err.to_string().contains("period"), "{err}");
    assert!(Ema::new(0).is_err());
    assert!(batch::macd(&[1.0; 50], 12, 26, 0).is_err());
    assert!(batch::bbands(&[1.0; 50], 20, -1.0, 2.0).is_err());
    assert!(batch::sar(&[1.0; 5], &[1.0; 5], f64::NAN, 0.2).is_err());
}

#[test]
fn series_of_different_lengths_are_refused_and_named() {
    let err = batch::atr(&[1.0; 10], &[1.0; 9], &[1.0; 10], 3).unwrap_err();
    assert_eq!(
        err,
        IndicatorError::LengthMismatch {
            indicator: "ATR",
            input: "low",
            found: 9,
            reference: "high",
            expected: 10
        }
    );
    assert!(err.to_string().contains("same length"), "{err}");
}

#[test]
fn a_non_finite_input_is_refused_by_a_stream_without_changing_its_state() {
    let mut ema = Ema::new(2).unwrap();
    ema.warm_up(&[1.0, 2.0, 3.0]);
    let before = ema.peek(4.0);
    assert_eq!(ema.update(f64::NAN), None);
    assert_eq!(ema.peek(4.0), before);
    ema.reset();
    assert_eq!(ema.update(4.0), None, "reset forgets the history");
}
