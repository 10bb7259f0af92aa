//! The admin area and the workspace lifecycle: registration and approval, disable/enable,
//! quotas, renaming, "add myself", invitations, tags and settings. Path segments come raw.

use breakglass_api as api;
use breakglass_core::authz;
use breakglass_core::cmd::{admin, invitations, tags};
use breakglass_core::ident::{Email, InvitationId, Name, Slug};
use breakglass_core::model::{BindingSource, Target};
use breakglass_core::org::{Registration, Settings, Signup, TagDefinition, TagKey, TagRule, TagTarget};
use breakglass_core::role::{AdminRole, WorkspaceRole};
use breakglass_core::time::Span;
use breakglass_core::{Changes, Ctx, DomainError, State as Model};

use super::workspaces::parse_tags;
use super::{expiry, page, read_ctx, ws_slug, OpResult, PageAsk, Written};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::views;

fn workspace_view(app: &App, ws: &Slug) -> OpResult<api::Workspace> {
    let state = app.state();
    let w = state.workspace(ws).ok_or_else(ApiError::internal)?;
    Ok(views::workspace(&state, w))
}

async fn on_workspace(
    app: &App,
    caller: &Caller,
    ws: &str,
    command: impl Fn(&Model, &Ctx, &Slug) -> Result<Changes, DomainError>,
) -> OpResult<Written<api::Workspace>> {
    let ws = ws_slug(ws)?;
    let done = app.execute(caller.actor(), |state, ctx| Ok((command(state, ctx, &ws)?, ()))).await?;
    Ok(Written { seq: done.seq, value: workspace_view(app, &ws)? })
}

/// Registers a workspace in self-service; the caller becomes its owner. Depending on the setting
/// `workspace_registration` it is active at once or waits for the admin area.
pub async fn register_workspace(
    app: &App,
    caller: &Caller,
    body: &api::RegisterWorkspace,
) -> OpResult<Written<api::Workspace>> {
    let reg = admin::Registering {
        id: Slug::parse(&body.identifier)?,
        name: Name::parse(&body.name)?,
        tags: parse_tags(&body.tags)?,
    };
    let id = reg.id.clone();
    let done = app
        .execute(caller.actor(), |state, ctx| Ok((admin::register_workspace(state, ctx, reg.clone())?, ())))
        .await?;
    Ok(Written { seq: done.seq, value: workspace_view(app, &id)? })
}

/// Renames a workspace. Its identifier never changes: giving a different one is refused.
pub async fn update_workspace(
    app: &App,
    caller: &Caller,
    ws: &str,
    body: &api::UpdateWorkspace,
) -> OpResult<Written<api::Workspace>> {
    {
        let ctx = read_ctx(app, caller);
        authz::visible_workspace(&app.state(), &ctx, &ws_slug(ws)?)?;
    }
    if body.identifier.as_deref().is_some_and(|i| i != ws) {
        return Err(DomainError::invalid(
            "workspace.identifier_immutable",
            format!("the identifier of workspace '{ws}' cannot change"),
        )
        .into());
    }
    let name = body.name.as_deref().map(Name::parse).transpose()?;
    on_workspace(app, caller, ws, |s, c, w| match &name {
        Some(n) => admin::rename_workspace(s, c, w, n.clone()),
        None => Ok(Changes::default()),
    })
    .await
}

/// A step of a workspace's lifecycle (admin area).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Approve a registration.
    Approve,
    /// Reject a registration.
    Reject,
    /// Disable: every check for it is denied.
    Disable,
    /// Enable again.
    Enable,
}

/// Takes a workspace a step through its lifecycle, with an optional reason for the audit log.
pub async fn lifecycle(
    app: &App,
    caller: &Caller,
    ws: &str,
    step: Lifecycle,
    reason: Option<String>,
) -> OpResult<Written<api::Workspace>> {
    on_workspace(app, caller, ws, |s, c, w| match step {
        Lifecycle::Approve => admin::decide_registration(s, c, w, true, reason.clone()),
        Lifecycle::Reject => admin::decide_registration(s, c, w, false, reason.clone()),
        Lifecycle::Disable => admin::set_workspace_enabled(s, c, w, false, reason.clone()),
        Lifecycle::Enable => admin::set_workspace_enabled(s, c, w, true, reason.clone()),
    })
    .await
}

/// Sets a workspace's project quota (admin area).
pub async fn set_quota(
    app: &App,
    caller: &Caller,
    ws: &str,
    quota: u32,
) -> OpResult<Written<api::Workspace>> {
    on_workspace(app, caller, ws, |s, c, w| admin::set_quota(s, c, w, quota)).await
}

/// Adds the calling admin or employee to a workspace (manager, or member when the installation
/// restricts it), until an expiry. Recorded as USER_ASSIGNED_HIMSELF.
pub async fn add_myself(
    app: &App,
    caller: &Caller,
    ws: &str,
    body: &api::AddMyself,
) -> OpResult<Written<api::Binding>> {
    let ws = ws_slug(ws)?;
    let expires_at = expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), app.now())?;
    let done =
        app.execute(caller.actor(), |s, c| Ok((admin::add_myself(s, c, &ws, expires_at)?, ()))).await?;
    let now = app.now();
    let state = app.state();
    let b = state
        .bindings_on(&Target::Workspace(ws))
        .find(|b| b.user == caller.user && b.source == BindingSource::Direct && b.is_effective(now))
        .ok_or_else(ApiError::internal)?;
    Ok(Written { seq: done.seq, value: views::binding(&state, b) })
}

/// The caller leaves a workspace: all their access in it and its projects ends.
pub async fn leave_workspace(app: &App, caller: &Caller, ws: &str) -> OpResult<Written<()>> {
    let ws = ws_slug(ws)?;
    let done = app.execute(caller.actor(), |s, c| Ok((admin::leave_workspace(s, c, &ws)?, ()))).await?;
    Ok(Written { seq: done.seq, value: () })
}

fn invitation_view(app: &App, id: InvitationId) -> OpResult<api::Invitation> {
    let state = app.state();
    let i = state.invitation(id).ok_or_else(ApiError::internal)?;
    Ok(views::invitation(&state, i, app.now()))
}

/// Invites an e-mail address into a workspace with a role (and an optional membership expiry);
/// the answer carries the invitation's secret, shown only here.
pub async fn invite(
    app: &App,
    caller: &Caller,
    ws: &str,
    body: &api::CreateInvitation,
) -> OpResult<Written<api::Invitation>> {
    let ws = ws_slug(ws)?;
    {
        let ctx = read_ctx(app, caller);
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
    Ok(Written { seq: done.seq, value: shown })
}

/// A cursor key that sorts newest first and never shifts.
fn newest_first(i: &breakglass_core::org::Invitation) -> String {
    format!("{:020}-{}", i64::MAX - i.created_at.as_micros(), i.id)
}

/// A workspace's invitations (its managers and the admin area), newest first.
pub fn workspace_invitations(
    app: &App,
    caller: &Caller,
    ws: &str,
    ask: &PageAsk,
) -> OpResult<api::Page<api::Invitation>> {
    let ws = ws_slug(ws)?;
    let ctx = read_ctx(app, caller);
    let state = app.state();
    let found = invitations::of_workspace(&state, &ctx, &ws)?;
    Ok(page(found, |i| newest_first(i), ask, |i| views::invitation(&state, i, ctx.now))?)
}

/// Parses an invitation id from a path; a malformed one is as unknown as a missing one.
pub fn invitation_id(id: &str) -> Result<InvitationId, DomainError> {
    InvitationId::parse(id)
        .map_err(|_| DomainError::not_found("invitation.not_found", format!("invitation {id} not found")))
}

/// Cancels a pending invitation.
pub async fn cancel_invitation(app: &App, caller: &Caller, id: InvitationId) -> OpResult<Written<()>> {
    let done = app.execute(caller.actor(), |s, c| Ok((invitations::cancel(s, c, id)?, ()))).await?;
    Ok(Written { seq: done.seq, value: () })
}

/// Accepts an invitation addressed to the caller, with its secret: grants exactly the invited role.
pub async fn accept_invitation(
    app: &App,
    caller: &Caller,
    id: InvitationId,
    token: &str,
) -> OpResult<Written<api::Invitation>> {
    let digest = auth::secret_hash(token.trim());
    let done = app.execute(caller.actor(), |s, c| Ok((invitations::accept(s, c, id, digest)?, ()))).await?;
    Ok(Written { seq: done.seq, value: invitation_view(app, id)? })
}

/// Declines an invitation addressed to the caller.
pub async fn decline_invitation(
    app: &App,
    caller: &Caller,
    id: InvitationId,
) -> OpResult<Written<api::Invitation>> {
    let done = app.execute(caller.actor(), |s, c| Ok((invitations::decline(s, c, id)?, ()))).await?;
    Ok(Written { seq: done.seq, value: invitation_view(app, id)? })
}

/// The caller's pending invitations, newest first.
pub fn my_invitations(app: &App, caller: &Caller, ask: &PageAsk) -> OpResult<api::Page<api::Invitation>> {
    let now = app.now();
    let state = app.state();
    let me = state.user(caller.user).ok_or_else(ApiError::internal)?;
    let mut found = invitations::pending_for(&state, &me.email, now);
    found.sort_by_cached_key(newest_first);
    Ok(page(found, newest_first, ask, |i| views::invitation(&state, &i, now))?)
}

/// Tag definitions, by key.
pub fn list_tags(app: &App, ask: &PageAsk) -> OpResult<api::Page<api::TagDefinition>> {
    let state = app.state();
    Ok(page(state.tag_definitions(), |d| d.key.to_string(), ask, views::tag_definition)?)
}

/// Creates or replaces a tag definition (admins).
pub async fn define_tag(
    app: &App,
    caller: &Caller,
    body: &api::TagDefinition,
) -> OpResult<Written<api::TagDefinition>> {
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
    Ok(Written { seq: done.seq, value: views::tag_definition(d) })
}

/// Parses a tag key from a path; an invalid one names no definition.
pub fn tag_key(key: &str) -> Result<TagKey, DomainError> {
    TagKey::parse(key)
        .map_err(|_| DomainError::not_found("tag.not_found", format!("no tag '{key}' is defined")))
}

/// Removes a tag definition (admins). Values already set stay.
pub async fn remove_tag_definition(app: &App, caller: &Caller, key: TagKey) -> OpResult<Written<()>> {
    let done = app.execute(caller.actor(), |s, c| Ok((tags::remove_tag_definition(s, c, &key)?, ()))).await?;
    Ok(Written { seq: done.seq, value: () })
}

/// What a tag was set on.
#[derive(Debug)]
pub enum Tagged {
    /// A workspace.
    Workspace(api::Workspace),
    /// A project.
    Project(api::Project),
}

/// Sets (`Some`) or removes (`None`) a tag on a workspace or, with `project`, a project of it
/// (workspace managers; restricted tags: the admin area; mandatory tags stay).
pub async fn tag(
    app: &App,
    caller: &Caller,
    ws: &str,
    project: Option<&str>,
    key: &str,
    value: Option<String>,
) -> OpResult<Written<Tagged>> {
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
            Ok(Written { seq: done.seq, value: Tagged::Workspace(views::workspace(&state, w)) })
        }
        Target::Project(w, p) => {
            let p = state.project(w, p).ok_or_else(ApiError::internal)?;
            Ok(Written { seq: done.seq, value: Tagged::Project(views::project(p)) })
        }
    }
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
pub fn get_settings(app: &App, caller: &Caller) -> OpResult<api::Settings> {
    require_admin(app, caller)?;
    Ok(views::settings(app.state().settings()))
}

/// Changes installation settings (admins); only the fields given change, each change audited.
pub async fn update_settings(
    app: &App,
    caller: &Caller,
    body: &api::Settings,
) -> OpResult<Written<api::Settings>> {
    require_admin(app, caller)?;
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
    Ok(Written { seq: done.seq, value: views::settings(app.state().settings()) })
}
