//! Fixtures for the crate's tests: bar builders, a EURUSD context and a runner that reports the
//! bars on which a strategy fired.

use chrono::{DateTime, Duration, Utc};
use mtq_core::{Bar, Decimal, Magic, Position, Side, Signal, SignalKind, SymbolSpec, Ticket};
use mtq_core::{Symbol, Timeframe};

use crate::{Context, HigherBars, Strategy};

pub(crate) fn t0() -> DateTime<Utc> {
    // A Wednesday, 2024-03-06 00:00 UTC.
    DateTime::from_timestamp(1_709_683_200, 0).unwrap_or_default()
}

pub(crate) fn eurusd() -> SymbolSpec {
    SymbolSpec::builtin("EURUSD").expect("EURUSD is built in")
}

pub(crate) fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// An H1 bar `i` hours after [`t0`].
pub(crate) fn bar(i: usize, open: f64, high: f64, low: f64, close: f64) -> Bar {
    let hours = i64::try_from(i).unwrap_or(0);
    Bar {
        time: t0() + Duration::hours(hours),
        open,
        high,
        low,
        close,
        tick_volume: 100,
        real_volume: 0,
        spread: 10,
    }
}

/// Bars whose open, high, low and close all equal the given closes.
pub(crate) fn flat_bars(closes: &[f64]) -> Vec<Bar> {
    closes
        .iter()
        .enumerate()
        .map(|(i, &c)| bar(i, c, c, c, c))
        .collect()
}

/// Bars with the given closes and a 10-pip range around each, opening at the previous close.
pub(crate) fn bars_from_closes(closes: &[f64]) -> Vec<Bar> {
    let mut prev = closes.first().copied().unwrap_or(1.0);
    closes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let b = bar(i, prev, prev.max(c) + 0.0005, prev.min(c) - 0.0005, c);
            prev = c;
            b
        })
        .collect()
}

/// Bars from (high, low), opening and closing at the midpoint.
pub(crate) fn bars_hl(hl: &[(f64, f64)]) -> Vec<Bar> {
    hl.iter()
        .enumerate()
        .map(|(i, &(h, l))| bar(i, (h + l) / 2.0, h, l, (h + l) / 2.0))
        .collect()
}

/// Bars from (open, high, low, close).
pub(crate) fn ohlc(rows: &[(f64, f64, f64, f64)]) -> Vec<Bar> {
    rows.iter()
        .enumerate()
        .map(|(i, &(o, h, l, c))| bar(i, o, h, l, c))
        .collect()
}

/// `n` closes stepping by `step` from `start`.
pub(crate) fn ramp(start: f64, step: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| start + step * f64::from(u32::try_from(i).unwrap_or(0)))
        .collect()
}

/// An open position of this strategy on EURUSD.
pub(crate) fn position(side: Side) -> Position {
    Position {
        ticket: Ticket(1),
        symbol: Symbol::new("EURUSD").expect("valid"),
        side,
        volume: Decimal::ONE,
        open_price: Decimal::ONE,
        open_time: t0(),
        sl: None,
        tp: None,
        current_price: Decimal::ONE,
        swap: Decimal::ZERO,
        profit: Decimal::ZERO,
        magic: Magic(1),
        comment: String::new(),
    }
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
