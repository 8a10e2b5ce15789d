//! A closed bar through the strategy to a signal, and a signal through the filters, the risk
//! checks and sizing to an order ([`CoreEvent::BarClosed`], [`CoreEvent::Signal`]).

use std::borrow::Cow;

use mtq_core::{
    Bar, Decimal, ErrorSource, EventKind, ExitReason, MarginMode, OrderRequest, Position, Side,
    Signal, SignalKind, SignalRefusal, Symbol,
};
use mtq_risk::{CheckContext, EntryIntent, plan_entry};
use mtq_strategies::Context;

use crate::config::CurrencyConfig;
use crate::{CommandReason, signal_order_id};

use super::*;

impl TraderCore {
    /// A closed bar of `symbol`'s entry timeframe at `bid`/`ask` ([`CoreEvent::BarClosed`]).
    pub fn on_bar(
        &mut self,
        symbol: &Symbol,
        bar: &Bar,
        view: MarketView<'_>,
        bid: Decimal,
        ask: Decimal,
    ) -> Vec<Command> {
        self.process(CoreEvent::BarClosed {
            symbol,
            bar,
            view,
            quote: Quote::Known { bid, ask },
        })
    }

    /// The first half of [`CoreEvent::BarClosed`]: the closed bar goes to the symbol's
    /// strategy (and higher timeframes), which may signal. Only the positions' tickets, sides,
    /// volumes and levels matter here, not their marks.
    pub(super) fn strategy_step(
        &mut self,
        symbol: &Symbol,
        bar: &Bar,
        positions: &[Position],
    ) -> Option<Signal> {
        let i = self.slots.iter().position(|s| &s.symbol == symbol)?;
        let tf = self.config.currencies[self.slots[i].cfg].timeframe;
        let mine = self.mine(symbol, positions);
        let Slot {
            spec,
            strategy,
            higher,
            last_bar,
            prepared,
            ..
        } = &mut self.slots[i];
        if prepared.take() == Some(bar.time) {
            // Fed by `BarsClosing`: only the strategy's `on_bar` is left.
        } else if last_bar.is_some_and(|t| bar.time <= t) || higher.update(bar).is_err() {
            return None;
        }
        *last_bar = Some(bar.time);
        let views = higher.views();
        let ctx = Context::new(spec, tf)
            .with_higher(views.as_slice())
            .with_positions(&mine);
        strategy.on_bar(bar, &ctx)
    }

    /// [`CoreEvent::BarsClosing`]: each symbol's newest closed bar fed as `strategy_step` feeds
    /// it (a bar already fed is skipped), and its strategy told to prepare it; the symbol's
    /// `BarClosed` or `WarmUp` with the same bar then only calls `on_bar`. A slot prepared in a
    /// cycle that ended early keeps its mark until that bar comes.
    pub(super) fn prepare(&mut self, bars: &[(Symbol, Bar)], positions: &[Position]) {
        for (symbol, bar) in bars {
            let Some(i) = self.slots.iter().position(|s| &s.symbol == symbol) else {
                continue;
            };
            let tf = self.config.currencies[self.slots[i].cfg].timeframe;
            let mine = self.mine(symbol, positions);
            let Slot {
                spec,
                strategy,
                higher,
                last_bar,
                prepared,
                ..
            } = &mut self.slots[i];
            if prepared.is_some()
                || last_bar.is_some_and(|t| bar.time <= t)
                || higher.update(bar).is_err()
            {
                continue;
            }
            *last_bar = Some(bar.time);
            *prepared = Some(bar.time);
            let views = higher.views();
            let ctx = Context::new(spec, tf)
                .with_higher(views.as_slice())
                .with_positions(&mine);
            strategy.prepare_bar(bar, &ctx);
        }
    }

    /// [`TraderCore::strategy_step`] for closed bars in a row, up to the first whose step
    /// signals or the first that `take` refuses (asked with a bar's index just before the bar is
    /// taken): how many bars were taken, and the signal of the last one taken if it signalled.
    /// One call instead of one a bar when the symbol has no higher timeframes to feed
    /// ([`Strategy::on_bars`]); `take` must then refuse a bar not later than the one before it
    /// (only the first is checked here, against the last bar taken).
    pub(super) fn strategy_run(
        &mut self,
        symbol: &Symbol,
        bars: &[Bar],
        positions: &[Position],
        take: &mut dyn FnMut(usize) -> bool,
    ) -> (usize, Option<Signal>) {
        let Some(i) = self.slots.iter().position(|s| &s.symbol == symbol) else {
            return (0, None);
        };
        let slot = &self.slots[i];
        // The first bar after the last one taken; the order of the rest is `take`'s to check.
        let in_order = bars
            .first()
            .is_some_and(|first| slot.last_bar.is_none_or(|t| first.time > t));
        if !slot.higher.is_empty() || !in_order || slot.prepared.is_some() {
            for (k, bar) in bars.iter().enumerate() {
                if !take(k) {
                    return (k, None);
                }
                if let Some(s) = self.strategy_step(symbol, bar, positions) {
                    return (k + 1, Some(s));
                }
            }
            return (bars.len(), None);
        }
        let tf = self.config.currencies[slot.cfg].timeframe;
        let mine = self.mine(symbol, positions);
        let Slot {
            spec,
            strategy,
            last_bar,
            ..
        } = &mut self.slots[i];
        let ctx = Context::new(spec, tf).with_positions(&mine);
        let (taken, signal) = strategy.on_bars(bars, &ctx, take);
        if let Some(last) = taken.checked_sub(1).and_then(|k| bars.get(k)) {
            *last_bar = Some(last.time);
        }
        (taken, signal)
    }

    /// The second half of [`CoreEvent::BarClosed`], and [`CoreEvent::Signal`]: what a
    /// strategy's signal becomes (a record, closes, or the risk checks, sizing and an order),
    /// decided on `view`.
    pub(super) fn signal(
        &mut self,
        signal: Signal,
        view: MarketView<'_>,
        quote: Quote<'_>,
    ) -> Vec<Command> {
        let mine = self.mine(&signal.symbol, view.positions);
        let now = view.now;
        match signal.kind {
            SignalKind::Hold => vec![record(
                now,
                EventKind::SignalRecorded {
                    refusal: Some(SignalRefusal::Hold {
                        reason: signal.reason.clone(),
                    }),
                    signal,
                },
            )],
            SignalKind::Close => {
                let mut out: Vec<Command> = mine
                    .iter()
                    .map(|p| Command::Close {
                        ticket: p.ticket,
                        volume: None,
                        reason: CommandReason::Signal {
                            strategy: signal.strategy.clone(),
                            reason: signal.reason.clone(),
                        },
                        exit: ExitReason::Signal,
                    })
                    .collect();
                let refusal = out.is_empty().then_some(SignalRefusal::NothingToClose);
                out.push(record(now, EventKind::SignalRecorded { signal, refusal }));
                out
            }
            SignalKind::Buy | SignalKind::Sell => {
                if let Some(refused) = self.netting_refusal(&signal, &mine, view) {
                    return refused;
                }
                let (bid, ask) = quote.get();
                self.entry(signal, &mine, view, bid, ask)
            }
        }
    }

    /// On a netting account an order nets against the symbol's one position: refuses the entry
    /// when that position is not MTQ's (reported once per symbol with an `error` event, until
    /// the symbol is free again), or when it is MTQ's on the same side (it would grow instead of
    /// opening a trade of its own). An opposite position of MTQ's is a reversal: closed first.
    pub(super) fn netting_refusal(
        &mut self,
        signal: &Signal,
        mine: &[Position],
        view: MarketView<'_>,
    ) -> Option<Vec<Command>> {
        if view.account.margin_mode != MarginMode::Netting {
            return None;
        }
        let side = if signal.kind == SignalKind::Buy {
            Side::Buy
        } else {
            Side::Sell
        };
        let foreign = view
            .positions
            .iter()
            .find(|p| p.symbol == signal.symbol && !self.is_ours(p));
        let refusal = match (foreign, mine.iter().find(|p| p.side == side)) {
            (Some(p), _) => EntryRefusal::ForeignPosition {
                symbol: signal.symbol.clone(),
                ticket: p.ticket,
            },
            (None, Some(p)) => EntryRefusal::NettingPositionHeld {
                symbol: signal.symbol.clone(),
                ticket: p.ticket,
            },
            (None, None) => {
                self.foreign_reported.remove(&signal.symbol);
                return None;
            }
        };
        let mut out = Vec::with_capacity(2);
        if matches!(refusal, EntryRefusal::ForeignPosition { .. })
            && self.foreign_reported.insert(signal.symbol.clone())
        {
            out.push(record(
                view.now,
                EventKind::Error {
                    source: ErrorSource::Netting,
                    message: refusal.to_string(),
                },
            ));
        }
        out.push(record(
            view.now,
            EventKind::SignalRecorded {
                signal: signal.clone(),
                refusal: Some(refusal.into()),
            },
        ));
        Some(out)
    }

    /// The symbol's positions of ours. When they are every position given (a backtest, or an
    /// account trading one symbol) that slice is used as it is, with no copy.
    pub(super) fn mine<'p>(
        &self,
        symbol: &Symbol,
        positions: &'p [Position],
    ) -> Cow<'p, [Position]> {
        if positions
            .iter()
            .all(|p| &p.symbol == symbol && self.is_ours(p))
        {
            Cow::Borrowed(positions)
        } else {
            Cow::Owned(
                self.ours(positions)
                    .filter(|p| &p.symbol == symbol)
                    .cloned()
                    .collect(),
            )
        }
    }

    pub(super) fn entry(
        &mut self,
        signal: Signal,
        mine: &[Position],
        view: MarketView<'_>,
        bid: Decimal,
        ask: Decimal,
    ) -> Vec<Command> {
        let now = view.now;
        let side = if signal.kind == SignalKind::Buy {
            Side::Buy
        } else {
            Side::Sell
        };
        let Some(spec) = self.specs.get(&signal.symbol) else {
            return Vec::new();
        };
        let currency: &CurrencyConfig = match self
            .config
            .currencies
            .iter()
            .find(|c| c.symbol == signal.symbol)
        {
            Some(c) => c,
            None => return Vec::new(),
        };
        // A reversal closes the other side first; the checks then see the book without it.
        // (Filtered where needed rather than collected: no vector per entry.)
        let reversing = || mine.iter().filter(move |p| p.side != side);
        // The closes, then the signal's record and its order.
        let mut out: Vec<Command> = Vec::with_capacity(reversing().count() + 2);
        out.extend(reversing().map(|p| Command::Close {
            ticket: p.ticket,
            volume: None,
            reason: CommandReason::Reversal {
                strategy: signal.strategy.clone(),
            },
            exit: ExitReason::Signal,
        }));
        // What stays open: ours, less the positions being reversed (a few at most: a scan).
        let remaining: Vec<Position> = self
            .ours(view.positions)
            .filter(|p| !reversing().any(|r| r.ticket == p.ticket))
            .cloned()
            .collect();
        let sl = signal.sl.and_then(|p| spec.normalize_price_f64(p));
        let tp = signal.tp.and_then(|p| spec.normalize_price_f64(p));
        let intent = EntryIntent {
            symbol: signal.symbol.clone(),
            side,
            entry: if side == Side::Buy { ask } else { bid },
            sl,
            bid,
            ask,
        };
        let ctx = CheckContext {
            now,
            config: &self.config.risk,
            symbol_config: &currency.risk,
            state: &self.risk,
            account: view.account,
            positions: &remaining,
            specs: &self.specs,
            rates: view.rates,
        };
        match plan_entry(&ctx, &intent) {
            Err(refusal) => out.push(record(
                now,
                EventKind::SignalRecorded {
                    signal,
                    refusal: Some(refusal.into()),
                },
            )),
            Ok(sized) => {
                let id = match signal_order_id(
                    &self.config.trader.id_prefix,
                    &signal.symbol,
                    &signal.strategy,
                    signal.time,
                    side,
                ) {
                    Ok(id) => id,
                    Err(e) => {
                        out.push(record(
                            now,
                            EventKind::SignalRecorded {
                                signal,
                                refusal: Some(SignalRefusal::OrderId {
                                    message: e.to_string(),
                                }),
                            },
                        ));
                        return out;
                    }
                };
                let volume = confidence_volume(currency, spec, &signal, sized.volume);
                let request = OrderRequest {
                    sl,
                    tp,
                    magic: mtq_core::Magic(self.config.trader.magic),
                    ..OrderRequest::market(id, signal.symbol.clone(), side, volume)
                };
                self.risk.record_entry(&signal.symbol, now);
                out.push(record(
                    now,
                    EventKind::SignalRecorded {
                        signal,
                        refusal: None,
                    },
                ));
                out.push(Command::Submit(Box::new(request)));
            }
        }
        out
    }
}

/// The risk rules' volume scaled by the model's probability when the symbol's `ml:` section asks
/// for it (`size_by_confidence`): rounded down to the volume step, never below the symbol's
/// minimum and so never above `sized` (which the risk rules already put at or above it).
fn confidence_volume(
    currency: &CurrencyConfig,
    spec: &mtq_core::SymbolSpec,
    signal: &Signal,
    sized: Decimal,
) -> Decimal {
    let scale = currency
        .ml
        .as_ref()
        .filter(|ml| ml.size_by_confidence)
        .and_then(|_| signal.ml.as_ref()?.probability)
        .filter(|p| (0.0..1.0).contains(p))
        .and_then(Decimal::from_f64_retain);
    match scale {
        Some(p) => spec
            .normalize_volume(sized * p)
            .unwrap_or(spec.volume_min)
            .min(sized),
        None => sized,
    }
}
