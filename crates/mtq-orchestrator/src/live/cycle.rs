//! One cycle: deals, the account and the kill switch, newly closed bars, management.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mtq_connector::BarRange;
use mtq_core::ErrorSource;
use mtq_core::{
    Bar, DealEntry, Decimal, DomainEvent, EventKind, Magic, StaticRates, Symbol, Timeframe,
};
use tracing::{Instrument, debug, info, warn, warn_span};

use super::{CycleReport, DEAL_OVERLAP_MINUTES, LiveError, LiveTrader, Market};
use crate::config::{AppConfig, ConfigWatcher};
use crate::core::Command;
use crate::core::{CoreEvent, Quote};

impl LiveTrader {
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
        let started = std::time::Instant::now();
        let result = self.cycle_inner().instrument(span).await;
        let account = self.opts.account.as_str();
        mtq_metrics::record_cycle(account, started.elapsed(), result.is_ok());
        match &result {
            Ok(_) => {
                self.health.broker_connected = true;
                self.health.last_cycle = Some(self.clock.now());
                self.health.loop_alive = Some(Utc::now());
            }
            Err(LiveError::Broker(_)) => self.health.broker_connected = false,
            Err(_) => {}
        }
        self.publish_snapshot();
        result
    }

    pub(super) async fn cycle_inner(&mut self) -> Result<CycleReport, LiveError> {
        let now = self.clock.now();
        self.expire_approvals().await;
        let mut report = CycleReport {
            deals: self.poll_deals(now).await?,
            ..CycleReport::default()
        };
        let mut market = self.read_market().await?;
        // Before any entry: the account and the kill switch, so an emergency stop or a breached
        // limit holds for every symbol of this cycle.
        let kill = self.opts.kill_file_present();
        let commands = self.core.process(CoreEvent::Account {
            view: market.view(now),
            kill_file_present: kill,
        });
        if self
            .execute(commands, &market.positions, &mut report)
            .await?
        {
            market = self.read_market().await?;
        }
        // Every symbol's newly closed bars first, then the bar close for all of them: each
        // strategy prepares its newest bar before any of them trades, so work shared across
        // symbols runs once (the ML filter's models: one batch of inferences). A failed read
        // ends the cycle after the symbols read before it have traded, as one symbol at a
        // time did; the rest are read again next cycle.
        let mut closing: Vec<(usize, Vec<Bar>)> = Vec::new();
        let mut failed = None;
        for i in 0..self.symbols.len() {
            let (symbol, tf) = &self.symbols[i];
            match self.closed_bars(symbol, *tf, now).await {
                Ok(fresh) if fresh.is_empty() => {}
                Ok(fresh) => closing.push((i, fresh)),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Bars missed while the broker was away update the indicators; only the newest closed
        // bar may trade, at today's prices.
        let mut newest_bars = Vec::with_capacity(closing.len());
        for (i, fresh) in &closing {
            let symbol = &self.symbols[*i].0;
            if let Some((newest, missed)) = fresh.split_last() {
                self.core.process(CoreEvent::WarmUp {
                    symbol,
                    bars: missed,
                });
                newest_bars.push((symbol.clone(), *newest));
            }
        }
        self.core.process(CoreEvent::BarsClosing {
            bars: &newest_bars,
            positions: &market.positions,
        });
        for ((i, fresh), (symbol, newest)) in closing.iter().zip(&newest_bars) {
            let tf = self.symbols[*i].1;
            report.bars += fresh.len();
            self.summary.bars += fresh.len();
            // Each bar newly closed, once, before what the strategy makes of it: the API's bar
            // channel and the journal (one row per symbol per bar).
            for bar in fresh {
                let kind = EventKind::BarClosed {
                    symbol: symbol.clone(),
                    timeframe: tf,
                    bar: *bar,
                };
                self.publish(DomainEvent::new(self.close_time(bar, tf), kind))
                    .await;
            }
            self.last_closed.insert(symbol.clone(), newest.time);
            let Some(&(bid, ask)) = market.quotes.get(symbol) else {
                warn!(%symbol, "no quote: the bar updates the strategy but cannot trade");
                self.core.process(CoreEvent::WarmUp {
                    symbol,
                    bars: std::slice::from_ref(newest),
                });
                continue;
            };
            let commands = self.core.process(CoreEvent::BarClosed {
                symbol,
                bar: newest,
                view: market.view(now),
                quote: Quote::Known { bid, ask },
            });
            if self
                .execute(commands, &market.positions, &mut report)
                .await?
            {
                market = self.read_market().await?;
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let commands = self.core.process(CoreEvent::Prices(market.view(now)));
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
        self.see_quotes(&market.quotes);
        if self.operator.attached() {
            // For the operator's snapshot only: a failed read keeps the last list.
            if let Ok(pending) = self.broker.pending_orders().await {
                self.operator.seen.pending = pending;
            }
            self.operator.seen.account = Some(market.account.clone());
            self.operator.seen.positions = market.positions;
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
    pub(super) async fn closed_bars(
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
    pub(super) async fn poll_deals(&mut self, now: DateTime<Utc>) -> Result<usize, LiveError> {
        let from = self.deals_from - Duration::minutes(DEAL_OVERLAP_MINUTES);
        let deals = self.broker.deals(from, now + Duration::days(1)).await?;
        let mut n = 0;
        for d in deals {
            if self.seen_deals.contains_key(&d.ticket) || d.entry == DealEntry::Balance {
                continue;
            }
            self.seen_deals.insert(d.ticket, d.time);
            n += 1;
            self.core.process(CoreEvent::Deal(&d));
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
    pub(super) fn closing_part(&mut self, mut d: mtq_core::Deal) -> mtq_core::Deal {
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

    pub(super) fn is_managed_deal(&self, d: &mtq_core::Deal) -> bool {
        d.magic == Magic(self.core.config().trader.magic)
            || d.position.is_some_and(|p| self.core.is_adopted(p))
    }

    pub(super) async fn read_market(&self) -> Result<Market, LiveError> {
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
        // The outcome is recorded as an event either way.
        let _ = self.apply_reload(new).await;
    }

    /// [`LiveTrader::reload`], saying what changed (`None`: nothing) or why nothing was.
    pub(super) async fn apply_reload(&mut self, new: AppConfig) -> Result<Option<String>, String> {
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
                message: message.clone(),
            };
            self.publish(DomainEvent::new(now, kind)).await;
            return Err(message);
        }
        self.reload_sentiment(&old.sentiment, &new.sentiment);
        let mut changed = None;
        for c in self.core.reload(Arc::new(new), now) {
            if let Command::Record(e) = c {
                if let EventKind::ConfigReloaded { detail } = &e.kind {
                    info!(%detail, "configuration reloaded");
                    changed = Some(detail.clone());
                }
                self.publish(*e).await;
            }
        }
        Ok(changed)
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
}
