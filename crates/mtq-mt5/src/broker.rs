//! [`Mt5Broker`]: the [`Broker`] trait over the bridge.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mtq_connector::{BarRange, Broker, BrokerError};
use mtq_core::{
    AccountInfo, Bar, Deal, Decimal, OrderOutcome, OrderRequest, PendingOrder, Position, Retcode,
    Symbol, SymbolSpec, Tick, Ticket, Timeframe,
};
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::Mt5Error;
use crate::config::Mt5Config;
use crate::events::Mt5Event;
use crate::protocol::{Hello, RequestKind, period_name};
use crate::session::{Reply, Session, SessionStats};
use crate::symbols::{SymbolSource, discover};
use crate::trade;
use crate::wire::{self, WireError};

/// Bars asked for in one request; larger ranges are split so each reply stays far below the
/// line cap (10,000 bars are about 1.2 MB of JSON).
const BARS_PER_REQUEST: usize = 10_000;

/// `ERR_MARKET_UNKNOWN_SYMBOL`: the terminal has no symbol of that name.
const ERR_MARKET_UNKNOWN_SYMBOL: i64 = 4301;
/// `ERR_MARKET_NOT_SELECTED`: the symbol exists but is not in Market Watch.
const ERR_MARKET_NOT_SELECTED: i64 = 4302;

/// Default price deviation for closing positions, in points.
const CLOSE_DEVIATION_POINTS: u32 = 20;

/// The result of `OrderCheck`: whether the request would pass, and the account after it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderCheck {
    /// 0 when the check passed (`MqlTradeCheckResult::retcode`).
    pub retcode: Retcode,
    pub balance: Decimal,
    pub equity: Decimal,
    pub margin: Decimal,
    pub margin_free: Decimal,
    pub comment: String,
}

struct CachedSpec {
    read_at: Instant,
    spec: SymbolSpec,
    broker_name: String,
}

/// How an MTQ symbol maps to the broker's, as resolved by [`Mt5Broker::resolve_symbol`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSymbol {
    /// The broker's name (`EURUSD.m`).
    pub broker: String,
    pub source: SymbolSource,
    /// The symbol was not in Market Watch and MTQ added it (`symbol_select`).
    pub added_to_market_watch: bool,
}

/// What `symbol_info` said about one broker name.
enum Lookup {
    Found {
        spec: SymbolSpec,
        selected: bool,
    },
    Unknown,
    /// Error 4302: the terminal knows the symbol but will not describe it outside Market Watch.
    NotSelected,
}

/// The MT5 connector: listens on 127.0.0.1 for the MtqBridge EA and implements [`Broker`].
///
/// Dropping it stops listening and closes the terminal connection.
pub struct Mt5Broker {
    session: Arc<Session>,
    port: u16,
    acceptor: JoinHandle<()>,
    specs: Mutex<HashMap<Symbol, CachedSpec>>,
    /// How each symbol was resolved, for `check`.
    resolved: Mutex<HashMap<Symbol, ResolvedSymbol>>,
}

impl std::fmt::Debug for Mt5Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mt5Broker")
            .field("port", &self.port)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Drop for Mt5Broker {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.session.disconnect();
    }
}

fn protocol(what: &str, e: &WireError) -> BrokerError {
    BrokerError::Protocol(format!("{what} reply: {e}"))
}

impl Mt5Broker {
    /// Binds 127.0.0.1:`cfg.port` and starts accepting the bridge. Returns at once; use
    /// [`Mt5Broker::wait_connected`] to wait for the terminal.
    pub async fn listen(cfg: Mt5Config) -> Result<Self, Mt5Error> {
        cfg.validate()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, cfg.port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Mt5Error::Bind {
                port: cfg.port,
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| Mt5Error::Bind {
                port: cfg.port,
                source,
            })?
            .port();
        info!(port, "waiting for the MT5 bridge on 127.0.0.1");
        let session = Session::new(cfg);
        let acceptor = tokio::spawn(Arc::clone(&session).accept_loop(listener));
        Ok(Self {
            session,
            port,
            acceptor,
            specs: Mutex::new(HashMap::new()),
            resolved: Mutex::new(HashMap::new()),
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn local_port(&self) -> u16 {
        self.port
    }

    /// Waits until a terminal has connected and authenticated; returns its hello.
    pub async fn wait_connected(&self, limit: Duration) -> Result<Hello, Mt5Error> {
        self.session
            .wait_connected(limit)
            .await
            .ok_or(Mt5Error::NotConnected {
                waited: limit,
                port: self.port,
            })
    }

    /// Waits until no terminal is connected (after a disconnect or heartbeat timeout).
    pub async fn wait_disconnected(&self, limit: Duration) -> Result<(), Mt5Error> {
        let mut rx = self.session.subscribe_state();
        let wait = async {
            loop {
                if rx.borrow_and_update().is_none() {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(limit, wait)
            .await
            .map_err(|_| Mt5Error::StillConnected { waited: limit })
    }

    /// The connected terminal's hello, `None` while disconnected.
    pub fn hello(&self) -> Option<Hello> {
        self.session.hello()
    }

    pub fn is_connected(&self) -> bool {
        self.session.hello().is_some()
    }

    /// Connection counters: connections, refusals, malformed lines survived, late replies.
    pub fn stats(&self) -> SessionStats {
        self.session.stats()
    }

    /// Connection changes, ticks and trade transactions as they arrive.
    pub fn events(&self) -> broadcast::Receiver<Mt5Event> {
        self.session.events.subscribe()
    }

    /// Closes the terminal connection (the EA will reconnect).
    pub fn disconnect(&self) {
        self.session.disconnect();
    }

    /// The trade server's current offset from UTC, in seconds.
    pub fn server_offset_secs(&self) -> i64 {
        self.session.server_time().offset_secs
    }

    /// The broker's name for an MTQ symbol (after resolving it once).
    pub async fn broker_symbol(&self, symbol: &Symbol) -> Result<String, BrokerError> {
        Ok(self.spec(symbol).await?.1)
    }

    /// The broker's name for an MTQ symbol, how it was found (explicit map, suffix, as is, or
    /// discovery), and whether MTQ had to add it to Market Watch.
    pub async fn resolve_symbol(&self, symbol: &Symbol) -> Result<ResolvedSymbol, BrokerError> {
        let (_, broker) = self.spec(symbol).await?;
        let resolved = self
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(symbol)
            .cloned();
        Ok(resolved.unwrap_or(ResolvedSymbol {
            broker,
            source: self.session.names.configured_name(symbol).1,
            added_to_market_watch: false,
        }))
    }

    /// Asks the bridge to push ticks of these symbols as [`Mt5Event::Tick`].
    pub async fn subscribe_ticks(&self, symbols: &[Symbol]) -> Result<(), BrokerError> {
        let mut names = Vec::with_capacity(symbols.len());
        for s in symbols {
            names.push(Value::from(self.broker_symbol(s).await?));
        }
        let mut f = Map::new();
        f.insert("symbols".into(), Value::Array(names));
        self.data(RequestKind::Subscribe, f).await.map(|_| ())
    }

    /// `OrderCheck` for a request, after the same preparation as [`Broker::send_order`].
    pub async fn order_check(&self, req: &OrderRequest) -> Result<OrderCheck, BrokerError> {
        let (spec, name) = self.spec(&req.symbol).await?;
        let tick = self.last_tick(&req.symbol).await?;
        let f = trade::prepare_order(req, &spec, &name, &tick, self.session.server_time())?;
        let reply = self.data(RequestKind::OrderCheck, f).await?;
        let parse = || -> Result<OrderCheck, WireError> {
            let o = reply.data.as_object().ok_or(WireError::Missing("data"))?;
            Ok(OrderCheck {
                retcode: Retcode::from_code(reply.retcode),
                balance: wire::field_dec(o, "balance")?,
                equity: wire::field_dec(o, "equity")?,
                margin: wire::field_dec(o, "margin")?,
                margin_free: wire::field_dec(o, "margin_free")?,
                comment: reply.comment.clone(),
            })
        };
        parse().map_err(|e| protocol("order_check", &e))
    }

    /// A data request that must succeed (`error` 0).
    async fn data(&self, kind: RequestKind, f: Map<String, Value>) -> Result<Reply, BrokerError> {
        let reply = self.session.call(kind, f).await?;
        if reply.error != 0 {
            return Err(BrokerError::Protocol(format!(
                "the terminal could not answer {}: error {} {}",
                kind.name(),
                reply.error,
                reply.comment
            )));
        }
        Ok(reply)
    }

    fn cached(&self, symbol: &Symbol) -> Option<(SymbolSpec, String)> {
        let specs = self
            .specs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        specs
            .get(symbol)
            .filter(|c| c.read_at.elapsed() < self.session.cfg.spec_ttl)
            .map(|c| (c.spec.clone(), c.broker_name.clone()))
    }

    /// `symbol_info` for a broker name.
    async fn symbol_info(&self, mtq: &Symbol, name: &str) -> Result<Lookup, BrokerError> {
        let mut f = Map::new();
        f.insert("symbol".into(), name.into());
        let reply = self.session.call(RequestKind::SymbolInfo, f).await?;
        match reply.error {
            0 => {}
            ERR_MARKET_UNKNOWN_SYMBOL => return Ok(Lookup::Unknown),
            ERR_MARKET_NOT_SELECTED => return Ok(Lookup::NotSelected),
            e => {
                return Err(BrokerError::Protocol(format!(
                    "symbol_info {name}: terminal error {e} {}",
                    reply.comment
                )));
            }
        }
        let spec = wire::symbol_spec(&reply.data, mtq).map_err(|e| protocol("symbol_info", &e))?;
        let selected = reply
            .data
            .get("select")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        Ok(Lookup::Found { spec, selected })
    }

    /// `SymbolSelect(name, true)`: puts a symbol in Market Watch (quotes, bars and trading need it).
    async fn select(&self, symbol: &Symbol, name: &str) -> Result<(), BrokerError> {
        let mut f = Map::new();
        f.insert("symbol".into(), name.into());
        f.insert("enable".into(), true.into());
        let reply = self.session.call(RequestKind::SymbolSelect, f).await?;
        if reply.error != 0 {
            return Err(BrokerError::Protocol(format!(
                "symbol {symbol} ({name} at the broker) is not in Market Watch and the terminal \
                 refused to add it (error {} {}): add it by hand (Market Watch > Symbols)",
                reply.error, reply.comment
            )));
        }
        info!(%symbol, broker = %name, "added to Market Watch");
        Ok(())
    }

    /// The spec of a broker name, put in Market Watch when it was not; `None` when unknown.
    async fn lookup(
        &self,
        symbol: &Symbol,
        name: &str,
    ) -> Result<Option<(SymbolSpec, bool)>, BrokerError> {
        match self.symbol_info(symbol, name).await? {
            Lookup::Unknown => Ok(None),
            Lookup::Found {
                spec,
                selected: true,
            } => Ok(Some((spec, false))),
            Lookup::Found {
                spec,
                selected: false,
            } => {
                self.select(symbol, name).await?;
                Ok(Some((spec, true)))
            }
            Lookup::NotSelected => {
                self.select(symbol, name).await?;
                match self.symbol_info(symbol, name).await? {
                    Lookup::Found { spec, .. } => Ok(Some((spec, true))),
                    Lookup::Unknown => Ok(None),
                    Lookup::NotSelected => Err(BrokerError::Protocol(format!(
                        "symbol_info {name}: still error 4302 (not in Market Watch) after symbol_select"
                    ))),
                }
            }
        }
    }

    /// The broker's list of symbol names, read once.
    async fn symbol_list(&self) -> Result<Vec<(String, bool)>, BrokerError> {
        let list = self.data(RequestKind::Symbols, Map::new()).await?;
        wire::symbol_list(&list.data).map_err(|e| protocol("symbols", &e))
    }

    /// The symbol's spec and broker name: cached, else resolved (explicit map, else suffix, else
    /// the name as is and then discovery) and put in Market Watch.
    async fn spec(&self, symbol: &Symbol) -> Result<(SymbolSpec, String), BrokerError> {
        if let Some(hit) = self.cached(symbol) {
            return Ok(hit);
        }
        let names = &self.session.names;
        let known = names.broker_name(symbol);
        let (mut name, mut source) = names.configured_name(symbol);
        if let Some(r) = self.resolved_as(symbol)
            && r.broker == known
        {
            (name, source) = (r.broker, r.source);
        }
        let mut found = self.lookup(symbol, &name).await?;
        if found.is_none() && source == SymbolSource::AsIs && names.discovery_enabled() {
            let list = self.symbol_list().await?;
            match discover(&list, symbol.as_str()) {
                Ok(n) => {
                    info!(%symbol, broker = %n, "symbol found in the broker's list");
                    name = n;
                    source = SymbolSource::Discovered;
                    found = self.lookup(symbol, &name).await?;
                }
                Err(candidates) if candidates.len() > 1 => {
                    return Err(BrokerError::AmbiguousSymbol {
                        symbol: symbol.clone(),
                        candidates,
                    });
                }
                Err(_) => {}
            }
        }
        let Some((spec, added)) = found else {
            warn!(%symbol, broker = %name, how = %source, "the terminal does not know this symbol");
            return Err(BrokerError::UnknownSymbol(symbol.clone()));
        };
        names.learn(symbol, &name);
        self.resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(symbol.clone())
            .and_modify(|r| r.added_to_market_watch |= added)
            .or_insert(ResolvedSymbol {
                broker: name.clone(),
                source,
                added_to_market_watch: added,
            });
        let mut specs = self
            .specs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        specs.insert(
            symbol.clone(),
            CachedSpec {
                read_at: Instant::now(),
                spec: spec.clone(),
                broker_name: name.clone(),
            },
        );
        Ok((spec, name))
    }

    fn resolved_as(&self, symbol: &Symbol) -> Option<ResolvedSymbol> {
        self.resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(symbol)
            .cloned()
    }

    async fn rates(
        &self,
        name: &str,
        tf: Timeframe,
        window: RatesWindow,
    ) -> Result<Vec<Bar>, BrokerError> {
        let mut f = Map::new();
        f.insert("symbol".into(), name.into());
        f.insert("timeframe".into(), period_name(tf).into());
        match window {
            RatesWindow::Positions { start, count } => {
                f.insert("start".into(), start.into());
                f.insert("count".into(), count.into());
            }
            RatesWindow::Times { from, to } => {
                let st = self.session.server_time();
                f.insert("from".into(), st.server_secs(from).into());
                f.insert("to".into(), st.server_secs(to).into());
            }
        }
        let reply = self.session.call(RequestKind::Rates, f).await?;
        match reply.error {
            0 => {}
            ERR_MARKET_UNKNOWN_SYMBOL | ERR_MARKET_NOT_SELECTED => {
                return Err(BrokerError::Protocol(format!(
                    "rates: the terminal does not offer {name} (error {})",
                    reply.error
                )));
            }
            // No history in the range is an empty answer, not a failure.
            _ if reply.data.as_array().is_some_and(Vec::is_empty) => return Ok(Vec::new()),
            e => {
                return Err(BrokerError::Protocol(format!(
                    "rates {name}: terminal error {e} {}",
                    reply.comment
                )));
            }
        }
        wire::bars(&reply.data, self.session.server_time()).map_err(|e| protocol("rates", &e))
    }

    fn rename(&self) -> impl Fn(Symbol) -> Symbol + '_ {
        |s| self.session.names.mtq_name(s)
    }

    async fn position(&self, ticket: Ticket) -> Result<Position, BrokerError> {
        self.positions()
            .await?
            .into_iter()
            .find(|p| p.ticket == ticket)
            .ok_or(BrokerError::NotFound(ticket))
    }

    /// Sends a trade request and reads its `MqlTradeResult`.
    async fn trade(
        &self,
        kind: RequestKind,
        f: Map<String, Value>,
    ) -> Result<OrderOutcome, BrokerError> {
        let reply = self.session.call(kind, f).await?;
        let code = Retcode::from_code(reply.retcode);
        if reply.retcode == 0 {
            return Err(BrokerError::rejected(
                code,
                format!(
                    "OrderSend failed in the terminal before reaching the server: error {}: {}",
                    reply.error, reply.comment
                ),
            ));
        }
        if !code.is_success() {
            let hint = match code {
                Retcode::ClientDisablesAutoTrading => {
                    " (press Algo Trading in the terminal's toolbar and tick \"Allow Algo Trading\" in the EA's properties)"
                }
                Retcode::InvalidFill => {
                    " (the broker refused the filling mode its SYMBOL_FILLING_MODE allows)"
                }
                _ => "",
            };
            return Err(BrokerError::rejected(
                code,
                format!(
                    "{}{hint}; retcode_external {}",
                    reply.comment, reply.retcode_external
                ),
            ));
        }
        let parse = || -> Result<OrderOutcome, WireError> {
            let o = reply.data.as_object().ok_or(WireError::Missing("data"))?;
            let ticket = |f: &'static str| -> Result<Option<Ticket>, WireError> {
                Ok(wire::opt_i64(o, f)?
                    .and_then(|t| u64::try_from(t).ok())
                    .filter(|t| *t != 0)
                    .map(Ticket))
            };
            let time = match wire::opt_i64(o, "time")? {
                Some(t) => self.session.server_time().utc_from_secs("time", t)?,
                None => Utc::now(),
            };
            Ok(OrderOutcome {
                retcode: code,
                deal: ticket("deal")?,
                order: ticket("order")?,
                position: ticket("position")?,
                volume: wire::field_dec(o, "volume")?,
                price: wire::field_dec(o, "price")?,
                bid: wire::field_dec(o, "bid")?,
                ask: wire::field_dec(o, "ask")?,
                comment: reply.comment.clone(),
                time,
            })
        };
        // The request executed: a reply we cannot read must not look like a refusal.
        parse().map_err(|e| BrokerError::Disconnected {
            detail: format!(
                "{} executed (retcode {code}) but its reply is unreadable: {e}",
                kind.name()
            ),
            after_send: true,
        })
    }
}

enum RatesWindow {
    Positions {
        start: usize,
        count: usize,
    },
    Times {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

/// Bars sorted by time with duplicates (from overlapping chunks) removed.
fn merge_bars(mut bars: Vec<Bar>) -> Vec<Bar> {
    bars.sort_by_key(|b| b.time);
    bars.dedup_by_key(|b| b.time);
    bars
}

#[async_trait]
impl Broker for Mt5Broker {
    async fn account(&self) -> Result<AccountInfo, BrokerError> {
        let reply = self.data(RequestKind::Account, Map::new()).await?;
        wire::account(&reply.data).map_err(|e| protocol("account", &e))
    }

    async fn symbol_spec(&self, symbol: &Symbol) -> Result<SymbolSpec, BrokerError> {
        Ok(self.spec(symbol).await?.0)
    }

    async fn last_tick(&self, symbol: &Symbol) -> Result<Tick, BrokerError> {
        let name = self.broker_symbol(symbol).await?;
        let mut f = Map::new();
        f.insert("symbol".into(), name.into());
        let reply = self.data(RequestKind::Tick, f).await?;
        wire::tick(&reply.data, self.session.server_time()).map_err(|e| protocol("tick", &e))
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: BarRange,
    ) -> Result<Vec<Bar>, BrokerError> {
        let name = self.broker_symbol(symbol).await?;
        let mut all = Vec::new();
        match range {
            BarRange::Last(n) => {
                let mut start = 0;
                while start < n {
                    let count = (n - start).min(BARS_PER_REQUEST);
                    let chunk = self
                        .rates(&name, timeframe, RatesWindow::Positions { start, count })
                        .await?;
                    let short = chunk.len() < count;
                    all.extend(chunk);
                    if short {
                        break;
                    }
                    start += count;
                }
            }
            BarRange::Between(from, to) => {
                let span =
                    timeframe.duration() * i32::try_from(BARS_PER_REQUEST).unwrap_or(i32::MAX);
                let mut at = from;
                while at <= to {
                    let end = (at + span).min(to);
                    all.extend(
                        self.rates(&name, timeframe, RatesWindow::Times { from: at, to: end })
                            .await?,
                    );
                    at = end + chrono::Duration::seconds(1);
                }
            }
        }
        Ok(merge_bars(all))
    }

    async fn positions(&self) -> Result<Vec<Position>, BrokerError> {
        let reply = self.data(RequestKind::Positions, Map::new()).await?;
        wire::positions(&reply.data, self.session.server_time(), &self.rename())
            .map_err(|e| protocol("positions", &e))
    }

    async fn pending_orders(&self) -> Result<Vec<PendingOrder>, BrokerError> {
        let reply = self.data(RequestKind::Orders, Map::new()).await?;
        wire::orders(&reply.data, self.session.server_time(), &self.rename())
            .map_err(|e| protocol("orders", &e))
    }

    async fn deals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Deal>, BrokerError> {
        let st = self.session.server_time();
        let mut f = Map::new();
        f.insert("from".into(), st.server_secs(from).into());
        f.insert("to".into(), st.server_secs(to).into());
        let reply = self.data(RequestKind::HistoryDeals, f).await?;
        wire::deals(&reply.data, st, &self.rename()).map_err(|e| protocol("history_deals", &e))
    }

    async fn send_order(&self, request: &OrderRequest) -> Result<OrderOutcome, BrokerError> {
        let (spec, name) = self.spec(&request.symbol).await?;
        let tick = self.last_tick(&request.symbol).await?;
        let f = trade::prepare_order(request, &spec, &name, &tick, self.session.server_time())?;
        debug!(client_order_id = %request.client_order_id, symbol = %request.symbol, "order_send");
        self.trade(RequestKind::OrderSend, f).await
    }

    async fn modify_position(
        &self,
        ticket: Ticket,
        sl: Option<Decimal>,
        tp: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        let pos = self.position(ticket).await?;
        let (spec, name) = self.spec(&pos.symbol).await?;
        let tick = self.last_tick(&pos.symbol).await?;
        let f = trade::prepare_modify(&pos, &spec, &name, &tick, sl, tp)?;
        self.trade(RequestKind::PositionModify, f).await
    }

    async fn close_position(
        &self,
        ticket: Ticket,
        volume: Option<Decimal>,
    ) -> Result<OrderOutcome, BrokerError> {
        let pos = self.position(ticket).await?;
        let (spec, name) = self.spec(&pos.symbol).await?;
        let tick = self.last_tick(&pos.symbol).await?;
        let f = trade::prepare_close(&pos, &spec, &name, &tick, volume, CLOSE_DEVIATION_POINTS)?;
        self.trade(RequestKind::PositionClose, f).await
    }

    async fn cancel_order(&self, ticket: Ticket) -> Result<OrderOutcome, BrokerError> {
        let order = self
            .pending_orders()
            .await?
            .into_iter()
            .find(|o| o.ticket == ticket)
            .ok_or(BrokerError::NotFound(ticket))?;
        let (spec, name) = self.spec(&order.symbol).await?;
        let tick = self.last_tick(&order.symbol).await?;
        let f = trade::prepare_cancel(&order, &spec, &name, &tick)?;
        self.trade(RequestKind::OrderCancel, f).await
    }
}
