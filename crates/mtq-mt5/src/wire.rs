//! Reading the bridge's replies into MTQ's domain types.
//!
//! Field names are MT5's property names in lower case without the prefix (`SYMBOL_TRADE_STOPS_LEVEL`
//! is `trade_stops_level`); enumerations arrive as MT5's own names (`EnumToString`), times as
//! seconds or milliseconds of *server* time, converted here with the session's offset. Doubles
//! become `Decimal` through their shortest round-trip text, so the `1.08012` the EA wrote is
//! exactly `1.08012`; prices are then normalised to the symbol's digits by the caller.

use std::str::FromStr;

use chrono::{DateTime, Utc, Weekday};
use mtq_core::{
    AccountInfo, Bar, Currency, Deal, DealEntry, DealReason, Decimal, ExecutionMode, FillingFlags,
    Magic, OrderKind, PendingOrder, Position, Side, SwapMode, Symbol, SymbolSpec, Tick, Ticket,
    TradeMode,
};
use rust_decimal::prelude::FromPrimitive;
use serde_json::{Map, Value};

use crate::protocol::margin_mode;

/// A field the bridge sent that MTQ cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WireError {
    #[error("field `{0}` is missing")]
    Missing(&'static str),
    #[error("field `{field}`: {detail}")]
    Invalid { field: &'static str, detail: String },
}

impl WireError {
    pub(crate) fn unknown(field: &'static str, value: &str) -> Self {
        WireError::Invalid {
            field,
            detail: format!("unknown value {:?}", crate::codec::shorten(value, 64)),
        }
    }

    fn kind(field: &'static str, want: &str) -> Self {
        WireError::Invalid {
            field,
            detail: format!("expected {want}"),
        }
    }
}

type Obj = Map<String, Value>;

pub(crate) fn field_str<'a>(o: &'a Obj, f: &'static str) -> Result<&'a str, WireError> {
    match o.get(f) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(WireError::kind(f, "a string")),
        None => Err(WireError::Missing(f)),
    }
}

pub(crate) fn opt_str(o: &Obj, f: &'static str) -> Result<Option<String>, WireError> {
    match o.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WireError::kind(f, "a string")),
    }
}

pub(crate) fn field_u64(o: &Obj, f: &'static str) -> Result<u64, WireError> {
    match o.get(f) {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| WireError::kind(f, "a non-negative integer")),
        None => Err(WireError::Missing(f)),
    }
}

pub(crate) fn field_i64(o: &Obj, f: &'static str) -> Result<i64, WireError> {
    opt_i64(o, f)?.ok_or(WireError::Missing(f))
}

pub(crate) fn opt_i64(o: &Obj, f: &'static str) -> Result<Option<i64>, WireError> {
    match o.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| WireError::kind(f, "an integer")),
    }
}

pub(crate) fn opt_bool(o: &Obj, f: &'static str) -> Result<Option<bool>, WireError> {
    match o.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(WireError::kind(f, "true or false")),
    }
}

pub(crate) fn field_f64(o: &Obj, f: &'static str) -> Result<f64, WireError> {
    match o.get(f) {
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| WireError::kind(f, "a number")),
        None => Err(WireError::Missing(f)),
    }
}

fn field_u32(o: &Obj, f: &'static str) -> Result<u32, WireError> {
    u32::try_from(field_u64(o, f)?).map_err(|_| WireError::kind(f, "a 32-bit integer"))
}

/// A double as the decimal the EA printed.
pub(crate) fn to_decimal(f: &'static str, x: f64) -> Result<Decimal, WireError> {
    if !x.is_finite() {
        return Err(WireError::kind(f, "a finite number"));
    }
    Decimal::from_str(&x.to_string())
        .ok()
        .or_else(|| Decimal::from_f64(x))
        .ok_or_else(|| WireError::kind(f, "a number within Decimal's range"))
}

pub(crate) fn field_dec(o: &Obj, f: &'static str) -> Result<Decimal, WireError> {
    to_decimal(f, field_f64(o, f)?)
}

/// A price field where MT5 uses 0 for "not set" (SL, TP, stop-limit).
fn opt_price(o: &Obj, f: &'static str) -> Result<Option<Decimal>, WireError> {
    match o.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => {
            let d = field_dec(o, f)?;
            Ok((!d.is_zero()).then_some(d))
        }
    }
}

fn symbol(o: &Obj, f: &'static str) -> Result<Symbol, WireError> {
    Symbol::new(field_str(o, f)?).map_err(|e| WireError::Invalid {
        field: f,
        detail: e.to_string(),
    })
}

fn currency(o: &Obj, f: &'static str) -> Result<Currency, WireError> {
    Currency::new(field_str(o, f)?).map_err(|e| WireError::Invalid {
        field: f,
        detail: e.to_string(),
    })
}

fn array<'a>(v: &'a Value, f: &'static str) -> Result<&'a Vec<Value>, WireError> {
    v.as_array().ok_or_else(|| WireError::kind(f, "an array"))
}

fn object<'a>(v: &'a Value, f: &'static str) -> Result<&'a Obj, WireError> {
    v.as_object().ok_or_else(|| WireError::kind(f, "an object"))
}

/// Server time <-> UTC with the offset the hello reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerTime {
    pub(crate) offset_secs: i64,
}

impl ServerTime {
    pub(crate) fn utc_from_secs(
        self,
        f: &'static str,
        server: i64,
    ) -> Result<DateTime<Utc>, WireError> {
        DateTime::from_timestamp(server.saturating_sub(self.offset_secs), 0)
            .ok_or_else(|| WireError::kind(f, "a time"))
    }

    pub(crate) fn utc_from_msc(
        self,
        f: &'static str,
        server_ms: i64,
    ) -> Result<DateTime<Utc>, WireError> {
        DateTime::from_timestamp_millis(server_ms.saturating_sub(self.offset_secs * 1000))
            .ok_or_else(|| WireError::kind(f, "a time"))
    }

    /// Server-time seconds of a UTC instant (what `CopyRates` and `HistorySelect` take).
    pub(crate) fn server_secs(self, t: DateTime<Utc>) -> i64 {
        t.timestamp().saturating_add(self.offset_secs)
    }

    /// `<name>_msc` when present, else `<name>` in seconds.
    fn time(
        self,
        o: &Obj,
        secs: &'static str,
        msc: &'static str,
    ) -> Result<DateTime<Utc>, WireError> {
        match opt_i64(o, msc)? {
            Some(ms) => self.utc_from_msc(msc, ms),
            None => self.utc_from_secs(secs, field_i64(o, secs)?),
        }
    }
}

/// `account` reply.
pub(crate) fn account(data: &Value) -> Result<AccountInfo, WireError> {
    let o = object(data, "data")?;
    let margin = field_dec(o, "margin")?;
    Ok(AccountInfo {
        login: field_u64(o, "login")?,
        server: field_str(o, "server")?.to_string(),
        currency: currency(o, "currency")?,
        balance: field_dec(o, "balance")?,
        equity: field_dec(o, "equity")?,
        margin,
        free_margin: field_dec(o, "margin_free")?,
        margin_level: if margin.is_zero() {
            None
        } else {
            Some(field_dec(o, "margin_level")?)
        },
        leverage: field_u32(o, "leverage")?,
        margin_mode: margin_mode(field_str(o, "margin_mode")?)?,
    })
}

fn execution(name: &str) -> Result<ExecutionMode, WireError> {
    Ok(match name {
        "SYMBOL_TRADE_EXECUTION_REQUEST" => ExecutionMode::Request,
        "SYMBOL_TRADE_EXECUTION_INSTANT" => ExecutionMode::Instant,
        "SYMBOL_TRADE_EXECUTION_MARKET" => ExecutionMode::Market,
        "SYMBOL_TRADE_EXECUTION_EXCHANGE" => ExecutionMode::Exchange,
        other => return Err(WireError::unknown("trade_exemode", other)),
    })
}

fn trade_mode(name: &str) -> Result<TradeMode, WireError> {
    Ok(match name {
        "SYMBOL_TRADE_MODE_DISABLED" => TradeMode::Disabled,
        "SYMBOL_TRADE_MODE_LONGONLY" => TradeMode::LongOnly,
        "SYMBOL_TRADE_MODE_SHORTONLY" => TradeMode::ShortOnly,
        "SYMBOL_TRADE_MODE_CLOSEONLY" => TradeMode::CloseOnly,
        "SYMBOL_TRADE_MODE_FULL" => TradeMode::Full,
        other => return Err(WireError::unknown("trade_mode", other)),
    })
}

fn swap_mode(name: &str) -> Result<SwapMode, WireError> {
    Ok(match name {
        "SYMBOL_SWAP_MODE_DISABLED" => SwapMode::Disabled,
        "SYMBOL_SWAP_MODE_POINTS" => SwapMode::Points,
        "SYMBOL_SWAP_MODE_CURRENCY_SYMBOL" => SwapMode::CurrencySymbol,
        "SYMBOL_SWAP_MODE_CURRENCY_MARGIN" => SwapMode::CurrencyMargin,
        "SYMBOL_SWAP_MODE_CURRENCY_DEPOSIT" => SwapMode::CurrencyDeposit,
        "SYMBOL_SWAP_MODE_CURRENCY_PROFIT" => SwapMode::CurrencyProfit,
        "SYMBOL_SWAP_MODE_INTEREST_CURRENT" => SwapMode::InterestCurrent,
        "SYMBOL_SWAP_MODE_INTEREST_OPEN" => SwapMode::InterestOpen,
        other => return Err(WireError::unknown("swap_mode", other)),
    })
}

fn weekday(name: &str) -> Result<Weekday, WireError> {
    Ok(match name {
        "SUNDAY" => Weekday::Sun,
        "MONDAY" => Weekday::Mon,
        "TUESDAY" => Weekday::Tue,
        "WEDNESDAY" => Weekday::Wed,
        "THURSDAY" => Weekday::Thu,
        "FRIDAY" => Weekday::Fri,
        "SATURDAY" => Weekday::Sat,
        other => return Err(WireError::unknown("swap_rollover3days", other)),
    })
}

/// `symbol_info` reply, reported under MTQ's name for the symbol.
pub(crate) fn symbol_spec(data: &Value, mtq_name: &Symbol) -> Result<SymbolSpec, WireError> {
    let o = object(data, "data")?;
    let digits = field_u32(o, "digits")?;
    if digits > 10 {
        return Err(WireError::kind("digits", "0 to 10"));
    }
    let spec = SymbolSpec {
        symbol: mtq_name.clone(),
        digits,
        point: field_dec(o, "point")?,
        tick_size: field_dec(o, "trade_tick_size")?,
        tick_value: field_dec(o, "trade_tick_value")?,
        contract_size: field_dec(o, "trade_contract_size")?,
        volume_min: field_dec(o, "volume_min")?,
        volume_max: field_dec(o, "volume_max")?,
        volume_step: field_dec(o, "volume_step")?,
        stops_level: field_u32(o, "trade_stops_level")?,
        freeze_level: field_u32(o, "trade_freeze_level")?,
        filling: FillingFlags(field_u32(o, "filling_mode")?),
        execution: execution(field_str(o, "trade_exemode")?)?,
        trade_mode: trade_mode(field_str(o, "trade_mode")?)?,
        swap_mode: swap_mode(field_str(o, "swap_mode")?)?,
        swap_long: field_dec(o, "swap_long")?,
        swap_short: field_dec(o, "swap_short")?,
        swap_rollover3days: weekday(field_str(o, "swap_rollover3days")?)?,
        base_currency: currency(o, "currency_base")?,
        profit_currency: currency(o, "currency_profit")?,
        margin_currency: currency(o, "currency_margin")?,
    };
    spec.validate().map_err(|e| WireError::Invalid {
        field: "data",
        detail: e.to_string(),
    })?;
    Ok(spec)
}

/// `tick` reply or push (`MqlTick`).
pub(crate) fn tick(data: &Value, st: ServerTime) -> Result<Tick, WireError> {
    let o = object(data, "data")?;
    let bid = field_f64(o, "bid")?;
    let ask = field_f64(o, "ask")?;
    if bid <= 0.0 || ask <= 0.0 {
        return Err(WireError::kind(
            "bid",
            "a positive bid and ask (no quotes yet?)",
        ));
    }
    Ok(Tick {
        time: st.time(o, "time", "time_msc")?,
        bid,
        ask,
        last: o.get("last").and_then(Value::as_f64).unwrap_or(0.0),
        volume: o.get("volume").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// `rates` reply (`MqlRates[]`, oldest first).
pub(crate) fn bars(data: &Value, st: ServerTime) -> Result<Vec<Bar>, WireError> {
    array(data, "data")?
        .iter()
        .map(|r| {
            let o = object(r, "data[]")?;
            let bar = Bar {
                time: st.utc_from_secs("time", field_i64(o, "time")?)?,
                open: field_f64(o, "open")?,
                high: field_f64(o, "high")?,
                low: field_f64(o, "low")?,
                close: field_f64(o, "close")?,
                tick_volume: field_u64(o, "tick_volume")?,
                real_volume: o.get("real_volume").and_then(Value::as_u64).unwrap_or(0),
                spread: o
                    .get("spread")
                    .and_then(Value::as_u64)
                    .and_then(|s| u32::try_from(s).ok())
                    .unwrap_or(0),
            };
            bar.validate().map_err(|e| WireError::Invalid {
                field: "data[]",
                detail: e.to_string(),
            })?;
            Ok(bar)
        })
        .collect()
}

fn position_side(name: &str) -> Result<Side, WireError> {
    match name {
        "POSITION_TYPE_BUY" => Ok(Side::Buy),
        "POSITION_TYPE_SELL" => Ok(Side::Sell),
        other => Err(WireError::unknown("type", other)),
    }
}

/// `positions` reply; `rename` maps the broker's symbol names back to MTQ's.
pub(crate) fn positions(
    data: &Value,
    st: ServerTime,
    rename: &dyn Fn(Symbol) -> Symbol,
) -> Result<Vec<Position>, WireError> {
    array(data, "data")?
        .iter()
        .map(|p| {
            let o = object(p, "data[]")?;
            Ok(Position {
                ticket: Ticket(field_u64(o, "ticket")?),
                symbol: rename(symbol(o, "symbol")?),
                side: position_side(field_str(o, "type")?)?,
                volume: field_dec(o, "volume")?,
                open_price: field_dec(o, "price_open")?,
                open_time: st.time(o, "time", "time_msc")?,
                sl: opt_price(o, "sl")?,
                tp: opt_price(o, "tp")?,
                current_price: field_dec(o, "price_current")?,
                swap: field_dec(o, "swap")?,
                profit: field_dec(o, "profit")?,
                magic: Magic(field_u64(o, "magic")?),
                comment: opt_str(o, "comment")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// `ENUM_ORDER_TYPE` name -> side and kind. Market orders in the list are being executed.
pub(crate) fn order_type(name: &str) -> Result<(Side, OrderKind), WireError> {
    Ok(match name {
        "ORDER_TYPE_BUY" => (Side::Buy, OrderKind::Market),
        "ORDER_TYPE_SELL" => (Side::Sell, OrderKind::Market),
        "ORDER_TYPE_BUY_LIMIT" => (Side::Buy, OrderKind::Limit),
        "ORDER_TYPE_SELL_LIMIT" => (Side::Sell, OrderKind::Limit),
        "ORDER_TYPE_BUY_STOP" => (Side::Buy, OrderKind::Stop),
        "ORDER_TYPE_SELL_STOP" => (Side::Sell, OrderKind::Stop),
        "ORDER_TYPE_BUY_STOP_LIMIT" => (Side::Buy, OrderKind::StopLimit),
        "ORDER_TYPE_SELL_STOP_LIMIT" => (Side::Sell, OrderKind::StopLimit),
        other => return Err(WireError::unknown("type", other)),
    })
}

/// The `ENUM_ORDER_TYPE` name for a side and kind.
pub(crate) fn order_type_name(side: Side, kind: OrderKind) -> &'static str {
    match (side, kind) {
        (Side::Buy, OrderKind::Market) => "ORDER_TYPE_BUY",
        (Side::Sell, OrderKind::Market) => "ORDER_TYPE_SELL",
        (Side::Buy, OrderKind::Limit) => "ORDER_TYPE_BUY_LIMIT",
        (Side::Sell, OrderKind::Limit) => "ORDER_TYPE_SELL_LIMIT",
        (Side::Buy, OrderKind::Stop) => "ORDER_TYPE_BUY_STOP",
        (Side::Sell, OrderKind::Stop) => "ORDER_TYPE_SELL_STOP",
        (Side::Buy, OrderKind::StopLimit) => "ORDER_TYPE_BUY_STOP_LIMIT",
        (Side::Sell, OrderKind::StopLimit) => "ORDER_TYPE_SELL_STOP_LIMIT",
    }
}

/// `orders` reply: pending orders.
pub(crate) fn orders(
    data: &Value,
    st: ServerTime,
    rename: &dyn Fn(Symbol) -> Symbol,
) -> Result<Vec<PendingOrder>, WireError> {
    array(data, "data")?
        .iter()
        .map(|p| {
            let o = object(p, "data[]")?;
            let (side, kind) = order_type(field_str(o, "type")?)?;
            let expiration = match opt_i64(o, "time_expiration")? {
                None | Some(0) => None,
                Some(t) => Some(st.utc_from_secs("time_expiration", t)?),
            };
            Ok(PendingOrder {
                ticket: Ticket(field_u64(o, "ticket")?),
                symbol: rename(symbol(o, "symbol")?),
                side,
                kind,
                volume: field_dec(o, "volume_current")?,
                price: field_dec(o, "price_open")?,
                stop_limit: opt_price(o, "price_stoplimit")?,
                sl: opt_price(o, "sl")?,
                tp: opt_price(o, "tp")?,
                time_setup: st.time(o, "time_setup", "time_setup_msc")?,
                expiration,
                magic: Magic(field_u64(o, "magic")?),
                comment: opt_str(o, "comment")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// `ENUM_DEAL_TYPE` name -> side; `None` for balance, credit, commission and other money
/// operations.
fn deal_side(name: &str) -> Option<Side> {
    match name {
        "DEAL_TYPE_BUY" => Some(Side::Buy),
        "DEAL_TYPE_SELL" => Some(Side::Sell),
        _ => None,
    }
}

fn deal_entry(name: &str) -> Result<DealEntry, WireError> {
    Ok(match name {
        "DEAL_ENTRY_IN" => DealEntry::In,
        // A close by an opposite position closes this one.
        "DEAL_ENTRY_OUT" | "DEAL_ENTRY_OUT_BY" => DealEntry::Out,
        "DEAL_ENTRY_INOUT" => DealEntry::InOut,
        "DEAL_ENTRY_STATE" => DealEntry::Balance,
        other => return Err(WireError::unknown("entry", other)),
    })
}

/// `ENUM_DEAL_REASON` name. Manual trades (desktop, mobile, web) and broker-side reasons have
/// no variant of their own in MTQ's model; they count as trades sent by someone, like `Expert`.
fn deal_reason(name: &str) -> DealReason {
    match name {
        "DEAL_REASON_SL" => DealReason::StopLoss,
        "DEAL_REASON_TP" => DealReason::TakeProfit,
        "DEAL_REASON_SO" => DealReason::StopOut,
        _ => DealReason::Expert,
    }
}

/// `history_deals` reply.
pub(crate) fn deals(
    data: &Value,
    st: ServerTime,
    rename: &dyn Fn(Symbol) -> Symbol,
) -> Result<Vec<Deal>, WireError> {
    array(data, "data")?
        .iter()
        .map(|p| {
            let o = object(p, "data[]")?;
            let side = deal_side(field_str(o, "type")?);
            let (entry, reason, symbol) = match side {
                Some(_) => (
                    deal_entry(field_str(o, "entry")?)?,
                    deal_reason(field_str(o, "reason")?),
                    Some(rename(symbol(o, "symbol")?)),
                ),
                None => (DealEntry::Balance, DealReason::Balance, None),
            };
            let nonzero = |t: u64| (t != 0).then_some(Ticket(t));
            let fee = match o.get("fee") {
                Some(_) => field_dec(o, "fee")?,
                None => Decimal::ZERO,
            };
            Ok(Deal {
                ticket: Ticket(field_u64(o, "ticket")?),
                order: nonzero(field_u64(o, "order")?),
                position: nonzero(field_u64(o, "position_id")?),
                symbol,
                side,
                entry,
                reason,
                volume: field_dec(o, "volume")?,
                price: field_dec(o, "price")?,
                // MT5 reports per-deal fees apart from the commission; both reduce the balance.
                commission: field_dec(o, "commission")? + fee,
                swap: field_dec(o, "swap")?,
                profit: field_dec(o, "profit")?,
                time: st.time(o, "time", "time_msc")?,
                magic: Magic(field_u64(o, "magic")?),
                comment: opt_str(o, "comment")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// `symbols` reply: every symbol the broker offers, with whether it is in Market Watch.
pub(crate) fn symbol_list(data: &Value) -> Result<Vec<(String, bool)>, WireError> {
    array(data, "data")?
        .iter()
        .map(|p| {
            let o = object(p, "data[]")?;
            Ok((
                field_str(o, "name")?.to_string(),
                opt_bool(o, "select")?.unwrap_or(false),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn doubles_become_the_decimal_the_ea_printed() {
        assert_eq!(to_decimal("x", 1.08012).unwrap(), dec!(1.08012));
        assert_eq!(to_decimal("x", 0.00001).unwrap(), dec!(0.00001));
        assert_eq!(
            to_decimal("x", 0.1 + 0.2).unwrap(),
            dec!(0.30000000000000004)
        );
        assert_eq!(to_decimal("x", 100000.0).unwrap(), dec!(100000));
        assert!(to_decimal("x", 1e300).is_err());
        assert!(to_decimal("x", f64::NAN).is_err());
    }

    #[test]
    fn server_times_become_utc() {
        let st = ServerTime { offset_secs: 7200 };
        let t = st.utc_from_secs("time", 1_700_007_200).unwrap();
        assert_eq!(t.timestamp(), 1_700_000_000);
        assert_eq!(st.server_secs(t), 1_700_007_200);
        let t = st.utc_from_msc("time_msc", 1_700_007_200_123).unwrap();
        assert_eq!(t.timestamp_millis(), 1_700_000_000_123);
    }

    #[test]
    fn a_balance_deal_has_no_side_or_symbol() {
        let data = json!([{"ticket": 1, "order": 0, "position_id": 0, "symbol": "", "type": "DEAL_TYPE_BALANCE",
            "entry": "DEAL_ENTRY_IN", "reason": "DEAL_REASON_CLIENT", "volume": 0.0, "price": 0.0,
            "commission": 0.0, "swap": 0.0, "profit": 10000.0, "time": 1_700_000_000, "magic": 0, "comment": "deposit"}]);
        let d = deals(&data, ServerTime { offset_secs: 0 }, &|s| s).unwrap();
        assert_eq!(d[0].entry, DealEntry::Balance);
        assert_eq!(
            (d[0].symbol.clone(), d[0].side, d[0].order),
            (None, None, None)
        );
        assert_eq!(d[0].balance_effect(), dec!(10000));
    }

    fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![
                Just("POSITION_TYPE_BUY".to_string()),
                Just("DEAL_TYPE_SELL".to_string()),
                Just("EURUSD".to_string()),
                ".{0,8}"
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 64, 8, |inner| {
            let keys = prop_oneof![
                Just("ticket".to_string()),
                Just("symbol".to_string()),
                Just("type".to_string()),
                Just("time".to_string()),
                Just("time_msc".to_string()),
                Just("volume".to_string()),
                Just("price".to_string()),
                Just("bid".to_string()),
                Just("ask".to_string()),
                Just("digits".to_string()),
                "[a-z_]{1,12}"
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(keys, inner, 0..12)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn any_reply_data_is_parsed_or_refused_without_panicking(
            data in arbitrary_json(),
            offset in -100_000i64..100_000,
        ) {
            let st = ServerTime { offset_secs: offset };
            let sym = Symbol::new("EURUSD").unwrap();
            let _ = account(&data);
            let _ = symbol_spec(&data, &sym);
            let _ = tick(&data, st);
            let _ = bars(&data, st);
            let _ = positions(&data, st, &|s| s);
            let _ = orders(&data, st, &|s| s);
            let _ = deals(&data, st, &|s| s);
            let _ = symbol_list(&data);
            let wrapped = Value::Array(vec![data]);
            let _ = positions(&wrapped, st, &|s| s);
            let _ = deals(&wrapped, st, &|s| s);
            let _ = bars(&wrapped, st);
        }
    }

    #[test]
    fn a_bad_field_is_named() {
        let data = json!([{"ticket": 1, "symbol": "EURUSD", "type": "POSITION_TYPE_LONG"}]);
        let err = positions(&data, ServerTime { offset_secs: 0 }, &|s| s)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("type") && err.contains("POSITION_TYPE_LONG"),
            "{err}"
        );
        let err = tick(
            &json!({"bid": "1.1", "ask": 1.2, "time": 0}),
            ServerTime { offset_secs: 0 },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("bid"), "{err}");
    }
}
