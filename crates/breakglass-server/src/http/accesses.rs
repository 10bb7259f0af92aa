//! Accesses over HTTP: parse, call [`crate::ops::accesses`], answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::delegation::AccessKind;
use breakglass_core::ident::{Email, Name, Slug};

use super::{expiry, written, written_empty, ApiJson, ApiQuery, ApiResult};
use crate::app::App;
use crate::auth::Caller;
use crate::ops::accesses::{self as ops, access_id};
use crate::ops::PageAsk;

/// Creates an API token access (its secret in the answer) or a delegate access (each
/// recipient's acceptance code in the answer). Nothing here is shown again.
#[utoipa::path(post, path = "/api/v1/accesses", tag = "accesses",
    request_body = api::CreateAccess,
    responses(
        (status = 201, description = "Created; pass the codes on, store the secret now", body = api::CreatedAccess),
        (status = 403, description = "Through a delegation, or with a scoped or read-only token", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A recipient named twice (`access.recipient_exists`)", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_access(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::CreateAccess>,
) -> ApiResult {
    let new = ops::Create {
        name: Name::parse(&body.name)?,
        kind: AccessKind::parse(&body.kind)?,
        scope: body.scope.as_deref().map(Slug::parse).transpose()?,
        expires_at: expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), app.now())?,
        read_only: body.read_only.unwrap_or(false),
        recipients: body.recipients.iter().map(|e| Email::parse(e)).collect::<Result<_, _>>()?,
    };
    let done = ops::create(&app, &caller, new).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// Lists the caller's accesses (revoked and expired ones too), newest first; the admin area
/// lists anyone's with `?owner=`.
#[utoipa::path(get, path = "/api/v1/accesses", tag = "accesses",
    params(api::AccessQuery),
    responses(
        (status = 200, description = "Accesses", body = api::Page<api::Access>),
        (status = 403, description = "Another user's accesses, outside the admin area", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_accesses(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::AccessQuery>,
) -> ApiResult<Json<api::Page<api::Access>>> {
    let owner = q.owner.as_deref().map(Email::parse).transpose()?;
    let ask = PageAsk { limit: q.limit, cursor: q.cursor };
    Ok(Json(ops::list(&app, &caller, owner.as_ref(), &ask)?))
}

/// The delegate accesses shared with the caller, newest first (pending ones need an answer).
#[utoipa::path(get, path = "/api/v1/accesses/received", tag = "accesses",
    params(api::PageQuery),
    responses((status = 200, description = "Accesses shared with you", body = api::Page<api::Access>)))]
pub async fn received_accesses(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Access>>> {
    Ok(Json(ops::received(&app, &caller, &q.into())?))
}

/// One access: for its owner, its recipients and the admin area's readers.
#[utoipa::path(get, path = "/api/v1/accesses/{id}", tag = "accesses",
    params(("id" = String, Path, description = "Access id")),
    responses(
        (status = 200, description = "The access", body = api::Access),
        (status = 404, description = "Not found or not yours", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_access(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Access>> {
    Ok(Json(ops::get(&app, &caller, access_id(&id)?)?))
}

/// Revokes an access at once: its token stops working, its recipients stop acting as you.
#[utoipa::path(delete, path = "/api/v1/accesses/{id}", tag = "accesses",
    params(("id" = String, Path, description = "Access id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "Not found or not yours", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already revoked", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_access(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    Ok(written_empty(ops::revoke(&app, &caller, access_id(&id)?).await?.seq))
}

/// Shares a delegate access with one more address; the answer holds their acceptance code.
#[utoipa::path(post, path = "/api/v1/accesses/{id}/recipients", tag = "accesses",
    params(("id" = String, Path, description = "Access id")),
    request_body = api::AddRecipient,
    responses(
        (status = 201, description = "Shared; pass the code on", body = api::RecipientCode),
        (status = 404, description = "Not found or not yours", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already shared with that address, or not live", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_recipient(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<api::AddRecipient>,
) -> ApiResult {
    let id = access_id(&id)?;
    let done = ops::add_recipient(&app, &caller, id, Email::parse(&body.email)?).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// Removes a recipient; a delegate acting through this access is refused from the next call.
#[utoipa::path(delete, path = "/api/v1/accesses/{id}/recipients/{email}", tag = "accesses",
    params(("id" = String, Path, description = "Access id"), ("email" = String, Path, description = "Recipient")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such access of yours or recipient", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_recipient(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((id, email)): Path<(String, String)>,
) -> ApiResult {
    let id = access_id(&id)?;
    Ok(written_empty(ops::remove_recipient(&app, &caller, id, &Email::parse(&email)?).await?.seq))
}

/// Accepts a delegate access shared with you, with the code its owner passed on. From then on
/// `X-Breakglass-Act-As: <owner>` acts as them.
#[utoipa::path(post, path = "/api/v1/accesses/{id}/accept", tag = "accesses",
    params(("id" = String, Path, description = "Access id")),
    request_body = api::AcceptAccess,
    responses(
        (status = 200, description = "Accepted", body = api::Access),
        (status = 403, description = "Wrong code, or through a delegation", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not shared with you", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, revoked or expired", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn accept_access(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<api::AcceptAccess>,
) -> ApiResult {
    let done = ops::accept(&app, &caller, access_id(&id)?, &body.code).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

/// Declines a delegate access shared with you (or gives up one you accepted).
#[utoipa::path(post, path = "/api/v1/accesses/{id}/decline", tag = "accesses",
    params(("id" = String, Path, description = "Access id")),
    responses(
        (status = 200, description = "Declined", body = api::Access),
        (status = 404, description = "Not shared with you", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already declined", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn decline_access(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let done = ops::decline(&app, &caller, access_id(&id)?).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}
