//! Who holds which role where: memberships (one direct binding per user and target), temporary
//! grants on top of them, and removal.

use serde_json::json;

use crate::access::Policy;
use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::policies::effective_policy;
use crate::cmd::requests::{self, Opening};
use crate::cmd::workspaces::{require_active, user_not_found};
use crate::cmd::{event, require_future, time_json};
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{BindingId, Email, RequestId, Slug};
use crate::model::{Binding, BindingSource, EndReason, Target, User, Workspace};
use crate::role::{Role, WorkspaceRole};
use crate::state::State;
use crate::time::{Span, Timestamp};

/// Puts a user on a target with a role, replacing their direct membership there if they have one.
#[derive(Clone, Debug)]
pub struct SetMember {
    /// Workspace or project.
    pub target: Target,
    /// Whom.
    pub email: Email,
    /// Which role; its kind must match the target's.
    pub role: Role,
    /// Until when; `None` for standing access.
    pub expires_at: Option<Timestamp>,
    /// Why; needed when the assignment becomes a request under a policy that requires one.
    pub justification: Option<String>,
}

/// Sets a user's direct membership on a workspace or project.
///
/// Managers may assign members and every project role; assigning, changing or removing a
/// workspace manager or owner needs an owner (or the admin area). Repeating the same
/// assignment changes nothing.
pub fn set_member(state: &State, ctx: &Ctx, cmd: SetMember) -> Result<Changes, DomainError> {
    check_role_kind(&cmd.target, cmd.role)?;
    // Checked whether or not a request needs it, so that the same text is refused alike.
    crate::cmd::requests::clean_text(cmd.justification.clone(), "justification")?;
    let ws = authorize(state, ctx, &cmd.target, &[cmd.role])?;
    require_active(ws)?;
    require_future(state, cmd.expires_at, ctx.now)?;
    let user = state.user_by_email(&cmd.email).ok_or_else(|| user_not_found(&cmd.email))?;
    if let Some(request) =
        four_eyes(state, ctx, &cmd.target, cmd.role, user, cmd.expires_at, cmd.justification.clone())?
    {
        return Ok(request);
    }
    let existing = state
        .bindings_on(&cmd.target)
        .find(|b| b.user == user.id && b.source == BindingSource::Direct && b.is_effective(ctx.now));

    let new = Binding {
        id: BindingId(ctx.next_id()),
        user: user.id,
        target: cmd.target.clone(),
        role: cmd.role,
        starts_at: ctx.now,
        expires_at: cmd.expires_at,
        source: BindingSource::Direct,
        created_by: ctx.user(),
        reason: None,
    };
    let project = cmd.target.is_project();
    let mut out = Changes::default();
    match existing {
        Some(old) if old.role == cmd.role && old.expires_at == cmd.expires_at => return Ok(out),
        Some(old) => {
            authorize(state, ctx, &cmd.target, &[old.role])?;
            // Only a workspace membership can hold the owner role; project roles never affect it.
            let still_owner = project
                || (cmd.role == Role::Workspace(WorkspaceRole::Owner) && cmd.expires_at.is_none())
                || holds_owner_elsewhere(state, user, &cmd.target, old.id, ctx.now);
            guard_last_owner(state, ws, user, still_owner, ctx.now)?;
            out.events.push(event(
                state,
                ctx,
                if project { EventType::ProjectUserRoleChanged } else { EventType::UserRoleChanged },
                Some(&cmd.target),
                Some(user.email.to_string()),
                json!({
                    "from_role": old.role.as_str(),
                    "role": cmd.role.as_str(),
                    "from_expires_at": time_json(old.expires_at),
                    "expires_at": time_json(cmd.expires_at),
                    "binding_id": new.id.to_string(),
                    "replaces_binding_id": old.id.to_string(),
                }),
            ));
            out.changes.push(Change::EndBinding {
                id: old.id,
                at: ctx.now,
                reason: EndReason::Replaced,
                by: ctx.user(),
            });
        }
        None => out.events.push(event(
            state,
            ctx,
            if project { EventType::ProjectUserAssigned } else { EventType::UserAssigned },
            Some(&cmd.target),
            Some(user.email.to_string()),
            json!({
                "role": cmd.role.as_str(),
                "expires_at": time_json(cmd.expires_at),
                "binding_id": new.id.to_string(),
            }),
        )),
    }
    out.changes.push(Change::CreateBinding(new));
    Ok(out)
}

/// Removes a user from a project, or from a workspace together with all its projects, ending
/// every binding they hold there (memberships and grants).
pub fn remove_member(
    state: &State,
    ctx: &Ctx,
    target: &Target,
    email: &Email,
) -> Result<Changes, DomainError> {
    let ws = authorize(state, ctx, target, &[])?;
    let user = state.user_by_email(email).ok_or_else(|| member_not_found(email, target))?;
    let ending: Vec<&Binding> = state
        .bindings_of_user(user.id)
        .filter(|b| b.is_effective(ctx.now))
        .filter(|b| match target {
            Target::Workspace(w) => b.target.workspace() == w,
            Target::Project(..) => &b.target == target,
        })
        .collect();
    if ending.is_empty() {
        return Err(member_not_found(email, target));
    }
    let roles: Vec<Role> = ending.iter().map(|b| b.role).collect();
    authorize(state, ctx, target, &roles)?;
    if !target.is_project() {
        guard_last_owner(state, ws, user, false, ctx.now)?;
    }
    let mut out = Changes::default();
    let removed: Vec<serde_json::Value> = ending
        .iter()
        .map(|b| {
            json!({
                "binding_id": b.id.to_string(),
                "project": b.target.project().map(Slug::as_str),
                "role": b.role.as_str(),
                "source": b.source.as_str(),
            })
        })
        .collect();
    out.events.push(event(
        state,
        ctx,
        if target.is_project() { EventType::ProjectUserRemoved } else { EventType::UserRemoved },
        Some(target),
        Some(user.email.to_string()),
        json!({"ended": removed}),
    ));
    for b in ending {
        out.changes.push(Change::EndBinding {
            id: b.id,
            at: ctx.now,
            reason: EndReason::Removed,
            by: ctx.user(),
        });
    }
    Ok(out)
}

/// A temporary grant on top of whatever the user already holds.
#[derive(Clone, Debug)]
pub struct NewGrant {
    /// Workspace or project.
    pub target: Target,
    /// Whom.
    pub email: Email,
    /// Which role.
    pub role: Role,
    /// Until when (required: a grant is always temporary).
    pub expires_at: Timestamp,
    /// Why, recorded in the audit log.
    pub reason: Option<String>,
}

/// Creates a temporary grant. The same people who may set the membership may grant.
pub fn grant(state: &State, ctx: &Ctx, cmd: NewGrant) -> Result<(Changes, Assigned), DomainError> {
    check_role_kind(&cmd.target, cmd.role)?;
    let ws = authorize(state, ctx, &cmd.target, &[cmd.role])?;
    require_active(ws)?;
    require_future(state, Some(cmd.expires_at), ctx.now)?;
    if let Some(r) = &cmd.reason {
        if r.chars().count() > 1000 || r.chars().any(|c| c.is_control() && c != '\n') {
            return Err(DomainError::invalid(
                "input.invalid_reason",
                "a reason must be at most 1000 characters without control characters",
            ));
        }
    }
    let user = state.user_by_email(&cmd.email).ok_or_else(|| user_not_found(&cmd.email))?;
    if let Some(request) =
        four_eyes(state, ctx, &cmd.target, cmd.role, user, Some(cmd.expires_at), cmd.reason.clone())?
    {
        let id =
            opened_request(&request).ok_or_else(|| DomainError::rule("request.not_opened", "no request"))?;
        return Ok((request, Assigned::Request(id)));
    }
    let b = Binding {
        id: BindingId(ctx.next_id()),
        user: user.id,
        target: cmd.target.clone(),
        role: cmd.role,
        starts_at: ctx.now,
        expires_at: Some(cmd.expires_at),
        source: BindingSource::Grant,
        created_by: ctx.user(),
        reason: cmd.reason.clone(),
    };
    let id = b.id;
    let ev = event(
        state,
        ctx,
        EventType::Granted,
        Some(&cmd.target),
        Some(user.email.to_string()),
        json!({
            "binding_id": id.to_string(),
            "role": cmd.role.as_str(),
            "expires_at": cmd.expires_at.to_rfc3339(),
            "reason": cmd.reason,
        }),
    );
    Ok((Changes { changes: vec![Change::CreateBinding(b)], events: vec![ev] }, Assigned::Binding(id)))
}

/// What a direct assignment produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assigned {
    /// The access exists now.
    Binding(BindingId),
    /// The entitlement's policy needs more approvals than the assigner's one: a request now
    /// carries their approval and waits for the rest.
    Request(RequestId),
}

impl Assigned {
    /// The binding, when the access exists now.
    pub fn binding(self) -> Option<BindingId> {
        match self {
            Self::Binding(b) => Some(b),
            Self::Request(_) => None,
        }
    }
}

/// The request a command opened, if it opened one (an assignment that became a request).
pub fn opened_request(changes: &Changes) -> Option<RequestId> {
    changes.changes.iter().find_map(|c| match c {
        Change::PutRequest(r) => Some(r.id),
        _ => None,
    })
}

/// A manager's direct assignment may not bypass a policy that needs more than one approval:
/// it becomes a request for the user that already carries the manager's approval. Nor may it
/// bypass a one-approval policy whose step the manager is no approver of (the admin area, named
/// users): that becomes a request too, and so does a manager assigning themselves anything a
/// policy with steps governs. The admin area (which may override any request) and the system
/// assign directly, and so does anyone lowering or keeping access the user already holds.
fn four_eyes(
    state: &State,
    ctx: &Ctx,
    target: &Target,
    role: Role,
    user: &User,
    expires_at: Option<Timestamp>,
    justification: Option<String>,
) -> Result<Option<Changes>, DomainError> {
    let Some(actor) = ctx.user().and_then(|id| state.user(id)) else { return Ok(None) };
    let for_self = actor.id == user.id;
    // Lowering or keeping what someone already holds needs no approval — but only access at
    // least as strong in role and duration counts, so temporary (even emergency) access never
    // becomes a standing assignment, least of all one's own.
    let held = state.bindings_of_user(user.id).any(|b| {
        &b.target == target
            && b.is_effective(ctx.now)
            && b.role.implies(role)
            && match (b.expires_at, expires_at) {
                (None, _) => true,
                (Some(held_until), Some(wanted)) => held_until >= wanted,
                (Some(_), None) => false,
            }
    });
    if held {
        return Ok(None);
    }
    if authz::actor_admin_role(state, ctx)?.manages_workspaces() {
        if for_self {
            // The admin area joins a workspace only through "add myself": bounded in time,
            // restricted by the installation's setting, and recorded as USER_ASSIGNED_HIMSELF.
            return Err(DomainError::Forbidden {
                code: "member.use_add_myself",
                message: "the admin area adds itself with POST /workspaces/{ws}/members/me (breakglass member add-myself)"
                    .into(),
            });
        }
        return Ok(None);
    }
    let policy = effective_policy(state, target, role, false)?;
    // Assigning oneself is requesting: one's own approval never counts (PRODUCT §2.1, "through
    // any path"), so only a policy without steps lets it through directly.
    if policy.steps.is_empty()
        || (!for_self && own_approval_completes(state, ctx, &policy, target, role, actor))
    {
        return Ok(None);
    }
    if for_self && expires_at.is_none() {
        return Err(DomainError::rule(
            "request.self_assignment",
            format!(
                "you cannot approve access for yourself: request {role} on '{target}' with a duration, \
                 or ask another manager to assign it"
            ),
        ));
    }
    // The expiry was computed from the caller's "now", a moment before this one: round up to
    // whole seconds so that `expires_in: 1h` reads as 1h, not 59m59.99s (and is never zero).
    let duration = expires_at.map(|e| {
        let micros = e.as_micros() - ctx.now.as_micros();
        Span::seconds((micros.max(1) + 999_999) / 1_000_000)
    });
    let (changes, _) = requests::open(
        state,
        ctx,
        Opening {
            user,
            created_by: actor.id,
            target: target.clone(),
            role,
            duration,
            justification,
            emergency: false,
            policy,
            first_approval: true,
        },
    )?;
    Ok(Some(changes))
}

/// True when the assigner's approval is all the policy needs: it has no steps, or one step of
/// one approval whose set the assigner belongs to.
pub(crate) fn own_approval_completes(
    state: &State,
    ctx: &Ctx,
    policy: &Policy,
    target: &Target,
    role: Role,
    actor: &User,
) -> bool {
    match policy.steps.as_slice() {
        [] => true,
        [only] => {
            only.count == 1 && requests::approver_in(state, ctx, &only.approvers, target, role, actor.id)
        }
        _ => false,
    }
}

/// Ends temporary access early: a grant, or access granted by a (possibly emergency) request.
/// Its holder may give it up; managers revoke it as they would change the membership.
pub fn revoke_grant(state: &State, ctx: &Ctx, id: BindingId) -> Result<Changes, DomainError> {
    let not_found = || DomainError::not_found("grant.not_found", format!("grant {id} not found"));
    let b = state
        .binding(id)
        .filter(|b| b.source != BindingSource::Direct && b.is_effective(ctx.now))
        .ok_or_else(not_found)?;
    let holder = state.user(b.user).ok_or_else(not_found)?;
    if ctx.user() == Some(b.user) {
        authz::acting_user(state, ctx)?;
    } else {
        authorize(state, ctx, &b.target, &[b.role]).map_err(|e| match e {
            DomainError::NotFound { .. } => not_found(),
            other => other,
        })?;
    }
    if let (Target::Workspace(_), Some(ws)) = (&b.target, state.workspace(b.target.workspace())) {
        // A request-granted owner role without expiry counts as a standing owner: revoking it
        // must not leave the workspace without one.
        let still_owner = holds_owner_elsewhere(state, holder, &b.target, b.id, ctx.now);
        guard_last_owner(state, ws, holder, still_owner, ctx.now)?;
    }
    Ok(Changes {
        events: vec![event(
            state,
            ctx,
            EventType::GrantRevoked,
            Some(&b.target),
            Some(holder.email.to_string()),
            json!({
                "binding_id": id.to_string(),
                "role": b.role.as_str(),
                "source": b.source.as_str(),
                "request_id": b.source.request().map(|r| r.to_string()),
                "emergency": b.source.is_emergency(),
                "expires_at": time_json(b.expires_at),
            }),
        )],
        changes: vec![Change::EndBinding { id, at: ctx.now, reason: EndReason::Revoked, by: ctx.user() }],
    })
}

/// Checks that the actor may manage `target` and touch bindings with `roles`; returns the
/// workspace. Invisible workspaces and unknown projects are 404, visible but unmanageable 403.
pub(crate) fn authorize<'a>(
    state: &'a State,
    ctx: &Ctx,
    target: &Target,
    roles: &[Role],
) -> Result<&'a Workspace, DomainError> {
    let (ws, access) = authz::visible_workspace(state, ctx, target.workspace())?;
    if let Target::Project(w, p) = target {
        if state.project(w, p).is_none() {
            return Err(DomainError::not_found(
                "project.not_found",
                format!("project '{p}' not found in workspace '{w}'"),
            ));
        }
    }
    if !access.manage {
        return Err(DomainError::forbidden(format!("only managers of '{}' may change its access", ws.id)));
    }
    let touches_managers = roles.iter().any(|r| r.implies(Role::Workspace(WorkspaceRole::Manager)));
    if touches_managers && !access.manage_managers {
        return Err(DomainError::forbidden(format!(
            "only owners of '{}' may assign, change or remove managers and owners",
            ws.id
        )));
    }
    Ok(ws)
}

fn check_role_kind(target: &Target, role: Role) -> Result<(), DomainError> {
    if target.is_project() == matches!(role, Role::Project(_)) {
        Ok(())
    } else {
        let kind = if target.is_project() { "project" } else { "workspace" };
        Err(DomainError::invalid("input.unknown_role", format!("'{role}' is not a {kind} role")))
    }
}

/// An owner binding that counts now and never ends. Only these keep a workspace owned: a
/// temporary owner (an expiring membership or a grant) would leave it ownerless later.
fn is_standing_owner(b: &Binding, now: Timestamp) -> bool {
    b.is_effective(now) && b.expires_at.is_none() && b.role == Role::Workspace(WorkspaceRole::Owner)
}

fn holds_owner_elsewhere(
    state: &State,
    user: &User,
    target: &Target,
    except: BindingId,
    now: Timestamp,
) -> bool {
    state.bindings_on(target).any(|b| b.user == user.id && b.id != except && is_standing_owner(b, now))
}

/// Refuses a change that would leave a workspace that has a standing owner without one: the
/// last standing owner cannot be removed, demoted, or given an expiry.
pub(crate) fn guard_last_owner(
    state: &State,
    ws: &Workspace,
    user: &User,
    still_owner: bool,
    now: Timestamp,
) -> Result<(), DomainError> {
    if still_owner {
        return Ok(());
    }
    let target = Target::Workspace(ws.id.clone());
    let owners: Vec<&Binding> = state.bindings_on(&target).filter(|b| is_standing_owner(b, now)).collect();
    let is_owner = owners.iter().any(|b| b.user == user.id);
    let others = owners.iter().any(|b| b.user != user.id);
    if is_owner && !others {
        return Err(DomainError::rule(
            "workspace.last_owner",
            format!(
                "'{}' is the last standing owner of '{}'; make someone else owner without an expiry first",
                user.email, ws.id
            ),
        ));
    }
    Ok(())
}

fn member_not_found(email: &Email, target: &Target) -> DomainError {
    DomainError::not_found("member.not_found", format!("'{email}' holds no role on '{target}'"))
}
