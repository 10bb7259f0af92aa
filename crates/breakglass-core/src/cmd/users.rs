//! Creating users and the first admin.

use serde_json::json;

use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::event;
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{Email, Name, UserId};
use crate::model::{PasswordHash, SecretHash, Token, TokenKind, User, UserStatus};
use crate::role::AdminRole;
use crate::state::State;

/// Input for a new user.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Unique e-mail.
    pub email: Email,
    /// Display name.
    pub name: Name,
    /// Admin-area role.
    pub admin_role: AdminRole,
    /// Argon2 hash of the initial password, if they sign in with one.
    pub password_hash: Option<PasswordHash>,
}

/// Refuses an address that already has an account, or that looks like one that has (see
/// [`State::lookalike_of`]): a spoofed twin would be a second person to every reader.
pub(crate) fn require_new_email(state: &State, email: &Email) -> Result<(), DomainError> {
    if state.user_by_email(email).is_some() {
        return Err(DomainError::conflict(
            "user.exists",
            format!("a user with e-mail '{email}' already exists"),
        ));
    }
    require_not_lookalike(state, email)
}

/// Refuses an address that looks like another user's without being it (invitations and shared
/// accesses address people who may sign up later: refuse the twin before it gets that far).
pub(crate) fn require_not_lookalike(state: &State, email: &Email) -> Result<(), DomainError> {
    if state.lookalike_of(email).is_some() {
        return Err(DomainError::conflict(
            "user.email_confusable",
            format!(
                "'{email}' looks like the address of an existing user but is a different one (it uses \
                 characters that imitate others); use the address exactly as that user has it, or a \
                 clearly different one"
            ),
        ));
    }
    Ok(())
}

/// Creates a user. Only admins (and the system) may.
pub fn create_user(state: &State, ctx: &Ctx, new: NewUser) -> Result<(Changes, UserId), DomainError> {
    if authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(DomainError::forbidden("only admins may create users"));
    }
    require_new_email(state, &new.email)?;
    let user = User {
        id: UserId(ctx.next_id()),
        email: new.email,
        name: new.name,
        admin_role: new.admin_role,
        status: UserStatus::Active,
        created_at: ctx.now,
    };
    let id = user.id;
    let ev = event(
        state,
        ctx,
        EventType::UserCreated,
        None,
        Some(user.email.to_string()),
        json!({
            "user_id": id.to_string(),
            "name": user.name.as_str(),
            "admin_role": user.admin_role.as_str(),
            "password_set": new.password_hash.is_some(),
        }),
    );
    Ok((
        Changes {
            changes: vec![Change::CreateUser { user, password_hash: new.password_hash }],
            events: vec![ev],
        },
        id,
    ))
}

/// Creates the first admin with `email` when no admin exists yet, with an API token whose
/// secret hashes to `token` when one is given. Returns nothing to do when an admin exists.
pub fn bootstrap_admin(
    state: &State,
    ctx: &Ctx,
    email: Email,
    token: Option<SecretHash>,
) -> Result<Changes, DomainError> {
    if state.users().iter().any(|u| u.admin_role == AdminRole::Admin) {
        return Ok(Changes::default());
    }
    let (mut changes, id) = create_user(
        state,
        ctx,
        NewUser {
            email: email.clone(),
            name: Name::parse("Administrator")?,
            admin_role: AdminRole::Admin,
            password_hash: None,
        },
    )?;
    if let Some(secret_hash) = token {
        let t = Token {
            id: crate::ident::TokenId(ctx.next_id()),
            user: id,
            kind: TokenKind::Api,
            name: Name::parse("bootstrap")?,
            secret_hash,
            created_at: ctx.now,
            expires_at: None,
            scope: None,
            read_only: false,
            access: None,
        };
        changes.events.push(event(
            state,
            ctx,
            EventType::TokenCreated,
            None,
            Some(email.to_string()),
            json!({"token_id": t.id.to_string(), "name": "bootstrap", "expires_at": null}),
        ));
        changes.changes.push(Change::CreateToken(t));
    }
    Ok(changes)
}
