//! Access requests and what governs them: policies, entitlements, tasks and emergency reviews.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::access::{ApproverSet, Policy, RequestState, ReviewOutcome, Step};
use breakglass_core::authz;
use breakglass_core::cmd::policies::{self, PolicyInput, SetEntitlement};
use breakglass_core::cmd::requests::{self, NewRequest};
use breakglass_core::ident::{Email, Name, PolicyId, RequestId, ReviewId, Slug};
use breakglass_core::model::{Target, User};
use breakglass_core::role::Role;
use breakglass_core::time::Span;
use breakglass_core::{Changes, Ctx, DomainError, State as Model};

use super::{paginate, paginate_keyed, written, ApiJson, ApiQuery, ApiResult, OptionalJson};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views;

fn read_ctx(app: &App, caller: &Caller) -> Ctx {
    caller.ctx(app.now())
}

fn me<'a>(state: &'a Model, caller: &Caller) -> Result<&'a User, ApiError> {
    state.user(caller.user).ok_or_else(ApiError::internal)
}

fn not_found(code: &'static str, what: &str, id: &str) -> DomainError {
    DomainError::not_found(code, format!("{what} {id} not found"))
}

/// Authorises the policy's scope before its approvers' e-mails are resolved, so that nobody
/// learns which addresses or workspaces exist from the errors.
fn authorize_policy_body(app: &App, caller: &Caller, body: &api::PolicyBody) -> Result<(), DomainError> {
    let ws = body
        .workspace
        .as_deref()
        .map(|w| {
            Slug::parse(w).map_err(|_| {
                DomainError::not_found("workspace.not_found", format!("workspace '{w}' not found"))
            })
        })
        .transpose()?;
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
#[utoipa::path(post, path = "/api/v1/policies", tag = "requests",
    request_body = api::PolicyBody,
    responses(
        (status = 201, description = "Created", body = api::Policy),
        (status = 403, description = "Not allowed to manage policies there", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid policy", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_policy(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::PolicyBody>,
) -> ApiResult {
    authorize_policy_body(&app, &caller, &body)?;
    let input = policy_input(&app.state(), &body)?;
    let done =
        app.execute(caller.actor(), |state, ctx| policies::create_policy(state, ctx, input.clone())).await?;
    let state = app.state();
    let p = state.policy(done.value).ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::CREATED, done.seq, &views::policy(&state, p)))
}

/// Lists the policies the caller can see: installation-wide ones and those of visible workspaces.
#[utoipa::path(get, path = "/api/v1/policies", tag = "requests",
    params(api::PolicyQuery),
    responses((status = 200, description = "Policies by name (the installation default first)", body = api::Page<api::Policy>)))]
pub async fn list_policies(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PolicyQuery>,
) -> ApiResult<Json<api::Page<api::Policy>>> {
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let ws = q
        .workspace
        .as_deref()
        .map(|w| {
            Slug::parse(w).map_err(|_| {
                DomainError::not_found("workspace.not_found", format!("workspace '{w}' not found"))
            })
        })
        .transpose()?;
    if let Some(w) = &ws {
        authz::visible_workspace(&state, &ctx, w)?;
    }
    let default = Policy::installation_default();
    let mut items = vec![views::policy(&state, &default)];
    for p in state.policies() {
        let visible = policies::visible_policy(&state, &ctx, p.id).is_ok();
        let wanted = match (&ws, &p.workspace) {
            (Some(w), Some(pw)) => w == pw,
            (Some(_), None) | (None, _) => true,
        };
        if visible && wanted {
            items.push(views::policy(&state, p));
        }
    }
    let keyed: Vec<(String, api::Policy)> =
        items.into_iter().enumerate().map(|(i, p)| (format!("{i:08}"), p)).collect();
    Ok(Json(paginate_keyed(keyed, q.limit, q.cursor.clone())?))
}

fn parse_policy_id(id: &str) -> Result<PolicyId, DomainError> {
    PolicyId::parse(id).map_err(|_| not_found("policy.not_found", "policy", id))
}

/// One policy (the nil id is the installation default).
#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "requests",
    params(("id" = String, Path, description = "Policy id")),
    responses(
        (status = 200, description = "The policy", body = api::Policy),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_policy(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Policy>> {
    let id = parse_policy_id(&id)?;
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    if id == Policy::DEFAULT_ID {
        return Ok(Json(views::policy(&state, &Policy::installation_default())));
    }
    let p = policies::visible_policy(&state, &ctx, id)?;
    Ok(Json(views::policy(&state, p)))
}

/// Replaces a policy's definition. Requests already open keep the copy they opened under.
#[utoipa::path(put, path = "/api/v1/policies/{id}", tag = "requests",
    params(("id" = String, Path, description = "Policy id")),
    request_body = api::PolicyBody,
    responses(
        (status = 200, description = "The updated policy", body = api::Policy),
        (status = 403, description = "Not allowed", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid policy", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_policy(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<api::PolicyBody>,
) -> ApiResult {
    let id = parse_policy_id(&id)?;
    if id == Policy::DEFAULT_ID {
        return Err(DomainError::rule(
            "policy.default_immutable",
            "the installation default cannot change; create a policy and set it on entitlements",
        )
        .into());
    }
    authorize_policy_body(&app, &caller, &body)?;
    let input = policy_input(&app.state(), &body)?;
    let done = app
        .execute(caller.actor(), |state, ctx| {
            Ok((policies::update_policy(state, ctx, id, input.clone())?, ()))
        })
        .await?;
    let state = app.state();
    let p = state.policy(id).ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::OK, done.seq, &views::policy(&state, p)))
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
        role: crate::views::role(role),
        request_policy: reference(ent.and_then(|e| e.request_policy))
            .unwrap_or_else(|| api::PolicyRef { id: default.id.to_string(), name: default.name.to_string() }),
        emergency_enabled: ent.is_some_and(|e| e.emergency_enabled),
        emergency_policy: reference(ent.and_then(|e| e.emergency_policy)),
        default: ent.is_none(),
    }
}

/// Every entitlement of a workspace (its roles and its projects' roles) with its settings.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/entitlements", tag = "requests",
    params(("ws" = String, Path, description = "Workspace identifier"), api::PageQuery),
    responses(
        (status = 200, description = "Entitlements", body = api::Page<api::Entitlement>),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_entitlements(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Entitlement>>> {
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let ws = Slug::parse(&ws)
        .map_err(|_| DomainError::not_found("workspace.not_found", format!("workspace '{ws}' not found")))?;
    authz::visible_workspace(&state, &ctx, &ws)?;
    let mut items = Vec::new();
    for role in ["member", "manager", "owner"] {
        let role = Role::parse_workspace(role)?;
        items.push(entitlement_view(&state, &Target::Workspace(ws.clone()), role));
    }
    for p in state.projects_of(&ws) {
        for role in ["reader", "user", "admin"] {
            let role = Role::parse_project(role)?;
            items.push(entitlement_view(&state, &Target::Project(ws.clone(), p.id.clone()), role));
        }
    }
    let key = |e: &api::Entitlement| {
        let rank = Role::parse_any(e.role.as_str()).map_or(0, Role::rank);
        format!("{} {rank}", e.project.as_deref().unwrap_or(""))
    };
    Ok(Json(paginate(items, key, &q)?))
}

async fn set_entitlement(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    role: &str,
    body: api::EntitlementBody,
) -> ApiResult {
    let ws = Slug::parse(ws)
        .map_err(|_| DomainError::not_found("workspace.not_found", format!("workspace '{ws}' not found")))?;
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
    let policy_id = |s: &Option<String>| -> Result<Option<PolicyId>, DomainError> {
        match s.as_deref() {
            None | Some("default") => Ok(None),
            Some(id) => {
                let id = parse_policy_id(id)?;
                Ok((id != Policy::DEFAULT_ID).then_some(id))
            }
        }
    };
    let cmd = SetEntitlement {
        target: target.clone(),
        role,
        request_policy: policy_id(&body.request_policy)?,
        emergency_enabled: body.emergency_enabled,
        emergency_policy: policy_id(&body.emergency_policy)?,
    };
    let done = app
        .execute(caller.actor(), |state, ctx| Ok((policies::set_entitlement(state, ctx, cmd.clone())?, ())))
        .await?;
    let state = app.state();
    Ok(written(StatusCode::OK, done.seq, &entitlement_view(&state, &target, role)))
}

/// Sets the request policy and emergency settings of a workspace role (owners and admins).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/entitlements/{role}", tag = "requests",
    params(("ws" = String, Path, description = "Workspace identifier"), ("role" = String, Path, description = "Workspace role")),
    request_body = api::EntitlementBody,
    responses(
        (status = 200, description = "The entitlement's settings", body = api::Entitlement),
        (status = 403, description = "Not an owner or admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid settings", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_workspace_entitlement(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, role)): Path<(String, String)>,
    ApiJson(body): ApiJson<api::EntitlementBody>,
) -> ApiResult {
    set_entitlement(&app, &caller, &ws, None, &role, body).await
}

/// Sets the request policy and emergency settings of a project role (workspace owners and admins).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/projects/{p}/entitlements/{role}", tag = "requests",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("role" = String, Path, description = "Project role")),
    request_body = api::EntitlementBody,
    responses(
        (status = 200, description = "The entitlement's settings", body = api::Entitlement),
        (status = 403, description = "Not an owner or admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid settings", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_project_entitlement(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, role)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<api::EntitlementBody>,
) -> ApiResult {
    set_entitlement(&app, &caller, &ws, Some(&p), &role, body).await
}

/// Requests an entitlement for the caller. The duration counts from the grant; an entitlement's
/// emergency policy applies with `emergency: true`. A policy without steps grants at once.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests",
    request_body = api::CreateRequest,
    responses(
        (status = 201, description = "The request (already granted when nothing needed approval)", body = api::Request),
        (status = 404, description = "Workspace or project not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request for the same access is already open", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value, duration above the maximum, emergency not enabled, ...", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::CreateRequest>,
) -> ApiResult {
    let new = {
        let ctx = read_ctx(&app, &caller);
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
    request_answer(&app, StatusCode::CREATED, done.seq, done.value)
}

fn request_answer(app: &App, status: StatusCode, seq: i64, id: RequestId) -> ApiResult {
    let now = app.now();
    let state = app.state();
    let r = state.request(id).ok_or_else(ApiError::internal)?;
    Ok(written(status, seq, &views::request(&state, r, now)))
}

/// Lists requests: the caller's own (`scope=mine`, default) or all they may see (`scope=visible`),
/// newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests",
    params(api::RequestQuery),
    responses((status = 200, description = "Requests, newest first", body = api::Page<api::Request>)))]
pub async fn list_requests(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::RequestQuery>,
) -> ApiResult<Json<api::Page<api::Request>>> {
    let now = app.now();
    let state = app.state();
    let me = me(&state, &caller)?;
    let ctx = caller.ctx(now);
    let visible = match q.scope.as_deref() {
        None | Some("mine") => false,
        Some("visible") => true,
        Some(other) => {
            return Err(DomainError::invalid(
                "input.invalid_scope",
                format!("unknown scope '{other}': use mine or visible"),
            )
            .into())
        }
    };
    let wanted_state = q.state.as_deref().map(RequestState::parse).transpose()?;
    if let Some(w) = &q.workspace {
        Slug::check(w)?;
    }
    let mut found: Vec<_> = state
        .requests()
        .filter(|r| {
            if visible {
                requests::can_see_request(&state, &ctx, r)
            } else {
                (r.user == me.id || r.created_by == me.id) && caller.bounds.covers(r.target.workspace())
            }
        })
        .filter(|r| wanted_state.is_none_or(|s| r.state == s))
        .filter(|r| q.workspace.as_deref().is_none_or(|w| r.target.workspace().as_str() == w))
        .collect();
    found.sort_by_key(|r| (std::cmp::Reverse(r.created_at), r.id));
    let items: Vec<(String, api::Request)> = found
        .into_iter()
        .map(|r| {
            (format!("{:020}-{}", i64::MAX - r.created_at.as_micros(), r.id), views::request(&state, r, now))
        })
        .collect();
    Ok(Json(paginate_keyed(items, q.limit, q.cursor.clone())?))
}

fn parse_request_id(id: &str) -> Result<RequestId, DomainError> {
    RequestId::parse(id).map_err(|_| not_found("request.not_found", "request", id))
}

/// One request (the user it is for, its creator, workspace managers, its approvers and the
/// admin area may see it).
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The request", body = api::Request),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Request>> {
    let id = parse_request_id(&id)?;
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let r = requests::visible_request(&state, &ctx, id)?;
    Ok(Json(views::request(&state, r, ctx.now)))
}

async fn act(
    app: &App,
    caller: &Caller,
    id: &str,
    command: impl Fn(&Model, &Ctx, RequestId) -> Result<Changes, DomainError>,
) -> ApiResult {
    let id = parse_request_id(id)?;
    let done = app.execute(caller.actor(), |state, ctx| Ok((command(state, ctx, id)?, ()))).await?;
    request_answer(app, StatusCode::OK, done.seq, id)
}

/// Approves the current step of a request. An admin-area admin or employee outside the step's
/// approvers may grant it at once with `{"override": true}`. Nobody approves their own request.
#[utoipa::path(post, path = "/api/v1/requests/{id}/approve", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body(content = Option<api::ApproveRequest>, description = "Optional; `override` for an admin-area override"),
    responses(
        (status = 200, description = "The request after the approval (granted when it was the last one)", body = api::Request),
        (status = 403, description = "Own request, or not an approver of the current step", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending any more, lapsed, or already approved by you", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<api::ApproveRequest>,
) -> ApiResult {
    act(&app, &caller, &id, |s, c, id| requests::approve(s, c, id, body.is_override)).await
}

/// Denies a request, with a reason.
#[utoipa::path(post, path = "/api/v1/requests/{id}/deny", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    request_body = api::DenyRequest,
    responses(
        (status = 200, description = "The denied request", body = api::Request),
        (status = 403, description = "Not an approver", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending any more", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn deny_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<api::DenyRequest>,
) -> ApiResult {
    act(&app, &caller, &id, |s, c, id| requests::deny(s, c, id, body.reason.clone())).await
}

/// Cancels the caller's own request.
#[utoipa::path(post, path = "/api/v1/requests/{id}/cancel", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The cancelled request", body = api::Request),
        (status = 403, description = "Not the requester", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending any more", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    act(&app, &caller, &id, requests::cancel).await
}

/// Escalates the caller's open request to emergency: the emergency policy applies, approvals
/// already given still count, the duration shrinks to the emergency maximum.
#[utoipa::path(post, path = "/api/v1/requests/{id}/escalate", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, description = "The escalated request (granted when the emergency policy is already satisfied)", body = api::Request),
        (status = 403, description = "Not the requester", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending, or already an emergency", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Emergency access is not enabled for this entitlement", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn escalate_request(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    act(&app, &caller, &id, requests::escalate).await
}

/// The pending requests the caller may approve (or override), emergency ones first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "requests",
    params(api::PageQuery),
    responses((status = 200, description = "Tasks, emergency first, then oldest first", body = api::Page<api::Task>)))]
pub async fn list_tasks(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Task>>> {
    let now = app.now();
    let state = app.state();
    let items: Vec<(String, api::Task)> = requests::tasks(&state, &caller.ctx(now))?
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let r = state.request(t.request)?;
            Some((
                format!("{i:08}"),
                api::Task {
                    request: views::request(&state, r, now),
                    can_approve: t.can_approve,
                    override_only: t.override_only,
                },
            ))
        })
        .collect();
    Ok(Json(paginate_keyed(items, q.limit, q.cursor.clone())?))
}

/// Emergency reviews: those of workspaces whose history the caller may read, and their own.
#[utoipa::path(get, path = "/api/v1/reviews", tag = "requests",
    params(api::ReviewQuery),
    responses((status = 200, description = "Reviews, newest first", body = api::Page<api::Review>)))]
pub async fn list_reviews(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::ReviewQuery>,
) -> ApiResult<Json<api::Page<api::Review>>> {
    let now = app.now();
    let state = app.state();
    let me = me(&state, &caller)?;
    let ctx = caller.ctx(now);
    let want_open = match q.state.as_deref() {
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
    let mut found: Vec<_> = state
        .reviews()
        .filter(|r| want_open.is_none_or(|o| r.is_open() == o))
        .filter(|r| q.workspace.as_deref().is_none_or(|w| r.target.workspace().as_str() == w))
        .filter(|r| {
            (r.holder == me.id && caller.bounds.covers(r.target.workspace()))
                || authz::actor_access(&state, &ctx, r.target.workspace()).is_ok_and(|a| a.read_history)
        })
        .collect();
    found.sort_by_key(|r| (std::cmp::Reverse(r.opened_at), r.id));
    let items: Vec<(String, api::Review)> = found
        .into_iter()
        .map(|r| (format!("{:020}-{}", i64::MAX - r.opened_at.as_micros(), r.id), views::review(&state, r)))
        .collect();
    Ok(Json(paginate_keyed(items, q.limit, q.cursor.clone())?))
}

/// Completes an emergency review (workspace managers and the admin area; never the holder).
#[utoipa::path(post, path = "/api/v1/reviews/{id}/complete", tag = "requests",
    params(("id" = String, Path, description = "Review id")),
    request_body = api::CompleteReview,
    responses(
        (status = 200, description = "The completed review", body = api::Review),
        (status = 403, description = "The holder, or not a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already completed", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn complete_review(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<api::CompleteReview>,
) -> ApiResult {
    let id = ReviewId::parse(&id).map_err(|_| not_found("review.not_found", "review", &id))?;
    let outcome = ReviewOutcome::parse(&body.outcome)?;
    let done = app
        .execute(caller.actor(), |state, ctx| {
            Ok((requests::complete_review(state, ctx, id, outcome, body.notes.clone())?, ()))
        })
        .await?;
    let state = app.state();
    let r = state.review(id).ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::OK, done.seq, &views::review(&state, r)))
}
