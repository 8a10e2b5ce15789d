//! Loads one data file the way `mtq-trader backtest` does (its binary cache when current) and
//! prints how long that took: for wall-clock figures over several runs and, since the whole
//! process does little else, for instruction counts of the load under callgrind:
//!
//! ```text
//! cargo build --release -p mtq-backtest --example load_cache
//! target/release/examples/load_cache DATA.csv          # the first run writes DATA.csv.mtqc
//! valgrind --tool=callgrind target/release/examples/load_cache DATA.csv
//! ```
//!
//! Arguments: the file, then optionally `--no-cache`. Prints rows, the timeframe, the cache
//! status and the time from before `load_files` to after the timeframe is known.

use mtq_backtest::data::{ImportOptions, MarketData, load_files, loaded_timeframe};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: load_cache FILE [--no-cache]");
        std::process::exit(2);
    };
    let opts = ImportOptions {
        use_cache: args.next().as_deref() != Some("--no-cache"),
        ..ImportOptions::default()
    };
    let start = std::time::Instant::now();
    let (data, files) = match load_files(&[path.into()], &opts) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let timeframe = match &data {
        MarketData::Bars(b) => loaded_timeframe(b, &files).map(|t| t.to_string()),
        MarketData::Ticks(_) => None,
    };
    let elapsed = start.elapsed();
    for f in &files {
        println!("{}: {} rows, {:?}", f.path.display(), f.rows, f.cache);
        for w in &f.warnings {
            println!("  warning: {w}");
        }
    }
    println!(
        "{} rows, timeframe {}, loaded in {:.4} s",
        data.len(),
        timeframe.as_deref().unwrap_or("unknown"),
        elapsed.as_secs_f64()
    );
}
