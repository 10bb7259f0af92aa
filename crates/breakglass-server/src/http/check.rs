//! Authorization checks, answered from the in-memory index.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use breakglass_api as api;
use breakglass_core::check::Decision;
use serde::{Deserialize, Serialize};

use super::{parse_json_object, ApiJson, ApiResult, JsonBody};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ops::check as ops;
use crate::views;

/// One check of a batch as read from the body, borrowing its text where it has no escapes:
/// the fields and rules of `api::CheckRequest`, which documents it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "CheckRequest", expecting = "struct CheckRequest")]
struct CheckIn<'a> {
    #[serde(borrow)]
    user: Cow<'a, str>,
    #[serde(borrow)]
    workspace: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "optional_text")]
    project: Option<Cow<'a, str>>,
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(default, deserialize_with = "breakglass_api::whole::opt_i64")]
    min_seq: Option<i64>,
}

/// An optional string, borrowed where it has no escapes (serde's own `Option<Cow<str>>` always
/// copies).
fn optional_text<'de: 'a, 'a, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'a>>::deserialize(d)?.map(|t| t.0))
}

/// `api::BatchCheckRequest`, borrowing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "BatchCheckRequest", expecting = "struct BatchCheckRequest")]
struct BatchIn<'a> {
    #[serde(borrow)]
    checks: Vec<CheckIn<'a>>,
    #[serde(default, deserialize_with = "breakglass_api::whole::opt_i64")]
    min_seq: Option<i64>,
}

/// `api::BatchCheckResponse`, written from the decisions without building its strings.
struct BatchOut<'a>(&'a [Decision]);

impl Serialize for BatchOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("BatchCheckResponse", 1)?;
        m.serialize_field("results", &Results(self.0))?;
        m.end()
    }
}

struct Results<'a>(&'a [Decision]);

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(views::DecisionJson))
    }
}

/// A JSON answer from a value that borrows (axum's `Json` wants an owned one).
fn json_response(value: &impl Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| {
        tracing::error!(error = %e, "cannot encode an answer");
        ApiError::internal()
    })?;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// Does a user hold a role (or a higher one) on a workspace or project right now, and why?
#[utoipa::path(post, path = "/api/v1/check", tag = "check",
    request_body = api::CheckRequest,
    responses(
        (status = 200, description = "The decision and its reason", body = api::CheckResponse),
        (status = 404, description = "Workspace not visible to you", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn check(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(req): ApiJson<api::CheckRequest>,
) -> ApiResult<Json<api::CheckResponse>> {
    let ask = ops::Ask {
        user: &req.user,
        workspace: &req.workspace,
        project: req.project.as_deref(),
        role: &req.role,
    };
    Ok(Json(ops::one(&app, &caller, ask, req.min_seq).await?))
}

/// Many checks in one call, answered in order against one consistent state.
#[utoipa::path(post, path = "/api/v1/check/batch", tag = "check",
    request_body = api::BatchCheckRequest,
    responses(
        (status = 200, description = "One decision per check, in order", body = api::BatchCheckResponse),
        (status = 404, description = "A workspace not visible to you", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value (the detail names the check)", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn check_batch(
    State(app): State<Arc<App>>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let req: BatchIn<'_> = parse_json_object(&body)?;
    let asks: Vec<ops::Ask<'_>> = req
        .checks
        .iter()
        .map(|c| ops::Ask {
            user: &c.user,
            workspace: &c.workspace,
            project: c.project.as_deref(),
            role: &c.role,
        })
        .collect();
    let min_seq = req.checks.iter().filter_map(|c| c.min_seq).chain(req.min_seq).max();
    let results = ops::batch(&app, &caller, &asks, min_seq).await?;
    json_response(&BatchOut(&results))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The borrowed batch reads every field the documented wire type writes, so the two cannot
    /// drift apart unnoticed (a new field in `api::CheckRequest` would be refused here).
    #[test]
    fn the_borrowed_batch_reads_the_documented_wire_type() {
        let full = api::CheckRequest {
            user: "bob@example.com".into(),
            workspace: "alpha".into(),
            project: Some("web".into()),
            role: "reader".into(),
            min_seq: Some(7),
        };
        let wire = api::BatchCheckRequest { checks: vec![full.clone()], min_seq: Some(9) };
        let text = serde_json::to_string(&wire).unwrap();
        let read: BatchIn<'_> = serde_json::from_str(&text).unwrap();
        let c = &read.checks[0];
        let back = api::CheckRequest {
            user: c.user.to_string(),
            workspace: c.workspace.to_string(),
            project: c.project.as_deref().map(str::to_owned),
            role: c.role.to_string(),
            min_seq: c.min_seq,
        };
        assert_eq!((back, read.min_seq), (full, Some(9)));
        assert!(matches!(c.user, Cow::Borrowed(_)), "plain text is borrowed, not copied");
        assert!(matches!(c.project, Some(Cow::Borrowed(_))), "so is an optional one");
        // Refusals read as they did when the documented type itself was parsed.
        let bad_project = r#"{"checks":[{"user":"a@b.c","workspace":"ws","project":1,"role":"reader"}]}"#;
        for bad in [r#"{"checks":[null]}"#, r#"{"checks":[{"user":1}]}"#, r#"{"checks":{}}"#, bad_project] {
            let ours = serde_json::from_str::<BatchIn<'_>>(bad).err().map(|e| e.to_string());
            let wire = serde_json::from_str::<api::BatchCheckRequest>(bad).err().map(|e| e.to_string());
            assert_eq!(ours, wire, "{bad}");
        }
    }
}
