//! Platforms, the tenants projects have on them, and service users for a tenant. The rules are
//! the core's (`cmd::platforms`); handlers parse, draw the service user's secret, and render.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::cmd::platforms::{self, NewPlatform, NewServiceUser, NewTenant};
use breakglass_core::ident::{Name, Slug, UserId};
use breakglass_core::platform::{ExternalId, Platform, PlatformKind, ServiceUser, ServiceUserId, Tenant};
use breakglass_core::{Ctx, DomainError, State as Model};

use super::{paginate, paginate_keyed, written, written_empty, ApiJson, ApiQuery, ApiResult};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;

/// A context for read-only decisions (no ids are drawn).
fn read_ctx(app: &App, caller: &Caller) -> Ctx {
    caller.ctx(app.now())
}

/// A workspace path segment; a malformed one names no workspace, so it is a 404.
fn ws_slug(s: &str) -> Result<Slug, DomainError> {
    Slug::parse(s)
        .map_err(|_| DomainError::not_found("workspace.not_found", format!("workspace '{s}' not found")))
}

/// The workspace and project of a path, checked for visibility in that order, so that an
/// outsider learns nothing about either (404 like for what does not exist).
fn project_path(app: &App, caller: &Caller, ws: &str, p: &str) -> Result<(Slug, Slug), DomainError> {
    let ws = ws_slug(ws)?;
    let state = app.state();
    let ctx = read_ctx(app, caller);
    // Visible workspace first; then the project segment, which only then may say "not found".
    breakglass_core::authz::visible_workspace(&state, &ctx, &ws)?;
    let project = Slug::parse(p).map_err(|_| {
        DomainError::not_found("project.not_found", format!("project '{p}' not found in workspace '{ws}'"))
    })?;
    platforms::visible_project(&state, &ctx, &ws, &project)?;
    Ok((ws, project))
}

/// Like [`project_path`], with the project's tenant on the platform of the path.
fn tenant_path(
    app: &App,
    caller: &Caller,
    ws: &str,
    p: &str,
    platform: &str,
) -> Result<(Slug, Slug, Slug), DomainError> {
    let (ws, project) = project_path(app, caller, ws, p)?;
    let platform = Slug::parse(platform).map_err(|_| {
        DomainError::not_found(
            "tenant.not_found",
            format!("project '{project}' has no tenant on platform '{platform}'"),
        )
    })?;
    platforms::visible_tenant(&app.state(), &read_ctx(app, caller), &ws, &project, &platform)?;
    Ok((ws, project, platform))
}

fn email_of(state: &Model, id: Option<UserId>) -> String {
    match id {
        None => "system".to_owned(),
        Some(id) => state.user(id).map_or_else(|| id.to_string(), |u| u.email.to_string()),
    }
}

fn platform_view(p: &Platform) -> api::Platform {
    api::Platform {
        identifier: p.id.to_string(),
        kind: p.kind.to_string(),
        name: p.name.to_string(),
        created_at: p.created_at.to_rfc3339(),
    }
}

fn tenant_view(state: &Model, t: &Tenant) -> api::Tenant {
    api::Tenant {
        workspace: t.workspace.to_string(),
        project: t.project.to_string(),
        platform: t.platform.to_string(),
        platform_kind: state.platform(&t.platform).map(|p| p.kind.to_string()).unwrap_or_default(),
        external_id: t.external_id.to_string(),
        created_by: email_of(state, t.created_by),
        created_at: t.created_at.to_rfc3339(),
    }
}

fn service_user_view(state: &Model, u: &ServiceUser) -> api::ServiceUser {
    api::ServiceUser {
        id: u.id.to_string(),
        workspace: u.workspace.to_string(),
        project: u.project.to_string(),
        platform: u.platform.to_string(),
        name: u.name.to_string(),
        client_id: u.client_id.clone(),
        created_by: email_of(state, Some(u.created_by)),
        created_at: u.created_at.to_rfc3339(),
    }
}

/// Registers a platform (admins).
#[utoipa::path(post, path = "/api/v1/platforms", tag = "platforms",
    request_body = api::RegisterPlatform,
    responses(
        (status = 201, description = "Registered", body = api::Platform),
        (status = 403, description = "Not an admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Identifier taken (`platform.exists`)", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid identifier, kind or name", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn register_platform(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::RegisterPlatform>,
) -> ApiResult {
    let new = NewPlatform {
        id: Slug::parse(&body.identifier)?,
        kind: PlatformKind::parse(&body.kind)?,
        name: Name::parse(&body.name)?,
    };
    let id = new.id.clone();
    let done = app
        .execute(caller.actor(), |s, c| Ok((platforms::register_platform(s, c, new.clone())?, ())))
        .await?;
    let state = app.state();
    let p = state.platform(&id).ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::CREATED, done.seq, &platform_view(p)))
}

/// The registered platforms (any signed-in user).
#[utoipa::path(get, path = "/api/v1/platforms", tag = "platforms",
    params(api::PageQuery),
    responses((status = 200, description = "Platforms by identifier", body = api::Page<api::Platform>)))]
pub async fn list_platforms(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Platform>>> {
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let items = platforms::list_platforms(&state, &ctx)?.into_iter().map(platform_view).collect();
    Ok(Json(paginate(items, |p: &api::Platform| p.identifier.clone(), &q)?))
}

/// Gives a project a tenant on a platform (the workspace's managers and the admin area).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/projects/{p}/tenants", tag = "platforms",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier")),
    request_body = api::CreateTenant,
    responses(
        (status = 201, description = "Created", body = api::Tenant),
        (status = 403, description = "Not a manager of the workspace", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Workspace, project or platform not found (or not visible)", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The project has a tenant on the platform, or the external id is taken", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value, or the workspace is not active", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_tenant(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p)): Path<(String, String)>,
    ApiJson(body): ApiJson<api::CreateTenant>,
) -> ApiResult {
    let (ws, project) = project_path(&app, &caller, &ws, &p)?;
    let new = NewTenant {
        workspace: ws.clone(),
        project: project.clone(),
        platform: Slug::parse(&body.platform)?,
        external_id: ExternalId::parse(&body.external_id)?,
    };
    let platform = new.platform.clone();
    let done =
        app.execute(caller.actor(), |s, c| Ok((platforms::create_tenant(s, c, new.clone())?, ()))).await?;
    let state = app.state();
    let t = state.tenant(&ws, &project, &platform).ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::CREATED, done.seq, &tenant_view(&state, t)))
}

/// A project's tenants (anyone who sees the project).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/projects/{p}/tenants", tag = "platforms",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), api::PageQuery),
    responses(
        (status = 200, description = "Tenants by platform", body = api::Page<api::Tenant>),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_tenants(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Tenant>>> {
    let (ws, project) = project_path(&app, &caller, &ws, &p)?;
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let items = platforms::list_tenants(&state, &ctx, &ws, &project)?
        .into_iter()
        .map(|t| tenant_view(&state, t))
        .collect();
    Ok(Json(paginate(items, |t: &api::Tenant| t.platform.clone(), &q)?))
}

/// Creates a service user for a project's tenant (users assigned to the project, and the
/// workspace's managers). Its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/projects/{p}/tenants/{platform}/service-users", tag = "platforms",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("platform" = String, Path, description = "Platform identifier")),
    request_body = api::CreateServiceUser,
    responses(
        (status = 201, description = "Created, with its secret (shown only here)", body = api::CreatedServiceUser),
        (status = 403, description = "Not assigned to the project, or an auditor", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Workspace, project or tenant not found (or not visible)", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tenant has a service user of that name", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, the workspace is not active, or the tenant is full", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_service_user(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, platform)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<api::CreateServiceUser>,
) -> ApiResult {
    let (ws, project, platform) = tenant_path(&app, &caller, &ws, &p, &platform)?;
    let name = Name::parse(&body.name)?;
    let secret = auth::new_secret(auth::SERVICE_USER_PREFIX);
    let new =
        NewServiceUser { workspace: ws, project, platform, name, secret_hash: auth::secret_hash(&secret) };
    let done = app.execute(caller.actor(), |s, c| platforms::create_service_user(s, c, new.clone())).await?;
    let state = app.state();
    let u = state.service_user(done.value).ok_or_else(ApiError::internal)?;
    let created = api::CreatedServiceUser { service_user: service_user_view(&state, u), secret };
    Ok(written(StatusCode::CREATED, done.seq, &created))
}

/// The service users of a project's tenant, oldest first, never with their secrets (anyone who
/// sees the project).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/projects/{p}/tenants/{platform}/service-users", tag = "platforms",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("platform" = String, Path, description = "Platform identifier"), api::PageQuery),
    responses(
        (status = 200, description = "Service users, oldest first", body = api::Page<api::ServiceUser>),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_service_users(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, platform)): Path<(String, String, String)>,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::ServiceUser>>> {
    let (ws, project, platform) = tenant_path(&app, &caller, &ws, &p, &platform)?;
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let keyed: Vec<(String, api::ServiceUser)> =
        platforms::list_service_users(&state, &ctx, &ws, &project, &platform)?
            .into_iter()
            .map(|u| (format!("{:020}-{}", u.created_at.as_micros(), u.id), service_user_view(&state, u)))
            .collect();
    Ok(Json(paginate_keyed(keyed, q.limit, q.cursor.clone())?))
}

/// Deletes a service user (its creator, or the workspace's managers). It stays in the history.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/projects/{p}/tenants/{platform}/service-users/{id}", tag = "platforms",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("platform" = String, Path, description = "Platform identifier"), ("id" = String, Path, description = "Service user id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Neither its creator nor a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found, already deleted, or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_service_user(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, platform, id)): Path<(String, String, String, String)>,
) -> ApiResult {
    let (ws, project, platform) = tenant_path(&app, &caller, &ws, &p, &platform)?;
    let id = ServiceUserId::parse(&id).map_err(|_| {
        DomainError::not_found("service_user.not_found", format!("service user {id} not found"))
    })?;
    let done = app
        .execute(caller.actor(), |s, c| {
            Ok((platforms::delete_service_user(s, c, &ws, &project, &platform, id)?, ()))
        })
        .await?;
    Ok(written_empty(done.seq))
}
