//! The live driver: the trader core over any [`Broker`] (the MT5 bridge, or the simulated broker
//! for paper trading).
//!
//! [`LiveTrader::start`] reads the broker before anything trades: it resolves order intents a
//! previous run left unresolved, matches open positions to the records (adopting, ignoring or
//! closing the ones MTQ did not open, as configured), restores trade records a crash lost, and
//! warms the strategies up on closed bars. Each [`LiveTrader::cycle`] then polls the broker: new
//! deals, the account and the kill switch, every symbol's newly closed bar, position
//! management, and an account snapshot. [`run_live`] repeats cycles until shutdown is requested
//! and never abandons a cycle half way, so no order is left in flight;
//! [`LiveTrader::finish`] reconciles what is left and writes the session summary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq_connector::{BarRange, Broker, BrokerError};
use mtq_core::ErrorSource;
use mtq_core::{
    AccountInfo, Bar, ClientOrderId, Clock, DealEntry, Decimal, DomainEvent, EventKind, Magic,
    OrderOutcome, Position, Retcode, StaticRates, Symbol, Ticket, Timeframe,
};
use tokio::sync::watch;
use tracing::{Instrument, debug, info, warn, warn_span};

use crate::config::{AppConfig, ConfigWatcher, UnknownPositions};
use crate::core::{Command, EntryRefusal, MarketView, TraderCore};
use crate::market_wait::MarketWaits;
use crate::patient::PatientReads;
use crate::{
    ActionResult, CoreError, ExecError, Intent, IntentState, IntentStore, OrderExecutor,
    RetryPolicy, StoreError, Submission, TransientRetry, is_transient,
};

/// Where the trader's events go: the database writer, a log, a test's vector.
#[async_trait::async_trait]
pub trait EventOutlet: Send + Sync {
    /// Takes one event; waits (never drops) when the consumer is behind.
    async fn publish(&self, event: DomainEvent);
}

/// Collects events in memory (tests, embedding).
#[derive(Debug, Default)]
pub struct CollectEvents(pub std::sync::Mutex<Vec<DomainEvent>>);

impl CollectEvents {
    /// A copy of every event so far.
    pub fn events(&self) -> Vec<DomainEvent> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl EventOutlet for CollectEvents {
    async fn publish(&self, event: DomainEvent) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }
}

/// What the trade records say is open: the positions MTQ wrote a trade for and has not seen
/// close, with their open times. The database implements it, so that a restart can restore
/// records a crash lost.
#[async_trait::async_trait]
pub trait TradeLedger: Send + Sync {
    async fn open_positions(&self) -> Result<Vec<(Ticket, DateTime<Utc>)>, StoreError>;

    /// What the risk limits remember across a restart, from the records: the equity when the
    /// trading day began at `day_start`, the highest equity recorded since `peak_since`, and how
    /// many of the latest orders failed in a row. The default remembers nothing.
    async fn risk_memory(
        &self,
        day_start: DateTime<Utc>,
        peak_since: DateTime<Utc>,
    ) -> Result<RiskMemory, StoreError> {
        let _ = (day_start, peak_since);
        Ok(RiskMemory::default())
    }

    /// The time and ticket of the newest deal recorded: start-up records the broker's deals
    /// after it (entries, SL/TP exits, swaps and commissions of the time MTQ was away). `None`
    /// when nothing is recorded: start-up then reads back [`LiveOptions::lookback`].
    async fn last_recorded_deal(&self) -> Result<Option<(DateTime<Utc>, Ticket)>, StoreError> {
        Ok(None)
    }
}

/// See [`TradeLedger::risk_memory`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RiskMemory {
    pub day_start_equity: Option<Decimal>,
    pub equity_peak: Option<Decimal>,
    /// Orders that failed in a row, newest back to the last success: a restart must not forget
    /// a run of failures that has tripped (or is about to trip) the kill switch.
    pub order_failures_in_a_row: u32,
}

/// How far back start-up looks for the equity peak the drawdown limit measures from.
const PEAK_MEMORY_DAYS: i64 = 7;

/// When the trading day containing `now` began: the earliest minute of the last two days that
/// `trading_day` puts in the same day as `now`.
fn day_start(trading_day: &mtq_risk::TradingDayConfig, now: DateTime<Utc>) -> DateTime<Utc> {
    let today = trading_day.day_of(now);
    let (mut lo, mut hi) = (now - Duration::hours(48), now);
    while hi - lo > Duration::minutes(1) {
        let mid = lo + (hi - lo) / 2;
        if trading_day.day_of(mid) == today {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// What a session did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionSummary {
    pub cycles: u64,
    pub bars: usize,
    pub signals: usize,
    pub refused_signals: usize,
    pub orders_filled: usize,
    pub orders_failed: usize,
    pub closed_trades: usize,
    pub wins: usize,
    pub gross_profit: Decimal,
    pub gross_loss: Decimal,
    pub net_profit: Decimal,
    pub final_balance: Decimal,
    pub final_equity: Decimal,
    pub max_drawdown_pct: Decimal,
    pub open_positions: usize,
    pub events: usize,
    pub wall_time_ms: u128,
}

impl SessionSummary {
    pub fn win_rate(&self) -> Option<Decimal> {
        (self.closed_trades > 0).then(|| {
            Decimal::from(self.wins) * Decimal::ONE_HUNDRED / Decimal::from(self.closed_trades)
        })
    }

    pub fn profit_factor(&self) -> Option<Decimal> {
        (!self.gross_loss.is_zero())
            .then(|| (self.gross_profit / self.gross_loss.abs()).round_dp(2))
    }

    /// One line for logs and the `session` event.
    pub fn describe(&self) -> String {
        format!(
            "session summary: {} cycles, {} bars, {} signals ({} refused), {} orders filled, {} failed, \
             {} closed trades, net {}, balance {}, equity {}, max drawdown {}%, {} positions open",
            self.cycles,
            self.bars,
            self.signals,
            self.refused_signals,
            self.orders_filled,
            self.orders_failed,
            self.closed_trades,
            self.net_profit,
            self.final_balance,
            self.final_equity,
            self.max_drawdown_pct,
            self.open_positions
        )
    }
}

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
}

/// How the live driver runs.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// When this file exists the kill switch halts trading.
    pub kill_file: Option<PathBuf>,
    /// The broker server's offset from UTC, for daily and weekly bar boundaries.
    pub server_offset_secs: i32,
    /// How far back start-up reads deals, for positions that closed while MTQ was away.
    pub lookback: Duration,
    pub retry: RetryPolicy,
    /// Retries of broker reads that fail for a transient reason, at start-up and in cycles.
    pub transient: TransientRetry,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            kill_file: Some(PathBuf::from("mtq.kill")),
            server_offset_secs: 0,
            lookback: Duration::days(7),
            retry: RetryPolicy::default(),
            transient: TransientRetry::default(),
        }
    }
}

/// What start-up found and did, each list by ticket or client order id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartupReport {
    /// Intents a previous run left unresolved, with the state the broker's records gave them.
    pub intents_resolved: Vec<(ClientOrderId, IntentState)>,
    /// Open positions carrying our magic number.
    pub ours: Vec<Ticket>,
    pub adopted: Vec<Ticket>,
    pub ignored: Vec<Ticket>,
    pub closed: Vec<Ticket>,
    /// Unknown positions the `close` policy could not close (left open, logged).
    pub close_failed: Vec<Ticket>,
    /// Our positions at the broker with no trade record: the record was written again.
    pub restored_opens: Vec<Ticket>,
    /// Recorded positions gone from the broker: their closing deals were recorded.
    pub restored_closes: Vec<Ticket>,
    /// Closed bars each symbol warmed up on.
    pub warmed: BTreeMap<Symbol, usize>,
}

impl StartupReport {
    /// The reconciliation diff, for the log and the `session` event.
    pub fn describe(&self) -> String {
        let list = |v: &[Ticket]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        let intents = if self.intents_resolved.is_empty() {
            "none".to_string()
        } else {
            self.intents_resolved
                .iter()
                .map(|(id, s)| format!("{id}={}", state_name(s)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "start-up reconciliation: intents resolved: {intents}; ours: {}; adopted: {}; \
             ignored: {}; closed: {}; close failed: {}; records restored (opened): {}; \
             records restored (closed): {}",
            list(&self.ours),
            list(&self.adopted),
            list(&self.ignored),
            list(&self.closed),
            list(&self.close_failed),
            list(&self.restored_opens),
            list(&self.restored_closes),
        )
    }
}

fn state_name(s: &IntentState) -> &'static str {
    match s {
        IntentState::Recorded => "recorded",
        IntentState::Sent { .. } => "sent",
        IntentState::Unknown { .. } => "unknown",
        IntentState::Filled { .. } => "filled",
        IntentState::Placed { .. } => "placed",
        IntentState::Rejected { .. } => "rejected",
        IntentState::NotFound { .. } => "not_found",
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
}

impl LiveHealth {
    /// Ready to trade: entries can be recorded and the broker answers.
    pub fn is_ready(&self) -> bool {
        self.intent_store_ok && self.broker_connected
    }
}

/// What one cycle saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// Newly closed bars read (all symbols).
    pub bars: usize,
    /// Orders, closes and modifications sent.
    pub actions: usize,
    pub deals: usize,
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
    /// Connects the core to the broker and reconciles. Nothing trades until this returns.
    pub async fn start(
        broker: Arc<dyn Broker>,
        config: Arc<AppConfig>,
        store: Arc<dyn IntentStore>,
        clock: Arc<dyn Clock>,
        outlet: Arc<dyn EventOutlet>,
        ledger: Option<Arc<dyn TradeLedger>>,
        opts: LiveOptions,
    ) -> Result<(Self, StartupReport), LiveError> {
        let now = clock.now();
        // Reads are retried while the broker is in transient trouble (patiently at start-up);
        // a configuration error (an unknown symbol, a bad specification) still fails at once.
        let patient = Arc::new(PatientReads::new(
            broker,
            opts.transient.clone(),
            clock.clone(),
            outlet.clone(),
        ));
        let broker: Arc<dyn Broker> = patient.clone();
        let mut specs = BTreeMap::new();
        for c in config.currencies.iter().filter(|c| c.enabled) {
            let spec = broker.symbol_spec(&c.symbol).await?;
            specs.insert(c.symbol.clone(), spec);
        }
        let core = TraderCore::new(config.clone(), specs.clone(), opts.server_offset_secs)?;
        let executor = OrderExecutor::new(broker.clone(), store, clock.clone(), opts.retry.clone())
            .with_specs(specs.into_values());
        let account = broker.account().await?;
        let symbols = core.symbols();
        let mut me = Self {
            broker,
            executor,
            core,
            clock,
            outlet,
            opts,
            symbols,
            last_closed: BTreeMap::new(),
            seen_deals: BTreeMap::new(),
            deals_from: now,
            started_at: now,
            start_balance: account.balance,
            peak_equity: account.equity,
            summary: SessionSummary::default(),
            market_waits: MarketWaits::default(),
            open_volume: BTreeMap::new(),
            health: LiveHealth {
                intent_store_ok: true,
                broker_connected: true,
                last_cycle: None,
            },
        };
        let report = me
            .reconcile_at_start(ledger.as_deref())
            .instrument(warn_span!("startup"))
            .await?;
        info!("{}", report.describe());
        me.publish(DomainEvent::new(
            now,
            EventKind::Session {
                detail: report.describe(),
            },
        ))
        .await;
        patient.running();
        Ok((me, report))
    }

    async fn reconcile_at_start(
        &mut self,
        ledger: Option<&dyn TradeLedger>,
    ) -> Result<StartupReport, LiveError> {
        let now = self.clock.now();
        let mut report = StartupReport::default();
        // 1. Intents a crash or a lost answer left open: the broker's records say how they ended.
        for intent in self.executor.reconcile_unresolved().await? {
            self.publish_intent_result(&intent).await;
            report
                .intents_resolved
                .push((intent.id().clone(), intent.state.clone()));
        }
        // 2. Open positions: ours, or someone else's to adopt, ignore or close.
        let config = self.core.config().clone();
        let magic = Magic(config.trader.magic);
        let positions = self.broker.positions().await?;
        for p in &positions {
            if p.magic == magic {
                report.ours.push(p.ticket);
                continue;
            }
            match config.trader.unknown_positions {
                UnknownPositions::Adopt => report.adopted.push(p.ticket),
                UnknownPositions::Ignore => report.ignored.push(p.ticket),
                UnknownPositions::Close => {
                    match self.executor.close_position(p.ticket, None).await {
                        ActionResult::Done(_) => report.closed.push(p.ticket),
                        other => {
                            warn!(ticket = %p.ticket, result = ?other, "could not close an unknown position");
                            report.close_failed.push(p.ticket);
                        }
                    }
                }
            }
        }
        self.core.adopt(report.adopted.iter().copied());
        for p in positions
            .iter()
            .filter(|p| report.ours.contains(&p.ticket) || report.adopted.contains(&p.ticket))
        {
            self.open_volume.insert(p.ticket, p.volume);
        }
        // 3. Records a crash lost: positions opened or closed while they were not written. And
        // the risk limits' memory: today's starting equity and the equity peak.
        if let Some(ledger) = ledger {
            let trading_day = config.risk.global.trading_day.clone();
            let start = day_start(&trading_day, now);
            let memory = ledger
                .risk_memory(start, now - Duration::days(PEAK_MEMORY_DAYS))
                .await?;
            let day = memory
                .day_start_equity
                .map(|e| mtq_risk::DayLedger::new(trading_day.day_of(now), e));
            if day.is_some() || memory.equity_peak.is_some() || memory.order_failures_in_a_row > 0 {
                info!(
                    day_start_equity = ?memory.day_start_equity,
                    equity_peak = ?memory.equity_peak,
                    order_failures_in_a_row = memory.order_failures_in_a_row,
                    "risk limits restored from the records"
                );
            }
            self.core.restore_risk(day, memory.equity_peak);
            self.core
                .restore_order_failures(memory.order_failures_in_a_row);
            let recorded = ledger.open_positions().await?;
            let recorded_set: BTreeSet<Ticket> = recorded.iter().map(|(t, _)| *t).collect();
            let open_now: BTreeSet<Ticket> = positions.iter().map(|p| p.ticket).collect();
            let managed: BTreeSet<Ticket> =
                report.ours.iter().chain(&report.adopted).copied().collect();
            for p in positions
                .iter()
                .filter(|p| managed.contains(&p.ticket) && !recorded_set.contains(&p.ticket))
            {
                let kind = EventKind::PositionOpened {
                    position: p.clone(),
                };
                self.publish(DomainEvent::new(p.open_time, kind)).await;
                report.restored_opens.push(p.ticket);
            }
            // Deals done while MTQ was away, from the newest one recorded on: entry deals (their
            // commission), partial and full exits (SL/TP while away), each once.
            let cursor = ledger.last_recorded_deal().await?;
            let gone: Vec<Ticket> = recorded
                .iter()
                .map(|(t, _)| *t)
                .filter(|t| !open_now.contains(t))
                .collect();
            let from = match cursor {
                Some((at, _)) => at,
                None => recorded
                    .iter()
                    .filter(|(t, _)| gone.contains(t))
                    .map(|(_, at)| *at)
                    .fold(now - self.opts.lookback, DateTime::min),
            } - Duration::minutes(1);
            let mut deals = self.broker.deals(from, now + Duration::days(1)).await?;
            deals.sort_by_key(|d| (d.time, d.ticket));
            let after_cursor = |d: &mtq_core::Deal| {
                cursor.is_none_or(|(at, ticket)| (d.time, d.ticket) > (at, ticket))
            };
            let missed: Vec<mtq_core::Deal> = deals
                .into_iter()
                .filter(|d| d.entry != DealEntry::Balance && after_cursor(d))
                .filter(|d| self.is_managed_deal(d))
                .collect();
            for d in &missed {
                let position_closed = matches!(d.entry, DealEntry::Out | DealEntry::InOut);
                let kind = if position_closed {
                    EventKind::PositionClosed { deal: d.clone() }
                } else {
                    EventKind::EntryDeal { deal: d.clone() }
                };
                self.publish(DomainEvent::new(d.time, kind)).await;
                if let Some(ticket) = d.position.filter(|t| position_closed && gone.contains(t))
                    && !report.restored_closes.contains(&ticket)
                {
                    report.restored_closes.push(ticket);
                }
            }
            for ticket in gone.iter().filter(|t| !report.restored_closes.contains(t)) {
                warn!(%ticket, "a recorded position is gone from the broker and no closing deal was found");
            }
        }
        // Deals up to now are accounted for; the cycles take the ones after.
        let recent = self
            .broker
            .deals(
                now - Duration::minutes(DEAL_OVERLAP_MINUTES),
                now + Duration::days(1),
            )
            .await?;
        self.seen_deals = recent.iter().map(|d| (d.ticket, d.time)).collect();
        // 4. Strategies warm up on closed bars; the newest closed bar is never traded late.
        for (symbol, tf) in self.symbols.clone() {
            let need = self.core.history_needed(&symbol);
            let bars = self
                .broker
                .bars(&symbol, tf, BarRange::Last(need + 2))
                .await?;
            let closed: Vec<Bar> = bars
                .into_iter()
                .filter(|b| self.close_time(b, tf) <= now)
                .collect();
            self.core.warm_up(&symbol, &closed);
            if let Some(last) = closed.last() {
                self.last_closed.insert(symbol.clone(), last.time);
            }
            report.warmed.insert(symbol, closed.len());
        }
        Ok(report)
    }

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

    /// The intent store refused a write: entries stop until it accepts them again. Said once
    /// per outage, at error level and as an `Error` event; each refused entry is a warning.
    async fn intent_store_down(&mut self, symbol: &Symbol, error: &ExecError) {
        warn!(%symbol, %error, "entry refused: its intent cannot be recorded");
        if !self.health.intent_store_ok {
            return;
        }
        self.health.intent_store_ok = false;
        let message = format!(
            "{error}; entries are refused until the database accepts writes again (closes still work)"
        );
        tracing::error!("{message}");
        let kind = EventKind::Error {
            source: ErrorSource::IntentStore,
            message,
        };
        self.publish(DomainEvent::new(self.clock.now(), kind)).await;
    }

    /// After an outage: entries resume once the intent store answers again.
    async fn intent_store_up(&mut self) {
        if self.health.intent_store_ok {
            return;
        }
        self.health.intent_store_ok = true;
        let detail = "the intent store accepts writes again; entries resume".to_string();
        info!("{detail}");
        self.publish(DomainEvent::new(
            self.clock.now(),
            EventKind::Session { detail },
        ))
        .await;
    }

    /// One cycle: new deals, the account and the kill switch, each symbol's newly closed bars,
    /// position management, and an account snapshot.
    pub async fn cycle(&mut self) -> Result<CycleReport, LiveError> {
        self.summary.cycles += 1;
        // The cycle and order spans are the correlation ids of every line logged inside them;
        // at WARN level they stay enabled whenever the trader's warnings are shown.
        let span = warn_span!("cycle", cycle = self.summary.cycles);
        if !self.health.intent_store_ok && self.executor.store_reachable().await.is_ok() {
            self.intent_store_up().await;
        }
        let result = self.cycle_inner().instrument(span).await;
        match &result {
            Ok(_) => {
                self.health.broker_connected = true;
                self.health.last_cycle = Some(self.clock.now());
            }
            Err(LiveError::Broker(_)) => self.health.broker_connected = false,
            Err(_) => {}
        }
        result
    }

    async fn cycle_inner(&mut self) -> Result<CycleReport, LiveError> {
        let now = self.clock.now();
        let mut report = CycleReport {
            deals: self.poll_deals(now).await?,
            ..CycleReport::default()
        };
        let mut market = self.read_market().await?;
        // Before any entry: the account and the kill switch, so an emergency stop or a breached
        // limit holds for every symbol of this cycle.
        let kill = self.opts.kill_file.as_ref().is_some_and(|p| p.exists());
        let commands = self.core.on_account(market.view(now), kill);
        if self
            .execute(commands, &market.positions, &mut report)
            .await?
        {
            market = self.read_market().await?;
        }
        for i in 0..self.symbols.len() {
            let (symbol, tf) = self.symbols[i].clone();
            let fresh = self.closed_bars(&symbol, tf, now).await?;
            let Some((newest, missed)) = fresh.split_last() else {
                continue;
            };
            report.bars += fresh.len();
            self.summary.bars += fresh.len();
            // Bars missed while the broker was away update the indicators; only the newest
            // closed bar may trade, at today's prices.
            self.core.warm_up(&symbol, missed);
            self.last_closed.insert(symbol.clone(), newest.time);
            let Some(&(bid, ask)) = market.quotes.get(&symbol) else {
                warn!(%symbol, "no quote: the bar updates the strategy but cannot trade");
                self.core.warm_up(&symbol, std::slice::from_ref(newest));
                continue;
            };
            let commands = self
                .core
                .on_bar(&symbol, newest, market.view(now), bid, ask);
            if self
                .execute(commands, &market.positions, &mut report)
                .await?
            {
                market = self.read_market().await?;
            }
        }
        let commands = self.core.on_prices(market.view(now));
        if self
            .execute(commands, &market.positions, &mut report)
            .await?
        {
            market = self.read_market().await?;
        }
        self.peak_equity = self.peak_equity.max(market.account.equity);
        if self.peak_equity > Decimal::ZERO {
            let dd = (self.peak_equity - market.account.equity) * Decimal::ONE_HUNDRED
                / self.peak_equity;
            self.summary.max_drawdown_pct = self.summary.max_drawdown_pct.max(dd.round_dp(2));
        }
        let snapshot = EventKind::AccountSnapshot {
            account: market.account,
        };
        self.publish(DomainEvent::new(now, snapshot)).await;
        debug!(
            bars = report.bars,
            actions = report.actions,
            deals = report.deals,
            "cycle done"
        );
        Ok(report)
    }

    /// Closed bars of `symbol` newer than the last one handled, oldest first.
    async fn closed_bars(
        &self,
        symbol: &Symbol,
        tf: Timeframe,
        now: DateTime<Utc>,
    ) -> Result<Vec<Bar>, LiveError> {
        let last = self.last_closed.get(symbol).copied();
        let count = last.map_or(2, |t| {
            let behind = (now - t).num_seconds() / tf.seconds().max(1);
            usize::try_from(behind.clamp(0, 1_000)).unwrap_or(1_000) + 2
        });
        let bars = self.broker.bars(symbol, tf, BarRange::Last(count)).await?;
        Ok(bars
            .into_iter()
            .filter(|b| last.is_none_or(|t| b.time > t) && self.close_time(b, tf) <= now)
            .collect())
    }

    /// Deals since the last look: the day's ledger learns of them, and closes are recorded.
    async fn poll_deals(&mut self, now: DateTime<Utc>) -> Result<usize, LiveError> {
        let from = self.deals_from - Duration::minutes(DEAL_OVERLAP_MINUTES);
        let deals = self.broker.deals(from, now + Duration::days(1)).await?;
        let mut n = 0;
        for d in deals {
            if self.seen_deals.contains_key(&d.ticket) || d.entry == DealEntry::Balance {
                continue;
            }
            self.seen_deals.insert(d.ticket, d.time);
            n += 1;
            self.core.on_deal(&d);
            // A deal on a managed position counts whoever sent it (on a netting account a
            // manual order nets against MTQ's position).
            let on_managed = d
                .position
                .is_some_and(|p| self.open_volume.contains_key(&p));
            if self.is_managed_deal(&d) || on_managed {
                let time = d.time;
                let kind = match d.entry {
                    DealEntry::Out | DealEntry::InOut => EventKind::PositionClosed {
                        deal: self.closing_part(d),
                    },
                    // Recorded after the position it opened (published when the order filled),
                    // so the trade is there to take its commission.
                    DealEntry::In => EventKind::EntryDeal { deal: d },
                    _ => continue,
                };
                self.publish(DomainEvent::new(time, kind)).await;
            }
        }
        self.deals_from = now;
        let horizon = from;
        self.seen_deals.retain(|_, t| *t >= horizon);
        Ok(n)
    }

    /// The part of a closing deal that closed the managed position, by position identifier:
    /// never more than the volume still open. A netting reversal (`DEAL_ENTRY_INOUT`) closes the
    /// old position and opens the rest the other way in one deal; only the close belongs to the
    /// old position's trade (with its profit and its share of the commission). The rest is a
    /// position of whoever sent the order.
    fn closing_part(&mut self, mut d: mtq_core::Deal) -> mtq_core::Deal {
        let Some(position) = d.position else {
            return d;
        };
        let Some(open) = self.open_volume.get_mut(&position) else {
            return d;
        };
        let closed = d.volume.min(*open);
        if closed < d.volume {
            info!(%position, deal = %d.ticket, deal_volume = %d.volume, %closed, entry = ?d.entry, "the deal closed the position and went beyond it (a netting reversal): recorded as the close of the position's volume");
            d.commission = (d.commission * closed / d.volume).round_dp(2);
            d.volume = closed;
        }
        *open -= closed;
        if open.is_zero() {
            self.open_volume.remove(&position);
        }
        d
    }

    fn is_managed_deal(&self, d: &mtq_core::Deal) -> bool {
        d.magic == Magic(self.core.config().trader.magic)
            || d.position.is_some_and(|p| self.core.is_adopted(p))
    }

    async fn read_market(&self) -> Result<Market, LiveError> {
        let account = self.broker.account().await?;
        let positions = self.broker.positions().await?;
        let mut quotes = BTreeMap::new();
        let mut rates = StaticRates::new();
        for (symbol, _) in &self.symbols {
            let Some(spec) = self.core.spec(symbol) else {
                continue;
            };
            let tick = match self.broker.last_tick(symbol).await {
                Ok(t) => t,
                Err(e) => {
                    debug!(%symbol, error = %e, "no quote");
                    continue;
                }
            };
            let (Some(bid), Some(ask)) = (
                spec.normalize_price_f64(tick.bid),
                spec.normalize_price_f64(tick.ask),
            ) else {
                continue;
            };
            if let Some(mid) = spec.normalize_price_f64((tick.bid + tick.ask) / 2.0) {
                rates.set(spec.base_currency, spec.profit_currency, mid);
            }
            quotes.insert(symbol.clone(), (bid, ask));
        }
        Ok(Market {
            account,
            positions,
            quotes,
            rates,
        })
    }

    /// Applies a newly loaded configuration between cycles. Keys that cannot change under a
    /// running trader (the magic number, the id prefix, the broker, the database) refuse the
    /// whole reload, which is recorded as an error; the running configuration stays.
    pub async fn reload(&mut self, new: AppConfig) {
        let now = self.clock.now();
        let old = self.core.config().clone();
        let fixed = [
            ("trader.magic", old.trader.magic != new.trader.magic),
            (
                "trader.id_prefix",
                old.trader.id_prefix != new.trader.id_prefix,
            ),
            ("broker", old.broker != new.broker),
            ("database", old.database != new.database),
        ];
        if let Some((key, _)) = fixed.iter().find(|(_, changed)| *changed) {
            let message = format!(
                "{}: {key} cannot change while trading; restart to apply it (nothing reloaded)",
                new.source
            );
            warn!("{message}");
            let kind = EventKind::Error {
                source: ErrorSource::Config,
                message,
            };
            self.publish(DomainEvent::new(now, kind)).await;
            return;
        }
        for c in self.core.reload(Arc::new(new), now) {
            if let Command::Record(e) = c {
                if let EventKind::ConfigReloaded { detail } = &e.kind {
                    info!(%detail, "configuration reloaded");
                }
                self.publish(*e).await;
            }
        }
    }

    /// Checks the watched file and applies a valid new version; an invalid one is logged and
    /// recorded, and the running configuration stays.
    pub async fn poll_config(&mut self, watcher: &mut ConfigWatcher) {
        match watcher.poll() {
            None => {}
            Some(Ok(cfg)) => self.reload(cfg).await,
            Some(Err(e)) => {
                warn!(error = %e, "configuration change refused");
                let kind = EventKind::Error {
                    source: ErrorSource::Config,
                    message: format!("{e} (the running configuration stays)"),
                };
                self.publish(DomainEvent::new(self.clock.now(), kind)).await;
            }
        }
    }

    /// Ends the session: intents still unresolved are reconciled, and the summary is computed
    /// from the broker's deals and recorded.
    pub async fn finish(mut self) -> Result<SessionSummary, LiveError> {
        let now = self.clock.now();
        // Deals of this session's last cycle (a close sent just before the stop): recorded
        // before the summary, so the trade rows agree with it.
        if let Err(e) = self.poll_deals(now).await {
            warn!(error = %e, "the last deals could not be read; the next start records them");
        }
        // The database may be away: the session still ends, and what cannot be reconciled now
        // is reconciled at the next start.
        match self.executor.reconcile_unresolved().await {
            Ok(intents) => {
                for intent in intents {
                    self.publish_intent_result(&intent).await;
                }
            }
            Err(e) => {
                let message = format!(
                    "unresolved order intents could not be reconciled: {e}; the next start reconciles them"
                );
                tracing::error!("{message}");
                let kind = EventKind::Error {
                    source: ErrorSource::IntentStore,
                    message,
                };
                self.publish(DomainEvent::new(now, kind)).await;
            }
        }
        let account = self.broker.account().await?;
        let positions = self.broker.positions().await?;
        let deals = self
            .broker
            .deals(self.started_at, now + Duration::days(1))
            .await?;
        let mut s = std::mem::take(&mut self.summary);
        for d in deals.iter().filter(|d| {
            matches!(d.entry, DealEntry::Out | DealEntry::InOut) && self.is_managed_deal(d)
        }) {
            let net = d.balance_effect();
            s.closed_trades += 1;
            if net > Decimal::ZERO {
                s.wins += 1;
                s.gross_profit += net;
            } else {
                s.gross_loss += net;
            }
        }
        s.net_profit = account.balance - self.start_balance;
        s.final_balance = account.balance;
        s.final_equity = account.equity;
        let magic = Magic(self.core.config().trader.magic);
        s.open_positions = positions
            .iter()
            .filter(|p| p.magic == magic || self.core.is_adopted(p.ticket))
            .count();
        s.events += 1;
        info!("{}", s.describe());
        let kind = EventKind::Session {
            detail: s.describe(),
        };
        self.outlet.publish(DomainEvent::new(now, kind)).await;
        Ok(s)
    }

    async fn publish(&mut self, event: DomainEvent) {
        self.summary.events += 1;
        self.outlet.publish(event).await;
    }

    async fn publish_intent_result(&mut self, intent: &Intent) {
        let now = self.clock.now();
        let kind = match &intent.state {
            IntentState::Filled {
                position,
                deal,
                price,
                volume,
                order,
                bid,
                ask,
            } => EventKind::OrderSucceeded {
                client_order_id: intent.id().clone(),
                outcome: OrderOutcome {
                    retcode: Retcode::Done,
                    deal: *deal,
                    order: *order,
                    position: *position,
                    volume: *volume,
                    price: *price,
                    bid: *bid,
                    ask: *ask,
                    comment: String::new(),
                    time: now,
                },
            },
            IntentState::Placed { order } => EventKind::OrderSucceeded {
                client_order_id: intent.id().clone(),
                outcome: OrderOutcome {
                    retcode: Retcode::Placed,
                    deal: None,
                    order: Some(*order),
                    position: None,
                    volume: intent.request.volume,
                    price: intent.request.price.unwrap_or_default(),
                    bid: Decimal::ZERO,
                    ask: Decimal::ZERO,
                    comment: String::new(),
                    time: now,
                },
            },
            IntentState::Rejected { retcode, reason } => EventKind::OrderFailed {
                client_order_id: intent.id().clone(),
                retcode: *retcode,
                message: reason.clone(),
            },
            IntentState::NotFound { reason } | IntentState::Unknown { reason } => {
                EventKind::OrderFailed {
                    client_order_id: intent.id().clone(),
                    retcode: None,
                    message: reason.clone(),
                }
            }
            IntentState::Recorded | IntentState::Sent { .. } => return,
        };
        self.publish(DomainEvent::new(now, kind)).await;
    }

    /// Runs the core's commands; `true` when anything reached the broker. `positions` are the
    /// ones the core saw (a close or a modification names only a ticket). A request for a
    /// symbol whose market is closed waits ([`MarketWaits`]); a reversal's entry is sent only
    /// when the closes before it in the list are done (see [`Command::Submit`]).
    async fn execute(
        &mut self,
        commands: Vec<Command>,
        positions: &[Position],
        report: &mut CycleReport,
    ) -> Result<bool, LiveError> {
        let now = self.clock.now();
        let symbol_of = |ticket: Ticket| {
            positions
                .iter()
                .find(|p| p.ticket == ticket)
                .map(|p| p.symbol.clone())
        };
        let mut acted = false;
        // A close in this list that did not complete, and whether the next entry is held back.
        let mut close_failed: Option<Ticket> = None;
        let mut hold_entry = false;
        let mut commands = commands.into_iter().peekable();
        while let Some(c) = commands.next() {
            match c {
                Command::Record(mut e) => {
                    if let EventKind::SignalRecorded { signal, refusal } = &mut e.kind
                        && refusal.is_none()
                        && matches!(commands.peek(), Some(Command::Submit(_)))
                    {
                        let held = close_failed
                            .map(|ticket| EntryRefusal::ReversalNotClosed { ticket })
                            .or_else(|| {
                                self.market_waits
                                    .holds(&signal.symbol, true, now)
                                    .map(|until| EntryRefusal::MarketClosed {
                                        symbol: signal.symbol.clone(),
                                        until,
                                    })
                            });
                        if let Some(r) = held {
                            warn!(symbol = %signal.symbol, "entry not sent: {r}");
                            *refusal = Some(r.into());
                            hold_entry = true;
                        }
                    }
                    if let EventKind::SignalRecorded { refusal, .. } = &e.kind {
                        self.summary.signals += 1;
                        if refusal.is_some() {
                            self.summary.refused_signals += 1;
                        }
                    }
                    if let EventKind::KillSwitch { state, reason } = &e.kind {
                        warn!(%state, %reason, "kill switch");
                    }
                    if let EventKind::Error { source, message } = &e.kind {
                        warn!(%source, "{message}");
                    }
                    self.publish(*e).await;
                }
                Command::Submit(req) => {
                    if std::mem::take(&mut hold_entry) {
                        continue;
                    }
                    acted = true;
                    report.actions += 1;
                    let span = warn_span!("order", client_order_id = %req.client_order_id);
                    self.submit(*req).instrument(span).await?;
                }
                Command::Close {
                    ticket,
                    volume,
                    reason,
                    exit,
                } => {
                    let symbol = symbol_of(ticket);
                    if let Some(until) = symbol
                        .as_ref()
                        .and_then(|s| self.market_waits.holds(s, false, now))
                    {
                        debug!(%ticket, %reason, %until, "close waits for the market to open");
                        close_failed = Some(ticket);
                        continue;
                    }
                    acted = true;
                    report.actions += 1;
                    let span = warn_span!("close", %ticket);
                    let result = self
                        .executor
                        .close_position(ticket, volume)
                        .instrument(span)
                        .await;
                    let closed_market = match &result {
                        ActionResult::Refused { retcode, .. } => symbol
                            .as_ref()
                            .is_some_and(|s| self.market_waits.refused(s, *retcode, now)),
                        ActionResult::Unknown { .. } => false,
                        ActionResult::Done(_) => {
                            if let Some(s) = &symbol {
                                self.market_waits.accepted(s);
                            }
                            false
                        }
                    };
                    if let ActionResult::Refused { reason: why, .. }
                    | ActionResult::Unknown { reason: why } = result
                    {
                        close_failed = Some(ticket);
                        if closed_market {
                            debug!(%ticket, %reason, %why, "close refused: market closed");
                        } else {
                            warn!(%ticket, %reason, %why, "close failed");
                        }
                        let kind = EventKind::Error {
                            source: ErrorSource::Close,
                            message: format!("{ticket} ({reason}): {why}"),
                        };
                        self.publish(DomainEvent::new(self.clock.now(), kind)).await;
                    } else {
                        info!(%ticket, %reason, "position closed");
                        let kind = EventKind::PositionExit {
                            ticket,
                            reason: exit,
                        };
                        self.publish(DomainEvent::new(self.clock.now(), kind)).await;
                    }
                }
                Command::Modify {
                    ticket,
                    sl,
                    tp,
                    reason,
                    exit,
                } => {
                    let symbol = symbol_of(ticket);
                    if let Some(until) = symbol
                        .as_ref()
                        .and_then(|s| self.market_waits.holds(s, false, now))
                    {
                        debug!(%ticket, %reason, %until, "modification waits for the market to open");
                        continue;
                    }
                    acted = true;
                    report.actions += 1;
                    let span = warn_span!("modify", %ticket);
                    let result = self
                        .executor
                        .modify_position(ticket, sl, tp)
                        .instrument(span)
                        .await;
                    let now = self.clock.now();
                    match result {
                        ActionResult::Done(_) => {
                            if let Some(s) = &symbol {
                                self.market_waits.accepted(s);
                            }
                            debug!(%ticket, %reason, ?sl, ?tp, "stops moved");
                            let kind = EventKind::PositionModified { ticket, sl, tp };
                            self.publish(DomainEvent::new(now, kind)).await;
                            if let Some(reason) = exit {
                                let kind = EventKind::PositionExit { ticket, reason };
                                self.publish(DomainEvent::new(now, kind)).await;
                            }
                        }
                        ActionResult::Unknown { reason: why } => {
                            let kind = EventKind::Error {
                                source: ErrorSource::Modify,
                                message: format!("{ticket} ({reason}): {why}"),
                            };
                            self.publish(DomainEvent::new(now, kind)).await;
                        }
                        ActionResult::Refused {
                            retcode,
                            reason: why,
                        } => {
                            if let Some(s) = &symbol {
                                self.market_waits.refused(s, retcode, now);
                            }
                            debug!(%ticket, %reason, %why, "modification refused");
                        }
                    }
                }
            }
        }
        Ok(acted)
    }

    async fn submit(&mut self, request: mtq_core::OrderRequest) -> Result<(), LiveError> {
        // The intent store writes the intent before the order goes out; the event follows the
        // submission, so a database-backed store's row exists when the writer names its strategy.
        let now = self.clock.now();
        let kind = EventKind::OrderIntent {
            request: request.clone(),
        };
        let symbol = request.symbol.clone();
        let submission = match self.executor.submit(request).await {
            Ok(s) => s,
            // Nothing was sent; the rest of the cycle (closes, stops) goes on.
            Err(e) => {
                self.intent_store_down(&symbol, &e).await;
                return Ok(());
            }
        };
        self.intent_store_up().await;
        self.publish(DomainEvent::new(now, kind)).await;
        let (intent, duplicate) = match submission {
            Submission::Processed(i) => (i, false),
            Submission::Duplicate(i) => (i, true),
        };
        if duplicate {
            // Nothing was sent: the first submission's record stands.
            warn!("the same signal asked for this order before; not sent again");
            self.core.on_order_result(true);
            return Ok(());
        }
        let ok = matches!(
            intent.state,
            IntentState::Filled { .. } | IntentState::Placed { .. }
        );
        match &intent.state {
            IntentState::Rejected { retcode, .. } => {
                self.market_waits
                    .refused(&intent.request.symbol, *retcode, self.clock.now());
            }
            _ if ok => self.market_waits.accepted(&intent.request.symbol),
            _ => {}
        }
        self.core.on_order_result(ok);
        if ok {
            self.summary.orders_filled += 1;
            info!(symbol = %intent.request.symbol, side = ?intent.request.side, volume = %intent.request.volume, state = state_name(&intent.state), "order executed");
        } else {
            self.summary.orders_failed += 1;
            warn!(state = ?intent.state, "order failed");
        }
        self.publish_intent_result(&intent).await;
        if let IntentState::Filled {
            position: Some(ticket),
            ..
        } = &intent.state
        {
            let opened = self
                .broker
                .positions()
                .await?
                .into_iter()
                .find(|p| p.ticket == *ticket);
            if let Some(position) = opened {
                self.open_volume.insert(position.ticket, position.volume);
                let kind = EventKind::PositionOpened { position };
                self.publish(DomainEvent::new(self.clock.now(), kind)).await;
            }
        }
        Ok(())
    }
}

/// Runs cycles every `interval` until `shutdown` turns `true`, applying configuration changes
/// between cycles, then finishes the session. A cycle is never cut short: the shutdown request
/// is seen between cycles, so no order is left half-sent. A failed cycle (the broker away, a
/// read timing out) is logged with the count of failed cycles in a row and recorded, and a later
/// cycle tries again, after a pause that doubles with each failure in a row (see
/// [`TransientRetry`]).
pub async fn run_live(
    mut trader: LiveTrader,
    interval: std::time::Duration,
    mut watcher: Option<ConfigWatcher>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SessionSummary, LiveError> {
    let mut ticker = tokio::time::interval(interval.max(std::time::Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = ticker.tick() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
                continue;
            }
        }
        if let Some(w) = watcher.as_mut() {
            trader.poll_config(w).await;
        }
        match trader.cycle().await {
            Ok(_) => {
                if failures > 0 {
                    info!(failures, "a cycle ran through again after failed ones");
                }
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                let transient = matches!(&e, LiveError::Broker(b) if is_transient(b));
                warn!(error = %e, attempt = failures, transient, "cycle failed; the next cycle tries again");
                let kind = EventKind::Error {
                    source: ErrorSource::Cycle,
                    message: format!("{e} (failed cycles in a row: {failures})"),
                };
                let now = trader.clock.now();
                trader.publish(DomainEvent::new(now, kind)).await;
                // A broker in trouble is not asked every interval: the pause doubles with each
                // failed cycle in a row, up to the transient-retry cap.
                if failures > 1 {
                    let pause = trader.opts.transient.delay(failures - 1);
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
    }
    info!("shutting down: reconciling and writing the session summary");
    trader.finish().await
}
