//! `trader.mode: semi`: the strategy's entries waiting for an operator, and the decisions on
//! them. The list and the decisions go through the trader's control channel (the trader owns
//! the approvals and re-runs the risk checks when one is approved); each decision is audited
//! like any command. Deciding twice is answered, not repeated: a second approval sends nothing.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use mtq_core::Approval;
use mtq_orchestrator::{ControlCommand, ControlOutcome};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Trader};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::ApiState;

/// An entry held for an operator's approval, or decided.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApprovalView {
    pub id: u64,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub state: String,
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Lots, as the sizing made them when the signal came.
    pub volume: Decimal,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    /// The client order id the entry is sent with when approved.
    pub client_order_id: String,
    pub strategy: String,
    /// The strategy's reason for the signal.
    pub reason: String,
    /// The open time of the bar that made the signal.
    pub signal_time: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub decided: Option<DateTime<Utc>>,
    /// Who decided it (a user's or API key's public id); absent for an expiry.
    pub decided_by: Option<String>,
    /// What came of it.
    pub note: Option<String>,
}

impl From<&Approval> for ApprovalView {
    fn from(a: &Approval) -> Self {
        Self {
            id: a.id,
            state: a.state.as_str().into(),
            symbol: a.request.symbol.as_str().into(),
            side: crate::views::tag(&a.request.side),
            volume: a.request.volume,
            sl: a.request.sl,
            tp: a.request.tp,
            client_order_id: a.request.client_order_id.to_string(),
            strategy: a.signal.strategy.clone(),
            reason: a.signal.reason.clone(),
            signal_time: a.signal.time,
            created: a.created,
            expires: a.expires,
            decided: a.decided,
            decided_by: a.decided_by.clone(),
            note: a.note.clone(),
        }
    }
}

/// What a decision did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApprovalDecision {
    pub message: String,
    /// Orders sent for it (0 or 1).
    pub actions: usize,
    /// The decision had been made before: nothing was done again.
    pub duplicate: bool,
    pub approval: Option<ApprovalView>,
}

fn approvals_of(out: ControlOutcome) -> ApiResult<Vec<Approval>> {
    out.detail
        .and_then(|d| serde_json::from_value(d).ok())
        .ok_or_else(|| ApiError::internal("the trader's approvals came back without a list"))
}

/// The account's approvals in this run of the trader, newest first (pending ones until they
/// expire; decided ones as they ended). Empty unless `trader.mode` is `semi`. A server without a
/// trader (`serve --no-trade`) lists the stored ones from the database instead.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/approvals", tag = "trading", security(("bearer" = [])),
    params(("account" = String, Path)),
    responses((status = 200, body = [ApprovalView]), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn list(
    caller: Caller,
    State(state): State<ApiState>,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<ApprovalView>>> {
    let state = state.account(&account)?;
    let list = match state.snapshot() {
        Some(_) => approvals_of(
            state
                .control()?
                .send(ControlCommand::ListApprovals, caller.actor())
                .await?,
        )?,
        None => {
            use mtq_persistence::{ApprovalRepo, MAX_APPROVALS_LISTED};
            let id = state.db_account();
            state
                .with_store(move |s| s.approvals(id, None, MAX_APPROVALS_LISTED))
                .await?
        }
    };
    Ok(Json(list.iter().map(Into::into).collect()))
}

async fn decide(
    state: ApiState,
    caller: Caller,
    account: String,
    command: ControlCommand,
) -> ApiResult<Json<ApprovalDecision>> {
    let state = state.account(&account)?;
    let out = state.control()?.send(command, caller.actor()).await?;
    let approval = out
        .detail
        .as_ref()
        .and_then(|d| serde_json::from_value::<Approval>(d.clone()).ok())
        .as_ref()
        .map(Into::into);
    Ok(Json(ApprovalDecision {
        message: out.message,
        actions: out.actions,
        duplicate: out.duplicate,
        approval,
    }))
}

/// Approves a waiting entry: the operator's holds and the risk checks are met again now, then
/// it is sent exactly as the strategy made it. Approving it again sends nothing (`duplicate`).
/// A refusal by the risk rules (409 or 422) leaves it pending.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/approvals/{id}/approve", tag = "trading", security(("bearer" = [])),
    params(("account" = String, Path), ("id" = u64, Path)),
    responses((status = 200, body = ApprovalDecision), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn approve(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path((account, id)): Path<(String, u64)>,
) -> ApiResult<Json<ApprovalDecision>> {
    decide(state, caller, account, ControlCommand::Approve { id }).await
}

/// Rejects a waiting entry: it is never sent. Rejecting it again is answered as a duplicate.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/approvals/{id}/reject", tag = "trading", security(("bearer" = [])),
    params(("account" = String, Path), ("id" = u64, Path)),
    responses((status = 200, body = ApprovalDecision), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn reject(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path((account, id)): Path<(String, u64)>,
) -> ApiResult<Json<ApprovalDecision>> {
    decide(state, caller, account, ControlCommand::Reject { id }).await
}
