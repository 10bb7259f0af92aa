//! Platforms, the tenants projects have on them, and service users for a tenant. The rules are
//! the core's (`cmd::platforms`); these operations resolve paths in the order that keeps an
//! outsider from learning what exists, draw a service user's secret, and render.

use breakglass_api as api;
use breakglass_core::cmd::platforms::{self, NewPlatform, NewServiceUser, NewTenant};
use breakglass_core::ident::{Name, Slug, UserId};
use breakglass_core::platform::{ExternalId, Platform, PlatformKind, ServiceUser, ServiceUserId, Tenant};
use breakglass_core::{DomainError, State as Model};

use super::{page, read_ctx, ws_slug, OpResult, PageAsk, Written};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;

/// The workspace and project of a path (its raw segments), checked for visibility in that order, so that an
/// outsider learns nothing about either (404 like for what does not exist).
pub fn project_path(app: &App, caller: &Caller, ws: &str, p: &str) -> Result<(Slug, Slug), DomainError> {
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
pub fn tenant_path(
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

/// Parses a service user id from a path; a malformed one is as unknown as a missing one.
pub fn service_user_id(id: &str) -> Result<ServiceUserId, ApiError> {
    ServiceUserId::parse(id).map_err(|_| {
        DomainError::not_found("service_user.not_found", format!("service user {id} not found")).into()
    })
}

/// A platform to register, parsed at the edge.
#[derive(Clone, Debug)]
pub struct Register {
    /// Its identifier.
    pub identifier: Slug,
    /// What kind of place it is.
    pub kind: PlatformKind,
    /// Display name.
    pub name: Name,
}

/// Registers a platform (admins).
pub async fn register(app: &App, caller: &Caller, new: Register) -> OpResult<Written<api::Platform>> {
    let new = NewPlatform { id: new.identifier, kind: new.kind, name: new.name, config: Default::default() };
    let id = new.id.clone();
    let done = app
        .execute(caller.actor(), |s, c| Ok((platforms::register_platform(s, c, new.clone())?, ())))
        .await?;
    let state = app.state();
    let p = state.platform(&id).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: platform_view(p) })
}

/// The registered platforms by identifier (any signed-in user).
pub fn list(app: &App, caller: &Caller, ask: &PageAsk) -> OpResult<api::Page<api::Platform>> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let found = platforms::list_platforms(&state, &ctx)?;
    Ok(page(found, |p| p.id.to_string(), ask, platform_view)?)
}

/// Gives a project (`ws`/`p`, raw path segments) a tenant on a platform (the workspace's
/// managers and the admin area).
pub async fn create_tenant(
    app: &App,
    caller: &Caller,
    ws: &str,
    p: &str,
    platform: &str,
    external_id: &str,
) -> OpResult<Written<api::Tenant>> {
    let (ws, project) = project_path(app, caller, ws, p)?;
    let new = NewTenant {
        workspace: ws.clone(),
        project: project.clone(),
        platform: Slug::parse(platform)?,
        external_id: ExternalId::parse(external_id)?,
    };
    let platform = new.platform.clone();
    let done =
        app.execute(caller.actor(), |s, c| Ok((platforms::create_tenant(s, c, new.clone())?, ()))).await?;
    let state = app.state();
    let t = state.tenant(&ws, &project, &platform).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: tenant_view(&state, t) })
}

/// A project's tenants by platform (anyone who sees the project).
pub fn tenants(
    app: &App,
    caller: &Caller,
    ws: &str,
    p: &str,
    ask: &PageAsk,
) -> OpResult<api::Page<api::Tenant>> {
    let (ws, project) = project_path(app, caller, ws, p)?;
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let found = platforms::list_tenants(&state, &ctx, &ws, &project)?;
    Ok(page(found, |t| t.platform.to_string(), ask, |t| tenant_view(&state, t))?)
}

/// Creates a service user for a project's tenant (users assigned to the project, and the
/// workspace's managers). Its secret is in this answer only.
pub async fn create_service_user(
    app: &App,
    caller: &Caller,
    (ws, p, platform): (&str, &str, &str),
    name: &str,
) -> OpResult<Written<api::CreatedServiceUser>> {
    let (ws, project, platform) = tenant_path(app, caller, ws, p, platform)?;
    let name = Name::parse(name)?;
    let secret = auth::new_secret(auth::SERVICE_USER_PREFIX);
    let new = NewServiceUser {
        workspace: ws,
        project,
        platform,
        name,
        secret_hash: auth::secret_hash(&secret),
        role: breakglass_core::role::ProjectRole::User,
        verifier: None,
    };
    let done = app.execute(caller.actor(), |s, c| platforms::create_service_user(s, c, new.clone())).await?;
    let state = app.state();
    let u = state.service_user(done.value).ok_or_else(ApiError::internal)?;
    Ok(Written {
        seq: done.seq,
        value: api::CreatedServiceUser { service_user: service_user_view(&state, u), secret },
    })
}

/// The service users of a project's tenant, oldest first, never with their secrets (anyone who
/// sees the project).
pub fn service_users(
    app: &App,
    caller: &Caller,
    (ws, p, platform): (&str, &str, &str),
    ask: &PageAsk,
) -> OpResult<api::Page<api::ServiceUser>> {
    let (ws, project, platform) = tenant_path(app, caller, ws, p, platform)?;
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let mut found = platforms::list_service_users(&state, &ctx, &ws, &project, &platform)?;
    let key = |u: &&ServiceUser| format!("{:020}-{}", u.created_at.as_micros(), u.id);
    found.sort_by_key(key);
    Ok(page(found, key, ask, |u| service_user_view(&state, u))?)
}

/// Deletes a service user (its creator, or the workspace's managers). It stays in the history.
pub async fn delete_service_user(
    app: &App,
    caller: &Caller,
    (ws, p, platform): (&str, &str, &str),
    id: &str,
) -> OpResult<Written<()>> {
    let (ws, project, platform) = tenant_path(app, caller, ws, p, platform)?;
    let id = service_user_id(id)?;
    let done = app
        .execute(caller.actor(), |s, c| {
            Ok((platforms::delete_service_user(s, c, &ws, &project, &platform, id)?, ()))
        })
        .await?;
    Ok(Written { seq: done.seq, value: () })
}

/// Every registered platform, by identifier: the choices of a form (not paged, never cut).
pub fn all(app: &App, caller: &Caller) -> OpResult<Vec<api::Platform>> {
    let state = app.state();
    Ok(platforms::list_platforms(&state, &read_ctx(app, caller))?.into_iter().map(platform_view).collect())
}

/// A project's tenants with each one's service users, oldest first: what the project's page
/// shows whole (a project has at most one tenant per platform).
pub fn tenants_with_service_users(
    app: &App,
    caller: &Caller,
    ws: &str,
    p: &str,
) -> OpResult<Vec<(api::Tenant, Vec<api::ServiceUser>)>> {
    let (ws, project) = project_path(app, caller, ws, p)?;
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let mut out = Vec::new();
    for t in platforms::list_tenants(&state, &ctx, &ws, &project)? {
        let mut users = platforms::list_service_users(&state, &ctx, &ws, &project, &t.platform)?;
        users.sort_by_key(|u| (u.created_at, u.id));
        out.push((tenant_view(&state, t), users.into_iter().map(|u| service_user_view(&state, u)).collect()));
    }
    Ok(out)
}
