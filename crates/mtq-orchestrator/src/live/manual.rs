//! A manual market order from an operator: allowed by `api.manual_orders`, idempotent by its
//! key (which becomes its client order id), and held to the same risk checks as a signal's entry.

//! [`LiveTrader::submit`]); a manual order passes the same risk checks as a signal's entry.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mtq_core::rules::{self};
use mtq_core::{
    ClientOrderId, Decimal, EntryRefusal, Magic, OrderRequest, Side, SignalKind, Symbol, SymbolSpec,
};
use mtq_risk::{CheckContext, EntryIntent, Refusal};

use super::commands::broker;
use super::{LiveTrader, Market};
use crate::IntentState;
use crate::config::AppConfig;
use crate::control::{ControlOutcome, ControlRefusal, SignalTest};

/// What separates the id prefix from a manual order's idempotency key in its client order id.
/// A strategy's ids are `prefix-` and hex digits ([`crate::signal_order_id`]), so a manual id
/// can never collide with one.
pub const MANUAL_ID_SEPARATOR: char = '~';

/// The client order id of a manual order: the prefix, [`MANUAL_ID_SEPARATOR`] and the key,
/// which must be 1 or more ASCII letters, digits, `-`, `_` or `.` and fit MT5's comment.
pub fn manual_order_id(prefix: &str, key: &str) -> Result<ClientOrderId, ControlRefusal> {
    let ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let id = ok
        .then(|| ClientOrderId::new(&format!("{prefix}{MANUAL_ID_SEPARATOR}{key}")).ok())
        .flatten();
    id.ok_or_else(|| {
        ControlRefusal::Invalid(format!(
            "idempotency key `{key}`: use 1 to {} ASCII letters, digits, `-`, `_` or `.`",
            mtq_core::MAX_COMMENT_LEN.saturating_sub(prefix.len() + 1)
        ))
    })
}

impl LiveTrader {
    /// The risk checks a signal's entry meets, for `volume` lots of a manual order; with a stop
    /// loss, never more than sizing allows. `held_since`: the entry is one held for approval
    /// since then, whose own proposal started the symbol's cooldown (the core records an entry
    /// when it proposes it); that cooldown is the entry's own and does not refuse it, while one
    /// started by a later entry still does. Synchronous: nothing borrowed here is held across an
    /// await.
    pub(super) fn risk_allows(
        &self,
        market: &Market,
        config: &AppConfig,
        intent: &EntryIntent,
        volume: Decimal,
        held_since: Option<DateTime<Utc>>,
    ) -> Result<(), ControlRefusal> {
        let Some(currency) = config.currencies.iter().find(|c| c.symbol == intent.symbol) else {
            return Err(ControlRefusal::UnknownSymbol(intent.symbol.to_string()));
        };
        let sl = intent.sl;
        let positions = self.managed(market.positions.clone());
        let specs = self.traded_specs();
        let own_cooldown = held_since.is_some_and(|held| {
            self.core
                .risk_state()
                .last_entry(&intent.symbol)
                .is_some_and(|last| last <= held)
        });
        let without_own;
        let state = if own_cooldown {
            let mut s = self.core.risk_state().clone();
            s.forget_entry(&intent.symbol);
            without_own = s;
            &without_own
        } else {
            self.core.risk_state()
        };
        let ctx = CheckContext {
            now: self.clock.now(),
            config: &config.risk,
            symbol_config: &currency.risk,
            state,
            account: &market.account,
            positions: &positions,
            specs: &specs,
            rates: &market.rates,
        };
        if let Some(r) = mtq_risk::entry_refusals(&ctx, intent, volume)
            .into_iter()
            .next()
        {
            return Err(match r {
                Refusal::KillSwitch { state, reason, .. } => ControlRefusal::KillSwitch {
                    state: state.as_str().replace('-', "_"),
                    reason,
                },
                other => ControlRefusal::Invalid(format!("the risk rules refuse it: {other}")),
            });
        }
        // With a stop loss the sizing rules say how much may be risked: never more.
        if sl.is_some() {
            let sized = mtq_risk::plan_entry(&ctx, intent)
                .map_err(|r| ControlRefusal::Invalid(format!("the risk rules refuse it: {r}")))?;
            if volume > sized.volume {
                return Err(ControlRefusal::Invalid(format!(
                    "volume {volume} risks more than the risk rules allow: at most {} lots with this stop loss",
                    sized.volume
                )));
            }
        }
        Ok(())
    }

    /// A manual market order: allowed by the configuration, its key unused or answered as a
    /// duplicate, within the symbol's volume rules and every risk check a signal's entry meets.
    pub(super) async fn manual_order(
        &mut self,
        key: &str,
        symbol: &Symbol,
        side: Side,
        volume: Decimal,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<ControlOutcome, ControlRefusal> {
        let config = self.core.config().clone();
        if !config.api.manual_orders {
            return Err(ControlRefusal::ManualOrdersDisabled);
        }
        self.known_symbol(symbol)?;
        let id = manual_order_id(&config.trader.id_prefix, key)?;
        // The same key again: the first order's record answers, nothing is sent.
        if let Some(first) = self
            .store
            .get(&id)
            .await
            .map_err(|e| ControlRefusal::Unavailable(e.to_string()))?
        {
            return Ok(ControlOutcome {
                message: format!(
                    "{id} was sent before ({}); not sent again",
                    state_text(&first.state)
                ),
                actions: 0,
                client_order_ids: vec![id.to_string()],
                duplicate: true,
                detail: None,
            });
        }
        if self.operator.entries_paused {
            return Err(ControlRefusal::EntriesPaused);
        }
        if self.operator.disabled.contains(symbol) {
            return Err(ControlRefusal::SymbolDisabled(symbol.clone()));
        }
        let spec = self.spec_of(symbol)?;
        let Some(currency) = config.currencies.iter().find(|c| &c.symbol == symbol) else {
            return Err(ControlRefusal::UnknownSymbol(symbol.to_string()));
        };
        if !spec.is_volume_valid(volume) {
            return Err(ControlRefusal::Invalid(format!(
                "volume {volume}: {symbol} takes {} to {} lots in steps of {}",
                spec.volume_min, spec.volume_max, spec.volume_step
            )));
        }
        if let Some(max) = currency.risk.max_position_size
            && volume > max
        {
            return Err(ControlRefusal::Invalid(format!(
                "volume {volume} is above {symbol}'s max_position_size of {max} lots"
            )));
        }
        let market = self.read_market().await.map_err(broker)?;
        let quote = self.quote(&spec).await?;
        rules::position_stops(&spec, side, quote, sl, tp)
            .map_err(|v| ControlRefusal::Invalid(v.to_string()))?;
        let intent = EntryIntent {
            symbol: symbol.clone(),
            side,
            entry: if side == Side::Buy {
                quote.ask
            } else {
                quote.bid
            },
            sl,
            bid: quote.bid,
            ask: quote.ask,
        };
        self.risk_allows(&market, &config, &intent, volume, None)?;
        let request = OrderRequest {
            sl,
            tp,
            magic: Magic(config.trader.magic),
            ..OrderRequest::market(id.clone(), symbol.clone(), side, volume)
        };
        let Some((intent, duplicate)) = self.submit(request).await.map_err(broker)? else {
            return Err(ControlRefusal::Unavailable(
                "its intent could not be recorded; nothing was sent".into(),
            ));
        };
        let outcome = ControlOutcome {
            message: format!("{id}: {}", state_text(&intent.state)),
            actions: usize::from(!duplicate),
            client_order_ids: vec![id.to_string()],
            duplicate,
            detail: None,
        };
        match &intent.state {
            IntentState::Filled { .. } | IntentState::Placed { .. } => Ok(outcome),
            IntentState::Rejected { reason, .. }
            | IntentState::NotFound { reason }
            | IntentState::Unknown { reason } => Err(ControlRefusal::Broker(reason.clone())),
            IntentState::Recorded | IntentState::Sent { .. } => Ok(outcome),
        }
    }
}

impl LiveTrader {
    /// "Test now": a fresh instance of the symbol's strategy (its state is a function of the
    /// bars) takes the latest closed bars, and what it signals on the newest one meets every
    /// risk check and the sizing an entry would, with the real risk state, account and
    /// positions. Nothing is sent and nothing changes.
    pub(super) async fn test_signal(
        &mut self,
        symbol: &Symbol,
    ) -> Result<ControlOutcome, ControlRefusal> {
        self.known_symbol(symbol)?;
        let spec = self.spec_of(symbol)?;
        let config = self.core.config().clone();
        let Some(currency) = config.currencies.iter().find(|c| &c.symbol == symbol) else {
            return Err(ControlRefusal::UnknownSymbol(symbol.to_string()));
        };
        let tf = currency.timeframe;
        let mut strategy = currency
            .build_strategy()
            .map_err(|e| ControlRefusal::Config(e.to_string()))?;
        let need = self.core.history_needed(symbol).max(1);
        // One more than needed: the newest bar MT5 returns may still be forming.
        let mut bars = self
            .broker
            .bars(symbol, tf, mtq_connector::BarRange::Last(need + 1))
            .await
            .map_err(|e| broker(e.into()))?;
        let now = self.clock.now();
        bars.retain(|b| b.time + tf.duration() <= now);
        let market = self.read_market().await.map_err(broker)?;
        let positions: Vec<_> = self
            .managed(market.positions.clone())
            .into_iter()
            .filter(|p| &p.symbol == symbol)
            .collect();
        let ctx = mtq_strategies::Context::new(&spec, tf).with_positions(&positions);
        let mut signal = None;
        for (i, bar) in bars.iter().enumerate() {
            let s = strategy.on_bar(bar, &ctx);
            if i + 1 == bars.len() {
                signal = s;
            }
        }
        let mut test = SignalTest {
            symbol: symbol.clone(),
            timeframe: tf,
            bar_time: bars.last().map(|b| b.time),
            bars: bars.len(),
            signal: signal.clone(),
            verdict: "no_signal".into(),
            rule: None,
            refusal: None,
            volume: None,
        };
        let side = match signal.as_ref().map(|s| s.kind) {
            Some(SignalKind::Buy) => Some(Side::Buy),
            Some(SignalKind::Sell) => Some(Side::Sell),
            Some(_) => {
                test.verdict = "not_an_entry".into();
                None
            }
            None => None,
        };
        if let (Some(side), Some(sig)) = (side, signal.as_ref()) {
            let verdict = match self.operator.holds_entry(symbol) {
                Some(held) => Err((
                    match held {
                        EntryRefusal::EntriesPaused => "entries_paused",
                        _ => "symbol_disabled",
                    }
                    .to_string(),
                    held.to_string(),
                )),
                None => self.risk_verdict(&market, &config, &spec, side, sig.sl),
            };
            match verdict {
                Ok(volume) => {
                    test.verdict = "allowed".into();
                    test.volume = Some(volume);
                }
                Err((rule, why)) => {
                    test.verdict = "refused".into();
                    test.rule = Some(rule);
                    test.refusal = Some(why);
                }
            }
        }
        let message = match (&test.signal, test.verdict.as_str()) {
            (None, _) => format!("{symbol}: no signal on the newest {tf} bar"),
            (Some(s), "allowed") => format!(
                "{symbol}: {:?} would be sent, {} lots",
                s.kind,
                test.volume.unwrap_or_default()
            ),
            (Some(s), "refused") => format!(
                "{symbol}: {:?} would be refused: {}",
                s.kind,
                test.refusal.clone().unwrap_or_default()
            ),
            (Some(s), _) => format!("{symbol}: {:?} (not an entry)", s.kind),
        };
        Ok(ControlOutcome {
            message,
            actions: 0,
            client_order_ids: Vec::new(),
            duplicate: false,
            detail: serde_json::to_value(&test).ok(),
        })
    }

    /// The risk rules' verdict on an entry at today's prices: the lots sizing allows, or the
    /// refusing rule's code and reason.
    fn risk_verdict(
        &self,
        market: &Market,
        config: &AppConfig,
        spec: &SymbolSpec,
        side: Side,
        sl: Option<f64>,
    ) -> Result<Decimal, (String, String)> {
        let Some(currency) = config.currencies.iter().find(|c| c.symbol == spec.symbol) else {
            return Err((
                "unknown_symbol".into(),
                format!("{} is not configured", spec.symbol),
            ));
        };
        let Some(&(bid, ask)) = market.quotes.get(&spec.symbol) else {
            return Err(("no_quote".into(), format!("no quote for {}", spec.symbol)));
        };
        let intent = EntryIntent {
            symbol: spec.symbol.clone(),
            side,
            entry: if side == Side::Buy { ask } else { bid },
            sl: sl.and_then(|x| spec.normalize_price_f64(x)),
            bid,
            ask,
        };
        let positions = self.managed(market.positions.clone());
        let specs = self.traded_specs();
        let ctx = CheckContext {
            now: self.clock.now(),
            config: &config.risk,
            symbol_config: &currency.risk,
            state: self.core.risk_state(),
            account: &market.account,
            positions: &positions,
            specs: &specs,
            rates: &market.rates,
        };
        mtq_risk::plan_entry(&ctx, &intent)
            .map(|sized| sized.volume)
            .map_err(|r| (r.code().to_string(), r.to_string()))
    }
}

pub(super) fn state_text(s: &IntentState) -> String {
    match s {
        IntentState::Filled { price, volume, .. } => format!("filled {volume} lots at {price}"),
        IntentState::Placed { order } => format!("placed as order {order}"),
        IntentState::Rejected { reason, .. } => format!("rejected: {reason}"),
        IntentState::NotFound { reason } | IntentState::Unknown { reason } => reason.clone(),
        IntentState::Recorded | IntentState::Sent { .. } => "in flight".into(),
    }
}

impl LiveTrader {
    /// The specifications of the traded symbols, as the risk checks take them.
    fn traded_specs(&self) -> BTreeMap<Symbol, SymbolSpec> {
        self.symbols
            .iter()
            .filter_map(|(s, _)| self.core.spec(s).map(|x| (s.clone(), x.clone())))
            .collect()
    }
}
