//! Draws the equity and drawdown chart of a small synthetic account to `equity.png` and
//! `equity.svg` in the directory given as the first argument (default: the working directory).
//!
//! `cargo run -p mtq-analytics --example equity_chart -- /tmp`

use std::path::PathBuf;

use chrono::{Duration, TimeZone, Utc};
use mtq_analytics::{
    ChartOptions, ClosedTrade, PerformanceReport, equity_from_trades, write_png, write_svg,
};
use mtq_core::Symbol;
use rust_decimal::Decimal;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let t0 = Utc
        .with_ymd_and_hms(2024, 1, 2, 8, 0, 0)
        .single()
        .ok_or("bad start time")?;
    let symbol = Symbol::new("EURUSD")?;
    let profits = [
        120, -45, 80, -60, -35, 150, 40, -90, 200, -20, 65, -110, 130, 90, -40,
    ];
    let trades: Vec<ClosedTrade> = profits
        .iter()
        .zip(0_i64..)
        .map(|(p, i)| ClosedTrade {
            symbol: symbol.clone(),
            strategy: Some("ma_crossover".into()),
            entry_time: t0 + Duration::days(i),
            exit_time: t0 + Duration::days(i) + Duration::hours(5),
            net_profit: Decimal::from(*p),
        })
        .collect();
    let curve = equity_from_trades(Decimal::from(10_000), &trades);
    let report = PerformanceReport::new(&trades, &curve);
    let opts = ChartOptions {
        title: "EURUSD ma_crossover (synthetic)".into(),
        ..ChartOptions::default()
    };
    write_png(&curve, &dir.join("equity.png"), &opts)?;
    write_svg(&curve, &dir.join("equity.svg"), &opts)?;
    println!(
        "net {} | profit factor {:?} | max drawdown {:?} | wrote {}",
        report.trades.all.net_profit,
        report.trades.all.profit_factor,
        report.equity.map(|e| e.drawdown),
        dir.join("equity.{png,svg}").display()
    );
    Ok(())
}
