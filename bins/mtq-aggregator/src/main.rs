//! `mtq-aggregator`: computes daily performance from the trades and account snapshots in the MTQ
//! database and writes it to `daily_performance`, replacing days already there.
//!
//! ```text
//! mtq-aggregator                          # yesterday (UTC)
//! mtq-aggregator --date 2024-03-01
//! mtq-aggregator --start 2024-03-01 --end 2024-03-31
//! mtq-aggregator --backfill               # every day from the first to the last closed trade
//! mtq-aggregator --database-url postgres://mtq@db:5432/mtq --date 2024-03-01
//! ```

use anyhow::{Context, bail};
use chrono::{Duration, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use mtq_analytics::daily::aggregate_range;
use mtq_persistence::{DEFAULT_DATABASE_URL, DailyPerformanceRecord, Store, TradeRepo};

#[derive(Parser, Debug)]
#[command(
    name = "mtq-aggregator",
    version,
    about = "Aggregate MTQ trading performance by UTC day into daily_performance"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version.
    Version,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The database: sqlite://PATH or postgres://USER@HOST:PORT/DB.
    #[arg(long, default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
    /// One day, YYYY-MM-DD (default: yesterday, UTC).
    #[arg(long, conflicts_with_all = ["start", "end", "backfill"])]
    date: Option<NaiveDate>,
    /// First day of a range, YYYY-MM-DD (with --end).
    #[arg(long, requires = "end", conflicts_with = "backfill")]
    start: Option<NaiveDate>,
    /// Last day of a range, inclusive, YYYY-MM-DD (with --start).
    #[arg(long, requires = "start", conflicts_with = "backfill")]
    end: Option<NaiveDate>,
    /// Every day from the first to the last closed trade in the database.
    #[arg(long)]
    backfill: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Version) = cli.command {
        println!("mtq-aggregator {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    run(&cli.run)
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let mut store =
        Store::open(&args.database_url).context("opening the database (--database-url)")?;
    let (first, last) = match (args.date, args.start, args.end, args.backfill) {
        (Some(d), ..) => (d, d),
        (None, Some(a), Some(b), _) => {
            if a > b {
                bail!("--start {a} is after --end {b}: give the earlier day first");
            }
            (a, b)
        }
        (.., true) => match store
            .closed_trade_span(None)
            .context("finding the first and last trade")?
        {
            Some((a, b)) => (a.date_naive(), b.date_naive()),
            None => {
                println!("no closed trades in {}: nothing to backfill", store.url());
                return Ok(());
            }
        },
        _ => {
            let yesterday = Utc::now().date_naive() - Duration::days(1);
            (yesterday, yesterday)
        }
    };
    let written = aggregate_range(&mut store, first, last, Utc::now())
        .with_context(|| format!("aggregating {first} to {last}"))?;
    print_table(&written);
    Ok(())
}

fn print_table(rows: &[DailyPerformanceRecord]) {
    println!(
        "{:<10}  {:>7}  {:>6}  {:>4}  {:>6}  {:>12}  {:>6}  {:>6}  {:>10}  {:>6}",
        "date", "account", "trades", "wins", "losses", "net", "win %", "pf", "max dd", "dd %"
    );
    for r in rows {
        let account = if r.account_id == mtq_persistence::ALL_ACCOUNTS {
            "all".to_string()
        } else {
            r.account_id.to_string()
        };
        let pf = r
            .profit_factor
            .map_or_else(|| "-".to_string(), |p| format!("{p:.2}"));
        println!(
            "{:<10}  {:>7}  {:>6}  {:>4}  {:>6}  {:>12}  {:>6.1}  {:>6}  {:>10}  {:>6.2}",
            r.date,
            account,
            r.trades,
            r.wins,
            r.losses,
            r.net_profit.round_dp(2),
            r.win_rate * 100.0,
            pf,
            r.max_drawdown.round_dp(2),
            r.max_drawdown_pct
        );
    }
    println!("{} row(s) written", rows.len());
}
