//! Accesses: API tokens and delegate accesses shared by their owner, the recipients' side
//! (received, accept, decline), and the admin area's oversight of everyone's accesses.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::authz;
use breakglass_core::cmd::accesses::{self, NewAccess};
use breakglass_core::delegation::{Access, AccessKind};
use breakglass_core::ident::{AccessId, Email, Name, Slug};
use breakglass_core::DomainError;

use super::{expiry, paginate_keyed, written, written_empty, ApiJson, ApiQuery, ApiResult};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::views;

/// A cursor key that sorts newest first.
fn newest_first(a: &Access) -> String {
    format!("{:020}-{}", i64::MAX - a.created_at.as_micros(), a.id)
}

fn access_id(id: &str) -> Result<AccessId, ApiError> {
    AccessId::parse(id)
        .map_err(|_| DomainError::not_found("access.not_found", format!("access {id} not found")).into())
}

/// The access as `caller` may see it (full for its owner and the admin area's readers).
fn view(app: &App, caller: &Caller, id: AccessId) -> Result<api::Access, ApiError> {
    let now = app.now();
    let ctx = caller.ctx(now);
    let state = app.state();
    let a = accesses::visible(&state, &ctx, id)?;
    let me = authz::acting_user(&state, &ctx)?;
    let full = a.owner == me.id || authz::actor_admin_role(&state, &ctx)?.reads_everything();
    Ok(views::access(&state, a, now, full, &me.email))
}

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
    let name = Name::parse(&body.name)?;
    let kind = AccessKind::parse(&body.kind)?;
    let scope = body.scope.as_deref().map(Slug::parse).transpose()?;
    let expires_at = expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), app.now())?;
    let mut codes = Vec::new();
    let mut recipients = Vec::new();
    for e in &body.recipients {
        let email = Email::parse(e)?;
        let code = auth::new_secret(auth::ACCESS_CODE_PREFIX);
        recipients.push((email.clone(), auth::secret_hash(&code)));
        codes.push(api::RecipientCode { email: email.to_string(), code });
    }
    let secret = (kind == AccessKind::ApiToken).then(|| auth::new_secret(auth::API_TOKEN_PREFIX));
    let new = NewAccess {
        name,
        kind,
        scope,
        expires_at,
        read_only: body.read_only.unwrap_or(false),
        recipients,
        token_hash: secret.as_deref().map(auth::secret_hash),
    };
    let done = app
        .execute(caller.actor(), |state, ctx| {
            accesses::create(state, ctx, new.clone()).map(|(c, a, _)| (c, a.id))
        })
        .await?;
    let access = view(&app, &caller, done.value)?;
    Ok(written(StatusCode::CREATED, done.seq, &api::CreatedAccess { access, secret, codes }))
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
    authz::refuse_delegate(&caller.ctx(app.now()))?;
    let now = app.now();
    let ctx = caller.ctx(now);
    let state = app.state();
    let me = authz::acting_user(&state, &ctx)?;
    let owner = match q.owner.as_deref().map(Email::parse).transpose()? {
        Some(email) if email != me.email => {
            if !authz::actor_admin_role(&state, &ctx)?.reads_everything() {
                return Err(DomainError::forbidden("only the admin area lists other users' accesses").into());
            }
            state.user_by_email(&email).ok_or_else(|| {
                DomainError::not_found("user.not_found", format!("no user with e-mail '{email}'"))
            })?
        }
        _ => me,
    };
    let items = state
        .accesses_of(owner.id)
        .into_iter()
        .map(|a| (newest_first(a), views::access(&state, a, now, true, &me.email)))
        .collect();
    Ok(Json(paginate_keyed(items, q.limit, q.cursor.clone())?))
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
    authz::refuse_delegate(&caller.ctx(app.now()))?;
    let now = app.now();
    let state = app.state();
    let me = state.user(caller.holder).ok_or_else(ApiError::internal)?;
    let items = state
        .accesses_shared_with(&me.email)
        .into_iter()
        .map(|a| (newest_first(a), views::access(&state, a, now, false, &me.email)))
        .collect();
    Ok(Json(paginate_keyed(items, q.limit, q.cursor.clone())?))
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
    authz::refuse_delegate(&caller.ctx(app.now()))?;
    Ok(Json(view(&app, &caller, access_id(&id)?)?))
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
    let id = access_id(&id)?;
    let done = app.execute(caller.actor(), |s, c| Ok((accesses::revoke(s, c, id)?, ()))).await?;
    Ok(written_empty(done.seq))
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
    let email = Email::parse(&body.email)?;
    let code = auth::new_secret(auth::ACCESS_CODE_PREFIX);
    let hash = auth::secret_hash(&code);
    let done = app
        .execute(caller.actor(), |s, c| Ok((accesses::add_recipient(s, c, id, email.clone(), hash)?, ())))
        .await?;
    Ok(written(StatusCode::CREATED, done.seq, &api::RecipientCode { email: email.to_string(), code }))
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
    let email = Email::parse(&email)?;
    let done =
        app.execute(caller.actor(), |s, c| Ok((accesses::remove_recipient(s, c, id, &email)?, ()))).await?;
    Ok(written_empty(done.seq))
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
    let id = access_id(&id)?;
    let code = auth::secret_hash(body.code.trim());
    let done = app.execute(caller.actor(), |s, c| Ok((accesses::accept(s, c, id, code)?, ()))).await?;
    Ok(written(StatusCode::OK, done.seq, &view(&app, &caller, id)?))
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
    let id = access_id(&id)?;
    let done = app.execute(caller.actor(), |s, c| Ok((accesses::decline(s, c, id)?, ()))).await?;
    Ok(written(StatusCode::OK, done.seq, &view(&app, &caller, id)?))
}
