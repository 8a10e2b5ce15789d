//! `seed`: a database with many closed trades, and API keys to read it with.

use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use mtq_core::{
    Currency, Deal, DealEntry, DealReason, Magic, MarginMode, Position, Side, Symbol, Ticket,
};
use mtq_orchestrator::Role;
use mtq_persistence::{AccountRepo, NewAccount, Store, TradeRepo};
use rust_decimal::Decimal;

#[derive(clap::Args, Debug)]
pub(crate) struct SeedArgs {
    /// The database: sqlite://PATH or postgres://USER@HOST:PORT/DB.
    #[arg(long)]
    database_url: String,
    /// Closed trades to add.
    #[arg(long, default_value_t = 100_000)]
    trades: u64,
    /// Viewer API keys to create and print (the API limits requests per key and second).
    #[arg(long, default_value_t = 8)]
    keys: u32,
    /// The role of the keys: viewer, trader or admin.
    #[arg(long, default_value = "viewer", value_parser = ["viewer", "trader", "admin"])]
    role: String,
    /// Record the trades without an account (what `serve` reads when it has none configured).
    #[arg(long, conflicts_with = "into_latest_account")]
    no_account: bool,
    /// Record the trades under the newest account of the database: the one a running
    /// `mtq-trader serve` paper session created, whose trades its API serves.
    #[arg(long)]
    into_latest_account: bool,
    /// First position ticket; seed twice into one database with different values.
    #[arg(long, default_value_t = 1_000_000)]
    first_ticket: u64,
}

const SYMBOLS: [&str; 6] = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCAD", "EURGBP"];
const STRATEGIES: [&str; 3] = ["ma_crossover", "rsi", "bollinger"];
const REASONS: [DealReason; 3] = [
    DealReason::TakeProfit,
    DealReason::StopLoss,
    DealReason::Expert,
];

pub(crate) fn run(args: &SeedArgs) -> anyhow::Result<()> {
    let mut store = Store::open(&args.database_url).context("opening --database-url")?;
    let account = if args.no_account {
        None
    } else if args.into_latest_account {
        let newest = store.accounts()?.into_iter().max_by_key(|a| a.id.0);
        Some(
            newest
                .context("--into-latest-account: the database has no account yet; start `mtq-trader serve` on it first")?
                .id,
        )
    } else {
        Some(
            store
                .ensure_account(
                    &NewAccount {
                        broker: "MTQ load generator".into(),
                        server: "MTQ-Load".into(),
                        login: 1,
                        currency: Currency::USD,
                        margin_mode: MarginMode::Hedging,
                        leverage: 100,
                        label: "load test".into(),
                    },
                    Utc::now(),
                )?
                .id,
        )
    };
    let start = Instant::now();
    let first = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .context("start date")?;
    // Commit every 5,000 trades: one transaction per trade would take minutes on SQLite.
    let symbols = SYMBOLS
        .iter()
        .map(|s| Symbol::new(s))
        .collect::<Result<Vec<_>, _>>()
        .context("symbols")?;
    let mut done = 0u64;
    while done < args.trades {
        let batch = (args.trades - done).min(5_000);
        store.transaction(|s| {
            for i in done..done + batch {
                write_trade(s, account, &symbols, args.first_ticket + i, i, first)?;
            }
            Ok(())
        })?;
        done += batch;
    }
    eprintln!(
        "seeded {done} closed trades in {:.1} s into {} (account {})",
        start.elapsed().as_secs_f64(),
        store.url(),
        account.map_or_else(|| "none".to_string(), |a| a.0.to_string())
    );
    let role = match args.role.as_str() {
        "admin" => Role::Admin,
        "trader" => Role::Trader,
        _ => Role::Viewer,
    };
    for k in 0..args.keys {
        let key = mtq_api::create_api_key(&mut store, &format!("loadgen-{k}"), role)
            .context("creating an API key")?;
        println!("{}", key.key);
    }
    Ok(())
}

/// Trade `i`: a symbol, strategy and exit reason in turn, one entry every 7 minutes from
/// `first`, held 10 to 70 minutes, profit between -40 and +59.
fn write_trade(
    s: &mut Store,
    account: Option<mtq_persistence::AccountId>,
    symbols: &[Symbol],
    ticket: u64,
    i: u64,
    first: chrono::DateTime<Utc>,
) -> mtq_persistence::Result<()> {
    let pick = |n: usize| usize::try_from(i).unwrap_or(0) % n;
    let minutes = i64::try_from(i).unwrap_or(0);
    let entry = first + Duration::minutes(minutes * 7);
    let symbol = symbols[pick(symbols.len())].clone();
    let side = if i.is_multiple_of(2) {
        Side::Buy
    } else {
        Side::Sell
    };
    let p = Position {
        ticket: Ticket(ticket),
        symbol: symbol.clone(),
        side,
        volume: Decimal::new(10, 2),
        open_price: Decimal::new(108_125, 5),
        open_time: entry,
        sl: None,
        tp: None,
        current_price: Decimal::new(108_125, 5),
        swap: Decimal::ZERO,
        profit: Decimal::ZERO,
        magic: Magic(20_240_301),
        comment: format!("load-{i}"),
    };
    s.open_trade(account, &p, Some(STRATEGIES[pick(STRATEGIES.len())]))?;
    let profit = Decimal::from(i64::try_from(i.wrapping_mul(37) % 100).unwrap_or(0) - 40);
    let d = Deal {
        ticket: Ticket(ticket + 500_000_000),
        order: None,
        position: Some(Ticket(ticket)),
        symbol: Some(symbol),
        side: Some(if side == Side::Buy {
            Side::Sell
        } else {
            Side::Buy
        }),
        entry: DealEntry::Out,
        reason: REASONS[pick(REASONS.len())],
        volume: Decimal::new(10, 2),
        price: Decimal::new(108_225, 5),
        commission: Decimal::new(-70, 2),
        swap: Decimal::ZERO,
        profit,
        time: entry + Duration::minutes(10 + minutes % 60),
        magic: Magic(20_240_301),
        comment: String::new(),
    };
    s.apply_close(account, &d, None)?;
    Ok(())
}
