//! Workspaces, projects, memberships and temporary grants.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::authz::{self, WorkspaceAccess};
use breakglass_core::cmd::members::{self, Assigned, NewGrant, SetMember};
use breakglass_core::cmd::workspaces::{self, NewProject, NewWorkspace};
use breakglass_core::ident::{BindingId, Email, Name, Slug};
use breakglass_core::model::{BindingSource, Target, Workspace, WorkspaceStatus};
use breakglass_core::org::{TagKey, Tags};
use breakglass_core::role::{AdminRole, Role, WorkspaceRole};
use breakglass_core::{Ctx, DomainError, State as Model};

use super::{expiry, paginate, written, written_empty, ApiJson, ApiQuery, ApiResult};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views;

/// A context for read-only decisions (no ids are drawn).
fn read_ctx(app: &App, caller: &Caller) -> Ctx {
    caller.ctx(app.now())
}

/// Parses a workspace path segment; a malformed one names no workspace, so it is a 404.
fn ws_slug(s: &str) -> Result<Slug, DomainError> {
    Slug::parse(s)
        .map_err(|_| DomainError::not_found("workspace.not_found", format!("workspace '{s}' not found")))
}

fn project_slug(ws: &Slug, s: &str) -> Result<Slug, DomainError> {
    Slug::parse(s).map_err(|_| project_not_found(ws, s))
}

fn project_not_found(ws: &Slug, p: &str) -> DomainError {
    DomainError::not_found("project.not_found", format!("project '{p}' not found in workspace '{ws}'"))
}

/// The workspace if the caller may see it.
fn visible<'a>(
    state: &'a Model,
    ctx: &Ctx,
    ws: &Slug,
) -> Result<(&'a Workspace, WorkspaceAccess), DomainError> {
    authz::visible_workspace(state, ctx, ws)
}

/// The target of a member path, checked for visibility (404 otherwise).
fn target(state: &Model, ctx: &Ctx, ws: &str, project: Option<&str>) -> Result<Target, DomainError> {
    let ws = ws_slug(ws)?;
    visible(state, ctx, &ws)?;
    match project {
        None => Ok(Target::Workspace(ws)),
        Some(p) => {
            let p = project_slug(&ws, p)?;
            if state.project(&ws, &p).is_none() {
                return Err(project_not_found(&ws, p.as_str()));
            }
            Ok(Target::Project(ws, p))
        }
    }
}

/// Creates a workspace (admins and employees). Its owners default to the caller.
#[utoipa::path(post, path = "/api/v1/workspaces", tag = "workspaces",
    request_body = api::CreateWorkspace,
    responses(
        (status = 201, description = "Created", body = api::Workspace),
        (status = 403, description = "Not admin or employee", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Identifier taken", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_workspace(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::CreateWorkspace>,
) -> ApiResult {
    let new = NewWorkspace {
        id: Slug::parse(&body.identifier)?,
        name: Name::parse(&body.name)?,
        owners: body.owners.iter().map(|e| Email::parse(e)).collect::<Result<_, _>>()?,
        members: body
            .members
            .iter()
            .map(|m| Ok((Email::parse(&m.email)?, WorkspaceRole::parse(&m.role)?)))
            .collect::<Result<_, DomainError>>()?,
        project_quota: body.project_quota.unwrap_or(app.state().settings().default_project_quota),
        tags: parse_tags(&body.tags)?,
    };
    let id = new.id.clone();
    let done = app
        .execute(caller.actor(), |state, ctx| {
            Ok((workspaces::create_workspace(state, ctx, new.clone())?, ()))
        })
        .await?;
    let state = app.state();
    let ws = state.workspace(&id).ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::CREATED, done.seq, &views::workspace(&state, ws)))
}

/// Lists the workspaces the caller can see (all of them for the admin area).
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces",
    params(api::ListQuery),
    responses((status = 200, description = "Workspaces by identifier", body = api::Page<api::Workspace>)))]
pub async fn list_workspaces(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::ListQuery>,
) -> ApiResult<Json<api::Page<api::Workspace>>> {
    let status = q.status.as_deref().map(WorkspaceStatus::parse).transpose()?;
    let tag = q.tag.as_deref().map(TagFilter::parse).transpose()?;
    let now = app.now();
    let state = app.state();
    let me = state.user(caller.user).ok_or_else(ApiError::internal)?;
    let keep = |w: &&Workspace| {
        caller.bounds.covers(&w.id)
            && status.is_none_or(|s| w.status == s)
            && tag.as_ref().is_none_or(|t| t.matches(&w.tags))
    };
    let items: Vec<api::Workspace> = if authz::actor_admin_role(&state, &caller.ctx(now))? != AdminRole::None
    {
        state.workspaces().filter(keep).map(|w| views::workspace(&state, w)).collect()
    } else {
        let mut mine: Vec<&Slug> = state
            .bindings_of_user(me.id)
            .filter(|b| b.is_effective(now))
            .map(|b| b.target.workspace())
            .collect();
        mine.sort();
        mine.dedup();
        mine.into_iter()
            .filter_map(|id| state.workspace(id))
            .filter(keep)
            .map(|w| views::workspace(&state, w))
            .collect()
    };
    let page = api::PageQuery { limit: q.limit, cursor: q.cursor.clone() };
    Ok(Json(paginate(items, |w: &api::Workspace| w.identifier.clone(), &page)?))
}

/// One workspace.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier")),
    responses(
        (status = 200, description = "The workspace", body = api::Workspace),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_workspace(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<api::Workspace>> {
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let (w, _) = visible(&state, &ctx, &ws_slug(&ws)?)?;
    Ok(Json(views::workspace(&state, w)))
}

fn members_page(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    q: &api::PageQuery,
) -> ApiResult<Json<api::Page<api::Binding>>> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let target = target(&state, &ctx, ws, project)?;
    let mut items: Vec<api::Binding> = state
        .bindings_on(&target)
        .filter(|b| b.is_effective(ctx.now))
        .map(|b| views::binding(&state, b))
        .collect();
    items.sort_by(|a, b| (&a.user, &a.id).cmp(&(&b.user, &b.id)));
    Ok(Json(paginate(items, |b: &api::Binding| format!("{} {}", b.user, b.id), q)?))
}

/// Who holds which workspace role now (memberships and grants).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/members", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), api::PageQuery),
    responses(
        (status = 200, description = "Bindings by user", body = api::Page<api::Binding>),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_workspace_members(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Binding>>> {
    members_page(&app, &caller, &ws, None, &q)
}

async fn set_member(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    email: &str,
    body: api::SetMember,
) -> ApiResult {
    let (target, cmd) = {
        let ctx = read_ctx(app, caller);
        let state = app.state();
        let target = target(&state, &ctx, ws, project)?;
        let cmd = SetMember {
            target: target.clone(),
            email: Email::parse(email)?,
            role: Role::parse_for(&body.role, project.is_some())?,
            expires_at: expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), ctx.now)?,
            justification: body.justification.clone(),
        };
        (target, cmd)
    };
    let done = app
        .execute(caller.actor(), |state, ctx| {
            let changes = members::set_member(state, ctx, cmd.clone())?;
            let request = members::opened_request(&changes);
            Ok((changes, request))
        })
        .await?;
    let now = app.now();
    let state = app.state();
    if let Some(id) = done.value {
        let r = state.request(id).ok_or_else(ApiError::internal)?;
        return Ok(written(StatusCode::ACCEPTED, done.seq, &views::request(&state, r, now)));
    }
    let user = state.user_by_email(&cmd.email).ok_or_else(ApiError::internal)?;
    let b = state
        .bindings_on(&target)
        .find(|b| b.user == user.id && b.source == BindingSource::Direct && b.is_effective(now))
        .ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::OK, done.seq, &views::binding(&state, b)))
}

async fn remove_member(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    email: &str,
) -> ApiResult {
    let (target, email) = {
        let ctx = read_ctx(app, caller);
        let state = app.state();
        (target(&state, &ctx, ws, project)?, Email::parse(email)?)
    };
    let done = app
        .execute(caller.actor(), |state, ctx| Ok((members::remove_member(state, ctx, &target, &email)?, ())))
        .await?;
    Ok(written_empty(done.seq))
}

/// Sets a user's workspace membership role (and optional expiry), replacing any previous one.
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/members/{email}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("email" = String, Path, description = "The member's e-mail")),
    request_body = api::SetMember,
    responses(
        (status = 200, description = "The membership binding", body = api::Binding),
        (status = 202, description = "The entitlement's policy needs more approvals: a request carrying yours", body = api::Request),
        (status = 403, description = "Not allowed to assign this role", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Workspace or user not found", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value or broken rule (e.g. last owner)", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_workspace_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, email)): Path<(String, String)>,
    ApiJson(body): ApiJson<api::SetMember>,
) -> ApiResult {
    set_member(&app, &caller, &ws, None, &email, body).await
}

/// Removes a user from a workspace and all its projects.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/members/{email}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("email" = String, Path, description = "The member's e-mail")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Workspace or member not found", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The last owner cannot be removed", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_workspace_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, email)): Path<(String, String)>,
) -> ApiResult {
    remove_member(&app, &caller, &ws, None, &email).await
}

/// Creates a project within the workspace's quota.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/projects", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier")),
    request_body = api::CreateProject,
    responses(
        (status = 201, description = "Created", body = api::Project),
        (status = 409, description = "Identifier taken", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value or quota exceeded", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_project(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<api::CreateProject>,
) -> ApiResult {
    let ws = ws_slug(&ws)?;
    {
        // Visibility first: an outsider learns nothing, not even that their input was bad.
        let ctx = read_ctx(&app, &caller);
        visible(&app.state(), &ctx, &ws)?;
    }
    let new = NewProject {
        workspace: ws.clone(),
        id: Slug::parse(&body.identifier)?,
        name: Name::parse(&body.name)?,
        tags: parse_tags(&body.tags)?,
    };
    let done = app
        .execute(caller.actor(), |state, ctx| Ok((workspaces::create_project(state, ctx, new.clone())?, ())))
        .await?;
    let state = app.state();
    let p = state.project(&ws, &new.id).ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::CREATED, done.seq, &views::project(p)))
}

/// Lists a workspace's projects.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/projects", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), api::ListQuery),
    responses(
        (status = 200, description = "Projects by identifier", body = api::Page<api::Project>),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_projects(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<api::ListQuery>,
) -> ApiResult<Json<api::Page<api::Project>>> {
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let ws = ws_slug(&ws)?;
    visible(&state, &ctx, &ws)?;
    if q.status.is_some() {
        return Err(
            DomainError::invalid("input.invalid_query", "projects have no status to filter on").into()
        );
    }
    let tag = q.tag.as_deref().map(TagFilter::parse).transpose()?;
    let items = state
        .projects_of(&ws)
        .filter(|p| tag.as_ref().is_none_or(|t| t.matches(&p.tags)))
        .map(views::project)
        .collect();
    let page = api::PageQuery { limit: q.limit, cursor: q.cursor.clone() };
    Ok(Json(paginate(items, |p: &api::Project| p.identifier.clone(), &page)?))
}

/// One project.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/projects/{p}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier")),
    responses(
        (status = 200, description = "The project", body = api::Project),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_project(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p)): Path<(String, String)>,
) -> ApiResult<Json<api::Project>> {
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let t = target(&state, &ctx, &ws, Some(&p))?;
    let project = match &t {
        Target::Project(ws, p) => state.project(ws, p),
        Target::Workspace(_) => None,
    }
    .ok_or_else(ApiError::internal)?;
    Ok(Json(views::project(project)))
}

/// Who holds which role on a project now (memberships and grants).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/projects/{p}/members", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), api::PageQuery),
    responses(
        (status = 200, description = "Bindings by user", body = api::Page<api::Binding>),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_project_members(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Binding>>> {
    members_page(&app, &caller, &ws, Some(&p), &q)
}

/// Sets a user's project role (and optional expiry), replacing any previous membership.
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/projects/{p}/members/{email}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("email" = String, Path, description = "The member's e-mail")),
    request_body = api::SetMember,
    responses(
        (status = 200, description = "The membership binding", body = api::Binding),
        (status = 202, description = "The entitlement's policy needs more approvals: a request carrying yours", body = api::Request),
        (status = 403, description = "Not a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Workspace, project or user not found", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_project_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, email)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<api::SetMember>,
) -> ApiResult {
    set_member(&app, &caller, &ws, Some(&p), &email, body).await
}

/// Removes a user from a project.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/projects/{p}/members/{email}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("email" = String, Path, description = "The member's e-mail")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Not found", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_project_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, email)): Path<(String, String, String)>,
) -> ApiResult {
    remove_member(&app, &caller, &ws, Some(&p), &email).await
}

/// Grants a role until an instant, on top of whatever the user already holds.
#[utoipa::path(post, path = "/api/v1/grants", tag = "workspaces",
    request_body = api::CreateGrant,
    responses(
        (status = 201, description = "The grant", body = api::Binding),
        (status = 202, description = "The entitlement's policy needs more approvals: a request carrying yours", body = api::Request),
        (status = 403, description = "Not a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Workspace, project or user not found", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_grant(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::CreateGrant>,
) -> ApiResult {
    let cmd = {
        let ctx = read_ctx(&app, &caller);
        let state = app.state();
        let target = target(&state, &ctx, &body.workspace, body.project.as_deref())?;
        let expires_at = expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), ctx.now)?
            .ok_or_else(|| {
                DomainError::invalid("input.missing_expiry", "a grant needs expires_at or expires_in")
            })?;
        NewGrant {
            target,
            email: Email::parse(&body.user)?,
            role: Role::parse_for(&body.role, body.project.is_some())?,
            expires_at,
            reason: body.reason.clone(),
        }
    };
    let done = app.execute(caller.actor(), |state, ctx| members::grant(state, ctx, cmd.clone())).await?;
    let state = app.state();
    match done.value {
        Assigned::Binding(id) => {
            let b = state.binding(id).ok_or_else(ApiError::internal)?;
            Ok(written(StatusCode::CREATED, done.seq, &views::binding(&state, b)))
        }
        Assigned::Request(id) => {
            let r = state.request(id).ok_or_else(ApiError::internal)?;
            Ok(written(StatusCode::ACCEPTED, done.seq, &views::request(&state, r, app.now())))
        }
    }
}

/// Ends a grant early (managers, or its holder giving it up).
#[utoipa::path(delete, path = "/api/v1/grants/{id}", tag = "workspaces",
    params(("id" = String, Path, description = "Grant (binding) id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such live grant visible to you", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_grant(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    let id = BindingId::parse(&id)
        .map_err(|_| DomainError::not_found("grant.not_found", format!("grant {id} not found")))?;
    let done =
        app.execute(caller.actor(), |state, ctx| Ok((members::revoke_grant(state, ctx, id)?, ()))).await?;
    Ok(written_empty(done.seq))
}

/// Parses tags given on the wire; values are checked against their definitions by the core.
pub fn parse_tags(given: &std::collections::BTreeMap<String, String>) -> Result<Tags, DomainError> {
    given.iter().map(|(k, v)| Ok((TagKey::parse(k)?, v.clone()))).collect()
}

/// A `?tag=key` or `?tag=key:value` filter.
pub struct TagFilter {
    key: TagKey,
    value: Option<String>,
}

impl TagFilter {
    /// Parses the filter.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let (k, v) = match s.split_once(':') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (s, None),
        };
        Ok(Self { key: TagKey::parse(k)?, value: v })
    }

    /// True when `tags` carry the key (with the value, if one was given).
    pub fn matches(&self, tags: &Tags) -> bool {
        tags.get(&self.key).is_some_and(|v| self.value.as_ref().is_none_or(|want| want == v))
    }
}
