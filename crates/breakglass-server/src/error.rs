//! `ApiError`: the one place that knows HTTP status codes. Domain and store errors become
//! problem+json bodies with a stable `code`; internal details are logged, never returned.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use breakglass_api::Problem;
use breakglass_core::DomainError;
use breakglass_store::StoreError;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable detail for this occurrence.
    pub detail: String,
    /// Seconds after which trying again makes sense (`Retry-After`), for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with the given status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), retry_after: None }
    }

    /// The same error, telling the client to try again after `seconds`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 400: the request could not be read.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401: no valid credentials.
    pub fn unauthenticated(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 500 for a failure whose details went to the log.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }

    /// 503: the database is unavailable.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store.unavailable",
            "the database is unavailable; try again",
        )
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    /// The problem+json body.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: "about:blank".into(),
            title: self.title().into(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.into(),
        }
    }
}

/// Codes of a value that is not of its documented form (an identifier with capitals, an
/// address without `@`, a role that does not exist, a password too short): 400, the request is
/// malformed, as the OpenAPI document's patterns and limits say. Other invalid input is well
/// formed but breaks a rule, often one that depends on the time or the state (an expiry in the
/// past, a duration above the policy's maximum, an unknown tag): 422.
pub const MALFORMED: &[&str] = &[
    "input.invalid_identifier",
    "input.invalid_email",
    "input.invalid_name",
    "input.invalid_duration",
    "input.invalid_time",
    "input.invalid_id",
    "input.invalid_text",
    "input.invalid_outcome",
    "input.invalid_reason",
    "input.invalid_scope",
    "input.invalid_source",
    "input.invalid_state",
    "input.invalid_status",
    "input.invalid_kind",
    "input.invalid_limit",
    "input.invalid_cursor",
    "input.invalid_after",
    "input.invalid_query",
    "input.invalid_min_seq",
    "input.invalid_quota",
    "input.unknown_role",
    "input.unknown_event_type",
    "input.weak_password",
    "message.invalid_mode",
    "message.invalid_text",
    "platform.invalid_kind",
    "tag.invalid_key",
    "tenant.invalid_external_id",
    "access.invalid_kind",
];

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match &e {
            DomainError::Invalid { code, .. } if MALFORMED.contains(code) => StatusCode::BAD_REQUEST,
            DomainError::Invalid { .. } | DomainError::Rule { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            DomainError::NotFound { .. } => StatusCode::NOT_FOUND,
            DomainError::Forbidden { .. } => StatusCode::FORBIDDEN,
            DomainError::Conflict { .. } => StatusCode::CONFLICT,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(what) => {
                Self::new(StatusCode::CONFLICT, "store.duplicate", format!("already exists: {what}"))
            }
            StoreError::HeadMoved { .. } => Self::new(
                StatusCode::CONFLICT,
                "store.concurrent_write",
                "another change was committed at the same time; try again",
            ),
            StoreError::QuotaExceeded { workspace } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "workspace.quota_exceeded",
                format!("workspace '{workspace}' has reached its project quota"),
            ),
            StoreError::Database(e) => {
                tracing::error!(error = %e, "database error");
                Self::unavailable()
            }
            StoreError::Corrupt(what) => {
                tracing::error!(%what, "corrupt data in the store");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut r = (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(s));
        }
        r
    }
}
