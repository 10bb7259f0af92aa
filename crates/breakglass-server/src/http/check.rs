//! Authorization checks, answered from the in-memory index.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use breakglass_api as api;
use breakglass_core::authz::{self, WorkspaceAccess};
use breakglass_core::check::{self, Decision, DenyReason, ViaList};
use breakglass_core::ident::{Email, Slug};
use breakglass_core::model::User;
use breakglass_core::role::Role;
use breakglass_core::{Ctx, DomainError, State as Model};
use serde::{Deserialize, Serialize};

use super::{parse_json_object, ApiJson, ApiResult, JsonBody};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views;

/// Most checks one batch may carry.
pub const MAX_BATCH: usize = 10_000;

/// Answers checks for one caller. What depends only on the caller (who they are, their admin-area
/// role, their rights in a workspace) is decided once and remembered, so a batch of 1,000 checks
/// costs one authorization per workspace rather than per check.
struct Checker<'a> {
    state: &'a Model,
    ctx: &'a Ctx,
    caller: &'a User,
    reads_everything: bool,
    /// Workspace rights already decided in this batch, and whether the workspace exists (a
    /// batch names few workspaces).
    access: Vec<(String, WorkspaceAccess, bool)>,
}

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

impl<'a> Checker<'a> {
    fn new(state: &'a Model, ctx: &'a Ctx) -> Result<Self, DomainError> {
        Ok(Self {
            state,
            ctx,
            caller: authz::acting_user(state, ctx)?,
            reads_everything: authz::actor_admin_role(state, ctx)?.reads_everything(),
            access: Vec::new(),
        })
    }

    /// The caller's rights in a workspace (a valid slug), and whether it exists.
    fn access(&mut self, ws: &str) -> Result<(WorkspaceAccess, bool), DomainError> {
        if let Some((_, a, exists)) = self.access.iter().find(|(w, _, _)| w == ws) {
            return Ok((*a, *exists));
        }
        let a = authz::actor_access(self.state, self.ctx, &Slug::parse(ws)?)?;
        let exists = self.state.workspace(ws).is_some();
        if self.access.len() < 64 {
            self.access.push((ws.to_owned(), a, exists));
        }
        Ok((a, exists))
    }

    /// Answers one check. Anyone may check themselves; checking someone else needs sight of the
    /// workspace (else 404, as if it did not exist). A self-check on a workspace the caller
    /// cannot see answers "no binding" whether or not it exists, so nothing leaks.
    /// Nothing is copied on the way: text is checked where it lies and looked up by reference.
    fn decide(
        &mut self,
        user: &str,
        workspace: &str,
        project: Option<&str>,
        role: &str,
    ) -> Result<Decision, DomainError> {
        let email = Email::normalize(user)?;
        let ws = Slug::check(workspace)?;
        let project = project.map(Slug::check).transpose()?;
        let role = Role::parse_for(role, project.is_some())?;
        let (access, exists) = self.access(ws)?;
        let deny =
            |reason| Decision { allowed: false, expires_at: None, via: ViaList::new(), reason: Some(reason) };
        if *email == *self.caller.email.as_str() {
            if !access.see {
                return Ok(deny(DenyReason::NoBinding));
            }
        } else if !access.see || !exists {
            return Err(authz::workspace_not_found(&Slug::parse(ws)?));
        }
        let Some(user) = self.state.user_by_email(&*email) else {
            // Only the admin area learns that an address belongs to nobody; for anyone else an
            // unknown user looks like a user without the role.
            let reason =
                if self.reads_everything { DenyReason::UnknownTarget } else { DenyReason::NoBinding };
            return Ok(deny(reason));
        };
        Ok(check::check_slugs(self.state, user.id, ws, project, role, self.ctx.now))
    }
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
    catch_up(&app, req.min_seq).await?;
    let ctx = caller.ctx(app.now());
    let state = app.state();
    let d =
        Checker::new(&state, &ctx)?.decide(&req.user, &req.workspace, req.project.as_deref(), &req.role)?;
    Ok(Json(views::decision(&d)))
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
    if req.checks.len() > MAX_BATCH {
        return Err(DomainError::invalid(
            "input.batch_too_large",
            format!("a batch holds at most {MAX_BATCH} checks, not {}", req.checks.len()),
        )
        .into());
    }
    catch_up(&app, req.checks.iter().filter_map(|c| c.min_seq).chain(req.min_seq).max()).await?;
    let ctx = caller.ctx(app.now());
    let state = app.state();
    let mut checker = Checker::new(&state, &ctx)?;
    let results = req
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            checker.decide(&c.user, &c.workspace, c.project.as_deref(), &c.role).map_err(|e| {
                let mut err = ApiError::from(e);
                err.detail = format!("checks[{i}]: {}", err.detail);
                err
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    json_response(&BatchOut(&results))
}

/// How long a check with `min_seq` waits for this server to catch up before giving up.
const CATCH_UP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Makes sure the model includes audit sequence `min_seq` (a write's `Breakglass-Seq`), so a
/// check never answers from a state older than a change the client already saw committed.
async fn catch_up(app: &App, min_seq: Option<i64>) -> Result<(), ApiError> {
    let Some(wanted) = min_seq else { return Ok(()) };
    if wanted < 0 {
        return Err(
            DomainError::invalid("input.invalid_min_seq", format!("min_seq {wanted} is negative")).into()
        );
    }
    app.wait_for_seq(wanted, CATCH_UP_PATIENCE).await.map_err(|behind| match behind {
        crate::app::Behind::Unreached(head) => ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "consistency.unknown_seq",
            format!("min_seq {wanted} was never reached: the audit log's head is {head}; pass a write's Breakglass-Seq"),
        ),
        crate::app::Behind::Unreachable(reached) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "consistency.behind",
            format!(
                "this server has applied changes up to seq {reached}, not yet {wanted}, and cannot reach the database; \
                 retry, or ask another replica"
            ),
        ),
    })
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
