//! Start-up: reconcile the broker with the records, restore the risk memory, warm up.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq_connector::{BarRange, Broker};
use mtq_core::{Bar, Clock, DealEntry, DomainEvent, EventKind, Magic, Ticket};
use tracing::{Instrument, info, warn, warn_span};

use super::{
    DEAL_OVERLAP_MINUTES, EventOutlet, LiveError, LiveHealth, LiveOptions, LiveTrader,
    SessionSummary, StartupReport, TradeLedger,
};
use crate::config::{AppConfig, UnknownPositions};
use crate::core::CoreEvent;
use crate::core::TraderCore;
use crate::market_wait::MarketWaits;
use crate::patient::PatientReads;
use crate::{ActionResult, IntentStore, OrderExecutor};

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
        // Every request measured (mtq-metrics), each retry of a read on its own.
        let broker = mtq_metrics::instrument_broker(broker, &opts.account);
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
        let executor = OrderExecutor::new(
            broker.clone(),
            store.clone(),
            clock.clone(),
            opts.retry.clone(),
        )
        .with_specs(specs.into_values());
        let account = broker.account().await?;
        let symbols = core.symbols();
        let sentiment = super::sentiment::build(&config.sentiment)?;
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
                loop_alive: None,
            },
            store,
            operator: super::operator::OperatorState::default(),
            sentiment,
            approvals: Default::default(),
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

    pub(super) async fn reconcile_at_start(
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
            // An operator's manual stop holds until an operator resets it, restart or not.
            if let Some(reason) = memory.manual_kill {
                warn!(%reason, "the kill switch was tripped by hand before the restart; it stays tripped until reset");
                self.trip_by_hand(&reason, &[]).await;
            }
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
            // Entries a previous run held for an operator (semi mode) are never offered again.
            let left = ledger
                .expire_left_approvals(now, super::approvals::RESTART_NOTE)
                .await?;
            report.approvals_expired = self.remember_left(left).await;
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
            self.core.process(CoreEvent::WarmUp {
                symbol: &symbol,
                bars: &closed,
            });
            if let Some(last) = closed.last() {
                self.last_closed.insert(symbol.clone(), last.time);
            }
            report.warmed.insert(symbol, closed.len());
        }
        Ok(report)
    }
}
