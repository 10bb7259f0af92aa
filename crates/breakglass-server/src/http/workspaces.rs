//! Workspaces, projects, memberships and temporary grants over HTTP: parse, call
//! [`crate::ops::workspaces`], answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;

use super::{written, written_empty, ApiJson, ApiQuery, ApiResult};
use crate::app::App;
use crate::auth::Caller;
use crate::ops::workspaces::{self as ops, Assignment};
use crate::ops::Written;

/// A binding answers `done` (200 or 201); a request opened for approval answers 202.
fn assigned(w: Written<Assignment>, done: StatusCode) -> ApiResult {
    Ok(match w.value {
        Assignment::Binding(b) => written(done, w.seq, &b),
        Assignment::Request(r) => written(StatusCode::ACCEPTED, w.seq, &r),
    })
}

async fn set_member(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    email: &str,
    body: api::SetMember,
) -> ApiResult {
    assigned(ops::set_member(app, caller, ws, project, email, &body).await?, StatusCode::OK)
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
    let done = ops::create_workspace(&app, &caller, &body).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
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
    Ok(Json(ops::list_workspaces(&app, &caller, &q)?))
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
    Ok(Json(ops::get_workspace(&app, &caller, &ws)?))
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
    Ok(Json(ops::members(&app, &caller, &ws, None, &q.into())?))
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
    Ok(written_empty(ops::remove_member(&app, &caller, &ws, None, &email).await?.seq))
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
    let done = ops::create_project(&app, &caller, &ws, &body).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
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
    Ok(Json(ops::list_projects(&app, &caller, &ws, &q)?))
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
    Ok(Json(ops::get_project(&app, &caller, &ws, &p)?))
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
    Ok(Json(ops::members(&app, &caller, &ws, Some(&p), &q.into())?))
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
    Ok(written_empty(ops::remove_member(&app, &caller, &ws, Some(&p), &email).await?.seq))
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
    assigned(ops::create_grant(&app, &caller, &body).await?, StatusCode::CREATED)
}

/// Ends a grant early (managers, or its holder giving it up).
#[utoipa::path(delete, path = "/api/v1/grants/{id}", tag = "workspaces",
    params(("id" = String, Path, description = "Grant (binding) id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such live grant visible to you", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_grant(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    Ok(written_empty(ops::revoke_grant(&app, &caller, ops::grant_id(&id)?).await?.seq))
}
