//! The admin area and the workspace lifecycle: settings, self-service registration and its
//! approval, disabling, quotas, renaming, and admin-area staff adding themselves to a workspace.

use serde_json::{json, Map, Value};

use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::members::guard_last_owner;
use crate::cmd::tags::resolve_tags;
use crate::cmd::{event, require_future, time_json};
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{BindingId, Name, Slug};
use crate::model::{Binding, BindingSource, EndReason, Target, Workspace, WorkspaceStatus};
use crate::org::{Registration, Settings, TagTarget, Tags};
use crate::role::{AdminRole, Role, WorkspaceRole};
use crate::state::State;
use crate::time::{Span, Timestamp};

/// Largest project quota.
pub const MAX_QUOTA: u32 = 100_000;

/// Replaces the installation settings (admins only); records each changed value.
pub fn update_settings(state: &State, ctx: &Ctx, new: Settings) -> Result<Changes, DomainError> {
    if authz::actor_admin_role(state, ctx)? != AdminRole::Admin {
        return Err(DomainError::forbidden("only admins change settings"));
    }
    let bad = |m: &str| Err(DomainError::invalid("settings.invalid", m.to_owned()));
    if new.invitation_ttl < Span::hours(1) || new.invitation_ttl > Span::days(365) {
        return bad("invitation_ttl must be between 1 hour and 365 days");
    }
    if new.default_project_quota > MAX_QUOTA {
        return bad("default_project_quota is at most 100000");
    }
    if new.add_myself_max_expiry > Span::days(365) || new.add_myself_max_expiry < Span::minutes(1) {
        return bad("add_myself_max_expiry must be between 1 minute and 365 days");
    }
    if new.add_myself_default_expiry > new.add_myself_max_expiry
        || new.add_myself_default_expiry < Span::minutes(1)
    {
        return bad("add_myself_default_expiry must be at least 1 minute and at most add_myself_max_expiry");
    }
    // Sessions last 12 hours and are expiries too: below a day, nobody could sign in.
    if new.max_expiry < Span::days(1) || new.max_expiry > Span::days(3660) {
        return bad("max_expiry must be between 1 day and 3660 days");
    }
    if new.add_myself_max_expiry > new.max_expiry {
        return bad("add_myself_max_expiry must not exceed max_expiry");
    }
    if !(1..=10_000).contains(&new.max_api_tokens_per_user)
        || !(1..=10_000).contains(&new.max_sessions_per_user)
    {
        return bad("max_api_tokens_per_user and max_sessions_per_user must be between 1 and 10000");
    }
    let old = state.settings();
    let (before, after) = (to_map(old), to_map(&new));
    let changed: Map<String, Value> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), json!({"from": before.get(k), "to": v})))
        .collect();
    if changed.is_empty() {
        return Ok(Changes::default());
    }
    Ok(Changes {
        events: vec![event(state, ctx, EventType::SettingsChanged, None, None, json!({"changed": changed}))],
        changes: vec![Change::PutSettings(new)],
    })
}

fn to_map(s: &Settings) -> Map<String, Value> {
    match serde_json::to_value(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// A self-service workspace registration.
#[derive(Clone, Debug)]
pub struct Registering {
    /// Immutable identifier.
    pub id: Slug,
    /// Display name.
    pub name: Name,
    /// Tags (mandatory ones required unless they have a default).
    pub tags: Tags,
}

/// Registers a workspace for the acting user, who becomes its owner. Depending on the setting
/// `workspace_registration` it is active at once, waits for the admin area, or is refused.
pub fn register_workspace(state: &State, ctx: &Ctx, reg: Registering) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    // A credential confined to some workspaces (a scoped token, a scoped delegation) acts in them
    // only; a new workspace lies outside whatever it was confined to.
    if ctx.bounds.scope.is_some() {
        return Err(DomainError::Forbidden {
            code: "token.out_of_scope",
            message: "this credential is confined to workspaces; register new ones with your own unconfined credential"
                .into(),
        });
    }
    if me.admin_role == AdminRole::Auditor {
        return Err(DomainError::forbidden("auditors read; they do not register workspaces"));
    }
    let status = match state.settings().workspace_registration {
        Registration::Open => WorkspaceStatus::Active,
        Registration::Approval => WorkspaceStatus::PendingApproval,
        Registration::Closed => {
            return Err(DomainError::Forbidden {
                code: "workspace.registration_closed",
                message: "self-service registration is closed; ask the admin area to create the workspace"
                    .into(),
            })
        }
    };
    if state.workspace(&reg.id).is_some() {
        return Err(DomainError::conflict(
            "workspace.exists",
            format!("a workspace with identifier '{}' already exists", reg.id),
        ));
    }
    let tags = resolve_tags(
        state,
        TagTarget::Workspace,
        &reg.tags,
        authz::actor_admin_role(state, ctx)?.manages_workspaces(),
    )?;
    let ws = Workspace {
        id: reg.id.clone(),
        name: reg.name,
        status,
        project_quota: state.settings().default_project_quota,
        tags,
        created_at: ctx.now,
    };
    let target = Target::Workspace(reg.id);
    let owner = Binding {
        id: BindingId(ctx.next_id()),
        user: me.id,
        target: target.clone(),
        role: Role::Workspace(WorkspaceRole::Owner),
        starts_at: ctx.now,
        expires_at: None,
        source: BindingSource::Direct,
        created_by: Some(me.id),
        reason: None,
    };
    let events = vec![
        event(
            state,
            ctx,
            EventType::WorkspaceRegistered,
            Some(&target),
            Some(me.email.to_string()),
            json!({
                "name": ws.name.as_str(),
                "status": ws.status.as_str(),
                "project_quota": ws.project_quota,
                "tags": ws.tags,
            }),
        ),
        event(
            state,
            ctx,
            EventType::UserAssigned,
            Some(&target),
            Some(me.email.to_string()),
            json!({"role": "owner", "expires_at": null, "binding_id": owner.id.to_string()}),
        ),
    ];
    Ok(Changes { changes: vec![Change::CreateWorkspace(ws), Change::CreateBinding(owner)], events })
}

/// The workspace, for the admin area (admins and employees) only.
fn staff_workspace<'a>(state: &'a State, ctx: &Ctx, ws: &Slug) -> Result<&'a Workspace, DomainError> {
    let (w, _) = authz::visible_workspace(state, ctx, ws)?;
    if !authz::actor_admin_role(state, ctx)?.manages_workspaces() {
        return Err(DomainError::forbidden("only admins and employees manage the workspace lifecycle"));
    }
    Ok(w)
}

/// Refuses a reason the audit log should not carry, by the same rule as a grant's reason.
fn check_reason(reason: Option<&str>) -> Result<(), DomainError> {
    match reason {
        Some(r) if r.chars().count() > 1000 || r.chars().any(|c| c.is_control() && c != '\n') => {
            Err(DomainError::invalid(
                "input.invalid_reason",
                "a reason must be at most 1000 characters without control characters",
            ))
        }
        _ => Ok(()),
    }
}

/// Approves or rejects a workspace waiting for approval (admins and employees).
pub fn decide_registration(
    state: &State,
    ctx: &Ctx,
    ws: &Slug,
    approve: bool,
    reason: Option<String>,
) -> Result<Changes, DomainError> {
    let w = staff_workspace(state, ctx, ws)?;
    check_reason(reason.as_deref())?;
    if w.status != WorkspaceStatus::PendingApproval {
        return Err(DomainError::conflict(
            "workspace.not_pending",
            format!("workspace '{ws}' is {}, not waiting for approval", w.status.as_str()),
        ));
    }
    let (status, ty) = if approve {
        (WorkspaceStatus::Active, EventType::WorkspaceApproved)
    } else {
        (WorkspaceStatus::Rejected, EventType::WorkspaceRejected)
    };
    let new = Workspace { status, ..w.clone() };
    let target = Target::Workspace(ws.clone());
    Ok(Changes {
        events: vec![event(state, ctx, ty, Some(&target), None, json!({"reason": reason}))],
        changes: vec![Change::UpdateWorkspace(new)],
    })
}

/// Disables or enables an approved workspace (admins and employees). A disabled workspace
/// denies every check and refuses new access; its data stays.
pub fn set_workspace_enabled(
    state: &State,
    ctx: &Ctx,
    ws: &Slug,
    enabled: bool,
    reason: Option<String>,
) -> Result<Changes, DomainError> {
    let w = staff_workspace(state, ctx, ws)?;
    check_reason(reason.as_deref())?;
    let to = if enabled { WorkspaceStatus::Active } else { WorkspaceStatus::Disabled };
    if !matches!(w.status, WorkspaceStatus::Active | WorkspaceStatus::Disabled) {
        return Err(DomainError::conflict(
            "workspace.not_approved",
            format!("workspace '{ws}' is {}; approve or reject its registration instead", w.status.as_str()),
        ));
    }
    if w.status == to {
        return Ok(Changes::default());
    }
    let target = Target::Workspace(ws.clone());
    Ok(Changes {
        events: vec![event(
            state,
            ctx,
            EventType::WorkspaceStatusChanged,
            Some(&target),
            None,
            json!({"from": w.status.as_str(), "to": to.as_str(), "reason": reason}),
        )],
        changes: vec![Change::UpdateWorkspace(Workspace { status: to, ..w.clone() })],
    })
}

/// Changes a workspace's project quota (admins and employees). A quota below the current number
/// of projects only stops new ones.
pub fn set_quota(state: &State, ctx: &Ctx, ws: &Slug, quota: u32) -> Result<Changes, DomainError> {
    let w = staff_workspace(state, ctx, ws)?;
    if quota > MAX_QUOTA {
        return Err(DomainError::invalid("input.invalid_quota", format!("a quota is at most {MAX_QUOTA}")));
    }
    if w.project_quota == quota {
        return Ok(Changes::default());
    }
    let target = Target::Workspace(ws.clone());
    Ok(Changes {
        events: vec![event(
            state,
            ctx,
            EventType::WorkspaceQuotaEdited,
            Some(&target),
            None,
            json!({"from": w.project_quota, "to": quota, "projects": state.projects_of(ws).count()}),
        )],
        changes: vec![Change::UpdateWorkspace(Workspace { project_quota: quota, ..w.clone() })],
    })
}

/// Renames a workspace (its managers and the admin area). The identifier never changes.
pub fn rename_workspace(state: &State, ctx: &Ctx, ws: &Slug, name: Name) -> Result<Changes, DomainError> {
    let (w, access) = authz::visible_workspace(state, ctx, ws)?;
    if !access.manage {
        return Err(DomainError::forbidden(format!("only managers of '{ws}' may rename it")));
    }
    if w.name == name {
        return Ok(Changes::default());
    }
    let target = Target::Workspace(ws.clone());
    Ok(Changes {
        events: vec![event(
            state,
            ctx,
            EventType::WorkspaceUpdated,
            Some(&target),
            None,
            json!({"from_name": w.name.as_str(), "name": name.as_str()}),
        )],
        changes: vec![Change::UpdateWorkspace(Workspace { name, ..w.clone() })],
    })
}

/// An admin-area admin or employee adds themselves to a workspace: as manager, or as member when
/// `restrict_admin_role_assignment` is on, always until an expiry (the default when none is
/// given, never beyond the maximum). Allowed on disabled workspaces too, to clean up access.
pub fn add_myself(
    state: &State,
    ctx: &Ctx,
    ws: &Slug,
    expires_at: Option<Timestamp>,
) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    if !authz::actor_admin_role(state, ctx)?.manages_workspaces() {
        return Err(DomainError::forbidden("only admins and employees may add themselves to a workspace"));
    }
    let (w, _) = authz::visible_workspace(state, ctx, ws)?;
    if !matches!(w.status, WorkspaceStatus::Active | WorkspaceStatus::Disabled) {
        return Err(DomainError::rule(
            "workspace.not_approved",
            format!("workspace '{ws}' is {}", w.status.as_str()),
        ));
    }
    let settings = state.settings();
    require_future(state, expires_at, ctx.now)?;
    let expires_at = expires_at.unwrap_or_else(|| ctx.now.plus(settings.add_myself_default_expiry));
    let max = ctx.now.plus(settings.add_myself_max_expiry);
    if expires_at > max {
        return Err(DomainError::rule(
            "add_myself.expiry_too_long",
            format!("adding yourself lasts at most {} (until {max})", settings.add_myself_max_expiry),
        ));
    }
    let role =
        if settings.restrict_admin_role_assignment { WorkspaceRole::Member } else { WorkspaceRole::Manager };
    let target = Target::Workspace(ws.clone());
    let mut out = Changes::default();
    let existing = state
        .bindings_on(&target)
        .find(|b| b.user == me.id && b.source == BindingSource::Direct && b.is_effective(ctx.now));
    if let Some(old) = existing {
        if old.role == Role::Workspace(WorkspaceRole::Owner) {
            return Err(DomainError::conflict("add_myself.already_owner", format!("you already own '{ws}'")));
        }
        out.changes.push(Change::EndBinding {
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
        role: Role::Workspace(role),
        starts_at: ctx.now,
        expires_at: Some(expires_at),
        source: BindingSource::Direct,
        created_by: Some(me.id),
        reason: None,
    };
    out.events.push(event(
        state,
        ctx,
        EventType::UserAssignedHimself,
        Some(&target),
        Some(me.email.to_string()),
        json!({
            "role": Role::Workspace(role).as_str(),
            "expires_at": time_json(Some(expires_at)),
            "binding_id": b.id.to_string(),
            "replaces_binding_id": existing.map(|o| o.id.to_string()),
        }),
    ));
    out.changes.push(Change::CreateBinding(b));
    Ok(out)
}

/// The acting user leaves a workspace: every binding they hold in it and its projects ends. The
/// last standing owner cannot leave.
pub fn leave_workspace(state: &State, ctx: &Ctx, ws: &Slug) -> Result<Changes, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let (w, _) = authz::visible_workspace(state, ctx, ws)?;
    let ending: Vec<&Binding> = state
        .bindings_of_user(me.id)
        .filter(|b| b.is_effective(ctx.now) && b.target.workspace() == ws)
        .collect();
    if ending.is_empty() {
        return Err(DomainError::not_found("member.not_found", format!("you hold no role in '{ws}'")));
    }
    guard_last_owner(state, w, me, false, ctx.now)?;
    let target = Target::Workspace(ws.clone());
    let ended: Vec<Value> = ending
        .iter()
        .map(|b| json!({"binding_id": b.id.to_string(), "project": b.target.project().map(Slug::as_str), "role": b.role.as_str(), "source": b.source.as_str()}))
        .collect();
    let mut out = Changes::default();
    out.events.push(event(
        state,
        ctx,
        EventType::UserRemoved,
        Some(&target),
        Some(me.email.to_string()),
        json!({"ended": ended, "left_themselves": true}),
    ));
    for b in ending {
        out.changes.push(Change::EndBinding {
            id: b.id,
            at: ctx.now,
            reason: EndReason::Removed,
            by: Some(me.id),
        });
    }
    Ok(out)
}
