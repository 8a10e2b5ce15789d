//! Performance from the closed trades in the database: one summary, the same per day, week or
//! month, and per symbol, strategy or exit reason. The figures are `mtq-analytics`'s, so the
//! API shows what the reports and the daily aggregation show.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mtq_analytics::{
    GroupBy, GroupPerformance, PerformanceSummary, Period, PeriodPerformance, performance_by,
    performance_by_period, performance_summary,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::extract::QueryParams;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::ApiState;

/// The figures of a set of closed trades (net of commission and swap).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PerformanceView {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// wins / trades, 0 to 1.
    pub win_rate: f64,
    /// Gross profit over the absolute gross loss; absent without a loss.
    pub profit_factor: Option<f64>,
    pub net_profit: Decimal,
    pub gross_profit: Decimal,
    /// Zero or negative.
    pub gross_loss: Decimal,
    /// Average net profit per trade.
    pub expectancy: Decimal,
    /// Largest fall from a running peak, in money.
    pub max_drawdown: Decimal,
    /// The same in percent of the peak; absent without a starting equity (groups).
    pub max_drawdown_pct: Option<f64>,
    /// Annualised from daily returns; absent without a starting equity or under two days.
    pub sharpe: Option<f64>,
}

/// A number JSON can carry (NaN and infinities have no JSON form).
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

impl From<&PerformanceSummary> for PerformanceView {
    fn from(s: &PerformanceSummary) -> Self {
        Self {
            trades: s.trades,
            wins: s.wins,
            losses: s.losses,
            win_rate: finite(s.win_rate),
            profit_factor: s.profit_factor.filter(|x| x.is_finite()),
            net_profit: s.net_profit,
            gross_profit: s.gross_profit,
            gross_loss: s.gross_loss,
            expectancy: s.expectancy,
            max_drawdown: s.max_drawdown,
            max_drawdown_pct: s.max_drawdown_pct.filter(|x| x.is_finite()),
            sharpe: s.sharpe.filter(|x| x.is_finite()),
        }
    }
}

/// One period's figures.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PeriodView {
    /// The period's first day (UTC; weeks start on Monday).
    pub start: NaiveDate,
    #[serde(flatten)]
    pub performance: PerformanceView,
}

impl From<&PeriodPerformance> for PeriodView {
    fn from(p: &PeriodPerformance) -> Self {
        Self {
            start: p.start,
            performance: PerformanceView::from(&p.summary),
        }
    }
}

/// One group's figures.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    /// The symbol, strategy or exit reason.
    pub key: String,
    #[serde(flatten)]
    pub performance: PerformanceView,
}

impl From<&GroupPerformance> for GroupView {
    fn from(g: &GroupPerformance) -> Self {
        Self {
            key: g.key.clone(),
            performance: PerformanceView::from(&g.summary),
        }
    }
}

/// The periods a breakdown can use.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodParam {
    Daily,
    Weekly,
    Monthly,
}

impl PeriodParam {
    fn period(self) -> Period {
        match self {
            Self::Daily => Period::Day,
            Self::Weekly => Period::Week,
            Self::Monthly => Period::Month,
        }
    }

    /// How many periods back the default range reaches.
    fn default_span(self) -> u32 {
        match self {
            Self::Daily => 30,
            Self::Weekly => 26,
            Self::Monthly => 12,
        }
    }
}

/// What a grouped breakdown groups by.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupParam {
    Symbol,
    Strategy,
    ExitReason,
}

impl From<GroupParam> for GroupBy {
    fn from(g: GroupParam) -> Self {
        match g {
            GroupParam::Symbol => GroupBy::Symbol,
            GroupParam::Strategy => GroupBy::Strategy,
            GroupParam::ExitReason => GroupBy::ExitReason,
        }
    }
}

/// The start of the default range of the summary and the groups: all recorded history.
pub(crate) fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

pub(crate) fn range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    default_from: impl FnOnce(DateTime<Utc>) -> DateTime<Utc>,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or_else(|| default_from(to));
    if from >= to {
        return Err(ApiError::invalid("from", "`from` must be before `to`"));
    }
    Ok((from, to))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// Trades closed from (RFC 3339); default: all history.
    pub from: Option<DateTime<Utc>>,
    /// Trades closed before (RFC 3339); default: now.
    pub to: Option<DateTime<Utc>>,
}

/// The performance of the trades closed in a range.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/performance", tag = "performance", security(("bearer" = [])),
    params(("account" = String, Path), SummaryQuery),
    responses((status = 200, body = PerformanceView), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn summary(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    QueryParams(q): QueryParams<SummaryQuery>,
) -> ApiResult<Json<PerformanceView>> {
    let state = state.account(&account)?;
    let (from, to) = range(q.from, q.to, |_| epoch())?;
    let acc = state.db_account();
    let s = state
        .with_analytics_store(move |s| performance_summary(s, acc, from, to))
        .await?;
    Ok(Json(PerformanceView::from(&s)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// `daily`, `weekly` (from Monday) or `monthly`, all UTC.
    #[param(inline)]
    pub period: PeriodParam,
    /// Trades closed from (RFC 3339); default: 30 days, 26 weeks or 12 months back.
    pub from: Option<DateTime<Utc>>,
    /// Trades closed before (RFC 3339); default: now.
    pub to: Option<DateTime<Utc>>,
}

/// The performance per day, week or month with closed trades, oldest first.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/performance/periods", tag = "performance", security(("bearer" = [])),
    params(("account" = String, Path), PeriodQuery),
    responses((status = 200, body = [PeriodView]), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn periods(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    QueryParams(q): QueryParams<PeriodQuery>,
) -> ApiResult<Json<Vec<PeriodView>>> {
    let state = state.account(&account)?;
    let period = q.period.period();
    let span = q.period.default_span();
    let (from, to) = range(q.from, q.to, |to| {
        let day = period.periods_back(to.date_naive(), span);
        Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
    })?;
    let acc = state.db_account();
    let rows = state
        .with_analytics_store(move |s| performance_by_period(s, acc, period, from, to))
        .await?;
    Ok(Json(rows.iter().map(PeriodView::from).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GroupQuery {
    /// `symbol`, `strategy` or `exit_reason`.
    #[param(inline)]
    pub by: GroupParam,
    /// Trades closed from (RFC 3339); default: all history.
    pub from: Option<DateTime<Utc>>,
    /// Trades closed before (RFC 3339); default: now.
    pub to: Option<DateTime<Utc>>,
}

/// The performance per symbol, strategy or exit reason, by key.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/performance/groups", tag = "performance", security(("bearer" = [])),
    params(("account" = String, Path), GroupQuery),
    responses((status = 200, body = [GroupView]), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn groups(
    _c: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    QueryParams(q): QueryParams<GroupQuery>,
) -> ApiResult<Json<Vec<GroupView>>> {
    let state = state.account(&account)?;
    let (from, to) = range(q.from, q.to, |_| epoch())?;
    let by = GroupBy::from(q.by);
    let acc = state.db_account();
    let rows = state
        .with_analytics_store(move |s| performance_by(s, acc, by, from, to))
        .await?;
    Ok(Json(rows.iter().map(GroupView::from).collect()))
}
