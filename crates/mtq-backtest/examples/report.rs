//! Writes a backtest report for eight weeks of synthetic EURUSD M5 bars into a directory, to see
//! what `mtq-trader backtest --report DIR` produces without data of your own.
//!
//! `cargo run -p mtq-backtest --example report -- /tmp/mtq-report`

use mtq_backtest::testkit::random_walk;
use mtq_backtest::{Backtest, SetupOptions, Sizing, Stats, write_report};
use mtq_core::Timeframe;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mtq-report".into());
    let bars = random_walk(
        11_520,
        9,
        Timeframe::M5,
        "2024-01-01T00:00:00Z".parse()?,
        1.1,
        8,
    );
    let setup = SetupOptions {
        symbol: "EURUSD".into(),
        strategy: Some("crossover".into()),
        params: vec![
            ("fast_period".into(), "10".into()),
            ("slow_period".into(), "30".into()),
        ],
        timeframe: Timeframe::M5,
        sizing: Some(Sizing::Risk(1.into())),
        commission_per_lot: Some(3.5.try_into()?),
        ..SetupOptions::default()
    }
    .build()?;
    let result = Backtest::new(setup)?.run(&bars);
    let stats = Stats::of(&result);
    print!("{}", stats.table());
    let files = write_report(std::path::Path::new(&dir), &result, &stats)?;
    for f in files.files {
        println!("{}", f.display());
    }
    Ok(())
}
