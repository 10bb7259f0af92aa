//! User accounts and the caller's API tokens.

use breakglass_api as api;
use breakglass_core::cmd::{tokens, users};
use breakglass_core::ident::{Email, Name, Slug, TokenId};
use breakglass_core::model::Token;
use breakglass_core::role::AdminRole;
use breakglass_core::time::Timestamp;
use breakglass_core::{authz, DomainError};

use super::{page, OpResult, PageAsk, Written};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::views;

/// A new user, parsed at the edge (the password not yet checked or hashed).
#[derive(Clone, Debug)]
pub struct CreateUser {
    /// Their address.
    pub email: Email,
    /// Display name.
    pub name: Name,
    /// Admin-area role.
    pub admin_role: AdminRole,
    /// Initial password; without one they cannot sign in with a password.
    pub password: Option<String>,
}

/// A new API token of the caller's, parsed at the edge.
#[derive(Clone, Debug)]
pub struct CreateToken {
    /// Its label.
    pub name: Name,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
    /// The one workspace it is confined to.
    pub scope: Option<Slug>,
    /// It may only read.
    pub read_only: bool,
}

/// Parses a token id from a path; a malformed one is as unknown as a missing one.
pub fn token_id(id: &str) -> Result<TokenId, ApiError> {
    TokenId::parse(id)
        .map_err(|_| DomainError::not_found("token.not_found", format!("token {id} not found")).into())
}

/// Creates a user (admins only).
pub async fn create_user(app: &App, caller: &Caller, new: CreateUser) -> OpResult<Written<api::User>> {
    let user =
        users::NewUser { email: new.email, name: new.name, admin_role: new.admin_role, password_hash: None };
    // Refuse before the slow hash, so that a forbidden caller cannot make the server hash.
    {
        let state = app.state();
        let ctx = caller.ctx(app.now());
        users::create_user(&state, &ctx, user.clone())?;
    }
    let password_hash = match new.password {
        Some(p) => {
            auth::validate_password(&p)?;
            Some(auth::hash_password(p).await?)
        }
        None => None,
    };
    let user = users::NewUser { password_hash, ..user };
    let done = app.execute(caller.actor(), |state, ctx| users::create_user(state, ctx, user.clone())).await?;
    let state = app.state();
    let created = state.user(done.value).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: views::user(created) })
}

/// Every user, by address (the admin area only).
pub fn list_users(app: &App, caller: &Caller, ask: &PageAsk) -> OpResult<api::Page<api::User>> {
    let state = app.state();
    if !authz::can_list_users(&state, &caller.ctx(app.now())) {
        return Err(DomainError::forbidden("only the admin area may list users").into());
    }
    Ok(page(state.users(), |u| u.email.to_string(), ask, views::user)?)
}

/// Creates an API token for the caller; its secret is in the answer and nowhere else.
pub async fn create_token(
    app: &App,
    caller: &Caller,
    new: CreateToken,
) -> OpResult<Written<api::CreatedToken>> {
    let secret = auth::new_secret(auth::API_TOKEN_PREFIX);
    let token = tokens::NewToken {
        scope: new.scope,
        read_only: new.read_only,
        ..tokens::NewToken::new(new.name, auth::secret_hash(&secret), new.expires_at)
    };
    let done =
        app.execute(caller.actor(), |state, ctx| tokens::create_token(state, ctx, token.clone())).await?;
    Ok(Written { seq: done.seq, value: api::CreatedToken { token: views::token(&done.value, None), secret } })
}

/// The caller's live API tokens and sessions by id (never their secrets), with when each was
/// last used.
pub async fn list_tokens(app: &App, caller: &Caller, ask: &PageAsk) -> OpResult<api::Page<api::Token>> {
    let now = app.now();
    authz::refuse_delegate(&caller.ctx(now))?;
    // Copied out: the model's lock is not held across the store query for last uses.
    let shown = {
        let state = app.state();
        let mut live: Vec<&Token> =
            state.tokens_of(caller.user).into_iter().filter(|t| t.is_valid(now)).collect();
        live.sort_by_key(|t| t.id.to_string());
        page(live, |t| t.id.to_string(), ask, Token::clone)?
    };
    let ids: Vec<TokenId> = shown.items.iter().map(|t| t.id).collect();
    let used = app.token_last_used(&ids).await?;
    Ok(api::Page {
        items: shown.items.iter().map(|t| views::token(t, used.get(&t.id).copied())).collect(),
        next_cursor: shown.next_cursor,
    })
}

/// Revokes one of the caller's tokens (admins may revoke anyone's).
pub async fn revoke_token(app: &App, caller: &Caller, id: TokenId) -> OpResult<Written<()>> {
    let done =
        app.execute(caller.actor(), |state, ctx| Ok((tokens::revoke_token(state, ctx, id)?, ()))).await?;
    Ok(Written { seq: done.seq, value: () })
}
