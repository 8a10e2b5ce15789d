//! Where the event writer puts events: [`EventSink`], and its database implementation that
//! journals every event and projects it into the trading tables.

use std::collections::HashMap;

use diesel::connection::DefaultLoadingMode;
use diesel::prelude::*;
use mtq_core::{DomainEvent, EventKind, SignalKind, Symbol, SymbolSpec};
use rust_decimal::Decimal;

use crate::conn::{first_row, insert_chunked, on_backend};
use crate::deferred::Deferred;
use crate::error::QueryContext;
use crate::repo::{
    AccountId, AccountRepo as _, AuditRepo, OrderRepo, SignalRepo, SnapshotRepo, TradeRepo,
};
use crate::schema::{events, orders};
use crate::types::DbTime;
use crate::{PersistenceError, Result, Store};

/// Somewhere events can be written, a batch at a time, all or nothing.
pub trait EventSink: Send {
    /// Writes every event of `batch`, in order. On `Err` nothing was written and the writer
    /// retries the same batch later.
    fn write_batch(&mut self, batch: &[DomainEvent]) -> Result<()>;
}

/// Writes events into a [`Store`] for one account: each event becomes a row in the `events`
/// journal and, where it has one, a row in its own table (signals, orders, trades, snapshots,
/// connection states).
///
/// An event the tables refuse (a fill for an order id never recorded, a constraint violation)
/// is still journalled, with the reason in its message, so a bad event never blocks the ones
/// behind it.
#[derive(Debug)]
pub struct StoreSink {
    store: Store,
    account: Option<AccountId>,
    /// The strategy of the last signal acted on per symbol: the trader core emits the signal
    /// and then the order it caused, so this names the order's (and its trade's) strategy.
    last_strategy: HashMap<Symbol, String>,
    pip_sizes: HashMap<Symbol, Option<Decimal>>,
    /// Strategy of each order recorded in the current transaction, by client order id: a position
    /// usually opens in the same batch as its order, and this spares a lookup per position.
    /// Cleared whenever a transaction starts, so it never names an order that was rolled back.
    batch_orders: HashMap<String, Option<String>>,
    /// An intent store writes the `orders` rows (before each order is sent); order events only
    /// name the strategy and are journalled.
    external_intents: bool,
}

impl StoreSink {
    /// A sink writing for `account` (`None` when the store holds a single, unregistered account).
    pub fn new(store: Store, account: Option<AccountId>) -> Result<Self> {
        let mut store = store;
        if let Some(id) = account
            && store.account(id)?.is_none()
        {
            return Err(PersistenceError::Data {
                table: "accounts",
                column: "id",
                value: id.0.to_string(),
                reason: "no such account; register it with AccountRepo::ensure_account first"
                    .into(),
            });
        }
        Ok(Self {
            store,
            account,
            last_strategy: HashMap::new(),
            pip_sizes: HashMap::new(),
            batch_orders: HashMap::new(),
            external_intents: false,
        })
    }

    /// For a trader whose intent store writes the `orders` rows itself: `OrderIntent` events
    /// then only name the order's strategy, and order answers are journalled without touching
    /// the row the store owns.
    pub fn with_external_intents(mut self) -> Self {
        self.external_intents = true;
        self
    }

    /// Pip sizes for symbols the built-in specifications do not know (used for `trades.pips`).
    pub fn with_specs(mut self, specs: impl IntoIterator<Item = SymbolSpec>) -> Self {
        for s in specs {
            self.pip_sizes.insert(s.symbol.clone(), Some(s.pip_size()));
        }
        self
    }

    fn pip_size(&mut self, symbol: &Symbol) -> Option<Decimal> {
        *self
            .pip_sizes
            .entry(symbol.clone())
            .or_insert_with(|| SymbolSpec::builtin(symbol.as_str()).map(|s| s.pip_size()))
    }

    /// Writes one event's own table row, or holds it in `deferred` to be written with the batch.
    /// `Ok(Some(reason))` when the tables had nowhere to put it.
    fn project<'a>(
        &mut self,
        e: &'a DomainEvent,
        mut deferred: Option<&mut Deferred<'a>>,
    ) -> Result<Option<String>> {
        let account = self.account;
        let at = e.time;
        match &e.kind {
            EventKind::SignalRecorded { signal, refusal } => {
                match deferred {
                    Some(d) => d.signals.push((signal, refusal.as_ref(), at)),
                    None => {
                        self.store
                            .record_signal(account, signal, refusal.as_ref(), at)?;
                    }
                }
                if refusal.is_none() && matches!(signal.kind, SignalKind::Buy | SignalKind::Sell) {
                    self.last_strategy
                        .insert(signal.symbol.clone(), signal.strategy.clone());
                }
            }
            EventKind::OrderIntent { request } if self.external_intents => {
                // The intent store wrote the row before the order was sent; the sink adds the
                // strategy, which only the signal knows.
                let strategy = self.last_strategy.get(&request.symbol).cloned();
                if let Some(name) = &strategy {
                    let unnamed = orders::table
                        .filter(orders::client_order_id.eq(request.client_order_id.as_str()))
                        .filter(orders::strategy.is_null());
                    let named = match account {
                        Some(a) => {
                            let q = diesel::update(unnamed.filter(orders::account_id.eq(a.0)))
                                .set(orders::strategy.eq(name));
                            on_backend!(&mut self.store.conn, |c| q.execute(c))
                        }
                        None => {
                            let q = diesel::update(unnamed.filter(orders::account_id.is_null()))
                                .set(orders::strategy.eq(name));
                            on_backend!(&mut self.store.conn, |c| q.execute(c))
                        }
                    };
                    named.context("naming the strategy of an order")?;
                }
                self.batch_orders
                    .insert(request.client_order_id.as_str().to_string(), strategy);
            }
            // The intent store records the answers; the journal keeps the events.
            EventKind::OrderSucceeded { .. } | EventKind::OrderFailed { .. }
                if self.external_intents => {}
            EventKind::OrderIntent { request } => {
                let strategy = self.last_strategy.get(&request.symbol).cloned();
                self.store
                    .record_intent(account, request, strategy.as_deref(), at)?;
                self.batch_orders
                    .insert(request.client_order_id.as_str().to_string(), strategy);
            }
            EventKind::OrderSucceeded {
                client_order_id,
                outcome,
            } => {
                if !self
                    .store
                    .record_outcome(account, client_order_id, outcome, at)?
                {
                    return Ok(Some(format!("no order intent {client_order_id} recorded")));
                }
            }
            EventKind::OrderFailed {
                client_order_id,
                retcode,
                message,
            } => {
                if !self
                    .store
                    .record_failure(account, client_order_id, *retcode, message, at)?
                {
                    return Ok(Some(format!("no order intent {client_order_id} recorded")));
                }
            }
            EventKind::PositionOpened { position } => {
                // MTQ puts the client order id in the comment; the order knows the strategy.
                let strategy = match self.batch_orders.get(&position.comment) {
                    Some(known) => Some(known.clone()),
                    None => {
                        let by_id = orders::table
                            .filter(orders::client_order_id.eq(&position.comment))
                            .select(orders::strategy);
                        let found = match account {
                            Some(a) => {
                                let q = by_id.filter(orders::account_id.eq(a.0));
                                on_backend!(&mut self.store.conn, |c| first_row(
                                    q.load_iter::<Option<String>, DefaultLoadingMode>(c)
                                ))
                            }
                            None => {
                                let q = by_id.filter(orders::account_id.is_null());
                                on_backend!(&mut self.store.conn, |c| first_row(
                                    q.load_iter::<Option<String>, DefaultLoadingMode>(c)
                                ))
                            }
                        };
                        found.context("finding the order that opened a position")?
                    }
                };
                let strategy = strategy.flatten();
                let held = match deferred {
                    Some(d) => {
                        d.open_trade(&mut self.store.conn, account, position, strategy.as_deref())?
                    }
                    None => false,
                };
                if !held {
                    self.store
                        .open_trade(account, position, strategy.as_deref())?;
                }
            }
            EventKind::PositionModified { ticket, sl, tp } => {
                let held = deferred
                    .as_deref_mut()
                    .is_some_and(|d| d.modify_stops(*ticket, *sl, *tp));
                if !held && !self.store.modify_stops(account, *ticket, *sl, *tp)? {
                    return Ok(Some(format!("no trade for position {ticket}")));
                }
            }
            EventKind::PositionClosed { deal } | EventKind::EntryDeal { deal } => {
                let pip = deal.symbol.as_ref().and_then(|s| self.pip_size(s));
                let held = deferred
                    .as_deref_mut()
                    .is_some_and(|d| d.apply_close(&self.store.conn, deal, pip));
                if !held && !self.store.apply_close(account, deal, pip)? {
                    return Ok(Some(format!(
                        "no open trade for the position of deal {}",
                        deal.ticket
                    )));
                }
            }
            EventKind::PositionExit { ticket, reason } => {
                let held = deferred
                    .as_deref_mut()
                    .is_some_and(|d| d.set_exit(*ticket, *reason));
                if !held && !self.store.set_exit_reason(account, *ticket, *reason)? {
                    return Ok(Some(format!("no open trade for position {ticket}")));
                }
            }
            EventKind::AccountSnapshot { account: info } => match deferred {
                Some(d) => d.snapshots.push((at, info)),
                None => self.store.record_snapshot(account, at, info)?,
            },
            EventKind::Connection { connected, detail } => {
                if let Some(id) = account {
                    self.store.record_connection(id, at, *connected, detail)?;
                }
            }
            EventKind::Approval { approval } => {
                crate::repo::ApprovalRepo::save_approval(&mut self.store, account, approval)?;
            }
            // The journal is their table.
            EventKind::SentimentVerdict { .. }
            | EventKind::BarClosed { .. }
            | EventKind::KillSwitch { .. }
            | EventKind::ConfigReloaded { .. }
            | EventKind::Session { .. }
            | EventKind::OperatorCommand { .. }
            | EventKind::Error { .. } => {}
        }
        Ok(None)
    }

    fn journal(&mut self, batch: &[DomainEvent], notes: &[Option<String>]) -> Result<()> {
        let account = self.account.map(|a| a.0);
        let rows: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let (kind, symbol, mut message) = describe(e);
                if let Some(Some(note)) = notes.get(i) {
                    message = format!("{message} [not projected: {note}]");
                }
                let payload = serde_json::to_string(e)
                    .unwrap_or_else(|err| format!("{{\"unserializable\":{:?}}}", err.to_string()));
                (
                    events::account_id.eq(account),
                    events::time.eq(DbTime(e.time)),
                    events::kind.eq(kind),
                    events::symbol.eq(symbol),
                    events::message.eq(message),
                    events::payload.eq(payload),
                )
            })
            .collect();
        insert_chunked!(
            &mut self.store.conn,
            events::table,
            rows,
            "journalling events"
        )
    }

    fn write_fast(&mut self, batch: &[DomainEvent]) -> Result<()> {
        self.batch_orders.clear();
        self.transaction(|s| {
            let mut notes = Vec::new();
            let mut deferred = Deferred::default();
            for (i, e) in batch.iter().enumerate() {
                if let Some(note) = s.project(e, Some(&mut deferred))? {
                    notes.resize(i + 1, None);
                    notes[i] = Some(note);
                }
            }
            deferred.write(&mut s.store.conn, s.account)?;
            s.journal(batch, &notes)
        })
    }

    /// Each projection in its own savepoint; a refused one is journalled with the reason.
    fn write_isolated(&mut self, batch: &[DomainEvent]) -> Result<()> {
        self.batch_orders.clear();
        self.transaction(|s| {
            let mut notes = Vec::with_capacity(batch.len());
            for e in batch {
                match s.transaction(|s| s.project(e, None)) {
                    Ok(note) => notes.push(note),
                    Err(err) if is_connection_problem(&err) => return Err(err),
                    Err(err) => {
                        tracing::warn!(kind = describe(e).0, error = %err, "event not projected; journalled only");
                        notes.push(Some(err.to_string()));
                    }
                }
            }
            s.journal(batch, &notes)
        })
    }

    fn transaction<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        use diesel::Connection;
        use diesel::connection::TransactionManager;
        type Tm = <crate::AnyConnection as Connection>::TransactionManager;
        let ctx = |error| PersistenceError::Query {
            context: "event batch transaction",
            error,
        };
        crate::conn::begin_transaction(&mut self.store.conn).map_err(ctx)?;
        match f(self) {
            Ok(v) => {
                Tm::commit_transaction(&mut self.store.conn).map_err(ctx)?;
                Ok(v)
            }
            Err(e) => {
                if let Err(rollback) = Tm::rollback_transaction(&mut self.store.conn) {
                    tracing::warn!(error = %rollback, "rollback failed");
                }
                Err(e)
            }
        }
    }
}

impl EventSink for StoreSink {
    fn write_batch(&mut self, batch: &[DomainEvent]) -> Result<()> {
        // The writer retries a failed batch with its own backoff: reconnect on every retry.
        if self.store.is_connection_lost() {
            self.store.reconnect()?;
        }
        let result = match self.write_fast(batch) {
            Err(e) if !is_connection_problem(&e) => self.write_isolated(batch),
            other => other,
        };
        if let Err(e) = &result
            && is_connection_problem(e)
        {
            self.store.mark_connection_lost();
        }
        result
    }
}

/// Errors where the database, not the data, is the problem: retry later on a fresh connection.
fn is_connection_problem(e: &PersistenceError) -> bool {
    e.is_transient()
}

/// The journal's kind, symbol and one-line message for an event.
fn describe(e: &DomainEvent) -> (&'static str, Option<String>, String) {
    let sym = |s: &Symbol| Some(s.as_str().to_string());
    match &e.kind {
        EventKind::BarClosed {
            symbol,
            timeframe,
            bar,
        } => (
            "bar_closed",
            sym(symbol),
            format!("{timeframe} bar closed at {}", bar.close),
        ),
        EventKind::SignalRecorded { signal, refusal } => (
            "signal_recorded",
            sym(&signal.symbol),
            match refusal {
                Some(r) => format!("{:?} from {} refused: {r}", signal.kind, signal.strategy),
                None => format!("{:?} from {} acted on", signal.kind, signal.strategy),
            },
        ),
        EventKind::OrderIntent { request } => (
            "order_intent",
            sym(&request.symbol),
            format!(
                "{} {:?} {:?} {} lots",
                request.client_order_id, request.side, request.kind, request.volume
            ),
        ),
        EventKind::OrderSucceeded {
            client_order_id,
            outcome,
        } => (
            "order_succeeded",
            None,
            format!(
                "{client_order_id}: {} at {}",
                outcome.retcode, outcome.price
            ),
        ),
        EventKind::OrderFailed {
            client_order_id,
            retcode,
            message,
        } => (
            "order_failed",
            None,
            match retcode {
                Some(rc) => format!("{client_order_id}: {rc}: {message}"),
                None => format!("{client_order_id}: {message}"),
            },
        ),
        EventKind::PositionOpened { position } => (
            "position_opened",
            sym(&position.symbol),
            format!(
                "{} {:?} {} at {}",
                position.ticket, position.side, position.volume, position.open_price
            ),
        ),
        EventKind::PositionModified { ticket, sl, tp } => (
            "position_modified",
            None,
            format!("{ticket} sl {sl:?} tp {tp:?}"),
        ),
        EventKind::PositionClosed { deal } => (
            "position_closed",
            deal.symbol.as_ref().and_then(sym),
            format!(
                "deal {} closed {} at {}, profit {}",
                deal.ticket, deal.volume, deal.price, deal.profit
            ),
        ),
        EventKind::EntryDeal { deal } => (
            "entry_deal",
            deal.symbol.as_ref().and_then(sym),
            format!(
                "deal {} opened {} at {}, commission {}",
                deal.ticket, deal.volume, deal.price, deal.commission
            ),
        ),
        EventKind::PositionExit { ticket, reason } => {
            ("position_exit", None, format!("{ticket}: {reason}"))
        }
        EventKind::AccountSnapshot { account } => (
            "account_snapshot",
            None,
            format!("balance {} equity {}", account.balance, account.equity),
        ),
        EventKind::KillSwitch { state, reason } => {
            ("kill_switch", None, format!("{state}: {reason}"))
        }
        EventKind::Connection { connected, detail } => (
            "connection",
            None,
            format!(
                "{}: {detail}",
                if *connected {
                    "connected"
                } else {
                    "disconnected"
                }
            ),
        ),
        EventKind::ConfigReloaded { detail } => ("config_reloaded", None, detail.clone()),
        EventKind::Session { detail } => ("session", None, detail.clone()),
        EventKind::Error { source, message } => ("error", None, format!("{source}: {message}")),
        EventKind::SentimentVerdict {
            signal,
            allowed,
            reason,
            ..
        } => (
            "sentiment_verdict",
            sym(&signal.symbol),
            format!(
                "{} {:?} at {}: {reason}",
                if *allowed { "allowed" } else { "refused" },
                signal.kind,
                signal.time.format("%Y-%m-%d %H:%M")
            ),
        ),
        EventKind::Approval { approval } => (
            "approval",
            Some(approval.request.symbol.as_str().to_string()),
            format!(
                "approval {} {}: {:?} {} lots",
                approval.id, approval.state, approval.request.side, approval.request.volume
            ),
        ),
        EventKind::OperatorCommand {
            command,
            actor,
            via,
            accepted,
            outcome,
            ..
        } => (
            "operator_command",
            None,
            format!(
                "{command} by {actor} via {via}: {} ({outcome})",
                if *accepted { "accepted" } else { "refused" }
            ),
        ),
    }
}
