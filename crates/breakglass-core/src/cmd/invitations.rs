//! Invitations into a workspace by e-mail, and self-service sign-up.

use serde_json::json;

use crate::audit::{EventType, NewEvent};
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::members::{authorize, own_approval_completes};
use crate::cmd::policies::effective_policy;
use crate::cmd::workspaces::require_active;
use crate::cmd::{event, require_future, time_json};
use crate::ctx::{Actor, Ctx};
use crate::error::DomainError;
use crate::ident::{BindingId, Email, InvitationId, Name, Slug, UserId};
use crate::model::{Binding, BindingSource, EndReason, PasswordHash, SecretHash, Target, User, UserStatus};
use crate::org::{Invitation, InvitationState, Signup};
use crate::role::{AdminRole, Role, WorkspaceRole};
use crate::state::State;
use crate::time::Timestamp;

/// Invites an e-mail address (which may belong to nobody yet) into a workspace with a role.
/// The same people who may assign that role may invite with it.
pub fn invite(
    state: &State,
    ctx: &Ctx,
    ws: &Slug,
    email: Email,
    role: WorkspaceRole,
    membership_expires_at: Option<Timestamp>,
    token_hash: SecretHash,
) -> Result<(Changes, InvitationId), DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let target = Target::Workspace(ws.clone());
    let w = authorize(state, ctx, &target, &[Role::Workspace(role)])?;
    require_active(w)?;
    require_future(state, membership_expires_at, ctx.now)?;
    crate::cmd::users::require_not_lookalike(state, &email)?;
    if email == me.email {
        return Err(DomainError::Forbidden {
            code: "invitation.self",
            message: "nobody invites themselves; the admin area uses add myself, others request access"
                .into(),
        });
    }
    // An invitation grants on acceptance with the inviter's approval alone, so it may not carry a
    // role whose policy needs more than that (the admin area may override requests anyway).
    if !authz::actor_admin_role(state, ctx)?.manages_workspaces() {
        let policy = effective_policy(state, &target, Role::Workspace(role), false)?;
        if !policy.steps.is_empty()
            && !own_approval_completes(state, ctx, &policy, &target, Role::Workspace(role), me)
        {
            return Err(DomainError::rule(
                "invitation.needs_approval",
                format!(
                    "the {} role of '{ws}' needs approvals under policy '{}': invite with a lower role and let them request it",
                    Role::Workspace(role),
                    policy.name
                ),
            ));
        }
    }
    if let Some(open) =
        state.invitations().find(|i| &i.workspace == ws && i.email == email && i.is_open(ctx.now))
    {
        return Err(DomainError::conflict(
            "invitation.duplicate",
            format!("invitation {} for '{email}' is still pending; cancel it first", open.id),
        ));
    }
    if let Some(u) = state.user_by_email(&email) {
        if state.workspace_role(u.id, ws, ctx.now).is_some() {
            return Err(DomainError::conflict(
                "invitation.already_member",
                format!("'{email}' is already a member of '{ws}'; change their role instead"),
            ));
        }
    }
    let inv = Invitation {
        id: InvitationId(ctx.next_id()),
        workspace: ws.clone(),
        email: email.clone(),
        role,
        membership_expires_at,
        invited_by: me.id,
        created_at: ctx.now,
        expires_at: ctx.now.plus(state.settings().invitation_ttl),
        state: InvitationState::Pending,
        decided_at: None,
        token_hash,
    };
    let id = inv.id;
    let ev = event(
        state,
        ctx,
        EventType::UserInvited,
        Some(&target),
        Some(email.to_string()),
        json!({
            "invitation_id": id.to_string(),
            "role": Role::Workspace(role).as_str(),
            "membership_expires_at": time_json(membership_expires_at),
            "expires_at": inv.expires_at.to_rfc3339(),
            "registered": state.user_by_email(&email).is_some(),
        }),
    );
    Ok((Changes { changes: vec![Change::PutInvitation(inv)], events: vec![ev] }, id))
}

/// Cancels a pending invitation (the workspace's managers, as for inviting with its role).
pub fn cancel(state: &State, ctx: &Ctx, id: InvitationId) -> Result<Changes, DomainError> {
    let inv = state.invitation(id).ok_or_else(|| not_found(id))?;
    let target = Target::Workspace(inv.workspace.clone());
    authorize(state, ctx, &target, &[Role::Workspace(inv.role)]).map_err(|e| match e {
        DomainError::NotFound { .. } => not_found(id),
        other => other,
    })?;
    require_open(inv, ctx.now)?;
    decide(
        state,
        ctx,
        inv,
        InvitationState::Cancelled,
        EventType::UserInvitationCancelled,
        Vec::new(),
        json!({}),
    )
}

/// Accepts an invitation addressed to the acting user's e-mail, with its secret (nobody verified
/// the address, so the address alone proves nothing): they get exactly the invited role (with the
/// invited expiry), never more; a higher membership they already hold is kept.
pub fn accept(
    state: &State,
    ctx: &Ctx,
    id: InvitationId,
    token_hash: SecretHash,
) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let inv = own_invitation(state, me, id)?;
    if inv.token_hash != token_hash {
        return Err(DomainError::Forbidden {
            code: "invitation.invalid_token",
            message: "the invitation's secret does not match; ask whoever invited you for it".into(),
        });
    }
    require_open(inv, ctx.now)?;
    let ws = state.workspace(&inv.workspace).ok_or_else(|| not_found(id))?;
    require_active(ws)?;
    // The invitation carries the inviter's authority: it must still be theirs.
    let inviter = Ctx::new(ctx.now, Actor::User(inv.invited_by), uuid::Uuid::nil());
    if authorize(state, &inviter, &Target::Workspace(inv.workspace.clone()), &[Role::Workspace(inv.role)])
        .is_err()
    {
        return Err(DomainError::conflict(
            "invitation.inviter_lost_rights",
            "whoever invited you may no longer grant this role; ask for a new invitation",
        ));
    }
    if inv.membership_expires_at.is_some_and(|e| e <= ctx.now) {
        return Err(DomainError::rule(
            "invitation.expired",
            "the membership this invitation offered has already ended",
        ));
    }
    let target = Target::Workspace(inv.workspace.clone());
    let role = Role::Workspace(inv.role);
    let current = state
        .bindings_on(&target)
        .find(|b| b.user == me.id && b.source == BindingSource::Direct && b.is_effective(ctx.now));
    let mut changes = Vec::new();
    let mut replaced = None;
    let binding = match current {
        Some(b) if b.role.implies(role) && b.expires_at.is_none() => b.id,
        // A higher role for a while on top of a standing lower membership: a temporary grant, so
        // that the standing membership is still there when the invited one ends.
        Some(b) if b.expires_at.is_none() && inv.membership_expires_at.is_some() => {
            let g = Binding {
                id: BindingId(ctx.next_id()),
                user: me.id,
                target: target.clone(),
                role,
                starts_at: ctx.now,
                expires_at: inv.membership_expires_at,
                source: BindingSource::Grant,
                created_by: Some(inv.invited_by),
                reason: Some(format!("invitation {} on top of the standing {} membership", inv.id, b.role)),
            };
            let id = g.id;
            changes.push(Change::CreateBinding(g));
            id
        }
        _ => {
            if let Some(old) = current {
                replaced = Some((old.id, old.role));
                changes.push(Change::EndBinding {
                    id: old.id,
                    at: ctx.now,
                    reason: EndReason::Replaced,
                    by: Some(me.id),
                });
            }
            let b = Binding {
                id: BindingId(ctx.next_id()),
                user: me.id,
                target: target.clone(),
                role,
                starts_at: ctx.now,
                expires_at: inv.membership_expires_at,
                source: BindingSource::Direct,
                created_by: Some(inv.invited_by),
                reason: None,
            };
            let id = b.id;
            changes.push(Change::CreateBinding(b));
            id
        }
    };
    decide(
        state,
        ctx,
        inv,
        InvitationState::Accepted,
        EventType::UserAcceptedInvitation,
        changes,
        json!({
            "role": role.as_str(),
            "membership_expires_at": time_json(inv.membership_expires_at),
            "binding_id": binding.to_string(),
            "replaces_binding_id": replaced.map(|(id, _)| id.to_string()),
            "from_role": replaced.map(|(_, r)| r.as_str()),
        }),
    )
}

/// Declines an invitation addressed to the acting user.
pub fn decline(state: &State, ctx: &Ctx, id: InvitationId) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let inv = own_invitation(state, me, id)?;
    require_open(inv, ctx.now)?;
    decide(
        state,
        ctx,
        inv,
        InvitationState::Declined,
        EventType::UserDeclinedInvitation,
        Vec::new(),
        json!({}),
    )
}

/// Open invitations addressed to `email`, oldest first.
pub fn pending_for(state: &State, email: &Email, now: Timestamp) -> Vec<Invitation> {
    let mut v: Vec<Invitation> =
        state.invitations().filter(|i| &i.email == email && i.is_open(now)).cloned().collect();
    v.sort_by_key(|i| (i.created_at, i.id));
    v
}

/// Signs a person up with e-mail and password, as the setting `signup` allows: `open`, or
/// `invited_only` with the secret of a pending invitation for the address. Returns the new
/// user's id.
pub fn sign_up(
    state: &State,
    ctx: &Ctx,
    email: Email,
    name: Name,
    password_hash: PasswordHash,
    invitation_token: Option<SecretHash>,
) -> Result<(Changes, UserId), DomainError> {
    let closed = |m: &str| DomainError::Forbidden { code: "auth.signup_closed", message: m.to_owned() };
    match state.settings().signup {
        Signup::Closed => return Err(closed("sign-up is closed; ask an admin for an account")),
        Signup::InvitedOnly => {
            let invited = invitation_token.is_some_and(|t| {
                pending_for(state, &email, ctx.now).iter().any(|i| i.token_hash == t)
                    || crate::cmd::accesses::pending_code_matches(state, &email, &t, ctx.now)
            });
            if !invited {
                return Err(closed(
                    "sign-up needs the secret of a pending invitation or the code of an access shared with this e-mail address",
                ));
            }
        }
        Signup::Open => {}
    }
    crate::cmd::users::require_new_email(state, &email)?;
    let user = User {
        id: UserId(ctx.next_id()),
        email: email.clone(),
        name,
        admin_role: AdminRole::None,
        status: UserStatus::Active,
        created_at: ctx.now,
    };
    let id = user.id;
    let invitations = pending_for(state, &email, ctx.now).len();
    let ev = NewEvent {
        time: ctx.now,
        event_type: EventType::UserSignedUp,
        actor: email.to_string(),
        on_behalf_of: None,
        workspace: None,
        project: None,
        subject: Some(email.to_string()),
        details: json!({"user_id": id.to_string(), "name": user.name.as_str(), "pending_invitations": invitations}),
    };
    Ok((
        Changes {
            changes: vec![Change::CreateUser { user, password_hash: Some(password_hash) }],
            events: vec![ev],
        },
        id,
    ))
}

fn own_invitation<'a>(state: &'a State, me: &User, id: InvitationId) -> Result<&'a Invitation, DomainError> {
    // Someone else's invitation is as invisible as one that does not exist.
    state.invitation(id).filter(|i| i.email == me.email).ok_or_else(|| not_found(id))
}

fn require_open(inv: &Invitation, now: Timestamp) -> Result<(), DomainError> {
    if inv.state != InvitationState::Pending {
        return Err(DomainError::conflict(
            "invitation.not_pending",
            format!("the invitation is {} already", inv.state.as_str()),
        ));
    }
    if now >= inv.expires_at {
        return Err(DomainError::conflict(
            "invitation.expired",
            format!("the invitation expired at {}", inv.expires_at),
        ));
    }
    Ok(())
}

fn decide(
    state: &State,
    ctx: &Ctx,
    inv: &Invitation,
    to: InvitationState,
    ty: EventType,
    mut changes: Vec<Change>,
    extra: serde_json::Value,
) -> Result<Changes, DomainError> {
    let mut details =
        json!({"invitation_id": inv.id.to_string(), "role": Role::Workspace(inv.role).as_str()});
    if let (Some(d), serde_json::Value::Object(e)) = (details.as_object_mut(), extra) {
        d.extend(e);
    }
    let target = Target::Workspace(inv.workspace.clone());
    let ev = event(state, ctx, ty, Some(&target), Some(inv.email.to_string()), details);
    changes.push(Change::PutInvitation(Invitation { state: to, decided_at: Some(ctx.now), ..inv.clone() }));
    Ok(Changes { changes, events: vec![ev] })
}

fn not_found(id: InvitationId) -> DomainError {
    DomainError::not_found("invitation.not_found", format!("invitation {id} not found"))
}

/// A workspace's invitations, newest first: for those who may read its history (its managers
/// and the admin area); to anyone who cannot see the workspace it does not exist.
pub fn of_workspace<'s>(state: &'s State, ctx: &Ctx, ws: &Slug) -> Result<Vec<&'s Invitation>, DomainError> {
    let (_, access) = authz::visible_workspace(state, ctx, ws)?;
    if !access.read_history {
        return Err(DomainError::forbidden(format!("only managers of '{ws}' see its invitations")));
    }
    let mut found: Vec<&Invitation> = state.invitations().filter(|i| &i.workspace == ws).collect();
    found.sort_by_key(|i| (std::cmp::Reverse(i.created_at), i.id));
    Ok(found)
}
