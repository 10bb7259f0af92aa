//! Requesting access (with the emergency toggle where the entitlement allows it), one request's
//! page (approvals, escalate, cancel, approve, deny), and completing emergency reviews.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use breakglass_api as api;
use maud::{html, Markup};

use super::dashboard::with_status;
use super::layout::{
    badge, countdown, csrf, emergency_badge, error_page, field, form_error, page, select, when, Nav,
};
use super::{redirect_with, Failed, Form, Web};
use crate::app::App;
use crate::error::ApiError;
use crate::ops::requests as ops;

/// `payments` or `payments / ledger`, linked to its page.
pub fn request_target(ws: &str, project: Option<&str>) -> Markup {
    html! {
        @match project {
            Some(p) => { a href=(format!("/w/{ws}/p/{p}")) { (ws) " / " (p) } },
            None => { a href=(format!("/w/{ws}")) { (ws) } },
        }
    }
}

/// Approve and deny for one task.
pub fn task_actions(web: &Web, t: &api::Task, failed: &Failed) -> Markup {
    let id = &t.request.id;
    let form = format!("deny-{id}");
    html! {
        div.actions {
            form.inline method="post" action=(format!("/requests/{id}/approve")) {
                (csrf(web))
                @if t.override_only {
                    input type="hidden" name="override" value="true";
                    button.small type="submit" title="You are not an approver of this step: this grants it at once, recorded as an admin-area override" { "Approve (override)" }
                } @else {
                    button.small type="submit" { "Approve" }
                }
            }
            details {
                summary { "Deny…" }
                form method="post" action=(format!("/requests/{id}/deny")) {
                    (csrf(web))
                    (form_error(failed, &form))
                    (field(failed, &form, "reason", "Reason", "text", "", None, true))
                    button.small.danger type="submit" { "Deny" }
                }
            }
        }
        (form_error(failed, &format!("approve-{id}")))
    }
}

/// The form that completes an emergency review.
pub fn review_form(web: &Web, r: &api::Review, failed: &Failed) -> Markup {
    let form = format!("review-{}", r.id);
    let outcomes = [
        ("justified".to_owned(), "Justified".to_owned()),
        ("not_justified".to_owned(), "Not justified".to_owned()),
    ];
    html! {
        form method="post" action=(format!("/reviews/{}/complete", r.id)) {
            (csrf(web))
            (form_error(failed, &form))
            (select(failed, &form, "outcome", "Outcome", &outcomes, "justified"))
            (field(failed, &form, "notes", "Notes", "textarea", "", None, false))
            button type="submit" { "Complete review" }
        }
    }
}

/// One option of the request form: a role on a target, and whether emergency access is allowed.
struct Choice {
    value: String,
    label: String,
    emergency: bool,
}

async fn choices(app: &Arc<App>, web: &Web, ws: &str) -> Result<Vec<Choice>, ApiError> {
    let ents = crate::ops::every(|ask| ops::list_entitlements(app, &web.caller, ws, ask))?;
    Ok(ents
        .into_iter()
        .map(|e| {
            let target =
                e.project.as_deref().map_or_else(|| format!("{ws} (workspace)"), |p| format!("{ws} / {p}"));
            Choice {
                value: format!("{}|{}", e.project.as_deref().unwrap_or(""), e.role),
                label: format!(
                    "{target} — {}{}",
                    e.role,
                    if e.emergency_enabled { " (emergency possible)" } else { "" }
                ),
                emergency: e.emergency_enabled,
            }
        })
        .collect())
}

/// `GET /request?ws=`: pick a workspace, then a role on it or one of its projects.
pub async fn request_page(
    State(app): State<Arc<App>>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render_request(&app, &web, q.get("ws").map(String::as_str), &Failed::default()).await
}

async fn render_request(app: &Arc<App>, web: &Web, ws: Option<&str>, failed: &Failed) -> Response {
    let my_ws: Vec<(String, String)> = {
        let now = app.now();
        let state = app.state();
        web.caller.workspaces(&state, now).into_iter().map(|w| (w.to_string(), w.to_string())).collect()
    };
    let ws =
        ws.filter(|w| !w.is_empty()).map(str::to_owned).or_else(|| my_ws.first().map(|(w, _)| w.clone()));
    let choices = match &ws {
        Some(w) => match choices(app, web, w).await {
            Ok(c) => c,
            Err(e) => return error_page(e.status, &e.detail),
        },
        None => Vec::new(),
    };
    let any_emergency = choices.iter().any(|c| c.emergency);
    let opts: Vec<(String, String)> = choices.iter().map(|c| (c.value.clone(), c.label.clone())).collect();
    let emergency_values: Vec<&str> =
        choices.iter().filter(|c| c.emergency).map(|c| c.value.as_str()).collect();
    // Rendered for the role first selected, so the page is right before (and without) script.
    let selected = failed.value("request", "target").or_else(|| choices.first().map(|c| c.value.as_str()));
    let emergency_shown = selected.is_some_and(|v| emergency_values.contains(&v));
    let body = html! {
        h1 { "Request access" }
        form.card.filters method="get" action="/request" {
            div.field {
                label for="pick-ws" { "Workspace" }
                input #pick-ws name="ws" list="my-ws" value=(ws.as_deref().unwrap_or(""));
                datalist #my-ws { @for (w, _) in &my_ws { option value=(w); } }
            }
            button.secondary type="submit" { "Show roles" }
        }
        @if let Some(ws) = &ws {
            form.card method="post" action="/request" novalidate {
                (csrf(web))
                input type="hidden" name="workspace" value=(ws);
                (form_error(failed, "request"))
                (select(failed, "request", "target", "Role and where", &opts, ""))
                (field(failed, "request", "duration", "For how long", "text", "2h", Some("For example 30m, 2h or 1d. The policy may cap it."), true))
                (field(failed, "request", "justification", "Justification", "textarea", "", Some("Why you need it; approvers and reviewers read this."), false))
                @if any_emergency {
                    div.check #emergency-box data-allowed=(emergency_values.join(",")) hidden[!emergency_shown] {
                        input #request-emergency type="checkbox" name="emergency" value="true" checked[failed.value("request", "emergency").is_some()];
                        label for="request-emergency" { (emergency_badge()) " This is an emergency" }
                    }
                    p.hint #emergency-hint hidden[!emergency_shown] { "Emergency access is granted under the emergency policy, is short, and is reviewed afterwards. Only roles marked “emergency possible” allow it." }
                }
                button type="submit" { "Send request" }
            }
        } @else {
            p.muted { "You belong to no workspace yet. Ask a workspace manager to invite you." }
        }
    };
    page(app, web, Nav::Request, ws.as_deref(), "Request access", body)
}

/// `POST /request`.
pub async fn create(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let ws = form.text("workspace");
    let target = form.text("target");
    let (project, role) = target.split_once('|').unwrap_or(("", ""));
    let body = api::CreateRequest {
        workspace: ws.clone(),
        project: (!project.is_empty()).then(|| project.to_owned()),
        role: role.to_owned(),
        duration: form.text("duration"),
        justification: form.get("justification"),
        emergency: form.checked("emergency"),
    };
    match ops::create_request(&app, &web.caller, &body).await.map(|w| w.value) {
        Ok(r) => {
            let notice = match r.state {
                api::RequestState::Granted if r.emergency => {
                    "Emergency access granted. It is recorded and will be reviewed."
                }
                api::RequestState::Granted => "Access granted.",
                _ => "Request sent; approvers have been given a task.",
            };
            redirect_with(&format!("/requests/{}", r.id), notice, web.secure)
        }
        Err(e) => {
            let failed = Failed::new(
                "request",
                &form,
                &e,
                &[
                    ("duration", "duration"),
                    ("span", "duration"),
                    ("justification", "justification"),
                    ("role", "target"),
                    ("emergency", "target"),
                    ("project", "target"),
                ],
            );
            with_status(render_request(&app, &web, Some(&ws), &failed).await, e.status)
        }
    }
}

/// `GET /requests/{id}`.
pub async fn show(State(app): State<Arc<App>>, web: Web, Path(id): Path<String>) -> Response {
    render_show(&app, &web, &id, &Failed::default()).await
}

async fn render_show(app: &Arc<App>, web: &Web, id: &str, failed: &Failed) -> Response {
    let found = ops::request_id(id).map_err(ApiError::from).and_then(|rid| {
        let r = ops::get_request(app, &web.caller, rid)?;
        Ok((r, ops::task_on(app, &web.caller, rid)?, ops::review_of(app, &web.caller, rid).ok().flatten()))
    });
    let (r, task, review) = match found {
        Ok(f) => f,
        Err(e) => return error_page(e.status, &e.detail),
    };
    let now = app.now();
    let me = app.state().user(web.caller.user).map(|u| u.email.to_string()).unwrap_or_default();
    let mine = r.user == me || r.created_by == me;
    let body = html! {
        h1 {
            @if r.emergency { (emergency_badge()) " " }
            (r.role) " on " (request_target(&r.workspace, r.project.as_deref()))
        }
        div.card.emergency[r.emergency] {
            dl.details {
                dt { "State" } dd { (badge(r.state)) @if r.quorum_unreachable { " " span.badge.s-denied { "not enough approvers left" } } }
                dt { "For" } dd { (r.user) }
                @if r.created_by != r.user { dt { "Opened by" } dd { (r.created_by) } }
                @if let Some(v) = &r.requested_via { dt { "Through" } dd { (v) " (delegate)" } }
                dt { "Duration" } dd { (r.duration.as_deref().unwrap_or("standing")) }
                dt { "Justification" } dd { (r.justification.as_deref().unwrap_or("—")) }
                dt { "Policy" } dd { (r.policy.name)
                    @if r.policy.steps.is_empty() { " — granted without approvals" }
                    @else { " — " @for (i, s) in r.policy.steps.iter().enumerate() { @if i > 0 { ", then " } (s.count) " of " (s.approvers.replace('_', " ")) } } }
                dt { "Opened" } dd { (when(&r.created_at)) }
                @if r.state == api::RequestState::Pending { dt { "Lapses" } dd { (countdown(&r.lapses_at, now)) } }
                @if let Some(t) = &r.escalated_at { dt { "Escalated" } dd { (when(t)) } }
                @if let Some(t) = &r.decided_at { dt { "Decided" } dd { (when(t)) @if let Some(b) = &r.decided_by { " by " (b) } } }
                @if let Some(d) = &r.deny_reason { dt { "Reason" } dd { (d) } }
            }
            @if !r.approvals.is_empty() {
                h2 { "Approvals" }
                ul { @for a in &r.approvals { li { (a.by) " (step " (a.step) ") " (when(&a.at))
                    @if a.is_override { " " span.badge { "override" } }
                    @if let Some(v) = &a.via { " through " (v) } } } }
            }
        }
        (form_error(failed, "request-action"))
        @if let Some(t) = &task {
            section.card { h2 { "Your decision" } (task_actions(web, t, failed)) }
        }
        @if mine && r.state == api::RequestState::Pending {
            div.actions {
                @if !r.emergency {
                    form.inline method="post" action=(format!("/requests/{}/escalate", r.id)) {
                        (csrf(web)) button.emergency type="submit" { "Escalate to emergency" }
                    }
                }
                form.inline method="post" action=(format!("/requests/{}/cancel", r.id)) {
                    (csrf(web)) button.danger type="submit" { "Cancel request" }
                }
            }
        }
        @if let Some(v) = &review {
            section.card.emergency {
                h2 { (emergency_badge()) " Emergency review" }
                p { "Opened " (when(&v.opened_at)) ". State: " (badge(v.state))
                    @if let Some(o) = &v.outcome { " — " (badge(o)) }
                    @if let Some(b) = &v.completed_by { " by " (b) }
                    @if let Some(n) = &v.notes { br; (n) } }
                @if v.state == api::ReviewState::Open && v.holder != me { (review_form(web, v, failed)) }
            }
        }
    };
    page(app, web, Nav::Request, Some(&r.workspace), "Request", body)
}

async fn after(
    app: &Arc<App>,
    web: &Web,
    id: &str,
    result: Result<api::Request, ApiError>,
    done: &str,
    form: Option<(&str, &Form)>,
) -> Response {
    match result {
        Ok(_) => redirect_with(&format!("/requests/{id}"), done, web.secure),
        Err(e) => {
            let failed = match form {
                Some((name, f)) => Failed::new(name, f, &e, &[("reason", "reason")]),
                None => Failed::new("request-action", &Form(HashMap::new()), &e, &[]),
            };
            with_status(render_show(app, web, id, &failed).await, e.status)
        }
    }
}

/// `POST /requests/{id}/approve` (`override` for an admin-area override).
pub async fn approve(State(app): State<Arc<App>>, web: Web, Path(id): Path<String>, form: Form) -> Response {
    let r = match ops::request_id(&id) {
        Ok(rid) => ops::approve(&app, &web.caller, rid, form.checked("override")).await.map(|w| w.value),
        Err(e) => Err(e.into()),
    };
    after(&app, &web, &id, r, "Approved.", None).await
}

/// `POST /requests/{id}/deny`.
pub async fn deny(State(app): State<Arc<App>>, web: Web, Path(id): Path<String>, form: Form) -> Response {
    let r = match ops::request_id(&id) {
        Ok(rid) => ops::deny(&app, &web.caller, rid, &form.text("reason")).await.map(|w| w.value),
        Err(e) => Err(e.into()),
    };
    let name = format!("deny-{id}");
    after(&app, &web, &id, r, "Denied.", Some((&name, &form))).await
}

/// `POST /requests/{id}/cancel`.
pub async fn cancel(State(app): State<Arc<App>>, web: Web, Path(id): Path<String>, _form: Form) -> Response {
    let r = match ops::request_id(&id) {
        Ok(rid) => ops::cancel(&app, &web.caller, rid).await.map(|w| w.value),
        Err(e) => Err(e.into()),
    };
    after(&app, &web, &id, r, "Request cancelled.", None).await
}

/// `POST /requests/{id}/escalate`.
pub async fn escalate(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let r = match ops::request_id(&id) {
        Ok(rid) => ops::escalate(&app, &web.caller, rid).await.map(|w| w.value),
        Err(e) => Err(e.into()),
    };
    after(&app, &web, &id, r, "Escalated to emergency.", None).await
}

/// `POST /reviews/{id}/complete`.
pub async fn complete_review(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let parsed = ops::review_id(&id)
        .and_then(|rid| Ok((rid, breakglass_core::access::ReviewOutcome::parse(&form.text("outcome"))?)));
    let result = match parsed {
        Ok((rid, outcome)) => {
            ops::complete_review(&app, &web.caller, rid, outcome, form.get("notes")).await.map(|w| w.value)
        }
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(r) => redirect_with(&format!("/requests/{}", r.request_id), "Review completed.", web.secure),
        Err(e) => {
            let state_req = {
                let state = app.state();
                breakglass_core::ident::ReviewId::parse(&id)
                    .ok()
                    .and_then(|rid| state.review(rid).map(|v| v.request.to_string()))
            };
            let failed =
                Failed::new(format!("review-{id}"), &form, &e, &[("notes", "notes"), ("outcome", "outcome")]);
            match state_req {
                Some(req) => with_status(render_show(&app, &web, &req, &failed).await, e.status),
                None => error_page(e.status, &e.detail),
            }
        }
    }
}

/// Used by the workspace page for its "request access here" link.
pub fn request_link(ws: &str) -> String {
    format!("/request?ws={}", super::pct(ws))
}
