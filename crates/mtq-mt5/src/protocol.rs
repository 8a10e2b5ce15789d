//! Protocol version 1 (see `docs/mt5-bridge.md`): message envelope, the hello, and the MT5
//! enumeration names the bridge sends with `EnumToString`.

use mtq_core::{Currency, MarginMode, Timeframe};
use serde_json::{Map, Value};

use crate::wire::{WireError, field_str, field_u64, opt_bool, opt_i64, opt_str};

/// The protocol version this crate speaks (`"v"` in every message).
pub const PROTOCOL_VERSION: u32 = 1;

/// Request types the connector sends to the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    Account,
    SymbolInfo,
    SymbolSelect,
    Symbols,
    Subscribe,
    Tick,
    Rates,
    Positions,
    Orders,
    HistoryDeals,
    OrderCheck,
    OrderSend,
    PositionModify,
    PositionClose,
    OrderCancel,
}

impl RequestKind {
    /// Every request type of protocol version 1.
    pub const ALL: [RequestKind; 15] = [
        RequestKind::Account,
        RequestKind::SymbolInfo,
        RequestKind::SymbolSelect,
        RequestKind::Symbols,
        RequestKind::Subscribe,
        RequestKind::Tick,
        RequestKind::Rates,
        RequestKind::Positions,
        RequestKind::Orders,
        RequestKind::HistoryDeals,
        RequestKind::OrderCheck,
        RequestKind::OrderSend,
        RequestKind::PositionModify,
        RequestKind::PositionClose,
        RequestKind::OrderCancel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Account => "account",
            RequestKind::SymbolInfo => "symbol_info",
            RequestKind::SymbolSelect => "symbol_select",
            RequestKind::Symbols => "symbols",
            RequestKind::Subscribe => "subscribe",
            RequestKind::Tick => "tick",
            RequestKind::Rates => "rates",
            RequestKind::Positions => "positions",
            RequestKind::Orders => "orders",
            RequestKind::HistoryDeals => "history_deals",
            RequestKind::OrderCheck => "order_check",
            RequestKind::OrderSend => "order_send",
            RequestKind::PositionModify => "position_modify",
            RequestKind::PositionClose => "position_close",
            RequestKind::OrderCancel => "order_cancel",
        }
    }

    /// Requests that change the account. They are never sent twice: when their answer is lost
    /// the outcome is unknown and only reconciliation can tell what happened.
    pub fn is_trade(self) -> bool {
        matches!(
            self,
            RequestKind::OrderSend
                | RequestKind::PositionModify
                | RequestKind::PositionClose
                | RequestKind::OrderCancel
        )
    }
}

/// Builds one outbound line: `{"v":1,"id":N,"type":T, ...fields}` followed by `\n`.
pub(crate) fn encode(id: u64, kind: &str, fields: Map<String, Value>) -> String {
    let mut obj = Map::with_capacity(fields.len() + 3);
    obj.insert("v".into(), Value::from(PROTOCOL_VERSION));
    obj.insert("id".into(), Value::from(id));
    obj.insert("type".into(), Value::from(kind));
    for (k, v) in fields {
        if !matches!(k.as_str(), "v" | "id" | "type") {
            obj.insert(k, v);
        }
    }
    let mut line = Value::Object(obj).to_string();
    line.push('\n');
    line
}

/// What the terminal told us about itself when it connected. The token is checked and dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Hello {
    /// `TERMINAL_BUILD`.
    pub terminal_build: u64,
    /// `TERMINAL_NAME`.
    pub terminal_name: String,
    /// Version of the bridge EA.
    pub ea_version: String,
    /// `ACCOUNT_LOGIN`.
    pub login: u64,
    /// `ACCOUNT_SERVER`.
    pub server: String,
    /// `ACCOUNT_COMPANY`.
    pub company: String,
    /// `ACCOUNT_CURRENCY`.
    pub currency: Currency,
    /// `ACCOUNT_LEVERAGE`, 1:N.
    pub leverage: u32,
    /// `ACCOUNT_MARGIN_MODE`.
    pub margin_mode: MarginMode,
    /// `TERMINAL_TRADE_ALLOWED`: the Algo Trading button.
    pub terminal_trade_allowed: bool,
    /// `MQL_TRADE_ALLOWED`: "Allow Algo Trading" in the EA's properties.
    pub ea_trade_allowed: bool,
    /// The trade server's offset from UTC in seconds, `TimeTradeServer() - TimeGMT()` rounded to
    /// a quarter hour.
    pub server_offset_secs: i64,
}

/// `TimeTradeServer() - TimeGMT()`, rounded to the nearest quarter hour (the two clocks are read
/// a moment apart; no trade server runs on an offset finer than 15 minutes).
pub(crate) fn server_offset(time_trade_server: i64, time_gmt: i64) -> i64 {
    const QUARTER_HOUR: i64 = 900;
    let raw = time_trade_server.saturating_sub(time_gmt);
    let q = (raw + raw.signum() * QUARTER_HOUR / 2) / QUARTER_HOUR;
    q * QUARTER_HOUR
}

/// The largest server offset accepted: UTC+14 / UTC-12 with room to spare.
const MAX_OFFSET_SECS: i64 = 15 * 3600;

/// Reads `time_trade_server` and `time_gmt` from a hello or heartbeat, when both are present.
pub(crate) fn offset_from(body: &Map<String, Value>) -> Result<Option<i64>, WireError> {
    let (Some(server), Some(gmt)) = (
        opt_i64(body, "time_trade_server")?,
        opt_i64(body, "time_gmt")?,
    ) else {
        return Ok(None);
    };
    let off = server_offset(server, gmt);
    if off.abs() > MAX_OFFSET_SECS {
        return Err(WireError::Invalid {
            field: "time_trade_server",
            detail: format!("offset of {off} s from time_gmt is not a time zone"),
        });
    }
    Ok(Some(off))
}

impl Hello {
    /// Parses a hello's fields (the token is checked separately).
    pub(crate) fn parse(body: &Map<String, Value>) -> Result<Self, WireError> {
        let currency_name = field_str(body, "currency")?;
        let currency = Currency::new(currency_name).map_err(|e| WireError::Invalid {
            field: "currency",
            detail: e.to_string(),
        })?;
        let server_offset_secs = offset_from(body)?.ok_or(WireError::Missing("time_gmt"))?;
        let leverage =
            u32::try_from(field_u64(body, "leverage")?).map_err(|_| WireError::Invalid {
                field: "leverage",
                detail: "out of range".into(),
            })?;
        Ok(Self {
            terminal_build: field_u64(body, "terminal_build")?,
            terminal_name: opt_str(body, "terminal_name")?.unwrap_or_default(),
            ea_version: opt_str(body, "ea_version")?.unwrap_or_default(),
            login: field_u64(body, "login")?,
            server: field_str(body, "server")?.to_string(),
            company: opt_str(body, "company")?.unwrap_or_default(),
            currency,
            leverage,
            margin_mode: margin_mode(field_str(body, "margin_mode")?)?,
            terminal_trade_allowed: opt_bool(body, "terminal_trade_allowed")?.unwrap_or(false),
            ea_trade_allowed: opt_bool(body, "ea_trade_allowed")?.unwrap_or(false),
            server_offset_secs,
        })
    }
}

/// `ENUM_ACCOUNT_MARGIN_MODE` by name. Exchange accounts net positions per symbol.
pub(crate) fn margin_mode(name: &str) -> Result<MarginMode, WireError> {
    match name {
        "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING" => Ok(MarginMode::Hedging),
        "ACCOUNT_MARGIN_MODE_RETAIL_NETTING" | "ACCOUNT_MARGIN_MODE_EXCHANGE" => {
            Ok(MarginMode::Netting)
        }
        other => Err(WireError::unknown("margin_mode", other)),
    }
}

/// `ENUM_TIMEFRAMES` name of a timeframe.
pub(crate) fn period_name(tf: Timeframe) -> &'static str {
    match tf {
        Timeframe::M1 => "PERIOD_M1",
        Timeframe::M5 => "PERIOD_M5",
        Timeframe::M15 => "PERIOD_M15",
        Timeframe::M30 => "PERIOD_M30",
        Timeframe::H1 => "PERIOD_H1",
        Timeframe::H4 => "PERIOD_H4",
        Timeframe::D1 => "PERIOD_D1",
        Timeframe::W1 => "PERIOD_W1",
        Timeframe::MN1 => "PERIOD_MN1",
    }
}

/// Constant-time comparison of the shared token, so its length and prefix do not leak through
/// timing to another local process.
pub(crate) fn token_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_server_offset_rounds_to_a_quarter_hour() {
        assert_eq!(server_offset(1_700_007_201, 1_700_000_000), 7200);
        assert_eq!(server_offset(1_700_000_000, 1_700_007_199), -7200);
        assert_eq!(server_offset(1_700_000_001, 1_700_000_000), 0);
        // Nepal, UTC+5:45.
        assert_eq!(server_offset(20_700, 0), 20_700);
    }

    #[test]
    fn a_hello_gives_the_account_and_the_offset() {
        let body = json!({"v":1,"id":1,"type":"hello","token":"x","terminal_build":4755,
            "login":5123,"server":"Demo-Server","currency":"USD","leverage":500,
            "margin_mode":"ACCOUNT_MARGIN_MODE_RETAIL_HEDGING","time_trade_server":1_700_010_800,
            "time_gmt":1_700_000_000,"terminal_trade_allowed":true});
        let h = Hello::parse(body.as_object().unwrap()).unwrap();
        assert_eq!(
            (h.login, h.leverage, h.server_offset_secs),
            (5123, 500, 10_800)
        );
        assert_eq!(h.margin_mode, MarginMode::Hedging);
        assert!(h.terminal_trade_allowed && !h.ea_trade_allowed);
        let mut bad = body.as_object().unwrap().clone();
        bad.insert("margin_mode".into(), json!("SOMETHING"));
        let err = Hello::parse(&bad).unwrap_err().to_string();
        assert!(
            err.contains("margin_mode") && err.contains("SOMETHING"),
            "{err}"
        );
        bad.remove("time_gmt");
        assert!(Hello::parse(&bad).is_err());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cret", "s3cre"));
        assert!(!token_matches("s3cret", "s3cret!"));
        assert!(!token_matches("s3cret", ""));
    }

    #[test]
    fn encode_puts_the_envelope_first_and_ends_the_line() {
        let mut f = Map::new();
        f.insert("symbol".into(), json!("EUR\"USD\n"));
        f.insert("id".into(), json!(99));
        let line = encode(7, "tick", f);
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line}"
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["symbol"], "EUR\"USD\n");
    }
}
