//! Sessions and API tokens. The core sees only digests of secrets, never the secrets.

use serde_json::json;

use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::{event, require_future, time_json};
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{Name, Slug, TokenId};
use crate::model::{SecretHash, Token, TokenKind};
use crate::role::AdminRole;
use crate::state::State;
use crate::time::Timestamp;

/// Opens a session for the acting user, who has just proven their password.
pub fn sign_in(
    state: &State,
    ctx: &Ctx,
    secret_hash: SecretHash,
    expires_at: Timestamp,
) -> Result<(Changes, Token), DomainError> {
    issue(state, ctx, TokenKind::Session, Name::parse("session")?, secret_hash, Some(expires_at))
}

/// What a new API token is to be.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// The owner's label.
    pub name: Name,
    /// Digest of the secret the server generated.
    pub secret_hash: SecretHash,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
    /// The one workspace it is confined to.
    pub scope: Option<Slug>,
    /// It may only read.
    pub read_only: bool,
}

impl NewToken {
    /// An unconfined, writable token.
    pub fn new(name: Name, secret_hash: SecretHash, expires_at: Option<Timestamp>) -> Self {
        Self { name, secret_hash, expires_at, scope: None, read_only: false }
    }
}

/// Creates an API token for the acting user. Only an unbounded credential may (a scoped or
/// delegated one could otherwise mint a broader token), and the scope must be a workspace the
/// owner can see.
pub fn create_token(state: &State, ctx: &Ctx, new: NewToken) -> Result<(Changes, Token), DomainError> {
    authz::require_unbounded(ctx)?;
    if let Some(ws) = &new.scope {
        authz::visible_workspace(state, ctx, ws)?;
    }
    let (changes, token) = issue(state, ctx, TokenKind::Api, new.name, new.secret_hash, new.expires_at)?;
    let token = Token { scope: new.scope, read_only: new.read_only, ..token };
    Ok((with_token(changes, &token), token))
}

/// Replaces the token a `Changes` from [`issue`] creates (and describes) with `token`.
pub(crate) fn with_token(mut changes: Changes, token: &Token) -> Changes {
    for c in &mut changes.changes {
        if let Change::CreateToken(t) = c {
            *t = token.clone();
        }
    }
    for e in &mut changes.events {
        if e.event_type == EventType::TokenCreated {
            e.details["scope"] = json!(token.scope.as_ref().map(Slug::as_str));
            e.details["read_only"] = json!(token.read_only);
            e.details["access_id"] = json!(token.access.map(|a| a.to_string()));
        }
    }
    changes
}

pub(crate) fn issue(
    state: &State,
    ctx: &Ctx,
    kind: TokenKind,
    name: Name,
    secret_hash: SecretHash,
    expires_at: Option<Timestamp>,
) -> Result<(Changes, Token), DomainError> {
    let user = authz::acting_user(state, ctx)?;
    require_future(state, expires_at, ctx.now)?;
    // Every live token costs memory in every process and an audited commit; a user needs few.
    let live = state.tokens_of(user.id).into_iter().filter(|t| t.kind == kind && t.is_valid(ctx.now)).count();
    let settings = state.settings();
    let (limit, code, what, way_out) = match kind {
        TokenKind::Api => (
            settings.max_api_tokens_per_user,
            "token.limit_reached",
            "API tokens",
            "revoke one first (breakglass token list)",
        ),
        TokenKind::Session => (
            settings.max_sessions_per_user,
            "session.limit_reached",
            "sessions",
            "sign out of one, or wait until one expires",
        ),
    };
    if live >= limit as usize {
        return Err(DomainError::rule(
            code,
            format!("you already hold {live} live {what}, the most this installation allows; {way_out}"),
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
        scope: None,
        read_only: false,
        access: None,
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
/// Anyone else gets the same 404 as for a token that does not exist. A token created as an
/// access revokes its access with it.
pub fn revoke_token(state: &State, ctx: &Ctx, id: TokenId) -> Result<Changes, DomainError> {
    authz::require_unbounded(ctx)?;
    let actor = authz::acting_user(state, ctx)?;
    let not_found = || DomainError::not_found("token.not_found", format!("token {id} not found"));
    let token = state.token(id).ok_or_else(not_found)?;
    if token.user != actor.id && authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(not_found());
    }
    if let Some(access) = token.access.and_then(|a| state.access(a)).filter(|a| a.revoked_at.is_none()) {
        return crate::cmd::accesses::revoke(state, ctx, access.id);
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

/// What a sign-in lock-out is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// An account, by the normalised address that was tried (it may belong to nobody).
    Account(crate::ident::Email),
    /// A client address (IPv6 by its /64 network).
    Address(String),
}

impl ThrottleKey {
    /// `account` or `address`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Account(_) => "account",
            Self::Address(_) => "address",
        }
    }

    /// The address or account it names.
    pub fn subject(&self) -> &str {
        match self {
            Self::Account(e) => e.as_str(),
            Self::Address(a) => a,
        }
    }
}

/// Records that a sign-in lock-out began (refusing sign-ins for `key` until `until`, after
/// `failures` failed attempts within the window `window` describes) or, with `until` `None`,
/// that it ended. Only the server's own throttle records these, as the system: one event per
/// lock-out, so that guessing cannot flood the log.
pub fn record_sign_in_throttle(
    state: &State,
    ctx: &Ctx,
    key: &ThrottleKey,
    until: Option<Timestamp>,
    window: &str,
) -> Result<Changes, DomainError> {
    if ctx.actor != crate::ctx::Actor::System {
        return Err(DomainError::forbidden("only the server records sign-in lock-outs"));
    }
    let (ty, details) = match until {
        Some(until) => (
            EventType::SignInThrottled,
            json!({"kind": key.kind(), "until": until.to_rfc3339(), "limit": window}),
        ),
        None => (EventType::SignInThrottleLifted, json!({"kind": key.kind()})),
    };
    let ev = event(state, ctx, ty, None, Some(key.subject().to_owned()), details);
    Ok(Changes { changes: Vec::new(), events: vec![ev] })
}
