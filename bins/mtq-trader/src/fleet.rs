//! Several accounts in one process (`accounts:` in the configuration): `trade` and `serve` run
//! every enabled account, each as its own task on the one runtime with its own broker,
//! recording, kill switch and risk state; `check` checks each and says which failed;
//! `accounts` lists them with their state. A file without `accounts:` takes the one-account
//! paths in `main.rs` and `serve.rs`, exactly as before.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, bail};
use mtq::accounts::{DbConnectionJournal, register_accounts};
use mtq::db::PaperKillMemory;
use mtq::mt5::{Mt5Broker, Mt5Config, Token};
use mtq::orchestrator::config::{
    AccountConfig, AccountsConfig, AppConfig, BrokerKind, ConfigWatcher,
};
use mtq::orchestrator::paper::{PaperControl, PaperOptions, run_paper_session_controlled};
use mtq::orchestrator::{
    ConnectionWatch, ControlHandle, ControlPort, FleetMember, LinkProbe, LiveOptions, LiveSnapshot,
    LiveTrader, PortfolioGuard, SessionSummary, TradeLedger, control_channel, run_live,
    watch_connection,
};
use mtq::persistence::{AccountId, AccountRepo, NewAccount, Store, TradingAccountRepo};
use tokio::sync::watch;

use super::{Recording, open_recording, print_summary, shutdown_signal, spawn_aggregation};

/// How often the portfolio limits are checked across accounts.
const PORTFOLIO_EVERY: Duration = Duration::from_millis(250);
/// How often each account's heartbeat is written (a change of state is written at once).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
/// How often each MT5 account's bridge connection is looked at.
const LINK_POLL: Duration = Duration::from_millis(250);
/// How long one wait for an MT5 bridge lasts before it is said again in the log.
const BRIDGE_WAIT: Duration = Duration::from_secs(30);

/// Where each account's paper feed comes from, or `None` for MT5 accounts only.
#[derive(Clone, Debug)]
pub(crate) struct FleetOptions {
    pub(crate) paper: PaperOptions,
    /// Under `serve`: a paper account's manual kill-switch trip holds across restarts.
    pub(crate) remember_kills: bool,
    /// The configuration file, watched for hot reload (each account reloads its own part).
    pub(crate) config_path: Option<PathBuf>,
    pub(crate) overrides: Vec<(String, String)>,
}

/// One account, started: its control handle (for the API, the portfolio guard and the
/// connection watcher) and the database account it records into, once known.
pub(crate) struct Running {
    pub(crate) name: String,
    pub(crate) control: ControlHandle,
    pub(crate) db_account: Arc<OnceLock<AccountId>>,
}

/// What each account's task hands back.
type Finished = (String, anyhow::Result<(SessionSummary, Recording)>);

/// The accounts of one process, being started.
pub(crate) struct Fleet {
    pub(crate) running: Vec<Running>,
    ports: Vec<ControlPort>,
    config: AccountsConfig,
    journal: Arc<DbConnectionJournal>,
    opts: FleetOptions,
}

impl Fleet {
    /// Registers every account in `trading_accounts` and makes each enabled one's control
    /// channel (so the API can serve it before its broker has connected).
    pub(crate) fn prepare(config: AccountsConfig, opts: FleetOptions) -> anyhow::Result<Self> {
        let url = &config.process().database.url;
        let shown = mtq::persistence::redact(url);
        let mut store =
            Store::open(url).with_context(|| format!("opening the database {shown}"))?;
        let ids = register_accounts(&mut store, &config, chrono::Utc::now())
            .context("registering the accounts in trading_accounts")?;
        let journal = Arc::new(DbConnectionJournal::new(store, ids));
        let mut running = Vec::new();
        let mut ports = Vec::new();
        for a in config.enabled() {
            let (control, port) =
                control_channel(LiveSnapshot::starting(&a.name, chrono::Utc::now()));
            running.push(Running {
                name: a.name.clone(),
                control,
                db_account: Arc::new(OnceLock::new()),
            });
            ports.push(port);
        }
        Ok(Self {
            running,
            ports,
            config,
            journal,
            opts,
        })
    }

    /// Runs every account until `shutdown` (or until each ends by itself), with the portfolio
    /// guard and each account's connection watcher beside them. Returns each account's result.
    pub(crate) async fn run(self, shutdown: watch::Receiver<bool>) -> Vec<Finished> {
        let Fleet {
            running,
            ports,
            config,
            journal,
            opts,
        } = self;
        // The watchers stop once every account has: each writes its account `stopped` then.
        let (watchers_stop, watchers_rx) = watch::channel(false);
        let local = tokio::task::LocalSet::new();
        let mut tasks = Vec::new();
        let mut watchers = Vec::new();
        for ((account, port), run) in config.enabled().zip(ports).zip(&running) {
            let link: Arc<OnceLock<Arc<Mt5Broker>>> = Arc::new(OnceLock::new());
            let probe: Option<LinkProbe> =
                (account.config.broker.kind == BrokerKind::Mt5).then(|| {
                    let link = link.clone();
                    Arc::new(move || link.get().is_some_and(|b| b.is_connected())) as LinkProbe
                });
            let watch = ConnectionWatch {
                account: account.name.clone(),
                control: run.control.clone(),
                journal: journal.clone(),
                probe,
                heartbeat_every: HEARTBEAT_EVERY,
                poll_every: LINK_POLL,
            };
            watchers.push(tokio::spawn(watch_connection(watch, watchers_rx.clone())));
            let job = AccountJob {
                account: account.clone(),
                port,
                link,
                db_account: run.db_account.clone(),
                journal: journal.clone(),
                opts: opts.clone(),
                shutdown: shutdown.clone(),
            };
            let name = account.name.clone();
            // The drivers hold their strategies across awaits, so they are not `Send`: they run
            // as local tasks of this one thread, each its own task (an account waiting on its
            // broker or database lets the others run), with the database work on the blocking
            // pool.
            tasks.push(local.spawn_local(async move {
                let result = job.run().await;
                if let Err(e) = &result {
                    tracing::error!(account = %name, "the account stopped: {e:#}; the other accounts trade on");
                }
                (name, result)
            }));
        }
        let guard = config.portfolio.is_set().then(|| {
            let members = running
                .iter()
                .map(|r| FleetMember {
                    name: r.name.clone(),
                    control: r.control.clone(),
                })
                .collect();
            tokio::spawn(
                PortfolioGuard::new(config.portfolio.clone(), members)
                    .run(PORTFOLIO_EVERY, shutdown.clone()),
            )
        });
        let out = local
            .run_until(async move {
                let mut out = Vec::new();
                for t in tasks {
                    match t.await {
                        Ok(done) => out.push(done),
                        Err(e) => out.push((
                            "?".into(),
                            Err(anyhow::anyhow!("an account's task failed: {e}")),
                        )),
                    }
                }
                out
            })
            .await;
        if let Some(g) = guard {
            g.abort();
        }
        let _ = watchers_stop.send(true);
        for w in watchers {
            if tokio::time::timeout(Duration::from_secs(10), w)
                .await
                .is_err()
            {
                tracing::warn!("a connection watcher did not record its account's stop in time");
            }
        }
        out
    }
}

/// An MT5 account whose bridge never connected before the process was asked to stop: not a
/// failure of the session, and nothing to summarise.
#[derive(Debug)]
struct NeverConnected(String);

impl std::fmt::Display for NeverConnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account `{}`: its MT5 bridge never connected", self.0)
    }
}

impl std::error::Error for NeverConnected {}

/// Opens an account's recording off the async threads.
/// The file that halts one account of a several-account process, beside `mtq.kill` (which
/// halts them all): `mtq.NAME.kill` in the working directory.
fn account_kill_file(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("mtq.{name}.kill"))
}

async fn recording(cfg: &AppConfig, account: &NewAccount) -> anyhow::Result<Recording> {
    let (cfg, account) = (cfg.clone(), account.clone());
    tokio::task::spawn_blocking(move || open_recording(&cfg, &account)).await?
}

/// One account's run.
struct AccountJob {
    account: AccountConfig,
    port: ControlPort,
    link: Arc<OnceLock<Arc<Mt5Broker>>>,
    db_account: Arc<OnceLock<AccountId>>,
    journal: Arc<DbConnectionJournal>,
    opts: FleetOptions,
    shutdown: watch::Receiver<bool>,
}

impl AccountJob {
    fn watcher(&self) -> Option<ConfigWatcher> {
        self.opts.config_path.as_ref().map(|p| {
            ConfigWatcher::new(p.clone(), self.opts.overrides.clone())
                .for_account(&self.account.name)
        })
    }

    /// Registers the broker account and links the configured one to it.
    async fn link_account(&self, cfg: &AppConfig, account: &NewAccount) -> anyhow::Result<()> {
        let (url, acc) = (cfg.database.url.clone(), account.clone());
        let rec = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut store = Store::open(&url)?;
            Ok(store.ensure_account(&acc, chrono::Utc::now())?)
        })
        .await??;
        let _ = self.db_account.set(rec.id);
        if let Err(e) = self.journal.link(&self.account.name, &rec) {
            tracing::warn!(account = %self.account.name, "could not link the broker account: {e}");
        }
        Ok(())
    }

    async fn run(self) -> anyhow::Result<(SessionSummary, Recording)> {
        match self.account.config.broker.kind {
            BrokerKind::Sim => self.paper().await,
            BrokerKind::Mt5 => self.mt5().await,
        }
    }

    async fn paper(self) -> anyhow::Result<(SessionSummary, Recording)> {
        let name = self.account.name.clone();
        let mut cfg = self.account.config.clone();
        let run = chrono::Utc::now().timestamp();
        // Each run of each account is its own simulated account; its client order ids carry
        // the account's prefix and the run's start.
        let tag = format!("{:x}", run & 0xffff_ffff);
        let keep = mtq::orchestrator::MAX_PREFIX_LEN.saturating_sub(tag.len());
        let prefix: String = cfg.trader.id_prefix.chars().take(keep).collect();
        cfg.trader.id_prefix = format!("{prefix}{tag}");
        let server = format!("MTQ-Sim/{name}");
        let account = NewAccount {
            broker: "MTQ simulated broker".into(),
            server: server.clone(),
            login: u64::try_from(run).unwrap_or_default(),
            currency: cfg.broker.currency,
            margin_mode: cfg.broker.margin_mode,
            leverage: cfg.broker.leverage,
            label: format!(
                "paper {name} {}",
                chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")
            ),
        };
        let rec = recording(&cfg, &account).await?;
        self.link_account(&cfg, &account).await?;
        let ledger: Option<Arc<dyn TradeLedger>> = if self.opts.remember_kills {
            let url = cfg.database.url.clone();
            let store = tokio::task::spawn_blocking(move || Store::open(&url)).await??;
            Some(Arc::new(PaperKillMemory::new(store, server)))
        } else {
            None
        };
        let control = PaperControl {
            shutdown: Some(self.shutdown.clone()),
            watcher: self.watcher(),
            ledger,
        };
        let opts = PaperOptions {
            account: name.clone(),
            account_kill_file: Some(account_kill_file(&name)),
            ..self.opts.paper.clone()
        };
        let result = run_paper_session_controlled(
            Arc::new(cfg),
            &opts,
            rec.intents.clone(),
            mtq_api::metrics::MetricsOutlet::wrap(rec.outlet.clone(), &name),
            control,
            Some(self.port),
        )
        .await;
        match result {
            Ok(s) => Ok((s, rec)),
            Err(e) => {
                let _ = tokio::task::spawn_blocking(move || rec.finish()).await;
                Err(anyhow::Error::from(e).context(format!("account `{name}`")))
            }
        }
    }

    /// Listens for the account's MT5 bridge and waits for it (until shutdown), saying so every
    /// [`BRIDGE_WAIT`].
    async fn bridge(&self) -> anyhow::Result<Option<(Arc<Mt5Broker>, mtq::mt5::Hello)>> {
        let name = &self.account.name;
        let b = &self.account.config.broker;
        let var = b
            .mt5_token_env
            .clone()
            .unwrap_or_else(|| "MTQ_MT5_TOKEN".into());
        let token = std::env::var(&var).map_err(|_| {
            anyhow::anyhow!(
                "account `{name}`: the MT5 bridge needs a token: set {var} (broker.mt5_token_env) to the EA's Token input"
            )
        })?;
        let mut mt5 = Mt5Config::new(b.mt5_port, Token::new(&token)?);
        if let Some(suffix) = &b.mt5_suffix {
            mt5 = mt5.with_suffix(suffix);
        }
        for (ours, theirs) in &b.symbols {
            mt5 = mt5.with_symbol(ours.clone(), theirs.as_str());
        }
        let broker = Arc::new(
            Mt5Broker::listen(mt5)
                .await
                .with_context(|| format!("account `{name}`: listening for its MT5 bridge"))?,
        );
        let _ = self.link.set(broker.clone());
        let mut shutdown = self.shutdown.clone();
        loop {
            tracing::info!(account = %name, port = broker.local_port(), "waiting for the MT5 bridge");
            tokio::select! {
                hello = broker.wait_connected(BRIDGE_WAIT) => match hello {
                    Ok(h) => return Ok(Some((broker, h))),
                    Err(e) => tracing::warn!(account = %name, "the MT5 bridge has not connected yet: {e}"),
                },
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return Ok(None);
                    }
                }
            }
        }
    }

    async fn mt5(self) -> anyhow::Result<(SessionSummary, Recording)> {
        let name = self.account.name.clone();
        let cfg = Arc::new(self.account.config.clone());
        let Some((broker, hello)) = self.bridge().await? else {
            return Err(NeverConnected(name).into());
        };
        if let Some(want) = cfg.broker.expected_login
            && want != hello.login
        {
            bail!(
                "account `{name}`: the terminal on port {} is logged in to account {}, but broker.expected_login is {want}: refusing to trade it",
                cfg.broker.mt5_port,
                hello.login
            );
        }
        tracing::info!(account = %name, login = hello.login, server = %hello.server, "MT5 connected");
        let account = NewAccount {
            broker: hello.company.clone(),
            server: hello.server.clone(),
            login: hello.login,
            currency: hello.currency,
            margin_mode: hello.margin_mode,
            leverage: hello.leverage,
            label: format!("mt5 {name}"),
        };
        let rec = recording(&cfg, &account).await?;
        self.link_account(&cfg, &account).await?;
        let opts = LiveOptions {
            account: name.clone(),
            account_kill_file: Some(account_kill_file(&name)),
            server_offset_secs: i32::try_from(hello.server_offset_secs).unwrap_or(0),
            ..LiveOptions::default()
        };
        let started = LiveTrader::start(
            broker,
            cfg.clone(),
            rec.intents.clone(),
            Arc::new(mtq::core::SystemClock),
            mtq_api::metrics::MetricsOutlet::wrap(rec.outlet.clone(), &self.account.name),
            Some(rec.ledger.clone()),
            opts,
        )
        .await;
        let mut trader = match started {
            Ok((trader, _)) => trader,
            Err(e) => {
                let _ = tokio::task::spawn_blocking(move || rec.finish()).await;
                return Err(anyhow::Error::from(e)
                    .context(format!("account `{name}`: starting the trader")));
            }
        };
        let watcher = self.watcher();
        trader.attach_control(self.port);
        let interval = Duration::from_secs(cfg.trader.interval_seconds.max(1));
        let summary = run_live(trader, interval, watcher, self.shutdown.clone()).await;
        match summary {
            Ok(s) => Ok((s, rec)),
            Err(e) => {
                let _ = tokio::task::spawn_blocking(move || rec.finish()).await;
                Err(anyhow::Error::from(e).context(format!("account `{name}`")))
            }
        }
    }
}

/// Flushes each account's recording and prints its summary; fails naming every account that
/// failed.
pub(crate) fn finish(results: Vec<Finished>, config: &AccountsConfig) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for (name, result) in results {
        println!("account {name}");
        match result {
            Ok((s, rec)) => {
                let shown = rec.shown_url.clone();
                let written = rec.finish();
                let currency = config
                    .get(&name)
                    .map_or_else(String::new, |a| a.config.broker.currency.to_string());
                print_summary(
                    &s,
                    &format!("{} {currency}", s.final_balance - s.net_profit),
                    *written.as_ref().unwrap_or(&0),
                    &shown,
                );
                if let Err(e) = written {
                    failed.push(format!("{name} ({e:#})"));
                }
            }
            Err(e) if e.downcast_ref::<NeverConnected>().is_some() => {
                println!("  not traded: {e}");
            }
            Err(e) => {
                println!("  failed: {e:#}");
                failed.push(format!("{name} ({e:#})"));
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("{} account(s) failed: {}", failed.len(), failed.join("; "))
    }
}

/// `trade` over every enabled account (no API).
pub(crate) fn trade(config: AccountsConfig, opts: FleetOptions) -> anyhow::Result<()> {
    eprintln!(
        "trading {} accounts: {}",
        config.enabled().count(),
        config
            .enabled()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let realtime = opts.paper.realtime
        || config
            .enabled()
            .any(|a| a.config.broker.kind == BrokerKind::Mt5);
    let url = config.process().database.url.clone();
    let fleet = Fleet::prepare(config.clone(), opts)?;
    let results = super::runtime()?.block_on(async move {
        let shutdown = shutdown_signal();
        let aggregation = if realtime {
            spawn_aggregation(&url, shutdown.clone())
        } else {
            None
        };
        let results = fleet.run(shutdown).await;
        if let Some(a) = aggregation {
            a.abort();
        }
        results
    });
    finish(results, &config)
}

/// `check` over every account: each is checked on its own, and the failures are named.
pub(crate) fn check(config: &AccountsConfig, args: &super::TradeArgs) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for a in &config.accounts {
        if !a.enabled {
            println!("account {} (disabled): not checked", a.name);
            continue;
        }
        println!("account {}:", a.name);
        // Command-line broker credentials are one account's: each account reads its own.
        let mut own = args.clone();
        own.mt5_token = None;
        own.mt5_suffix = None;
        if let Err(e) = super::check_one(&a.config, &own) {
            println!("  FAILED: {e:#}");
            failed.push(a.name.clone());
        }
    }
    if failed.is_empty() {
        println!("all {} enabled accounts passed", config.enabled().count());
        Ok(())
    } else {
        bail!(
            "{} of {} accounts failed the check: {}",
            failed.len(),
            config.enabled().count(),
            failed.join(", ")
        )
    }
}

/// `accounts`: every account of the configuration with its state as the database last
/// recorded it (accounts that ran before but are no longer configured are listed too).
pub(crate) fn list(config: &AccountsConfig) -> anyhow::Result<()> {
    let url = &config.process().database.url;
    let rows = match Store::open(url).and_then(|mut s| s.trading_accounts()) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!(
                "database {}: {e} (states unknown)",
                mtq::persistence::redact(url)
            );
            Vec::new()
        }
    };
    let rows: BTreeMap<String, _> = rows.into_iter().map(|r| (r.name.clone(), r)).collect();
    println!(
        "{:<20} {:<8} {:<6} {:<6} {:<10} {:<4} {:<13} {:<25} {:<25} {:<12} REASON",
        "NAME",
        "ENABLED",
        "BROKER",
        "PORT",
        "MAGIC",
        "CCY",
        "STATE",
        "SINCE",
        "LAST HEARTBEAT",
        "LOGIN"
    );
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "-".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
    };
    for a in &config.accounts {
        let c = &a.config;
        let row = rows.get(&a.name);
        let state = match row {
            None => "never run",
            Some(r) if r.state_changed_at.is_none() => "never run",
            Some(r) if r.connected => "connected",
            Some(_) => "disconnected",
        };
        println!(
            "{:<20} {:<8} {:<6} {:<6} {:<10} {:<4} {:<13} {:<25} {:<25} {:<12} {}",
            a.name,
            if a.enabled { "yes" } else { "no" },
            match c.broker.kind {
                BrokerKind::Sim => "sim",
                BrokerKind::Mt5 => "mt5",
            },
            if c.broker.kind == BrokerKind::Mt5 {
                c.broker.mt5_port.to_string()
            } else {
                "-".into()
            },
            c.trader.magic,
            c.broker.currency,
            state,
            time(row.and_then(|r| r.state_changed_at)),
            time(row.and_then(|r| r.last_heartbeat)),
            row.and_then(|r| r.login)
                .map_or_else(|| "-".into(), |l| l.to_string()),
            row.map_or("", |r| r.state_reason.as_str()),
        );
    }
    for (name, r) in &rows {
        if config.get(name).is_none() {
            println!(
                "{name:<20} (no longer in the configuration; last {} {})",
                if r.connected {
                    "connected"
                } else {
                    "disconnected"
                },
                time(r.state_changed_at)
            );
        }
    }
    Ok(())
}
