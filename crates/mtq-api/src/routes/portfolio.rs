//! The portfolio: every account this server serves, together. Risk from the traders' newest
//! snapshots (with the `portfolio:` limits and whether one is reached), performance from each
//! account's closed trades, summed.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use mtq_analytics::performance_summary;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::{RiskView, risk_view};
use super::performance::{PerformanceView, SummaryQuery};
use crate::auth::Caller;
use crate::extract::QueryParams;
use crate::problem::{ApiResult, Problem};
use crate::state::ApiState;

/// Risk across accounts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PortfolioRiskView {
    /// Each running account's risk, by name (an account still starting is left out).
    pub accounts: BTreeMap<String, RiskView>,
    /// The day's P&L summed over the accounts.
    pub daily_pnl: Decimal,
    /// Net lots per currency over every account's positions.
    pub exposure: BTreeMap<String, Decimal>,
    /// `portfolio.max_daily_loss`.
    pub max_daily_loss: Option<Decimal>,
    /// `portfolio.max_currency_exposure_lots`.
    pub max_currency_exposure_lots: Option<Decimal>,
    /// The limit the figures reach now (`portfolio_daily_loss`, `portfolio_currency_exposure`).
    pub limit_reached: Option<String>,
    /// What it says, with the figures.
    pub limit_message: Option<String>,
}

/// Risk across every account, and the portfolio limits.
#[utoipa::path(get, path = "/api/v1/portfolio/risk", tag = "risk", security(("bearer" = [])),
    responses((status = 200, body = PortfolioRiskView), (status = 401, body = Problem)))]
pub async fn risk(_c: Caller, State(state): State<ApiState>) -> Json<PortfolioRiskView> {
    let snaps: Vec<_> = state
        .accounts()
        .iter()
        .filter_map(|a| a.control.as_ref().map(|c| c.snapshot()))
        .filter(|s| s.account.is_some())
        .collect();
    let limits = &state.options().portfolio;
    let breach = mtq_orchestrator::portfolio_breach(limits, snaps.iter().map(|s| &**s));
    let exposure = mtq_orchestrator::currency_exposure(snaps.iter().flat_map(|s| &s.positions))
        .into_iter()
        .map(|(c, lots)| (c.as_str().to_string(), lots))
        .collect();
    Json(PortfolioRiskView {
        accounts: snaps
            .iter()
            .map(|s| (s.account_name.clone(), risk_view(s)))
            .collect(),
        daily_pnl: snaps.iter().map(|s| s.daily_pnl).sum(),
        exposure,
        max_daily_loss: limits.max_daily_loss,
        max_currency_exposure_lots: limits.max_currency_exposure_lots,
        limit_reached: breach.as_ref().map(|b| b.rule().to_string()),
        limit_message: breach.as_ref().map(ToString::to_string),
    })
}

/// The portfolio's closed trades, summed over accounts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PortfolioTotals {
    pub trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// wins / trades, 0 to 1.
    pub win_rate: f64,
    /// Gross profit over the absolute gross loss; absent without a loss.
    pub profit_factor: Option<f64>,
    pub net_profit: Decimal,
    pub gross_profit: Decimal,
    pub gross_loss: Decimal,
    /// Average net profit per trade.
    pub expectancy: Decimal,
}

/// Performance per account and summed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PortfolioPerformanceView {
    /// Each account's performance, by name (drawdown and Sharpe are per account: the accounts'
    /// equity curves are not one curve).
    pub accounts: BTreeMap<String, PerformanceView>,
    pub total: PortfolioTotals,
}

fn totals<'a>(views: impl Iterator<Item = &'a PerformanceView>) -> PortfolioTotals {
    let mut t = PortfolioTotals {
        trades: 0,
        wins: 0,
        losses: 0,
        win_rate: 0.0,
        profit_factor: None,
        net_profit: Decimal::ZERO,
        gross_profit: Decimal::ZERO,
        gross_loss: Decimal::ZERO,
        expectancy: Decimal::ZERO,
    };
    for v in views {
        t.trades += v.trades;
        t.wins += v.wins;
        t.losses += v.losses;
        t.net_profit += v.net_profit;
        t.gross_profit += v.gross_profit;
        t.gross_loss += v.gross_loss;
    }
    if t.trades > 0 {
        #[allow(clippy::cast_precision_loss)]
        {
            t.win_rate = t.wins as f64 / t.trades as f64;
        }
        t.expectancy = (t.net_profit / Decimal::from(t.trades)).round_dp(2);
    }
    if !t.gross_loss.is_zero() {
        use rust_decimal::prelude::ToPrimitive;
        t.profit_factor = (t.gross_profit / t.gross_loss.abs()).to_f64();
    }
    t
}

/// The performance of every account's trades closed in a range, and their sum.
#[utoipa::path(get, path = "/api/v1/portfolio/performance", tag = "performance", security(("bearer" = [])),
    params(SummaryQuery),
    responses((status = 200, body = PortfolioPerformanceView), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn performance(
    _c: Caller,
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<SummaryQuery>,
) -> ApiResult<Json<PortfolioPerformanceView>> {
    let (from, to) = super::performance::range(q.from, q.to, |_| super::performance::epoch())?;
    let mut accounts = BTreeMap::new();
    for a in state.accounts() {
        let acc = a.db_account.get().copied();
        let s = state
            .with_analytics_store(move |s| performance_summary(s, acc, from, to))
            .await?;
        accounts.insert(a.name.clone(), PerformanceView::from(&s));
    }
    let total = totals(accounts.values());
    Ok(Json(PortfolioPerformanceView { accounts, total }))
}
