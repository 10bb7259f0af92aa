//! The forms that manage a workspace and its projects beyond membership: temporary grants,
//! invitations, leaving, renaming, tags, policies and entitlements, tenants and service users.
//! Each calls the API handler that does the same and comes back to the page it was sent from.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use breakglass_api as api;
use maud::html;

use super::dashboard::with_status;
use super::layout::when;
use super::workspace::{render, render_project};
use super::{expiry_fields, finish, local_path, redirect_with, Failed, Form, Web};
use crate::app::App;
use crate::error::ApiError;
use crate::ops::admin as ops;

/// Where a form goes back to, and how a refusal is shown there.
pub(super) enum Back<'a> {
    /// A tab of the workspace page.
    Tab(&'a str, &'a str),
    /// A project page.
    Project(&'a str, &'a str),
}

impl Back<'_> {
    pub(super) fn path(&self) -> String {
        match self {
            Back::Tab(ws, "access") => format!("/w/{ws}"),
            Back::Tab(ws, tab) => format!("/w/{ws}?tab={tab}"),
            Back::Project(ws, p) => format!("/w/{ws}/p/{p}"),
        }
    }
}

/// Ends a form with fields: back with `notice`, or the page again with the error placed by
/// `fields` next to its field and what was typed kept.
pub(super) async fn settle(
    app: &Arc<App>,
    web: &Web,
    back: Back<'_>,
    result: Result<impl Sized, ApiError>,
    notice: &str,
    failed: impl FnOnce(&ApiError) -> Failed,
) -> Response {
    match result {
        Ok(_) => redirect_with(&back.path(), notice, web.secure),
        Err(e) => {
            let failed = failed(&e);
            let page = match back {
                Back::Tab(ws, tab) => render(app, web, ws, tab, &failed, None).await,
                Back::Project(ws, p) => render_project(app, web, ws, p, &failed, None).await,
            };
            with_status(page, e.status)
        }
    }
}

fn ok<T>(r: Result<T, ApiError>) -> Result<(), ApiError> {
    r.map(|_| ())
}

const GRANT_FIELDS: &[(&str, &str)] = &[
    ("user", "user"),
    ("email", "user"),
    ("role", "role"),
    ("expir", "expires"),
    ("span", "expires"),
    ("time", "expires"),
    ("reason", "reason"),
];

/// `POST /w/{ws}/grants`: a temporary role on top of membership (workspace or, with `project`,
/// a project of it).
pub async fn grant(State(app): State<Arc<App>>, web: Web, Path(ws): Path<String>, form: Form) -> Response {
    let project = form.get("project");
    let (expires_at, expires_in) = expiry_fields(form.get("expires"));
    let body = api::CreateGrant {
        user: form.text("user"),
        workspace: ws.clone(),
        project: project.clone(),
        role: form.text("role"),
        expires_at,
        expires_in,
        reason: form.get("reason"),
    };
    let r = crate::ops::workspaces::create_grant(&app, &web.caller, &body).await.map(|w| w.value);
    let back = match &project {
        Some(p) => Back::Project(&ws, p),
        None => Back::Tab(&ws, "access"),
    };
    let notice = match &r {
        Ok(crate::ops::workspaces::Assignment::Request(_)) => {
            format!(
                "The grant of {} to {} needs approval: a request was opened.",
                form.text("role"),
                form.text("user")
            )
        }
        _ => format!("Granted {} to {} until it expires.", form.text("role"), form.text("user")),
    };
    settle(&app, &web, back, r, &notice, |e| Failed::new("grant", &form, e, GRANT_FIELDS)).await
}

/// `POST /w/{ws}/grants/{id}/revoke`.
pub async fn revoke_grant(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, id)): Path<(String, String)>,
    form: Form,
) -> Response {
    let back = local_path(form.get("back").as_deref().or(Some(&format!("/w/{ws}"))));
    let r = match crate::ops::workspaces::grant_id(&id) {
        Ok(id) => crate::ops::workspaces::revoke_grant(&app, &web.caller, id).await,
        Err(e) => Err(e.into()),
    };
    finish(ok(r), &web, &back, "Grant revoked.")
}

/// `POST /w/{ws}/invitations/{id}/cancel`.
pub async fn cancel_invitation(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, id)): Path<(String, String)>,
    _form: Form,
) -> Response {
    let r = match ops::invitation_id(&id) {
        Ok(i) => ops::cancel_invitation(&app, &web.caller, i).await,
        Err(e) => Err(e.into()),
    };
    finish(ok(r), &web, &format!("/w/{ws}"), "Invitation cancelled.")
}

/// `POST /w/{ws}/leave`.
pub async fn leave(State(app): State<Arc<App>>, web: Web, Path(ws): Path<String>, _form: Form) -> Response {
    let r = ops::leave_workspace(&app, &web.caller, &ws).await;
    match r {
        Ok(_) => redirect_with("/", &format!("You left {ws}."), web.secure),
        Err(e) => super::redirect_refused(&format!("/w/{ws}"), &e, web.secure),
    }
}

/// `POST /w/{ws}/rename`.
pub async fn rename(State(app): State<Arc<App>>, web: Web, Path(ws): Path<String>, form: Form) -> Response {
    let body = api::UpdateWorkspace { name: Some(form.text("name")), identifier: None };
    let r = ops::update_workspace(&app, &web.caller, &ws, &body).await;
    settle(&app, &web, Back::Tab(&ws, "settings"), r, "Renamed.", |e| {
        Failed::new("rename", &form, e, &[("name", "name")])
    })
    .await
}

const TAG_FIELDS: &[(&str, &str)] =
    &[("key", "key"), ("tag.unknown", "key"), ("value", "value"), ("tag", "value")];

/// `POST /w/{ws}/tags`.
pub async fn set_tag(State(app): State<Arc<App>>, web: Web, Path(ws): Path<String>, form: Form) -> Response {
    let (key, value) = (form.text("key"), form.text("value"));
    let r = ops::tag(&app, &web.caller, &ws, None, &key, Some(value)).await;
    settle(&app, &web, Back::Tab(&ws, "settings"), r, &format!("Tag {key} set."), |e| {
        Failed::new("tag", &form, e, TAG_FIELDS)
    })
    .await
}

/// `POST /w/{ws}/tags/{key}/remove`.
pub async fn remove_tag(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, key)): Path<(String, String)>,
    _form: Form,
) -> Response {
    let r = ops::tag(&app, &web.caller, &ws, None, &key, None).await;
    finish(ok(r), &web, &format!("/w/{ws}?tab=settings"), &format!("Tag {key} removed."))
}

/// `POST /w/{ws}/p/{p}/tags`.
pub async fn set_project_tag(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p)): Path<(String, String)>,
    form: Form,
) -> Response {
    let (key, value) = (form.text("key"), form.text("value"));
    let r = ops::tag(&app, &web.caller, &ws, Some(&p), &key, Some(value)).await;
    settle(&app, &web, Back::Project(&ws, &p), r, &format!("Tag {key} set."), |e| {
        Failed::new("tag", &form, e, TAG_FIELDS)
    })
    .await
}

/// `POST /w/{ws}/p/{p}/tags/{key}/remove`.
pub async fn remove_project_tag(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p, key)): Path<(String, String, String)>,
    _form: Form,
) -> Response {
    let r = ops::tag(&app, &web.caller, &ws, Some(&p), &key, None).await;
    finish(ok(r), &web, &format!("/w/{ws}/p/{p}"), &format!("Tag {key} removed."))
}

/// A policy from the form: name, limits, and up to three steps (`stepN_approvers`,
/// `stepN_users`, `stepN_count`); a step without approvers is left out.
pub(super) fn policy_body(ws: Option<&str>, form: &Form) -> Result<api::PolicyBody, ApiError> {
    let mut steps = Vec::new();
    for n in 1..=3 {
        let Some(approvers) = form.get(&format!("step{n}_approvers")) else { continue };
        let count = form.get(&format!("step{n}_count")).unwrap_or_else(|| "1".into());
        let count = count.parse::<u32>().map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "policy.invalid",
                format!("step {n}: the count must be a whole number"),
            )
        })?;
        let users = form
            .text(&format!("step{n}_users"))
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        steps.push(api::PolicyStep { approvers, users, count });
    }
    Ok(api::PolicyBody {
        name: form.text("name"),
        workspace: ws.map(str::to_owned),
        steps,
        max_duration: form.get("max_duration"),
        justification_required: Some(form.checked("justification_required")),
        pending_ttl: form.get("pending_ttl"),
    })
}

pub(super) const POLICY_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("duration", "max_duration"),
    ("ttl", "pending_ttl"),
    ("user", "step1_users"),
    ("policy", ""),
];

/// `POST /w/{ws}/policies`: a policy of this workspace.
pub async fn create_policy(
    State(app): State<Arc<App>>,
    web: Web,
    Path(ws): Path<String>,
    form: Form,
) -> Response {
    let r = match policy_body(Some(&ws), &form) {
        Ok(body) => crate::ops::requests::create_policy(&app, &web.caller, &body).await,
        Err(e) => Err(e),
    };
    settle(&app, &web, Back::Tab(&ws, "policies"), r, "Policy created.", |e| {
        Failed::new("policy", &form, e, POLICY_FIELDS)
    })
    .await
}

/// `POST /w/{ws}/policies/{id}`: replaces a policy (pending requests keep their copy).
pub async fn update_policy(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, id)): Path<(String, String)>,
    form: Form,
) -> Response {
    let r = match policy_body(Some(&ws), &form) {
        Ok(body) => match crate::ops::requests::policy_id(&id) {
            Ok(pid) => crate::ops::requests::update_policy(&app, &web.caller, pid, &body).await,
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    let name = format!("policy-{id}");
    let notice = "Policy saved; open requests keep the rules they started with.";
    settle(&app, &web, Back::Tab(&ws, "policies"), r, notice, |e| Failed::new(&name, &form, e, POLICY_FIELDS))
        .await
}

/// `POST /w/{ws}/entitlements`: which policies govern one role, and whether emergencies are allowed.
pub async fn set_entitlement(
    State(app): State<Arc<App>>,
    web: Web,
    Path(ws): Path<String>,
    form: Form,
) -> Response {
    let target = form.text("target");
    let (project, role) = target.split_once('|').unwrap_or(("", ""));
    let body = api::EntitlementBody {
        request_policy: form.get("request_policy"),
        emergency_enabled: form.checked("emergency_enabled"),
        emergency_policy: form.get("emergency_policy"),
    };
    let project = (!project.is_empty()).then_some(project);
    let r = crate::ops::requests::set_entitlement(&app, &web.caller, &ws, project, role, &body).await;
    let fields: &[(&str, &str)] =
        &[("emergency", "emergency_policy"), ("policy", "request_policy"), ("role", "target")];
    settle(&app, &web, Back::Tab(&ws, "policies"), r, "Entitlement saved.", |e| {
        Failed::new("entitlement", &form, e, fields)
    })
    .await
}

/// `POST /w/{ws}/p/{p}/tenants`.
pub async fn create_tenant(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p)): Path<(String, String)>,
    form: Form,
) -> Response {
    let r = crate::ops::platforms::create_tenant(
        &app,
        &web.caller,
        &ws,
        &p,
        &form.text("platform"),
        &form.text("external_id"),
    )
    .await;
    let fields: &[(&str, &str)] =
        &[("platform", "platform"), ("external", "external_id"), ("tenant", "external_id")];
    settle(&app, &web, Back::Project(&ws, &p), r, "Tenant recorded.", |e| {
        Failed::new("tenant", &form, e, fields)
    })
    .await
}

/// `POST /w/{ws}/p/{p}/tenants/{platform}/service-users`: its secret is shown once.
pub async fn create_service_user(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p, platform)): Path<(String, String, String)>,
    form: Form,
) -> Response {
    let body = breakglass_api::CreateServiceUser {
        name: form.text("name"),
        role: Some(form.text("role")).filter(|r| !r.is_empty()),
    };
    let r = crate::ops::platforms::create_service_user(&app, &web.caller, (&ws, &p, &platform), &body)
        .await
        .map(|w| w.value);
    match r {
        Ok(c) => {
            let once = html! {
                section.card role="status" {
                    h2 { "Service user “" (c.service_user.name) "” on " (platform) }
                    p { "Copy the secret now: it is shown only once." }
                    p { "Client id:" } code.secret { (c.service_user.client_id) }
                    p { "Secret:" } code.secret #service-user-secret { (c.secret) }
                    p.muted { "Created " (when(&c.service_user.created_at)) "." }
                }
            };
            render_project(&app, &web, &ws, &p, &Failed::default(), Some(once)).await
        }
        Err(e) => {
            let failed = Failed::new(
                format!("su-{platform}"),
                &form,
                &e,
                &[("name", "name"), ("service_user", "name")],
            );
            with_status(render_project(&app, &web, &ws, &p, &failed, None).await, e.status)
        }
    }
}

/// `POST /w/{ws}/p/{p}/tenants/{platform}/credentials`: the password is shown once.
pub async fn issue_credential(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p, platform)): Path<(String, String, String)>,
    _form: Form,
) -> Response {
    match crate::ops::platforms::issue_credential(&app, &web.caller, (&ws, &p, &platform)).await {
        Ok(w) => {
            let c = w.value;
            let once = html! {
                section.card role="status" {
                    h2 { "Your credential on " (platform) }
                    p { "Copy the password now: it is shown only once. " (platform) " refuses it after " (when(&c.expires_at)) "." }
                    @if !c.ready { p.muted { "The platform accepts it within seconds." } }
                    p { "Login:" } code.secret { (c.login) }
                    p { "Password:" } code.secret #credential-password { (c.password) }
                    @if let Some(line) = &c.connect { p { "Connect with:" } code.secret { (line) } }
                }
            };
            render_project(&app, &web, &ws, &p, &Failed::default(), Some(once)).await
        }
        Err(e) => super::layout::error_page(e.status, &e.detail),
    }
}

/// `POST /w/{ws}/p/{p}/tenants/{platform}/ssh-certificates`: the certificate, to save beside
/// the key.
pub async fn sign_ssh_key(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p, platform)): Path<(String, String, String)>,
    form: Form,
) -> Response {
    let key = form.get("public_key").unwrap_or_default();
    match crate::ops::ssh::sign(&app, &web.caller, (&ws, &p, &platform), &key).await {
        Ok(w) => {
            let c = w.value;
            let signed = html! {
                section.card role="status" {
                    h2 { "Your SSH certificate for " (platform) }
                    p { "Principals " strong { (c.principals.join(", ")) } " on the hosts of " code { (c.external_id) } ", until " (when(&c.expires_at)) "; hosts refuse it after that by themselves." }
                    p { "Save it beside your key as " code { "KEY-cert.pub" } " (for " code { "~/.ssh/id_ed25519" } ": " code { "~/.ssh/id_ed25519-cert.pub" } "), where ssh finds it:" }
                    code.secret #ssh-certificate { (c.certificate) }
                    p.muted { "Serial " (c.serial) ", key " (c.fingerprint) "." }
                }
            };
            render_project(&app, &web, &ws, &p, &Failed::default(), Some(signed)).await
        }
        Err(e) => {
            // A private key pasted by mistake is not shown back.
            let mut shown = Form(form.0.clone());
            if key.contains("PRIVATE KEY") {
                shown.0.remove("public_key");
            }
            let failed = Failed::new(format!("ssh-{platform}"), &shown, &e, &[("public_key", "public_key")]);
            with_status(render_project(&app, &web, &ws, &p, &failed, None).await, e.status)
        }
    }
}

/// `POST /w/{ws}/p/{p}/tenants/{platform}/service-users/{id}/delete`.
pub async fn delete_service_user(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p, platform, id)): Path<(String, String, String, String)>,
    _form: Form,
) -> Response {
    let r = crate::ops::platforms::delete_service_user(&app, &web.caller, (&ws, &p, &platform), &id).await;
    finish(ok(r), &web, &format!("/w/{ws}/p/{p}"), "Service user deleted; its secret no longer works.")
}
