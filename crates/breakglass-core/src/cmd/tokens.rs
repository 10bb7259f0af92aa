//! Sessions and API tokens. The core sees only digests of secrets, never the secrets.

use serde_json::json;

use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::{event, require_future, time_json};
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{Name, TokenId};
use crate::model::{SecretHash, Token, TokenKind};
use crate::role::AdminRole;
use crate::state::State;
use crate::time::Timestamp;

/// Most live API tokens one user may hold.
pub const MAX_API_TOKENS: usize = 100;
/// Most live sessions one user may hold.
pub const MAX_SESSIONS: usize = 50;

/// Opens a session for the acting user, who has just proven their password.
pub fn sign_in(
    state: &State,
    ctx: &Ctx,
    secret_hash: SecretHash,
    expires_at: Timestamp,
) -> Result<(Changes, Token), DomainError> {
    issue(state, ctx, TokenKind::Session, Name::parse("session")?, secret_hash, Some(expires_at))
}

/// Creates an API token for the acting user.
pub fn create_token(
    state: &State,
    ctx: &Ctx,
    name: Name,
    secret_hash: SecretHash,
    expires_at: Option<Timestamp>,
) -> Result<(Changes, Token), DomainError> {
    issue(state, ctx, TokenKind::Api, name, secret_hash, expires_at)
}

fn issue(
    state: &State,
    ctx: &Ctx,
    kind: TokenKind,
    name: Name,
    secret_hash: SecretHash,
    expires_at: Option<Timestamp>,
) -> Result<(Changes, Token), DomainError> {
    let user = authz::acting_user(state, ctx)?;
    require_future(expires_at, ctx.now)?;
    // Every live token costs memory in every process and an audited commit; a user needs few.
    let live = state.tokens_of(user.id).into_iter().filter(|t| t.kind == kind && t.is_valid(ctx.now)).count();
    let limit = match kind {
        TokenKind::Api => MAX_API_TOKENS,
        TokenKind::Session => MAX_SESSIONS,
    };
    if live >= limit {
        return Err(DomainError::rule(
            "token.limit_reached",
            format!(
                "at most {limit} live {} per user; revoke one first",
                if kind == TokenKind::Api { "API tokens" } else { "sessions" }
            ),
        ));
    }
    let token = Token {
        id: TokenId(ctx.next_id()),
        user: user.id,
        kind,
        name,
        secret_hash,
        created_at: ctx.now,
        expires_at,
    };
    let (ty, details) = match kind {
        TokenKind::Session => (
            EventType::UserSignedIn,
            json!({"session_id": token.id.to_string(), "expires_at": time_json(expires_at)}),
        ),
        TokenKind::Api => (
            EventType::TokenCreated,
            json!({
                "token_id": token.id.to_string(),
                "name": token.name.as_str(),
                "expires_at": time_json(expires_at),
            }),
        ),
    };
    let ev = event(state, ctx, ty, None, Some(user.email.to_string()), details);
    Ok((Changes { changes: vec![Change::CreateToken(token.clone())], events: vec![ev] }, token))
}

/// Revokes a token. Its owner may; so may an admin (to cut off a compromised account).
/// Anyone else gets the same 404 as for a token that does not exist.
pub fn revoke_token(state: &State, ctx: &Ctx, id: TokenId) -> Result<Changes, DomainError> {
    let actor = authz::acting_user(state, ctx)?;
    let not_found = || DomainError::not_found("token.not_found", format!("token {id} not found"));
    let token = state.token(id).ok_or_else(not_found)?;
    if token.user != actor.id && actor.admin_role != AdminRole::Admin {
        return Err(not_found());
    }
    let owner = state.user(token.user).map(|u| u.email.to_string());
    let (ty, details) = match token.kind {
        TokenKind::Session => (EventType::UserSignedOut, json!({"session_id": id.to_string()})),
        TokenKind::Api => {
            (EventType::TokenRevoked, json!({"token_id": id.to_string(), "name": token.name.as_str()}))
        }
    };
    Ok(Changes {
        changes: vec![Change::RevokeToken { id, at: ctx.now }],
        events: vec![event(state, ctx, ty, None, owner, details)],
    })
}
