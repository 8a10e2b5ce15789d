//! A paper-trading session: the live driver ([`LiveTrader`]) over the simulated broker, fed by
//! the built-in synthetic feed as fast as possible (or paced by the wall clock).
//!
//! Each step of the feed happens as a terminal would see it: every symbol's new bar opens (the
//! quote becomes its open), the trader runs one cycle (it sees the bars that just closed, and
//! its orders fill at the new bar's open), then the bars run their course (stops and targets
//! trigger along each bar's path) and close.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use mtq_core::{ManualClock, Symbol, Timeframe};
use mtq_sim::synthetic::{SyntheticFeed, default_pairs};
use mtq_sim::{Commission, SimBroker, SimConfig, Simulator};
use tokio::sync::watch;

use crate::IntentStore;
use crate::config::{AppConfig, ConfigWatcher};
use crate::control::ControlPort;
pub use crate::live::{CollectEvents, EventOutlet, SessionSummary};
use crate::live::{LiveError, LiveOptions, LiveTrader, TradeLedger};

/// How to run a paper session.
#[derive(Clone, Debug)]
pub struct PaperOptions {
    pub start: DateTime<Utc>,
    pub weeks: u32,
    pub seed: u64,
    /// Pace bars by the wall clock instead of replaying as fast as possible.
    pub realtime: bool,
    /// With `realtime`, how many times faster than the wall clock the simulated clock runs:
    /// 1 is the wall clock (an M5 bar every 5 minutes), 300 an M5 bar every second. For tests
    /// and demos of `mtq-trader serve --pace`; 0 reads as 1.
    pub pace: u32,
    /// When this file exists the kill switch halts trading.
    pub kill_file: Option<PathBuf>,
    /// When this file exists the kill switch halts this account only.
    pub account_kill_file: Option<PathBuf>,
    /// The account's name (`accounts:`), in its snapshots and logs.
    pub account: String,
}

impl Default for PaperOptions {
    fn default() -> Self {
        Self {
            start: "2024-03-03T22:00:00Z".parse().unwrap_or_default(),
            weeks: 3,
            seed: 20_240_304,
            realtime: false,
            pace: 1,
            kill_file: Some(PathBuf::from("mtq.kill")),
            account_kill_file: None,
            account: crate::config::DEFAULT_ACCOUNT.to_string(),
        }
    }
}

/// Why a session could not run.
#[derive(Debug, thiserror::Error)]
pub enum PaperError {
    #[error(
        "symbol {0} has no synthetic price model; the paper feed covers EURUSD GBPUSD USDJPY AUDUSD USDCAD USDCHF"
    )]
    NoModel(Symbol),
    #[error("simulator: {0}")]
    Sim(#[from] mtq_sim::SimError),
    #[error("trader core: {0}")]
    Core(#[from] crate::CoreError),
    #[error("order executor: {0}")]
    Exec(#[from] crate::ExecError),
    #[error("{0}")]
    Live(#[from] LiveError),
    #[error(
        "{symbol} trades on {timeframe}; the paper feed produces M5 bars, so set its timeframe to M5"
    )]
    Timeframe {
        symbol: Symbol,
        timeframe: Timeframe,
    },
    #[error("simulated broker: {0}")]
    Broker(#[from] mtq_connector::BrokerError),
}

fn sim_config(cfg: &AppConfig) -> SimConfig {
    let b = &cfg.broker;
    SimConfig {
        currency: b.currency,
        deposit: b.deposit,
        leverage: b.leverage,
        margin_mode: b.margin_mode,
        commission: if b.commission_per_lot.is_zero() {
            Commission::None
        } else {
            Commission::PerLot(b.commission_per_lot)
        },
        ..SimConfig::default()
    }
}

/// What can steer a running paper session from outside.
#[derive(Default)]
pub struct PaperControl {
    /// `true` stops the session after the current step (SIGINT, SIGTERM).
    pub shutdown: Option<watch::Receiver<bool>>,
    /// Re-read between steps; a valid change applies to new trades.
    pub watcher: Option<ConfigWatcher>,
    /// What start-up restores from earlier sessions (an operator's manual kill-switch trip,
    /// under `mtq-trader serve`); `None` remembers nothing.
    pub ledger: Option<Arc<dyn TradeLedger>>,
}

impl std::fmt::Debug for PaperControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaperControl")
            .field("shutdown", &self.shutdown)
            .field("watcher", &self.watcher)
            .field("ledger", &self.ledger.is_some())
            .finish()
    }
}

/// How often a realtime session waiting for its next bar looks for operator commands.
const COMMAND_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Sleeps for `wait` unless shutdown is requested first; `true` when it was. A realtime session
/// sleeps until the next bar (minutes on M5), so Ctrl-C must not wait for the sleep to end.
async fn wait_or_shutdown(
    wait: std::time::Duration,
    shutdown: Option<&mut watch::Receiver<bool>>,
) -> bool {
    let Some(rx) = shutdown else {
        tokio::time::sleep(wait).await;
        return false;
    };
    if *rx.borrow() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(wait) => false,
        // A dropped sender cannot ask for shutdown any more: sleep out the wait.
        changed = rx.wait_for(|stop| *stop) => match changed {
            Ok(_) => true,
            Err(_) => {
                tokio::time::sleep(wait).await;
                false
            }
        },
    }
}

/// Runs a paper session and hands every event to `outlet`.
pub async fn run_paper_session(
    config: Arc<AppConfig>,
    opts: &PaperOptions,
    store: Arc<dyn IntentStore>,
    outlet: Arc<dyn EventOutlet>,
) -> Result<SessionSummary, PaperError> {
    run_paper_session_with(config, opts, store, outlet, PaperControl::default()).await
}

/// [`run_paper_session`], with a shutdown signal and a configuration watcher.
pub async fn run_paper_session_with(
    config: Arc<AppConfig>,
    opts: &PaperOptions,
    store: Arc<dyn IntentStore>,
    outlet: Arc<dyn EventOutlet>,
    control: PaperControl,
) -> Result<SessionSummary, PaperError> {
    run_paper_session_controlled(config, opts, store, outlet, control, None).await
}

/// [`run_paper_session_with`], steered by an operator: `port` is the driver side of a control
/// channel ([`crate::control_channel`]); its commands are executed between steps (and, in a
/// realtime session, while it waits for the next bar), and a `stop` ends the session as
/// Ctrl-C does.
pub async fn run_paper_session_controlled(
    config: Arc<AppConfig>,
    opts: &PaperOptions,
    store: Arc<dyn IntentStore>,
    outlet: Arc<dyn EventOutlet>,
    mut control: PaperControl,
    port: Option<ControlPort>,
) -> Result<SessionSummary, PaperError> {
    let started = Instant::now();
    let enabled: Vec<&crate::config::CurrencyConfig> =
        config.currencies.iter().filter(|c| c.enabled).collect();
    if let Some(c) = enabled.iter().find(|c| c.timeframe != Timeframe::M5) {
        return Err(PaperError::Timeframe {
            symbol: c.symbol.clone(),
            timeframe: c.timeframe,
        });
    }
    let models: Vec<_> = default_pairs()
        .into_iter()
        .filter(|m| enabled.iter().any(|c| c.symbol == m.spec.symbol))
        .collect();
    if let Some(missing) = enabled
        .iter()
        .find(|c| !models.iter().any(|m| m.spec.symbol == c.symbol))
    {
        return Err(PaperError::NoModel(missing.symbol.clone()));
    }
    let end = opts.start + Duration::weeks(i64::from(opts.weeks));
    let feed = SyntheticFeed::new(models, opts.start, end, opts.seed);
    let symbols = feed.symbols();
    let sim = Simulator::new(sim_config(&config), feed.specs())?;
    let broker = Arc::new(SimBroker::new(sim));
    let clock = Arc::new(ManualClock::new(opts.start));
    let live_opts = LiveOptions {
        account: opts.account.clone(),
        kill_file: opts.kill_file.clone(),
        account_kill_file: opts.account_kill_file.clone(),
        ..LiveOptions::default()
    };
    let steps = feed.steps();
    let (mut trader, _) = LiveTrader::start(
        broker.clone(),
        config,
        store,
        clock.clone(),
        outlet,
        control.ledger.take(),
        live_opts,
    )
    .await?;
    if let Some(port) = port {
        trader.attach_control(port);
    }
    let mut last_open = opts.start;
    'steps: for step in steps {
        let time = step[0].1.time;
        trader.drain_commands(control.watcher.as_mut()).await;
        if control.shutdown.as_ref().is_some_and(|s| *s.borrow()) || trader.stop_requested() {
            break;
        }
        // Every symbol's bar of this step opens; the trader sees the bars that just closed.
        clock.set(time);
        if opts.realtime {
            let due = (time - opts.start).to_std().unwrap_or_default() / opts.pace.max(1);
            // Waiting for the bar, commands are still answered within COMMAND_POLL.
            while let Some(wait) = due.checked_sub(started.elapsed()).filter(|w| !w.is_zero()) {
                if wait_or_shutdown(wait.min(COMMAND_POLL), control.shutdown.as_mut()).await {
                    break 'steps;
                }
                trader.drain_commands(control.watcher.as_mut()).await;
                trader.mark_alive();
                if trader.stop_requested() {
                    break 'steps;
                }
            }
        }
        for (i, b) in &step {
            broker.open_bar(&symbols[*i], Timeframe::M5, *b)?;
        }
        if let Some(w) = control.watcher.as_mut() {
            trader.poll_config(w).await;
        }
        trader.cycle().await?;
        for (i, _) in &step {
            broker.close_bar(&symbols[*i], Timeframe::M5)?;
        }
        last_open = time;
    }
    // The last bars close: one more cycle sees them.
    clock.set(last_open + Timeframe::M5.duration());
    trader.cycle().await?;
    let mut summary = trader.finish().await?;
    summary.wall_time_ms = started.elapsed().as_millis();
    Ok(summary)
}
