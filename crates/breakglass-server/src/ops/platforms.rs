//! Platforms, the tenants projects have on them, and service users for a tenant. The rules are
//! the core's (`cmd::platforms`); these operations resolve paths in the order that keeps an
//! outsider from learning what exists, draw a service user's secret, and render.

use std::time::Duration;

use breakglass_api as api;
use breakglass_core::cmd::platforms::{self, NewPlatform, NewServiceUser, NewTenant};
use breakglass_core::cmd::provision as credentials;
use breakglass_core::ident::{Name, Slug, UserId};
use breakglass_core::platform::{
    DriftMode, ExternalId, Platform, PlatformConfig, PlatformKind, ServiceUser, ServiceUserId, Tenant,
};
use breakglass_core::provision::ProvisionState;
use breakglass_core::role::ProjectRole;
use breakglass_core::time::Span;
use breakglass_core::{DomainError, State as Model};

use super::{page, read_ctx, ws_slug, OpResult, PageAsk, Written};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::provision::{self as engine, EngineError};

/// How long issuing a credential or creating a service user waits for the platform to hold it.
const READY_PATIENCE: Duration = Duration::from_secs(5);

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
    let kind = engine::kind_of(p);
    let mapping = kind
        .map(|k| {
            [ProjectRole::Reader, ProjectRole::User, ProjectRole::Admin]
                .into_iter()
                .map(|r| (r.as_str().to_owned(), engine::mapping_of(p, k, r)))
                .collect()
        })
        .unwrap_or_default();
    api::Platform {
        identifier: p.id.to_string(),
        kind: p.kind.to_string(),
        name: p.name.to_string(),
        created_at: p.created_at.to_rfc3339(),
        provisioned: kind.is_some_and(|k| k.provisions()),
        settings: p.config.settings.clone(),
        secret_settings: p.config.sealed.keys().cloned().collect(),
        mapping,
        mode: kind.map(|_| p.config.mode.as_str().to_owned()),
        account_template: kind.map(|_| p.config.account_template.clone()),
        credential_lifetime: kind.map(|_| p.config.credential_lifetime.to_string()),
        status: None,
        ssh: None,
    }
}

/// Settings whose values are secrets on a kind without a connector to say so.
fn looks_secret(key: &str) -> bool {
    ["password", "secret", "token", "url", "key"].contains(&key)
        || ["_password", "_secret", "_token", "_key", "_url"].iter().any(|s| key.ends_with(s))
}

/// The configuration `change` makes of `base` for a platform of `kind`: secret settings
/// sealed, the rest checked against the kind's connector where it has one.
fn configure_with(
    app: &App,
    id: &Slug,
    kind: &PlatformKind,
    mut config: PlatformConfig,
    change: api::UpdatePlatform,
) -> Result<PlatformConfig, ApiError> {
    let sealer = app.sealer().ok_or_else(ApiError::internal)?;
    let connector = breakglass_connect::kind(kind.as_str());
    let invalid = |code: &'static str, detail: String| ApiError::from(DomainError::invalid(code, detail));
    let mut mode = change.mode;
    for (key, value) in change.settings {
        // `mode` reads as a setting on the command line; it is the platform's drift mode.
        if key == "mode" {
            mode = value.or(Some("enforce".into()));
            continue;
        }
        config.settings.remove(&key);
        config.sealed.remove(&key);
        let Some(value) = value else { continue };
        if let Some(k) = connector {
            k.check_setting(&key, &value).map_err(|e| invalid("platform.invalid_setting", e))?;
        }
        let secret = match connector {
            Some(k) => match k.settings().iter().find(|s| s.key == key) {
                Some(spec) => spec.secret,
                // Handed on to the connector: secret when it looks like one.
                None if k.open_ended() => looks_secret(&key),
                None => {
                    let known: Vec<&str> = k.settings().iter().map(|s| s.key).collect();
                    return Err(invalid(
                        "platform.invalid_setting",
                        format!(
                            "unknown setting '{key}' for kind {kind}: it takes {} (and mode)",
                            known.join(", ")
                        ),
                    ));
                }
            },
            None => looks_secret(&key),
        };
        if secret {
            config.sealed.insert(key.clone(), sealer.seal(id.as_str(), &key, &value));
        } else {
            config.settings.insert(key, value);
        }
    }
    if let Some(k) = connector {
        // What the kind makes itself (an SSH platform's authority) is made when missing.
        for (key, value) in k.generated_settings().map_err(|e| invalid("platform.invalid_setting", e))? {
            if !config.settings.contains_key(key) && !config.sealed.contains_key(key) {
                config.sealed.insert(key.to_owned(), sealer.seal(id.as_str(), key, &value));
            }
        }
        let given: Vec<&str> =
            config.settings.keys().chain(config.sealed.keys()).map(String::as_str).collect();
        breakglass_connect::check_settings(k, &given).map_err(|e| invalid("platform.invalid_setting", e))?;
    }
    if let Some(mode) = mode {
        config.mode = DriftMode::parse(&mode)?;
    }
    for (role, mapping) in change.mapping {
        let r = ProjectRole::parse(&role)?;
        match mapping {
            None => {
                config.mapping.remove(&r);
            }
            Some(m) => {
                if let Some(k) = connector {
                    k.check_mapping(&m).map_err(|e| {
                        invalid("platform.invalid_mapping", format!("mapping of {role}: {e}"))
                    })?;
                }
                config.mapping.insert(r, m.trim().to_owned());
            }
        }
    }
    if let Some(t) = change.account_template {
        config.account_template = t;
    }
    if let Some(l) = change.credential_lifetime {
        config.credential_lifetime = Span::parse(&l)?;
    }
    config.validate()?;
    Ok(config)
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
        role: u.role.as_str().to_owned(),
        login: u.verifier.as_ref().map(|_| u.client_id.clone()),
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
    /// Its settings, mapping, mode, account template and credential lifetime, as given.
    pub config: api::UpdatePlatform,
}

/// Registers a platform (admins). Secret settings are sealed before they reach the model.
pub async fn register(app: &App, caller: &Caller, new: Register) -> OpResult<Written<api::Platform>> {
    // Who may register is the core's to say; asked first, so an outsider's bad settings are
    // refused for who they are, not for what they sent.
    platforms::may_register(&app.state(), &read_ctx(app, caller))?;
    let config = configure_with(app, &new.identifier, &new.kind, PlatformConfig::default(), new.config)?;
    let new = NewPlatform { id: new.identifier, kind: new.kind, name: new.name, config };
    let id = new.id.clone();
    let done = app
        .execute(caller.actor(), |s, c| Ok((platforms::register_platform(s, c, new.clone())?, ())))
        .await?;
    let state = app.state();
    let p = state.platform(&id).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: platform_view(p) })
}

/// Changes a platform's settings, mapping, drift mode, account template or credential lifetime
/// (admins).
pub async fn configure(
    app: &App,
    caller: &Caller,
    id: &str,
    change: api::UpdatePlatform,
) -> OpResult<Written<api::Platform>> {
    let id = platform_slug(id)?;
    let current = platforms::syncable_platform(&app.state(), &read_ctx(app, caller), &id)?.clone();
    super::ssh::authority_may_change(app, &current, &change)?;
    let config = configure_with(app, &id, &current.kind, current.config.clone(), change)?;
    let done = app
        .execute(caller.actor(), |s, c| {
            let (changes, _) = platforms::configure_platform(s, c, &id, config.clone())?;
            Ok((changes, ()))
        })
        .await?;
    let state = app.state();
    let p = state.platform(&id).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: platform_view(p) })
}

/// A platform identifier of a path; a malformed one is as unknown as a missing one.
pub(super) fn platform_slug(id: &str) -> Result<Slug, DomainError> {
    Slug::parse(id).map_err(|_| {
        DomainError::not_found("platform.not_found", format!("platform '{id}' is not registered"))
    })
}

/// One platform with its configuration and how the engine finds it (the admin area).
pub fn show(app: &App, caller: &Caller, id: &str) -> OpResult<api::Platform> {
    let id = platform_slug(id)?;
    let state = app.state();
    let p = platforms::inspectable_platform(&state, &read_ctx(app, caller), &id)?;
    let mut view = platform_view(p);
    view.ssh = super::ssh::host_setup(app, &state, p);
    if view.provisioned {
        let health = app.provisioning.health(&id);
        let (mut provisioned, mut failed) = (0, 0);
        for r in state.provisions_on(&id) {
            match r.state {
                ProvisionState::Provisioned { .. } => provisioned += 1,
                ProvisionState::Failed { .. } => failed += 1,
            }
        }
        view.status = Some(api::PlatformStatus {
            reconciler: health.leader,
            healthy: health.last_pass.map(|_| health.error.is_none()),
            error: health.error,
            failing_since: health.failing_since.map(|t| t.to_rfc3339()),
            last_pass: health.last_pass.map(|t| t.to_rfc3339()),
            provisioned,
            failed,
        });
    }
    Ok(view)
}

/// The answer for an engine error.
pub(super) fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::NoConnector(_) => DomainError::rule("platform.no_connector", e.to_string()).into(),
        EngineError::Settings(_) => {
            ApiError::new(axum::http::StatusCode::BAD_GATEWAY, "platform.unavailable", e.to_string())
        }
        EngineError::Elsewhere(_) => {
            DomainError::conflict("platform.reconciled_elsewhere", e.to_string()).into()
        }
        EngineError::Unknown(id) => {
            DomainError::not_found("platform.not_found", format!("platform '{id}' is not registered")).into()
        }
    }
}

fn memberships(list: Vec<(String, String)>) -> Vec<api::Membership> {
    list.into_iter().map(|(role, member)| api::Membership { role, member }).collect()
}

/// What a platform holds against what it must hold, changing nothing (the admin area).
pub async fn drift(app: &App, caller: &Caller, id: &str) -> OpResult<api::Drift> {
    let id = platform_slug(id)?;
    platforms::inspectable_platform(&app.state(), &read_ctx(app, caller), &id)?;
    let found = engine::inspect(app, &id).await.map_err(engine_error)?;
    Ok(api::Drift {
        missing: memberships(found.missing),
        extra: memberships(found.extra),
        foreign: memberships(found.foreign),
    })
}

/// Reconciles a platform now with a full listing (admins).
pub async fn sync(app: &App, caller: &Caller, id: &str) -> OpResult<api::SyncReport> {
    let id = platform_slug(id)?;
    platforms::syncable_platform(&app.state(), &read_ctx(app, caller), &id)?;
    let r = engine::sync_now(app, &id).await.map_err(engine_error)?;
    let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    Ok(api::SyncReport {
        granted: n(r.granted),
        revoked: n(r.revoked),
        failed: n(r.failed),
        accounts_changed: n(r.accounts_changed),
        accounts_removed: n(r.accounts_removed),
        drift: r.drift.into_iter().map(|(role, member, _)| api::Membership { role, member }).collect(),
    })
}

/// Issues the caller a password credential on a project's tenant, valid until their access
/// there ends (at most the platform's credential lifetime), and waits a moment for the
/// platform to accept it. The password is in this answer only.
pub async fn issue_credential(
    app: &App,
    caller: &Caller,
    (ws, p, platform): (&str, &str, &str),
) -> OpResult<Written<api::IssuedCredential>> {
    let (ws, project, platform) = tenant_path(app, caller, ws, p, platform)?;
    let settings = app.state().platform(&platform).cloned().ok_or_else(ApiError::internal)?;
    let password = auth::new_password();
    let verifier = engine::verifier(app, &settings, &password).await.map_err(engine_error)?;
    let done = app
        .execute(caller.actor(), |s, c| {
            // Who may have a credential is asked first; whether the platform makes logins after.
            let v = verifier.clone().unwrap_or_default();
            let (changes, credential, login) =
                credentials::issue_credential(s, c, &ws, &project, &platform, v)?;
            if verifier.is_none() {
                return Err(DomainError::rule(
                    "platform.no_credentials",
                    format!("platform '{platform}' ({}) has no connector that makes logins", settings.kind),
                ));
            }
            Ok((changes, (credential, login)))
        })
        .await?;
    let (credential, login) = done.value;
    let ready = engine::wait_applied(app, &platform, done.seq, READY_PATIENCE).await;
    let external =
        app.state().tenant(&ws, &project, &platform).map(|t| t.external_id.to_string()).unwrap_or_default();
    let connect = engine::connect_line(app, &settings, &external, &login);
    Ok(Written {
        seq: done.seq,
        value: api::IssuedCredential {
            platform: platform.to_string(),
            workspace: ws.to_string(),
            project: project.to_string(),
            login,
            password,
            expires_at: credential.valid_until.to_rfc3339(),
            ready,
            connect,
        },
    })
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
    body: &api::CreateServiceUser,
) -> OpResult<Written<api::CreatedServiceUser>> {
    let (ws, project, platform) = tenant_path(app, caller, ws, p, platform)?;
    let name = Name::parse(&body.name)?;
    let role = ProjectRole::parse(body.role.as_deref().unwrap_or("user"))?;
    let secret = auth::new_secret(auth::SERVICE_USER_PREFIX);
    // Where the platform makes logins, the secret is also the login's password.
    let target = app.state().platform(&platform).cloned().ok_or_else(ApiError::internal)?;
    let verifier = engine::verifier(app, &target, &secret).await.map_err(engine_error)?;
    let provisioned = verifier.is_some();
    let new = NewServiceUser {
        workspace: ws,
        project,
        platform: platform.clone(),
        name,
        secret_hash: auth::secret_hash(&secret),
        role,
        verifier,
    };
    let done = app.execute(caller.actor(), |s, c| platforms::create_service_user(s, c, new.clone())).await?;
    if provisioned {
        engine::wait_applied(app, &platform, done.seq, READY_PATIENCE).await;
    }
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
