//! User accounts and the caller's API tokens.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::cmd::{tokens, users};
use breakglass_core::ident::{Email, Name, Slug, TokenId};
use breakglass_core::model::Token;
use breakglass_core::role::AdminRole;
use breakglass_core::{authz, DomainError};

use super::{expiry, paginate, written, written_empty, ApiJson, ApiQuery, ApiResult};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::views;

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
    let new = users::NewUser {
        email: Email::parse(&body.email)?,
        name: Name::parse(&body.name)?,
        admin_role: AdminRole::parse(body.admin_role.as_deref().unwrap_or("none"))?,
        password_hash: None,
    };
    // Refuse before the slow hash, so that a forbidden caller cannot make the server hash.
    {
        let state = app.state();
        let ctx = caller.ctx(app.now());
        users::create_user(&state, &ctx, new.clone())?;
    }
    let password_hash = match body.password {
        Some(p) => {
            auth::validate_password(&p)?;
            Some(auth::hash_password(p).await?)
        }
        None => None,
    };
    let new = users::NewUser { password_hash, ..new };
    let done = app.execute(caller.actor(), |state, ctx| users::create_user(state, ctx, new.clone())).await?;
    let state = app.state();
    let user = state.user(done.value).ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::CREATED, done.seq, &views::user(user)))
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
    let state = app.state();
    if !breakglass_core::authz::can_list_users(&state, &caller.ctx(app.now())) {
        return Err(DomainError::forbidden("only the admin area may list users").into());
    }
    let items = state.users().into_iter().map(views::user).collect();
    Ok(Json(paginate(items, |u: &api::User| u.email.clone(), &q)?))
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
    let name = Name::parse(&body.name)?;
    let expires_at = expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), app.now())?;
    let scope = body.scope.as_deref().map(Slug::parse).transpose()?;
    let secret = auth::new_secret(auth::API_TOKEN_PREFIX);
    let new = tokens::NewToken {
        scope,
        read_only: body.read_only.unwrap_or(false),
        ..tokens::NewToken::new(name, auth::secret_hash(&secret), expires_at)
    };
    let done =
        app.execute(caller.actor(), |state, ctx| tokens::create_token(state, ctx, new.clone())).await?;
    let created = api::CreatedToken { token: views::token(&done.value, None), secret };
    Ok(written(StatusCode::CREATED, done.seq, &created))
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
    let now = app.now();
    authz::refuse_delegate(&caller.ctx(now))?;
    // Copied out: the model's lock is not held across the store query for last uses.
    let tokens: Vec<Token> =
        app.state().tokens_of(caller.user).into_iter().filter(|t| t.is_valid(now)).cloned().collect();
    let ids: Vec<TokenId> = tokens.iter().map(|t| t.id).collect();
    let used = app.token_last_used(&ids).await?;
    let mut items: Vec<api::Token> =
        tokens.iter().map(|t| views::token(t, used.get(&t.id).copied())).collect();
    items.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(paginate(items, |t: &api::Token| t.id.clone(), &q)?))
}

/// Revokes one of the caller's tokens (admins may revoke anyone's).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "users",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such token of yours", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_token(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    let id = TokenId::parse(&id).map_err(|_| {
        ApiError::from(DomainError::not_found("token.not_found", format!("token {id} not found")))
    })?;
    let done =
        app.execute(caller.actor(), |state, ctx| Ok((tokens::revoke_token(state, ctx, id)?, ()))).await?;
    Ok(written_empty(done.seq))
}
