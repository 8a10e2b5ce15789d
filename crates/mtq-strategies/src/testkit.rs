//! Fixtures local to the crate's tests: the H1 series the strategy tests lay their bars on, an
//! open position, and a runner that reports the bars on which a strategy fired. Bars, specs and
//! prices come from `mtq_core::testkit`.

use mtq_core::testkit::{PositionBuilder, Series, eurusd, wednesday};
use mtq_core::{Bar, Position, Side, Signal, SignalKind, Timeframe};

use crate::{Context, HigherBars, Strategy};

/// H1 bars from Wednesday 2024-03-06 00:00 UTC, mid-week, with a 5-pip wick: the strategy
/// tests' bars (`series().closes(..)`, `series().ohlc(..)` ...).
pub(crate) fn series() -> Series {
    Series::h1().starting(wednesday())
}

/// An open one-lot EURUSD position of this strategy, opened at the series' start.
pub(crate) fn held(side: Side) -> Position {
    PositionBuilder::new("EURUSD", side)
        .opened(wednesday())
        .build()
}

/// Runs `strategy` over `bars` on H1 with no positions; returns (bar index, signal) for each
/// signal.
pub(crate) fn run(strategy: &mut dyn Strategy, bars: &[Bar]) -> Vec<(usize, Signal)> {
    run_with(strategy, bars, &[], &[])
}

/// As [`run`], with higher-timeframe bars (all given up front; strategies read only those
/// closed before each bar's close) and open positions.
pub(crate) fn run_with(
    strategy: &mut dyn Strategy,
    bars: &[Bar],
    higher: &[HigherBars<'_>],
    positions: &[Position],
) -> Vec<(usize, Signal)> {
    let spec = eurusd();
    let mut out = Vec::new();
    for (i, b) in bars.iter().enumerate() {
        let close = b.time + Timeframe::H1.duration();
        let visible: Vec<HigherBars<'_>> = higher
            .iter()
            .map(|h| {
                let n = h
                    .closed
                    .iter()
                    .take_while(|x| x.time + h.timeframe.duration() <= close)
                    .count();
                HigherBars {
                    timeframe: h.timeframe,
                    closed: &h.closed[..n],
                }
            })
            .collect();
        let ctx = Context::new(&spec, Timeframe::H1)
            .with_higher(&visible)
            .with_positions(positions);
        if let Some(s) = strategy.on_bar(b, &ctx) {
            out.push((i, s));
        }
    }
    out
}

/// The (bar index, kind) of each signal.
pub(crate) fn fired(signals: &[(usize, Signal)]) -> Vec<(usize, SignalKind)> {
    signals.iter().map(|(i, s)| (*i, s.kind)).collect()
}
