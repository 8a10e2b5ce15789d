//! Several accounts in one process: each runs its own live driver (its own broker, kill switch,
//! daily loss, drawdown peak, cooldowns and intents) as its own task, so an account whose
//! terminal is down or whose database refuses writes stalls only itself. Two things look
//! across them, both through the drivers' published snapshots and control channels only:
//!
//! - [`PortfolioGuard`]: the limits across accounts (`portfolio:` — the day's total loss, the
//!   net lots of any one currency). When one is reached it pauses entries on every account
//!   (open positions are still managed) and says which limit, with the figures; the pause is
//!   lifted when the limit clears (the daily loss at the next UTC day).
//! - [`watch_connection`]: each account's broker link, written to a [`ConnectionJournal`] on
//!   every change (connected, disconnected with the reason) and as a heartbeat.
//!
//! Neither ever waits on a driver: a command is sent from its own task, so an account stuck in
//! a slow cycle delays only its own pause.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use mtq_core::{Currency, Decimal, EventKind, Position, Side};
use tokio::sync::{broadcast, watch};
use tracing::{error, info, warn};

use crate::config::PortfolioSection;
use crate::control::{Actor, ControlCommand, ControlHandle, LiveSnapshot, Role, TradingState};

/// Net lots per currency: a buy of EURUSD is long EUR and short USD (a symbol that is no
/// currency pair counts for nothing).
pub fn currency_exposure<'a>(
    positions: impl IntoIterator<Item = &'a Position>,
) -> BTreeMap<Currency, Decimal> {
    let mut out: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for p in positions {
        let Some((base, quote)) = p.symbol.currency_pair() else {
            continue;
        };
        let lots = match p.side {
            Side::Buy => p.volume,
            Side::Sell => -p.volume,
        };
        *out.entry(base).or_default() += lots;
        *out.entry(quote).or_default() -= lots;
    }
    out
}

/// A portfolio limit reached, with the figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortfolioBreach {
    /// The day's total P&L across accounts is a loss of at least `limit`.
    DailyLoss { loss: Decimal, limit: Decimal },
    /// The net lots of `currency` across accounts reached `limit` (long or short).
    CurrencyExposure {
        currency: Currency,
        lots: Decimal,
        limit: Decimal,
    },
}

impl PortfolioBreach {
    /// A stable snake_case name for logs and the audit record.
    pub fn rule(&self) -> &'static str {
        match self {
            PortfolioBreach::DailyLoss { .. } => "portfolio_daily_loss",
            PortfolioBreach::CurrencyExposure { .. } => "portfolio_currency_exposure",
        }
    }
}

impl std::fmt::Display for PortfolioBreach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortfolioBreach::DailyLoss { loss, limit } => write!(
                f,
                "the day's loss across accounts is {loss}, at or above portfolio.max_daily_loss {limit}"
            ),
            PortfolioBreach::CurrencyExposure {
                currency,
                lots,
                limit,
            } => write!(
                f,
                "the net exposure to {currency} across accounts is {lots} lots, at or beyond portfolio.max_currency_exposure_lots {limit}"
            ),
        }
    }
}

/// The first limit that the accounts' snapshots reach, daily loss first. Accounts that have
/// not read their broker yet count for nothing.
pub fn portfolio_breach<'a>(
    limits: &PortfolioSection,
    snapshots: impl IntoIterator<Item = &'a LiveSnapshot>,
) -> Option<PortfolioBreach> {
    let live: Vec<&LiveSnapshot> = snapshots
        .into_iter()
        .filter(|s| s.account.is_some())
        .collect();
    if let Some(limit) = limits.max_daily_loss {
        let pnl: Decimal = live.iter().map(|s| s.daily_pnl).sum();
        if -pnl >= limit {
            return Some(PortfolioBreach::DailyLoss { loss: -pnl, limit });
        }
    }
    if let Some(limit) = limits.max_currency_exposure_lots {
        let exposure = currency_exposure(live.iter().flat_map(|s| s.positions.iter()));
        if let Some((currency, lots)) = exposure
            .into_iter()
            .filter(|(_, lots)| lots.abs() >= limit)
            .max_by_key(|(_, lots)| lots.abs())
        {
            return Some(PortfolioBreach::CurrencyExposure {
                currency,
                lots,
                limit,
            });
        }
    }
    None
}

/// One account the guard watches.
#[derive(Clone, Debug)]
pub struct FleetMember {
    pub name: String,
    pub control: ControlHandle,
}

/// The limits across accounts, enforced through each account's control channel.
#[derive(Debug)]
pub struct PortfolioGuard {
    limits: PortfolioSection,
    members: Vec<FleetMember>,
    /// The limit in force and the UTC day it was reached.
    halted: Option<(PortfolioBreach, NaiveDate)>,
    warned_currencies: bool,
}

/// Who the guard's commands are from, in each account's audit record.
fn actor() -> Actor {
    Actor {
        id: "portfolio".into(),
        role: Role::Admin,
        via: "portfolio-limit".into(),
    }
}

impl PortfolioGuard {
    pub fn new(limits: PortfolioSection, members: Vec<FleetMember>) -> Self {
        Self {
            limits,
            members,
            halted: None,
            warned_currencies: false,
        }
    }

    /// The limit in force, if any.
    pub fn halted(&self) -> Option<&PortfolioBreach> {
        self.halted.as_ref().map(|(b, _)| b)
    }

    /// One look across the accounts: pauses entries everywhere when a limit is reached, keeps
    /// them paused while it holds (an account that starts later is paused too), and resumes
    /// them when it clears. Returns the limit in force.
    pub fn check(&mut self) -> Option<PortfolioBreach> {
        let snaps: Vec<Arc<LiveSnapshot>> =
            self.members.iter().map(|m| m.control.snapshot()).collect();
        self.warn_mixed_currencies(&snaps);
        let today = snaps.iter().map(|s| s.at.date_naive()).max()?;
        let breach = portfolio_breach(&self.limits, snaps.iter().map(|s| &**s));
        let still = match (&self.halted, &breach) {
            // A daily-loss halt holds for the rest of the day, whatever the P&L does.
            (Some((b @ PortfolioBreach::DailyLoss { .. }, day)), _) if *day == today => {
                Some(b.clone())
            }
            (_, Some(b)) => Some(b.clone()),
            (_, None) => None,
        };
        match (&self.halted, still) {
            (None, Some(b)) => {
                error!(
                    rule = b.rule(),
                    "portfolio limit reached: {b}; entries paused on every account"
                );
                self.halted = Some((b.clone(), today));
                self.pause_running(&snaps, &b);
                Some(b)
            }
            (Some(_), Some(b)) => {
                self.pause_running(&snaps, &b);
                // The figures move; the day the limit was reached stays, unless another
                // limit holds now.
                if let Some((held, _)) = &self.halted
                    && std::mem::discriminant(held) != std::mem::discriminant(&b)
                {
                    self.halted = Some((b.clone(), today));
                }
                Some(b)
            }
            (Some((b, _)), None) => {
                info!(
                    rule = b.rule(),
                    "portfolio limit cleared; entries resumed on every account"
                );
                self.halted = None;
                for m in &self.members {
                    send(m, ControlCommand::ResumeEntries);
                }
                None
            }
            (None, None) => None,
        }
    }

    fn pause_running(&self, snaps: &[Arc<LiveSnapshot>], b: &PortfolioBreach) {
        for (m, s) in self.members.iter().zip(snaps) {
            if s.trading == TradingState::Running {
                warn!(account = %m.name, rule = b.rule(), "pausing entries: {b}");
                send(m, ControlCommand::PauseEntries);
            }
        }
    }

    fn warn_mixed_currencies(&mut self, snaps: &[Arc<LiveSnapshot>]) {
        if self.warned_currencies || self.limits.max_daily_loss.is_none() {
            return;
        }
        let mut currencies = snaps
            .iter()
            .filter_map(|s| s.account.as_ref().map(|a| a.currency));
        if let Some(first) = currencies.next()
            && currencies.any(|c| c != first)
        {
            self.warned_currencies = true;
            warn!(
                "portfolio.max_daily_loss sums the accounts' daily P&L as they report it, and the accounts are in different currencies: the sum mixes them"
            );
        }
    }

    /// Checks every `every` until `shutdown` turns `true`.
    pub async fn run(mut self, every: std::time::Duration, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(every.max(std::time::Duration::from_millis(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => { self.check(); }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }
}

/// Sends a command from its own task: the guard never waits for a driver.
fn send(m: &FleetMember, command: ControlCommand) {
    let control = m.control.clone();
    let name = m.name.clone();
    tokio::spawn(async move {
        let what = command.name();
        if let Err(e) = control.send(command, actor()).await {
            warn!(account = %name, command = what, "the account did not take the portfolio guard's command: {e}");
        }
    });
}

/// Where each account's connection state goes (the database, in `mtq::db`). Called off the
/// async workers; an error is logged and the next change is written again.
pub trait ConnectionJournal: Send + Sync + 'static {
    fn changed(
        &self,
        account: &str,
        connected: bool,
        reason: &str,
        last_heartbeat: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Result<(), String>;
    fn heartbeat(&self, account: &str, at: DateTime<Utc>) -> Result<(), String>;
}

/// Tells whether an account's broker link is up right now (the MT5 bridge's connection), for
/// a state that changes between cycles.
pub type LinkProbe = Arc<dyn Fn() -> bool + Send + Sync>;

/// How [`watch_connection`] runs.
#[derive(Clone)]
pub struct ConnectionWatch {
    pub account: String,
    pub control: ControlHandle,
    pub journal: Arc<dyn ConnectionJournal>,
    /// The broker link itself, when the driver's snapshots are not enough.
    pub probe: Option<LinkProbe>,
    /// How often the heartbeat is written (a change is written at once).
    pub heartbeat_every: std::time::Duration,
    /// How often the probe is read.
    pub poll_every: std::time::Duration,
}

impl std::fmt::Debug for ConnectionWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionWatch")
            .field("account", &self.account)
            .field("probe", &self.probe.is_some())
            .finish()
    }
}

/// The state the watcher last wrote.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    connected: bool,
    store_ok: bool,
}

async fn write(
    journal: &Arc<dyn ConnectionJournal>,
    account: &str,
    connected: bool,
    reason: String,
    heartbeat: Option<DateTime<Utc>>,
) {
    let (journal, name) = (journal.clone(), account.to_string());
    let done = tokio::task::spawn_blocking(move || {
        journal.changed(&name, connected, &reason, heartbeat, Utc::now())
    })
    .await;
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(account, "could not record the connection state: {e}"),
        Err(e) => warn!(account, "could not record the connection state: {e}"),
    }
}

/// Follows one account's driver until `shutdown`: writes every change of its broker link (and
/// of its database writes) with the reason, logs it, and writes a heartbeat while the driver
/// is alive. At shutdown it writes the account as disconnected, `stopped`.
pub async fn watch_connection(w: ConnectionWatch, mut shutdown: watch::Receiver<bool>) {
    let mut snaps = w.control.watch();
    let mut events = w.control.subscribe();
    let mut poll = tokio::time::interval(w.poll_every.max(std::time::Duration::from_millis(10)));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen: Option<Seen> = None;
    let mut last_error = String::new();
    let mut last_beat: Option<DateTime<Utc>> = None;
    loop {
        tokio::select! {
            _ = poll.tick() => {}
            changed = snaps.changed() => if changed.is_err() { break },
            ev = events.recv() => match ev {
                Ok(e) => {
                    if let EventKind::Error { message, .. } = &e.kind {
                        last_error.clone_from(message);
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            },
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() { break }
                continue;
            }
        }
        let s = snaps.borrow_and_update().clone();
        let link = w.probe.as_ref().is_none_or(|p| p());
        let now = Seen {
            connected: link && s.health.broker_connected,
            store_ok: s.health.intent_store_ok,
        };
        let heartbeat = s.health.loop_alive;
        if seen.as_ref() != Some(&now) {
            let reason = match (&now, link) {
                (
                    Seen {
                        connected: true,
                        store_ok: true,
                    },
                    _,
                ) => "connected".to_string(),
                (
                    Seen {
                        connected: true,
                        store_ok: false,
                    },
                    _,
                ) => "connected; the database refuses writes: entries are refused on this account"
                    .to_string(),
                (_, false) => "the broker's terminal is not connected".to_string(),
                _ if s.account.is_none() => "starting: waiting for the broker".to_string(),
                _ if last_error.is_empty() => "the broker does not answer".to_string(),
                _ => last_error.clone(),
            };
            match (&seen, now.connected) {
                (Some(_), false) => warn!(
                    account = %w.account,
                    "account disconnected: {reason}; the other accounts trade on"
                ),
                (_, true) if !now.store_ok => warn!(account = %w.account, "{reason}"),
                (Some(_), true) => info!(account = %w.account, "account connected"),
                _ => {}
            }
            write(&w.journal, &w.account, now.connected, reason, heartbeat).await;
            seen = Some(now);
            last_beat = heartbeat;
        } else if let Some(hb) = heartbeat
            && last_beat.is_none_or(|b| (hb - b).to_std().unwrap_or_default() >= w.heartbeat_every)
        {
            let (journal, name) = (w.journal.clone(), w.account.clone());
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = journal.heartbeat(&name, hb) {
                    warn!(account = %name, "could not record the heartbeat: {e}");
                }
            })
            .await;
            last_beat = Some(hb);
        }
    }
    let hb = snaps.borrow().health.loop_alive;
    write(&w.journal, &w.account, false, "stopped".into(), hb).await;
}
