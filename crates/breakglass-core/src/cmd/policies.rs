//! Approval policies and entitlement settings: who must approve a request for which role.

use serde_json::{json, Value};

use crate::access::{ApproverSet, Entitlement, Policy, Step};
use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::event;
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{Name, PolicyId, Slug};
use crate::model::Target;
use crate::role::{AdminRole, Role, WorkspaceRole};
use crate::state::State;
use crate::time::Span;

/// Most steps a policy may have.
pub const MAX_STEPS: usize = 10;
/// Most approvals one step may require.
pub const MAX_STEP_COUNT: u32 = 50;

/// The fields of a policy as given by its author.
#[derive(Clone, Debug)]
pub struct PolicyInput {
    /// Display name.
    pub name: Name,
    /// Owning workspace; `None` for installation-wide (admins only).
    pub workspace: Option<Slug>,
    /// Ordered steps.
    pub steps: Vec<Step>,
    /// Longest access a request may ask for; `None` for no limit.
    pub max_duration: Option<Span>,
    /// Whether requests must say why.
    pub justification_required: bool,
    /// How long a request may wait for approval.
    pub pending_ttl: Span,
}

/// Creates a policy. Installation-wide policies are for admins; a workspace's policies for its
/// owners and admins.
pub fn create_policy(
    state: &State,
    ctx: &Ctx,
    input: PolicyInput,
) -> Result<(Changes, PolicyId), DomainError> {
    authorize_scope(state, ctx, input.workspace.as_ref())?;
    validate(state, &input)?;
    let policy = Policy {
        id: PolicyId(ctx.next_id()),
        name: input.name,
        workspace: input.workspace,
        steps: input.steps,
        max_duration: input.max_duration,
        justification_required: input.justification_required,
        pending_ttl: input.pending_ttl,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let id = policy.id;
    let target = policy.workspace.clone().map(Target::Workspace);
    let ev = event(
        state,
        ctx,
        EventType::PolicyCreated,
        target.as_ref(),
        Some(id.to_string()),
        describe(state, &policy),
    );
    Ok((Changes { changes: vec![Change::PutPolicy(policy)], events: vec![ev] }, id))
}

/// Replaces a policy's fields (its scope never changes). Requests already open keep the copy
/// they were opened under.
pub fn update_policy(
    state: &State,
    ctx: &Ctx,
    id: PolicyId,
    input: PolicyInput,
) -> Result<Changes, DomainError> {
    let old = visible_policy(state, ctx, id)?;
    if input.workspace != old.workspace {
        return Err(DomainError::invalid(
            "policy.scope_immutable",
            "a policy's workspace cannot change; create a new policy instead",
        ));
    }
    authorize_scope(state, ctx, old.workspace.as_ref())?;
    validate(state, &input)?;
    let new = Policy {
        name: input.name,
        steps: input.steps,
        max_duration: input.max_duration,
        justification_required: input.justification_required,
        pending_ttl: input.pending_ttl,
        updated_at: ctx.now,
        ..old.clone()
    };
    if (Policy { updated_at: old.updated_at, ..new.clone() }) == *old {
        return Ok(Changes::default());
    }
    let target = new.workspace.clone().map(Target::Workspace);
    let ev = event(
        state,
        ctx,
        EventType::PolicyUpdated,
        target.as_ref(),
        Some(id.to_string()),
        json!({"before": describe(state, old), "after": describe(state, &new)}),
    );
    Ok(Changes { changes: vec![Change::PutPolicy(new)], events: vec![ev] })
}

/// A policy the actor may see: installation-wide ones and those of visible workspaces. The
/// installation default is not a stored policy and is not returned here.
pub fn visible_policy<'a>(state: &'a State, ctx: &Ctx, id: PolicyId) -> Result<&'a Policy, DomainError> {
    let not_found = || DomainError::not_found("policy.not_found", format!("policy {id} not found"));
    let p = state.policy(id).ok_or_else(not_found)?;
    if let Some(ws) = &p.workspace {
        if !authz::actor_access(state, ctx, ws)?.see {
            return Err(not_found());
        }
    }
    Ok(p)
}

/// Admins may manage any policy scope; workspace owners their workspace's.
pub fn authorize_scope(state: &State, ctx: &Ctx, ws: Option<&Slug>) -> Result<(), DomainError> {
    let admin = authz::actor_admin_role(state, ctx)? == AdminRole::Admin;
    match ws {
        None if admin => Ok(()),
        None => Err(DomainError::forbidden("only admins manage installation-wide policies")),
        Some(ws) => {
            authz::visible_workspace(state, ctx, ws)?;
            let owner =
                ctx.user().and_then(|u| state.workspace_role(u, ws, ctx.now)) == Some(WorkspaceRole::Owner);
            if admin || owner {
                Ok(())
            } else {
                Err(DomainError::forbidden(format!("only owners of '{ws}' and admins manage its policies")))
            }
        }
    }
}

fn validate(state: &State, input: &PolicyInput) -> Result<(), DomainError> {
    let bad = |m: String| Err(DomainError::invalid("policy.invalid", m));
    if input.steps.len() > MAX_STEPS {
        return bad(format!("a policy has at most {MAX_STEPS} steps"));
    }
    for (i, step) in input.steps.iter().enumerate() {
        if step.count == 0 || step.count > MAX_STEP_COUNT {
            return bad(format!("step {} must need 1 to {MAX_STEP_COUNT} approvals", i + 1));
        }
        if let ApproverSet::Users(users) = &step.approvers {
            if users.is_empty() {
                return bad(format!("step {} names no approvers", i + 1));
            }
            if let Some(missing) = users.iter().find(|u| state.user(**u).is_none()) {
                return Err(DomainError::rule(
                    "policy.unknown_approver",
                    format!("step {}: no user {missing}", i + 1),
                ));
            }
        }
    }
    Ok(())
}

/// A policy as audit details: approvers by e-mail, durations in words.
pub fn describe(state: &State, p: &Policy) -> Value {
    let steps: Vec<Value> = p
        .steps
        .iter()
        .map(|s| {
            let users: Vec<String> = match &s.approvers {
                ApproverSet::Users(u) => u
                    .iter()
                    .map(|id| state.user(*id).map_or_else(|| id.to_string(), |u| u.email.to_string()))
                    .collect(),
                _ => Vec::new(),
            };
            json!({"approvers": s.approvers.kind(), "users": users, "count": s.count})
        })
        .collect();
    json!({
        "policy_id": p.id.to_string(),
        "name": p.name.as_str(),
        "workspace": p.workspace.as_ref().map(Slug::as_str),
        "steps": steps,
        "max_duration": p.max_duration.map(|d| d.to_string()),
        "justification_required": p.justification_required,
        "pending_ttl": p.pending_ttl.to_string(),
    })
}

/// New settings for one entitlement.
#[derive(Clone, Debug)]
pub struct SetEntitlement {
    /// Where.
    pub target: Target,
    /// Which role (its kind must match the target's).
    pub role: Role,
    /// Policy for normal requests; `None` for the installation default.
    pub request_policy: Option<PolicyId>,
    /// Whether emergency requests are allowed.
    pub emergency_enabled: bool,
    /// Policy for emergency requests; required when they are enabled.
    pub emergency_policy: Option<PolicyId>,
}

/// Sets an entitlement's request policy and emergency settings (workspace owners and admins).
pub fn set_entitlement(state: &State, ctx: &Ctx, cmd: SetEntitlement) -> Result<Changes, DomainError> {
    let ws = cmd.target.workspace().clone();
    authorize_scope(state, ctx, Some(&ws))?;
    if let Target::Project(w, p) = &cmd.target {
        if state.project(w, p).is_none() {
            return Err(DomainError::not_found(
                "project.not_found",
                format!("project '{p}' not found in '{w}'"),
            ));
        }
    }
    if cmd.target.is_project() != matches!(cmd.role, Role::Project(_)) {
        return Err(DomainError::invalid(
            "input.unknown_role",
            format!("'{}' is not a role of that target", cmd.role),
        ));
    }
    for id in [cmd.request_policy, cmd.emergency_policy].into_iter().flatten() {
        let p = visible_policy(state, ctx, id)?;
        if p.workspace.as_ref().is_some_and(|w| *w != ws) {
            return Err(DomainError::invalid(
                "policy.wrong_workspace",
                format!(
                    "policy '{}' belongs to workspace '{}'",
                    p.name,
                    p.workspace.as_ref().map_or("", Slug::as_str)
                ),
            ));
        }
    }
    if cmd.emergency_enabled && cmd.emergency_policy.is_none() {
        return Err(DomainError::invalid(
            "entitlement.emergency_policy_required",
            "enabling emergency access needs an emergency policy",
        ));
    }
    let new = Entitlement {
        target: cmd.target.clone(),
        role: cmd.role,
        request_policy: cmd.request_policy,
        emergency_enabled: cmd.emergency_enabled,
        emergency_policy: cmd.emergency_policy,
        updated_at: ctx.now,
    };
    let old = state.entitlement(&cmd.target, cmd.role);
    if old.is_some_and(|o| Entitlement { updated_at: o.updated_at, ..new.clone() } == *o) {
        return Ok(Changes::default());
    }
    let show = |e: Option<&Entitlement>| {
        e.map_or_else(
            || json!({"request_policy": null, "emergency_enabled": false, "emergency_policy": null}),
            |e| {
                json!({
                    "request_policy": e.request_policy.map(|p| p.to_string()),
                    "emergency_enabled": e.emergency_enabled,
                    "emergency_policy": e.emergency_policy.map(|p| p.to_string()),
                })
            },
        )
    };
    let ev = event(
        state,
        ctx,
        EventType::EntitlementUpdated,
        Some(&cmd.target),
        Some(cmd.role.as_str().to_owned()),
        json!({"role": cmd.role.as_str(), "before": show(old), "after": show(Some(&new))}),
    );
    Ok(Changes { changes: vec![Change::PutEntitlement(new)], events: vec![ev] })
}

/// The policy that governs a request for `role` on `target`: the entitlement's emergency policy
/// for an emergency request (refused when emergency access is not enabled), else its request
/// policy or the installation default.
pub fn effective_policy(
    state: &State,
    target: &Target,
    role: Role,
    emergency: bool,
) -> Result<Policy, DomainError> {
    let ent = state.entitlement(target, role);
    if emergency {
        let id = ent.filter(|e| e.emergency_enabled).and_then(|e| e.emergency_policy).ok_or_else(|| {
            DomainError::rule(
                "request.emergency_disabled",
                format!("emergency access is not enabled for {role} on '{target}'"),
            )
        })?;
        return state
            .policy(id)
            .cloned()
            .ok_or_else(|| DomainError::not_found("policy.not_found", format!("policy {id} not found")));
    }
    match ent.and_then(|e| e.request_policy) {
        Some(id) => state
            .policy(id)
            .cloned()
            .ok_or_else(|| DomainError::not_found("policy.not_found", format!("policy {id} not found"))),
        None => Ok(Policy::installation_default()),
    }
}
