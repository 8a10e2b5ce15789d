//! The live driver: the trader core over any [`Broker`] (the MT5 bridge, or the simulated broker
//! for paper trading).
//!
//! [`LiveTrader::start`] reads the broker before anything trades: it resolves order intents a
//! previous run left unresolved, matches open positions to the records (adopting, ignoring or
//! closing the ones MTQ did not open, as configured), restores trade records a crash lost, and
//! warms the strategies up on closed bars. Each [`LiveTrader::cycle`] then polls the broker: new
//! deals, the account and the kill switch, every symbol's newly closed bar, position
//! management, and an account snapshot; each newly closed bar is published as a `BarClosed`
//! event. [`run_live`] repeats cycles until shutdown is requested and never abandons a cycle half
//! way, so no order is left in flight; [`LiveTrader::finish`] reconciles what is left and writes
//! the session summary.
//!
//! An operator steers a running trader through [`LiveTrader::control`] (see
//! [`crate::control`]): commands run between cycles through the same executor, intents and
//! records as the strategy's own orders, and each is journalled with its actor.
//!
//! One file per concern: `ports` (outlet, ledger), `startup` (reconciliation, warm-up),
//! `cycle` (deals, bars, management, reload), `execute` (the core's commands at the broker),
//! `operator`, `commands`, `manual` and `approvals` (the control channel; `semi` mode), `report` (start-up, cycle and
//! session reports; the session's end), `run` (the loop), `fleet` (several accounts in one
//! process: the portfolio limits across them and each one's connection state).

mod approvals;
mod commands;
mod cycle;
mod execute;
mod fleet;
mod manual;
mod operator;
mod ports;
mod report;
mod run;
mod sentiment;
mod startup;

pub use fleet::{
    ConnectionJournal, ConnectionWatch, FleetMember, LinkProbe, PortfolioBreach, PortfolioGuard,
    currency_exposure, portfolio_breach, watch_connection,
};
pub use manual::{MANUAL_ID_SEPARATOR, manual_order_id};
pub use ports::{CollectEvents, EventOutlet, RiskMemory, TradeLedger};
pub use report::{CycleReport, SessionSummary, StartupReport};
pub use run::run_live;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq_connector::{Broker, BrokerError};
use mtq_core::{
    AccountInfo, Bar, Clock, Decimal, DomainEvent, Position, StaticRates, Symbol, Ticket, Timeframe,
};

use crate::core::{MarketView, TraderCore};
use crate::market_wait::MarketWaits;
use crate::{
    CoreError, ExecError, IntentStore, OrderExecutor, RetryPolicy, StoreError, TransientRetry,
};

/// Why the live driver stopped or a cycle failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("broker: {0}")]
    Broker(#[from] BrokerError),
    #[error("trader core: {0}")]
    Core(#[from] CoreError),
    #[error("order executor: {0}")]
    Exec(#[from] ExecError),
    #[error("trade records: {0}")]
    Records(#[from] StoreError),
    #[error("sentiment filter: {0}")]
    Sentiment(String),
}

/// How the live driver runs.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// The account's name (`accounts:`; `default` for a one-account file): in its snapshots,
    /// its logs and the API's paths.
    pub account: String,
    /// When this file exists the kill switch halts trading (`mtq.kill`: every account of the
    /// process watches the same file).
    pub kill_file: Option<PathBuf>,
    /// When this file exists the kill switch halts this account only (`mtq.NAME.kill` in a
    /// several-account process).
    pub account_kill_file: Option<PathBuf>,
    /// The broker server's offset from UTC, for daily and weekly bar boundaries.
    pub server_offset_secs: i32,
    /// How far back start-up reads deals, for positions that closed while MTQ was away.
    pub lookback: Duration,
    pub retry: RetryPolicy,
    /// Retries of broker reads that fail for a transient reason, at start-up and in cycles.
    pub transient: TransientRetry,
}

impl LiveOptions {
    /// Whether the process's or this account's kill file exists.
    pub fn kill_file_present(&self) -> bool {
        [&self.kill_file, &self.account_kill_file]
            .into_iter()
            .flatten()
            .any(|p| p.exists())
    }
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            account: crate::config::DEFAULT_ACCOUNT.to_string(),
            kill_file: Some(PathBuf::from("mtq.kill")),
            account_kill_file: None,
            server_offset_secs: 0,
            lookback: Duration::days(7),
            retry: RetryPolicy::default(),
            transient: TransientRetry::default(),
        }
    }
}

/// Whether the trader can trade, for a readiness probe, the API and the metrics.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveHealth {
    /// The intent store accepts writes. While it does not, entries are refused (an order is
    /// never sent without its intent on record); closes and stop changes still go out.
    pub intent_store_ok: bool,
    /// The last cycle could read the broker.
    pub broker_connected: bool,
    /// When the last cycle completed.
    pub last_cycle: Option<DateTime<Utc>>,
    /// When the driver's loop was last seen alive by the wall clock: a completed cycle, or a
    /// realtime paper session waiting for its next bar ([`LiveTrader::mark_alive`]). What a
    /// readiness probe measures staleness against (a paper session's clock is simulated time).
    #[serde(default)]
    pub loop_alive: Option<DateTime<Utc>>,
}

impl LiveHealth {
    /// Ready to trade: entries can be recorded and the broker answers.
    pub fn is_ready(&self) -> bool {
        self.intent_store_ok && self.broker_connected
    }
}

/// What the broker showed at one moment.
struct Market {
    account: AccountInfo,
    positions: Vec<Position>,
    quotes: BTreeMap<Symbol, (Decimal, Decimal)>,
    rates: StaticRates,
}

impl Market {
    fn view(&self, now: DateTime<Utc>) -> MarketView<'_> {
        MarketView {
            now,
            account: &self.account,
            positions: &self.positions,
            rates: &self.rates,
        }
    }
}

/// The trader over a live broker. See the module documentation.
pub struct LiveTrader {
    broker: Arc<dyn Broker>,
    executor: OrderExecutor,
    core: TraderCore,
    clock: Arc<dyn Clock>,
    outlet: Arc<dyn EventOutlet>,
    opts: LiveOptions,
    symbols: Vec<(Symbol, Timeframe)>,
    last_closed: BTreeMap<Symbol, DateTime<Utc>>,
    /// Deals already handled, by ticket, with their times (pruned as the window moves).
    seen_deals: BTreeMap<Ticket, DateTime<Utc>>,
    deals_from: DateTime<Utc>,
    started_at: DateTime<Utc>,
    start_balance: Decimal,
    peak_equity: Decimal,
    summary: SessionSummary,
    /// Symbols whose market the broker said is closed, and until when their requests wait.
    market_waits: MarketWaits,
    /// The volume still open, as recorded, of each managed position: a closing deal is recorded
    /// for at most this much (a netting reversal's deal is larger than the position it closes).
    open_volume: BTreeMap<Ticket, Decimal>,
    health: LiveHealth,
    /// The intent store, for a manual order's idempotency check.
    store: Arc<dyn IntentStore>,
    /// What operators set through the control channel, and the channel itself.
    operator: operator::OperatorState,
    /// The LLM sentiment filter on entries (`sentiment:`), when enabled.
    sentiment: Option<std::sync::Arc<mtq_sentiment::SentimentFilter>>,
    /// `semi` mode: the entries waiting for an operator, and the decided ones of this run.
    approvals: approvals::Approvals,
}

impl std::fmt::Debug for LiveTrader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTrader")
            .field("symbols", &self.symbols)
            .field("cycles", &self.summary.cycles)
            .finish_non_exhaustive()
    }
}

/// How far back each cycle re-reads deals, so a deal the broker reports late is still seen.
const DEAL_OVERLAP_MINUTES: i64 = 60;
impl LiveTrader {
    fn close_time(&self, bar: &Bar, tf: Timeframe) -> DateTime<Utc> {
        tf.next_open(bar.time, self.opts.server_offset_secs)
    }

    pub fn core(&self) -> &TraderCore {
        &self.core
    }

    pub fn summary(&self) -> &SessionSummary {
        &self.summary
    }

    /// The readiness state: the intent store, the broker, the last cycle.
    pub fn health(&self) -> &LiveHealth {
        &self.health
    }

    async fn publish(&mut self, event: DomainEvent) {
        self.summary.events += 1;
        self.operator.broadcast(&event);
        self.outlet.publish(event).await;
    }
}
