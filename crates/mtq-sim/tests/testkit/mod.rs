//! Fixtures shared by the simulator's tests: bars, orders and accounts as short scenarios.
#![allow(dead_code, unreachable_pub)]

use chrono::{DateTime, Duration, Utc};
use mtq_core::{Bar, ClientOrderId, OrderKind, OrderRequest, Side, Symbol, SymbolSpec};
use mtq_sim::{SimConfig, Simulator, SymbolId};
use rust_decimal::Decimal;

/// Monday 2024-03-04 00:00 UTC plus `minutes`.
pub fn t(minutes: i64) -> DateTime<Utc> {
    "2024-03-04T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
}

/// An M1 bar at minute `m` with a 10-point spread.
pub fn bar(m: i64, o: f64, h: f64, l: f64, c: f64) -> Bar {
    Bar {
        time: t(m),
        open: o,
        high: h,
        low: l,
        close: c,
        tick_volume: 100,
        real_volume: 0,
        spread: 10,
    }
}

/// A flat bar: all four prices equal.
pub fn flat(m: i64, p: f64) -> Bar {
    bar(m, p, p, p, p)
}

pub fn sym(name: &str) -> Symbol {
    Symbol::new(name).unwrap()
}

pub fn coid(n: u64) -> ClientOrderId {
    ClientOrderId::new(&format!("t-{n}")).unwrap()
}

pub fn market(name: &str, side: Side, volume: Decimal) -> OrderRequest {
    OrderRequest::market(coid(1), sym(name), side, volume)
}

pub fn pending(
    name: &str,
    side: Side,
    kind: OrderKind,
    volume: Decimal,
    price: Decimal,
) -> OrderRequest {
    OrderRequest::pending(coid(2), sym(name), side, kind, volume, price)
}

/// A simulator over built-in specs for `names`, with `cfg`.
pub fn sim_with(cfg: SimConfig, names: &[&str]) -> Simulator {
    let specs: Vec<SymbolSpec> = names
        .iter()
        .map(|n| SymbolSpec::builtin(n).unwrap())
        .collect();
    Simulator::new(cfg, specs).unwrap()
}

/// A $10,000 1:100 hedging account trading EURUSD, with a first flat bar at 1.10000 (ask 1.10010).
pub fn eurusd() -> (Simulator, SymbolId) {
    let mut s = sim_with(SimConfig::default(), &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &flat(0, 1.1));
    (s, id)
}

pub fn retcode(e: mtq_connector::BrokerError) -> u32 {
    e.retcode().map(|r| r.code()).unwrap_or(0)
}
