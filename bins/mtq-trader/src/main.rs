//! `mtq-trader`: the MTQ trader binary. It parses arguments, loads the configuration, wires the
//! library crates together and prints; the work happens in the crates.

mod alerts;
mod fleet;
mod serve;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use mtq::db::{DbIntentStore, DbLedger, DbOutlet};
use mtq::mt5::{Mt5Broker, Mt5Config, Token};
use mtq::orchestrator::config::{
    self, AppConfig, BrokerKind, ConfigSource, ConfigWatcher, LogFormat,
};
use mtq::orchestrator::paper::{PaperControl, PaperOptions, run_paper_session_with};
use mtq::orchestrator::{LiveOptions, LiveTrader, SessionSummary, TraderCore, run_live};
use mtq::persistence::{
    AccountId, AccountRepo, EventWriter, NewAccount, Store, StoreSink, WriterConfig,
};

/// The process's allocator. A backtest allocates and frees a few small blocks per trade (the
/// core's commands and records, the signal's texts, the deals) and loads its bars into one large
/// block: with mimalloc the 1M-bar backtest runs 1.5% fewer instructions and takes a twentieth of
/// the page faults (`docs/benchmarks.md`, "mimalloc, the SMA step and the statistics side by
/// side"). Only the binary sets it: programs linking the crates keep their own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// With no subcommand: `trade` with these options.
    #[command(flatten)]
    session: Session,
}

/// The options of `trade` and `check`.
#[derive(clap::Args, Debug, Clone)]
struct Session {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    trade: TradeArgs,
}

#[derive(clap::Args, Debug, Clone)]
struct Common {
    /// Configuration file (default: config/currencies.yaml if present, else the built-in one).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override any key: --set trader.interval_seconds=1 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormatArg>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormatArg {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Trade (the default): a paper session on the simulated broker, or live with --broker mt5.
    Trade(Session),
    /// Validate the configuration, the database and the broker connection (of every account);
    /// non-zero exit on any problem, naming the accounts that failed.
    Check(Session),
    /// List the configured accounts with their connection state as last recorded.
    Accounts(AccountsArgs),
    /// Backtest a strategy on historical bars (MT5 exports or OHLCV CSV) and write a report.
    Backtest(mtq_backtest::cli::BacktestArgs),
    /// Parse data files once and write the binary cache beside each.
    Import(mtq_backtest::cli::ImportArgs),
    /// Optimise a strategy's parameters over a grid or a random sample, optionally walk-forward;
    /// with --nats, on `worker`s across machines, several --symbols and --strategies in one run,
    /// walk-forward windows as work items too (--status, --cancel, --resume RUN follow a run).
    Optimize(Box<OptimizeCommand>),
    /// Models (docs/ml.md): `ml train` trains one on history with a strategy; `ml walk-forward`
    /// trains on rolling windows and trades each next window with and without it.
    #[command(subcommand)]
    Ml(mtq_backtest::ml::cli::MlCommand),
    /// Evaluate distributed optimisation work items from NATS (see docs/distributed.md).
    Worker(mtq_distributed::cli::WorkerArgs),
    /// The trader and the operator API in one process (paper on the simulator by default,
    /// --broker mt5 live); --no-trade serves an existing database only.
    Serve(Box<serve::ServeArgs>),
    /// Manage the operator API's keys.
    #[command(subcommand)]
    ApiKey(serve::ApiKeyCommand),
    /// Manage the operator API's dashboard users.
    #[command(subcommand)]
    User(serve::UserCommand),
    /// Alerts: send a test message, set an event type's level per channel, show the history.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// List every strategy with its parameters and defaults, the shared stop settings and filters.
    Strategies,
    /// Print the version.
    Version,
}

/// `optimize`: a local run, or with --nats one published to workers.
#[derive(clap::Args, Debug, Clone)]
struct OptimizeCommand {
    #[command(flatten)]
    args: mtq_backtest::cli::OptimizeArgs,
    #[command(flatten)]
    distributed: mtq_distributed::cli::DistributedArgs,
}

#[derive(clap::Args, Debug, Clone)]
struct AccountsArgs {
    #[command(flatten)]
    common: Common,
    /// Database URL (database.url).
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
struct TradeArgs {
    /// Broker: sim (the default, a paper session) or mt5.
    #[arg(long)]
    broker: Option<String>,
    /// Pace the synthetic feed by the wall clock instead of replaying it as fast as possible.
    #[arg(long)]
    realtime: bool,
    /// Weeks of synthetic M5 bars to trade.
    #[arg(long, default_value_t = 3)]
    weeks: u32,
    /// Seed of the synthetic feed.
    #[arg(long, default_value_t = 20_240_304)]
    seed: u64,
    /// Maximum concurrent positions (global.max_concurrent_trades).
    #[arg(long)]
    max_concurrent: Option<u32>,
    /// Live polling cycle in seconds (trader.interval_seconds).
    #[arg(long)]
    interval: Option<u64>,
    /// Database URL: sqlite://FILE or postgres://... (database.url).
    #[arg(long)]
    database_url: Option<String>,
    /// Port the MT5 bridge connects to on 127.0.0.1 (broker.mt5_port).
    #[arg(long)]
    mt5_port: Option<u16>,
    /// Token the MT5 bridge must present; default: the MTQ_MT5_TOKEN environment variable.
    #[arg(long)]
    mt5_token: Option<String>,
    /// Broker symbol suffix, e.g. `.m` for EURUSD.m. Names in `broker.symbols` come first;
    /// without either, MTQ finds each symbol in the broker's list (EURUSD.m, EURUSDm, ...).
    #[arg(long)]
    mt5_suffix: Option<String>,
    /// Seconds to wait for the MT5 bridge to connect.
    #[arg(long, default_value_t = 120)]
    mt5_wait: u64,
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
        if let Some(u) = &t.database_url {
            out.push(("database.url".into(), u.clone()));
        }
        if let Some(p) = t.mt5_port {
            out.push(("broker.mt5_port".into(), p.to_string()));
        }
    }
    Ok(out)
}

/// Every account of the configuration (one, `default`, for a file without `accounts:`).
fn load_all(common: &Common, trade: Option<&TradeArgs>) -> anyhow::Result<config::AccountsConfig> {
    let source = match &common.config {
        Some(p) => ConfigSource::File(p.clone()),
        None => ConfigSource::Default,
    };
    Ok(config::load_accounts(&source, &overrides(common, trade)?)?)
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

/// The daily aggregation beside a trader that runs for days (issue 17 item 7): each UTC day into
/// `daily_performance` after it ends, days missed while stopped caught up at start.
fn spawn_aggregation(
    url: &str,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    // The URL already opened the recording database, so it parses; no aggregation otherwise.
    let url = mtq::persistence::DatabaseUrl::parse(url).ok()?;
    let opts = mtq::analytics::DailyAggregationOptions::new(url);
    Some(mtq::analytics::spawn_daily_aggregation(opts, shutdown))
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

/// Installs the log subscriber: human-readable or JSON lines on stderr, filtered by `RUST_LOG`
/// or `level`; `keep` also copies what passes the filter into the API's log buffer (`serve`).
fn init_logging(
    format: LogFormat,
    level: &str,
    quiet_orchestrator: bool,
    keep: Option<mtq_api::LogLayer>,
) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let default = if quiet_orchestrator {
        format!("{level},mtq_orchestrator=warn")
    } else {
        level.to_string()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Every line carries its spans: `cycle` (the cycle number) and `order` (the client
        // order id), the correlation ids of a cycle's and an order's lines.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .finish()
            .with(keep)
            .init(),
        LogFormat::Human => builder.finish().with(keep).init(),
    }
}

/// Where a session records: the intent store (written before each order is sent), the ledger
/// of open trades (restored after a crash), and the batching writer for everything else.
struct Recording {
    intents: Arc<DbIntentStore>,
    ledger: Arc<DbLedger>,
    outlet: Arc<DbOutlet>,
    writer: EventWriter,
    shown_url: String,
}

fn open_recording(cfg: &AppConfig, account: &NewAccount) -> anyhow::Result<Recording> {
    let url = &cfg.database.url;
    let shown_url = mtq::persistence::redact(url);
    let open = || Store::open(url).with_context(|| format!("opening the database {shown_url}"));
    let mut store = open()?;
    let id: AccountId = store.ensure_account(account, chrono::Utc::now())?.id;
    let intents = DbIntentStore::new(open()?, Some(id));
    let ledger = DbLedger::new(intents.shared_store(), Some(id));
    let specs = mtq::sim::synthetic::default_pairs()
        .into_iter()
        .map(|m| m.spec);
    let sink = StoreSink::new(store, Some(id))?
        .with_specs(specs)
        .with_external_intents();
    let (sender, writer) = EventWriter::spawn(sink, WriterConfig::default())?;
    Ok(Recording {
        intents: Arc::new(intents),
        ledger: Arc::new(ledger),
        outlet: Arc::new(DbOutlet::new(sender)),
        writer,
        shown_url,
    })
}

impl Recording {
    /// Flushes every event; fails when any could not be written.
    fn finish(self) -> anyhow::Result<u64> {
        let Recording {
            outlet,
            writer,
            shown_url,
            ..
        } = self;
        drop(outlet);
        let report = writer.join().context("finishing the database writer")?;
        if !report.unwritten.is_empty() {
            // The database stayed away past the writer's drain timeout: keep the records in a
            // file rather than lose them.
            let path = std::path::PathBuf::from(format!(
                "mtq-unwritten-events-{}.ndjson",
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
            ));
            let mut lines = String::new();
            for e in &report.unwritten {
                lines.push_str(&serde_json::to_string(e).context("serialising an event")?);
                lines.push('\n');
            }
            std::fs::write(&path, lines)
                .with_context(|| format!("saving unwritten events to {}", path.display()))?;
            bail!(
                "{} events could not be written to {shown_url}; they are saved in {}",
                report.unwritten.len(),
                path.display()
            );
        }
        Ok(report.stats.written)
    }
}

fn main() -> std::process::ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let optimize = argv.get(1).is_some_and(|a| a == "optimize");
    if optimize && mtq_distributed::cli::is_control(&argv[2..]) {
        // `optimize --status|--cancel|--resume RUN`: no data or ranges, the run has them.
        use clap::Parser as _;
        let control = mtq_distributed::cli::ControlArgs::parse_from(
            std::iter::once("mtq-trader optimize".to_string()).chain(argv[2..].iter().cloned()),
        );
        return match mtq_distributed::cli::run_control(&control) {
            Ok(text) => {
                print!("{text}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let argv = if optimize {
        mtq_distributed::cli::with_first_symbol(argv)
    } else {
        argv
    };
    match run(Cli::parse_from(argv)) {
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
        Some(Command::Check(s)) => check(&s.common, &s.trade),
        Some(Command::Accounts(a)) => {
            let mut o = a.common.clone();
            if let Some(u) = &a.database_url {
                o.set.push(format!("database.url={u}"));
            }
            fleet::list(&load_all(&o, None)?)
        }
        Some(Command::Strategies) => {
            print!("{}", mtq::strategies::registry::describe());
            Ok(())
        }
        Some(Command::Backtest(args)) => {
            let outcome = mtq_backtest::cli::run_backtest(&args)?;
            print!("{}", outcome.render());
            Ok(())
        }
        Some(Command::Import(args)) => {
            let outcome = mtq_backtest::cli::run_import(&args)?;
            print!("{}", outcome.render());
            Ok(())
        }
        Some(Command::Optimize(cmd)) if cmd.distributed.nats.nats.is_some() => {
            print!(
                "{}",
                mtq_distributed::cli::run_submit(&cmd.args, &cmd.distributed)?
            );
            Ok(())
        }
        Some(Command::Optimize(cmd)) => {
            if !cmd.distributed.symbols.is_empty() {
                anyhow::bail!("--symbols: several symbols in one run need --nats (workers)");
            }
            if !cmd.distributed.strategies.is_empty() {
                anyhow::bail!(
                    "--strategies: several strategies in one run need --nats (workers); \
                     locally, run one --strategy at a time"
                );
            }
            let outcome = mtq_backtest::cli::run_optimize(&cmd.args)?;
            print!("{}", outcome.render());
            Ok(())
        }
        Some(Command::Ml(mtq_backtest::ml::cli::MlCommand::Train(args))) => {
            print!("{}", mtq_backtest::ml::cli::run_train(&args)?.render());
            Ok(())
        }
        Some(Command::Ml(mtq_backtest::ml::cli::MlCommand::WalkForward(args))) => {
            print!(
                "{}",
                mtq_backtest::ml::cli::run_walk_forward(&args)?.render()
            );
            Ok(())
        }
        Some(Command::Worker(args)) => {
            // The NATS client's own debug lines may show server addresses as given (with a
            // password in the URL); they stay off unless RUST_LOG asks.
            init_logging(LogFormat::Human, "info,async_nats=warn", true, None);
            print!("{}", mtq_distributed::cli::run_worker_command(&args)?);
            Ok(())
        }
        Some(Command::Trade(s)) => trade(&s.common, &s.trade),
        Some(Command::Serve(args)) => serve::serve(&args),
        Some(Command::ApiKey(cmd)) => serve::api_key(&cmd),
        Some(Command::User(cmd)) => serve::user(&cmd),
        Some(Command::Alerts(cmd)) => alerts::alerts(&cmd),
        None => trade(&cli.session.common, &cli.session.trade),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn check(common: &Common, args: &TradeArgs) -> anyhow::Result<()> {
    let all = load_all(common, Some(args))?;
    let cfg = all.process().clone();
    println!("configuration: {} (valid)", cfg.source);
    let shown_url = mtq::persistence::redact(&cfg.database.url);
    Store::open(&cfg.database.url)
        .with_context(|| format!("database {shown_url}: cannot open or migrate it"))?;
    println!("database: {shown_url} (reachable, migrated)");
    if all.listed {
        return fleet::check(&all, args);
    }
    check_one(&cfg, args)
}

/// Checks one account: its trader builds, and its broker answers with every symbol.
fn check_one(cfg: &AppConfig, args: &TradeArgs) -> anyhow::Result<()> {
    match cfg.broker.kind {
        BrokerKind::Sim => {
            let specs = mtq::sim::synthetic::default_pairs()
                .into_iter()
                .map(|m| (m.spec.symbol.clone(), m.spec))
                .collect();
            let core =
                TraderCore::new(Arc::new(cfg.clone()), specs, 0).context("building the trader")?;
            println!("broker: simulated");
            print_symbols(cfg, &core);
            Ok(())
        }
        BrokerKind::Mt5 => runtime()?.block_on(async {
            use mtq::connector::Broker as _;
            let broker = connect_mt5(cfg, args).await?;
            let account = broker.account().await.context("reading the MT5 account")?;
            println!(
                "account: {} {} balance {} equity {} leverage 1:{} ({:?})",
                account.login,
                account.currency,
                account.balance,
                account.equity,
                account.leverage,
                account.margin_mode
            );
            let mut specs = std::collections::BTreeMap::new();
            println!("symbols (MTQ -> broker):");
            for c in cfg.currencies.iter().filter(|c| c.enabled) {
                let resolved = broker
                    .resolve_symbol(&c.symbol)
                    .await
                    .with_context(|| format!("symbol {} at the broker", c.symbol))?;
                println!(
                    "  {:<8} -> {:<12} ({}{})",
                    c.symbol,
                    resolved.broker,
                    resolved.source,
                    if resolved.added_to_market_watch {
                        "; added to Market Watch"
                    } else {
                        ""
                    }
                );
                let spec = broker
                    .symbol_spec(&c.symbol)
                    .await
                    .with_context(|| format!("symbol {} at the broker", c.symbol))?;
                println!(
                    "  {:<8}    digits {} volume {}..{} step {} stops level {} filling {:?}",
                    "",
                    spec.digits,
                    spec.volume_min,
                    spec.volume_max,
                    spec.volume_step,
                    spec.stops_level,
                    spec.filling
                );
                specs.insert(c.symbol.clone(), spec);
            }
            let offset = broker
                .hello()
                .map_or(0, |h| i32::try_from(h.server_offset_secs).unwrap_or(0));
            let core = TraderCore::new(Arc::new(cfg.clone()), specs, offset)
                .context("building the trader")?;
            print_symbols(cfg, &core);
            Ok(())
        }),
    }
}

fn print_symbols(cfg: &AppConfig, core: &TraderCore) {
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
}

/// Listens for the MT5 bridge and waits until it has connected and said hello.
async fn connect_mt5(cfg: &AppConfig, args: &TradeArgs) -> anyhow::Result<Mt5Broker> {
    let var = cfg
        .broker
        .mt5_token_env
        .clone()
        .unwrap_or_else(|| "MTQ_MT5_TOKEN".into());
    let token = match &args.mt5_token {
        Some(t) => t.clone(),
        None => std::env::var(&var).map_err(|_| {
            anyhow::anyhow!(
                "the MT5 bridge needs a token: pass --mt5-token or set {var} \
                 (the same value as the EA's Token input)"
            )
        })?,
    };
    let port = cfg.broker.mt5_port;
    let mut mt5 = Mt5Config::new(port, Token::new(&token)?);
    if let Some(suffix) = args.mt5_suffix.as_ref().or(cfg.broker.mt5_suffix.as_ref()) {
        mt5 = mt5.with_suffix(suffix);
    }
    // Explicit names first, then the suffix, then discovery in the broker's symbol list.
    for (ours, theirs) in &cfg.broker.symbols {
        mt5 = mt5.with_symbol(ours.clone(), theirs.as_str());
    }
    let broker = Mt5Broker::listen(mt5).await?;
    eprintln!(
        "waiting up to {} s for the MT5 bridge on 127.0.0.1:{} (attach MtqBridge to a chart)",
        args.mt5_wait,
        broker.local_port()
    );
    let hello = broker
        .wait_connected(std::time::Duration::from_secs(args.mt5_wait))
        .await?;
    eprintln!(
        "MT5 connected: {} build {}, account {} on {} ({}), server UTC{:+}h",
        hello.terminal_name,
        hello.terminal_build,
        hello.login,
        hello.server,
        hello.company,
        hello.server_offset_secs / 3600
    );
    if let Some(want) = cfg.broker.expected_login
        && want != hello.login
    {
        bail!(
            "the terminal on port {port} is logged in to account {}, but broker.expected_login is {want}: refusing it",
            hello.login
        );
    }
    Ok(broker)
}

fn trade(common: &Common, args: &TradeArgs) -> anyhow::Result<()> {
    let mut all = load_all(common, Some(args))?;
    if all.listed {
        let cfg = all.process();
        let format = match common.log_format {
            Some(LogFormatArg::Json) => LogFormat::Json,
            Some(LogFormatArg::Human) => LogFormat::Human,
            None => cfg.logging.format,
        };
        let all_sim = all
            .enabled()
            .all(|a| a.config.broker.kind == BrokerKind::Sim);
        init_logging(format, &cfg.logging.level, all_sim, None);
        let opts = fleet::FleetOptions {
            paper: PaperOptions {
                weeks: args.weeks,
                seed: args.seed,
                realtime: args.realtime,
                ..PaperOptions::default()
            },
            remember_kills: false,
            config_path: config_path(common),
            overrides: overrides(common, Some(args))?,
        };
        return fleet::trade(all, opts);
    }
    let cfg = all.accounts.swap_remove(0).config;
    let format = match common.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Human) => LogFormat::Human,
        None => cfg.logging.format,
    };
    init_logging(
        format,
        &cfg.logging.level,
        cfg.broker.kind == BrokerKind::Sim,
        None,
    );
    let watcher = config_path(common)
        .map(|p| overrides(common, Some(args)).map(|o| ConfigWatcher::new(p, o)))
        .transpose()?;
    match cfg.broker.kind {
        BrokerKind::Sim => paper(cfg, args, watcher),
        BrokerKind::Mt5 => live_mt5(cfg, args, watcher),
    }
}

fn paper(
    mut cfg: AppConfig,
    args: &TradeArgs,
    watcher: Option<ConfigWatcher>,
) -> anyhow::Result<()> {
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
    // Each run is its own simulated account, and its client order ids carry the run's start, so
    // a second run into the same database never collides with the first.
    let run = chrono::Utc::now().timestamp();
    let tag = format!("{:x}", run & 0xffff_ffff);
    let keep = mtq::orchestrator::MAX_PREFIX_LEN.saturating_sub(tag.len());
    let prefix: String = cfg.trader.id_prefix.chars().take(keep.min(5)).collect();
    cfg.trader.id_prefix = format!("{prefix}{tag}");
    let account = NewAccount {
        broker: "MTQ simulated broker".into(),
        server: "MTQ-Sim".into(),
        login: u64::try_from(run).unwrap_or_default(),
        currency: cfg.broker.currency,
        margin_mode: cfg.broker.margin_mode,
        leverage: cfg.broker.leverage,
        label: format!("paper {}", chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")),
    };
    let rec = open_recording(&cfg, &account)?;
    let deposit = cfg.broker.deposit;
    let currency = cfg.broker.currency;
    let result = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        // Simulated days are not calendar days: only a wall-clock session aggregates as it goes.
        let aggregation = if opts.realtime {
            spawn_aggregation(&cfg.database.url, shutdown.clone())
        } else {
            None
        };
        let control = PaperControl {
            shutdown: Some(shutdown),
            watcher,
            ledger: None,
        };
        let result = run_paper_session_with(
            Arc::new(cfg),
            &opts,
            rec.intents.clone(),
            rec.outlet.clone(),
            control,
        )
        .await;
        if let Some(a) = aggregation {
            a.abort();
        }
        result
    });
    // Whatever happened, flush what was recorded.
    let shown_url = rec.shown_url.clone();
    let finished = rec.finish();
    let s = result?;
    let written = finished.as_ref().map_or(0, |w| *w);
    print_summary(&s, &format!("{deposit} {currency}"), written, &shown_url);
    finished.map(drop)
}

/// The MT5 start-up `trade --broker mt5` and `serve --broker mt5` share: wait for the bridge,
/// open the recording for its account, and start the trader (server time offset from the
/// bridge's hello). On failure the recording is flushed before the error returns.
pub(crate) async fn start_mt5(
    cfg: &Arc<AppConfig>,
    args: &TradeArgs,
) -> anyhow::Result<(LiveTrader, Recording, NewAccount)> {
    let broker = connect_mt5(cfg, args).await?;
    let hello = broker
        .hello()
        .context("the MT5 bridge disconnected right after saying hello")?;
    let account = NewAccount {
        broker: hello.company.clone(),
        server: hello.server.clone(),
        login: hello.login,
        currency: hello.currency,
        margin_mode: hello.margin_mode,
        leverage: hello.leverage,
        label: "mt5".into(),
    };
    let rec = open_recording(cfg, &account)?;
    let opts = LiveOptions {
        server_offset_secs: i32::try_from(hello.server_offset_secs).unwrap_or(0),
        ..LiveOptions::default()
    };
    let started = LiveTrader::start(
        Arc::new(broker),
        cfg.clone(),
        rec.intents.clone(),
        Arc::new(mtq::core::SystemClock),
        mtq_api::metrics::MetricsOutlet::wrap(rec.outlet.clone(), mtq_api::DEFAULT_ACCOUNT),
        Some(rec.ledger.clone()),
        opts,
    )
    .await;
    match started {
        Ok((trader, _)) => Ok((trader, rec, account)),
        Err(e) => {
            let _ = tokio::task::spawn_blocking(move || rec.finish()).await;
            Err(anyhow::Error::from(e).context("starting the trader"))
        }
    }
}

/// Flushes a live session's recording and prints its summary (even when the database refused
/// the last events: they are saved).
pub(crate) fn finish_live(
    summary: anyhow::Result<SessionSummary>,
    rec: Recording,
    currency: impl std::fmt::Display,
) -> anyhow::Result<()> {
    let shown_url = rec.shown_url.clone();
    let finished = rec.finish();
    let s = summary?;
    let written = finished.as_ref().map_or(0, |w| *w);
    print_summary(
        &s,
        &format!("{} {currency}", s.final_balance - s.net_profit),
        written,
        &shown_url,
    );
    finished.map(drop)
}

fn live_mt5(
    cfg: AppConfig,
    args: &TradeArgs,
    watcher: Option<ConfigWatcher>,
) -> anyhow::Result<()> {
    let rt = runtime()?;
    let interval = std::time::Duration::from_secs(cfg.trader.interval_seconds.max(1));
    let cfg = Arc::new(cfg);
    let (summary, rec) = rt.block_on(async {
        let (trader, rec, _) = start_mt5(&cfg, args).await?;
        let shutdown = shutdown_signal();
        eprintln!(
            "trading live every {} s; Ctrl-C or SIGTERM stops after the current cycle",
            interval.as_secs()
        );
        let aggregation = spawn_aggregation(&cfg.database.url, shutdown.clone());
        let summary = run_live(trader, interval, watcher, shutdown).await;
        if let Some(a) = aggregation {
            a.abort();
        }
        anyhow::Ok((summary, rec))
    })?;
    finish_live(
        summary.map_err(anyhow::Error::from),
        rec,
        cfg.broker.currency,
    )
}

fn print_summary(s: &SessionSummary, start: &str, written: u64, shown_url: &str) {
    let pct = |x: Option<mtq::core::Decimal>| x.map_or("n/a".to_string(), |v| format!("{v:.1}%"));
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
    println!("  net P&L             {} (from {start})", s.net_profit);
    println!(
        "  final equity        {}, {} positions open",
        s.final_equity, s.open_positions
    );
    println!("  max drawdown        {}%", s.max_drawdown_pct);
    println!("  wall time           {} ms", s.wall_time_ms);
    println!("  recorded            {written} events in {shown_url}");
}
