//! The adapter between TA-Lib's streaming handles and [`Indicator`](super::Indicator).
//!
//! A TA-Lib handle can only be opened on `lookback + 1` bars of history. [`TaStream`] buffers
//! inputs until it has that many, opens the handle on them (TA-Lib returns the value at the last
//! history bar, bit-identical to its batch call), frees the buffer and from then on forwards each
//! input to the handle. So the first output arrives at the same bar as the batch function's
//! first non-`NaN` value and every later output equals the batch value bit for bit.

use std::fmt;

use mtq_core::Bar;
use ta_lib::RetCode;

/// An input TA-Lib's streaming tier accepts only when every value in it is finite.
pub(crate) trait Sample: Copy + fmt::Debug {
    fn is_finite_sample(&self) -> bool;
}

impl Sample for f64 {
    #[inline]
    fn is_finite_sample(&self) -> bool {
        self.is_finite()
    }
}

impl Sample for Bar {
    #[inline]
    fn is_finite_sample(&self) -> bool {
        self.open.is_finite()
            && self.high.is_finite()
            && self.low.is_finite()
            && self.close.is_finite()
    }
}

/// One TA-Lib indicator's streaming calls, with its parameters already checked.
pub(crate) trait Kernel: Clone + fmt::Debug {
    type In: Sample;
    type Out: Copy;
    type Handle: Clone + fmt::Debug;
    fn open(&self, history: &[Self::In]) -> Result<(Self::Handle, Self::Out), RetCode>;
    fn update(handle: &mut Self::Handle, input: Self::In) -> Result<Self::Out, RetCode>;
    fn peek(handle: &Self::Handle, input: Self::In) -> Result<Self::Out, RetCode>;
}

/// Warm-up buffer, then a live TA-Lib handle.
#[derive(Debug, Clone)]
pub(crate) struct TaStream<K: Kernel> {
    kernel: K,
    lookback: usize,
    history: Vec<K::In>,
    live: Option<K::Handle>,
}

impl<K: Kernel> TaStream<K> {
    pub(crate) fn new(kernel: K, lookback: usize) -> Self {
        Self {
            kernel,
            lookback,
            history: Vec::new(),
            live: None,
        }
    }

    #[inline]
    pub(crate) fn update(&mut self, input: K::In) -> Option<K::Out> {
        if let Some(handle) = self.live.as_mut() {
            // TA-Lib refuses a non-finite input without touching the handle.
            return K::update(handle, input).ok();
        }
        self.buffer(input)
    }

    /// The warm-up half of [`update`](Self::update): buffers the input and opens the handle
    /// once the buffer holds `lookback + 1` inputs. Kept out of line so that the live path,
    /// which every input after warm-up takes, inlines into its caller without the stack frame
    /// and saved registers the opening needs (see `docs/benchmarks.md`, "Strategies").
    #[cold]
    #[inline(never)]
    fn buffer(&mut self, input: K::In) -> Option<K::Out> {
        if !input.is_finite_sample() {
            return None;
        }
        self.history.push(input);
        if self.history.len() <= self.lookback {
            return None;
        }
        let (handle, out) = self.kernel.open(&self.history).ok()?;
        self.live = Some(handle);
        self.history = Vec::new();
        Some(out)
    }

    pub(crate) fn peek(&self, input: K::In) -> Option<K::Out> {
        if let Some(handle) = self.live.as_ref() {
            return K::peek(handle, input).ok();
        }
        if !input.is_finite_sample() || self.history.len() != self.lookback {
            return None;
        }
        let mut history = self.history.clone();
        history.push(input);
        self.kernel.open(&history).ok().map(|(_, out)| out)
    }

    pub(crate) fn lookback(&self) -> usize {
        self.lookback
    }

    pub(crate) fn reset(&mut self) {
        self.history.clear();
        self.live = None;
    }

    pub(crate) fn warm_up(&mut self, history: &[K::In]) -> Option<K::Out> {
        let fresh = self.live.is_none() && self.history.is_empty();
        if fresh
            && history.len() > self.lookback
            && history.iter().all(Sample::is_finite_sample)
            && let Ok((handle, out)) = self.kernel.open(history)
        {
            // One TA-Lib open over the whole history: no per-bar calls, same values.
            self.live = Some(handle);
            return Some(out);
        }
        let mut last = None;
        for x in history {
            last = self.update(*x);
        }
        last
    }
}

/// Column views of a bar history, as TA-Lib's openers take them.
pub(crate) struct Columns {
    pub(crate) open: Vec<f64>,
    pub(crate) high: Vec<f64>,
    pub(crate) low: Vec<f64>,
    pub(crate) close: Vec<f64>,
    pub(crate) volume: Vec<f64>,
}

impl Columns {
    pub(crate) fn of(bars: &[Bar]) -> Self {
        Self {
            open: bars.iter().map(|b| b.open).collect(),
            high: bars.iter().map(|b| b.high).collect(),
            low: bars.iter().map(|b| b.low).collect(),
            close: bars.iter().map(|b| b.close).collect(),
            volume: bars.iter().map(tick_volume).collect(),
        }
    }
}

/// A bar's tick volume as the `f64` TA-Lib's volume inputs take (exact below 2^53 ticks).
#[inline]
#[allow(clippy::cast_precision_loss)]
pub(crate) fn tick_volume(bar: &Bar) -> f64 {
    bar.tick_volume as f64
}
