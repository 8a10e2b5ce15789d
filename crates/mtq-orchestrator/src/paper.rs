//! A paper-trading session on the simulated broker over the built-in synthetic feed: the trader
//! core, the order executor and the simulator wired together, bar by bar, as fast as possible
//! (or paced by the wall clock).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use mtq_connector::Broker;
use mtq_core::{
    AccountInfo, Clock, DealEntry, Decimal, DomainEvent, EventKind, ManualClock, OrderOutcome,
    Position, Retcode, Symbol, SymbolSpec, Timeframe,
};
use mtq_sim::synthetic::{SyntheticFeed, default_pairs};
use mtq_sim::{Commission, SimBroker, SimConfig, SimEvent, Simulator};

use crate::config::AppConfig;
use crate::core::{Command, MarketView, TraderCore};
use crate::{ActionResult, IntentState, IntentStore, OrderExecutor, RetryPolicy, Submission};

/// How to run a paper session.
#[derive(Clone, Debug)]
pub struct PaperOptions {
    pub start: DateTime<Utc>,
    pub weeks: u32,
    pub seed: u64,
    /// Pace bars by the wall clock instead of replaying as fast as possible.
    pub realtime: bool,
    /// When this file exists the kill switch halts trading.
    pub kill_file: Option<PathBuf>,
}

impl Default for PaperOptions {
    fn default() -> Self {
        Self {
            start: "2024-03-03T22:00:00Z".parse().unwrap_or_default(),
            weeks: 3,
            seed: 20_240_304,
            realtime: false,
            kill_file: Some(PathBuf::from("mtq.kill")),
        }
    }
}

/// What a session did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionSummary {
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

/// Where a session's events go: the database writer, a log, a test's vector.
#[async_trait::async_trait]
pub trait EventOutlet: Send + Sync {
    /// Takes one event; waits (never drops) when the consumer is behind.
    async fn publish(&self, event: DomainEvent);
}

/// Collects events in memory (tests, embedding).
#[derive(Debug, Default)]
pub struct CollectEvents(pub std::sync::Mutex<Vec<DomainEvent>>);

#[async_trait::async_trait]
impl EventOutlet for CollectEvents {
    async fn publish(&self, event: DomainEvent) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }
}

/// Runs a paper session and hands every event to `outlet`.
pub async fn run_paper_session(
    config: Arc<AppConfig>,
    opts: &PaperOptions,
    store: Arc<dyn IntentStore>,
    outlet: &dyn EventOutlet,
) -> Result<SessionSummary, PaperError> {
    let started = Instant::now();
    let enabled: Vec<Symbol> = config
        .currencies
        .iter()
        .filter(|c| c.enabled)
        .map(|c| c.symbol.clone())
        .collect();
    let models: Vec<_> = default_pairs()
        .into_iter()
        .filter(|m| enabled.contains(&m.spec.symbol))
        .collect();
    if let Some(missing) = enabled
        .iter()
        .find(|s| !models.iter().any(|m| &m.spec.symbol == *s))
    {
        return Err(PaperError::NoModel(missing.clone()));
    }
    let end = opts.start + Duration::weeks(i64::from(opts.weeks));
    let feed = SyntheticFeed::new(models, opts.start, end, opts.seed);
    let specs: BTreeMap<Symbol, SymbolSpec> = feed
        .specs()
        .into_iter()
        .map(|s| (s.symbol.clone(), s))
        .collect();
    let symbols = feed.symbols();
    let sim = Simulator::new(sim_config(&config), specs.values().cloned())?;
    let broker = Arc::new(SimBroker::new(sim));
    let clock = Arc::new(ManualClock::new(opts.start));
    let executor = OrderExecutor::new(broker.clone(), store, clock.clone(), RetryPolicy::default());
    let mut core = TraderCore::new(config.clone(), specs.clone(), 0)?;
    let warmup: BTreeMap<Symbol, usize> = symbols
        .iter()
        .map(|s| (s.clone(), core.history_needed(s)))
        .collect();
    let mut fed: BTreeMap<Symbol, usize> = BTreeMap::new();
    let mut summary = SessionSummary::default();
    let mut sim_events = Vec::new();
    let mut peak = config.broker.deposit;
    let first_bar_time = opts.start;
    for (i, bar) in feed {
        let symbol = &symbols[i];
        clock.set(bar.time);
        if opts.realtime {
            let due = (bar.time - first_bar_time).to_std().unwrap_or_default();
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        broker.push_bar(symbol, Timeframe::M5, bar)?;
        summary.bars += 1;
        let n = fed.entry(symbol.clone()).or_insert(0);
        *n += 1;
        let warming = *n <= warmup.get(symbol).copied().unwrap_or(0);
        broker.with_sim(|s| s.drain_events(&mut sim_events));
        for ev in sim_events.drain(..) {
            if let SimEvent::Deal(deal) = ev {
                core.on_deal(&deal);
                if deal.entry == DealEntry::Out || deal.entry == DealEntry::InOut {
                    publish(
                        outlet,
                        &mut summary,
                        DomainEvent::new(deal.time, EventKind::PositionClosed { deal }),
                    )
                    .await;
                }
            }
        }
        // A warming symbol needs no market view, except that the step's first bar evaluates the
        // account and the kill switch for everyone.
        if warming && i != 0 {
            core.warm_up(symbol, &[bar]);
            continue;
        }
        let (account, positions, rates, bid, ask) = broker.with_sim(|s| {
            let id = s.symbol_id(symbol);
            let tick = id.and_then(|id| s.tick(id));
            let spec = &specs[symbol];
            let bid = tick
                .and_then(|t| spec.normalize_price_f64(t.bid))
                .unwrap_or_default();
            let ask = tick
                .and_then(|t| spec.normalize_price_f64(t.ask))
                .unwrap_or_default();
            (s.account(), s.positions(), s.rate_snapshot(), bid, ask)
        });
        let view = MarketView {
            now: bar.time,
            account: &account,
            positions: &positions,
            rates: &rates,
        };
        // Once per time step, before any entry: the account and the kill switch, so an
        // emergency stop or a breached limit holds from the very next bar.
        let mut commands = Vec::new();
        if i == 0 {
            let kill = opts.kill_file.as_ref().is_some_and(|p| p.exists());
            commands.extend(core.on_account(view, kill));
        }
        if warming {
            core.warm_up(symbol, &[bar]);
        } else {
            commands.extend(core.on_bar(symbol, &bar, view, bid, ask));
        }
        // After the step's last pair: position management and the equity curve.
        if i + 1 == symbols.len() {
            commands.extend(core.on_prices(view));
            if account.equity > peak {
                peak = account.equity;
            }
            if peak > Decimal::ZERO {
                let dd = (peak - account.equity) * Decimal::ONE_HUNDRED / peak;
                summary.max_drawdown_pct = summary.max_drawdown_pct.max(dd.round_dp(2));
            }
            if bar.time.timestamp() % 3600 == 0 {
                publish(
                    outlet,
                    &mut summary,
                    DomainEvent::new(
                        bar.time,
                        EventKind::AccountSnapshot {
                            account: account.clone(),
                        },
                    ),
                )
                .await;
            }
        }
        execute(
            broker.as_ref(),
            &executor,
            &mut core,
            commands,
            clock.as_ref(),
            &mut summary,
            outlet,
        )
        .await?;
    }
    let account: AccountInfo = broker.account().await?;
    let positions: Vec<Position> = broker.positions().await?;
    for d in broker.with_sim(|s| s.deals().to_vec()) {
        if matches!(d.entry, DealEntry::Out | DealEntry::InOut) {
            let net = d.balance_effect();
            summary.closed_trades += 1;
            if net > Decimal::ZERO {
                summary.wins += 1;
                summary.gross_profit += net;
            } else {
                summary.gross_loss += net;
            }
        }
    }
    summary.net_profit = account.balance - config.broker.deposit;
    summary.final_balance = account.balance;
    summary.final_equity = account.equity;
    summary.open_positions = positions.len();
    summary.wall_time_ms = started.elapsed().as_millis();
    Ok(summary)
}

async fn publish(outlet: &dyn EventOutlet, summary: &mut SessionSummary, event: DomainEvent) {
    summary.events += 1;
    outlet.publish(event).await;
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    broker: &dyn Broker,
    executor: &OrderExecutor,
    core: &mut TraderCore,
    commands: Vec<Command>,
    clock: &dyn Clock,
    summary: &mut SessionSummary,
    outlet: &dyn EventOutlet,
) -> Result<(), PaperError> {
    for c in commands {
        match c {
            Command::Record(e) => {
                if let EventKind::SignalRecorded { refusal, .. } = &e.kind {
                    summary.signals += 1;
                    if refusal.is_some() {
                        summary.refused_signals += 1;
                    }
                }
                publish(outlet, summary, *e).await;
            }
            Command::Submit(req) => {
                publish(
                    outlet,
                    summary,
                    DomainEvent::new(
                        clock.now(),
                        EventKind::OrderIntent {
                            request: (*req).clone(),
                        },
                    ),
                )
                .await;
                let sub = executor.submit(*req).await?;
                let intent = match sub {
                    Submission::Processed(i) | Submission::Duplicate(i) => i,
                };
                let ok = matches!(
                    intent.state,
                    IntentState::Filled { .. } | IntentState::Placed { .. }
                );
                core.on_order_result(ok);
                if let IntentState::Filled {
                    position,
                    deal,
                    price,
                    volume,
                } = &intent.state
                {
                    summary.orders_filled += 1;
                    let outcome = OrderOutcome {
                        retcode: Retcode::Done,
                        deal: *deal,
                        order: None,
                        position: *position,
                        volume: *volume,
                        price: *price,
                        bid: Decimal::ZERO,
                        ask: Decimal::ZERO,
                        comment: String::new(),
                        time: clock.now(),
                    };
                    let id = intent.id().clone();
                    let kind = EventKind::OrderSucceeded {
                        client_order_id: id,
                        outcome,
                    };
                    publish(outlet, summary, DomainEvent::new(clock.now(), kind)).await;
                    let opened = match position {
                        Some(t) => broker
                            .positions()
                            .await?
                            .into_iter()
                            .find(|p| p.ticket == *t),
                        None => None,
                    };
                    if let Some(position) = opened {
                        let kind = EventKind::PositionOpened { position };
                        publish(outlet, summary, DomainEvent::new(clock.now(), kind)).await;
                    }
                } else if ok {
                    summary.orders_filled += 1;
                } else {
                    summary.orders_failed += 1;
                    let (retcode, message) = match &intent.state {
                        IntentState::Rejected { retcode, reason } => (*retcode, reason.clone()),
                        other => (None, format!("{other:?}")),
                    };
                    let kind = EventKind::OrderFailed {
                        client_order_id: intent.id().clone(),
                        retcode,
                        message,
                    };
                    publish(outlet, summary, DomainEvent::new(clock.now(), kind)).await;
                }
            }
            Command::Close {
                ticket,
                volume,
                reason,
            } => {
                if let ActionResult::Refused { reason: why, .. }
                | ActionResult::Unknown { reason: why } =
                    executor.close_position(ticket, volume).await
                {
                    publish(
                        outlet,
                        summary,
                        DomainEvent::new(
                            clock.now(),
                            EventKind::Error {
                                source: "close".into(),
                                message: format!("{ticket} ({reason}): {why}"),
                            },
                        ),
                    )
                    .await;
                }
            }
            Command::Modify {
                ticket,
                sl,
                tp,
                reason,
            } => {
                let result = executor.modify_position(ticket, sl, tp).await;
                if let ActionResult::Done(_) = result {
                    let kind = EventKind::PositionModified { ticket, sl, tp };
                    publish(outlet, summary, DomainEvent::new(clock.now(), kind)).await;
                }
                if let ActionResult::Unknown { reason: why } = result {
                    publish(
                        outlet,
                        summary,
                        DomainEvent::new(
                            clock.now(),
                            EventKind::Error {
                                source: "modify".into(),
                                message: format!("{ticket} ({reason}): {why}"),
                            },
                        ),
                    )
                    .await;
                }
            }
        }
    }
    Ok(())
}
