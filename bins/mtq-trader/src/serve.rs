//! `mtq-trader serve`: the trader (paper on the simulator, wall-clock paced, or live on MT5)
//! and the operator API in one process; `--no-trade` serves an existing database only. Also
//! `api-key` and `user`, which manage the API's credentials in the database.

use std::io::BufRead;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use mtq::db::PaperKillMemory;
use mtq::orchestrator::config::AccountsConfig;
use mtq::orchestrator::config::{AppConfig, BrokerKind, ConfigWatcher, LogFormat};
use mtq::orchestrator::paper::{PaperControl, PaperOptions, run_paper_session_controlled};
use mtq::orchestrator::{
    ControlHandle, LiveSnapshot, Role, TradeLedger, control_channel, run_live,
};
use mtq::persistence::{AccountRepo, ApiKeyRepo, NewAccount, Store, UserRepo};
use mtq_api::{ApiOptions, ApiState, ServedAccount};

use super::{
    Common, LogFormatArg, Session, config_path, finish_live, init_logging, load_all,
    open_recording, overrides, print_summary, runtime, shutdown_signal, spawn_aggregation,
    start_mt5,
};

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    session: Session,
    /// Address to listen on (api.bind); anything but loopback needs --behind-tls-proxy and
    /// credentials.
    #[arg(long)]
    bind: Option<IpAddr>,
    /// Port to listen on (api.port).
    #[arg(long)]
    port: Option<u16>,
    /// Serve an existing database only: no trader, no commands.
    #[arg(long)]
    no_trade: bool,
    /// A TLS-terminating proxy is in front of this server (api.behind_tls_proxy).
    #[arg(long)]
    behind_tls_proxy: bool,
    /// Paper only: run the simulated clock FACTOR times faster than the wall clock (300: an M5
    /// bar a second), for tests and demos. 1, the default, paces by the wall clock.
    #[arg(long, default_value_t = 1, value_name = "FACTOR",
        value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pace: u32,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub(crate) enum ApiKeyCommand {
    /// Create a key; its secret is printed once and only its argon2id hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// viewer, trader or admin.
        #[arg(long)]
        role: Role,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Revoke a key by its id (the part after `mtq_`).
    Revoke {
        id: String,
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(clap::Subcommand, Debug, Clone)]
pub(crate) enum UserCommand {
    /// Create a dashboard user; the password is read from MTQ_PASSWORD or the first line of
    /// standard input (never from the command line, where `ps` would show it).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// List users.
    List {
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Disable a user (its refresh tokens stop working).
    Disable {
        name: String,
        #[arg(long)]
        database_url: Option<String>,
    },
}

fn open_db(url: Option<&str>) -> anyhow::Result<Store> {
    let url = url.map_or_else(
        || mtq::persistence::DEFAULT_DATABASE_URL.to_string(),
        str::to_string,
    );
    Store::open(&url)
        .with_context(|| format!("opening the database {}", mtq::persistence::redact(&url)))
}

pub(crate) fn api_key(cmd: &ApiKeyCommand) -> anyhow::Result<()> {
    match cmd {
        ApiKeyCommand::Create {
            name,
            role,
            database_url,
        } => {
            let mut store = open_db(database_url.as_deref())?;
            let k = mtq_api::create_api_key(&mut store, name, *role)?;
            eprintln!(
                "API key `{}` ({}) created; this is the only time its secret is shown:",
                k.record.name, k.record.role
            );
            println!("{}", k.key);
        }
        ApiKeyCommand::List { database_url } => {
            let mut store = open_db(database_url.as_deref())?;
            for k in store.api_keys()? {
                let state = k.revoked_at.map_or("active".to_string(), |t| {
                    format!("revoked {}", t.to_rfc3339())
                });
                println!(
                    "{}  {:<7} {:<20} created {}  {}",
                    k.key_id,
                    k.role,
                    k.name,
                    k.created_at.to_rfc3339(),
                    state
                );
            }
        }
        ApiKeyCommand::Revoke { id, database_url } => {
            let mut store = open_db(database_url.as_deref())?;
            if !store.revoke_api_key(id, chrono::Utc::now())? {
                bail!("no active API key with id `{id}` (see `mtq-trader api-key list`)");
            }
            println!("API key {id} revoked");
        }
    }
    Ok(())
}

pub(crate) fn user(cmd: &UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            name,
            role,
            database_url,
        } => {
            let password = match std::env::var("MTQ_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    eprintln!("password for {name} (one line on standard input):");
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .context("reading the password")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let mut store = open_db(database_url.as_deref())?;
            let u = mtq_api::create_user(&mut store, name, &password, *role)?;
            println!("user {} ({}) created", u.username, u.role);
        }
        UserCommand::List { database_url } => {
            let mut store = open_db(database_url.as_deref())?;
            for u in store.users()? {
                let state = if u.is_disabled() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{:<20} {:<7} created {}  {state}",
                    u.username,
                    u.role,
                    u.created_at.to_rfc3339()
                );
            }
        }
        UserCommand::Disable { name, database_url } => {
            let mut store = open_db(database_url.as_deref())?;
            if !store.set_user_disabled(name, Some(chrono::Utc::now()))? {
                bail!("no user named `{name}`");
            }
            println!("user {name} disabled");
        }
    }
    Ok(())
}

/// The signing secret for access tokens: read from `path`, or created there (mode 0600) on
/// first start. Never printed.
fn jwt_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let secret = text.trim().as_bytes().to_vec();
        if secret.len() < 2 * mtq_api::MIN_JWT_SECRET {
            bail!(
                "{} holds a secret shorter than {} hex characters: delete it and restart to create a new one",
                path.display(),
                2 * mtq_api::MIN_JWT_SECRET
            );
        }
        return Ok(secret);
    }
    let hex = mtq_api::new_jwt_secret()?;
    write_private(path, &hex)?;
    eprintln!(
        "created the access-token signing secret in {}",
        path.display()
    );
    Ok(hex.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The configuration as JSON with every secret replaced.
fn redacted(v: &serde_json::Value, key: &str) -> serde_json::Value {
    use serde_json::Value;
    let secret = ["token", "secret", "password", "key"]
        .iter()
        .any(|w| key.contains(w));
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), redacted(v, k))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| redacted(x, key)).collect()),
        Value::String(s) if key.ends_with("url") => Value::String(mtq::persistence::redact(s)),
        _ if secret && !v.is_null() => Value::String("****".into()),
        other => other.clone(),
    }
}

/// Where to listen, refusing an exposed address without credentials and a TLS proxy.
fn listen_addr(cfg: &AppConfig, args: &ServeArgs, store: &mut Store) -> anyhow::Result<SocketAddr> {
    let bind: IpAddr = match args.bind {
        Some(b) => b,
        None => cfg
            .api
            .bind
            .parse()
            .with_context(|| format!("api.bind `{}` is not an IP address", cfg.api.bind))?,
    };
    let port = args.port.unwrap_or(cfg.api.port);
    let keys = store.api_keys()?.iter().filter(|k| !k.is_revoked()).count();
    let users = store.users()?.iter().filter(|u| !u.is_disabled()).count();
    if keys + users == 0 {
        eprintln!(
            "no API credentials exist yet (there are no defaults). Create them with:\n  \
             mtq-trader api-key create --name ops --role admin\n  \
             MTQ_PASSWORD=... mtq-trader user create --name ann --role trader"
        );
    }
    if !bind.is_loopback() {
        if !(args.behind_tls_proxy || cfg.api.behind_tls_proxy) {
            bail!(
                "refusing to listen on {bind}: the API speaks plain HTTP; put a TLS-terminating proxy in front and pass --behind-tls-proxy (api.behind_tls_proxy), or bind 127.0.0.1"
            );
        }
        if keys + users == 0 {
            bail!(
                "refusing to listen on {bind} without credentials: create an API key or a user first"
            );
        }
    }
    mtq_api::validate_origins(&cfg.api.cors_origins).context("api.cors_origins")?;
    Ok(SocketAddr::new(bind, port))
}

/// `/metrics` (mtq-metrics): the recorder's handle and the scrape token, when one is set.
type Metrics = Option<(mtq_metrics::PrometheusHandle, mtq_api::metrics::ScrapeToken)>;

/// Installs the Prometheus recorder when a scrape token is set (MTQ_METRICS_TOKEN or
/// MTQ_METRICS_TOKEN_FILE); without one there is no `/metrics` and nothing is recorded.
fn metrics_setup() -> anyhow::Result<Metrics> {
    let Some(token) = mtq_api::metrics::ScrapeToken::from_env()? else {
        eprintln!(
            "no /metrics: set {} (at least {} characters) to serve Prometheus metrics",
            mtq_api::metrics::TOKEN_ENV,
            mtq_api::metrics::MIN_SCRAPE_TOKEN
        );
        return Ok(None);
    };
    let handle = mtq_metrics::install().context("installing the metrics recorder")?;
    Ok(Some((handle, token)))
}

async fn serve_api(
    addr: SocketAddr,
    state: ApiState,
    metrics: Metrics,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use axum::serve::ListenerExt;
    // The dashboard at `/` beside the API (its router has no fallback, so the API's 404 stays).
    let mut app = mtq_api::router(state.clone())
        .0
        .merge(mtq_dashboard::router());
    if let Some((handle, token)) = metrics {
        mtq_api::metrics::spawn_snapshot_metrics(&state);
        // Histograms are compacted every few seconds (the exporter has no task of its own here).
        let upkeep = handle.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                every.tick().await;
                upkeep.run_upkeep();
            }
        });
        app = app
            .merge(mtq_api::metrics::router(handle, token, state))
            .layer(axum::middleware::from_fn(mtq_api::metrics::track_http));
        eprintln!("Prometheus metrics on http://{addr}/metrics (bearer scrape token)");
    }
    // No Nagle: a WebSocket event is often two small writes (a trade, then the positions
    // delta), and Nagle holding the second until the client's delayed ACK adds 40 ms.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?
        .tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY: {e}");
            }
        });
    eprintln!("dashboard on http://{addr}/, operator API under /api (OpenAPI at /api/docs)");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = shutdown.wait_for(|s| *s).await;
    })
    .await
    .context("serving the API")
}

pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let common: &Common = &args.session.common;
    let trade = &args.session.trade;
    let all = load_all(common, Some(trade))?;
    let cfg = all.process().clone();
    let format = match common.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Human) => LogFormat::Human,
        None => cfg.logging.format,
    };
    let logs = mtq_api::LogBuffer::new(mtq_api::LOG_LINES);
    init_logging(
        format,
        &cfg.logging.level,
        all.enabled()
            .all(|a| a.config.broker.kind == BrokerKind::Sim),
        Some(logs.layer()),
    );
    let mut store = Store::open(&cfg.database.url).with_context(|| {
        format!(
            "opening the database {}",
            mtq::persistence::redact(&cfg.database.url)
        )
    })?;
    let addr = listen_addr(&cfg, args, &mut store)?;
    // Fail before the trader starts when the address is taken.
    drop(std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?);
    let mut options = ApiOptions::new(jwt_secret(Path::new(&cfg.api.jwt_secret_file))?);
    options.cors_origins = cfg.api.cors_origins.clone();
    options.redacted_config = redacted(&all.raw, "");
    options.portfolio = all.portfolio.clone();
    options.logs = Some(logs);
    // The WebSocket's `alerts` channel: deliveries and outcomes, when alerts run.
    options.alerts = Some(tokio::sync::broadcast::channel(256).0);
    options.on_auth_failure = Some(super::alerts::auth_hook());
    // The performance routes read whole ranges of trades: on their own connection they never
    // hold up the other routes. (An in-memory database has no second connection to it.)
    if !cfg.database.url.contains(":memory:") {
        options.analytics_database_url = Some(cfg.database.url.clone());
    }
    let watcher = config_path(common)
        .map(|p| overrides(common, Some(trade)).map(|o| ConfigWatcher::new(p, o)))
        .transpose()?;
    let metrics = metrics_setup()?;
    if all.listed {
        return serve_fleet(all, args, store, options, addr, metrics);
    }
    if args.no_trade {
        let state = ApiState::new(store, None, options)?;
        return runtime()?
            .block_on(async { serve_api(addr, state, metrics, shutdown_signal()).await });
    }
    match cfg.broker.kind {
        BrokerKind::Sim => serve_paper(cfg, args, store, options, addr, watcher, metrics),
        BrokerKind::Mt5 => serve_mt5(cfg, args, store, options, addr, watcher, metrics),
    }
}

/// The server of every paper session's account: a restart finds earlier sessions by it.
const PAPER_SERVER: &str = "MTQ-Sim";

/// The paper feed under serve: paced by the wall clock (operators watch it happen), or
/// `--pace` times faster for tests and demos.
fn paper_pacing(args: &ServeArgs) -> PaperOptions {
    let trade = &args.session.trade;
    PaperOptions {
        weeks: trade.weeks,
        seed: trade.seed,
        realtime: true,
        pace: args.pace,
        ..PaperOptions::default()
    }
}

fn serve_paper(
    mut cfg: AppConfig,
    args: &ServeArgs,
    mut store: Store,
    mut options: ApiOptions,
    addr: SocketAddr,
    watcher: Option<ConfigWatcher>,
    metrics: Metrics,
) -> anyhow::Result<()> {
    let opts = paper_pacing(args);
    let run = chrono::Utc::now().timestamp();
    let tag = format!("{:x}", run & 0xffff_ffff);
    let keep = mtq::orchestrator::MAX_PREFIX_LEN.saturating_sub(tag.len());
    let prefix: String = cfg.trader.id_prefix.chars().take(keep.min(5)).collect();
    cfg.trader.id_prefix = format!("{prefix}{tag}");
    let account = NewAccount {
        broker: "MTQ simulated broker".into(),
        server: PAPER_SERVER.into(),
        login: u64::try_from(run).unwrap_or_default(),
        currency: cfg.broker.currency,
        margin_mode: cfg.broker.margin_mode,
        leverage: cfg.broker.leverage,
        label: format!("paper {}", chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")),
    };
    options.db_account = Some(store.ensure_account(&account, chrono::Utc::now())?.id);
    let rec = open_recording(&cfg, &account)?;
    // An operator's manual kill-switch trip of an earlier paper session holds in this one.
    let kill_memory: Arc<dyn TradeLedger> = Arc::new(PaperKillMemory::new(
        Store::open(&cfg.database.url)?,
        PAPER_SERVER,
    ));
    let (handle, port) = control_channel(LiveSnapshot::starting(
        mtq_api::DEFAULT_ACCOUNT,
        chrono::Utc::now(),
    ));
    let (alert_handle, alert_account) = (handle.clone(), options.db_account);
    let alert_feed = options.alerts.clone();
    let state = ApiState::new(store, Some(handle), options)?;
    let deposit = cfg.broker.deposit;
    let currency = cfg.broker.currency;
    let url = cfg.database.url.clone();
    let result = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let alerts = super::alerts::start(
            &cfg,
            &alert_handle,
            alert_account,
            alert_feed,
            shutdown.clone(),
        )?;
        let api = tokio::spawn(serve_api(addr, state, metrics, shutdown.clone()));
        let aggregation = spawn_aggregation(&url, shutdown.clone());
        let control = PaperControl {
            shutdown: Some(shutdown.clone()),
            watcher,
            ledger: Some(kill_memory),
        };
        let result = run_paper_session_controlled(
            Arc::new(cfg),
            &opts,
            rec.intents.clone(),
            mtq_api::metrics::MetricsOutlet::wrap(rec.outlet.clone(), mtq_api::DEFAULT_ACCOUNT),
            control,
            Some(port),
        )
        .await;
        if !*shutdown.borrow() {
            eprintln!("the paper session ended; the API keeps serving until Ctrl-C");
        }
        let served = api.await.context("the API task failed")?;
        if let Some(a) = aggregation {
            a.abort();
        }
        if let Some(a) = alerts {
            a.finish().await;
        }
        served?;
        anyhow::Ok(result)
    });
    let shown_url = rec.shown_url.clone();
    let finished = rec.finish();
    let s = result??;
    let written = finished.as_ref().map_or(0, |w| *w);
    print_summary(&s, &format!("{deposit} {currency}"), written, &shown_url);
    finished.map(drop)
}

fn serve_mt5(
    cfg: AppConfig,
    args: &ServeArgs,
    mut store: Store,
    mut options: ApiOptions,
    addr: SocketAddr,
    watcher: Option<ConfigWatcher>,
    metrics: Metrics,
) -> anyhow::Result<()> {
    let rt = runtime()?;
    let interval = std::time::Duration::from_secs(cfg.trader.interval_seconds.max(1));
    let cfg = Arc::new(cfg);
    let trade = args.session.trade.clone();
    let (summary, rec) = rt.block_on(async {
        let (mut trader, rec, account) = start_mt5(&cfg, &trade).await?;
        options.db_account = Some(store.ensure_account(&account, chrono::Utc::now())?.id);
        let shutdown = shutdown_signal();
        let handle: ControlHandle = trader.control();
        let feed = options.alerts.clone();
        let alerts =
            super::alerts::start(&cfg, &handle, options.db_account, feed, shutdown.clone())?;
        let state = ApiState::new(store, Some(handle), options)?;
        let api = tokio::spawn(serve_api(addr, state, metrics, shutdown.clone()));
        let aggregation = spawn_aggregation(&cfg.database.url, shutdown.clone());
        let summary = run_live(trader, interval, watcher, shutdown).await;
        if let Some(a) = aggregation {
            a.abort();
        }
        if let Some(a) = alerts {
            a.finish().await;
        }
        api.abort();
        anyhow::Ok((summary, rec))
    })?;
    finish_live(
        summary.map_err(anyhow::Error::from),
        rec,
        cfg.broker.currency,
    )
}

/// `serve` with `accounts:`: every enabled account trades (each paper account paced like the
/// one-account paper session), and the API serves each under its name, with the portfolio.
/// `--no-trade` serves every configured account's history.
fn serve_fleet(
    all: AccountsConfig,
    args: &ServeArgs,
    mut store: Store,
    options: ApiOptions,
    addr: SocketAddr,
    metrics: Metrics,
) -> anyhow::Result<()> {
    use mtq::persistence::TradingAccountRepo;
    let common = &args.session.common;
    if args.no_trade {
        let rows = store.trading_accounts()?;
        let served = all
            .accounts
            .iter()
            .map(|a| {
                let db = rows
                    .iter()
                    .find(|r| r.name == a.name)
                    .and_then(|r| r.account);
                ServedAccount::new(&a.name, None, db)
            })
            .collect();
        let state = ApiState::with_accounts(store, served, options)?;
        return runtime()?
            .block_on(async { serve_api(addr, state, metrics, shutdown_signal()).await });
    }
    let opts = crate::fleet::FleetOptions {
        paper: paper_pacing(args),
        remember_kills: true,
        config_path: config_path(common),
        overrides: overrides(common, Some(&args.session.trade))?,
    };
    let fleet = crate::fleet::Fleet::prepare(all.clone(), opts)?;
    let served = fleet
        .running
        .iter()
        .map(|r| ServedAccount {
            name: r.name.clone(),
            control: Some(r.control.clone()),
            db_account: r.db_account.clone(),
        })
        .collect();
    let feed = options.alerts.clone();
    let state = ApiState::with_accounts(store, served, options)?;
    let url = all.process().database.url.clone();
    let results = runtime()?.block_on(async {
        let shutdown = shutdown_signal();
        let alerts = start_fleet_alerts(&all, &fleet, feed, &shutdown)?;
        let api = tokio::spawn(serve_api(addr, state, metrics, shutdown.clone()));
        let aggregation = spawn_aggregation(&url, shutdown.clone());
        let results = fleet.run(shutdown.clone()).await;
        for a in alerts {
            a.finish().await;
        }
        if !*shutdown.borrow() {
            eprintln!("every account has ended; the API keeps serving until Ctrl-C");
        }
        let served = api.await.context("the API task failed")?;
        if let Some(a) = aggregation {
            a.abort();
        }
        served?;
        anyhow::Ok(results)
    })?;
    crate::fleet::finish(results, &all)
}

/// Each enabled account's alerts, from its own `alerts:` (the file's, or the account's
/// override): its events reach its channels, each message naming the account. The Telegram
/// command bot runs for the first account that enables it (one process may poll a bot token
/// once); it is said at start.
fn start_fleet_alerts(
    all: &AccountsConfig,
    fleet: &crate::fleet::Fleet,
    feed: Option<tokio::sync::broadcast::Sender<serde_json::Value>>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<super::alerts::Running>> {
    let mut out = Vec::new();
    let mut bot_for: Option<&str> = None;
    for (account, run) in all.enabled().zip(&fleet.running) {
        let t = &account.config.alerts.telegram;
        let commands = bot_for.is_none() && t.enabled && t.commands;
        if t.enabled && t.commands && !commands {
            eprintln!(
                "account {}: Telegram commands are answered by account {}'s bot only",
                account.name,
                bot_for.unwrap_or_default()
            );
        }
        let started = super::alerts::start_account(
            &account.config,
            &run.control,
            run.db_account.clone(),
            feed.clone(),
            shutdown.clone(),
            commands,
        )
        .with_context(|| format!("account `{}`", account.name))?;
        if commands && started.is_some() {
            bot_for = Some(&account.name);
        }
        out.extend(started);
    }
    Ok(out)
}
