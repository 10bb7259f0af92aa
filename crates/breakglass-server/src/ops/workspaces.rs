//! Workspaces, projects, memberships and temporary grants. Path segments come raw: resolving
//! them checks visibility first, so an outsider learns nothing of what exists.

use breakglass_api as api;
use breakglass_core::authz::{self, WorkspaceAccess};
use breakglass_core::cmd::members::{self, Assigned, NewGrant, SetMember};
use breakglass_core::cmd::workspaces::{self, NewProject, NewWorkspace};
use breakglass_core::ident::{BindingId, Email, Name, Slug};
use breakglass_core::model::{BindingSource, Target, Workspace, WorkspaceStatus};
use breakglass_core::org::{TagKey, Tags};
use breakglass_core::role::{Role, WorkspaceRole};
use breakglass_core::{Ctx, DomainError, State as Model};

use super::{page, read_ctx, ws_slug, OpResult, PageAsk, Written};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views;

fn project_slug(ws: &Slug, s: &str) -> Result<Slug, DomainError> {
    Slug::parse(s).map_err(|_| project_not_found(ws, s))
}

fn project_not_found(ws: &Slug, p: &str) -> DomainError {
    DomainError::not_found("project.not_found", format!("project '{p}' not found in workspace '{ws}'"))
}

/// The workspace if the caller may see it.
fn visible<'a>(
    state: &'a Model,
    ctx: &Ctx,
    ws: &Slug,
) -> Result<(&'a Workspace, WorkspaceAccess), DomainError> {
    authz::visible_workspace(state, ctx, ws)
}

/// The target of a member path, checked for visibility (404 otherwise).
fn target(state: &Model, ctx: &Ctx, ws: &str, project: Option<&str>) -> Result<Target, DomainError> {
    let ws = ws_slug(ws)?;
    visible(state, ctx, &ws)?;
    match project {
        None => Ok(Target::Workspace(ws)),
        Some(p) => {
            let p = project_slug(&ws, p)?;
            if state.project(&ws, &p).is_none() {
                return Err(project_not_found(&ws, p.as_str()));
            }
            Ok(Target::Project(ws, p))
        }
    }
}

/// What an assignment led to: the binding, or a request opened for approval first.
#[derive(Debug)]
// An answer lives for one request: boxing the binding would buy an allocation and nothing else.
#[allow(clippy::large_enum_variant)]
pub enum Assignment {
    /// The role is held.
    Binding(api::Binding),
    /// The role needs approval: this request was opened (with the caller's approval).
    Request(Box<api::Request>),
}

/// Creates a workspace (admins and employees). Its owners default to the caller.
pub async fn create_workspace(
    app: &App,
    caller: &Caller,
    body: &api::CreateWorkspace,
) -> OpResult<Written<api::Workspace>> {
    let new = NewWorkspace {
        id: Slug::parse(&body.identifier)?,
        name: Name::parse(&body.name)?,
        owners: body.owners.iter().map(|e| Email::parse(e)).collect::<Result<_, _>>()?,
        members: body
            .members
            .iter()
            .map(|m| Ok((Email::parse(&m.email)?, WorkspaceRole::parse(&m.role)?)))
            .collect::<Result<_, DomainError>>()?,
        project_quota: body.project_quota.unwrap_or(app.state().settings().default_project_quota),
        tags: parse_tags(&body.tags)?,
    };
    let id = new.id.clone();
    let done = app
        .execute(caller.actor(), |state, ctx| {
            Ok((workspaces::create_workspace(state, ctx, new.clone())?, ()))
        })
        .await?;
    let state = app.state();
    let ws = state.workspace(&id).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: views::workspace(&state, ws) })
}

/// The workspaces the caller can see (all of them for the admin area), by identifier, of one
/// status or carrying one tag when the query says so.
pub fn list_workspaces(
    app: &App,
    caller: &Caller,
    q: &api::ListQuery,
) -> OpResult<api::Page<api::Workspace>> {
    let status = q.status.as_deref().map(WorkspaceStatus::parse).transpose()?;
    let tag = q.tag.as_deref().map(TagFilter::parse).transpose()?;
    let state = app.state();
    let found = workspaces::listed(&state, &read_ctx(app, caller))?
        .into_iter()
        .filter(|w| status.is_none_or(|s| w.status == s) && tag.as_ref().is_none_or(|t| t.matches(&w.tags)));
    let ask = PageAsk { limit: q.limit, cursor: q.cursor.clone() };
    Ok(page(found, |w| w.id.to_string(), &ask, |w| views::workspace(&state, w))?)
}

/// One workspace.
pub fn get_workspace(app: &App, caller: &Caller, ws: &str) -> OpResult<api::Workspace> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let (w, _) = visible(&state, &ctx, &ws_slug(ws)?)?;
    Ok(views::workspace(&state, w))
}

/// Who holds which role now (memberships and grants) on a workspace or, with `project`, a
/// project of it, by address.
pub fn members(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    ask: &PageAsk,
) -> OpResult<api::Page<api::Binding>> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let target = target(&state, &ctx, ws, project)?;
    let email = |b: &breakglass_core::model::Binding| {
        state.user(b.user).map_or_else(|| b.user.to_string(), |u| u.email.to_string())
    };
    let mut found: Vec<_> = state.bindings_on(&target).filter(|b| b.is_effective(ctx.now)).collect();
    let key = |b: &&breakglass_core::model::Binding| format!("{} {}", email(b), b.id);
    found.sort_by_cached_key(key);
    Ok(page(found, key, ask, |b| views::binding(&state, b))?)
}

/// Sets a user's membership role on a workspace or project (and optional expiry), replacing any
/// previous one; a role that needs approval opens a request instead.
pub async fn set_member(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    email: &str,
    body: &api::SetMember,
) -> OpResult<Written<Assignment>> {
    let (target, cmd) = {
        let ctx = read_ctx(app, caller);
        let state = app.state();
        // The target first (an outsider learns nothing, not even that their input was bad).
        let target = target(&state, &ctx, ws, project)?;
        let cmd = SetMember {
            target: target.clone(),
            email: Email::parse(email)?,
            role: Role::parse_for(&body.role, project.is_some())?,
            expires_at: super::expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), ctx.now)?,
            justification: body.justification.clone(),
        };
        (target, cmd)
    };
    let done = app
        .execute(caller.actor(), |state, ctx| {
            let changes = members::set_member(state, ctx, cmd.clone())?;
            let request = members::opened_request(&changes);
            Ok((changes, request))
        })
        .await?;
    let now = app.now();
    let state = app.state();
    if let Some(id) = done.value {
        let r = state.request(id).ok_or_else(ApiError::internal)?;
        return Ok(Written {
            seq: done.seq,
            value: Assignment::Request(Box::new(views::request(&state, r, now))),
        });
    }
    let user = state.user_by_email(&cmd.email).ok_or_else(ApiError::internal)?;
    let b = state
        .bindings_on(&target)
        .find(|b| b.user == user.id && b.source == BindingSource::Direct && b.is_effective(now))
        .ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: Assignment::Binding(views::binding(&state, b)) })
}

/// Removes a user from a workspace (and all its projects) or from one project.
pub async fn remove_member(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    email: &str,
) -> OpResult<Written<()>> {
    let (target, email) = {
        let ctx = read_ctx(app, caller);
        let state = app.state();
        (target(&state, &ctx, ws, project)?, Email::parse(email)?)
    };
    let done = app
        .execute(caller.actor(), |state, ctx| Ok((members::remove_member(state, ctx, &target, &email)?, ())))
        .await?;
    Ok(Written { seq: done.seq, value: () })
}

/// Creates a project within the workspace's quota.
pub async fn create_project(
    app: &App,
    caller: &Caller,
    ws: &str,
    body: &api::CreateProject,
) -> OpResult<Written<api::Project>> {
    let ws = ws_slug(ws)?;
    {
        // Visibility first: an outsider learns nothing, not even that their input was bad.
        let ctx = read_ctx(app, caller);
        visible(&app.state(), &ctx, &ws)?;
    }
    let new = NewProject {
        workspace: ws.clone(),
        id: Slug::parse(&body.identifier)?,
        name: Name::parse(&body.name)?,
        tags: parse_tags(&body.tags)?,
    };
    let done = app
        .execute(caller.actor(), |state, ctx| Ok((workspaces::create_project(state, ctx, new.clone())?, ())))
        .await?;
    let state = app.state();
    let p = state.project(&ws, &new.id).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: views::project(p) })
}

/// A workspace's projects by identifier, carrying one tag when the query says so.
pub fn list_projects(
    app: &App,
    caller: &Caller,
    ws: &str,
    q: &api::ListQuery,
) -> OpResult<api::Page<api::Project>> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let ws = ws_slug(ws)?;
    visible(&state, &ctx, &ws)?;
    if q.status.is_some() {
        return Err(
            DomainError::invalid("input.invalid_query", "projects have no status to filter on").into()
        );
    }
    let tag = q.tag.as_deref().map(TagFilter::parse).transpose()?;
    let found = state.projects_of(&ws).filter(|p| tag.as_ref().is_none_or(|t| t.matches(&p.tags)));
    let ask = PageAsk { limit: q.limit, cursor: q.cursor.clone() };
    Ok(page(found, |p| p.id.to_string(), &ask, views::project)?)
}

/// One project.
pub fn get_project(app: &App, caller: &Caller, ws: &str, p: &str) -> OpResult<api::Project> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let t = target(&state, &ctx, ws, Some(p))?;
    let project = match &t {
        Target::Project(ws, p) => state.project(ws, p),
        Target::Workspace(_) => None,
    }
    .ok_or_else(ApiError::internal)?;
    Ok(views::project(project))
}

/// Grants a role until an instant, on top of whatever the user already holds; a role that
/// needs approval opens a request instead.
pub async fn create_grant(
    app: &App,
    caller: &Caller,
    body: &api::CreateGrant,
) -> OpResult<Written<Assignment>> {
    let cmd = {
        let ctx = read_ctx(app, caller);
        let state = app.state();
        let target = target(&state, &ctx, &body.workspace, body.project.as_deref())?;
        let expires_at = super::expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), ctx.now)?
            .ok_or_else(|| {
                DomainError::invalid("input.missing_expiry", "a grant needs expires_at or expires_in")
            })?;
        NewGrant {
            target,
            email: Email::parse(&body.user)?,
            role: Role::parse_for(&body.role, body.project.is_some())?,
            expires_at,
            reason: body.reason.clone(),
        }
    };
    let done = app.execute(caller.actor(), |state, ctx| members::grant(state, ctx, cmd.clone())).await?;
    let state = app.state();
    let value = match done.value {
        Assigned::Binding(id) => {
            Assignment::Binding(views::binding(&state, state.binding(id).ok_or_else(ApiError::internal)?))
        }
        Assigned::Request(id) => {
            let r = state.request(id).ok_or_else(ApiError::internal)?;
            Assignment::Request(Box::new(views::request(&state, r, app.now())))
        }
    };
    Ok(Written { seq: done.seq, value })
}

/// Parses a grant id from a path; a malformed one is as unknown as a missing one.
pub fn grant_id(id: &str) -> Result<BindingId, DomainError> {
    BindingId::parse(id)
        .map_err(|_| DomainError::not_found("grant.not_found", format!("grant {id} not found")))
}

/// Ends a grant early (managers, or its holder giving it up).
pub async fn revoke_grant(app: &App, caller: &Caller, id: BindingId) -> OpResult<Written<()>> {
    let done =
        app.execute(caller.actor(), |state, ctx| Ok((members::revoke_grant(state, ctx, id)?, ()))).await?;
    Ok(Written { seq: done.seq, value: () })
}

/// Parses tags given on the wire; values are checked against their definitions by the core.
pub fn parse_tags(given: &std::collections::BTreeMap<String, String>) -> Result<Tags, DomainError> {
    given.iter().map(|(k, v)| Ok((TagKey::parse(k)?, v.clone()))).collect()
}

/// A `?tag=key` or `?tag=key:value` filter.
pub struct TagFilter {
    key: TagKey,
    value: Option<String>,
}

impl TagFilter {
    /// Parses the filter.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let (k, v) = match s.split_once(':') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (s, None),
        };
        Ok(Self { key: TagKey::parse(k)?, value: v })
    }

    /// True when `tags` carry the key (with the value, if one was given).
    pub fn matches(&self, tags: &Tags) -> bool {
        tags.get(&self.key).is_some_and(|v| self.value.as_ref().is_none_or(|want| want == v))
    }
}
