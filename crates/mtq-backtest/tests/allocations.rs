//! The backtest loop allocates nothing per bar: allocations come with signals and trades (their
//! text, the order, the deal records) and with the growth of the result's vectors, never with a
//! bar on which nothing happens. Counted with an instrumented global allocator, which is why this
//! is a test binary of its own.

use std::alloc::System;

use mtq_backtest::testkit::{bench_bars, crossover_setup};
use mtq_backtest::{Backtest, EquityDetail};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations during `run` over `bars`, with the run's signal and trade counts.
fn count(
    fast: usize,
    slow: usize,
    bars: &[mtq_core::Bar],
    detail: EquityDetail,
) -> (usize, usize, usize) {
    let bt = Backtest::new(crossover_setup(fast, slow).unwrap())
        .unwrap()
        .with_equity_detail(detail);
    let region = Region::new(GLOBAL);
    let result = bt.run(bars);
    let allocations = region.change().allocations;
    (allocations, result.signals, result.trades.len())
}

#[test]
fn bars_without_a_signal_or_a_trade_allocate_nothing() {
    let bars = bench_bars(200_000);
    for (fast, slow) in [(100, 400), (10, 30)] {
        for detail in [EquityDetail::EveryBar, EquityDetail::Daily] {
            let (allocations, signals, trades) = count(fast, slow, &bars, detail);
            let events = signals + trades;
            assert!(
                events > 100,
                "{fast}/{slow}: {signals} signals, {trades} trades"
            );
            // A signal that trades: its text, the order request and its id, the simulator's
            // deals and position, the trade record; a logarithmic number more for the growth of
            // the result's vectors. One allocation a bar would be 200,000 here, against
            // 232 signals and trades for 100/400 and about 13,000 for 10/30.
            let per_event = allocations as f64 / events as f64;
            assert!(
                per_event < 25.0,
                "{fast}/{slow} {detail:?}: {allocations} allocations for {signals} signals and {trades} trades"
            );
            eprintln!(
                "{fast}/{slow} {detail:?}: {allocations} allocations, {signals} signals, {trades} trades, {per_event:.1} per signal or trade"
            );
        }
    }
}
