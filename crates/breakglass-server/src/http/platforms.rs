//! Platforms, tenants and service users over HTTP: parse, call [`crate::ops::platforms`], answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::ident::{Name, Slug};
use breakglass_core::platform::PlatformKind;

use super::{written, written_empty, ApiJson, ApiQuery, ApiResult};
use crate::app::App;
use crate::auth::Caller;
use crate::ops::platforms as ops;

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
    let new = ops::Register {
        identifier: Slug::parse(&body.identifier)?,
        kind: PlatformKind::parse(&body.kind)?,
        name: Name::parse(&body.name)?,
        config: api::UpdatePlatform {
            settings: body.settings.into_iter().map(|(k, v)| (k, Some(v))).collect(),
            mapping: body.mapping.into_iter().map(|(k, v)| (k, Some(v))).collect(),
            mode: body.mode,
            account_template: body.account_template,
            credential_lifetime: body.credential_lifetime,
        },
    };
    let done = ops::register(&app, &caller, new).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// One platform with its configuration (secret settings by name only) and how the provisioning
/// engine finds it (the admin area).
#[utoipa::path(get, path = "/api/v1/platforms/{platform}", tag = "platforms",
    params(("platform" = String, Path, description = "Platform identifier")),
    responses(
        (status = 200, description = "The platform", body = api::Platform),
        (status = 403, description = "Not in the admin area", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not registered", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn show_platform(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(platform): Path<String>,
) -> ApiResult<Json<api::Platform>> {
    Ok(Json(ops::show(&app, &caller, &platform)?))
}

/// Changes a platform's settings, role mapping, drift mode, account template or credential
/// lifetime (admins). Secret settings are sealed and never shown again.
#[utoipa::path(patch, path = "/api/v1/platforms/{platform}", tag = "platforms",
    params(("platform" = String, Path, description = "Platform identifier")),
    request_body = api::UpdatePlatform,
    responses(
        (status = 200, description = "Changed", body = api::Platform),
        (status = 403, description = "Not an admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not registered", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown or missing setting, an invalid mapping, mode, template or lifetime", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_platform(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(platform): Path<String>,
    ApiJson(body): ApiJson<api::UpdatePlatform>,
) -> ApiResult {
    let done = ops::configure(&app, &caller, &platform, body).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

/// What a platform holds against what it must hold, changing nothing (the admin area).
#[utoipa::path(get, path = "/api/v1/platforms/{platform}/drift", tag = "platforms",
    params(("platform" = String, Path, description = "Platform identifier")),
    responses(
        (status = 200, description = "Missing, extra and foreign memberships", body = api::Drift),
        (status = 403, description = "Not in the admin area", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not registered", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Its kind has no connector (`platform.no_connector`)", body = api::Problem, content_type = "application/problem+json"),
        (status = 502, description = "The platform cannot be reached or used (`platform.unavailable`)", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn platform_drift(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(platform): Path<String>,
) -> ApiResult<Json<api::Drift>> {
    Ok(Json(ops::drift(&app, &caller, &platform).await?))
}

/// Reconciles a platform now, listing it in full (admins).
#[utoipa::path(post, path = "/api/v1/platforms/{platform}/sync", tag = "platforms",
    params(("platform" = String, Path, description = "Platform identifier")),
    responses(
        (status = 200, description = "What the pass did", body = api::SyncReport),
        (status = 403, description = "Not an admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not registered", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another replica reconciles it now (`platform.reconciled_elsewhere`)", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Its kind has no connector (`platform.no_connector`)", body = api::Problem, content_type = "application/problem+json"),
        (status = 502, description = "The platform cannot be reached or used (`platform.unavailable`)", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn sync_platform(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(platform): Path<String>,
) -> ApiResult<Json<api::SyncReport>> {
    Ok(Json(ops::sync(&app, &caller, &platform).await?))
}

/// Issues the caller a password credential on a project's tenant, valid until their access
/// there ends (at most the platform's credential lifetime). The password is in this answer only.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/projects/{p}/tenants/{platform}/credentials", tag = "platforms",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("platform" = String, Path, description = "Platform identifier")),
    responses(
        (status = 201, description = "Issued, with its password (shown only here)", body = api::IssuedCredential),
        (status = 403, description = "No access on the project now", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Workspace, project or tenant not found (or not visible)", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The platform makes no logins (`platform.no_credentials`)", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn issue_credential(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, platform)): Path<(String, String, String)>,
) -> ApiResult {
    let done = ops::issue_credential(&app, &caller, (&ws, &p, &platform)).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
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
    Ok(Json(ops::list(&app, &caller, &q.into())?))
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
    let done = ops::create_tenant(&app, &caller, &ws, &p, &body.platform, &body.external_id).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
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
    Ok(Json(ops::tenants(&app, &caller, &ws, &p, &q.into())?))
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
    let done = ops::create_service_user(&app, &caller, (&ws, &p, &platform), &body).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
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
    Ok(Json(ops::service_users(&app, &caller, (&ws, &p, &platform), &q.into())?))
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
    Ok(written_empty(ops::delete_service_user(&app, &caller, (&ws, &p, &platform), &id).await?.seq))
}

/// Signs the caller's SSH public key for a project's tenant on a platform of kind `ssh`: the
/// principals of every role they hold there now, valid until the first of those accesses ends
/// (at most the platform's credential lifetime).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/projects/{p}/tenants/{platform}/ssh-certificates", tag = "platforms",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("platform" = String, Path, description = "Platform identifier")),
    request_body = api::SignSshKey,
    responses(
        (status = 201, description = "Signed", body = api::SshCertificate),
        (status = 403, description = "No access on the project now", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Workspace, project or tenant not found (or not visible)", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a public key OpenSSH writes, or a weak one (`ssh.invalid_public_key`); the platform is not of kind ssh (`platform.not_ssh`); the roles map to no valid principal (`ssh.no_principals`, `ssh.invalid_principals`)", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_ssh_key(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, platform)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<api::SignSshKey>,
) -> ApiResult {
    let done = crate::ops::ssh::sign(&app, &caller, (&ws, &p, &platform), &body.public_key).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// An SSH platform's key revocation list in OpenSSH's format (`RevokedKeys`): the certificates
/// still valid whose holder lost a role they carry. Hosts fetch it without a credential; it
/// names serials only.
#[utoipa::path(get, path = "/api/v1/platforms/{platform}/ssh/krl", tag = "platforms", security(()),
    params(("platform" = String, Path, description = "Platform identifier")),
    responses(
        (status = 200, description = "The revocation list (binary)", content_type = "application/octet-stream", body = String),
        (status = 404, description = "No SSH platform by that identifier", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn ssh_krl(
    State(app): State<Arc<App>>,
    Path(platform): Path<String>,
) -> ApiResult<([(axum::http::header::HeaderName, &'static str); 2], Vec<u8>)> {
    let krl = crate::ops::ssh::krl(&app, &platform)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/octet-stream"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        krl,
    ))
}
