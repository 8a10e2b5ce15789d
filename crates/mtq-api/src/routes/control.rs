//! Commands to the running trader: they go through its control channel and are executed
//! between cycles, never by the API itself.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use mtq_core::{Side, Symbol, Ticket};
use mtq_orchestrator::{ControlCommand, ControlOutcome, Role};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Admin, Caller, Trader};
use crate::extract::JsonBody;
use crate::problem::{ApiError, ApiResult, Problem};
use crate::routes::account::ticket;
use crate::state::ApiState;
use crate::views::AccountView;

/// What a command did, and the account state after it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommandResult {
    pub message: String,
    /// Orders, closes and modifications sent to the broker.
    pub actions: usize,
    pub client_order_ids: Vec<String>,
    /// A manual order whose idempotency key was used before: nothing new was sent.
    pub duplicate: bool,
    pub account: Option<AccountView>,
}

async fn run(
    state: &ApiState,
    caller: &Caller,
    need: Role,
    command: ControlCommand,
) -> ApiResult<Json<CommandResult>> {
    caller.require(need)?;
    let handle = state.control()?;
    let ControlOutcome {
        message,
        actions,
        client_order_ids,
        duplicate,
        ..
    } = handle.send(command, caller.actor()).await?;
    Ok(Json(CommandResult {
        message,
        actions,
        client_order_ids,
        duplicate,
        account: state.snapshot().map(|s| AccountView::from_snapshot(&s)),
    }))
}

fn positive(field: &str, v: Option<Decimal>) -> ApiResult<()> {
    match v {
        Some(x) if x <= Decimal::ZERO => Err(ApiError::invalid(
            field,
            format!("{field} must be positive"),
        )),
        _ => Ok(()),
    }
}

fn symbol(raw: &str) -> ApiResult<Symbol> {
    Symbol::new(raw)
        .map_err(|e| ApiError::not_found(format!("no symbol `{raw}`: {e}")).with_field("symbol"))
}

macro_rules! simple_command {
    ($fn:ident, $path:literal, $ext:ident, $role:expr, $cmd:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "trading", security(("bearer" = [])),
            params(("account" = String, Path)),
            responses((status = 200, body = CommandResult), (status = 401, body = Problem), (status = 403, body = Problem),
                (status = 404, body = Problem), (status = 409, body = Problem)))]
        pub async fn $fn($ext(caller): $ext, State(state): State<ApiState>, Path(account): Path<String>) -> ApiResult<Json<CommandResult>> {
            let state = state.account(&account)?;
            run(&state, &caller, $role, $cmd).await
        }
    };
}

simple_command!(
    pause,
    "/api/v1/accounts/{account}/trading/pause",
    Trader,
    Role::Trader,
    ControlCommand::PauseEntries,
    "Pauses entries; open positions are still managed."
);
simple_command!(
    resume,
    "/api/v1/accounts/{account}/trading/resume",
    Trader,
    Role::Trader,
    ControlCommand::ResumeEntries,
    "Resumes entries."
);
simple_command!(
    stop,
    "/api/v1/accounts/{account}/trading/stop",
    Trader,
    Role::Trader,
    ControlCommand::Stop,
    "Stops the trader after the current cycle."
);
simple_command!(
    reload,
    "/api/v1/accounts/{account}/config/reload",
    Admin,
    Role::Admin,
    ControlCommand::ReloadConfig,
    "Re-reads the configuration file (admin)."
);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why: recorded in the audit trail.
    pub reason: String,
}

fn reason(r: Reason) -> ApiResult<String> {
    let t = r.reason.trim();
    if t.is_empty() || t.len() > 500 {
        return Err(ApiError::invalid(
            "reason",
            "reason must be 1 to 500 characters",
        ));
    }
    Ok(t.to_string())
}

/// Trips the kill switch by hand; it stays tripped across restarts until reset.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/kill-switch/trip", tag = "trading", security(("bearer" = [])),
    params(("account" = String, Path)), request_body = Reason,
    responses((status = 200, body = CommandResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn trip(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    JsonBody(r): JsonBody<Reason>,
) -> ApiResult<Json<CommandResult>> {
    let state = state.account(&account)?;
    run(
        &state,
        &caller,
        Role::Trader,
        ControlCommand::TripKillSwitch { reason: reason(r)? },
    )
    .await
}

/// Resets a manual kill-switch trip (admin; a reason is required).
#[utoipa::path(post, path = "/api/v1/accounts/{account}/kill-switch/reset", tag = "trading", security(("bearer" = [])),
    params(("account" = String, Path)), request_body = Reason,
    responses((status = 200, body = CommandResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn reset(
    Admin(caller): Admin,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    JsonBody(r): JsonBody<Reason>,
) -> ApiResult<Json<CommandResult>> {
    let state = state.account(&account)?;
    run(
        &state,
        &caller,
        Role::Admin,
        ControlCommand::ResetKillSwitch { reason: reason(r)? },
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Modify {
    /// New stop loss; absent leaves it.
    pub sl: Option<Decimal>,
    /// New take profit; absent leaves it.
    pub tp: Option<Decimal>,
}

/// Sets a position's stop loss and take profit.
#[utoipa::path(patch, path = "/api/v1/accounts/{account}/positions/{ticket}", tag = "positions", security(("bearer" = [])),
    params(("account" = String, Path), ("ticket" = u64, Path)), request_body = Modify,
    responses((status = 200, body = CommandResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn modify(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path((account, t)): Path<(String, String)>,
    JsonBody(m): JsonBody<Modify>,
) -> ApiResult<Json<CommandResult>> {
    let state = state.account(&account)?;
    let t = ticket(&t)?;
    positive("sl", m.sl)?;
    positive("tp", m.tp)?;
    if m.sl.is_none() && m.tp.is_none() {
        return Err(ApiError::invalid("sl", "send sl, tp or both"));
    }
    run(
        &state,
        &caller,
        Role::Trader,
        ControlCommand::ModifyPosition {
            ticket: Ticket(t),
            sl: m.sl,
            tp: m.tp,
        },
    )
    .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Close {
    /// Lots to close; absent closes it all.
    pub volume: Option<Decimal>,
}

/// Closes a position, in full or in part.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/positions/{ticket}/close", tag = "positions", security(("bearer" = [])),
    params(("account" = String, Path), ("ticket" = u64, Path)), request_body = Close,
    responses((status = 200, body = CommandResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn close(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path((account, t)): Path<(String, String)>,
    JsonBody(c): JsonBody<Close>,
) -> ApiResult<Json<CommandResult>> {
    let state = state.account(&account)?;
    let t = ticket(&t)?;
    positive("volume", c.volume)?;
    run(
        &state,
        &caller,
        Role::Trader,
        ControlCommand::ClosePosition {
            ticket: Ticket(t),
            volume: c.volume,
        },
    )
    .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseAll {
    /// Only this symbol's positions; absent closes every managed position.
    pub symbol: Option<String>,
}

/// Closes every managed position, or every one on a symbol.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/positions/close-all", tag = "positions", security(("bearer" = [])),
    params(("account" = String, Path)), request_body = CloseAll,
    responses((status = 200, body = CommandResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn close_all(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    JsonBody(c): JsonBody<CloseAll>,
) -> ApiResult<Json<CommandResult>> {
    let state = state.account(&account)?;
    let symbol = c.symbol.as_deref().map(symbol).transpose()?;
    run(
        &state,
        &caller,
        Role::Trader,
        ControlCommand::CloseAll { symbol },
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SymbolPatch {
    /// `false` stops entries on the symbol; its positions are still managed.
    pub enabled: bool,
}

/// Enables or disables entries on a symbol.
#[utoipa::path(patch, path = "/api/v1/accounts/{account}/symbols/{symbol}", tag = "symbols", security(("bearer" = [])),
    params(("account" = String, Path), ("symbol" = String, Path)), request_body = SymbolPatch,
    responses((status = 200, body = CommandResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn set_symbol(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path((account, s)): Path<(String, String)>,
    JsonBody(p): JsonBody<SymbolPatch>,
) -> ApiResult<Json<CommandResult>> {
    let state = state.account(&account)?;
    let symbol = symbol(&s)?;
    run(
        &state,
        &caller,
        Role::Trader,
        ControlCommand::SetSymbolEnabled {
            symbol,
            enabled: p.enabled,
        },
    )
    .await
}

/// Cancels a pending order (the order with this `id` must be one placed at the broker and still
/// pending there): the driver deletes it between cycles.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("account" = String, Path), ("id" = i64, Path, description = "the order's `id`")),
    responses((status = 200, body = CommandResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_order(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path((account, id)): Path<(String, String)>,
) -> ApiResult<Json<CommandResult>> {
    let state = state.account(&account)?;
    let order = crate::routes::history::order_record(&state, &id).await?;
    let ticket = match (order.state.as_str(), order.order_ticket) {
        ("placed", Some(t)) => t,
        (s, _) => {
            return Err(ApiError::conflict(
                "not_pending",
                format!("order {id} is `{s}`, not a pending order placed at the broker"),
            ));
        }
    };
    run(
        &state,
        &caller,
        Role::Trader,
        ControlCommand::CancelOrder {
            ticket: Ticket(ticket),
        },
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualOrder {
    pub symbol: String,
    /// `buy` or `sell`.
    #[schema(value_type = String)]
    pub side: Side,
    /// Lots.
    pub volume: Decimal,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
}

/// The longest idempotency key accepted: it becomes the client order id, which travels in the
/// MT5 comment (31 characters).
pub const MAX_IDEMPOTENCY_KEY: usize = 24;

/// A manual market order (only when `api.manual_orders` is on). The `Idempotency-Key` header
/// becomes its client order id: the same key never executes twice.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/orders", tag = "orders", security(("bearer" = [])),
    params(("account" = String, Path), ("Idempotency-Key" = String, Header, description = "1 to 24 of A-Z a-z 0-9 - _")),
    request_body = ManualOrder,
    responses((status = 200, body = CommandResult), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn manual_order(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    JsonBody(o): JsonBody<ManualOrder>,
) -> ApiResult<Json<CommandResult>> {
    let state = state.account(&account)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| {
            !k.is_empty()
                && k.len() <= MAX_IDEMPOTENCY_KEY
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "the Idempotency-Key header is required: 1 to 24 of A-Z a-z 0-9 - _",
            )
        })?
        .to_string();
    let symbol = symbol(&o.symbol)?;
    if o.volume <= Decimal::ZERO {
        return Err(ApiError::invalid("volume", "volume must be positive"));
    }
    positive("sl", o.sl)?;
    positive("tp", o.tp)?;
    run(
        &state,
        &caller,
        Role::Trader,
        ControlCommand::ManualOrder {
            idempotency_key: key,
            symbol,
            side: o.side,
            volume: o.volume,
            sl: o.sl,
            tp: o.tp,
        },
    )
    .await
}

/// The strategy's signal on the newest closed bar, as a signal test found it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TestedSignal {
    /// `buy`, `sell`, `close` or `hold`.
    pub kind: String,
    pub time: chrono::DateTime<chrono::Utc>,
    pub sl: Option<f64>,
    pub tp: Option<f64>,
    pub confidence: f64,
    pub strategy: String,
    pub reason: String,
}

/// What "test now" found: the signal and the risk rules' verdict; nothing was sent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalTestView {
    pub symbol: String,
    pub timeframe: String,
    /// The open time of the newest closed bar the strategy saw.
    pub bar_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Closed bars the strategy was fed.
    pub bars: usize,
    pub signal: Option<TestedSignal>,
    /// `no_signal`, `not_an_entry`, `allowed` or `refused`.
    pub verdict: String,
    /// The refusing rule's code (`kill_switch`, `max_positions`, `entries_paused`, ...).
    pub rule: Option<String>,
    pub refusal: Option<String>,
    /// Lots the sizing rules give it, when allowed.
    pub volume: Option<Decimal>,
    pub message: String,
}

/// "Test now": runs the symbol's strategy on its latest closed bars and the risk rules on its
/// signal, with the trader's real risk state and account. Nothing is sent to the broker.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/symbols/{symbol}/test", tag = "symbols", security(("bearer" = [])),
    params(("account" = String, Path), ("symbol" = String, Path)),
    responses((status = 200, body = SignalTestView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn test_signal(
    Trader(caller): Trader,
    State(state): State<ApiState>,
    Path((account, s)): Path<(String, String)>,
) -> ApiResult<Json<SignalTestView>> {
    let state = state.account(&account)?;
    let symbol = symbol(&s)?;
    let handle = state.control()?;
    let out = handle
        .send(ControlCommand::TestSignal { symbol }, caller.actor())
        .await?;
    let t: mtq_orchestrator::SignalTest = out
        .detail
        .and_then(|d| serde_json::from_value(d).ok())
        .ok_or_else(|| {
        ApiError::internal("the trader's signal test came back without a result")
    })?;
    Ok(Json(SignalTestView {
        symbol: t.symbol.as_str().into(),
        timeframe: t.timeframe.to_string(),
        bar_time: t.bar_time,
        bars: t.bars,
        signal: t.signal.map(|s| TestedSignal {
            kind: crate::views::tag(&s.kind),
            time: s.time,
            sl: s.sl,
            tp: s.tp,
            confidence: s.confidence,
            strategy: s.strategy,
            reason: s.reason,
        }),
        verdict: t.verdict,
        rule: t.rule,
        refusal: t.refusal,
        volume: t.volume,
        message: out.message,
    }))
}
