//! RFC 9457 problem documents: every error the API returns.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mtq_orchestrator::ControlRefusal;
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What happened and what to fix.
    pub detail: String,
    /// The request field at fault (a body field, query parameter or path segment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why a command was refused by the trader's state (`kill_switch`, `entries_paused`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An error answered as a problem document. Built by the constructors below.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub problem: Box<Problem>,
    /// Seconds a rate-limited client should wait (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            problem: Box::new(Problem {
                kind: "about:blank".into(),
                title: status.canonical_reason().unwrap_or("error").into(),
                status: status.as_u16(),
                detail: detail.into(),
                field: None,
                reason: None,
            }),
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.problem.field = Some(field.into());
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.problem.reason = Some(reason.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
    pub fn conflict(reason: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail).with_reason(reason)
    }
    /// A value the server understood but cannot accept: names the field.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail).with_field(field)
    }
    pub fn too_many(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests: retry after {retry_after} s"),
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, detail)
    }
    /// A server fault: the detail is logged, the client sees only that it happened.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not answer; the log has the cause",
        )
    }
}

impl From<mtq_persistence::PersistenceError> for ApiError {
    fn from(e: mtq_persistence::PersistenceError) -> Self {
        ApiError::internal(e)
    }
}

impl From<ControlRefusal> for ApiError {
    fn from(r: ControlRefusal) -> Self {
        let detail = r.to_string();
        match r {
            ControlRefusal::Forbidden { .. } => ApiError::forbidden(detail),
            ControlRefusal::UnknownPosition(_)
            | ControlRefusal::UnknownOrder(_)
            | ControlRefusal::UnknownSymbol(_)
            | ControlRefusal::UnknownApproval(_) => ApiError::not_found(detail),
            ControlRefusal::ApprovalDecided { .. } => {
                ApiError::conflict("approval_decided", detail)
            }
            ControlRefusal::Invalid(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail),
            ControlRefusal::KillSwitch { .. } => ApiError::conflict("kill_switch", detail),
            ControlRefusal::ManualOrdersDisabled => {
                ApiError::conflict("manual_orders_disabled", detail)
            }
            ControlRefusal::EntriesPaused => ApiError::conflict("entries_paused", detail),
            ControlRefusal::Stopping => ApiError::conflict("stopping", detail),
            ControlRefusal::Broker(_) => ApiError::conflict("broker", detail),
            ControlRefusal::Config(_) => ApiError::conflict("config", detail),
            ControlRefusal::SymbolDisabled(_) => ApiError::conflict("symbol_disabled", detail),
            ControlRefusal::Unavailable(_) => {
                ApiError::unavailable(detail).with_reason("records_unavailable")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// What every handler returns.
pub type ApiResult<T> = Result<T, ApiError>;
