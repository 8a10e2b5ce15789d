//! The fake terminal's account, market and trade server: answers requests the way the bridge
//! EA and an MT5 terminal would, and records every request.

use std::collections::{HashMap, VecDeque};

use chrono::Utc;
use mtq_core::{
    Bar, Decimal, ExecutionMode, FillingFlags, MarginMode, Side, SwapMode, SymbolSpec, Timeframe,
    TradeMode,
};
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value, json};

use super::{FakeReaction, Recorded};

/// The account the fake terminal is logged in to.
#[derive(Debug, Clone)]
pub struct FakeAccount {
    pub login: u64,
    pub server: String,
    pub currency: String,
    pub balance: Decimal,
    pub leverage: u32,
    pub margin_mode: MarginMode,
    /// The terminal's Algo Trading button and the EA's "Allow Algo Trading": when false, every
    /// trade request gets 10027.
    pub algo_trading: bool,
    /// The trade server's offset from UTC, seconds.
    pub server_offset_secs: i64,
}

impl Default for FakeAccount {
    fn default() -> Self {
        Self {
            login: 5_001_234,
            server: "MTQ-Fake-Demo".into(),
            currency: "USD".into(),
            balance: Decimal::from(10_000),
            leverage: 100,
            margin_mode: MarginMode::Hedging,
            algo_trading: true,
            server_offset_secs: 7200,
        }
    }
}

/// A symbol the fake offers: its broker name, the spec it reports, and the filling modes its
/// trade server really accepts (a broker may advertise more than it takes).
#[derive(Debug, Clone)]
pub struct FakeSymbol {
    pub name: String,
    pub spec: SymbolSpec,
    /// `SYMBOL_FILLING_*` bits the server accepts; RETURN is accepted outside market execution.
    pub accepted_filling: u32,
    /// In Market Watch.
    pub selected: bool,
}

impl FakeSymbol {
    /// A symbol named `name` at the broker with the built-in spec of its first six letters
    /// (`EURUSD.m` trades like `EURUSD`).
    pub fn forex(name: &str) -> Self {
        let base = name.get(..6).and_then(SymbolSpec::builtin);
        let spec = match (base, mtq_core::Symbol::new(name)) {
            (Some(mut s), Ok(sym)) => {
                s.symbol = sym;
                s
            }
            _ => SymbolSpec::builtin("EURUSD").unwrap_or_else(|| {
                unreachable!("EURUSD is a built-in spec") // mtq-core ships it
            }),
        };
        Self {
            name: name.to_string(),
            accepted_filling: spec.filling.0,
            spec,
            selected: true,
        }
    }

    /// The same symbol, not in Market Watch: `symbol_info` answers with `select: false` (or
    /// 4302, see [`crate::fake::FakeTerminal::set_symbol_info_needs_market_watch`]).
    pub fn outside_market_watch(mut self) -> Self {
        self.selected = false;
        self
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FakePosition {
    pub ticket: u64,
    pub symbol: String,
    pub side: Side,
    pub volume: Decimal,
    pub price_open: Decimal,
    pub sl: Decimal,
    pub tp: Decimal,
    pub time_msc: i64,
    pub magic: u64,
    pub comment: String,
}

#[derive(Debug, Clone)]
pub(crate) struct FakeOrder {
    pub ticket: u64,
    pub symbol: String,
    pub order_type: String,
    pub volume: Decimal,
    pub price: Decimal,
    pub stoplimit: Decimal,
    pub sl: Decimal,
    pub tp: Decimal,
    pub time_msc: i64,
    pub expiration: i64,
    pub magic: u64,
    pub comment: String,
}

/// A market fill the trade server applies to the book.
#[derive(Debug, Clone)]
pub(crate) struct Fill {
    pub symbol: String,
    pub side: Side,
    pub volume: Decimal,
    pub price: Decimal,
    pub order: u64,
    pub magic: u64,
    pub comment: String,
    pub sl: Decimal,
    pub tp: Decimal,
    pub contract: Decimal,
}

#[derive(Debug, Clone)]
pub(crate) struct FakeDeal {
    pub ticket: u64,
    pub order: u64,
    pub position: u64,
    pub symbol: String,
    pub side: Side,
    pub entry: &'static str,
    pub volume: Decimal,
    pub price: Decimal,
    pub profit: Decimal,
    pub time_msc: i64,
    pub magic: u64,
    pub comment: String,
}

/// What the connection task does after a request.
#[derive(Debug)]
pub(crate) enum Action {
    Reply(String),
    /// Drop the connection without answering.
    Disconnect,
    /// Answer nothing.
    Nothing,
}

#[derive(Debug)]
pub(crate) struct State {
    pub account: FakeAccount,
    pub symbols: Vec<FakeSymbol>,
    pub quotes: HashMap<String, (f64, f64)>,
    pub rates: HashMap<(String, Timeframe), Vec<Bar>>,
    pub positions: Vec<FakePosition>,
    pub orders: Vec<FakeOrder>,
    pub deals: Vec<FakeDeal>,
    pub next_ticket: u64,
    pub recorded: Vec<Recorded>,
    pub reactions: HashMap<String, VecDeque<FakeReaction>>,
    pub subscribed: Vec<String>,
    /// `symbol_info` of a symbol outside Market Watch fails with 4302 instead of answering.
    pub symbol_info_needs_market_watch: bool,
    /// Symbols the bridge put in Market Watch itself because a request named them.
    pub auto_selected: Vec<String>,
    /// Broker symbols whose market is closed: every trade request for them gets 10018.
    pub closed_markets: std::collections::HashSet<String>,
}

fn num(d: Decimal) -> Value {
    d.to_f64().map_or(Value::Null, Value::from)
}

fn dec(v: Option<&Value>) -> Decimal {
    v.and_then(Value::as_f64)
        .and_then(|x| x.to_string().parse().ok())
        .unwrap_or_default()
}

fn text<'a>(o: &'a Map<String, Value>, f: &str) -> &'a str {
    o.get(f).and_then(Value::as_str).unwrap_or("")
}

fn int(o: &Map<String, Value>, f: &str) -> u64 {
    o.get(f).and_then(Value::as_u64).unwrap_or(0)
}

fn exec_name(e: ExecutionMode) -> &'static str {
    match e {
        ExecutionMode::Request => "SYMBOL_TRADE_EXECUTION_REQUEST",
        ExecutionMode::Instant => "SYMBOL_TRADE_EXECUTION_INSTANT",
        ExecutionMode::Market => "SYMBOL_TRADE_EXECUTION_MARKET",
        ExecutionMode::Exchange => "SYMBOL_TRADE_EXECUTION_EXCHANGE",
    }
}

fn day_name(d: chrono::Weekday) -> &'static str {
    use chrono::Weekday::{Fri, Mon, Sat, Sun, Thu, Tue, Wed};
    match d {
        Sun => "SUNDAY",
        Mon => "MONDAY",
        Tue => "TUESDAY",
        Wed => "WEDNESDAY",
        Thu => "THURSDAY",
        Fri => "FRIDAY",
        Sat => "SATURDAY",
    }
}

fn trade_mode_name(m: TradeMode) -> &'static str {
    match m {
        TradeMode::Disabled => "SYMBOL_TRADE_MODE_DISABLED",
        TradeMode::LongOnly => "SYMBOL_TRADE_MODE_LONGONLY",
        TradeMode::ShortOnly => "SYMBOL_TRADE_MODE_SHORTONLY",
        TradeMode::CloseOnly => "SYMBOL_TRADE_MODE_CLOSEONLY",
        TradeMode::Full => "SYMBOL_TRADE_MODE_FULL",
    }
}

fn swap_name(m: SwapMode) -> &'static str {
    match m {
        SwapMode::Disabled => "SYMBOL_SWAP_MODE_DISABLED",
        SwapMode::Points => "SYMBOL_SWAP_MODE_POINTS",
        SwapMode::CurrencySymbol => "SYMBOL_SWAP_MODE_CURRENCY_SYMBOL",
        SwapMode::CurrencyMargin => "SYMBOL_SWAP_MODE_CURRENCY_MARGIN",
        SwapMode::CurrencyDeposit => "SYMBOL_SWAP_MODE_CURRENCY_DEPOSIT",
        SwapMode::CurrencyProfit => "SYMBOL_SWAP_MODE_CURRENCY_PROFIT",
        SwapMode::InterestCurrent => "SYMBOL_SWAP_MODE_INTEREST_CURRENT",
        SwapMode::InterestOpen => "SYMBOL_SWAP_MODE_INTEREST_OPEN",
    }
}

pub(crate) fn margin_mode_name(m: MarginMode) -> &'static str {
    match m {
        MarginMode::Hedging => "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING",
        MarginMode::Netting => "ACCOUNT_MARGIN_MODE_RETAIL_NETTING",
    }
}

fn period(name: &str) -> Option<Timeframe> {
    name.strip_prefix("PERIOD_")?.parse().ok()
}

/// `ERR_MARKET_UNKNOWN_SYMBOL`.
const UNKNOWN_SYMBOL: i64 = 4301;
/// `ERR_MARKET_NOT_SELECTED`.
const NOT_SELECTED: i64 = 4302;
/// `ERR_INVALID_PARAMETER`: a request field the bridge cannot use.
const INVALID_PARAMETER: i64 = 4003;

/// The `MqlTradeRequest::action` each trade request must carry (docs/mt5-bridge.md).
fn action_fits(kind: &str, action: &str) -> bool {
    match kind {
        "order_send" | "order_check" => {
            matches!(action, "TRADE_ACTION_DEAL" | "TRADE_ACTION_PENDING")
        }
        "position_close" => action == "TRADE_ACTION_DEAL",
        "position_modify" => action == "TRADE_ACTION_SLTP",
        "order_cancel" => action == "TRADE_ACTION_REMOVE",
        _ => true,
    }
}

/// `TRADE_RETCODE_MARKET_CLOSED`.
const MARKET_CLOSED: u32 = 10018;

pub(crate) fn reply(id: u64, retcode: u32, error: i64, comment: &str, data: Value) -> String {
    let mut v = json!({"v": 1, "id": id, "type": "reply", "retcode": retcode,
        "retcode_external": 0, "error": error, "comment": comment, "data": data})
    .to_string();
    v.push('\n');
    v
}

impl State {
    pub(crate) fn new(account: FakeAccount, symbols: Vec<FakeSymbol>) -> Self {
        Self {
            account,
            symbols,
            quotes: HashMap::new(),
            rates: HashMap::new(),
            positions: Vec::new(),
            orders: Vec::new(),
            deals: Vec::new(),
            next_ticket: 1000,
            recorded: Vec::new(),
            reactions: HashMap::new(),
            subscribed: Vec::new(),
            symbol_info_needs_market_watch: false,
            auto_selected: Vec::new(),
            closed_markets: std::collections::HashSet::new(),
        }
    }

    pub(crate) fn server_now(&self) -> i64 {
        Utc::now().timestamp() + self.account.server_offset_secs
    }

    fn server_msc(&self) -> i64 {
        Utc::now().timestamp_millis() + self.account.server_offset_secs * 1000
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    fn symbol(&self, name: &str) -> Option<&FakeSymbol> {
        self.symbols.iter().find(|s| s.name == name)
    }

    pub(crate) fn tick_json(&self, name: &str) -> Option<Value> {
        let (bid, ask) = *self.quotes.get(name)?;
        let msc = self.server_msc();
        Some(
            json!({"symbol": name, "time": msc / 1000, "time_msc": msc, "bid": bid, "ask": ask,
            "last": 0.0, "volume": 0, "flags": 6}),
        )
    }

    fn spec_json(&self, s: &FakeSymbol) -> Value {
        let p = &s.spec;
        json!({"name": s.name, "select": s.selected, "visible": s.selected, "digits": p.digits,
            "point": num(p.point), "trade_tick_size": num(p.tick_size),
            "trade_tick_value": num(p.tick_value), "trade_contract_size": num(p.contract_size),
            "volume_min": num(p.volume_min), "volume_max": num(p.volume_max),
            "volume_step": num(p.volume_step), "trade_stops_level": p.stops_level,
            "trade_freeze_level": p.freeze_level, "filling_mode": p.filling.0,
            "trade_exemode": exec_name(p.execution), "trade_mode": trade_mode_name(p.trade_mode),
            "swap_mode": swap_name(p.swap_mode), "swap_long": num(p.swap_long),
            "swap_short": num(p.swap_short),
            "swap_rollover3days": day_name(p.swap_rollover3days),
            "currency_base": p.base_currency.as_str(), "currency_profit": p.profit_currency.as_str(),
            "currency_margin": p.margin_currency.as_str()})
    }

    /// Handles one request line from the connector.
    pub(crate) fn handle(&mut self, msg: &Map<String, Value>) -> Action {
        let id = int(msg, "id");
        let kind = text(msg, "type").to_string();
        self.recorded.push(Recorded {
            kind: kind.clone(),
            body: Value::Object(msg.clone()),
        });
        let reaction = self.reactions.get_mut(&kind).and_then(VecDeque::pop_front);
        match reaction {
            Some(FakeReaction::Retcode { retcode, comment }) => {
                let q = self
                    .quotes
                    .get(text(msg, "symbol"))
                    .copied()
                    .unwrap_or_default();
                let data = json!({"deal": 0, "order": 0, "volume": 0.0, "price": 0.0,
                    "bid": q.0, "ask": q.1, "request_id": id, "time": self.server_now()});
                return Action::Reply(reply(id, retcode, 0, &comment, data));
            }
            Some(FakeReaction::NoReply) => return Action::Nothing,
            Some(FakeReaction::ExecuteNoReply) => {
                let _ = self.trade(id, &kind, msg, None);
                return Action::Nothing;
            }
            Some(FakeReaction::DisconnectBeforeExecuting) => return Action::Disconnect,
            Some(FakeReaction::ExecuteThenDisconnect) => {
                let _ = self.trade(id, &kind, msg, None);
                return Action::Disconnect;
            }
            Some(FakeReaction::Partial { filled }) => {
                return Action::Reply(self.trade(id, &kind, msg, Some(filled)));
            }
            None => {}
        }
        let ok = |data: Value| Action::Reply(reply(id, 0, 0, "", data));
        if !action_fits(&kind, text(msg, "action")) {
            let comment = format!("action {:?} does not fit {kind}", text(msg, "action"));
            return Action::Reply(reply(id, 0, INVALID_PARAMETER, &comment, Value::Null));
        }
        // As the EA: a request naming a symbol outside Market Watch puts it there first.
        if matches!(
            kind.as_str(),
            "tick"
                | "rates"
                | "order_check"
                | "order_send"
                | "position_modify"
                | "position_close"
                | "order_cancel"
        ) {
            self.auto_select(text(msg, "symbol"));
        }
        if kind == "subscribe" {
            let names: Vec<String> = msg
                .get("symbols")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect();
            names.iter().for_each(|n| self.auto_select(n));
        }
        match kind.as_str() {
            "account" => {
                let a = &self.account;
                let (margin, profit) = (Decimal::ZERO, Decimal::ZERO);
                ok(
                    json!({"login": a.login, "server": a.server, "currency": a.currency,
                    "balance": num(a.balance), "equity": num(a.balance + profit),
                    "margin": num(margin), "margin_free": num(a.balance), "margin_level": 0.0,
                    "leverage": a.leverage, "margin_mode": margin_mode_name(a.margin_mode),
                    "trade_allowed": true, "trade_expert": a.algo_trading}),
                )
            }
            "symbol_info" => match self.symbol(text(msg, "symbol")) {
                Some(s) if !s.selected && self.symbol_info_needs_market_watch => Action::Reply(
                    reply(id, 0, NOT_SELECTED, "symbol not selected", Value::Null),
                ),
                Some(s) => ok(self.spec_json(s)),
                None => Action::Reply(reply(id, 0, UNKNOWN_SYMBOL, "unknown symbol", Value::Null)),
            },
            "symbol_select" => {
                let name = text(msg, "symbol").to_string();
                let enable = msg.get("enable").and_then(Value::as_bool).unwrap_or(true);
                match self.symbols.iter_mut().find(|s| s.name == name) {
                    Some(s) => {
                        s.selected = enable;
                        ok(json!(true))
                    }
                    None => {
                        Action::Reply(reply(id, 0, UNKNOWN_SYMBOL, "unknown symbol", Value::Null))
                    }
                }
            }
            "symbols" => ok(Value::Array(
                self.symbols
                    .iter()
                    .map(|s| json!({"name": s.name, "select": s.selected}))
                    .collect(),
            )),
            "subscribe" => {
                self.subscribed = msg
                    .get("symbols")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                ok(json!(self.subscribed.len()))
            }
            "tick" => match self.tick_json(text(msg, "symbol")) {
                Some(t) => ok(t),
                None => Action::Reply(reply(id, 0, UNKNOWN_SYMBOL, "no quotes", Value::Null)),
            },
            "rates" => ok(self.rates_json(msg)),
            "positions" => ok(self.positions_json()),
            "orders" => ok(self.orders_json()),
            "history_deals" => ok(self.deals_json(msg)),
            "order_check" => ok(json!({"balance": num(self.account.balance),
                "equity": num(self.account.balance), "profit": 0.0, "margin": 0.0,
                "margin_free": num(self.account.balance), "margin_level": 0.0})),
            "order_send" | "position_modify" | "position_close" | "order_cancel" => {
                Action::Reply(self.trade(id, &kind, msg, None))
            }
            _ => Action::Reply(reply(id, 0, 4014, "unknown request type", Value::Null)),
        }
    }

    fn auto_select(&mut self, name: &str) {
        if let Some(s) = self
            .symbols
            .iter_mut()
            .find(|s| s.name == name && !s.selected)
        {
            s.selected = true;
            self.auto_selected.push(name.to_string());
        }
    }

    fn rates_json(&self, msg: &Map<String, Value>) -> Value {
        let Some(tf) = period(text(msg, "timeframe")) else {
            return json!([]);
        };
        let bars = self
            .rates
            .get(&(text(msg, "symbol").to_string(), tf))
            .cloned()
            .unwrap_or_default();
        let off = self.account.server_offset_secs;
        let selected: Vec<Bar> = if msg.contains_key("count") {
            let start = usize::try_from(int(msg, "start")).unwrap_or(usize::MAX);
            let count = usize::try_from(int(msg, "count")).unwrap_or(usize::MAX);
            let end = bars.len().saturating_sub(start);
            let begin = end.saturating_sub(count);
            bars[begin..end].to_vec()
        } else {
            let from = msg.get("from").and_then(Value::as_i64).unwrap_or(0);
            let to = msg.get("to").and_then(Value::as_i64).unwrap_or(0);
            bars.into_iter()
                .filter(|b| (from..=to).contains(&(b.time.timestamp() + off)))
                .collect()
        };
        Value::Array(
            selected
                .iter()
                .map(|b| {
                    json!({"time": b.time.timestamp() + off, "open": b.open, "high": b.high,
                        "low": b.low, "close": b.close, "tick_volume": b.tick_volume,
                        "spread": b.spread, "real_volume": b.real_volume})
                })
                .collect(),
        )
    }

    fn positions_json(&self) -> Value {
        Value::Array(
            self.positions
                .iter()
                .map(|p| {
                    let (bid, ask) = self.quotes.get(&p.symbol).copied().unwrap_or_default();
                    let current = if p.side == Side::Buy { bid } else { ask };
                    json!({"ticket": p.ticket, "identifier": p.ticket, "symbol": p.symbol,
                        "type": if p.side == Side::Buy { "POSITION_TYPE_BUY" } else { "POSITION_TYPE_SELL" },
                        "volume": num(p.volume), "price_open": num(p.price_open),
                        "time": p.time_msc / 1000, "time_msc": p.time_msc, "sl": num(p.sl),
                        "tp": num(p.tp), "price_current": current, "swap": 0.0, "profit": 0.0,
                        "magic": p.magic, "comment": p.comment})
                })
                .collect(),
        )
    }

    fn orders_json(&self) -> Value {
        Value::Array(
            self.orders
                .iter()
                .map(|o| {
                    json!({"ticket": o.ticket, "symbol": o.symbol, "type": o.order_type,
                        "volume_initial": num(o.volume), "volume_current": num(o.volume),
                        "price_open": num(o.price), "price_stoplimit": num(o.stoplimit),
                        "sl": num(o.sl), "tp": num(o.tp), "time_setup": o.time_msc / 1000,
                        "time_setup_msc": o.time_msc, "time_expiration": o.expiration,
                        "magic": o.magic, "comment": o.comment})
                })
                .collect(),
        )
    }

    fn deals_json(&self, msg: &Map<String, Value>) -> Value {
        let from = msg.get("from").and_then(Value::as_i64).unwrap_or(0);
        let to = msg.get("to").and_then(Value::as_i64).unwrap_or(i64::MAX);
        Value::Array(
            self.deals
                .iter()
                .filter(|d| (from..=to).contains(&(d.time_msc / 1000)))
                .map(|d| {
                    json!({"ticket": d.ticket, "order": d.order, "position_id": d.position,
                        "symbol": d.symbol,
                        "type": if d.side == Side::Buy { "DEAL_TYPE_BUY" } else { "DEAL_TYPE_SELL" },
                        "entry": d.entry, "reason": "DEAL_REASON_EXPERT", "volume": num(d.volume),
                        "price": num(d.price), "commission": 0.0, "swap": 0.0, "fee": 0.0,
                        "profit": num(d.profit), "time": d.time_msc / 1000, "time_msc": d.time_msc,
                        "magic": d.magic, "comment": d.comment})
                })
                .collect(),
        )
    }

    fn filling_accepted(&self, s: &FakeSymbol, filling: &str) -> bool {
        match filling {
            "ORDER_FILLING_FOK" => s.accepted_filling & FillingFlags::FOK != 0,
            "ORDER_FILLING_IOC" => s.accepted_filling & FillingFlags::IOC != 0,
            "ORDER_FILLING_RETURN" => s.spec.execution != ExecutionMode::Market,
            _ => false,
        }
    }

    /// Executes a trade request like a trade server; `partial` fills only that volume.
    fn trade(
        &mut self,
        id: u64,
        kind: &str,
        msg: &Map<String, Value>,
        partial: Option<Decimal>,
    ) -> String {
        let name = text(msg, "symbol").to_string();
        let Some(sym) = self.symbol(&name).cloned() else {
            return reply(
                id,
                10013,
                4301,
                "Invalid request: unknown symbol",
                Value::Null,
            );
        };
        let (bid, ask) = self.quotes.get(&name).copied().unwrap_or_default();
        let server_now = self.server_now();
        let result = |retcode: u32,
                      deal: u64,
                      order: u64,
                      position: u64,
                      volume: Decimal,
                      price: Decimal,
                      comment: &str| {
            reply(
                id,
                retcode,
                0,
                comment,
                json!({"deal": deal, "order": order,
                "position": position, "volume": num(volume), "price": num(price), "bid": bid,
                "ask": ask, "request_id": id, "time": server_now}),
            )
        };
        if !self.account.algo_trading {
            return result(
                10027,
                0,
                0,
                0,
                Decimal::ZERO,
                Decimal::ZERO,
                "AutoTrading disabled by client",
            );
        }
        // `TRADE_RETCODE_MARKET_CLOSED`: outside the symbol's trading session every request
        // kind is refused, modifications and cancellations included.
        let position_symbol = self
            .positions
            .iter()
            .find(|p| p.ticket == int(msg, "position"))
            .map(|p| p.symbol.clone());
        if self.closed_markets.contains(&name)
            || position_symbol.is_some_and(|s| self.closed_markets.contains(&s))
        {
            return result(
                MARKET_CLOSED,
                0,
                0,
                0,
                Decimal::ZERO,
                Decimal::ZERO,
                "Market closed",
            );
        }
        let now_msc = self.server_msc();
        match kind {
            "position_modify" => {
                let ticket = int(msg, "position");
                let Some(p) = self.positions.iter_mut().find(|p| p.ticket == ticket) else {
                    return result(
                        10013,
                        0,
                        0,
                        0,
                        Decimal::ZERO,
                        Decimal::ZERO,
                        "Invalid request",
                    );
                };
                p.sl = dec(msg.get("sl"));
                p.tp = dec(msg.get("tp"));
                result(
                    10009,
                    0,
                    0,
                    ticket,
                    Decimal::ZERO,
                    Decimal::ZERO,
                    "Request executed",
                )
            }
            "order_cancel" => {
                let ticket = int(msg, "order");
                let before = self.orders.len();
                self.orders.retain(|o| o.ticket != ticket);
                if self.orders.len() == before {
                    return result(
                        10013,
                        0,
                        0,
                        0,
                        Decimal::ZERO,
                        Decimal::ZERO,
                        "Invalid request",
                    );
                }
                result(
                    10009,
                    0,
                    ticket,
                    0,
                    Decimal::ZERO,
                    Decimal::ZERO,
                    "Request executed",
                )
            }
            _ => {
                if !self.filling_accepted(&sym, text(msg, "type_filling")) {
                    return result(
                        10030,
                        0,
                        0,
                        0,
                        Decimal::ZERO,
                        Decimal::ZERO,
                        "Unsupported filling mode",
                    );
                }
                let volume = dec(msg.get("volume"));
                let order_type = text(msg, "order_type").to_string();
                let side = if order_type.starts_with("ORDER_TYPE_BUY") {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let order = self.ticket();
                if text(msg, "action") == "TRADE_ACTION_PENDING" {
                    self.orders.push(FakeOrder {
                        ticket: order,
                        symbol: name,
                        order_type,
                        volume,
                        price: dec(msg.get("price")),
                        stoplimit: dec(msg.get("stoplimit")),
                        sl: dec(msg.get("sl")),
                        tp: dec(msg.get("tp")),
                        time_msc: now_msc,
                        expiration: msg.get("expiration").and_then(Value::as_i64).unwrap_or(0),
                        magic: int(msg, "magic"),
                        comment: text(msg, "comment").to_string(),
                    });
                    return result(
                        10008,
                        0,
                        order,
                        0,
                        volume,
                        Decimal::ZERO,
                        "Request executed",
                    );
                }
                let price = if side == Side::Buy { ask } else { bid };
                let price: Decimal = price.to_string().parse().unwrap_or_default();
                let filled = partial.unwrap_or(volume).min(volume);
                let closing = int(msg, "position");
                let fill = Fill {
                    symbol: name,
                    side,
                    volume: filled,
                    price,
                    order,
                    magic: int(msg, "magic"),
                    comment: text(msg, "comment").to_string(),
                    sl: dec(msg.get("sl")),
                    tp: dec(msg.get("tp")),
                    contract: sym.spec.contract_size,
                };
                let Some((deal, position)) = self.fill(&fill, closing, now_msc) else {
                    return result(
                        10036,
                        0,
                        0,
                        0,
                        Decimal::ZERO,
                        Decimal::ZERO,
                        "Position closed",
                    );
                };
                let code = if filled < volume { 10010 } else { 10009 };
                result(
                    code,
                    deal,
                    order,
                    position,
                    filled,
                    price,
                    "Request executed",
                )
            }
        }
    }

    /// Applies a market fill: closes (part of) position `closing` when it is not 0; otherwise
    /// opens a position (hedging), or on a netting account adds to, reduces, closes or reverses
    /// the symbol's position, as MT5's netting system does (a reversal is one
    /// `DEAL_ENTRY_INOUT` deal; the position keeps its identifier and takes the new side,
    /// volume, price, magic and comment). Returns the deal and the position, or `None` when
    /// `closing` names no open position.
    pub(crate) fn fill(&mut self, f: &Fill, closing: u64, now_msc: i64) -> Option<(u64, u64)> {
        let netted = if closing != 0 {
            Some(self.positions.iter().position(|p| p.ticket == closing)?)
        } else if self.account.margin_mode == MarginMode::Netting {
            self.positions.iter().position(|p| p.symbol == f.symbol)
        } else {
            None
        };
        let deal = self.ticket();
        let (position, entry, profit) = match netted {
            None => {
                self.positions.push(FakePosition {
                    ticket: f.order,
                    symbol: f.symbol.clone(),
                    side: f.side,
                    volume: f.volume,
                    price_open: f.price,
                    sl: f.sl,
                    tp: f.tp,
                    time_msc: now_msc,
                    magic: f.magic,
                    comment: f.comment.clone(),
                });
                (f.order, "DEAL_ENTRY_IN", Decimal::ZERO)
            }
            Some(i) if self.positions[i].side == f.side => {
                let p = &mut self.positions[i];
                let total = p.volume + f.volume;
                p.price_open = (p.price_open * p.volume + f.price * f.volume) / total;
                p.volume = total;
                (p.ticket, "DEAL_ENTRY_IN", Decimal::ZERO)
            }
            Some(i) => {
                let p = &mut self.positions[i];
                let closed = f.volume.min(p.volume);
                let sign = Decimal::from(p.side.sign());
                let profit = (f.price - p.price_open) * sign * closed * f.contract;
                let ticket = p.ticket;
                // Closing a position by its ticket never reverses it.
                let entry = if closing == 0 && f.volume > p.volume {
                    p.side = f.side;
                    p.volume = f.volume - p.volume;
                    p.price_open = f.price;
                    p.sl = f.sl;
                    p.tp = f.tp;
                    p.time_msc = now_msc;
                    p.magic = f.magic;
                    p.comment = f.comment.clone();
                    "DEAL_ENTRY_INOUT"
                } else {
                    p.volume -= closed;
                    "DEAL_ENTRY_OUT"
                };
                self.positions.retain(|p| !p.volume.is_zero());
                self.account.balance += profit;
                (ticket, entry, profit)
            }
        };
        self.deals.push(FakeDeal {
            ticket: deal,
            order: f.order,
            position,
            symbol: f.symbol.clone(),
            side: f.side,
            entry,
            volume: f.volume,
            price: f.price,
            profit,
            time_msc: now_msc,
            magic: f.magic,
            comment: f.comment.clone(),
        });
        Some((deal, position))
    }

    /// A market order sent by hand in the terminal (not through the bridge): nets like any
    /// other on a netting account. Returns the position it opened or changed.
    pub(crate) fn trade_by_hand(
        &mut self,
        symbol: &str,
        side: Side,
        volume: Decimal,
        magic: u64,
    ) -> Option<u64> {
        let (bid, ask) = self.quotes.get(symbol).copied().unwrap_or_default();
        let price = if side == Side::Buy { ask } else { bid };
        let contract = self.symbol(symbol)?.spec.contract_size;
        let order = self.ticket();
        let fill = Fill {
            symbol: symbol.to_string(),
            side,
            volume,
            price: price.to_string().parse().unwrap_or_default(),
            order,
            magic,
            comment: String::new(),
            sl: Decimal::ZERO,
            tp: Decimal::ZERO,
            contract,
        };
        let now = self.server_msc();
        self.fill(&fill, 0, now).map(|(_, position)| position)
    }
}
