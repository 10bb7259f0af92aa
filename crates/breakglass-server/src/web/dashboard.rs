//! The dashboard: my access with countdowns, my requests, my tasks (emergency first), open
//! emergency reviews, unread messages, pending invitations and shared accesses.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use breakglass_api as api;
use maud::{html, Markup};

use super::layout::{
    badge, countdown, csrf, emergency_badge, error_page, field, form_error, more, page, when, Nav,
};
use super::requests::{request_target, review_form, task_actions};
use super::{redirect_with, Failed, Form, Web};
use crate::app::App;
use crate::error::ApiError;
use crate::ops::requests as ops;
use crate::views;

struct Data {
    access: Vec<api::Binding>,
    requests: Vec<api::Request>,
    /// Where the caller's older requests begin, when there are more than those shown.
    older_requests: Option<String>,
    tasks: Vec<api::Task>,
    reviews: Vec<api::Review>,
    messages: Vec<api::Message>,
    /// More unread messages wait behind those shown.
    more_messages: bool,
    invitations: Vec<api::Invitation>,
    accesses: Vec<api::Access>,
    me: String,
}

async fn load(app: &Arc<App>, web: &Web, older: Option<&str>) -> Result<Data, ApiError> {
    let caller = &web.caller;
    let (mut access, me) = {
        let now = app.now();
        let state = app.state();
        let access: Vec<api::Binding> = state
            .bindings_of_user(caller.user)
            .filter(|b| b.is_effective(now) && caller.bounds.covers(b.target.workspace()))
            .map(|b| views::binding(&state, b))
            .collect();
        let me = state.user(caller.holder).map(|u| u.email.to_string()).unwrap_or_default();
        (access, me)
    };
    // Emergency access first, then what ends soonest, then standing access.
    access.sort_by(|a, b| {
        (!a.emergency, a.expires_at.is_none(), &a.expires_at, &a.workspace, &a.project).cmp(&(
            !b.emergency,
            b.expires_at.is_none(),
            &b.expires_at,
            &b.workspace,
            &b.project,
        ))
    });
    let asked = api::RequestQuery { limit: Some(50), cursor: older.map(str::to_owned), ..Default::default() };
    let reqs = ops::list_requests(app, caller, &asked)?;
    // Tasks come emergency first; every one is shown, as is every open review.
    let tasks = crate::ops::every(|ask| ops::list_tasks(app, caller, ask))?;
    let reviews = crate::ops::every(|ask| {
        let q = api::ReviewQuery { limit: ask.limit, cursor: ask.cursor.clone(), ..Default::default() };
        ops::list_reviews(app, caller, &q)
    })?;
    let messages = crate::ops::messages::unread(app, caller, &crate::ops::PageAsk::default())?;
    let invitations = crate::ops::every(|ask| crate::ops::admin::my_invitations(app, caller, ask))?;
    // Accesses shared with someone are theirs to answer, never a delegate's on their behalf.
    let accesses = if caller.bounds.delegate.is_some() {
        Vec::new()
    } else {
        crate::ops::accesses::awaiting_answer(app, caller)?
    };
    Ok(Data {
        access,
        older_requests: reqs.next_cursor,
        requests: reqs.items,
        tasks,
        reviews: reviews.into_iter().filter(|r| r.holder != me).collect(),
        more_messages: messages.next_cursor.is_some(),
        messages: messages.items,
        invitations: invitations.into_iter().filter(|i| i.state == api::InvitationState::Pending).collect(),
        accesses,
        me,
    })
}

/// `GET /`: the dashboard. `?code=` carries an invitation code from a sign-up link.
pub async fn show(
    State(app): State<Arc<App>>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render(
        &app,
        &web,
        q.get("code").map(String::as_str),
        q.get("requests").map(String::as_str),
        &Failed::default(),
    )
    .await
}

/// The dashboard again, with a failed form's error and values.
pub async fn render_failed(app: &Arc<App>, web: &Web, failed: &Failed) -> Response {
    render(app, web, None, None, failed).await
}

async fn render(
    app: &Arc<App>,
    web: &Web,
    code: Option<&str>,
    older: Option<&str>,
    failed: &Failed,
) -> Response {
    let d = match load(app, web, older).await {
        Ok(d) => d,
        Err(e) => return error_page(e.status, &e.detail),
    };
    let now = app.now();
    let registration_open =
        app.state().settings().workspace_registration != breakglass_core::org::Registration::Closed;
    let body = html! {
        div.actions {
            h1 { "Dashboard" }
            @if registration_open { a.small-text href="/workspaces/new" { "Register a workspace" } }
        }
        @if !d.invitations.is_empty() {
            section.card aria-labelledby="inv-h" {
                h2 #inv-h { "Invitations for you" }
                @for i in &d.invitations {
                    div {
                        p {
                            strong { (i.invited_by) } " invites you to " strong { (i.workspace) } " as " (i.role)
                            @if let Some(e) = &i.membership_expires_at { " until " (when(e)) }
                            ". " span.muted { "Valid " (countdown(&i.expires_at, now)) }
                        }
                        form method="post" action=(format!("/invitations/{}/accept", i.id)) {
                            (csrf(web))
                            (form_error(failed, &format!("inv-{}", i.id)))
                            (field(failed, &format!("inv-{}", i.id), "token", "Invitation code", "text", code.unwrap_or(""),
                                Some("The bgi_… code you received with the invitation."), true))
                            div.actions {
                                button type="submit" { "Accept" }
                                button.secondary type="submit" formaction=(format!("/invitations/{}/decline", i.id)) formnovalidate { "Decline" }
                            }
                        }
                    }
                }
            }
        }
        @if !d.accesses.is_empty() {
            section.card aria-labelledby="acc-h" {
                h2 #acc-h { "Accesses shared with you" }
                @for a in &d.accesses {
                    p { strong { (a.owner) } " shares a delegate access with you"
                        @if let Some(s) = &a.scope { " for workspace " strong { (s) } } @else { " for all their workspaces" }
                        @if let Some(e) = &a.expires_at { ", ending " (countdown(e, now)) } "." }
                    form method="post" action=(format!("/accesses/{}/accept", a.id)) {
                        (csrf(web))
                        (form_error(failed, &format!("acc-{}", a.id)))
                        (field(failed, &format!("acc-{}", a.id), "code", "Acceptance code", "text", "", Some("The bga_… code the owner gave you."), true))
                        div.actions {
                            button type="submit" { "Accept" }
                            button.secondary type="submit" formaction=(format!("/accesses/{}/decline", a.id)) formnovalidate { "Decline" }
                        }
                    }
                }
            }
        }
        @if !d.messages.is_empty() {
            section.card aria-labelledby="msg-h" {
                h2 #msg-h { "Messages" }
                @if d.more_messages { p.muted { "The newest " (d.messages.len()) " are shown; acknowledge them to see the older ones." } }
                @for m in &d.messages {
                    div.actions {
                        p { strong { (m.workspace) } " · " (m.sender) " · " (when(&m.created_at)) br; (m.text) }
                        form.inline method="post" action=(format!("/messages/{}/ack", m.id)) {
                            (csrf(web)) button.small.secondary type="submit" { "Acknowledge" }
                        }
                    }
                }
            }
        }
        (tasks_section(web, &d.tasks, failed, now))
        @if !d.reviews.is_empty() {
            section.card.emergency aria-labelledby="rev-h" {
                h2 #rev-h { (emergency_badge()) " Open emergency reviews" }
                @for r in &d.reviews {
                    div {
                        p { strong { (r.holder) } " held " (r.role) " on " (request_target(&r.workspace, r.project.as_deref()))
                            " in an emergency, opened " (when(&r.opened_at)) ". " a href=(format!("/requests/{}", r.request_id)) { "The request" } }
                        (review_form(web, r, failed))
                    }
                }
            }
        }
        section aria-labelledby="my-h" {
            h2 #my-h { "My access" }
            @if d.access.is_empty() {
                p.muted { "You hold no roles yet. " a href="/request" { "Request access" } }
            } @else {
                div.table-wrap { table {
                    thead { tr { th { "Where" } th { "Role" } th { "Source" } th { "Ends" } } }
                    tbody {
                        @for b in &d.access {
                            tr.emergency-row[b.emergency] {
                                td { (request_target(&b.workspace, b.project.as_deref())) }
                                td { (b.role) }
                                td { @if b.emergency { (emergency_badge()) } @else { (b.source) } }
                                td { @match &b.expires_at { Some(e) => { (countdown(e, now)) br; span.small-text.muted { (when(e)) } }, None => span.muted { "standing" } } }
                            }
                        }
                    }
                } }
            }
        }
        section aria-labelledby="req-h" {
            h2 #req-h { "My requests" }
            @if d.requests.is_empty() {
                p.muted { "No requests. " a href="/request" { "Request access" } }
            } @else {
                (requests_table(&d.requests, &d.me))
                (more("/", "requests", d.older_requests.as_deref()))
            }
        }
    };
    page(app, web, Nav::Home, None, "Dashboard", body)
}

/// The tasks waiting for the visitor, emergency ones first and marked.
fn tasks_section(
    web: &Web,
    tasks: &[api::Task],
    failed: &Failed,
    now: breakglass_core::time::Timestamp,
) -> Markup {
    html! {
        section aria-labelledby="task-h" {
            h2 #task-h { "My tasks" }
            @if tasks.is_empty() {
                p.muted { "Nothing waits for you." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th { "Request" } th { "For" } th { "Why" } th.hide-narrow { "Lapses" } th { "Decide" } } }
                    tbody {
                        @for t in tasks {
                            @let r = &t.request;
                            tr.emergency-row[r.emergency] {
                                td {
                                    @if r.emergency { (emergency_badge()) br; }
                                    a href=(format!("/requests/{}", r.id)) { (r.role) " on " (request_target(&r.workspace, r.project.as_deref())) }
                                    @if let Some(d) = &r.duration { br; span.small-text.muted { "for " (d) } }
                                }
                                td { (r.user) }
                                td { (r.justification.as_deref().unwrap_or("—")) }
                                td.hide-narrow { (countdown(&r.lapses_at, now)) }
                                td { (task_actions(web, t, failed)) }
                            }
                        }
                    }
                } }
            }
        }
    }
}

/// A table of requests with their state.
pub fn requests_table(requests: &[api::Request], me: &str) -> Markup {
    html! {
        div.table-wrap { table {
            thead { tr { th { "Request" } th { "For" } th { "State" } th.hide-narrow { "Opened" } } }
            tbody {
                @for r in requests {
                    tr.emergency-row[r.emergency] {
                        td {
                            @if r.emergency { (emergency_badge()) " " }
                            a href=(format!("/requests/{}", r.id)) { (r.role) " on " (request_target(&r.workspace, r.project.as_deref())) }
                        }
                        td { @if r.user == me { "me" } @else { (r.user) } }
                        td { (badge(r.state)) }
                        td.hide-narrow { (when(&r.created_at)) }
                    }
                }
            }
        } }
    }
}

/// `POST /invitations/{id}/accept`.
pub async fn accept_invitation(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let result = match crate::ops::admin::invitation_id(&id) {
        Ok(i) => crate::ops::admin::accept_invitation(&app, &web.caller, i, &form.text("token"))
            .await
            .map(|w| w.value),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(i) => redirect_with(
            &format!("/w/{}", i.workspace),
            &format!("You joined {} as {}.", i.workspace, i.role),
            web.secure,
        ),
        Err(e) => {
            let failed =
                Failed::new(format!("inv-{id}"), &form, &e, &[("token", "token"), ("invitation", "token")]);
            with_status(render(&app, &web, None, None, &failed).await, e.status)
        }
    }
}

/// `POST /invitations/{id}/decline`.
pub async fn decline_invitation(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let result = match crate::ops::admin::invitation_id(&id) {
        Ok(i) => crate::ops::admin::decline_invitation(&app, &web.caller, i).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => redirect_with("/", "Invitation declined.", web.secure),
        Err(e) => error_page(e.status, &e.detail),
    }
}

/// `POST /messages/{id}/ack`.
pub async fn ack_message(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let result = match crate::ops::messages::message_id(&id) {
        Ok(id) => crate::ops::messages::acknowledge(&app, &web.caller, id).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => redirect_with("/", "Message acknowledged.", web.secure),
        Err(e) => error_page(e.status, &e.detail),
    }
}

/// Sets the status of a re-rendered page to the failure's.
pub fn with_status(mut r: Response, status: axum::http::StatusCode) -> Response {
    *r.status_mut() = status;
    r
}
