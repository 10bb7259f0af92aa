//! Creating workspaces and projects.

use serde_json::json;

use crate::audit::EventType;
use crate::authz;
use crate::change::{Change, Changes};
use crate::cmd::admin::MAX_QUOTA;
use crate::cmd::event;
use crate::cmd::tags::resolve_tags;
use crate::ctx::Ctx;
use crate::error::DomainError;
use crate::ident::{BindingId, Email, Name, Slug};
use crate::model::{Binding, BindingSource, Project, Target, Workspace, WorkspaceStatus};
use crate::org::{TagTarget, Tags};
use crate::role::{Role, WorkspaceRole};
use crate::state::State;

/// Input for a new workspace.
#[derive(Clone, Debug)]
pub struct NewWorkspace {
    /// Immutable identifier.
    pub id: Slug,
    /// Display name.
    pub name: Name,
    /// Users who become its owners. Empty (and no owner among `members`): the creating user
    /// becomes the owner.
    pub owners: Vec<Email>,
    /// Further initial users and their roles.
    pub members: Vec<(Email, WorkspaceRole)>,
    /// Maximum number of projects.
    pub project_quota: u32,
    /// Tags (mandatory ones required unless they have a default).
    pub tags: Tags,
}

/// Creates an active workspace with its initial owners. Admins and employees may; the quota is at
/// most [`MAX_QUOTA`], as for [`crate::cmd::admin::set_quota`].
pub fn create_workspace(state: &State, ctx: &Ctx, new: NewWorkspace) -> Result<Changes, DomainError> {
    if !authz::actor_admin_role(state, ctx)?.manages_workspaces() {
        return Err(DomainError::forbidden("only admins and employees may create workspaces"));
    }
    if new.project_quota > MAX_QUOTA {
        return Err(DomainError::invalid("input.invalid_quota", format!("a quota is at most {MAX_QUOTA}")));
    }
    if state.workspace(&new.id).is_some() {
        return Err(DomainError::conflict(
            "workspace.exists",
            format!("a workspace with identifier '{}' already exists", new.id),
        ));
    }
    // Each initial user once, with the highest role they are given.
    let mut initial: Vec<(crate::ident::UserId, WorkspaceRole)> = Vec::new();
    let given =
        new.owners.iter().map(|e| (e, WorkspaceRole::Owner)).chain(new.members.iter().map(|(e, r)| (e, *r)));
    for (email, role) in given {
        let u = state.user_by_email(email).ok_or_else(|| user_not_found(email))?;
        match initial.iter_mut().find(|(id, _)| *id == u.id) {
            Some(entry) => entry.1 = entry.1.max(role),
            None => initial.push((u.id, role)),
        }
    }
    if !initial.iter().any(|(_, r)| *r == WorkspaceRole::Owner) {
        if let Some(me) = ctx.user() {
            match initial.iter_mut().find(|(id, _)| *id == me) {
                Some(entry) => entry.1 = WorkspaceRole::Owner,
                None => initial.insert(0, (me, WorkspaceRole::Owner)),
            }
        }
    }
    let admin_area = authz::actor_admin_role(state, ctx)?.manages_workspaces();
    let tags = resolve_tags(state, TagTarget::Workspace, &new.tags, admin_area)?;
    let ws = Workspace {
        id: new.id.clone(),
        name: new.name,
        status: WorkspaceStatus::Active,
        project_quota: new.project_quota,
        tags,
        created_at: ctx.now,
    };
    let target = Target::Workspace(new.id.clone());
    let email_of =
        |id: crate::ident::UserId| state.user(id).map_or_else(|| id.to_string(), |u| u.email.to_string());
    let owner_emails: Vec<String> =
        initial.iter().filter(|(_, r)| *r == WorkspaceRole::Owner).map(|(id, _)| email_of(*id)).collect();
    let members: Vec<serde_json::Value> = initial
        .iter()
        .filter(|(_, r)| *r != WorkspaceRole::Owner)
        .map(|(id, r)| json!({"user": email_of(*id), "role": Role::Workspace(*r).as_str()}))
        .collect();
    let mut out = Changes::default();
    out.events.push(event(
        state,
        ctx,
        EventType::WorkspaceCreated,
        Some(&target),
        None,
        json!({
            "name": ws.name.as_str(),
            "project_quota": ws.project_quota,
            "owners": owner_emails,
            "members": members,
            "tags": ws.tags,
        }),
    ));
    out.changes.push(Change::CreateWorkspace(ws));
    for (user, role) in initial {
        let email = email_of(user);
        let b = Binding {
            id: BindingId(ctx.next_id()),
            user,
            target: target.clone(),
            role: Role::Workspace(role),
            starts_at: ctx.now,
            expires_at: None,
            source: BindingSource::Direct,
            created_by: ctx.user(),
            reason: None,
        };
        out.events.push(event(
            state,
            ctx,
            EventType::UserAssigned,
            Some(&target),
            Some(email),
            json!({"role": Role::Workspace(role).as_str(), "expires_at": null, "binding_id": b.id.to_string()}),
        ));
        out.changes.push(Change::CreateBinding(b));
    }
    Ok(out)
}

/// Input for a new project.
#[derive(Clone, Debug)]
pub struct NewProject {
    /// The workspace it belongs to.
    pub workspace: Slug,
    /// Immutable identifier, unique in the workspace.
    pub id: Slug,
    /// Display name.
    pub name: Name,
    /// Tags (mandatory ones required unless they have a default).
    pub tags: Tags,
}

/// Creates a project within the workspace's quota. Managers of the workspace, admins and
/// employees may.
pub fn create_project(state: &State, ctx: &Ctx, new: NewProject) -> Result<Changes, DomainError> {
    let (ws, access) = authz::visible_workspace(state, ctx, &new.workspace)?;
    if !access.manage {
        return Err(DomainError::forbidden(format!(
            "only managers of '{}' may create projects in it",
            ws.id
        )));
    }
    require_active(ws)?;
    if state.project(&ws.id, &new.id).is_some() {
        return Err(DomainError::conflict(
            "project.exists",
            format!("project '{}' already exists in workspace '{}'", new.id, ws.id),
        ));
    }
    let count = state.projects_of(&ws.id).count();
    if count >= ws.project_quota as usize {
        return Err(quota_exceeded(ws));
    }
    let admin_area = authz::actor_admin_role(state, ctx)?.manages_workspaces();
    let tags = resolve_tags(state, TagTarget::Project, &new.tags, admin_area)?;
    let project =
        Project { workspace: ws.id.clone(), id: new.id.clone(), name: new.name, tags, created_at: ctx.now };
    let target = Target::Project(ws.id.clone(), new.id);
    Ok(Changes {
        events: vec![event(
            state,
            ctx,
            EventType::ProjectCreated,
            Some(&target),
            None,
            json!({"name": project.name.as_str(), "tags": project.tags}),
        )],
        changes: vec![Change::CreateProject { project, quota: ws.project_quota }],
    })
}

/// The error for a workspace whose project quota is used up.
pub fn quota_exceeded(ws: &Workspace) -> DomainError {
    DomainError::rule(
        "workspace.quota_exceeded",
        format!("workspace '{}' already has its quota of {} projects", ws.id, ws.project_quota),
    )
}

/// Refuses changes in a workspace that is not active.
pub(crate) fn require_active(ws: &Workspace) -> Result<(), DomainError> {
    match ws.status {
        WorkspaceStatus::Active => Ok(()),
        WorkspaceStatus::Disabled => {
            Err(DomainError::rule("workspace.disabled", format!("workspace '{}' is disabled", ws.id)))
        }
        WorkspaceStatus::PendingApproval => Err(DomainError::rule(
            "workspace.pending_approval",
            format!("workspace '{}' is waiting for approval", ws.id),
        )),
        WorkspaceStatus::Rejected => Err(DomainError::rule(
            "workspace.rejected",
            format!("the registration of workspace '{}' was rejected", ws.id),
        )),
    }
}

/// The error for an e-mail that names no user.
pub(crate) fn user_not_found(email: &Email) -> DomainError {
    DomainError::not_found("user.not_found", format!("no user with e-mail '{email}'"))
}

/// The workspaces a listing shows the actor, by identifier: every one for the admin area,
/// otherwise those where they hold a role now; either way only those their credential reaches.
pub fn listed<'s>(state: &'s State, ctx: &Ctx) -> Result<Vec<&'s Workspace>, DomainError> {
    let me = authz::acting_user(state, ctx)?;
    let mut found: Vec<&Workspace> = if authz::actor_admin_role(state, ctx)? == crate::role::AdminRole::None {
        let mut mine: Vec<&Slug> = state
            .bindings_of_user(me.id)
            .filter(|b| b.is_effective(ctx.now))
            .map(|b| b.target.workspace())
            .collect();
        mine.sort();
        mine.dedup();
        mine.into_iter().filter_map(|id| state.workspace(id)).collect()
    } else {
        state.workspaces().collect()
    };
    found.retain(|w| ctx.bounds.covers(&w.id));
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}
