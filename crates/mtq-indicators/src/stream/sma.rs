//! The streaming simple moving average on its own ring of inputs, with TA-Lib's arithmetic.
//!
//! TA-Lib's SMA handle does little per input (an addition, a subtraction, a division) but is
//! reached through a warm-up buffer, a bound check on its output range and a call that does not
//! inline: about 40 instructions an input, most of a crossover strategy's bar. This type does the
//! same operations on the same values in the same order, inline:
//!
//! - while warming up, each finite input is added to a running total that starts at `0.0` (the
//!   batch function sums the first `period - 1` inputs from `0.0` the same way before its loop);
//! - from the `period`-th finite input on: the input is added, the total so far is the value's
//!   numerator, the input `period - 1` places back is subtracted (the input itself when the
//!   period is 1, as TA-Lib's empty ring does), and the value is that numerator divided by the
//!   period;
//! - a non-finite input is refused and changes nothing, as the handle refuses it;
//! - once TA-Lib's index range is used up (an output at input index
//!   [`INDEX_MAX`](ta_lib::Core::INDEX_MAX), counted over finite inputs, is its last) updates
//!   give nothing, as the handle's do; a peek still answers.
//!
//! `sma_equals_the_ta_lib_handle` runs random series (with non-finite inputs, peeks, warm-ups
//! and resets between them) through this type and through the TA-Lib handle and compares every
//! output bit for bit; `streaming_equals_batch` compares both with the batch function.

use ta_lib::Core;

use super::Indicator;
use crate::IndicatorError;
use crate::batch::run::{CORE, period};

/// Streaming [`batch::sma`](crate::batch::sma).
#[derive(Debug, Clone)]
pub struct Sma {
    /// The period as the divisor.
    divisor: f64,
    lookback: usize,
    /// The last `period - 1` finite inputs (none for a period of 1); `ring[pos]` is the oldest
    /// once it is full.
    ring: Box<[f64]>,
    pos: usize,
    /// The sum of the inputs in the ring (TA-Lib's `periodTotal`).
    total: f64,
    /// Finite inputs taken.
    seen: usize,
}

impl Sma {
    /// Builds the indicator; refuses a period outside TA-Lib's range.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let p = self::period("SMA", "period", period, 1)?;
        let lookback = CORE
            .sma_lookback(p)
            .map_err(|e| IndicatorError::talib("SMA", e))?;
        Ok(Self {
            divisor: f64::from(p),
            lookback,
            ring: vec![0.0; period - 1].into_boxed_slice(),
            pos: 0,
            total: 0.0,
            seen: 0,
        })
    }

    /// The input `period - 1` places back once the ring is full (the input itself for a period
    /// of 1), replaced by `x`.
    #[inline]
    fn trailing(&mut self, x: f64) -> f64 {
        let Some(slot) = self.ring.get_mut(self.pos) else {
            return x;
        };
        let old = std::mem::replace(slot, x);
        self.pos += 1;
        if self.pos == self.ring.len() {
            self.pos = 0;
        }
        old
    }
}

impl Indicator for Sma {
    type Input = f64;
    type Output = f64;

    #[inline]
    fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() || self.seen > Core::INDEX_MAX {
            return None;
        }
        self.seen += 1;
        if self.seen <= self.lookback {
            // Warming up: the ring fills in order, so the oldest lands at position 0.
            self.total += x;
            self.trailing(x);
            return None;
        }
        self.total += x;
        let numerator = self.total;
        self.total -= self.trailing(x);
        Some(numerator / self.divisor)
    }

    #[inline]
    fn peek(&self, x: f64) -> Option<f64> {
        if !x.is_finite() || self.seen < self.lookback {
            return None;
        }
        Some((self.total + x) / self.divisor)
    }

    fn lookback(&self) -> usize {
        self.lookback
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.total = 0.0;
        self.seen = 0;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use ta_lib::RetCode;

    use super::*;
    use crate::stream::engine::{Kernel, TaStream};

    /// TA-Lib's own SMA handle, as this crate ran it before: the reference.
    #[derive(Debug, Clone)]
    struct TaSma(i32);

    impl Kernel for TaSma {
        type In = f64;
        type Out = f64;
        type Handle = ta_lib::SmaStream;
        fn open(&self, history: &[f64]) -> Result<(Self::Handle, f64), RetCode> {
            CORE.sma_open(history, self.0)
        }
        fn update(handle: &mut Self::Handle, input: f64) -> Result<f64, RetCode> {
            handle.update(input)
        }
        fn peek(handle: &Self::Handle, input: f64) -> Result<f64, RetCode> {
            handle.peek(input)
        }
    }

    fn reference(period: usize) -> TaStream<TaSma> {
        let p = i32::try_from(period).unwrap();
        TaStream::new(TaSma(p), CORE.sma_lookback(p).unwrap())
    }

    fn bits(x: Option<f64>) -> Option<u64> {
        x.map(f64::to_bits)
    }

    /// What a step of the random run does.
    #[derive(Debug, Clone)]
    enum Step {
        Update(f64),
        Peek(f64),
        WarmUp(Vec<f64>),
        Reset,
    }

    /// Prices of any size and sign, zeros of both signs, and the non-finite inputs refused.
    fn input() -> impl Strategy<Value = f64> {
        prop_oneof![
            20 => -1.0e6f64..1.0e6,
            20 => 0.5f64..2.0,
            2 => Just(0.0),
            2 => Just(-0.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(1.0e300),
            1 => Just(-1.0e300),
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            40 => input().prop_map(Step::Update),
            6 => input().prop_map(Step::Peek),
            1 => proptest::collection::vec(input(), 0..40).prop_map(Step::WarmUp),
            1 => Just(Step::Reset),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]
        /// Every update, peek and warm-up gives what TA-Lib's handle gives, bit for bit.
        #[test]
        fn sma_equals_the_ta_lib_handle(
            period in prop_oneof![1usize..=4, 1usize..=40],
            steps in proptest::collection::vec(step(), 0..400),
        ) {
            let mut mine = Sma::new(period).unwrap();
            let mut theirs = reference(period);
            prop_assert_eq!(mine.lookback(), theirs.lookback());
            for (k, s) in steps.iter().enumerate() {
                let (a, b) = match s {
                    Step::Update(x) => (mine.update(*x), theirs.update(*x)),
                    Step::Peek(x) => (mine.peek(*x), theirs.peek(*x)),
                    Step::WarmUp(xs) => (mine.warm_up(xs), theirs.warm_up(xs)),
                    Step::Reset => {
                        mine.reset();
                        theirs.reset();
                        (None, None)
                    }
                };
                prop_assert_eq!(bits(a), bits(b), "step {}: {:?}", k, s);
            }
        }
    }

    /// Past TA-Lib's index range the handle gives no more values, and neither does this one;
    /// both still peek.
    #[test]
    #[allow(clippy::cast_precision_loss)]
    fn updates_stop_where_the_handles_index_range_ends() {
        for period in [1, 3] {
            let mut mine = Sma::new(period).unwrap();
            let mut theirs = reference(period);
            let mut last = (None, None);
            for i in 0..=Core::INDEX_MAX + 2 {
                let x = (i % 7) as f64;
                last = (mine.update(x), theirs.update(x));
                if i == Core::INDEX_MAX {
                    assert!(last.0.is_some(), "the last index has a value");
                    assert_eq!(bits(last.0), bits(last.1));
                }
            }
            assert_eq!(last, (None, None));
            assert_eq!(bits(mine.peek(2.0)), bits(theirs.peek(2.0)));
            assert!(mine.peek(2.0).is_some());
        }
    }

    #[test]
    fn refuses_periods_outside_ta_libs_range() {
        assert!(Sma::new(0).is_err());
        assert!(Sma::new(100_001).is_err());
        assert!(Sma::new(100_000).is_ok());
    }
}
