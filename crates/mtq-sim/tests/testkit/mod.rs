//! Fixtures local to the simulator's tests: orders and simulators as short scenarios. Bars,
//! times, symbols and client order ids are mtq-core's canonical ones (`mtq_core::testkit`).
#![allow(dead_code, unreachable_pub, unused_imports)]

pub use mtq_core::testkit::{bar, coid, flat_bar, minute, spec, symbol as sym};
use mtq_core::{OrderKind, OrderRequest, Side};
use mtq_sim::{SimConfig, Simulator, SymbolId};
use rust_decimal::Decimal;

/// A market order `t-1`.
pub fn market(name: &str, side: Side, volume: Decimal) -> OrderRequest {
    OrderRequest::market(coid(1), sym(name), side, volume)
}

/// A pending order `t-2`.
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
    Simulator::new(cfg, names.iter().map(|n| spec(n))).unwrap()
}

/// A $10,000 1:100 hedging account trading EURUSD, with a first flat bar at 1.10000 (ask 1.10010).
pub fn eurusd() -> (Simulator, SymbolId) {
    let mut s = sim_with(SimConfig::default(), &["EURUSD"]);
    let id = s.symbol_id(&sym("EURUSD")).unwrap();
    s.on_bar(id, &flat_bar(minute(0), 1.1));
    (s, id)
}

pub fn retcode(e: mtq_connector::BrokerError) -> u32 {
    e.retcode().map(|r| r.code()).unwrap_or(0)
}
