//! The speed goals of issue 8, end to end, on one year of synthetic EURUSD M5 bars (74,880 bars):
//! 1. loading the CSV the first time (parse + write the binary cache) and the second time (cache),
//!    against one backtest over the same bars;
//! 2. a 14,406-combination crossover grid (7 x 7 x 7 x 7 x 6, the size TradeSystemV1 runs per
//!    instrument) on every core.
//!
//! `CARGO_TARGET_DIR=/work/target-bt cargo run --release -p mtq-backtest --example grid_14406`
//! (add `-- 1000` to evaluate a seeded random sample of 1,000 sets instead of the whole grid, and
//! `-- 1000 streaming` to run it without sharing indicator series between sets, for comparison).

use std::time::Instant;

use mtq_backtest::data::{ImportOptions, MarketData, load_files};
use mtq_backtest::optimize::{
    Objective, OptimizeOptions, Search, SetupFactory, optimize, parse_range,
};
use mtq_backtest::testkit::{random_walk, to_csv};
use mtq_backtest::{Backtest, SetupOptions, Sizing};
use mtq_core::Timeframe;

/// The allocator `mtq-trader` runs on, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sample: Option<usize> = std::env::args().nth(1).map(|s| s.parse()).transpose()?;
    let share = std::env::args().nth(2).as_deref() != Some("streaming");
    let bars = random_walk(
        52 * 5 * 288,
        7,
        Timeframe::M5,
        "2023-01-02T00:00:00Z".parse()?,
        1.1,
        8,
    );
    let dir = std::env::temp_dir().join(format!("mtq-grid-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("EURUSD_M5_2023.csv");
    std::fs::write(&src, to_csv(&bars))?;
    let opts = ImportOptions {
        use_cache: true,
        ..ImportOptions::default()
    };

    let t = Instant::now();
    let (_, files) = load_files(std::slice::from_ref(&src), &opts)?;
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (data, files2) = load_files(std::slice::from_ref(&src), &opts)?;
    let second = t.elapsed().as_secs_f64();
    let MarketData::Bars(loaded) = data else {
        return Err("expected bars".into());
    };
    println!("bars: {}", loaded.len());
    println!(
        "first load (parse CSV, write cache): {first:.3} s ({:?})",
        files[0].cache
    );
    println!(
        "second load (binary cache):          {second:.3} s ({:?})",
        files2[0].cache
    );

    let setup = SetupOptions {
        symbol: "EURUSD".into(),
        strategy: Some("crossover".into()),
        timeframe: Timeframe::M5,
        sizing: Some(Sizing::Risk(1.into())),
        ..SetupOptions::default()
    }
    .build()?;
    let t = Instant::now();
    let r = Backtest::new(setup.clone())?.run(&loaded);
    let one = t.elapsed().as_secs_f64();
    println!(
        "one backtest: {one:.3} s ({:.0} bars/s, {} trades); second run = {:.0}% loading, {:.0}% backtesting",
        loaded.len() as f64 / one,
        r.trades.len(),
        100.0 * second / (second + one),
        100.0 * one / (second + one)
    );

    let ranges = vec![
        parse_range("fast_period=4..16:2")?,
        parse_range("slow_period=20..50:5")?,
        parse_range("sl_pips=10..40:5")?,
        parse_range("tp_pips=0..60:10")?,
        parse_range("cooldown_seconds=0..1500:300")?,
    ];
    let search = sample.map_or(Search::Grid, |samples| Search::Random { samples, seed: 1 });
    let o = OptimizeOptions {
        ranges,
        search,
        objective: Objective::Sharpe,
        min_trades: 30,
        jobs: None,
        progress: true,
    };
    let factory = SetupFactory::new(setup).sharing_indicators(share);
    let t = Instant::now();
    let result = optimize(&factory, &loaded, &o)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "grid ({}): {} of {} sets on {} threads in {secs:.1} s: {:.1} sets/s, {:.2e} bars/s",
        if share {
            "indicator series shared"
        } else {
            "streaming indicators"
        },
        result.evaluated,
        result.grid_size,
        rayon::current_num_threads(),
        result.evaluated as f64 / secs,
        (result.evaluated * loaded.len()) as f64 / secs
    );
    if let Some(best) = result.best() {
        println!("best: {} score {:.3}", best.params, best.score);
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
