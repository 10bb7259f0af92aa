//! The audit log over HTTP: parse, call [`crate::ops::audit`], answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use breakglass_api as api;

use super::{ApiQuery, ApiResult};
use crate::app::App;
use crate::auth::Caller;
use crate::ops::audit as ops;

/// The audit log, filtered (admin area only; workspace managers use the history views).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(api::AuditQuery),
    responses(
        (status = 200, description = "Events in sequence order", body = api::Page<api::AuditEvent>),
        (status = 403, description = "Not in the admin area", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_audit(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::AuditQuery>,
) -> ApiResult<Json<api::Page<api::AuditEvent>>> {
    Ok(Json(ops::list(&app, &caller, &q).await?))
}

/// A workspace's history: its events and those of its projects.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/history", tag = "audit",
    params(("ws" = String, Path, description = "Workspace identifier"), api::AuditQuery),
    responses(
        (status = 200, description = "Events in sequence order", body = api::Page<api::AuditEvent>),
        (status = 403, description = "Not a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn workspace_history(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<api::AuditQuery>,
) -> ApiResult<Json<api::Page<api::AuditEvent>>> {
    Ok(Json(ops::workspace_history(&app, &caller, &ws, &q).await?))
}

/// A project's history.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/projects/{p}/history", tag = "audit",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), api::AuditQuery),
    responses(
        (status = 200, description = "Events in sequence order", body = api::Page<api::AuditEvent>),
        (status = 403, description = "Not a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn project_history(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<api::AuditQuery>,
) -> ApiResult<Json<api::Page<api::AuditEvent>>> {
    Ok(Json(ops::project_history(&app, &caller, &ws, &p, &q).await?))
}

/// Recomputes the whole hash chain and names the first broken link.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "The verification report (ok or the first broken link)", body = api::VerifyReport),
        (status = 403, description = "Not in the admin area", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Json<api::VerifyReport>> {
    Ok(Json(ops::verify(&app, &caller).await?))
}
