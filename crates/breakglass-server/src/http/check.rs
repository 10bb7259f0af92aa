//! Authorization checks, answered from the in-memory index.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use breakglass_api as api;
use breakglass_core::authz::{self, WorkspaceAccess};
use breakglass_core::check::{self, Decision, DenyReason, ViaList};
use breakglass_core::ident::{Email, Slug};
use breakglass_core::model::{Target, User};
use breakglass_core::role::Role;
use breakglass_core::{Ctx, DomainError, State as Model};

use super::{ApiJson, ApiResult};
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
    /// Workspace rights already decided in this batch (a batch names few workspaces).
    access: Vec<(String, WorkspaceAccess)>,
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

    fn access(&mut self, ws: &Slug) -> Result<WorkspaceAccess, DomainError> {
        if let Some((_, a)) = self.access.iter().find(|(w, _)| w == ws.as_str()) {
            return Ok(*a);
        }
        let a = authz::actor_access(self.state, self.ctx, ws)?;
        if self.access.len() < 64 {
            self.access.push((ws.as_str().to_owned(), a));
        }
        Ok(a)
    }

    /// Answers one check. Anyone may check themselves; checking someone else needs sight of the
    /// workspace (else 404, as if it did not exist). A self-check on a workspace the caller
    /// cannot see answers "no binding" whether or not it exists, so nothing leaks.
    fn decide(&mut self, req: &api::CheckRequest) -> Result<Decision, DomainError> {
        let email = Email::parse(&req.user)?;
        let ws = Slug::parse(&req.workspace)?;
        let project = req.project.as_deref().map(Slug::parse).transpose()?;
        let role = Role::parse_for(&req.role, project.is_some())?;
        let access = self.access(&ws)?;
        let deny =
            |reason| Decision { allowed: false, expires_at: None, via: ViaList::new(), reason: Some(reason) };
        if email == self.caller.email {
            if !access.see {
                return Ok(deny(DenyReason::NoBinding));
            }
        } else if !access.see || self.state.workspace(&ws).is_none() {
            return Err(authz::workspace_not_found(&ws));
        }
        let Some(user) = self.state.user_by_email(&email) else {
            // Only the admin area learns that an address belongs to nobody; for anyone else an
            // unknown user looks like a user without the role.
            let reason =
                if self.reads_everything { DenyReason::UnknownTarget } else { DenyReason::NoBinding };
            return Ok(deny(reason));
        };
        let target = match project {
            Some(p) => Target::Project(ws, p),
            None => Target::Workspace(ws),
        };
        Ok(check::check(self.state, user.id, &target, role, self.ctx.now))
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
    let d = Checker::new(&state, &ctx)?.decide(&req)?;
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
    ApiJson(req): ApiJson<api::BatchCheckRequest>,
) -> ApiResult<Json<api::BatchCheckResponse>> {
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
            checker.decide(c).map(|d| views::decision(&d)).map_err(|e| {
                let mut err = ApiError::from(e);
                err.detail = format!("checks[{i}]: {}", err.detail);
                err
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(api::BatchCheckResponse { results }))
}

/// How long a check with `min_seq` waits for this server to catch up before giving up.
const CATCH_UP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Makes sure the model includes audit sequence `min_seq` (a write's `Breakglass-Seq`), so a
/// check never answers from a state older than a change the client already saw committed.
async fn catch_up(app: &App, min_seq: Option<i64>) -> Result<(), ApiError> {
    let Some(wanted) = min_seq else { return Ok(()) };
    app.wait_for_seq(wanted, CATCH_UP_PATIENCE).await.map_err(|reached| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "consistency.behind",
            format!(
                "this server has applied changes up to seq {reached}, not yet {wanted}; retry, or ask another replica"
            ),
        )
    })
}
