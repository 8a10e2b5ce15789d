//! Closed bars of a symbol, as the trader journalled them, with the strategy's indicators over
//! the same bars for the dashboard's chart.
//!
//! The indicators are computed here from the strategy's effective parameters (the snapshot's
//! `parameters`), with the same TA-Lib functions the strategies use: the moving averages of
//! `fast_period` / `slow_period` (of `ma_type`), `ma_period`, `ema_fast` / `ema_slow`, RSI of
//! `rsi_period`, Bollinger bands of `bb_period` / `bb_std_dev`, MACD of `macd_fast` /
//! `macd_slow` / `macd_signal`, ATR of `atr_period`. Each series is aligned with the bars;
//! a bar before the indicator has enough history is `null`.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use mtq_core::{Bar, Timeframe};
use mtq_indicators::batch;
use mtq_persistence::HistoryRepo;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::extract::QueryParams;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::ApiState;

/// The most bars one request returns.
pub const MAX_BARS: u32 = 2_000;
/// Extra bars read before the first one returned, so the indicators have their history.
const INDICATOR_HISTORY: u32 = 300;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BarQuery {
    /// `M1`, `M5`, `M15`, `M30`, `H1`, `H4` or `D1`; default: the timeframe the symbol trades on.
    pub timeframe: Option<String>,
    /// Bars that closed before this time (RFC 3339); default: now.
    pub to: Option<DateTime<Utc>>,
    /// The newest bars, 1 to 2000 (default 200).
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BarView {
    /// The bar's open time.
    pub time: DateTime<Utc>,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub tick_volume: u64,
}

/// One indicator's values, one per bar (`null` while it warms up).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct IndicatorSeries {
    /// E.g. `SMA(10)`, `RSI(14)`, `BB(20,2) upper`.
    pub name: String,
    pub values: Vec<Option<f64>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BarsView {
    pub symbol: String,
    pub timeframe: String,
    /// The strategy whose indicators these are (absent without a trader).
    pub strategy: Option<String>,
    /// Oldest first.
    pub bars: Vec<BarView>,
    pub indicators: Vec<IndicatorSeries>,
}

fn usize_of(p: &Value, key: &str) -> Option<usize> {
    p.get(key)?.as_u64().and_then(|v| usize::try_from(v).ok())
}

/// The indicator series a strategy with these parameters reads, over `bars`.
pub(crate) fn indicators(parameters: &Value, bars: &[Bar]) -> Vec<(String, Vec<f64>)> {
    let close: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let high: Vec<f64> = bars.iter().map(|b| b.high).collect();
    let low: Vec<f64> = bars.iter().map(|b| b.low).collect();
    let ma_type = parameters
        .get("ma_type")
        .and_then(Value::as_str)
        .unwrap_or("sma")
        .to_ascii_lowercase();
    let ma = |period: usize| -> Option<(String, Vec<f64>)> {
        let (label, values) = match ma_type.as_str() {
            "ema" => ("EMA", batch::ema(&close, period)),
            "wma" => ("WMA", batch::wma(&close, period)),
            _ => ("SMA", batch::sma(&close, period)),
        };
        values.ok().map(|v| (format!("{label}({period})"), v))
    };
    let mut out = Vec::new();
    for key in ["fast_period", "slow_period", "ma_period"] {
        if let Some(s) = usize_of(parameters, key).and_then(ma) {
            out.push(s);
        }
    }
    for key in ["ema_fast", "ema_slow"] {
        if let Some(p) = usize_of(parameters, key)
            && let Ok(v) = batch::ema(&close, p)
        {
            out.push((format!("EMA({p})"), v));
        }
    }
    if let Some(p) = usize_of(parameters, "rsi_period")
        && let Ok(v) = batch::rsi(&close, p)
    {
        out.push((format!("RSI({p})"), v));
    }
    if let Some(p) = usize_of(parameters, "bb_period") {
        let k = parameters
            .get("bb_std_dev")
            .and_then(Value::as_f64)
            .unwrap_or(2.0);
        if let Ok(b) = batch::bbands(&close, p, k, k) {
            out.push((format!("BB({p},{k}) upper"), b.upper));
            out.push((format!("BB({p},{k}) middle"), b.middle));
            out.push((format!("BB({p},{k}) lower"), b.lower));
        }
    }
    if let (Some(f), Some(s), Some(g)) = (
        usize_of(parameters, "macd_fast"),
        usize_of(parameters, "macd_slow"),
        usize_of(parameters, "macd_signal"),
    ) && let Ok(m) = batch::macd(&close, f, s, g)
    {
        out.push((format!("MACD({f},{s},{g})"), m.macd));
        out.push((format!("MACD({f},{s},{g}) signal"), m.signal));
        out.push((format!("MACD({f},{s},{g}) histogram"), m.hist));
    }
    if let Some(p) = usize_of(parameters, "atr_period")
        && let Ok(v) = batch::atr(&high, &low, &close, p)
    {
        out.push((format!("ATR({p})"), v));
    }
    out
}

/// Closed bars of a symbol with the strategy's indicator values, oldest first.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/symbols/{symbol}/bars", tag = "symbols", security(("bearer" = [])),
    params(("account" = String, Path), ("symbol" = String, Path), BarQuery),
    responses((status = 200, body = BarsView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn bars(
    _c: Caller,
    State(state): State<ApiState>,
    Path((account, symbol)): Path<(String, String)>,
    QueryParams(q): QueryParams<BarQuery>,
) -> ApiResult<Json<BarsView>> {
    let state = state.account(&account)?;
    let snap = state.snapshot();
    let traded = snap
        .as_deref()
        .and_then(|s| s.symbols.iter().find(|x| x.symbol.as_str() == symbol));
    if snap.is_some() && traded.is_none() {
        return Err(ApiError::not_found(format!(
            "symbol `{symbol}` is not traded by this account"
        ))
        .with_field("symbol"));
    }
    let timeframe: Timeframe = match (&q.timeframe, traded) {
        (Some(t), _) => t.parse().map_err(|_| {
            ApiError::invalid(
                "timeframe",
                format!("timeframe `{t}`: use M1, M5, M15, M30, H1, H4 or D1"),
            )
        })?,
        (None, Some(s)) => s.timeframe,
        (None, None) => {
            return Err(ApiError::invalid(
                "timeframe",
                "give a timeframe (M1, M5, M15, M30, H1, H4 or D1)",
            ));
        }
    };
    let limit = q.limit.unwrap_or(200);
    if limit == 0 || limit > MAX_BARS {
        return Err(ApiError::invalid(
            "limit",
            format!("limit is 1 to {MAX_BARS}"),
        ));
    }
    let to = q.to.unwrap_or_else(Utc::now);
    let acc = state.db_account();
    let sym = symbol.clone();
    let all = state
        .with_store(move |s| s.closed_bars(acc, &sym, timeframe, to, limit + INDICATOR_HISTORY))
        .await?;
    let parameters = traded
        .filter(|s| s.timeframe == timeframe)
        .map(|s| s.parameters.clone());
    let series = parameters
        .as_ref()
        .map(|p| indicators(p, &all))
        .unwrap_or_default();
    let skip = all.len().saturating_sub(limit as usize);
    let finite = |x: &f64| x.is_finite().then_some(*x);
    Ok(Json(BarsView {
        symbol,
        timeframe: timeframe.to_string(),
        strategy: parameters.and(traded.map(|s| s.strategy.clone())),
        bars: all[skip..]
            .iter()
            .map(|b| BarView {
                time: b.time,
                open: b.open,
                high: b.high,
                low: b.low,
                close: b.close,
                tick_volume: b.tick_volume,
            })
            .collect(),
        indicators: series
            .into_iter()
            .map(|(name, v)| IndicatorSeries {
                name,
                values: v.iter().skip(skip).map(finite).collect(),
            })
            .collect(),
    }))
}
