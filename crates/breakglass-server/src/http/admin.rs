//! The admin area and the workspace lifecycle: registration and approval, disable/enable,
//! quotas, renaming, "add myself", invitations and sign-up, tags, messages, settings.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::authz;
use breakglass_core::cmd::{admin, invitations, tags};
use breakglass_core::ident::{Email, InvitationId, Name, Slug};
use breakglass_core::model::{BindingSource, Target};
use breakglass_core::org::{
    MessageMode, Registration, Settings, Signup, TagDefinition, TagKey, TagRule, TagTarget,
};
use breakglass_core::role::{AdminRole, WorkspaceRole};
use breakglass_core::time::{Span, Timestamp};
use breakglass_core::{Changes, Ctx, DomainError, State as Model};

use super::workspaces::parse_tags;
use super::{
    expiry, paginate, paginate_keyed, written, written_empty, ApiJson, ApiQuery, ApiResult, OptionalJson,
};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::views;

fn read_ctx(app: &App, caller: &Caller) -> Ctx {
    caller.ctx(app.now())
}

fn ws_slug(s: &str) -> Result<Slug, DomainError> {
    Slug::parse(s)
        .map_err(|_| DomainError::not_found("workspace.not_found", format!("workspace '{s}' not found")))
}

fn workspace_answer(app: &App, status: StatusCode, seq: i64, ws: &Slug) -> ApiResult {
    let state = app.state();
    let w = state.workspace(ws).ok_or_else(ApiError::internal)?;
    Ok(written(status, seq, &views::workspace(&state, w)))
}

async fn on_workspace(
    app: &App,
    caller: &Caller,
    ws: &str,
    command: impl Fn(&Model, &Ctx, &Slug) -> Result<Changes, DomainError>,
) -> ApiResult {
    let ws = ws_slug(ws)?;
    let done = app.execute(caller.actor(), |state, ctx| Ok((command(state, ctx, &ws)?, ()))).await?;
    workspace_answer(app, StatusCode::OK, done.seq, &ws)
}

/// Registers a workspace in self-service; the caller becomes its owner. Depending on the setting
/// `workspace_registration` it is active at once or waits for the admin area (`pending_approval`).
#[utoipa::path(post, path = "/api/v1/workspaces/register", tag = "workspaces",
    request_body = api::RegisterWorkspace,
    responses(
        (status = 201, description = "Registered (check `status`)", body = api::Workspace),
        (status = 403, description = "Registration is closed", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Identifier taken", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value or missing mandatory tag", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn register_workspace(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::RegisterWorkspace>,
) -> ApiResult {
    let reg = admin::Registering {
        id: Slug::parse(&body.identifier)?,
        name: Name::parse(&body.name)?,
        tags: parse_tags(&body.tags)?,
    };
    let id = reg.id.clone();
    let done = app
        .execute(caller.actor(), |state, ctx| Ok((admin::register_workspace(state, ctx, reg.clone())?, ())))
        .await?;
    workspace_answer(&app, StatusCode::CREATED, done.seq, &id)
}

/// Renames a workspace. Its identifier never changes: giving a different one is refused.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier")),
    request_body = api::UpdateWorkspace,
    responses(
        (status = 200, description = "The workspace", body = api::Workspace),
        (status = 403, description = "Not a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, or an attempt to change the identifier", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_workspace(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<api::UpdateWorkspace>,
) -> ApiResult {
    {
        let ctx = read_ctx(&app, &caller);
        authz::visible_workspace(&app.state(), &ctx, &ws_slug(&ws)?)?;
    }
    if body.identifier.as_deref().is_some_and(|i| i != ws) {
        return Err(DomainError::invalid(
            "workspace.identifier_immutable",
            format!("the identifier of workspace '{ws}' cannot change"),
        )
        .into());
    }
    let name = body.name.as_deref().map(Name::parse).transpose()?;
    on_workspace(&app, &caller, &ws, |s, c, w| match &name {
        Some(n) => admin::rename_workspace(s, c, w, n.clone()),
        None => Ok(Changes::default()),
    })
    .await
}

macro_rules! lifecycle {
    ($name:ident, $path:literal, $doc:literal, |$s:ident, $c:ident, $w:ident, $reason:ident| $body:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "workspaces",
            params(("ws" = String, Path, description = "Workspace identifier")),
            request_body(content = Option<api::LifecycleAction>, description = "Optional reason"),
            responses(
                (status = 200, description = "The workspace", body = api::Workspace),
                (status = 403, description = "Not an admin or employee", body = api::Problem, content_type = "application/problem+json"),
                (status = 404, description = "Not found", body = api::Problem, content_type = "application/problem+json"),
                (status = 409, description = "Not in a state that allows this", body = api::Problem, content_type = "application/problem+json"),
            ))]
        pub async fn $name(
            State(app): State<Arc<App>>,
            caller: Caller,
            Path(ws): Path<String>,
            OptionalJson(body): OptionalJson<api::LifecycleAction>,
        ) -> ApiResult {
            let $reason = body.reason.clone();
            on_workspace(&app, &caller, &ws, |$s, $c, $w| $body).await
        }
    };
}

lifecycle!(
    approve_workspace,
    "/api/v1/workspaces/{ws}/approve",
    "Approves a workspace waiting for approval (admin area).",
    |s, c, w, reason| admin::decide_registration(s, c, w, true, reason.clone())
);
lifecycle!(
    reject_workspace,
    "/api/v1/workspaces/{ws}/reject",
    "Rejects a workspace waiting for approval (admin area).",
    |s, c, w, reason| admin::decide_registration(s, c, w, false, reason.clone())
);
lifecycle!(
    disable_workspace,
    "/api/v1/workspaces/{ws}/disable",
    "Disables a workspace: every check for it is denied, no new access (admin area).",
    |s, c, w, reason| admin::set_workspace_enabled(s, c, w, false, reason.clone())
);
lifecycle!(
    enable_workspace,
    "/api/v1/workspaces/{ws}/enable",
    "Enables a disabled workspace again (admin area).",
    |s, c, w, reason| admin::set_workspace_enabled(s, c, w, true, reason.clone())
);

/// Sets a workspace's project quota (admin area).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/quota", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier")),
    request_body = api::SetQuota,
    responses(
        (status = 200, description = "The workspace", body = api::Workspace),
        (status = 403, description = "Not an admin or employee", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_quota(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<api::SetQuota>,
) -> ApiResult {
    on_workspace(&app, &caller, &ws, |s, c, w| admin::set_quota(s, c, w, body.project_quota)).await
}

/// Adds the calling admin or employee to a workspace (manager, or member when the installation
/// restricts it), until an expiry. Recorded as USER_ASSIGNED_HIMSELF.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/members/me", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier")),
    request_body(content = Option<api::AddMyself>, description = "Optional expiry"),
    responses(
        (status = 201, description = "The caller's membership", body = api::Binding),
        (status = 403, description = "Not an admin or employee", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "You already hold that role or a higher one there", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Expiry beyond the maximum", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_myself(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    OptionalJson(body): OptionalJson<api::AddMyself>,
) -> ApiResult {
    let ws = ws_slug(&ws)?;
    let expires_at = expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), app.now())?;
    let done =
        app.execute(caller.actor(), |s, c| Ok((admin::add_myself(s, c, &ws, expires_at)?, ()))).await?;
    let now = app.now();
    let state = app.state();
    let b = state
        .bindings_on(&Target::Workspace(ws))
        .find(|b| b.user == caller.user && b.source == BindingSource::Direct && b.is_effective(now))
        .ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::CREATED, done.seq, &views::binding(&state, b)))
}

/// The caller leaves a workspace: all their access in it and its projects ends.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/members/me", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier")),
    responses(
        (status = 204, description = "Left"),
        (status = 404, description = "Not found, or not a member", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The last standing owner cannot leave", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn leave_workspace(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
) -> ApiResult {
    let ws = ws_slug(&ws)?;
    let done = app.execute(caller.actor(), |s, c| Ok((admin::leave_workspace(s, c, &ws)?, ()))).await?;
    Ok(written_empty(done.seq))
}

fn invitation_answer(app: &App, status: StatusCode, seq: i64, id: InvitationId) -> ApiResult {
    let state = app.state();
    let i = state.invitation(id).ok_or_else(ApiError::internal)?;
    Ok(written(status, seq, &views::invitation(&state, i, app.now())))
}

/// Invites an e-mail address into a workspace with a role (and an optional membership expiry).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/invitations", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier")),
    request_body = api::CreateInvitation,
    responses(
        (status = 201, description = "The invitation", body = api::Invitation),
        (status = 403, description = "Not allowed to invite with this role", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already invited or already a member", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn invite(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<api::CreateInvitation>,
) -> ApiResult {
    let ws = ws_slug(&ws)?;
    {
        let ctx = read_ctx(&app, &caller);
        authz::visible_workspace(&app.state(), &ctx, &ws)?;
    }
    let email = Email::parse(&body.email)?;
    let role = WorkspaceRole::parse(&body.role)?;
    let until = expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), app.now())?;
    let secret = auth::new_secret(auth::INVITATION_PREFIX);
    let digest = auth::secret_hash(&secret);
    let done = app
        .execute(caller.actor(), |s, c| invitations::invite(s, c, &ws, email.clone(), role, until, digest))
        .await?;
    let state = app.state();
    let i = state.invitation(done.value).ok_or_else(ApiError::internal)?;
    let shown = api::Invitation { token: Some(secret), ..views::invitation(&state, i, app.now()) };
    Ok(written(StatusCode::CREATED, done.seq, &shown))
}

/// A workspace's invitations (its managers and the admin area), newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/invitations", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), api::PageQuery),
    responses(
        (status = 200, description = "Invitations", body = api::Page<api::Invitation>),
        (status = 403, description = "Not a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn workspace_invitations(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Invitation>>> {
    let ws = ws_slug(&ws)?;
    let ctx = read_ctx(&app, &caller);
    let state = app.state();
    let (_, access) = authz::visible_workspace(&state, &ctx, &ws)?;
    if !access.read_history {
        return Err(DomainError::forbidden(format!("only managers of '{ws}' see its invitations")).into());
    }
    let mut found: Vec<_> = state.invitations().filter(|i| i.workspace == ws).collect();
    found.sort_by_key(|i| (std::cmp::Reverse(i.created_at), i.id));
    keyed_page(found.into_iter().map(|i| (i.created_at, views::invitation(&state, i, ctx.now))), &q)
}

/// Pages items already in display order (newest first), keyed by time and position.
fn keyed_page<T>(
    items: impl Iterator<Item = (Timestamp, T)>,
    q: &api::PageQuery,
) -> ApiResult<Json<api::Page<T>>> {
    let keyed: Vec<(String, T)> = items
        .enumerate()
        .map(|(i, (t, v))| (format!("{:020}-{i:08}", i64::MAX - t.as_micros()), v))
        .collect();
    Ok(Json(paginate_keyed(keyed, q.limit, q.cursor.clone())?))
}

fn parse_invitation(id: &str) -> Result<InvitationId, DomainError> {
    InvitationId::parse(id)
        .map_err(|_| DomainError::not_found("invitation.not_found", format!("invitation {id} not found")))
}

/// Cancels a pending invitation.
#[utoipa::path(delete, path = "/api/v1/invitations/{id}", tag = "workspaces",
    params(("id" = String, Path, description = "Invitation id")),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 403, description = "Not a manager", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending any more, or expired", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel_invitation(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_invitation(&id)?;
    let done = app.execute(caller.actor(), |s, c| Ok((invitations::cancel(s, c, id)?, ()))).await?;
    Ok(written_empty(done.seq))
}

/// Accepts an invitation addressed to the caller, with its secret: grants exactly the invited role.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/accept", tag = "workspaces",
    params(("id" = String, Path, description = "Invitation id")),
    request_body = api::AcceptInvitation,
    responses(
        (status = 403, description = "Wrong secret", body = api::Problem, content_type = "application/problem+json"),
        (status = 200, description = "The accepted invitation", body = api::Invitation),
        (status = 404, description = "Not found, or addressed to someone else", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending any more, or expired", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The workspace is not active", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn accept_invitation(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<api::AcceptInvitation>,
) -> ApiResult {
    let id = parse_invitation(&id)?;
    let digest = auth::secret_hash(body.token.trim());
    let done = app.execute(caller.actor(), |s, c| Ok((invitations::accept(s, c, id, digest)?, ()))).await?;
    invitation_answer(&app, StatusCode::OK, done.seq, id)
}

/// Declines an invitation addressed to the caller.
#[utoipa::path(post, path = "/api/v1/invitations/{id}/decline", tag = "workspaces",
    params(("id" = String, Path, description = "Invitation id")),
    responses(
        (status = 200, description = "The declined invitation", body = api::Invitation),
        (status = 404, description = "Not found, or addressed to someone else", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending any more, or expired", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn decline_invitation(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_invitation(&id)?;
    let done = app.execute(caller.actor(), |s, c| Ok((invitations::decline(s, c, id)?, ()))).await?;
    invitation_answer(&app, StatusCode::OK, done.seq, id)
}

/// The caller's pending invitations.
#[utoipa::path(get, path = "/api/v1/me/invitations", tag = "auth",
    params(api::PageQuery),
    responses((status = 200, description = "Pending invitations, oldest first", body = api::Page<api::Invitation>)))]
pub async fn my_invitations(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Invitation>>> {
    let now = app.now();
    let state = app.state();
    let me = state.user(caller.user).ok_or_else(ApiError::internal)?;
    let items: Vec<(String, api::Invitation)> = invitations::pending_for(&state, &me.email, now)
        .iter()
        .enumerate()
        .map(|(i, inv)| (format!("{i:08}"), views::invitation(&state, inv, now)))
        .collect();
    Ok(Json(paginate_keyed(items, q.limit, q.cursor.clone())?))
}

/// Signs up with e-mail and password (as the setting `signup` allows) and opens a session.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", security(()),
    request_body = api::Signup,
    responses(
        (status = 201, description = "Signed up and signed in", body = api::Session),
        (status = 403, description = "Sign-up is closed, or needs an invitation", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The e-mail is taken", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn signup(State(app): State<Arc<App>>, ApiJson(body): ApiJson<api::Signup>) -> ApiResult {
    let done = crate::ops::session::signup(&app, body).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// Tag definitions.
#[utoipa::path(get, path = "/api/v1/tags", tag = "workspaces",
    params(api::PageQuery),
    responses((status = 200, description = "Tag definitions by key", body = api::Page<api::TagDefinition>)))]
pub async fn list_tags(
    State(app): State<Arc<App>>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::TagDefinition>>> {
    let state = app.state();
    let items = state.tag_definitions().map(views::tag_definition).collect();
    Ok(Json(paginate(items, |d: &api::TagDefinition| d.key.clone(), &q)?))
}

/// Creates or replaces a tag definition (admins).
#[utoipa::path(post, path = "/api/v1/tags", tag = "workspaces",
    request_body = api::TagDefinition,
    responses(
        (status = 200, description = "The definition", body = api::TagDefinition),
        (status = 403, description = "Not an admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid definition", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn define_tag(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::TagDefinition>,
) -> ApiResult {
    let rule = match (body.values.is_empty(), &body.pattern) {
        (true, None) => TagRule::Any,
        (false, None) => TagRule::Values(body.values.clone()),
        (true, Some(p)) => TagRule::Pattern(p.clone()),
        (false, Some(_)) => {
            return Err(
                DomainError::invalid("tag.invalid", "give allowed values or a pattern, not both").into()
            )
        }
    };
    let def = TagDefinition {
        key: TagKey::parse(&body.key)?,
        target: TagTarget::parse(&body.target)?,
        restricted: body.restricted,
        rule,
        mandatory: body.mandatory,
        default: body.default.clone(),
        created_at: app.now(),
    };
    let key = def.key.clone();
    let done = app.execute(caller.actor(), |s, c| Ok((tags::define_tag(s, c, def.clone())?, ()))).await?;
    let state = app.state();
    let d = state.tag_definition(&key).ok_or_else(ApiError::internal)?;
    Ok(written(StatusCode::OK, done.seq, &views::tag_definition(d)))
}

/// Removes a tag definition (admins). Values already set stay.
#[utoipa::path(delete, path = "/api/v1/tags/{key}", tag = "workspaces",
    params(("key" = String, Path, description = "Tag key")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tag", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_tag_definition(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult {
    let key = TagKey::parse(&key)
        .map_err(|_| DomainError::not_found("tag.not_found", format!("no tag '{key}' is defined")))?;
    let done = app.execute(caller.actor(), |s, c| Ok((tags::remove_tag_definition(s, c, &key)?, ()))).await?;
    Ok(written_empty(done.seq))
}

async fn tag_on(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    key: &str,
    value: Option<String>,
) -> ApiResult {
    let ws = ws_slug(ws)?;
    let target = match project {
        None => Target::Workspace(ws.clone()),
        Some(p) => Target::Project(
            ws.clone(),
            Slug::parse(p).map_err(|_| {
                DomainError::not_found("project.not_found", format!("project '{p}' not found in '{ws}'"))
            })?,
        ),
    };
    {
        let ctx = read_ctx(app, caller);
        authz::visible_workspace(&app.state(), &ctx, &ws)?;
    }
    let key = TagKey::parse(key)?;
    let done = app
        .execute(caller.actor(), |s, c| Ok((tags::set_tag(s, c, &target, &key, value.clone())?, ())))
        .await?;
    let state = app.state();
    match &target {
        Target::Workspace(w) => {
            let w = state.workspace(w).ok_or_else(ApiError::internal)?;
            Ok(written(StatusCode::OK, done.seq, &views::workspace(&state, w)))
        }
        Target::Project(w, p) => {
            let p = state.project(w, p).ok_or_else(ApiError::internal)?;
            Ok(written(StatusCode::OK, done.seq, &views::project(p)))
        }
    }
}

/// Sets a tag on a workspace (managers; restricted tags: admin area).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/tags/{key}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("key" = String, Path, description = "Tag key")),
    request_body = api::SetTag,
    responses(
        (status = 200, description = "The workspace", body = api::Workspace),
        (status = 403, description = "Not allowed (restricted tag, or not a manager)", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown tag or invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_workspace_tag(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<api::SetTag>,
) -> ApiResult {
    tag_on(&app, &caller, &ws, None, &key, Some(body.value)).await
}

/// Removes a tag from a workspace (mandatory tags cannot be removed).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/tags/{key}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("key" = String, Path, description = "Tag key")),
    responses(
        (status = 200, description = "The workspace", body = api::Workspace),
        (status = 403, description = "Not allowed", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Mandatory or unknown tag", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_workspace_tag(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, key)): Path<(String, String)>,
) -> ApiResult {
    tag_on(&app, &caller, &ws, None, &key, None).await
}

/// Sets a tag on a project (workspace managers; restricted tags: admin area).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/projects/{p}/tags/{key}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("key" = String, Path, description = "Tag key")),
    request_body = api::SetTag,
    responses(
        (status = 200, description = "The project", body = api::Project),
        (status = 403, description = "Not allowed", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown tag or invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_project_tag(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, key)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<api::SetTag>,
) -> ApiResult {
    tag_on(&app, &caller, &ws, Some(&p), &key, Some(body.value)).await
}

/// Removes a tag from a project.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/projects/{p}/tags/{key}", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), ("p" = String, Path, description = "Project identifier"), ("key" = String, Path, description = "Tag key")),
    responses(
        (status = 200, description = "The project", body = api::Project),
        (status = 403, description = "Not allowed", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found or not visible", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Mandatory or unknown tag", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_project_tag(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((ws, p, key)): Path<(String, String, String)>,
) -> ApiResult {
    tag_on(&app, &caller, &ws, Some(&p), &key, None).await
}

/// Sends a message to a workspace's users (admin area).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/messages", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier")),
    request_body = api::SendMessage,
    responses(
        (status = 201, description = "The message", body = api::Message),
        (status = 403, description = "Not an admin or employee", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid text or mode", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn send_message(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<api::SendMessage>,
) -> ApiResult {
    let ws = ws_slug(&ws)?;
    let mode = MessageMode::parse(&body.mode)?;
    let done = crate::ops::messages::send(&app, &caller, &ws, body.text, mode).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// Messages sent to a workspace, with who acknowledged them (admin area).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/messages", tag = "workspaces",
    params(("ws" = String, Path, description = "Workspace identifier"), api::PageQuery),
    responses(
        (status = 200, description = "Messages, newest first", body = api::Page<api::Message>),
        (status = 403, description = "Not in the admin area", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not found", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn workspace_messages(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(ws): Path<String>,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Message>>> {
    Ok(Json(crate::ops::messages::sent(&app, &caller, &ws_slug(&ws)?, &q.into())?))
}

/// The caller's unread messages, newest first.
#[utoipa::path(get, path = "/api/v1/me/messages", tag = "auth",
    params(api::PageQuery),
    responses((status = 200, description = "Unread messages", body = api::Page<api::Message>)))]
pub async fn my_messages(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<api::PageQuery>,
) -> ApiResult<Json<api::Page<api::Message>>> {
    Ok(Json(crate::ops::messages::unread(&app, &caller, &q.into())?))
}

/// Acknowledges a message.
#[utoipa::path(post, path = "/api/v1/messages/{id}/ack", tag = "auth",
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 204, description = "Acknowledged"),
        (status = 404, description = "Not found or not addressed to you", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already acknowledged", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn ack_message(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    let id = crate::ops::messages::message_id(&id)?;
    Ok(written_empty(crate::ops::messages::acknowledge(&app, &caller, id).await?.seq))
}

fn require_admin(app: &App, caller: &Caller) -> Result<(), ApiError> {
    let state = app.state();
    if authz::actor_admin_role(&state, &caller.ctx(app.now()))? == AdminRole::Admin {
        Ok(())
    } else {
        Err(DomainError::forbidden("only admins see and change settings").into())
    }
}

/// The installation settings (admins).
#[utoipa::path(get, path = "/api/v1/settings", tag = "users",
    responses(
        (status = 200, description = "The settings", body = api::Settings),
        (status = 403, description = "Not an admin", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_settings(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Json<api::Settings>> {
    require_admin(&app, &caller)?;
    Ok(Json(views::settings(app.state().settings())))
}

/// Changes installation settings (admins); only the fields given change, each change audited.
#[utoipa::path(patch, path = "/api/v1/settings", tag = "users",
    request_body = api::Settings,
    responses(
        (status = 200, description = "The settings", body = api::Settings),
        (status = 403, description = "Not an admin", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_settings(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<api::Settings>,
) -> ApiResult {
    require_admin(&app, &caller)?;
    let mut new: Settings = app.state().settings().clone();
    let enum_value = |field: &str, v: &str, allowed: &str| {
        DomainError::invalid("settings.invalid", format!("{field} '{v}' is not one of {allowed}"))
    };
    if let Some(v) = &body.workspace_registration {
        new.workspace_registration = match v.as_str() {
            "open" => Registration::Open,
            "approval" => Registration::Approval,
            "closed" => Registration::Closed,
            _ => return Err(enum_value("workspace_registration", v, "open, approval, closed").into()),
        };
    }
    if let Some(v) = &body.signup {
        new.signup = match v.as_str() {
            "open" => Signup::Open,
            "invited_only" => Signup::InvitedOnly,
            "closed" => Signup::Closed,
            _ => return Err(enum_value("signup", v, "open, invited_only, closed").into()),
        };
    }
    if let Some(d) = body.invitation_ttl_days {
        if !(1..=365).contains(&d) {
            return Err(DomainError::invalid(
                "settings.invalid",
                "invitation_ttl_days must be between 1 and 365",
            )
            .into());
        }
        new.invitation_ttl = Span::days(i64::from(d));
    }
    if let Some(q) = body.default_project_quota {
        new.default_project_quota = q;
    }
    if let Some(r) = body.restrict_admin_role_assignment {
        new.restrict_admin_role_assignment = r;
    }
    if let Some(d) = &body.add_myself_default_expiry {
        new.add_myself_default_expiry = Span::parse(d)?;
    }
    if let Some(d) = &body.add_myself_max_expiry {
        new.add_myself_max_expiry = Span::parse(d)?;
    }
    if let Some(d) = &body.max_expiry {
        new.max_expiry = Span::parse(d)?;
    }
    if let Some(n) = body.max_api_tokens_per_user {
        new.max_api_tokens_per_user = n;
    }
    if let Some(n) = body.max_sessions_per_user {
        new.max_sessions_per_user = n;
    }
    let done =
        app.execute(caller.actor(), |s, c| Ok((admin::update_settings(s, c, new.clone())?, ()))).await?;
    Ok(written(StatusCode::OK, done.seq, &views::settings(app.state().settings())))
}
