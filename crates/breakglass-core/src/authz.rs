//! Who may do what. Deny by default: every right below is granted explicitly.

use crate::ctx::{Actor, Ctx};
use crate::error::DomainError;
use crate::ident::Slug;
use crate::model::{User, UserStatus, Workspace};
use crate::role::{AdminRole, WorkspaceRole};
use crate::state::State;
use crate::time::Timestamp;

/// What a caller may do in one workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkspaceAccess {
    /// May see the workspace, its projects and members. Without it the workspace is invisible
    /// (404), never "forbidden".
    pub see: bool,
    /// May read the workspace's and its projects' history.
    pub read_history: bool,
    /// May create projects and manage members with roles below manager, and project members.
    pub manage: bool,
    /// May also assign, change and remove managers and owners.
    pub manage_managers: bool,
}

impl WorkspaceAccess {
    const FULL: Self = Self { see: true, read_history: true, manage: true, manage_managers: true };
}

/// The rights of `user` in `ws` at `now`.
pub fn workspace_access(state: &State, user: &User, ws: &Slug, now: Timestamp) -> WorkspaceAccess {
    access_with(state, user, user.admin_role, ws, now)
}

fn access_with(
    state: &State,
    user: &User,
    admin_role: AdminRole,
    ws: &Slug,
    now: Timestamp,
) -> WorkspaceAccess {
    if user.status != UserStatus::Active {
        return WorkspaceAccess::default();
    }
    match admin_role {
        AdminRole::Admin | AdminRole::Employee => return WorkspaceAccess::FULL,
        AdminRole::Auditor => return WorkspaceAccess { see: true, read_history: true, ..Default::default() },
        AdminRole::None => {}
    }
    match state.workspace_role(user.id, ws, now) {
        Some(WorkspaceRole::Owner) => WorkspaceAccess::FULL,
        Some(WorkspaceRole::Manager) => {
            WorkspaceAccess { see: true, read_history: true, manage: true, manage_managers: false }
        }
        Some(WorkspaceRole::Member) => WorkspaceAccess { see: true, ..Default::default() },
        None if state.has_any_binding_in(user.id, ws, now) => {
            WorkspaceAccess { see: true, ..Default::default() }
        }
        None => WorkspaceAccess::default(),
    }
}

/// The rights of the context's actor in `ws`, cut down to the credential's scope; the system has
/// every right. Commands and handlers decide workspace rights only through this function (or
/// [`visible_workspace`]), so a scoped token or a delegation can never reach further.
pub fn actor_access(state: &State, ctx: &Ctx, ws: &Slug) -> Result<WorkspaceAccess, DomainError> {
    match ctx.actor {
        Actor::System => Ok(WorkspaceAccess::FULL),
        Actor::User(_) => {
            let me = acting_user(state, ctx)?;
            if !ctx.bounds.covers(ws) {
                return Ok(WorkspaceAccess::default());
            }
            // An auditor stays an auditor under a scope (reading, never managing), even where they
            // hold a workspace role: their bindings never count for more than reading.
            let role = match me.admin_role {
                AdminRole::Auditor => AdminRole::Auditor,
                role => bounded_role(role, ctx),
            };
            Ok(access_with(state, me, role, ws, ctx.now))
        }
    }
}

/// The acting user, refused when unknown or disabled.
pub fn acting_user<'a>(state: &'a State, ctx: &Ctx) -> Result<&'a User, DomainError> {
    let Actor::User(id) = ctx.actor else {
        return Err(DomainError::forbidden("this action needs a signed-in user"));
    };
    match state.user(id) {
        Some(u) if u.status == UserStatus::Active => Ok(u),
        _ => Err(DomainError::forbidden("the acting user is unknown or disabled")),
    }
}

/// The admin-area role the actor may use; the system counts as admin. A credential confined to
/// workspaces carries none: it holds the owner's workspace roles there and nothing else (the
/// admin area's settings, users, lists and its reach into workspaces need an unscoped one).
pub fn actor_admin_role(state: &State, ctx: &Ctx) -> Result<AdminRole, DomainError> {
    match ctx.actor {
        Actor::System => Ok(AdminRole::Admin),
        Actor::User(_) => Ok(bounded_role(acting_user(state, ctx)?.admin_role, ctx)),
    }
}

/// `role` as far as the credential in use carries it: not at all when confined to workspaces.
fn bounded_role(role: AdminRole, ctx: &Ctx) -> AdminRole {
    if ctx.bounds.scope.is_some() {
        AdminRole::None
    } else {
        role
    }
}

/// Refuses a caller acting through a delegation: tokens and accesses are their owner's alone, to
/// see as well as to change.
pub fn refuse_delegate(ctx: &Ctx) -> Result<(), DomainError> {
    if ctx.bounds.delegate.is_some() {
        return Err(DomainError::Forbidden {
            code: "delegation.not_allowed",
            message: "tokens and accesses are managed by their owner only, never through a delegation".into(),
        });
    }
    Ok(())
}

/// Refuses a credential that may not manage tokens and accesses: one used through a delegation,
/// confined to a workspace, or read-only. Otherwise a delegate could mint themselves a token
/// of the owner, or a scoped token an unscoped one.
pub fn require_unbounded(ctx: &Ctx) -> Result<(), DomainError> {
    refuse_delegate(ctx)?;
    if !ctx.bounds.is_unbounded() {
        return Err(DomainError::Forbidden {
            code: "token.insufficient_scope",
            message: "managing tokens and accesses needs a session or an unscoped, writable token".into(),
        });
    }
    Ok(())
}

/// The workspace, if the actor may see it; otherwise the same 404 as for one that does not exist.
pub fn visible_workspace<'a>(
    state: &'a State,
    ctx: &Ctx,
    ws: &Slug,
) -> Result<(&'a Workspace, WorkspaceAccess), DomainError> {
    let access = actor_access(state, ctx, ws)?;
    match state.workspace(ws) {
        Some(w) if access.see => Ok((w, access)),
        _ => Err(workspace_not_found(ws)),
    }
}

/// The error for a workspace that does not exist or is not visible to the caller.
pub fn workspace_not_found(ws: &Slug) -> DomainError {
    DomainError::not_found("workspace.not_found", format!("workspace '{ws}' not found"))
}

/// May the actor list all users of the installation?
pub fn can_list_users(state: &State, ctx: &Ctx) -> bool {
    actor_admin_role(state, ctx).is_ok_and(|r| r.reads_everything())
}

/// May the actor read the whole audit log and verify its chain?
pub fn can_read_audit(state: &State, ctx: &Ctx) -> bool {
    actor_admin_role(state, ctx).is_ok_and(|r| r.reads_everything())
}
