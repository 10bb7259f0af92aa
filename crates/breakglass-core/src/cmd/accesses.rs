//! Accesses: create, share, accept, decline, remove recipients, revoke. Only the owner's own
//! unbounded credential manages an access; a delegate never does.

use serde_json::json;

use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::tokens::{issue, with_token};
use crate::cmd::{event, require_future, time_json};
use crate::ctx::Ctx;
use crate::delegation::{Access, AccessKind, Recipient, RecipientStatus};
use crate::error::DomainError;
use crate::ident::{AccessId, Email, Name, Slug};
use crate::model::{SecretHash, Token, TokenKind, User};
use crate::role::AdminRole;
use crate::state::State;
use crate::time::Timestamp;

/// Most accesses (live or not) one user may hold; each costs memory in every process.
pub const MAX_ACCESSES: usize = 200;
/// Most recipients of one delegate access.
pub const MAX_RECIPIENTS: usize = 50;

/// What a new access is to be.
#[derive(Clone, Debug)]
pub struct NewAccess {
    /// The owner's private label.
    pub name: Name,
    /// Token or delegation.
    pub kind: AccessKind,
    /// The one workspace it is confined to; `None`: global.
    pub scope: Option<Slug>,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
    /// For an API token: it may only read.
    pub read_only: bool,
    /// For a delegation: each recipient's address and the digest of their acceptance code.
    pub recipients: Vec<(Email, SecretHash)>,
    /// For an API token: the digest of its secret.
    pub token_hash: Option<SecretHash>,
}

/// Creates an access for the acting user. Returns it and, for an API token, the token.
pub fn create(
    state: &State,
    ctx: &Ctx,
    new: NewAccess,
) -> Result<(Changes, Access, Option<Token>), DomainError> {
    authz::require_unbounded(ctx)?;
    let me = authz::acting_user(state, ctx)?;
    require_future(state, new.expires_at, ctx.now)?;
    if let Some(ws) = &new.scope {
        authz::visible_workspace(state, ctx, ws)?;
    }
    if state.accesses_of(me.id).len() >= MAX_ACCESSES {
        return Err(DomainError::rule(
            "access.limit_reached",
            format!("at most {MAX_ACCESSES} accesses per user; revoke unused ones"),
        ));
    }
    let mut access = Access {
        id: AccessId(ctx.next_id()),
        owner: me.id,
        name: new.name,
        kind: new.kind,
        scope: new.scope,
        created_at: ctx.now,
        expires_at: new.expires_at,
        revoked_at: None,
        revoked_by: None,
        recipients: Vec::new(),
        token: None,
        read_only: new.read_only,
    };
    let mut out = Changes::default();
    let mut token = None;
    match new.kind {
        AccessKind::Delegate => {
            if new.token_hash.is_some() || new.read_only {
                return Err(DomainError::invalid(
                    "access.invalid_field",
                    "read_only applies to API tokens; a delegate access carries the owner's rights in its scope",
                ));
            }
            if new.recipients.is_empty() {
                return Err(DomainError::invalid(
                    "access.recipients_required",
                    "a delegate access names at least one recipient",
                ));
            }
            for (email, code) in new.recipients {
                add(state, &mut access, me, email, code, ctx.now)?;
            }
        }
        AccessKind::ApiToken => {
            if !new.recipients.is_empty() {
                return Err(DomainError::invalid(
                    "access.invalid_field",
                    "an API token access has no recipients; share a delegate access instead",
                ));
            }
            let hash = new.token_hash.ok_or_else(|| {
                DomainError::invalid("access.invalid_field", "an API token access needs a token secret")
            })?;
            let (changes, t) =
                issue(state, ctx, TokenKind::Api, access.name.clone(), hash, access.expires_at)?;
            let t =
                Token { scope: access.scope.clone(), read_only: new.read_only, access: Some(access.id), ..t };
            access.token = Some(t.id);
            out.extend(with_token(changes, &t));
            token = Some(t);
        }
    }
    let ev = event(
        state,
        ctx,
        EventType::AccessCreated,
        None,
        Some(me.email.to_string()),
        json!({
            "access_id": access.id.to_string(),
            "kind": access.kind.as_str(),
            "name": access.name.as_str(),
            "scope": access.scope.as_ref().map(Slug::as_str),
            "expires_at": time_json(access.expires_at),
            "read_only": new.read_only,
            "recipients": access.recipients.iter().map(|r| r.email.as_str()).collect::<Vec<_>>(),
        }),
    );
    out.changes.insert(0, Change::PutAccess(access.clone()));
    out.events.insert(0, ev);
    Ok((out, access, token))
}

fn add(
    state: &State,
    access: &mut Access,
    owner: &User,
    email: Email,
    code: SecretHash,
    now: Timestamp,
) -> Result<(), DomainError> {
    if email == owner.email {
        return Err(DomainError::invalid("access.self", "nobody shares access with themselves"));
    }
    crate::cmd::users::require_not_lookalike(state, &email)?;
    if let Some(existing) = access.recipients.iter().position(|r| r.email == email) {
        if access.recipients[existing].status != RecipientStatus::Declined {
            return Err(DomainError::conflict(
                "access.recipient_exists",
                format!("the access is already shared with '{email}'"),
            ));
        }
        // Sharing again after a decline starts over with a new code.
        access.recipients.remove(existing);
    }
    if access.recipients.len() >= MAX_RECIPIENTS {
        return Err(DomainError::rule(
            "access.limit_reached",
            format!("a delegate access has at most {MAX_RECIPIENTS} recipients"),
        ));
    }
    access.recipients.push(Recipient {
        email,
        status: RecipientStatus::Pending,
        code_hash: code,
        added_at: now,
        decided_at: None,
    });
    Ok(())
}

/// The access if the actor may see it: its owner, its recipients (any status) and the admin
/// area's readers. Anyone else gets the same 404 as for one that does not exist.
pub fn visible<'a>(state: &'a State, ctx: &Ctx, id: AccessId) -> Result<&'a Access, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let not_found = || DomainError::not_found("access.not_found", format!("access {id} not found"));
    let a = state.access(id).ok_or_else(not_found)?;
    let reader = authz::actor_admin_role(state, ctx)?.reads_everything();
    if a.owner == me.id || a.recipient(&me.email).is_some() || reader {
        Ok(a)
    } else {
        Err(not_found())
    }
}

/// The live delegate accesses shared with `email` that it has not answered yet, newest first:
/// what the dashboard asks it to accept or decline, and what `/me` counts.
pub fn awaiting_answer<'s>(state: &'s State, email: &Email, now: Timestamp) -> Vec<&'s Access> {
    let mut found = state.accesses_shared_with(email);
    found.retain(|a| {
        a.is_live(now) && a.recipient(email).is_some_and(|r| r.status == RecipientStatus::Pending)
    });
    found
}

/// Whether the actor sees `a` in full (its name and every recipient): its owner and the admin
/// area's readers. A recipient sees only their own entry.
pub fn seen_in_full(state: &State, ctx: &Ctx, a: &Access) -> Result<bool, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    Ok(a.owner == me.id || authz::actor_admin_role(state, ctx)?.reads_everything())
}

/// Whose accesses the actor lists when asking for `owner`'s (their own when `None` or their own
/// address): another user's only for the admin area's readers, never through a delegation.
pub fn listed_owner<'a>(state: &'a State, ctx: &Ctx, owner: Option<&Email>) -> Result<&'a User, DomainError> {
    authz::refuse_delegate(ctx)?;
    let me = authz::acting_user(state, ctx)?;
    match owner {
        Some(email) if *email != me.email => {
            if !authz::actor_admin_role(state, ctx)?.reads_everything() {
                return Err(DomainError::forbidden("only the admin area lists other users' accesses"));
            }
            state.user_by_email(email).ok_or_else(|| {
                DomainError::not_found("user.not_found", format!("no user with e-mail '{email}'"))
            })
        }
        _ => Ok(me),
    }
}

/// The owner's access, for a change: only the owner's own unbounded credential.
fn owned<'a>(state: &'a State, ctx: &Ctx, id: AccessId) -> Result<(&'a Access, &'a User), DomainError> {
    authz::require_unbounded(ctx)?;
    let me = authz::acting_user(state, ctx)?;
    // Those who may see it (its recipients, the admin area) hear that it is not theirs; to
    // everyone else it does not exist.
    let a = visible(state, ctx, id)?;
    if a.owner != me.id {
        return Err(not_owner(id));
    }
    Ok((a, me))
}

fn not_owner(id: AccessId) -> DomainError {
    DomainError::Forbidden {
        code: "access.not_owner",
        message: format!("access {id} is not yours: only its owner changes it (and an admin may revoke it)"),
    }
}

fn require_live(a: &Access, now: Timestamp) -> Result<(), DomainError> {
    if a.is_live(now) {
        Ok(())
    } else {
        Err(DomainError::conflict("access.not_live", format!("access {} is {}", a.id, a.status(now))))
    }
}

/// Shares a live delegate access with one more address. Returns nothing but the changes: the
/// caller generated the code and shows it once.
pub fn add_recipient(
    state: &State,
    ctx: &Ctx,
    id: AccessId,
    email: Email,
    code: SecretHash,
) -> Result<Changes, DomainError> {
    let (a, me) = owned(state, ctx, id)?;
    require_live(a, ctx.now)?;
    if a.kind != AccessKind::Delegate {
        return Err(DomainError::invalid("access.not_delegate", "only a delegate access has recipients"));
    }
    let mut a = a.clone();
    add(state, &mut a, me, email.clone(), code, ctx.now)?;
    let ev = event(
        state,
        ctx,
        EventType::AccessRecipientAdded,
        None,
        Some(email.to_string()),
        json!({"access_id": id.to_string(), "owner": me.email.as_str()}),
    );
    Ok(Changes { changes: vec![Change::PutAccess(a)], events: vec![ev] })
}

/// Removes a recipient; if they were acting as the owner, their next call is refused.
pub fn remove_recipient(
    state: &State,
    ctx: &Ctx,
    id: AccessId,
    email: &Email,
) -> Result<Changes, DomainError> {
    let (a, me) = owned(state, ctx, id)?;
    let Some(r) = a.recipient(email) else {
        return Err(DomainError::not_found(
            "access.recipient_not_found",
            format!("access {id} is not shared with '{email}'"),
        ));
    };
    let status = r.status;
    let mut a = a.clone();
    a.recipients.retain(|r| &r.email != email);
    let ev = event(
        state,
        ctx,
        EventType::AccessRecipientRemoved,
        None,
        Some(email.to_string()),
        json!({"access_id": id.to_string(), "owner": me.email.as_str(), "status": status.as_str()}),
    );
    Ok(Changes { changes: vec![Change::PutAccess(a)], events: vec![ev] })
}

/// Revokes an access, effective at once: its token stops authenticating and its recipients stop
/// acting as the owner. The owner may, and so may an admin (to cut off a compromised account).
pub fn revoke(state: &State, ctx: &Ctx, id: AccessId) -> Result<Changes, DomainError> {
    authz::require_unbounded(ctx)?;
    let me = authz::acting_user(state, ctx)?;
    let a = visible(state, ctx, id)?;
    if a.owner != me.id && authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(not_owner(id));
    }
    if a.revoked_at.is_some() {
        return Err(DomainError::conflict("access.not_live", format!("access {id} is already revoked")));
    }
    let mut revoked = a.clone();
    revoked.revoked_at = Some(ctx.now);
    revoked.revoked_by = Some(me.id);
    let owner = state.user(a.owner).map(|u| u.email.to_string());
    let mut changes = vec![Change::PutAccess(revoked)];
    if let Some(t) = a.token.filter(|t| state.token(*t).is_some()) {
        changes.push(Change::RevokeToken { id: t, at: ctx.now });
    }
    let ev = event(
        state,
        ctx,
        EventType::AccessRevoked,
        None,
        owner,
        json!({
            "access_id": id.to_string(),
            "kind": a.kind.as_str(),
            "name": a.name.as_str(),
            "token_id": a.token.map(|t| t.to_string()),
            "recipients": a.recipients.iter().map(|r| r.email.as_str()).collect::<Vec<_>>(),
        }),
    );
    Ok(Changes { changes, events: vec![ev] })
}

/// The acting user's entry in a delegate access shared with them.
fn received<'a>(state: &'a State, ctx: &Ctx, id: AccessId) -> Result<(&'a Access, &'a User), DomainError> {
    // Accepting or declining for someone else would change what they may do: never by delegation.
    authz::require_unbounded(ctx)?;
    let me = authz::acting_user(state, ctx)?;
    let a = state
        .access(id)
        .filter(|a| a.kind == AccessKind::Delegate && a.recipient(&me.email).is_some())
        .ok_or_else(|| DomainError::not_found("access.not_found", format!("access {id} not found")))?;
    Ok((a, me))
}

/// Accepts a delegate access shared with the acting user's address; needs the code the owner
/// passed on.
pub fn accept(state: &State, ctx: &Ctx, id: AccessId, code: SecretHash) -> Result<Changes, DomainError> {
    let (a, me) = received(state, ctx, id)?;
    require_live(a, ctx.now)?;
    let r = a.recipient(&me.email).ok_or_else(|| DomainError::not_found("access.not_found", "gone"))?;
    if r.status != RecipientStatus::Pending {
        return Err(DomainError::conflict(
            "access.already_decided",
            format!("you have already {} this access", r.status.as_str()),
        ));
    }
    if r.code_hash != code {
        return Err(DomainError::Forbidden {
            code: "access.invalid_code",
            message: "the acceptance code does not match; ask the owner for it".into(),
        });
    }
    decide(state, ctx, a, me, RecipientStatus::Accepted, EventType::AccessAccepted)
}

/// Declines a delegate access shared with the acting user (or gives up an accepted one).
pub fn decline(state: &State, ctx: &Ctx, id: AccessId) -> Result<Changes, DomainError> {
    let (a, me) = received(state, ctx, id)?;
    if a.recipient(&me.email).is_some_and(|r| r.status == RecipientStatus::Declined) {
        return Err(DomainError::conflict("access.already_decided", "you have already declined this access"));
    }
    decide(state, ctx, a, me, RecipientStatus::Declined, EventType::AccessDeclined)
}

fn decide(
    state: &State,
    ctx: &Ctx,
    a: &Access,
    me: &User,
    status: RecipientStatus,
    ty: EventType,
) -> Result<Changes, DomainError> {
    let mut a = a.clone();
    for r in a.recipients.iter_mut().filter(|r| r.email == me.email) {
        r.status = status;
        r.decided_at = Some(ctx.now);
    }
    let owner = state.user(a.owner).map(|u| u.email.to_string());
    let ev = event(
        state,
        ctx,
        ty,
        None,
        owner,
        json!({
            "access_id": a.id.to_string(),
            "scope": a.scope.as_ref().map(Slug::as_str),
            "expires_at": time_json(a.expires_at),
        }),
    );
    Ok(Changes { changes: vec![Change::PutAccess(a)], events: vec![ev] })
}

/// A pending delegate access for `email` whose code is `code`: proof enough of the address for an
/// invited-only sign-up.
pub fn pending_code_matches(state: &State, email: &Email, code: &SecretHash, now: Timestamp) -> bool {
    state.accesses_shared_with(email).iter().any(|a| {
        a.is_live(now)
            && a.recipient(email)
                .is_some_and(|r| r.status == RecipientStatus::Pending && &r.code_hash == code)
    })
}
