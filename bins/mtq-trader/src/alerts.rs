//! Alerts beside `serve` (the engine fed by the trader's events, and the Telegram command
//! bot), and `mtq-trader alerts ...`: send a test message, set a channel's level for an event
//! type, list the levels and the history.

use std::time::Duration;

use anyhow::{Context, bail};
use mtq::orchestrator::ControlHandle;
use mtq::orchestrator::config::AppConfig;
use mtq::persistence::{AccountId, AlertConfigRepo, AlertPreference, AuditRepo, Store};
use mtq_alerts::{Alert, AlertKind, AlertSetup, Alerter, Channel, Engine, History, TelegramBot};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Common, load_all};

/// How long a stopping `serve` gives queued alerts to go out.
const DRAIN: Duration = Duration::from_secs(5);

/// The running alerts, for the API's authentication-failure hook (one `serve` per process;
/// the API is built before the alerts start, so the hook finds them here).
static AUTH_ALERTER: std::sync::Mutex<Option<Alerter>> = std::sync::Mutex::new(None);

/// The hook `serve` gives the API: each failed login or rejected credential counts toward an
/// `auth_failures` alert.
pub(crate) fn auth_hook() -> mtq_api::AuthFailureHook {
    mtq_api::AuthFailureHook(std::sync::Arc::new(|what: &str| {
        if let Ok(guard) = AUTH_ALERTER.lock()
            && let Some(a) = guard.as_ref()
        {
            a.auth_failure(what);
        }
    }))
}

/// The alert engine and the bot of a running `serve`.
pub(crate) struct Running {
    alerter: Alerter,
    engine: Engine,
    forwarder: JoinHandle<()>,
    bot: Option<JoinHandle<()>>,
    primary: bool,
}

/// Starts what `alerts:` configures for a `serve` session (inside the runtime): `None` when no
/// channel and no commands are enabled. An error names the key to fix.
pub(crate) fn start(
    cfg: &AppConfig,
    handle: &ControlHandle,
    account: Option<AccountId>,
    feed: Option<tokio::sync::broadcast::Sender<serde_json::Value>>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Option<Running>> {
    let slot = std::sync::OnceLock::new();
    if let Some(a) = account {
        let _ = slot.set(a);
    }
    start_account(cfg, handle, std::sync::Arc::new(slot), feed, shutdown, true)
}

/// Starts one account's alerts: its events, its channels and levels (`alerts:` of its own
/// configuration), its records under its account row once `account` is known. `commands`:
/// whether this account runs the Telegram command bot (one bot per bot token can poll).
pub(crate) fn start_account(
    cfg: &AppConfig,
    handle: &ControlHandle,
    account: std::sync::Arc<std::sync::OnceLock<AccountId>>,
    feed: Option<tokio::sync::broadcast::Sender<serde_json::Value>>,
    shutdown: watch::Receiver<bool>,
    commands: bool,
) -> anyhow::Result<Option<Running>> {
    let a = &cfg.alerts;
    if !(a.telegram.enabled || a.webhook.enabled || a.email.enabled) {
        return Ok(None);
    }
    let url = &cfg.database.url;
    let open = || {
        Store::open(url).with_context(|| {
            format!(
                "opening the database {} for alerts",
                mtq::persistence::redact(url)
            )
        })
    };
    let stored = open()?.alert_preferences()?;
    let setup = AlertSetup::from_config(a, &stored, &handle.snapshot().account_name)
        .context("the alerts section")?;
    let channels = setup.channels();
    let history = History::pending(open()?, account);
    let (alerter, engine) = setup.start(Some(history.clone()));
    let forwarder = mtq_alerts::forward_events(handle.subscribe(), alerter.clone());
    // Authentication failures are the process's: the primary account (the one that may run the
    // command bot) reports them.
    if commands && let Ok(mut slot) = AUTH_ALERTER.lock() {
        *slot = Some(alerter.clone());
    }
    if let Some(feed) = feed {
        // The API's `alerts` channel: a reader that lags loses old records, nothing waits.
        let mut records = alerter.subscribe();
        tokio::spawn(async move {
            loop {
                match records.recv().await {
                    Ok(r) => {
                        let _ = feed.send(serde_json::to_value(r).unwrap_or_default());
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }
    let bot = if commands && a.telegram.enabled && a.telegram.commands {
        let bot = TelegramBot::from_config(&a.telegram, handle.clone(), Some(history))
            .context("the alerts section")?;
        Some(tokio::spawn(bot.run(shutdown)))
    } else {
        None
    };
    let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
    eprintln!(
        "alerts of account {} to {}{}",
        handle.snapshot().account_name,
        if names.is_empty() {
            "no channel".to_string()
        } else {
            names.join(", ")
        },
        if bot.is_some() {
            "; Telegram commands on"
        } else {
            ""
        }
    );
    Ok(Some(Running {
        alerter,
        engine,
        forwarder,
        bot,
        primary: commands,
    }))
}

impl Running {
    /// Lets queued alerts go out (for a while), then stops.
    pub(crate) async fn finish(self) {
        // The trader has stopped: its last events are already in the forwarder's buffer.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.forwarder.abort();
        if let Some(b) = self.bot {
            b.abort();
        }
        if self.primary
            && let Ok(mut slot) = AUTH_ALERTER.lock()
        {
            *slot = None;
        }
        drop(self.alerter);
        self.engine.finish(DRAIN).await;
    }
}

#[derive(clap::Subcommand, Debug, Clone)]
pub(crate) enum AlertsCommand {
    /// Send a test message through one channel as configured (`alerts.<channel>`), and record
    /// it in alert_history.
    Test {
        #[arg(long, value_parser = ["telegram", "webhook", "email"])]
        channel: String,
        #[command(flatten)]
        common: Common,
    },
    /// Set how an event type goes out on a channel (on, silent, off), overriding the file.
    Set {
        #[arg(long, value_parser = ["telegram", "webhook", "email"])]
        channel: String,
        /// The event type, e.g. position_opened.
        #[arg(long)]
        event: String,
        #[arg(long, value_parser = ["on", "silent", "off"])]
        level: String,
        #[command(flatten)]
        common: Common,
    },
    /// Remove a level set with `alerts set` (the file's applies again).
    Clear {
        #[arg(long, value_parser = ["telegram", "webhook", "email"])]
        channel: String,
        #[arg(long)]
        event: String,
        #[command(flatten)]
        common: Common,
    },
    /// List the levels set in the database.
    Levels {
        #[command(flatten)]
        common: Common,
    },
    /// The newest deliveries and their outcomes.
    History {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[command(flatten)]
        common: Common,
    },
}

fn store(common: &Common) -> anyhow::Result<(AppConfig, Store)> {
    // Alerts are the process's: the `alerts:` section of the file (of its first account when it
    // lists several).
    let cfg = load_all(common, None)?.process().clone();
    let s = Store::open(&cfg.database.url).with_context(|| {
        format!(
            "opening the database {}",
            mtq::persistence::redact(&cfg.database.url)
        )
    })?;
    Ok((cfg, s))
}

pub(crate) fn alerts(cmd: &AlertsCommand) -> anyhow::Result<()> {
    match cmd {
        AlertsCommand::Test { channel, common } => {
            let (cfg, mut s) = store(common)?;
            let channel = Channel::parse(channel).context("channel")?;
            let stored = s.alert_preferences()?;
            let setup = AlertSetup::from_config(&cfg.alerts, &stored, "default")
                .context("the alerts section")?
                .only(channel)?;
            let rt = super::runtime()?;
            let result = rt.block_on(async move {
                let (alerter, engine) = setup.start(Some(History::new(s, None)));
                let mut records = alerter.subscribe();
                alerter.notify(Alert::new(
                    AlertKind::Test,
                    chrono::Utc::now(),
                    "MTQ test message",
                    format!("`mtq-trader alerts test --channel {channel}` reached you."),
                    "",
                ));
                let record = records.recv().await.ok();
                drop(alerter);
                engine.finish(Duration::from_secs(5)).await;
                record
            });
            match result {
                Some(r) if r.delivered => {
                    println!("{channel}: delivered ({} attempt(s))", r.attempts);
                }
                Some(r) => bail!(
                    "{channel}: not delivered after {} attempt(s): {}",
                    r.attempts,
                    r.error.unwrap_or_default()
                ),
                None => bail!("{channel}: the alert engine stopped before delivering"),
            }
        }
        AlertsCommand::Set {
            channel,
            event,
            level,
            common,
        } => {
            let (ch, kind, lvl) =
                mtq_alerts::parse_preference(channel, event, level).map_err(anyhow::Error::msg)?;
            let (_, mut s) = store(common)?;
            s.set_alert_preference(&AlertPreference {
                channel: ch.as_str().into(),
                event_type: kind.as_str().into(),
                level: lvl.as_str().into(),
                updated_at: chrono::Utc::now(),
                updated_by: "cli".into(),
            })?;
            println!(
                "{ch} {kind}: {} (applies at the next start of serve)",
                lvl.as_str()
            );
        }
        AlertsCommand::Clear {
            channel,
            event,
            common,
        } => {
            let (_, mut s) = store(common)?;
            if !s.clear_alert_preference(channel, event)? {
                bail!("no level is set for {channel} {event}");
            }
            println!("{channel} {event}: the configuration file's level applies again");
        }
        AlertsCommand::Levels { common } => {
            let (_, mut s) = store(common)?;
            for p in s.alert_preferences()? {
                println!(
                    "{:<9} {:<20} {:<6} set {} by {}",
                    p.channel,
                    p.event_type,
                    p.level,
                    p.updated_at.to_rfc3339(),
                    p.updated_by
                );
            }
        }
        AlertsCommand::History { limit, common } => {
            let (_, mut s) = store(common)?;
            for r in s.recent_alerts((*limit).clamp(1, 1000), None, None)? {
                let a = r.alert;
                println!(
                    "{}  {:<8} {:<20} {:<8} {} attempt(s){}  {}{}",
                    a.time.to_rfc3339(),
                    a.channel,
                    a.event_type,
                    if a.delivered { "sent" } else { "FAILED" },
                    a.attempts,
                    if a.repeats > 0 {
                        format!(", {} folded", a.repeats)
                    } else {
                        String::new()
                    },
                    a.title,
                    a.error.map(|e| format!(" ({e})")).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
