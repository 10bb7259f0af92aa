//! Platforms (admins register them), a project's tenants on them (the workspace's managers
//! create them) and service users for a tenant (any user assigned to the project creates them;
//! their creator or the workspace's managers delete them).
//!
//! Every right is decided through the context-based helpers of `authz`, so whatever narrows the
//! actor's rights there (a scoped credential) narrows them here too. Whatever lies in a workspace
//! the actor cannot see answers 404, like something that does not exist.

use serde_json::json;

use crate::audit::EventType;
use crate::authz::{self, WorkspaceAccess};
use crate::change::{Change, Changes};
use crate::cmd::event;
use crate::cmd::workspaces::require_active;
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{Name, Slug, UserId};
use crate::model::{Project, SecretHash, Target};
use crate::platform::{
    client_id, ExternalId, Platform, PlatformConfig, PlatformKind, ServiceUser, ServiceUserId, Tenant,
};
use crate::role::{AdminRole, ProjectRole};
use crate::state::State;

/// Most service users one tenant may have at a time.
pub const MAX_SERVICE_USERS_PER_TENANT: usize = 100;

/// Input for a new platform.
#[derive(Clone, Debug)]
pub struct NewPlatform {
    /// Immutable identifier, unique in the installation.
    pub id: Slug,
    /// What kind of place it is.
    pub kind: PlatformKind,
    /// Display name.
    pub name: Name,
    /// Connection and provisioning settings (secret ones already sealed).
    pub config: PlatformConfig,
}

/// Whether the actor may register platforms (admins only).
pub fn may_register(state: &State, ctx: &Ctx) -> Result<(), DomainError> {
    if authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(DomainError::forbidden("only admins register platforms"));
    }
    Ok(())
}

/// Registers a platform (admins only).
pub fn register_platform(state: &State, ctx: &Ctx, new: NewPlatform) -> Result<Changes, DomainError> {
    may_register(state, ctx)?;
    if state.platform(&new.id).is_some() {
        return Err(DomainError::conflict(
            "platform.exists",
            format!("a platform with identifier '{}' already exists", new.id),
        ));
    }
    new.config.validate()?;
    let platform = Platform {
        id: new.id,
        kind: new.kind,
        name: new.name,
        created_by: ctx.user(),
        created_at: ctx.now,
        config: new.config,
    };
    let mut details = config_details(&platform.config);
    details["kind"] = json!(platform.kind.as_str());
    details["name"] = json!(platform.name.as_str());
    let ev = event(state, ctx, EventType::PlatformRegistered, None, Some(platform.id.to_string()), details);
    Ok(Changes { changes: vec![Change::CreatePlatform(platform)], events: vec![ev] })
}

/// Replaces a platform's configuration (admins only). A secret setting not given again, neither
/// as a secret nor in the clear, keeps its sealed value.
pub fn configure_platform(
    state: &State,
    ctx: &Ctx,
    id: &Slug,
    mut config: PlatformConfig,
) -> Result<(Changes, Platform), DomainError> {
    if authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(DomainError::forbidden("only admins configure platforms"));
    }
    let current = state.platform(id).ok_or_else(|| platform_not_found(id))?;
    for (key, sealed) in &current.config.sealed {
        if !config.settings.contains_key(key) {
            config.sealed.entry(key.clone()).or_insert_with(|| sealed.clone());
        }
    }
    config.validate()?;
    if config == current.config {
        return Ok((Changes::default(), current.clone()));
    }
    let platform = Platform { config, ..current.clone() };
    let ev = event(
        state,
        ctx,
        EventType::PlatformConfigured,
        None,
        Some(platform.id.to_string()),
        config_details(&platform.config),
    );
    Ok((Changes { changes: vec![Change::UpdatePlatform(platform.clone())], events: vec![ev] }, platform))
}

/// A configuration as the audit log records it: secret settings by name only.
fn config_details(config: &PlatformConfig) -> serde_json::Value {
    json!({
        "settings": config.settings,
        "secret_settings": config.sealed.keys().collect::<Vec<_>>(),
        "mode": config.mode.as_str(),
        "mapping": config.mapping.iter().map(|(r, m)| (r.as_str(), m)).collect::<std::collections::BTreeMap<_, _>>(),
        "account_template": config.account_template,
        "credential_lifetime": config.credential_lifetime.to_string(),
    })
}

/// A platform whose configuration, status and drift the actor may read: the admin area
/// (admins, employees, auditors).
pub fn inspectable_platform<'a>(state: &'a State, ctx: &Ctx, id: &Slug) -> Result<&'a Platform, DomainError> {
    if !authz::actor_admin_role(state, ctx)?.reads_everything() {
        return Err(DomainError::forbidden("only the admin area reads a platform's configuration and drift"));
    }
    state.platform(id).ok_or_else(|| platform_not_found(id))
}

/// A platform the actor may reconcile now (admins only: a pass changes the platform).
pub fn syncable_platform<'a>(state: &'a State, ctx: &Ctx, id: &Slug) -> Result<&'a Platform, DomainError> {
    if authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(DomainError::forbidden("only admins reconcile a platform"));
    }
    state.platform(id).ok_or_else(|| platform_not_found(id))
}

/// Every platform, in identifier order: any signed-in user may see them.
pub fn list_platforms<'a>(state: &'a State, ctx: &Ctx) -> Result<Vec<&'a Platform>, DomainError> {
    authz::actor_admin_role(state, ctx)?;
    Ok(state.platforms().collect())
}

/// Input for a new tenant.
#[derive(Clone, Debug)]
pub struct NewTenant {
    /// The project's workspace.
    pub workspace: Slug,
    /// The project.
    pub project: Slug,
    /// The platform.
    pub platform: Slug,
    /// How the platform names the tenant.
    pub external_id: ExternalId,
}

/// Gives a project a tenant on a platform (the workspace's managers and the admin area). A
/// project has at most one tenant per platform, and an external id belongs to at most one
/// project on a platform: otherwise a project could claim another's account and create
/// credentials for it.
pub fn create_tenant(state: &State, ctx: &Ctx, new: NewTenant) -> Result<Changes, DomainError> {
    let (project, access) = visible_project(state, ctx, &new.workspace, &new.project)?;
    if !access.manage {
        return Err(DomainError::forbidden(format!(
            "only managers of '{}' create tenants for its projects",
            new.workspace
        )));
    }
    let ws = state.workspace(&project.workspace).ok_or_else(|| authz::workspace_not_found(&new.workspace))?;
    require_active(ws)?;
    let platform = state.platform(&new.platform).ok_or_else(|| platform_not_found(&new.platform))?;
    // An SSH tenant's external id names a group of hosts that let its principals in: whoever
    // records it first gets into them, so only admins, who set the hosts up, record one.
    if platform.kind.as_str() == "ssh" && authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(DomainError::forbidden(format!(
            "only admins record a tenant on SSH platform '{}': its external id names a group of hosts",
            new.platform
        )));
    }
    if state.tenant(&new.workspace, &new.project, &new.platform).is_some() {
        return Err(DomainError::conflict(
            "tenant.exists",
            format!("project '{}' already has a tenant on platform '{}'", new.project, new.platform),
        ));
    }
    if state.tenants().any(|t| t.platform == new.platform && t.external_id == new.external_id) {
        return Err(DomainError::conflict(
            "tenant.external_id_taken",
            format!(
                "external id '{}' already belongs to a tenant on platform '{}'",
                new.external_id, new.platform
            ),
        ));
    }
    let tenant = Tenant {
        workspace: new.workspace,
        project: new.project,
        platform: new.platform,
        external_id: new.external_id,
        created_by: ctx.user(),
        created_at: ctx.now,
    };
    let target = Target::Project(tenant.workspace.clone(), tenant.project.clone());
    let ev = event(
        state,
        ctx,
        EventType::TenantCreated,
        Some(&target),
        Some(tenant.platform.to_string()),
        json!({
            "platform": tenant.platform.as_str(),
            "kind": platform.kind.as_str(),
            "external_id": tenant.external_id.as_str(),
        }),
    );
    Ok(Changes { changes: vec![Change::CreateTenant(tenant)], events: vec![ev] })
}

/// The tenants of a project the actor can see, in platform order.
pub fn list_tenants<'a>(
    state: &'a State,
    ctx: &Ctx,
    ws: &'a Slug,
    project: &'a Slug,
) -> Result<Vec<&'a Tenant>, DomainError> {
    visible_project(state, ctx, ws, project)?;
    Ok(state.tenants_of(ws, project).collect())
}

/// Input for a new service user. The secret is drawn by the caller (the server); only its
/// digest comes here.
#[derive(Clone, Debug)]
pub struct NewServiceUser {
    /// The project's workspace.
    pub workspace: Slug,
    /// The project.
    pub project: Slug,
    /// The platform of the project's tenant.
    pub platform: Slug,
    /// A label, unique among the tenant's service users.
    pub name: Name,
    /// SHA-256 digest of the secret shown once to the creator.
    pub secret_hash: SecretHash,
    /// The project role it holds on the tenant.
    pub role: ProjectRole,
    /// The platform login's password verifier, when the platform's connector makes logins.
    pub verifier: Option<String>,
}

/// Creates a service user for a project's tenant. Any user assigned to the project (an effective
/// binding on it) may, and so may whoever manages the workspace; auditors change nothing. The
/// workspace must be active.
pub fn create_service_user(
    state: &State,
    ctx: &Ctx,
    new: NewServiceUser,
) -> Result<(Changes, ServiceUserId), DomainError> {
    let (tenant, access) = visible_tenant(state, ctx, &new.workspace, &new.project, &new.platform)?;
    refuse_auditors(state, ctx)?;
    let me =
        ctx.user().ok_or_else(|| DomainError::forbidden("a service user needs a user as its creator"))?;
    if !access.manage && !assigned_to_project(state, ctx, me, &new.workspace, &new.project) {
        return Err(DomainError::forbidden(format!(
            "only users assigned to project '{}' create its service users",
            new.project
        )));
    }
    let ws = state.workspace(&new.workspace).ok_or_else(|| authz::workspace_not_found(&new.workspace))?;
    require_active(ws)?;
    let existing = state.service_users_of(&new.workspace, &new.project, &new.platform);
    if existing.iter().any(|u| u.name == new.name) {
        return Err(DomainError::conflict(
            "service_user.exists",
            format!("the tenant on '{}' already has a service user named '{}'", new.platform, new.name),
        ));
    }
    if existing.len() >= MAX_SERVICE_USERS_PER_TENANT {
        return Err(DomainError::rule(
            "service_user.limit_reached",
            format!("a tenant has at most {MAX_SERVICE_USERS_PER_TENANT} service users; delete one first"),
        ));
    }
    let user = ServiceUser {
        id: ServiceUserId(ctx.next_id()),
        workspace: new.workspace,
        project: new.project,
        platform: new.platform,
        name: new.name,
        client_id: client_id(ctx.next_id()),
        secret_hash: new.secret_hash,
        created_by: me,
        created_at: ctx.now,
        deleted_at: None,
        deleted_by: None,
        role: new.role,
        verifier: new.verifier,
    };
    let ev = service_user_event(state, ctx, EventType::ServiceUserCreated, &user, tenant);
    let id = user.id;
    Ok((Changes { changes: vec![Change::CreateServiceUser(user)], events: vec![ev] }, id))
}

/// The live service users of a project's tenant the actor can see, oldest first.
pub fn list_service_users<'a>(
    state: &'a State,
    ctx: &Ctx,
    ws: &Slug,
    project: &Slug,
    platform: &Slug,
) -> Result<Vec<&'a ServiceUser>, DomainError> {
    visible_tenant(state, ctx, ws, project, platform)?;
    Ok(state.service_users_of(ws, project, platform))
}

/// Deletes a service user: its creator or whoever manages the workspace may, in any workspace
/// state (taking a credential away is always allowed). A deleted one is gone (404) for every
/// later call.
pub fn delete_service_user(
    state: &State,
    ctx: &Ctx,
    ws: &Slug,
    project: &Slug,
    platform: &Slug,
    id: ServiceUserId,
) -> Result<Changes, DomainError> {
    let (tenant, access) = visible_tenant(state, ctx, ws, project, platform)?;
    let user = state
        .service_user(id)
        .filter(|u| &u.workspace == ws && &u.project == project && &u.platform == platform)
        .ok_or_else(|| service_user_not_found(id))?;
    refuse_auditors(state, ctx)?;
    let is_creator = ctx.user() == Some(user.created_by);
    if !access.manage && !is_creator {
        return Err(DomainError::forbidden(format!(
            "only its creator or the managers of '{ws}' delete service user {id}"
        )));
    }
    let ev = service_user_event(state, ctx, EventType::ServiceUserDeleted, user, tenant);
    Ok(Changes {
        changes: vec![Change::DeleteServiceUser { id, at: ctx.now, by: ctx.user() }],
        events: vec![ev],
    })
}

/// The project, if the actor may see its workspace; otherwise the same 404 as for one that does
/// not exist.
pub fn visible_project<'a>(
    state: &'a State,
    ctx: &Ctx,
    ws: &Slug,
    project: &Slug,
) -> Result<(&'a Project, WorkspaceAccess), DomainError> {
    let (_, access) = authz::visible_workspace(state, ctx, ws)?;
    let p = state.project(ws, project).ok_or_else(|| project_not_found(ws, project))?;
    Ok((p, access))
}

/// The project's tenant on `platform`, if the actor may see the project.
pub fn visible_tenant<'a>(
    state: &'a State,
    ctx: &Ctx,
    ws: &Slug,
    project: &Slug,
    platform: &Slug,
) -> Result<(&'a Tenant, WorkspaceAccess), DomainError> {
    let (_, access) = visible_project(state, ctx, ws, project)?;
    let t = state.tenant(ws, project, platform).ok_or_else(|| tenant_not_found(project, platform))?;
    Ok((t, access))
}

/// The error for a platform that is not registered.
pub fn platform_not_found(id: &Slug) -> DomainError {
    DomainError::not_found("platform.not_found", format!("platform '{id}' is not registered"))
}

/// The error for a project that does not exist or is not visible.
pub fn project_not_found(ws: &Slug, project: &Slug) -> DomainError {
    DomainError::not_found("project.not_found", format!("project '{project}' not found in workspace '{ws}'"))
}

/// The error for a tenant that does not exist or is not visible.
pub fn tenant_not_found(project: &Slug, platform: &Slug) -> DomainError {
    DomainError::not_found(
        "tenant.not_found",
        format!("project '{project}' has no tenant on platform '{platform}'"),
    )
}

/// The error for a service user that does not exist, was deleted, or is not visible.
pub fn service_user_not_found(id: ServiceUserId) -> DomainError {
    DomainError::not_found("service_user.not_found", format!("service user {id} not found"))
}

/// True when `me`, the actor, holds an effective binding on the project. Asked only after the
/// context-based rights let the actor see the workspace.
fn assigned_to_project(state: &State, ctx: &Ctx, me: UserId, ws: &Slug, project: &Slug) -> bool {
    let target = Target::Project(ws.clone(), project.clone());
    state.bindings_on(&target).any(|b| b.user == me && b.is_effective(ctx.now))
}

fn refuse_auditors(state: &State, ctx: &Ctx) -> Result<(), DomainError> {
    // The user's own role, not the credential's: a scoped credential hides the admin-area role,
    // and must not thereby let an auditor change anything.
    if authz::acting_user(state, ctx)?.admin_role == AdminRole::Auditor {
        return Err(DomainError::forbidden("auditors read everything and change nothing"));
    }
    Ok(())
}

/// A service user's event: subject its client id; never its secret or the secret's digest.
fn service_user_event(
    state: &State,
    ctx: &Ctx,
    ty: EventType,
    user: &ServiceUser,
    tenant: &Tenant,
) -> crate::audit::NewEvent {
    let email_of = |id: UserId| state.user(id).map_or_else(|| id.to_string(), |u| u.email.to_string());
    let target = Target::Project(user.workspace.clone(), user.project.clone());
    event(
        state,
        ctx,
        ty,
        Some(&target),
        Some(user.client_id.clone()),
        json!({
            "service_user_id": user.id.to_string(),
            "name": user.name.as_str(),
            "platform": user.platform.as_str(),
            "external_id": tenant.external_id.as_str(),
            "created_by": email_of(user.created_by),
        }),
    )
}
