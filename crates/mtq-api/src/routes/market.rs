//! What the trader runs and sees: its symbols with their specifications, its strategies with
//! their parameters, and the latest quotes; from the driver's newest snapshot.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use mtq_orchestrator::{LiveSnapshot, SymbolState};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::ApiState;
use crate::views::tag;

pub(crate) fn live(state: &ApiState) -> ApiResult<Arc<LiveSnapshot>> {
    state.snapshot().ok_or_else(|| {
        ApiError::conflict(
            "no_trader",
            "this server runs without a trader (serve --no-trade): live state is unavailable",
        )
    })
}

/// A symbol's contract as the broker specifies it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SpecView {
    pub digits: u32,
    pub point: Decimal,
    pub tick_size: Decimal,
    pub tick_value: Decimal,
    pub contract_size: Decimal,
    pub volume_min: Decimal,
    pub volume_max: Decimal,
    pub volume_step: Decimal,
    /// Minimum distance of stops from the price, in points.
    pub stops_level: u32,
    /// Distance from the price inside which orders and stops may not change, in points.
    pub freeze_level: u32,
    /// `full`, `long_only`, `short_only`, `close_only` or `disabled`.
    pub trade_mode: String,
    pub base_currency: String,
    pub profit_currency: String,
    pub margin_currency: String,
}

/// A traded symbol: its specification, timeframe and strategy, and whether entries are on.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SymbolView {
    pub symbol: String,
    /// `M1`, `M5`, ... `D1`.
    pub timeframe: String,
    pub strategy: String,
    /// Enabled in the configuration.
    pub configured: bool,
    /// Entries disabled by an operator (`PATCH .../symbols/{symbol}`).
    pub disabled_by_operator: bool,
    /// Entries happen: configured and not disabled by an operator.
    pub enabled: bool,
    /// Absent until the trader has read it from the broker.
    pub spec: Option<SpecView>,
}

fn symbol_view(s: &SymbolState, snap: &LiveSnapshot) -> SymbolView {
    let off = snap.disabled_symbols.contains(&s.symbol);
    SymbolView {
        symbol: s.symbol.as_str().into(),
        timeframe: s.timeframe.to_string(),
        strategy: s.strategy.clone(),
        configured: s.configured,
        disabled_by_operator: off,
        enabled: s.configured && !off,
        spec: s.spec.as_ref().map(|p| SpecView {
            digits: p.digits,
            point: p.point,
            tick_size: p.tick_size,
            tick_value: p.tick_value,
            contract_size: p.contract_size,
            volume_min: p.volume_min,
            volume_max: p.volume_max,
            volume_step: p.volume_step,
            stops_level: p.stops_level,
            freeze_level: p.freeze_level,
            trade_mode: tag(&p.trade_mode),
            base_currency: p.base_currency.as_str().into(),
            profit_currency: p.profit_currency.as_str().into(),
            margin_currency: p.margin_currency.as_str().into(),
        }),
    }
}

/// The symbol in the path, among the traded ones: 404 otherwise.
pub(crate) fn traded<'a>(snap: &'a LiveSnapshot, raw: &str) -> ApiResult<&'a SymbolState> {
    snap.symbols
        .iter()
        .find(|s| s.symbol.as_str() == raw)
        .ok_or_else(|| {
            ApiError::not_found(format!("symbol `{raw}` is not traded by this account"))
                .with_field("symbol")
        })
}

/// Every traded symbol with its specification.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/symbols", tag = "symbols", security(("bearer" = [])),
    params(("account" = String, Path)),
    responses((status = 200, body = [SymbolView]), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn symbols(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<SymbolView>>> {
    let state = state.account(&account)?;
    let snap = live(&state)?;
    Ok(Json(
        snap.symbols.iter().map(|s| symbol_view(s, &snap)).collect(),
    ))
}

/// One traded symbol with its specification.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/symbols/{symbol}", tag = "symbols", security(("bearer" = [])),
    params(("account" = String, Path), ("symbol" = String, Path)),
    responses((status = 200, body = SymbolView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn symbol(
    _c: Caller,
    State(state): State<ApiState>,
    Path((account, symbol)): Path<(String, String)>,
) -> ApiResult<Json<SymbolView>> {
    let state = state.account(&account)?;
    let snap = live(&state)?;
    Ok(Json(symbol_view(traded(&snap, &symbol)?, &snap)))
}

/// One strategy configuration and the symbols it runs on.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StrategyView {
    /// The registry name (`strategy_type`).
    pub name: String,
    /// Its parameters: the configuration entry without `symbol`, `enabled` and `strategy_type`.
    pub parameters: serde_json::Value,
    pub symbols: Vec<String>,
}

/// The strategies running, each with its parameters and symbols; symbols sharing a strategy
/// and its parameters are listed together.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/strategies", tag = "symbols", security(("bearer" = [])),
    params(("account" = String, Path)),
    responses((status = 200, body = [StrategyView]), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn strategies(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<StrategyView>>> {
    let state = state.account(&account)?;
    let snap = live(&state)?;
    let mut out: Vec<StrategyView> = Vec::new();
    for s in &snap.symbols {
        let mut parameters = s.parameters.clone();
        if let Some(m) = parameters.as_object_mut() {
            for k in ["symbol", "enabled", "strategy_type"] {
                m.remove(k);
            }
        }
        match out
            .iter_mut()
            .find(|v| v.name == s.strategy && v.parameters == parameters)
        {
            Some(v) => v.symbols.push(s.symbol.as_str().into()),
            None => out.push(StrategyView {
                name: s.strategy.clone(),
                parameters,
                symbols: vec![s.symbol.as_str().into()],
            }),
        }
    }
    Ok(Json(out))
}

/// A symbol's latest price.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QuoteView {
    pub symbol: String,
    pub bid: Decimal,
    pub ask: Decimal,
    /// ask - bid, in price.
    pub spread: Decimal,
    /// The same in points (absent until the specification is known).
    pub spread_points: Option<Decimal>,
    /// When the trader read it.
    pub time: DateTime<Utc>,
}

pub(crate) fn quote_view(snap: &LiveSnapshot, s: &SymbolState) -> Option<QuoteView> {
    let q = snap.quotes.get(&s.symbol)?;
    let spread = q.ask - q.bid;
    Some(QuoteView {
        symbol: s.symbol.as_str().into(),
        bid: q.bid,
        ask: q.ask,
        spread,
        spread_points: s
            .spec
            .as_ref()
            .filter(|p| !p.point.is_zero())
            .map(|p| (spread / p.point).round_dp(1)),
        time: q.time,
    })
}

/// The latest quote of a traded symbol, as the trader last read it.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/symbols/{symbol}/quote", tag = "symbols", security(("bearer" = [])),
    params(("account" = String, Path), ("symbol" = String, Path)),
    responses((status = 200, body = QuoteView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn quote(
    _c: Caller,
    State(state): State<ApiState>,
    Path((account, symbol)): Path<(String, String)>,
) -> ApiResult<Json<QuoteView>> {
    let state = state.account(&account)?;
    let snap = live(&state)?;
    let s = traded(&snap, &symbol)?;
    quote_view(&snap, s).map(Json).ok_or_else(|| {
        ApiError::not_found(format!(
            "no quote for {symbol} yet: the trader has not read one"
        ))
        .with_field("symbol")
    })
}
