//! `mtq-trader`: the MTQ trader binary. It parses arguments, loads the configuration, wires the
//! library crates together and prints; the work happens in the crates.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use mtq_orchestrator::config::{
    self, AppConfig, BrokerKind, ConfigSource, ConfigWatcher, LogFormat,
};
use mtq_orchestrator::paper::{EventOutlet, PaperControl, PaperOptions, run_paper_session_with};
use mtq_orchestrator::{MemoryIntentStore, TraderCore};
use mtq_persistence::{
    AccountRepo, EventSender, EventWriter, NewAccount, Store, StoreSink, WriterConfig,
};

#[derive(Parser, Debug)]
#[command(
    name = "mtq-trader",
    version,
    about = "MTQ: automated forex trading for MetaTrader 5",
    long_about = "MTQ runs strategies on many currency pairs, sizes and checks every order against \
                  risk rules, and executes it on MetaTrader 5 or on its simulated broker.\n\n\
                  With no arguments it runs a paper-trading session on the simulated broker over a \
                  built-in synthetic feed."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    trade: TradeArgs,
}

#[derive(clap::Args, Debug, Clone)]
struct Common {
    /// Configuration file (default: config/currencies.yaml if present, else the built-in one).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Override any key: --set trader.interval_seconds=1 (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormatArg {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Trade (the default): today a paper session on the simulated broker.
    Trade,
    /// Validate the configuration and print what would trade; non-zero exit on any problem.
    Check,
    /// List every strategy with its parameters and defaults, the shared stop settings and filters.
    Strategies,
    /// Print the version.
    Version,
}

#[derive(clap::Args, Debug, Clone)]
struct TradeArgs {
    /// Broker: sim (default). MT5 arrives with the MT5 connector.
    #[arg(long, global = true)]
    broker: Option<String>,
    /// Pace the synthetic feed by the wall clock instead of replaying it as fast as possible.
    #[arg(long, global = true)]
    realtime: bool,
    /// Weeks of synthetic M5 bars to trade.
    #[arg(long, default_value_t = 3, global = true)]
    weeks: u32,
    /// Seed of the synthetic feed.
    #[arg(long, default_value_t = 20_240_304, global = true)]
    seed: u64,
    /// Maximum concurrent positions (global.max_concurrent_trades).
    #[arg(long, global = true)]
    max_concurrent: Option<u32>,
    /// Live polling cycle in seconds (trader.interval_seconds).
    #[arg(long, global = true)]
    interval: Option<u64>,
}

fn overrides(common: &Common, trade: Option<&TradeArgs>) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for kv in &common.set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: expected KEY=VALUE"))?;
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    if let Some(t) = trade {
        if let Some(n) = t.max_concurrent {
            out.push(("global.max_concurrent_trades".into(), n.to_string()));
        }
        if let Some(n) = t.interval {
            out.push(("trader.interval_seconds".into(), n.to_string()));
        }
        if let Some(b) = &t.broker {
            out.push(("broker.kind".into(), b.clone()));
        }
    }
    Ok(out)
}

fn load(common: &Common, trade: Option<&TradeArgs>) -> anyhow::Result<AppConfig> {
    let source = match &common.config {
        Some(p) => ConfigSource::File(p.clone()),
        None => ConfigSource::Default,
    };
    Ok(config::load(&source, &overrides(common, trade)?)?)
}

/// The configuration file in use, if any: watched for hot reload.
fn config_path(common: &Common) -> Option<PathBuf> {
    match &common.config {
        Some(p) => Some(p.clone()),
        None => {
            let p = PathBuf::from("config/currencies.yaml");
            p.exists().then_some(p)
        }
    }
}

/// Turns `true` on SIGINT (Ctrl-C) or SIGTERM; the trader stops between cycles.
fn shutdown_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::warn!("shutdown requested: finishing the current cycle");
        let _ = tx.send(true);
    });
    rx
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},mtq_orchestrator=warn"))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

/// Opens the configured database (migrating it), registers the simulated account and starts
/// the batching writer.
fn open_event_writer(cfg: &AppConfig) -> anyhow::Result<(EventSender, EventWriter)> {
    let mut store = Store::open(&cfg.database.url)?;
    let account = store.ensure_account(
        &NewAccount {
            broker: "MTQ simulated broker".into(),
            server: "MTQ-Sim".into(),
            login: 1_000_001,
            currency: cfg.broker.currency,
            margin_mode: cfg.broker.margin_mode,
            leverage: cfg.broker.leverage,
            label: "paper".into(),
        },
        chrono::Utc::now(),
    )?;
    let specs = mtq_sim::synthetic::default_pairs()
        .into_iter()
        .map(|m| m.spec);
    let sink = StoreSink::new(store, Some(account.id))?.with_specs(specs);
    Ok(EventWriter::spawn(sink, WriterConfig::default())?)
}

/// Sends every event to the database writer, waiting when it is behind, never dropping one.
/// (The live driver logs what an operator must see: the kill switch, failed orders, errors.)
struct DbOutlet {
    sender: EventSender,
}

#[async_trait::async_trait]
impl EventOutlet for DbOutlet {
    async fn publish(&self, event: mtq_core::DomainEvent) {
        if let Err(stopped) = self.sender.send(event).await {
            tracing::error!(event = ?stopped.0.kind, "the database writer stopped; event not recorded");
        }
    }
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Version) => {
            println!("mtq-trader {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some(Command::Check) => check(&cli.common),
        Some(Command::Strategies) => {
            print!("{}", mtq_strategies::registry::describe());
            Ok(())
        }
        Some(Command::Trade) | None => trade(&cli.common, &cli.trade),
    }
}

fn check(common: &Common) -> anyhow::Result<()> {
    let cfg = load(common, None)?;
    println!("configuration: {} (valid)", cfg.source);
    let specs = mtq_sim::synthetic::default_pairs()
        .into_iter()
        .map(|m| (m.spec.symbol.clone(), m.spec))
        .collect();
    let core = TraderCore::new(Arc::new(cfg.clone()), specs, 0).context("building the trader")?;
    for (symbol, tf) in core.symbols() {
        let c = cfg
            .currencies
            .iter()
            .find(|c| c.symbol == symbol)
            .map(|c| c.strategy_type.clone())
            .unwrap_or_default();
        println!(
            "  {symbol:<8} {tf:<4} {c:<18} warm-up {} bars",
            core.history_needed(&symbol)
        );
    }
    println!(
        "broker: {:?}; database: {}",
        cfg.broker.kind, cfg.database.url
    );
    if cfg.broker.kind == BrokerKind::Mt5 {
        bail!("broker.kind = mt5: the MT5 connector is not built yet; use `sim`");
    }
    Ok(())
}

fn trade(common: &Common, args: &TradeArgs) -> anyhow::Result<()> {
    let cfg = load(common, Some(args))?;
    let format = match common.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Human) => LogFormat::Human,
        None => cfg.logging.format,
    };
    init_logging(format, &cfg.logging.level);
    if cfg.broker.kind == BrokerKind::Mt5 {
        bail!("broker.kind = mt5: the MT5 connector is not built yet; use `--broker sim`");
    }
    let opts = PaperOptions {
        weeks: args.weeks,
        seed: args.seed,
        realtime: args.realtime,
        ..PaperOptions::default()
    };
    eprintln!(
        "paper session: {} ({} symbols), {} weeks of synthetic M5 bars from {}, seed {}",
        cfg.source,
        cfg.currencies.iter().filter(|c| c.enabled).count(),
        opts.weeks,
        opts.start.format("%Y-%m-%d"),
        opts.seed
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let store = Arc::new(MemoryIntentStore::new());
    let db_url = cfg.database.url.clone();
    let shown_url = mtq_persistence::redact(&db_url);
    let (sender, writer) =
        open_event_writer(&cfg).with_context(|| format!("opening the database {shown_url}"))?;
    let outlet = Arc::new(DbOutlet { sender });
    let deposit = cfg.broker.deposit;
    let currency = cfg.broker.currency;
    let watcher = config_path(common)
        .map(|p| ConfigWatcher::new(p, overrides(common, Some(args)).unwrap_or_default()));
    let result = runtime.block_on(async {
        let control = PaperControl {
            shutdown: Some(shutdown_signal()),
            watcher,
        };
        run_paper_session_with(Arc::new(cfg), &opts, store, outlet.clone(), control).await
    });
    // Whatever happened, flush what was recorded.
    drop(outlet);
    let report = writer.join().context("finishing the database writer")?;
    let s = result?;
    if !report.unwritten.is_empty() {
        bail!(
            "{} events could not be written to {shown_url}",
            report.unwritten.len()
        );
    }
    let pct = |x: Option<mtq_core::Decimal>| x.map_or("n/a".to_string(), |v| format!("{:.1}%", v));
    println!("session summary");
    println!("  bars processed      {}", s.bars);
    println!(
        "  signals             {} ({} refused by filters or risk)",
        s.signals, s.refused_signals
    );
    println!(
        "  orders              {} filled, {} failed",
        s.orders_filled, s.orders_failed
    );
    println!("  closed trades       {}", s.closed_trades);
    println!("  win rate            {}", pct(s.win_rate()));
    println!(
        "  profit factor       {}",
        s.profit_factor()
            .map_or("n/a".to_string(), |v| v.to_string())
    );
    println!(
        "  net P&L             {} {currency} (from {deposit})",
        s.net_profit
    );
    println!(
        "  final equity        {} {currency}, {} positions open",
        s.final_equity, s.open_positions
    );
    println!("  max drawdown        {}%", s.max_drawdown_pct);
    println!("  wall time           {} ms", s.wall_time_ms);
    println!(
        "  recorded            {} events in {shown_url}",
        report.stats.written
    );
    Ok(())
}
