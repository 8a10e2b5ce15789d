//! Every trading decision the bridge does not make: filling mode, normalised volume and prices,
//! the stops and freeze level checks, and the comment that carries the client order id.
//!
//! The trade mode, stops and freeze levels are the shared rule book, [`mtq_core::rules`] (from
//! MetaQuotes' "Requirements and Limitations in Making Trades"), the same the simulator applies;
//! the filling choice follows the MQL5 reference's "Filling Policy". A request these checks
//! refuse is never sent, so its error is a plain rejection with the retcode MT5 would have given.

use mtq_connector::BrokerError;
use mtq_core::rules::{self, Quote, RuleViolation, TradeAction};
use mtq_core::{
    Decimal, FillPolicy, OrderKind, OrderRequest, PendingOrder, Position, Retcode, SymbolSpec, Tick,
};
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value};

use crate::wire::{ServerTime, order_type_name};

/// The `ENUM_ORDER_TYPE_FILLING` name of a policy.
pub(crate) fn filling_name(p: FillPolicy) -> &'static str {
    match p {
        FillPolicy::Fok => "ORDER_FILLING_FOK",
        FillPolicy::Ioc => "ORDER_FILLING_IOC",
        FillPolicy::Return => "ORDER_FILLING_RETURN",
    }
}

/// The filling policy to send: the requested one when the symbol allows it, else the first the
/// symbol allows of FOK, IOC and RETURN.
///
/// Request and instant execution take FOK for market orders whatever the flags say, and pending
/// orders there are placed with RETURN (MQL5 reference, "Filling Policy").
pub(crate) fn choose_filling(
    spec: &SymbolSpec,
    kind: OrderKind,
    requested: FillPolicy,
) -> Result<FillPolicy, BrokerError> {
    spec.filling_for(kind, requested).ok_or_else(|| {
        BrokerError::rejected(
            Retcode::InvalidFill,
            format!(
                "{}: no filling mode allowed (SYMBOL_FILLING_MODE = {}, execution {:?})",
                spec.symbol, spec.filling.0, spec.execution
            ),
        )
    })
}

fn refuse(code: Retcode, msg: String) -> BrokerError {
    BrokerError::rejected(code, msg)
}

fn tick_price(spec: &SymbolSpec, x: f64, what: &str) -> Result<Decimal, BrokerError> {
    spec.normalize_price_f64(x).ok_or_else(|| {
        refuse(
            Retcode::PriceOff,
            format!("{}: the terminal's {what} {x} is not a price", spec.symbol),
        )
    })
}

/// Bid and ask as normalised decimals.
fn quotes(spec: &SymbolSpec, tick: &Tick) -> Result<Quote, BrokerError> {
    Ok(Quote {
        bid: tick_price(spec, tick.bid, "bid")?,
        ask: tick_price(spec, tick.ask, "ask")?,
    })
}

/// A rule book refusal as the rejection MT5 would have sent.
fn refused(v: RuleViolation) -> BrokerError {
    refuse(v.retcode(), v.to_string())
}

fn normalize_volume(spec: &SymbolSpec, volume: Decimal) -> Result<Decimal, BrokerError> {
    spec.normalize_volume(volume).ok_or_else(|| {
        refuse(
            Retcode::InvalidVolume,
            format!(
                "{}: volume {volume} is below the minimum {} lots (step {})",
                spec.symbol, spec.volume_min, spec.volume_step
            ),
        )
    })
}

pub(crate) fn num(d: Decimal) -> Value {
    d.to_f64().map_or(Value::Null, Value::from)
}

fn price_or_zero(p: Option<Decimal>) -> Value {
    p.map_or(Value::from(0), num)
}

/// The fields of an `order_send` (or `order_check`) for `req`, after every check.
pub(crate) fn prepare_order(
    req: &OrderRequest,
    spec: &SymbolSpec,
    broker_symbol: &str,
    tick: &Tick,
    st: ServerTime,
) -> Result<Map<String, Value>, BrokerError> {
    rules::trade_mode(spec, TradeAction::Open(req.side)).map_err(refused)?;
    let volume = normalize_volume(spec, req.volume)?;
    let quote = quotes(spec, tick)?;
    let norm = |p: Option<Decimal>| p.map(|p| spec.normalize_price(p));
    let (sl, tp) = (norm(req.sl), norm(req.tp));
    let (action, price, stop_limit) = match req.kind {
        OrderKind::Market => {
            let price = norm(req.price).unwrap_or(quote.trigger(req.side));
            rules::position_stops(spec, req.side, quote, sl, tp).map_err(refused)?;
            ("TRADE_ACTION_DEAL", price, None)
        }
        kind => {
            let Some(price) = norm(req.price) else {
                return Err(refuse(
                    Retcode::InvalidPrice,
                    format!("{}: a {kind:?} order needs a price", spec.symbol),
                ));
            };
            rules::order_price(spec, req.side, kind, price, quote).map_err(refused)?;
            let stop_limit = if kind == OrderKind::StopLimit {
                let Some(sl_price) = norm(req.stop_limit) else {
                    return Err(refuse(
                        Retcode::InvalidPrice,
                        format!("{}: a stop-limit order needs its limit price", spec.symbol),
                    ));
                };
                rules::stop_limit_price(spec, req.side, price, sl_price).map_err(refused)?;
                Some(sl_price)
            } else {
                None
            };
            let opens_at = stop_limit.unwrap_or(price);
            rules::order_stops(spec, req.side, opens_at, sl, tp).map_err(refused)?;
            ("TRADE_ACTION_PENDING", price, stop_limit)
        }
    };
    let filling = choose_filling(spec, req.kind, req.filling)?;
    let mut f = Map::new();
    f.insert("action".into(), action.into());
    f.insert("symbol".into(), broker_symbol.into());
    f.insert("volume".into(), num(volume));
    f.insert(
        "order_type".into(),
        order_type_name(req.side, req.kind).into(),
    );
    f.insert("price".into(), num(price));
    f.insert("stoplimit".into(), price_or_zero(stop_limit));
    f.insert("sl".into(), price_or_zero(sl));
    f.insert("tp".into(), price_or_zero(tp));
    f.insert("deviation".into(), req.deviation.into());
    f.insert("magic".into(), req.magic.0.into());
    // The client order id is what reconciliation looks for: it goes in as it is (ASCII, at most
    // 31 characters by construction), whatever free text the request carried.
    f.insert("comment".into(), req.client_order_id.as_str().into());
    f.insert("type_filling".into(), filling_name(filling).into());
    match (req.kind, req.expiration) {
        (OrderKind::Market, _) | (_, None) => {
            f.insert("type_time".into(), "ORDER_TIME_GTC".into());
            f.insert("expiration".into(), 0.into());
        }
        (_, Some(t)) => {
            f.insert("type_time".into(), "ORDER_TIME_SPECIFIED".into());
            f.insert("expiration".into(), st.server_secs(t).into());
        }
    }
    Ok(f)
}

/// The price a position closes at now, after the freeze-level check on its current stops:
/// within the freeze level of SL or TP a position may be neither modified nor closed.
fn check_frozen(spec: &SymbolSpec, pos: &Position, tick: &Tick) -> Result<Quote, BrokerError> {
    let quote = quotes(spec, tick)?;
    rules::position_freeze(spec, pos.side, quote, pos.sl, pos.tp)
        .map_err(|v| refuse(v.retcode(), format!("position {}: {v}", pos.ticket)))?;
    Ok(quote)
}

/// Fields of a `position_modify` (`TRADE_ACTION_SLTP`).
pub(crate) fn prepare_modify(
    pos: &Position,
    spec: &SymbolSpec,
    broker_symbol: &str,
    tick: &Tick,
    sl: Option<Decimal>,
    tp: Option<Decimal>,
) -> Result<Map<String, Value>, BrokerError> {
    let quote = check_frozen(spec, pos, tick)?;
    let norm = |p: Option<Decimal>| p.map(|p| spec.normalize_price(p));
    let (sl, tp) = (norm(sl), norm(tp));
    if sl == pos.sl && tp == pos.tp {
        return Err(refuse(
            Retcode::NoChanges,
            format!(
                "position {}: SL and TP are already {sl:?} / {tp:?}",
                pos.ticket
            ),
        ));
    }
    rules::position_stops(spec, pos.side, quote, sl, tp).map_err(refused)?;
    let mut f = Map::new();
    f.insert("action".into(), "TRADE_ACTION_SLTP".into());
    f.insert("position".into(), pos.ticket.0.into());
    f.insert("symbol".into(), broker_symbol.into());
    f.insert("sl".into(), price_or_zero(sl));
    f.insert("tp".into(), price_or_zero(tp));
    f.insert("magic".into(), pos.magic.0.into());
    Ok(f)
}

/// Fields of a `position_close` (an opposite `TRADE_ACTION_DEAL` naming the position).
pub(crate) fn prepare_close(
    pos: &Position,
    spec: &SymbolSpec,
    broker_symbol: &str,
    tick: &Tick,
    volume: Option<Decimal>,
    deviation: u32,
) -> Result<Map<String, Value>, BrokerError> {
    rules::trade_mode(spec, TradeAction::Manage).map_err(refused)?;
    let price = check_frozen(spec, pos, tick)?.closing(pos.side);
    let volume = match volume {
        None => pos.volume,
        Some(v) if v > pos.volume => {
            return Err(refuse(
                Retcode::InvalidCloseVolume,
                format!(
                    "position {}: cannot close {v} lots of {}",
                    pos.ticket, pos.volume
                ),
            ));
        }
        Some(v) => normalize_volume(spec, v)?,
    };
    let filling = choose_filling(spec, OrderKind::Market, FillPolicy::Fok)?;
    let mut f = Map::new();
    f.insert("action".into(), "TRADE_ACTION_DEAL".into());
    f.insert("position".into(), pos.ticket.0.into());
    f.insert("symbol".into(), broker_symbol.into());
    f.insert("volume".into(), num(volume));
    f.insert(
        "order_type".into(),
        order_type_name(pos.side.opposite(), OrderKind::Market).into(),
    );
    f.insert("price".into(), num(price));
    f.insert("deviation".into(), deviation.into());
    f.insert("magic".into(), pos.magic.0.into());
    // Not the opening id: reconciliation sums the deals carrying an id.
    f.insert("comment".into(), "".into());
    f.insert("type_filling".into(), filling_name(filling).into());
    Ok(f)
}

/// Fields of an `order_cancel` (`TRADE_ACTION_REMOVE`), after the freeze-level check: a pending
/// order within the freeze level of the market may not be deleted.
pub(crate) fn prepare_cancel(
    order: &PendingOrder,
    spec: &SymbolSpec,
    broker_symbol: &str,
    tick: &Tick,
) -> Result<Map<String, Value>, BrokerError> {
    if spec.freeze_level > 0 {
        let quote = quotes(spec, tick)?;
        rules::order_freeze(spec, order.side, order.kind, order.price, quote)
            .map_err(|v| refuse(v.retcode(), format!("order {}: {v}", order.ticket)))?;
    }
    let mut f = Map::new();
    f.insert("action".into(), "TRADE_ACTION_REMOVE".into());
    f.insert("order".into(), order.ticket.0.into());
    f.insert("symbol".into(), broker_symbol.into());
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use mtq_core::testkit::PositionBuilder;
    use mtq_core::{ClientOrderId, ExecutionMode, FillingFlags, Magic, Side, Symbol, TradeMode};
    use rust_decimal_macros::dec;

    fn spec() -> SymbolSpec {
        let mut s = mtq_core::testkit::eurusd();
        s.stops_level = 10;
        s.freeze_level = 5;
        s
    }

    fn tick(bid: f64, ask: f64) -> Tick {
        Tick {
            time: DateTime::UNIX_EPOCH,
            bid,
            ask,
            last: 0.0,
            volume: 0,
        }
    }

    fn buy(volume: Decimal) -> OrderRequest {
        OrderRequest {
            magic: Magic(77),
            ..OrderRequest::market(
                ClientOrderId::new("mtq-7-EURUSD-1").unwrap(),
                Symbol::new("EURUSD").unwrap(),
                Side::Buy,
                volume,
            )
        }
    }

    const ST: ServerTime = ServerTime { offset_secs: 7200 };

    #[test]
    fn filling_follows_the_symbols_flags_and_execution_mode() {
        let mut s = spec();
        s.filling = FillingFlags(FillingFlags::IOC);
        assert_eq!(
            choose_filling(&s, OrderKind::Market, FillPolicy::Fok).unwrap(),
            FillPolicy::Ioc
        );
        s.filling = FillingFlags(FillingFlags::FOK | FillingFlags::IOC);
        assert_eq!(
            choose_filling(&s, OrderKind::Market, FillPolicy::Ioc).unwrap(),
            FillPolicy::Ioc
        );
        s.filling = FillingFlags(0);
        assert_eq!(
            choose_filling(&s, OrderKind::Market, FillPolicy::Fok)
                .unwrap_err()
                .retcode(),
            Some(Retcode::InvalidFill)
        );
        s.execution = ExecutionMode::Exchange;
        assert_eq!(
            choose_filling(&s, OrderKind::Market, FillPolicy::Fok).unwrap(),
            FillPolicy::Return
        );
        s.execution = ExecutionMode::Instant;
        assert_eq!(
            choose_filling(&s, OrderKind::Market, FillPolicy::Ioc).unwrap(),
            FillPolicy::Fok
        );
        assert_eq!(
            choose_filling(&s, OrderKind::Limit, FillPolicy::Ioc).unwrap(),
            FillPolicy::Return
        );
    }

    #[test]
    fn a_market_order_is_normalised_and_carries_the_id_and_magic() {
        let req = OrderRequest {
            sl: Some(dec!(1.079004)),
            tp: Some(dec!(1.0850)),
            comment: "free text".into(),
            ..buy(dec!(0.129))
        };
        let f = prepare_order(&req, &spec(), "EURUSD.m", &tick(1.08, 1.08012), ST).unwrap();
        assert_eq!(f["action"], "TRADE_ACTION_DEAL");
        assert_eq!(f["symbol"], "EURUSD.m");
        assert_eq!(f["volume"], 0.12);
        assert_eq!(f["price"], 1.08012);
        assert_eq!(f["sl"], 1.079);
        assert_eq!(f["comment"], "mtq-7-EURUSD-1");
        assert_eq!(f["magic"], 77);
        assert_eq!(f["type_filling"], "ORDER_FILLING_FOK");
        assert_eq!(f["order_type"], "ORDER_TYPE_BUY");
    }

    #[test]
    fn stops_inside_the_stops_level_are_refused_before_sending() {
        // Buy closes at the bid 1.08000: an SL at 1.07995 is 5 points away, the level is 10.
        let req = OrderRequest {
            sl: Some(dec!(1.07995)),
            ..buy(dec!(0.1))
        };
        let err = prepare_order(&req, &spec(), "EURUSD", &tick(1.08, 1.08012), ST).unwrap_err();
        assert_eq!(err.retcode(), Some(Retcode::InvalidStops));
        assert!(err.to_string().contains("stops level is 10"), "{err}");
        // An SL on the wrong side is refused even with no stops level.
        let mut s = spec();
        s.stops_level = 0;
        let req = OrderRequest {
            sl: Some(dec!(1.081)),
            ..buy(dec!(0.1))
        };
        assert!(prepare_order(&req, &s, "EURUSD", &tick(1.08, 1.08012), ST).is_err());
        let req = OrderRequest {
            tp: Some(dec!(1.0801)),
            ..buy(dec!(0.1))
        };
        assert!(prepare_order(&req, &spec(), "EURUSD", &tick(1.08, 1.08012), ST).is_ok());
    }

    #[test]
    fn pending_prices_must_keep_their_distance_from_the_market() {
        let id = ClientOrderId::new("p1").unwrap();
        let sym = Symbol::new("EURUSD").unwrap();
        let limit = |price| {
            OrderRequest::pending(
                id.clone(),
                sym.clone(),
                Side::Buy,
                OrderKind::Limit,
                dec!(0.1),
                price,
            )
        };
        let t = tick(1.08, 1.08012);
        let err = prepare_order(&limit(dec!(1.08005)), &spec(), "EURUSD", &t, ST).unwrap_err();
        assert_eq!(err.retcode(), Some(Retcode::InvalidPrice));
        let expiring = OrderRequest {
            expiration: Some(DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
            ..limit(dec!(1.0790))
        };
        let f = prepare_order(&expiring, &spec(), "EURUSD", &t, ST).unwrap();
        assert_eq!(f["action"], "TRADE_ACTION_PENDING");
        assert_eq!(f["order_type"], "ORDER_TYPE_BUY_LIMIT");
        assert_eq!(f["type_time"], "ORDER_TIME_SPECIFIED");
        assert_eq!(f["expiration"], 1_700_007_200);
    }

    #[test]
    fn volumes_round_down_and_too_small_is_refused() {
        let t = tick(1.08, 1.08012);
        let err = prepare_order(&buy(dec!(0.009)), &spec(), "EURUSD", &t, ST).unwrap_err();
        assert_eq!(err.retcode(), Some(Retcode::InvalidVolume));
        let mut s = spec();
        s.trade_mode = TradeMode::CloseOnly;
        let err = prepare_order(&buy(dec!(0.1)), &s, "EURUSD", &t, ST).unwrap_err();
        assert_eq!(err.retcode(), Some(Retcode::CloseOnly));
    }

    fn position(sl: Option<Decimal>) -> Position {
        PositionBuilder::new("EURUSD", Side::Buy)
            .ticket(5)
            .volume(dec!(0.3))
            .open_price(dec!(1.07))
            .opened(DateTime::UNIX_EPOCH)
            .sl(sl)
            .current_price(dec!(1.08))
            .magic(77)
            .comment("x")
            .build()
    }

    #[test]
    fn a_position_inside_the_freeze_level_is_neither_modified_nor_closed() {
        let t = tick(1.08, 1.08012);
        // SL 3 points under the bid, freeze level 5.
        let pos = position(Some(dec!(1.07997)));
        let err = prepare_modify(&pos, &spec(), "EURUSD", &t, Some(dec!(1.07)), None).unwrap_err();
        assert_eq!(err.retcode(), Some(Retcode::Frozen));
        let err = prepare_close(&pos, &spec(), "EURUSD", &t, None, 10).unwrap_err();
        assert_eq!(err.retcode(), Some(Retcode::Frozen));
        let pos = position(Some(dec!(1.07)));
        let f = prepare_modify(&pos, &spec(), "EURUSD", &t, Some(dec!(1.075)), None).unwrap();
        assert_eq!((f["sl"].as_f64(), f["tp"].as_i64()), (Some(1.075), Some(0)));
        let err = prepare_modify(&pos, &spec(), "EURUSD", &t, Some(dec!(1.07)), None).unwrap_err();
        assert_eq!(err.retcode(), Some(Retcode::NoChanges));
        let f = prepare_close(&pos, &spec(), "EURUSD", &t, Some(dec!(0.1)), 10).unwrap();
        assert_eq!(f["order_type"], "ORDER_TYPE_SELL");
        assert_eq!(f["volume"], 0.1);
        assert_eq!(f["price"], 1.08);
        let err = prepare_close(&pos, &spec(), "EURUSD", &t, Some(dec!(0.4)), 10).unwrap_err();
        assert_eq!(err.retcode(), Some(Retcode::InvalidCloseVolume));
    }
}
