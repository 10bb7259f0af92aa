//! Asking who may do what (the API's check, with the bindings that prove it), and registering
//! a workspace where the installation allows self-service.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use breakglass_api as api;
use maud::html;

use super::dashboard::with_status;
use super::layout::{countdown, csrf, emergency_badge, field, form_error, page, when, Nav};
use super::{redirect_with, Failed, Form, Web, IDENT_FIELDS};
use crate::app::App;

/// `GET /check`.
pub async fn check_page(State(app): State<Arc<App>>, web: Web) -> Response {
    render_check(&app, &web, &Failed::default(), None)
}

fn render_check(
    app: &Arc<App>,
    web: &Web,
    failed: &Failed,
    answer: Option<(api::CheckRequest, api::CheckResponse)>,
) -> Response {
    let now = app.now();
    let body = html! {
        h1 { "Check access" }
        p.muted { "Does a user hold a role right now, and which bindings prove it? The same answer downstream systems get from the API." }
        form.card method="post" action="/check" novalidate {
            (csrf(web))
            (form_error(failed, "check"))
            (field(failed, "check", "user", "User's e-mail", "email", "", None, true))
            (field(failed, "check", "workspace", "Workspace", "text", "", None, true))
            (field(failed, "check", "project", "Project", "text", "", Some("Empty to check a workspace role."), false))
            (field(failed, "check", "role", "Role", "text", "", Some("member, manager, owner — or reader, user, admin on a project. A higher role also answers yes."), true))
            button type="submit" { "Check" }
        }
        @if let Some((q, a)) = &answer {
            section.card role="status" #check-answer {
                @if a.allowed {
                    h2 { "Yes: " (q.user) " holds " (q.role) " on " (q.workspace) @if let Some(p) = &q.project { " / " (p) } }
                    p { @match &a.expires_at { Some(e) => { "Until " (when(e)) " (" (countdown(e, now)) ")." }, None => "With no end." } }
                    ul { @for v in &a.via { li {
                        @if v.emergency { (emergency_badge()) " " }
                        (v.role) " (" (v.source) ")"
                        @if let Some(e) = &v.expires_at { ", ends " (countdown(e, now)) }
                        @if let Some(r) = &v.request_id { " — " a href=(format!("/requests/{r}")) { "request" } }
                    } } }
                } @else {
                    h2 { "No: " (q.user) " does not hold " (q.role) " on " (q.workspace) @if let Some(p) = &q.project { " / " (p) } }
                    p { "Reason: " code { (a.reason.unwrap_or(api::DenyReason::NoBinding)) } }
                }
            }
        }
    };
    page(app, web, Nav::Home, None, "Check access", body)
}

/// `POST /check`.
pub async fn check(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let q = api::CheckRequest {
        user: form.text("user"),
        workspace: form.text("workspace"),
        project: form.get("project"),
        role: form.text("role"),
        min_seq: None,
    };
    let project = q.project.as_deref();
    let ask = crate::ops::check::Ask { user: &q.user, workspace: &q.workspace, project, role: &q.role };
    match crate::ops::check::one(&app, &web.caller, ask, None).await {
        Ok(a) => {
            let failed = Failed { form: "check".into(), values: form.0.clone(), ..Failed::default() };
            render_check(&app, &web, &failed, Some((q, a)))
        }
        Err(e) => {
            let fields: &[(&str, &str)] = &[
                ("user", "user"),
                ("email", "user"),
                ("workspace", "workspace"),
                ("project", "project"),
                ("role", "role"),
            ];
            let failed = Failed::new("check", &form, &e, fields);
            with_status(render_check(&app, &web, &failed, None), e.status)
        }
    }
}

/// `GET /workspaces/new`: self-service registration.
pub async fn register_page(State(app): State<Arc<App>>, web: Web) -> Response {
    render_register(&app, &web, &Failed::default())
}

fn render_register(app: &Arc<App>, web: &Web, failed: &Failed) -> Response {
    let body = html! {
        h1 { "Register a workspace" }
        p.muted { "Depending on the installation's settings it is active at once or waits for the admin area's approval; you become its owner." }
        form.card method="post" action="/workspaces/new" novalidate {
            (csrf(web))
            (form_error(failed, "register"))
            (field(failed, "register", "identifier", "Identifier", "text", "", Some("Lowercase letters, digits and -; it never changes."), true))
            (field(failed, "register", "name", "Name", "text", "", None, true))
            button type="submit" { "Register" }
        }
    };
    page(app, web, Nav::Home, None, "Register a workspace", body)
}

/// `POST /workspaces/new`.
pub async fn register(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let body = api::RegisterWorkspace {
        identifier: form.text("identifier"),
        name: form.text("name"),
        tags: Default::default(),
    };
    match crate::ops::admin::register_workspace(&app, &web.caller, &body).await.map(|w| w.value) {
        Ok(w) if w.status == api::WorkspaceStatus::Active => {
            redirect_with(&format!("/w/{}", w.identifier), "Workspace registered; you own it.", web.secure)
        }
        Ok(w) => redirect_with(
            "/",
            &format!("Workspace {} registered; it waits for the admin area's approval.", w.identifier),
            web.secure,
        ),
        Err(e) => {
            let failed = Failed::new("register", &form, &e, IDENT_FIELDS);
            with_status(render_register(&app, &web, &failed), e.status)
        }
    }
}
