//! The admin area and the workspace lifecycle over HTTP (registration and approval,
//! disable/enable, quotas, renaming, "add myself", invitations and sign-up, tags, messages,
//! settings): parse, call [`crate::ops::admin`] and its neighbours, answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;

use super::{written, written_empty, ApiJson, ApiQuery, ApiResult, OptionalJson};
use crate::app::App;
use crate::auth::Caller;
use crate::ops::admin::{self as ops, Tagged};
use crate::ops::Written;

/// A tag's answer: the workspace or the project it was set on.
fn tagged(w: Written<Tagged>) -> ApiResult {
    Ok(match w.value {
        Tagged::Workspace(ws) => written(StatusCode::OK, w.seq, &ws),
        Tagged::Project(p) => written(StatusCode::OK, w.seq, &p),
    })
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
    let done = ops::register_workspace(&app, &caller, &body).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
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
    let done = ops::update_workspace(&app, &caller, &ws, &body).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}

macro_rules! lifecycle {
    ($name:ident, $path:literal, $doc:literal, $step:expr) => {
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
            let done = ops::lifecycle(&app, &caller, &ws, $step, body.reason).await?;
            Ok(written(StatusCode::OK, done.seq, &done.value))
        }
    };
}

lifecycle!(
    approve_workspace,
    "/api/v1/workspaces/{ws}/approve",
    "Approves a workspace waiting for approval (admin area).",
    ops::Lifecycle::Approve
);
lifecycle!(
    reject_workspace,
    "/api/v1/workspaces/{ws}/reject",
    "Rejects a workspace waiting for approval (admin area).",
    ops::Lifecycle::Reject
);
lifecycle!(
    disable_workspace,
    "/api/v1/workspaces/{ws}/disable",
    "Disables a workspace: every check for it is denied, no new access (admin area).",
    ops::Lifecycle::Disable
);
lifecycle!(
    enable_workspace,
    "/api/v1/workspaces/{ws}/enable",
    "Enables a disabled workspace again (admin area).",
    ops::Lifecycle::Enable
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
    let done = ops::set_quota(&app, &caller, &ws, body.project_quota).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
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
    let done = ops::add_myself(&app, &caller, &ws, &body).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
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
    Ok(written_empty(ops::leave_workspace(&app, &caller, &ws).await?.seq))
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
    let done = ops::invite(&app, &caller, &ws, &body).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
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
    Ok(Json(ops::workspace_invitations(&app, &caller, &ws, &q.into())?))
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
    Ok(written_empty(ops::cancel_invitation(&app, &caller, ops::invitation_id(&id)?).await?.seq))
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
    let done = ops::accept_invitation(&app, &caller, ops::invitation_id(&id)?, &body.token).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
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
    let done = ops::decline_invitation(&app, &caller, ops::invitation_id(&id)?).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
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
    Ok(Json(ops::my_invitations(&app, &caller, &q.into())?))
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
    Ok(Json(ops::list_tags(&app, &q.into())?))
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
    let done = ops::define_tag(&app, &caller, &body).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
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
    Ok(written_empty(ops::remove_tag_definition(&app, &caller, ops::tag_key(&key)?).await?.seq))
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
    tagged(ops::tag(&app, &caller, &ws, None, &key, Some(body.value)).await?)
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
    tagged(ops::tag(&app, &caller, &ws, None, &key, None).await?)
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
    tagged(ops::tag(&app, &caller, &ws, Some(&p), &key, Some(body.value)).await?)
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
    tagged(ops::tag(&app, &caller, &ws, Some(&p), &key, None).await?)
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
    let done = crate::ops::messages::send(&app, &caller, &ws, body.text, &body.mode).await?;
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
    Ok(Json(crate::ops::messages::sent(&app, &caller, &ws, &q.into())?))
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

/// The installation settings (admins).
#[utoipa::path(get, path = "/api/v1/settings", tag = "users",
    responses(
        (status = 200, description = "The settings", body = api::Settings),
        (status = 403, description = "Not an admin", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_settings(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Json<api::Settings>> {
    Ok(Json(ops::get_settings(&app, &caller)?))
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
    let done = ops::update_settings(&app, &caller, &body).await?;
    Ok(written(StatusCode::OK, done.seq, &done.value))
}
