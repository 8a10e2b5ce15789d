//! One crossover backtest over a seeded random walk, for instruction counts under callgrind
//! (steady where the shared machine's wall clock is not):
//!
//! ```text
//! cargo build --release -p mtq-backtest --example backtest_bars
//! valgrind --tool=callgrind --toggle-collect='*Backtest*run*' \
//!     target/release/examples/backtest_bars 100 400 1000000
//! ```
//!
//! Arguments: fast period, slow period, bars (defaults 10 30 1000000). Prints trades and final
//! equity so that runs can be compared.

use mtq_backtest::Backtest;
use mtq_backtest::testkit::{bench_bars, crossover_setup};

/// The allocator `mtq-trader` runs on, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are whole numbers"))
        .collect();
    let fast = args.first().copied().unwrap_or(10);
    let slow = args.get(1).copied().unwrap_or(30);
    let n = args.get(2).copied().unwrap_or(1_000_000);
    let bars = bench_bars(n);
    let setup = crossover_setup(fast, slow).expect("a valid setup");
    let start = std::time::Instant::now();
    let result = Backtest::new(setup).expect("a backtest").run(&bars);
    let elapsed = start.elapsed();
    println!(
        "{fast}/{slow} over {n} bars: {} trades, final equity {}, {:.1} ns a bar",
        result.trades.len(),
        result.final_equity,
        elapsed.as_secs_f64() * 1e9 / n as f64
    );
}
