//! [`TimedBroker`]: a [`Broker`] decorator that measures every request (duration, errors by
//! class), every order (latency, result, rejects by return code, retries, slippage) and every
//! quote (ticks, spread, the market-open state). The live driver wraps its broker in it once,
//! at start-up, so the paper session and MT5 are measured the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use mtq_connector::{BarRange, Broker, BrokerError};
use mtq_core::{
    AccountInfo, Bar, Deal, Decimal, OrderOutcome, OrderRequest, PendingOrder, Position, Retcode,
    RetcodeClass, Side, Symbol, SymbolSpec, Tick, Ticket, Timeframe,
};
use rust_decimal::prelude::ToPrimitive;

use crate::names::*;

/// How many order intents' last results are kept to recognise a retry.
const ATTEMPTS_KEPT: usize = 1024;

/// See the module documentation.
pub struct TimedBroker {
    inner: Arc<dyn Broker>,
    account: String,
    state: Mutex<State>,
    /// The last request got no answer (a timeout, a dropped connection).
    down: AtomicBool,
    /// Each operation's duration histogram, registered once (a lookup per request by labels
    /// would cost more than the simulator's answer).
    durations: Vec<Histogram>,
    heartbeat: Gauge,
}

/// Every operation of the [`Broker`] trait, as the `op` label.
const OPS: [&str; 11] = [
    "account",
    "symbol_spec",
    "last_tick",
    "bars",
    "positions",
    "pending_orders",
    "deals",
    "send_order",
    "modify_position",
    "close_position",
    "cancel_order",
];

/// One symbol's quote series, registered once.
struct SymbolSeries {
    ticks: Counter,
    spread: Gauge,
    last_tick: Gauge,
    /// The newest quote seen, to tell a new tick from the same one read again.
    quote_time: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct State {
    /// Each symbol's point (from its specification), for spreads and slippage in points.
    points: BTreeMap<Symbol, f64>,
    /// Each symbol's quote series.
    quotes: BTreeMap<Symbol, SymbolSeries>,
    /// The last result of each order intent (client order id) and position close (ticket).
    attempts: HashMap<String, &'static str>,
    /// Symbols the broker said are closed.
    closed: BTreeMap<Symbol, bool>,
    /// Each ticket's symbol, for closes and modifications.
    tickets: HashMap<Ticket, Symbol>,
}

impl std::fmt::Debug for TimedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedBroker")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl TimedBroker {
    /// `inner`, measured, with `account` as the account label.
    pub fn wrap(inner: Arc<dyn Broker>, account: &str) -> Arc<dyn Broker> {
        Arc::new(Self {
            inner,
            account: account.to_string(),
            state: Mutex::new(State::default()),
            down: AtomicBool::new(false),
            durations: OPS
                .iter()
                .map(|op| histogram!(BROKER_REQUEST_DURATION, "account" => account.to_string(), "op" => *op))
                .collect(),
            heartbeat: gauge!(BROKER_HEARTBEAT_AGE, "account" => account.to_string()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Duration, errors and the heartbeat of one request.
    /// `op` is the operation's index in [`OPS`].
    fn request<T>(&self, op: usize, started: Instant, result: &Result<T, BrokerError>) {
        if let Some(h) = self.durations.get(op) {
            h.record(started.elapsed().as_secs_f64());
        }
        if let Err(e) = result {
            counter!(BROKER_ERRORS, "account" => self.account.clone(), "op" => OPS[op],
                "class" => class_label(e.class()))
            .increment(1);
        }
        // A refusal is an answer: the broker is there.
        let answered = !matches!(
            result,
            Err(BrokerError::Timeout { .. }
                | BrokerError::Disconnected { .. }
                | BrokerError::Unanswered { .. })
        );
        if answered {
            self.heartbeat.set(0.0);
            mark_answer();
        }
        // A broker that stopped answering and answers again has reconnected (the MT5 bridge
        // reconnects by itself; the simulator never drops).
        if self.down.swap(!answered, Ordering::Relaxed) && answered {
            counter!(BROKER_RECONNECTS, "account" => self.account.clone()).increment(1);
        }
    }

    /// Latency, result, rejects, retries and the market state of one trade request.
    fn order(
        &self,
        kind: &'static str,
        symbol: Option<&Symbol>,
        attempt_key: String,
        started: Instant,
        result: &Result<OrderOutcome, BrokerError>,
    ) {
        let account = self.account.clone();
        histogram!(ORDER_LATENCY, "account" => account.clone(), "kind" => kind)
            .record(started.elapsed().as_secs_f64());
        let label = match result {
            Ok(o) => result_label(o.retcode),
            Err(BrokerError::Rejected { retcode, .. }) => result_label(*retcode),
            Err(e) if e.class() == RetcodeClass::OutcomeUnknown => "unknown",
            Err(_) => "retry_later",
        };
        let symbol_label = symbol.map_or_else(|| "none".to_string(), ToString::to_string);
        counter!(ORDERS, "account" => account.clone(), "symbol" => symbol_label, "kind" => kind, "result" => label)
            .increment(1);
        if let Err(BrokerError::Rejected { retcode, .. }) = result {
            counter!(ORDER_REJECTS, "account" => account.clone(), "retcode" => retcode.code().to_string())
                .increment(1);
        }
        let mut st = self.state();
        let failed_before = st
            .attempts
            .get(&attempt_key)
            .filter(|p| !matches!(**p, "done" | "partial" | "placed"));
        if let Some(previous) = failed_before {
            counter!(ORDER_RETRIES, "account" => account, "reason" => *previous).increment(1);
        }
        if st.attempts.len() >= ATTEMPTS_KEPT {
            st.attempts.clear();
        }
        st.attempts.insert(attempt_key, label);
        if let Some(s) = symbol {
            let closed = matches!(
                result,
                Err(BrokerError::Rejected {
                    retcode: Retcode::MarketClosed | Retcode::TradeDisabled,
                    ..
                })
            );
            let was = st.closed.insert(s.clone(), closed);
            if was != Some(closed) {
                gauge!(MARKET_OPEN, "symbol" => s.to_string()).set(if closed { 0.0 } else { 1.0 });
            }
        }
    }

    fn tick(&self, symbol: &Symbol, tick: &Tick) {
        let mut st = self.state();
        let point = st.points.get(symbol).copied();
        let series = match st.quotes.get_mut(symbol) {
            Some(s) => s,
            None => {
                let sym = symbol.to_string();
                gauge!(MARKET_OPEN, "symbol" => sym.clone()).set(1.0);
                let st = &mut *st;
                st.closed.entry(symbol.clone()).or_insert(false);
                st.quotes.entry(symbol.clone()).or_insert(SymbolSeries {
                    ticks: counter!(TICKS, "symbol" => sym.clone()),
                    spread: gauge!(SPREAD, "symbol" => sym.clone()),
                    last_tick: gauge!(LAST_TICK, "symbol" => sym),
                    quote_time: None,
                })
            }
        };
        if let Some(p) = point.filter(|p| *p > 0.0) {
            series.spread.set(((tick.ask - tick.bid) / p).round());
        }
        if series.quote_time != Some(tick.time) {
            series.quote_time = Some(tick.time);
            series.ticks.increment(1);
            series.last_tick.set(unix_now());
        }
    }

    /// Slippage of a filled entry: the fill against the quote it was sent at (the request's
    /// price, or the quote the answer carries for a market order), in points, worse positive.
    fn slippage(&self, request: &OrderRequest, outcome: &OrderOutcome) {
        let point = self.state().points.get(&request.symbol).copied();
        let Some(point) = point.filter(|p| *p > 0.0) else {
            return;
        };
        let asked = request.price.unwrap_or(match request.side {
            Side::Buy => outcome.ask,
            Side::Sell => outcome.bid,
        });
        if asked.is_zero() || outcome.price.is_zero() {
            return;
        }
        let diff = (outcome.price - asked).to_f64().unwrap_or(0.0) * f64::from(request.side.sign());
        let side = match request.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        };
        histogram!(ORDER_SLIPPAGE, "symbol" => request.symbol.to_string(), "side" => side)
            .record((diff / point).round());
    }

    fn symbol_of(&self, ticket: Ticket) -> Option<Symbol> {
        self.state().tickets.get(&ticket).cloned()
    }

    fn remember_positions(&self, positions: &[Position]) {
        let mut st = self.state();
        let same = st.tickets.len() == positions.len()
            && positions.iter().all(|p| st.tickets.contains_key(&p.ticket));
        if same {
            return;
        }
        st.tickets.clear();
        for p in positions {
            st.tickets.insert(p.ticket, p.symbol.clone());
        }
    }
}

/// When any broker last answered, in nanoseconds after [`EPOCH`] (0: never), for the
/// heartbeat age gauge ([`heartbeat_tick`]).
static LAST_ANSWER: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn mark_answer() {
    let epoch = *EPOCH.get_or_init(Instant::now);
    let nanos = u64::try_from(epoch.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1);
    LAST_ANSWER.store(nanos, Ordering::Relaxed);
}

/// Sets `mtq_broker_heartbeat_age_seconds` from the last answer; the metrics route calls it
/// before each render, so the age grows while the broker is silent.
pub fn heartbeat_tick(account: &str) {
    let last = LAST_ANSWER.load(Ordering::Relaxed);
    if let (Some(epoch), true) = (EPOCH.get(), last > 0) {
        let now = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        #[allow(clippy::cast_precision_loss)]
        let age = now.saturating_sub(last) as f64 / 1e9;
        gauge!(BROKER_HEARTBEAT_AGE, "account" => account.to_string()).set(age);
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn class_label(c: RetcodeClass) -> &'static str {
    match c {
        RetcodeClass::Done => "done",
        RetcodeClass::DonePartial => "partial",
        RetcodeClass::Placed => "placed",
        RetcodeClass::RetryWithFreshPrice => "retry_with_fresh_price",
        RetcodeClass::RetryLater => "retry_later",
        RetcodeClass::OutcomeUnknown => "outcome_unknown",
        RetcodeClass::Rejected => "rejected",
    }
}

fn result_label(r: Retcode) -> &'static str {
    match r.class() {
        RetcodeClass::Done => "done",
        RetcodeClass::DonePartial => "partial",
        RetcodeClass::Placed => "placed",
        RetcodeClass::RetryWithFreshPrice => "requote",
        RetcodeClass::RetryLater => "retry_later",
        RetcodeClass::OutcomeUnknown => "unknown",
        RetcodeClass::Rejected => "rejected",
    }
}

#[async_trait]
impl Broker for TimedBroker {
    async fn account(&self) -> Result<AccountInfo, BrokerError> {
        let t = Instant::now();
        let r = self.inner.account().await;
        self.request(0, t, &r); // account
        r
    }

    async fn symbol_spec(&self, symbol: &Symbol) -> Result<SymbolSpec, BrokerError> {
        let t = Instant::now();
        let r = self.inner.symbol_spec(symbol).await;
        self.request(1, t, &r); // symbol_spec
        if let Ok(spec) = &r
            && let Some(p) = spec.point.to_f64()
        {
            self.state().points.insert(symbol.clone(), p);
        }
        r
    }

    async fn last_tick(&self, symbol: &Symbol) -> Result<Tick, BrokerError> {
        let t = Instant::now();
        let r = self.inner.last_tick(symbol).await;
        self.request(2, t, &r); // last_tick
        if let Ok(tick) = &r {
            self.tick(symbol, tick);
        }
        r
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: BarRange,
    ) -> Result<Vec<Bar>, BrokerError> {
        let t = Instant::now();
        let r = self.inner.bars(symbol, timeframe, range).await;
        self.request(3, t, &r); // bars
        r
    }

    async fn positions(&self) -> Result<Vec<Position>, BrokerError> {
        let t = Instant::now();
        let r = self.inner.positions().await;
        self.request(4, t, &r); // positions
        if let Ok(p) = &r {
            self.remember_positions(p);
        }
        r
    }

    async fn pending_orders(&self) -> Result<Vec<PendingOrder>, BrokerError> {
        let t = Instant::now();
        let r = self.inner.pending_orders().await;
        self.request(5, t, &r); // pending_orders
        r
    }

    async fn deals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Deal>, BrokerError> {
        let t = Instant::now();
        let r = self.inner.deals(from, to).await;
        self.request(6, t, &r); // deals
        r
    }

    async fn send_order(&self, request: &OrderRequest) -> Result<OrderOutcome, BrokerError> {
        let t = Instant::now();
        let r = self.inner.send_order(request).await;
        self.request(7, t, &r); // send_order
        let key = format!("o:{}", request.client_order_id.as_str());
        self.order("entry", Some(&request.symbol), key, t, &r);
        if let Ok(o) = &r {
            self.slippage(request, o);
        }
        r
    }

    async fn modify_position(
        &self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        let t = Instant::now();
        let r = self.inner.modify_position(ticket, sl, tp).await;
        self.request(8, t, &r); // modify_position
        let symbol = self.symbol_of(ticket);
        self.order(
            "modify",
            symbol.as_ref(),
            format!("m:{ticket}:{sl:?}:{tp:?}"),
            t,
            &r,
        );
        r
    }

    async fn close_position(
        &self,
        ticket: Ticket,
        volume: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        let t = Instant::now();
        let r = self.inner.close_position(ticket, volume).await;
        self.request(9, t, &r); // close_position
        let symbol = self.symbol_of(ticket);
        self.order(
            "close",
            symbol.as_ref(),
            format!("c:{ticket}:{volume:?}"),
            t,
            &r,
        );
        r
    }

    async fn cancel_order(&self, ticket: Ticket) -> Result<OrderOutcome, BrokerError> {
        let t = Instant::now();
        let r = self.inner.cancel_order(ticket).await;
        self.request(10, t, &r); // cancel_order
        self.order("cancel", None, format!("x:{ticket}"), t, &r);
        r
    }
}
