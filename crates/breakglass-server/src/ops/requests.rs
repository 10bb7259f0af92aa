//! Access requests and what governs them: policies, entitlements, tasks and emergency reviews.
//! Bodies come as the API's request types where reading them needs the state (a policy's
//! approvers are looked up by address after its scope is authorised).

use breakglass_api as api;
use breakglass_core::access::{ApproverSet, Policy, RequestState, ReviewOutcome, Step};
use breakglass_core::authz;
use breakglass_core::cmd::policies::{self, PolicyInput, SetEntitlement};
use breakglass_core::cmd::requests::{self, NewRequest, RequestScope};
use breakglass_core::ident::{Email, Name, PolicyId, RequestId, ReviewId, Slug};
use breakglass_core::model::Target;
use breakglass_core::role::Role;
use breakglass_core::time::Span;
use breakglass_core::{Changes, Ctx, DomainError, State as Model};

use super::{page, read_ctx, ws_slug, OpResult, PageAsk, Written};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views;

fn not_found(code: &'static str, what: &str, id: &str) -> DomainError {
    DomainError::not_found(code, format!("{what} {id} not found"))
}

/// Parses a policy id from a path; a malformed one is as unknown as a missing one.
pub fn policy_id(id: &str) -> Result<PolicyId, DomainError> {
    PolicyId::parse(id).map_err(|_| not_found("policy.not_found", "policy", id))
}

/// Parses a request id from a path; a malformed one is as unknown as a missing one.
pub fn request_id(id: &str) -> Result<RequestId, DomainError> {
    RequestId::parse(id).map_err(|_| not_found("request.not_found", "request", id))
}

/// Parses a review id from a path; a malformed one is as unknown as a missing one.
pub fn review_id(id: &str) -> Result<ReviewId, DomainError> {
    ReviewId::parse(id).map_err(|_| not_found("review.not_found", "review", id))
}

/// Authorises the policy's scope before its approvers' e-mails are resolved, so that nobody
/// learns which addresses or workspaces exist from the errors.
fn authorize_policy_body(app: &App, caller: &Caller, body: &api::PolicyBody) -> Result<(), DomainError> {
    let ws = body.workspace.as_deref().map(ws_slug).transpose()?;
    policies::authorize_scope(&app.state(), &read_ctx(app, caller), ws.as_ref())
}

fn policy_input(state: &Model, body: &api::PolicyBody) -> Result<PolicyInput, DomainError> {
    let mut steps = Vec::new();
    for (i, s) in body.steps.iter().enumerate() {
        let approvers = match s.approvers.as_str() {
            "workspace_managers" => ApproverSet::WorkspaceManagers,
            "workspace_owners" => ApproverSet::WorkspaceOwners,
            "admin_area" => ApproverSet::AdminArea,
            "users" => {
                let mut ids = Vec::new();
                for e in &s.users {
                    let email = Email::parse(e)?;
                    let u = state.user_by_email(&email).ok_or_else(|| {
                        // A rule of the body, not a missing resource of the path: 422.
                        DomainError::rule("policy.unknown_approver", format!("step {}: no user with e-mail '{email}'", i + 1))
                    })?;
                    ids.push(u.id);
                }
                ApproverSet::Users(ids)
            }
            other => {
                return Err(DomainError::invalid(
                    "policy.invalid",
                    format!(
                        "step {}: unknown approvers '{other}': use workspace_managers, workspace_owners, admin_area or users",
                        i + 1
                    ),
                ))
            }
        };
        if !matches!(approvers, ApproverSet::Users(_)) && !s.users.is_empty() {
            return Err(DomainError::invalid(
                "policy.invalid",
                format!("step {}: users are only given with approvers 'users'", i + 1),
            ));
        }
        steps.push(Step { approvers, count: s.count });
    }
    Ok(PolicyInput {
        name: Name::parse(&body.name)?,
        workspace: body.workspace.as_deref().map(Slug::parse).transpose()?,
        steps,
        max_duration: body.max_duration.as_deref().map(Span::parse).transpose()?,
        justification_required: body.justification_required.unwrap_or(true),
        pending_ttl: body.pending_ttl.as_deref().map(Span::parse).transpose()?.unwrap_or(Span::days(7)),
    })
}

/// Creates an approval policy (installation-wide: admins; for a workspace: its owners and admins).
pub async fn create_policy(
    app: &App,
    caller: &Caller,
    body: &api::PolicyBody,
) -> OpResult<Written<api::Policy>> {
    authorize_policy_body(app, caller, body)?;
    let input = policy_input(&app.state(), body)?;
    let done =
        app.execute(caller.actor(), |state, ctx| policies::create_policy(state, ctx, input.clone())).await?;
    let state = app.state();
    let p = state.policy(done.value).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: views::policy(&state, p) })
}

/// A cursor key: the installation default first, then by name (and id, for equal names).
fn policy_key(p: &Policy) -> String {
    if p.id == Policy::DEFAULT_ID {
        String::new()
    } else {
        format!("{}\u{0}{}", p.name, p.id)
    }
}

/// The policies the caller can see: installation-wide ones and those of visible workspaces (of
/// `workspace` only, when given), the installation default first, then by name.
pub fn list_policies(
    app: &App,
    caller: &Caller,
    workspace: Option<&str>,
    ask: &PageAsk,
) -> OpResult<api::Page<api::Policy>> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let ws = workspace.map(ws_slug).transpose()?;
    if let Some(w) = &ws {
        authz::visible_workspace(&state, &ctx, w)?;
    }
    let default = Policy::installation_default();
    let mut found: Vec<&Policy> = vec![&default];
    for p in state.policies() {
        let visible = policies::visible_policy(&state, &ctx, p.id).is_ok();
        let wanted = match (&ws, &p.workspace) {
            (Some(w), Some(pw)) => w == pw,
            (Some(_), None) | (None, _) => true,
        };
        if visible && wanted {
            found.push(p);
        }
    }
    found.sort_by_cached_key(|p| policy_key(p));
    Ok(page(found, |p| policy_key(p), ask, |p| views::policy(&state, p))?)
}

/// One policy (the nil id is the installation default).
pub fn get_policy(app: &App, caller: &Caller, id: PolicyId) -> OpResult<api::Policy> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    if id == Policy::DEFAULT_ID {
        return Ok(views::policy(&state, &Policy::installation_default()));
    }
    let p = policies::visible_policy(&state, &ctx, id)?;
    Ok(views::policy(&state, p))
}

/// Replaces a policy's definition. Requests already open keep the copy they opened under.
pub async fn update_policy(
    app: &App,
    caller: &Caller,
    id: PolicyId,
    body: &api::PolicyBody,
) -> OpResult<Written<api::Policy>> {
    if id == Policy::DEFAULT_ID {
        return Err(DomainError::rule(
            "policy.default_immutable",
            "the installation default cannot change; create a policy and set it on entitlements",
        )
        .into());
    }
    authorize_policy_body(app, caller, body)?;
    let input = policy_input(&app.state(), body)?;
    let done = app
        .execute(caller.actor(), |state, ctx| {
            Ok((policies::update_policy(state, ctx, id, input.clone())?, ()))
        })
        .await?;
    let state = app.state();
    let p = state.policy(id).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: views::policy(&state, p) })
}

fn entitlement_view(state: &Model, target: &Target, role: Role) -> api::Entitlement {
    let ent = state.entitlement(target, role);
    let reference = |id: Option<PolicyId>| {
        id.and_then(|id| state.policy(id))
            .map(|p| api::PolicyRef { id: p.id.to_string(), name: p.name.to_string() })
    };
    let default = Policy::installation_default();
    api::Entitlement {
        workspace: target.workspace().to_string(),
        project: target.project().map(ToString::to_string),
        role: views::role(role),
        request_policy: reference(ent.and_then(|e| e.request_policy))
            .unwrap_or_else(|| api::PolicyRef { id: default.id.to_string(), name: default.name.to_string() }),
        emergency_enabled: ent.is_some_and(|e| e.emergency_enabled),
        emergency_policy: reference(ent.and_then(|e| e.emergency_policy)),
        default: ent.is_none(),
    }
}

/// Every entitlement of a workspace (its roles, then its projects' roles) with its settings.
pub fn list_entitlements(
    app: &App,
    caller: &Caller,
    ws: &str,
    ask: &PageAsk,
) -> OpResult<api::Page<api::Entitlement>> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let ws = ws_slug(ws)?;
    authz::visible_workspace(&state, &ctx, &ws)?;
    let workspace_roles = [
        Role::parse_workspace("member")?,
        Role::parse_workspace("manager")?,
        Role::parse_workspace("owner")?,
    ];
    let project_roles =
        [Role::parse_project("reader")?, Role::parse_project("user")?, Role::parse_project("admin")?];
    let mut targets: Vec<(Target, Role)> =
        workspace_roles.iter().map(|r| (Target::Workspace(ws.clone()), *r)).collect();
    for p in state.projects_of(&ws) {
        targets.extend(project_roles.iter().map(|r| (Target::Project(ws.clone(), p.id.clone()), *r)));
    }
    let key = |(t, r): &(Target, Role)| format!("{} {}", t.project().map_or("", |p| p.as_str()), r.rank());
    targets.sort_by_cached_key(key);
    Ok(page(targets, key, ask, |(t, r)| entitlement_view(&state, &t, r))?)
}

/// Sets the request policy and emergency settings of a role on a workspace or, with `project`,
/// a project of it (workspace owners and admins). Path segments come raw.
pub async fn set_entitlement(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    role: &str,
    body: &api::EntitlementBody,
) -> OpResult<Written<api::Entitlement>> {
    let ws = ws_slug(ws)?;
    let target = match project {
        None => Target::Workspace(ws),
        Some(p) => Target::Project(
            ws.clone(),
            Slug::parse(p).map_err(|_| {
                DomainError::not_found("project.not_found", format!("project '{p}' not found in '{ws}'"))
            })?,
        ),
    };
    let role = Role::parse_for(role, project.is_some())?;
    let policy = |s: &Option<String>| -> Result<Option<PolicyId>, DomainError> {
        match s.as_deref() {
            None | Some("default") => Ok(None),
            Some(id) => {
                let id = policy_id(id)?;
                Ok((id != Policy::DEFAULT_ID).then_some(id))
            }
        }
    };
    let cmd = SetEntitlement {
        target: target.clone(),
        role,
        request_policy: policy(&body.request_policy)?,
        emergency_enabled: body.emergency_enabled,
        emergency_policy: policy(&body.emergency_policy)?,
    };
    let done = app
        .execute(caller.actor(), |state, ctx| Ok((policies::set_entitlement(state, ctx, cmd.clone())?, ())))
        .await?;
    let state = app.state();
    Ok(Written { seq: done.seq, value: entitlement_view(&state, &target, role) })
}

fn request_view(app: &App, id: RequestId) -> OpResult<api::Request> {
    let now = app.now();
    let state = app.state();
    let r = state.request(id).ok_or_else(ApiError::internal)?;
    Ok(views::request(&state, r, now))
}

/// Requests an entitlement for the caller. The duration counts from the grant; an entitlement's
/// emergency policy applies with `emergency: true`. A policy without steps grants at once.
pub async fn create_request(
    app: &App,
    caller: &Caller,
    body: &api::CreateRequest,
) -> OpResult<Written<api::Request>> {
    let new = {
        let ctx = read_ctx(app, caller);
        let state = app.state();
        let ws = Slug::parse(&body.workspace)?;
        authz::visible_workspace(&state, &ctx, &ws)?;
        let target = match &body.project {
            None => Target::Workspace(ws),
            Some(p) => Target::Project(ws, Slug::parse(p)?),
        };
        NewRequest {
            target,
            role: Role::parse_for(&body.role, body.project.is_some())?,
            duration: Span::parse(&body.duration)?,
            justification: body.justification.clone(),
            emergency: body.emergency,
        }
    };
    let done =
        app.execute(caller.actor(), |state, ctx| requests::create_request(state, ctx, new.clone())).await?;
    Ok(Written { seq: done.seq, value: request_view(app, done.value)? })
}

/// A cursor key that sorts newest first and never shifts.
fn newest_first(at: breakglass_core::time::Timestamp, id: impl std::fmt::Display) -> String {
    format!("{:020}-{id}", i64::MAX - at.as_micros())
}

/// Requests, newest first: the caller's own (`scope` `mine`, the default) or all they may see
/// (`visible`), of one state or workspace when the query says so.
pub fn list_requests(app: &App, caller: &Caller, q: &api::RequestQuery) -> OpResult<api::Page<api::Request>> {
    let now = app.now();
    let state = app.state();
    let ctx = caller.ctx(now);
    let scope = q.scope.as_deref().map_or(Ok(RequestScope::Mine), RequestScope::parse)?;
    let wanted = q.state.as_deref().map(RequestState::parse).transpose()?;
    if let Some(w) = &q.workspace {
        Slug::check(w)?;
    }
    let found = requests::listed_requests(&state, &ctx, scope, wanted, q.workspace.as_deref())?;
    let ask = PageAsk { limit: q.limit, cursor: q.cursor.clone() };
    Ok(page(found, |r| newest_first(r.created_at, r.id), &ask, |r| views::request(&state, r, now))?)
}

/// One request (the user it is for, its creator, workspace managers, its approvers and the
/// admin area may see it).
pub fn get_request(app: &App, caller: &Caller, id: RequestId) -> OpResult<api::Request> {
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let r = requests::visible_request(&state, &ctx, id)?;
    Ok(views::request(&state, r, ctx.now))
}

async fn act(
    app: &App,
    caller: &Caller,
    id: RequestId,
    command: impl Fn(&Model, &Ctx, RequestId) -> Result<Changes, DomainError>,
) -> OpResult<Written<api::Request>> {
    let done = app.execute(caller.actor(), |state, ctx| Ok((command(state, ctx, id)?, ()))).await?;
    Ok(Written { seq: done.seq, value: request_view(app, id)? })
}

/// Approves the current step of a request; `is_override` for an admin-area override.
pub async fn approve(
    app: &App,
    caller: &Caller,
    id: RequestId,
    is_override: bool,
) -> OpResult<Written<api::Request>> {
    act(app, caller, id, |s, c, id| requests::approve(s, c, id, is_override)).await
}

/// Denies a request, with a reason.
pub async fn deny(
    app: &App,
    caller: &Caller,
    id: RequestId,
    reason: &str,
) -> OpResult<Written<api::Request>> {
    act(app, caller, id, |s, c, id| requests::deny(s, c, id, reason.to_owned())).await
}

/// Cancels the caller's own request.
pub async fn cancel(app: &App, caller: &Caller, id: RequestId) -> OpResult<Written<api::Request>> {
    act(app, caller, id, requests::cancel).await
}

/// Escalates the caller's open request to emergency.
pub async fn escalate(app: &App, caller: &Caller, id: RequestId) -> OpResult<Written<api::Request>> {
    act(app, caller, id, requests::escalate).await
}

/// The pending requests the caller may approve (or override): emergency ones first, then the
/// oldest first.
pub fn list_tasks(app: &App, caller: &Caller, ask: &PageAsk) -> OpResult<api::Page<api::Task>> {
    let now = app.now();
    let state = app.state();
    let mut found: Vec<_> = requests::tasks(&state, &caller.ctx(now))?
        .into_iter()
        .filter_map(|t| state.request(t.request).map(|r| (r, t)))
        .collect();
    let key = |(r, _): &(&breakglass_core::access::AccessRequest, requests::Task)| {
        format!("{}{:020}-{}", u8::from(!r.emergency), r.created_at.as_micros(), r.id)
    };
    found.sort_by_cached_key(key);
    Ok(page(found, key, ask, |(r, t)| api::Task {
        request: views::request(&state, r, now),
        can_approve: t.can_approve,
        override_only: t.override_only,
    })?)
}

/// Emergency reviews, newest first: those of workspaces whose history the caller may read, and
/// their own; open ones unless the query asks for `completed` or `all`.
pub fn list_reviews(app: &App, caller: &Caller, q: &api::ReviewQuery) -> OpResult<api::Page<api::Review>> {
    let now = app.now();
    let state = app.state();
    let ctx = caller.ctx(now);
    let open = match q.state.as_deref() {
        None | Some("open") => Some(true),
        Some("completed") => Some(false),
        Some("all") => None,
        Some(other) => {
            return Err(DomainError::invalid(
                "input.invalid_state",
                format!("unknown state '{other}': use open, completed or all"),
            )
            .into())
        }
    };
    if let Some(w) = &q.workspace {
        Slug::check(w)?;
    }
    let found = requests::listed_reviews(&state, &ctx, open, q.workspace.as_deref())?;
    let ask = PageAsk { limit: q.limit, cursor: q.cursor.clone() };
    Ok(page(found, |r| newest_first(r.opened_at, r.id), &ask, |r| views::review(&state, r))?)
}

/// Completes an emergency review (workspace managers and the admin area; never the holder).
pub async fn complete_review(
    app: &App,
    caller: &Caller,
    id: ReviewId,
    outcome: ReviewOutcome,
    notes: Option<String>,
) -> OpResult<Written<api::Review>> {
    let done = app
        .execute(caller.actor(), |state, ctx| {
            Ok((requests::complete_review(state, ctx, id, outcome, notes.clone())?, ()))
        })
        .await?;
    let state = app.state();
    let r = state.review(id).ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: views::review(&state, r) })
}

/// The caller's task on one request, if they may approve (or override) it now.
pub fn task_on(app: &App, caller: &Caller, id: RequestId) -> OpResult<Option<api::Task>> {
    let now = app.now();
    let state = app.state();
    let task = requests::tasks(&state, &caller.ctx(now))?.into_iter().find(|t| t.request == id);
    Ok(task.and_then(|t| {
        state.request(id).map(|r| api::Task {
            request: views::request(&state, r, now),
            can_approve: t.can_approve,
            override_only: t.override_only,
        })
    }))
}

/// The emergency review of one request, if it has one the caller may see.
pub fn review_of(app: &App, caller: &Caller, id: RequestId) -> OpResult<Option<api::Review>> {
    let state = app.state();
    let found = requests::listed_reviews(&state, &caller.ctx(app.now()), None, None)?;
    Ok(found.into_iter().find(|r| r.request == id).map(|r| views::review(&state, r)))
}
