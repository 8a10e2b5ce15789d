//! The simulator behind the async [`Broker`] trait, with seeded fault injection: the paper
//! trading venue and the test double for everything above the connector.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mtq_connector::{BarRange, Broker, BrokerError};
use mtq_core::{
    AccountInfo, Bar, Deal, Decimal, OrderKind, OrderOutcome, OrderRequest, PendingOrder, Position,
    Retcode, Symbol, SymbolSpec, Tick, Ticket, Timeframe,
};

use crate::{FaultConfig, SimError, Simulator};
use mtq_core::SplitMix64;

struct State {
    sim: Simulator,
    history: HashMap<(Symbol, Timeframe), Vec<Bar>>,
    /// Bars begun with `open_bar` and not closed yet.
    forming: HashMap<(Symbol, Timeframe), Bar>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    Requote,
    Reject,
    TimeoutAfterAccept,
    DisconnectBefore,
    DisconnectAfter,
}

struct Faults {
    cfg: FaultConfig,
    rng: SplitMix64,
}

impl Faults {
    fn roll(&mut self, is_market_order: bool) -> Fault {
        let c = &self.cfg;
        let (disconnect, requote, reject, timeout) =
            (c.disconnect, c.requote, c.reject, c.timeout_after_accept);
        if self.rng.chance(disconnect) {
            return if self.rng.chance(0.5) {
                Fault::DisconnectAfter
            } else {
                Fault::DisconnectBefore
            };
        }
        if is_market_order && self.rng.chance(requote) {
            return Fault::Requote;
        }
        if self.rng.chance(reject) {
            return Fault::Reject;
        }
        if self.rng.chance(timeout) {
            return Fault::TimeoutAfterAccept;
        }
        Fault::None
    }

    fn latency(&mut self) -> Option<Duration> {
        let (lo, hi) = self.cfg.latency_ms;
        if hi == 0 {
            return None;
        }
        let span = hi.saturating_sub(lo);
        Some(Duration::from_millis(lo + self.rng.below_inclusive(span)))
    }
}

/// A [`Simulator`] shared behind the [`Broker`] trait (`Arc<dyn Broker>`). Prices arrive through
/// [`SimBroker::push_bar`] / [`SimBroker::push_tick`]; `bars()` answers only from bars already
/// pushed or seeded, so nothing looks ahead.
pub struct SimBroker {
    state: Mutex<State>,
    faults: Mutex<Faults>,
}

impl std::fmt::Debug for SimBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimBroker").finish_non_exhaustive()
    }
}

impl SimBroker {
    pub fn new(sim: Simulator) -> Self {
        Self {
            state: Mutex::new(State {
                sim,
                history: HashMap::new(),
                forming: HashMap::new(),
            }),
            faults: Mutex::new(Faults {
                cfg: FaultConfig::default(),
                rng: SplitMix64::new(0),
            }),
        }
    }

    /// Turns on seeded fault injection for trade requests.
    pub fn with_faults(self, cfg: FaultConfig) -> Self {
        *lock(&self.faults) = Faults {
            rng: SplitMix64::new(cfg.seed),
            cfg,
        };
        self
    }

    /// Runs `f` on the simulator (to inspect it, or to drive it synchronously).
    pub fn with_sim<R>(&self, f: impl FnOnce(&mut Simulator) -> R) -> R {
        f(&mut lock(&self.state).sim)
    }

    /// Processes a closed bar of `timeframe` for `symbol` and adds it to the history `bars()`
    /// serves. Bars must be valid and arrive in time order. Every pushed bar moves prices and
    /// triggers orders, so push one timeframe per symbol (the finest one traded); give the others
    /// with [`SimBroker::seed_history`].
    pub fn push_bar(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        bar: Bar,
    ) -> Result<(), SimError> {
        self.open_bar(symbol, timeframe, bar)?;
        self.close_bar(symbol, timeframe)?;
        Ok(())
    }

    /// Starts a bar, as a terminal sees the first tick of a new bar: time moves to its open, the
    /// quote becomes the open, and what the open gapped through fills. Orders sent now fill at
    /// the open. The bar is not in `bars()` until [`SimBroker::close_bar`], so nothing can read its
    /// high, low or close early.
    pub fn open_bar(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        bar: Bar,
    ) -> Result<(), SimError> {
        bar.validate().map_err(|source| SimError::InvalidBar {
            symbol: symbol.clone(),
            source,
        })?;
        let mut st = lock(&self.state);
        let id = st
            .sim
            .symbol_id(symbol)
            .ok_or_else(|| SimError::UnknownSymbol(symbol.clone()))?;
        if bar.time < st.sim.now() {
            return Err(SimError::OutOfOrder {
                symbol: symbol.clone(),
                time: bar.time,
                now: st.sim.now(),
            });
        }
        st.sim.begin_bar(id, &bar);
        st.forming.insert((symbol.clone(), timeframe), bar);
        Ok(())
    }

    /// Finishes the bar begun with [`SimBroker::open_bar`]: stops and limits trigger along its
    /// path, the quote moves to its close, and the bar joins the history. `false` when no bar of
    /// `symbol` was forming.
    pub fn close_bar(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<bool, SimError> {
        let mut st = lock(&self.state);
        let id = st
            .sim
            .symbol_id(symbol)
            .ok_or_else(|| SimError::UnknownSymbol(symbol.clone()))?;
        let Some(bar) = st.forming.remove(&(symbol.clone(), timeframe)) else {
            return Ok(false);
        };
        st.sim.finish_bar(id);
        st.history
            .entry((symbol.clone(), timeframe))
            .or_default()
            .push(bar);
        Ok(true)
    }

    /// Adds bars from before the session to the history without trading through them (indicator
    /// warm-up).
    pub fn seed_history(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        bars: &[Bar],
    ) -> Result<(), SimError> {
        let mut st = lock(&self.state);
        if st.sim.symbol_id(symbol).is_none() {
            return Err(SimError::UnknownSymbol(symbol.clone()));
        }
        for b in bars {
            b.validate().map_err(|source| SimError::InvalidBar {
                symbol: symbol.clone(),
                source,
            })?;
        }
        st.history
            .entry((symbol.clone(), timeframe))
            .or_default()
            .extend_from_slice(bars);
        Ok(())
    }

    /// Processes a quote.
    pub fn push_tick(&self, symbol: &Symbol, tick: Tick) -> Result<(), SimError> {
        let mut st = lock(&self.state);
        let id = st
            .sim
            .symbol_id(symbol)
            .ok_or_else(|| SimError::UnknownSymbol(symbol.clone()))?;
        st.sim.on_tick(id, &tick);
        Ok(())
    }

    async fn trade(
        &self,
        is_market_order: bool,
        op: impl FnOnce(&mut Simulator) -> Result<OrderOutcome, BrokerError>,
    ) -> Result<OrderOutcome, BrokerError> {
        let (delay, fault) = {
            let mut f = lock(&self.faults);
            (f.latency(), f.roll(is_market_order))
        };
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        match fault {
            Fault::Requote => {
                return Err(BrokerError::rejected(
                    Retcode::Requote,
                    "requote (injected)",
                ));
            }
            Fault::Reject => {
                return Err(BrokerError::rejected(
                    Retcode::Reject,
                    "rejected (injected)",
                ));
            }
            Fault::DisconnectBefore => {
                return Err(BrokerError::Disconnected {
                    detail: "injected before sending".into(),
                    after_send: false,
                });
            }
            _ => {}
        }
        let result = op(&mut lock(&self.state).sim);
        match fault {
            Fault::TimeoutAfterAccept => Err(BrokerError::Timeout {
                millis: 0,
                after_send: true,
            }),
            Fault::DisconnectAfter => Err(BrokerError::Disconnected {
                detail: "injected after sending".into(),
                after_send: true,
            }),
            _ => result,
        }
    }

    async fn read<R>(&self, op: impl FnOnce(&State) -> R) -> R {
        let delay = lock(&self.faults).latency();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        op(&lock(&self.state))
    }
}

/// A poisoned lock only means another caller panicked mid-call; the simulator's state is still
/// consistent between calls, so keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn symbol_id(sim: &Simulator, symbol: &Symbol) -> Result<crate::SymbolId, BrokerError> {
    sim.symbol_id(symbol)
        .ok_or_else(|| BrokerError::UnknownSymbol(symbol.clone()))
}

#[async_trait]
impl Broker for SimBroker {
    async fn account(&self) -> Result<AccountInfo, BrokerError> {
        Ok(self.read(|s| s.sim.account()).await)
    }

    async fn symbol_spec(&self, symbol: &Symbol) -> Result<SymbolSpec, BrokerError> {
        self.read(|s| symbol_id(&s.sim, symbol).map(|id| s.sim.spec(id).clone()))
            .await
    }

    async fn last_tick(&self, symbol: &Symbol) -> Result<Tick, BrokerError> {
        self.read(|s| {
            let id = symbol_id(&s.sim, symbol)?;
            s.sim.tick(id).ok_or_else(|| {
                BrokerError::rejected(Retcode::PriceOff, format!("no quotes for {symbol} yet"))
            })
        })
        .await
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: BarRange,
    ) -> Result<Vec<Bar>, BrokerError> {
        self.read(|s| {
            symbol_id(&s.sim, symbol)?;
            let all = s
                .history
                .get(&(symbol.clone(), timeframe))
                .map_or(&[][..], Vec::as_slice);
            Ok(match range {
                BarRange::Last(n) => all[all.len().saturating_sub(n)..].to_vec(),
                BarRange::Between(from, to) => all
                    .iter()
                    .filter(|b| b.time >= from && b.time <= to)
                    .copied()
                    .collect(),
            })
        })
        .await
    }

    async fn positions(&self) -> Result<Vec<Position>, BrokerError> {
        Ok(self.read(|s| s.sim.positions()).await)
    }

    async fn pending_orders(&self) -> Result<Vec<PendingOrder>, BrokerError> {
        Ok(self.read(|s| s.sim.pending_orders()).await)
    }

    async fn deals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Deal>, BrokerError> {
        Ok(self
            .read(|s| {
                s.sim
                    .deals()
                    .iter()
                    .filter(|d| d.time >= from && d.time <= to)
                    .cloned()
                    .collect()
            })
            .await)
    }

    async fn send_order(&self, request: &OrderRequest) -> Result<OrderOutcome, BrokerError> {
        self.trade(request.kind == OrderKind::Market, |sim| {
            sim.send_order(request)
        })
        .await
    }

    async fn modify_position(
        &self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        self.trade(false, |sim| sim.modify_position(ticket, sl, tp))
            .await
    }

    async fn close_position(
        &self,
        ticket: Ticket,
        volume: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        self.trade(true, |sim| sim.close_position(ticket, volume))
            .await
    }

    async fn cancel_order(&self, ticket: Ticket) -> Result<OrderOutcome, BrokerError> {
        self.trade(false, |sim| sim.cancel_order(ticket)).await
    }
}
