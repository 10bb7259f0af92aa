//! Access requests, policies, entitlements, tasks and reviews over HTTP: parse, call
//! [`crate::ops::requests`], answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::access::ReviewOutcome;

use super::{written, ApiJson, ApiQuery, ApiResult, OptionalJson};
use crate::app::App;
use crate::auth::Caller;
use crate::ops::requests as ops;
use crate::ops::PageAsk;

/// Creates an approval policy (installation-wide: admins; for a workspace: its owners and admins).
#[utoipa::path(post, path = "/api/v1/policies", tag = "requests",
    request_body = api::PolicyBody,
    responses(
        (status = 201, description = "Created", body = api::Policy),
        (status = 403, description = "Not allowed to manage policies there", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid policy", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_policy(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::PolicyBody>,
) -> ApiResult {
    let done = ops::create_policy(&app, &caller, &body).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// Lists the policies the caller can see: installation-wide ones and those of visible workspaces.
#[utoipa::path(get, path = "/api/v1/policies", tag = "requests",
    params(api::PolicyQuery),
    responses((status = 200, description = "Policies by name (the installation default first)", body = api::Page<api::Policy>)))]
pub async fn list_policies(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PolicyQuery>,
) -> ApiResult<Json<api::Page<api::Policy>>> {
    let ask = PageAsk { limit: q.limit, cursor: q.cursor.clone() };
    Ok(Json(ops::list_policies(&app, &caller, q.workspace.as_deref(), &ask)?))
}

/// One policy (the nil id is the installation default).
#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "requests",
    params(("id" = String, Path, description = "Policy id")),
    responses(
        (status = 200, description = "The policy", body = api::Policy),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_policy(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Policy>> {
    Ok(Json(ops::get_policy(&app, &caller, ops::policy_id(&id)?)?))
}

/// Replaces a policy's definition. Requests already open keep the copy they opened under.
#[utoipa::path(put, path = "/api/v1/policies/{id}", tag = "requests",
    params(("id" = String, Path, description = "Policy id")),
    request_body = api::PolicyBody,
    responses(
        (status = 200, description = "The updated policy", body = api::Policy),
        (status = 403, description = "Not allowed", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid policy", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_policy(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<api::PolicyBody>,
) -> ApiResult {
    let done = ops::update_policy(&app, &caller, ops::policy_id(&id)?, &body).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

/// Every entitlement of a workspace (its roles and its projects' roles) with its settings.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/entitlements", tag = "requests",
    params(("ws" = String, Path, description = "Workspace identifier"), api::PageQuery),
    responses(
        (status = 200, description = "Entitlements", body = api::Page<api::Entitlement>),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_entitlements(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Entitlement>>> {
    Ok(Json(ops::list_entitlements(&app, &caller, &ws, &q.into())?))
}

/// Sets the request policy and emergency settings of a workspace role (owners and admins).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/entitlements/{role}", tag = "requests",
    params(("ws" = String, Path, description = "Workspace identifier"), ("role" = String, Path, description = "Workspace role")),
    request_body = api::EntitlementBody,
    responses(
        (status = 200, description = "The entitlement's settings", body = api::Entitlement),
        (status = 403, description = "Not an owner or admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid settings", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_workspace_entitlement(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, role)): Path<(String, String)>,
    ApiJson(body): ApiJson<api::EntitlementBody>,
) -> ApiResult {
    let done = ops::set_entitlement(&app, &caller, &ws, None, &role, &body).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

/// Sets the request policy and emergency settings of a project role (workspace owners and admins).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/projects/{p}/entitlements/{role}", tag = "requests",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("role" = String, Path, description = "Project role")),
    request_body = api::EntitlementBody,
    responses(
        (status = 200, description = "The entitlement's settings", body = api::Entitlement),
        (status = 403, description = "Not an owner or admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid settings", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_project_entitlement(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, role)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<api::EntitlementBody>,
) -> ApiResult {
    let done = ops::set_entitlement(&app, &caller, &ws, Some(&p), &role, &body).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

/// Requests an entitlement for the caller. The duration counts from the grant; an entitlement's
/// emergency policy applies with `emergency: true`. A policy without steps grants at once.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests",
    request_body = api::CreateRequest,
    responses(
        (status = 201, description = "The request (already granted when nothing needed approval)", body = api::Request),
        (status = 404, description = "Workspace or project not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request for the same access is already open", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value, duration above the maximum, emergency not enabled, ...", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::CreateRequest>,
) -> ApiResult {
    let done = ops::create_request(&app, &caller, &body).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// Lists requests: the caller's own (`scope=mine`, default) or all they may see (`scope=visible`),
/// newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests",
    params(api::RequestQuery),
    responses((status = 200, description = "Requests, newest first", body = api::Page<api::Request>)))]
pub async fn list_requests(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::RequestQuery>,
) -> ApiResult<Json<api::Page<api::Request>>> {
    Ok(Json(ops::list_requests(&app, &caller, &q)?))
}

/// One request (the user it is for, its creator, workspace managers, its approvers and the
/// admin area may see it).
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The request", body = api::Request),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Request>> {
    Ok(Json(ops::get_request(&app, &caller, ops::request_id(&id)?)?))
}

/// Approves the current step of a request. An admin-area admin or employee outside the step's
/// approvers may grant it at once with `{"override": true}`. Nobody approves their own request.
#[utoipa::path(post, path = "/api/v1/requests/{id}/approve", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body(content = Option<api::ApproveRequest>, description = "Optional; `override` for an admin-area override"),
    responses(
        (status = 200, description = "The request after the approval (granted when it was the last one)", body = api::Request),
        (status = 403, description = "Own request, or not an approver of the current step", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending any more, lapsed, or already approved by you", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<api::ApproveRequest>,
) -> ApiResult {
    let done = ops::approve(&app, &caller, ops::request_id(&id)?, body.is_override).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

/// Denies a request, with a reason.
#[utoipa::path(post, path = "/api/v1/requests/{id}/deny", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body = api::DenyRequest,
    responses(
        (status = 200, description = "The denied request", body = api::Request),
        (status = 403, description = "Not an approver", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending any more", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn deny_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<api::DenyRequest>,
) -> ApiResult {
    let done = ops::deny(&app, &caller, ops::request_id(&id)?, &body.reason).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

/// Cancels the caller's own request.
#[utoipa::path(post, path = "/api/v1/requests/{id}/cancel", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The cancelled request", body = api::Request),
        (status = 403, description = "Not the requester", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending any more", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let done = ops::cancel(&app, &caller, ops::request_id(&id)?).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

/// Escalates the caller's open request to emergency: the emergency policy applies, approvals
/// already given still count, the duration shrinks to the emergency maximum.
#[utoipa::path(post, path = "/api/v1/requests/{id}/escalate", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The escalated request (granted when the emergency policy is already satisfied)", body = api::Request),
        (status = 403, description = "Not the requester", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending, or already an emergency", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Emergency access is not enabled for this entitlement", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn escalate_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let done = ops::escalate(&app, &caller, ops::request_id(&id)?).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

/// The pending requests the caller may approve (or override), emergency ones first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "requests",
    params(api::PageQuery),
    responses((status = 200, description = "Tasks, emergency first, then oldest first", body = api::Page<api::Task>)))]
pub async fn list_tasks(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Task>>> {
    Ok(Json(ops::list_tasks(&app, &caller, &q.into())?))
}

/// Emergency reviews: those of workspaces whose history the caller may read, and their own.
#[utoipa::path(get, path = "/api/v1/reviews", tag = "requests",
    params(api::ReviewQuery),
    responses((status = 200, description = "Reviews, newest first", body = api::Page<api::Review>)))]
pub async fn list_reviews(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::ReviewQuery>,
) -> ApiResult<Json<api::Page<api::Review>>> {
    Ok(Json(ops::list_reviews(&app, &caller, &q)?))
}

/// Completes an emergency review (workspace managers and the admin area; never the holder).
#[utoipa::path(post, path = "/api/v1/reviews/{id}/complete", tag = "requests",
    params(("id" = String, Path, description = "Review id")),
    request_body = api::CompleteReview,
    responses(
        (status = 200, description = "The completed review", body = api::Review),
        (status = 403, description = "The holder, or not a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already completed", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn complete_review(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<api::CompleteReview>,
) -> ApiResult {
    let id = ops::review_id(&id)?;
    let outcome = ReviewOutcome::parse(&body.outcome)?;
    let done = ops::complete_review(&app, &caller, id, outcome, body.notes).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}
