//! User accounts and the caller's API tokens over HTTP: parse, call [`crate::ops::users`], answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::ident::{Email, Name, Slug};
use breakglass_core::role::AdminRole;

use super::{expiry, written, written_empty, ApiJson, ApiQuery, ApiResult};
use crate::app::App;
use crate::auth::Caller;
use crate::ops::users as ops;

/// Creates a user (admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    request_body = api::CreateUser,
    responses(
        (status = 201, description = "Created", body = api::User),
        (status = 403, description = "Not an admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail already used", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_user(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::CreateUser>,
) -> ApiResult {
    let new = ops::CreateUser {
        email: Email::parse(&body.email)?,
        name: Name::parse(&body.name)?,
        admin_role: AdminRole::parse(body.admin_role.as_deref().unwrap_or("none"))?,
        password: body.password,
    };
    let done = ops::create_user(&app, &caller, new).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// Lists all users (admin area only).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(api::PageQuery),
    responses(
        (status = 200, description = "Users by e-mail", body = api::Page<api::User>),
        (status = 403, description = "Not in the admin area", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_users(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::User>>> {
    Ok(Json(ops::list_users(&app, &caller, &q.into())?))
}

/// Creates an API token for the caller. The secret is in the answer and nowhere else.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "users",
    request_body = api::CreateToken,
    responses(
        (status = 201, description = "Created; store the secret now", body = api::CreatedToken),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_token(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::CreateToken>,
) -> ApiResult {
    let new = ops::CreateToken {
        name: Name::parse(&body.name)?,
        expires_at: expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), app.now())?,
        scope: body.scope.as_deref().map(Slug::parse).transpose()?,
        read_only: body.read_only.unwrap_or(false),
    };
    let done = ops::create_token(&app, &caller, new).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// Lists the caller's API tokens and sessions (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "users",
    params(api::PageQuery),
    responses((status = 200, description = "The caller's tokens", body = api::Page<api::Token>)))]
pub async fn list_tokens(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Token>>> {
    Ok(Json(ops::list_tokens(&app, &caller, &q.into()).await?))
}

/// Revokes one of the caller's tokens (admins may revoke anyone's).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "users",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such token of yours", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_token(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    Ok(written_empty(ops::revoke_token(&app, &caller, ops::token_id(&id)?).await?.seq))
}
