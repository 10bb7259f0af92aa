//! Accesses: API tokens and delegate accesses the visitor owns (created, listed with their
//! recipients' status, revoked; secrets shown once), and answering those shared with them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use breakglass_api as api;
use breakglass_core::delegation::AccessKind;
use breakglass_core::ident::{Email, Name, Slug};
use maud::{html, Markup};

use super::dashboard::with_status;
use super::layout::{badge, countdown, csrf, error_page, field, form_error, more, page, select, when, Nav};
use super::{expiry_of, redirect_with, Failed, Form, Web};
use crate::app::App;
use crate::error::ApiError;
use crate::ops::accesses::{self as ops, access_id};
use crate::ops::users::{self as users, token_id};
use crate::ops::PageAsk;

/// Where each list of the page starts: the `next_cursor` its "more" link carried.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Cursors {
    accesses: Option<String>,
    tokens: Option<String>,
    received: Option<String>,
}

fn from(cursor: &Option<String>) -> PageAsk {
    PageAsk { limit: None, cursor: cursor.clone() }
}

/// `GET /accesses`.
pub async fn show(State(app): State<Arc<App>>, web: Web, Query(at): Query<Cursors>) -> Response {
    render(&app, &web, &Failed::default(), None, &at).await
}

async fn render(
    app: &Arc<App>,
    web: &Web,
    failed: &Failed,
    shown_once: Option<Markup>,
    at: &Cursors,
) -> Response {
    // A delegate never manages the owner's accesses (the API refuses it); show why instead.
    let own = if web.caller.bounds.delegate.is_some() {
        None
    } else {
        match ops::list(app, &web.caller, None, &from(&at.accesses)) {
            Ok(p) => Some(p),
            Err(e) => return error_page(e.status, &e.detail),
        }
    };
    let (tokens, received) = if own.is_none() {
        (
            api::Page { items: Vec::new(), next_cursor: None },
            api::Page { items: Vec::new(), next_cursor: None },
        )
    } else {
        let tokens = match users::list_tokens(app, &web.caller, &from(&at.tokens)).await {
            Ok(p) => p,
            Err(e) => return error_page(e.status, &e.detail),
        };
        match ops::received(app, &web.caller, &from(&at.received)) {
            Ok(p) => (tokens, p),
            Err(e) => return error_page(e.status, &e.detail),
        }
    };
    let now = app.now();
    let kinds = [
        ("delegate".to_owned(), "Delegate access (someone acts as me)".to_owned()),
        ("api_token".to_owned(), "API token".to_owned()),
    ];
    let body = html! {
        h1 { "Accesses" }
        @if let Some(m) = shown_once { (m) }
        @match &own {
            None => { p.error { "You are acting as someone else: their tokens and accesses are theirs to manage. Switch back to yourself to manage yours." } },
            Some(own) => {
                section.card aria-labelledby="new-h" {
                    h2 #new-h { "Create an access" }
                    form method="post" action="/accesses" novalidate {
                        (csrf(web))
                        (form_error(failed, "access"))
                        (select(failed, "access", "kind", "Kind", &kinds, "delegate"))
                        (field(failed, "access", "name", "Name (only you see it)", "text", "", None, true))
                        (field(failed, "access", "scope", "Workspace", "text", "", Some("Empty for all your workspaces; otherwise one workspace identifier."), false))
                        (field(failed, "access", "expires", "Expires", "text", "", Some("A duration (8h, 30d) or an RFC 3339 time; empty for no end."), false))
                        (field(failed, "access", "recipients", "Recipients' e-mails (delegate access)", "text", "", Some("Separated by commas; they need no account yet."), false))
                        div.check {
                            input #access-read_only type="checkbox" name="read_only" value="true" checked[failed.value("access", "read_only").is_some()];
                            label for="access-read_only" { "Read-only (API token)" }
                        }
                        button type="submit" { "Create" }
                    }
                }
                h2 { "Your accesses" }
                @if own.items.is_empty() { p.muted { "None yet." } }
                @else {
                    div.table-wrap { table {
                        thead { tr { th { "Name" } th { "Kind" } th { "Scope" } th { "Status" } th { "Recipients" } th { "Ends" } th { "" } } }
                        tbody { @for a in &own.items { tr {
                            td { (a.name.as_deref().unwrap_or("")) }
                            td { (a.kind.as_str().replace('_', " ")) @if a.read_only { " " span.badge { "read-only" } } }
                            td { (a.scope.as_deref().unwrap_or("all")) }
                            td { (badge(a.status)) }
                            td {
                                @for r in &a.recipients {
                                    (r.email) " " (badge(r.status))
                                    @if a.status == api::AccessStatus::Active && r.status != api::RecipientStatus::Declined {
                                        " " form.inline method="post" action=(format!("/accesses/{}/recipients/remove", a.id)) {
                                            (csrf(web)) input type="hidden" name="email" value=(r.email);
                                            button.small.link type="submit" { "unshare" }
                                        }
                                    }
                                    br;
                                }
                                @if a.status == api::AccessStatus::Active && a.kind == api::AccessKind::Delegate {
                                    @let form = format!("share-{}", a.id);
                                    form method="post" action=(format!("/accesses/{}/recipients", a.id)) novalidate {
                                        (csrf(web))
                                        (form_error(failed, &form))
                                        (field(failed, &form, "email", "Share with", "email", "", None, true))
                                        button.small type="submit" { "Share" }
                                    }
                                }
                            }
                            td { @match &a.expires_at { Some(e) => (countdown(e, now)), None => span.muted { "—" } } }
                            td { @if a.status == api::AccessStatus::Active {
                                form.inline method="post" action=(format!("/accesses/{}/revoke", a.id)) {
                                    (csrf(web)) button.small.danger type="submit" { "Revoke" }
                                }
                            } }
                        } } }
                    } }
                }
            }
        }
        @if let Some(own) = &own { (more("/accesses", "accesses", own.next_cursor.as_deref())) }
        @if own.is_some() {
            h2 { "API tokens and sessions" }
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "Kind" } th { "Scope" } th.hide-narrow { "Created" } th { "Last used" } th { "Ends" } th { "" } } }
                tbody { @for t in &tokens.items { tr {
                    td { (t.name) @if t.access_id.is_some() { " " span.badge { "access" } } }
                    td { (t.kind) @if t.read_only { " " span.badge { "read-only" } } }
                    td { (t.scope.as_deref().unwrap_or("all")) }
                    td.hide-narrow { (when(&t.created_at)) }
                    td { @match &t.last_used_at { Some(u) => (when(u)), None => span.muted { "never" } } }
                    td { @match &t.expires_at { Some(e) => (countdown(e, now)), None => span.muted { "—" } } }
                    td { @if t.id != web.caller.token.to_string() {
                        form.inline method="post" action=(format!("/tokens/{}/revoke", t.id)) { (csrf(web)) button.small.danger type="submit" { "Revoke" } }
                    } @else { span.muted.small-text { "this session" } } }
                } } }
            } }
            (more("/accesses", "tokens", tokens.next_cursor.as_deref()))
            details.card open[failed.form == "token"] {
                summary { "Create an API token" }
                form method="post" action="/tokens" novalidate {
                    (csrf(web))
                    (form_error(failed, "token"))
                    (field(failed, "token", "name", "Name", "text", "", None, true))
                    (field(failed, "token", "scope", "Workspace", "text", "", Some("Empty for all your workspaces."), false))
                    (field(failed, "token", "expires", "Expires", "text", "90d", Some("A duration or an RFC 3339 time; empty for no end."), false))
                    div.check {
                        input #token-read_only type="checkbox" name="read_only" value="true" checked[failed.value("token", "read_only").is_some()];
                        label for="token-read_only" { "Read-only" }
                    }
                    button type="submit" { "Create token" }
                }
            }
        }
        @if own.is_none() {}
        @else if received.items.is_empty() { h2 { "Shared with you" } p.muted { "Nobody shares an access with you." } }
        @else {
            h2 { "Shared with you" }
            div.table-wrap { table {
                thead { tr { th { "Owner" } th { "Scope" } th { "Status" } th { "Ends" } } }
                tbody { @for a in &received.items { tr {
                    td { (a.owner) }
                    td { (a.scope.as_deref().unwrap_or("all their workspaces")) }
                    td { (badge(a.status)) @for r in &a.recipients { " " (badge(r.status)) } }
                    td { @match &a.expires_at { Some(e) => (when(e)), None => span.muted { "—" } } }
                } } }
            } }
            (more("/accesses", "received", received.next_cursor.as_deref()))
            p.muted { "Accept pending ones on the dashboard with the code the owner gave you; then pick the owner in the account switcher at the top." }
        }
    };
    page(app, web, Nav::Accesses, None, "Accesses", body)
}

/// `POST /accesses`: the token's secret or the recipients' codes are shown once.
pub async fn create(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let parsed = || -> Result<ops::Create, ApiError> {
        Ok(ops::Create {
            name: Name::parse(&form.text("name"))?,
            kind: AccessKind::parse(&form.text("kind"))?,
            scope: form.get("scope").as_deref().map(Slug::parse).transpose()?,
            expires_at: expiry_of(&form, "expires", app.now())?,
            read_only: form.checked("read_only"),
            recipients: form
                .text("recipients")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Email::parse)
                .collect::<Result<_, _>>()?,
        })
    };
    let result = match parsed() {
        Ok(new) => ops::create(&app, &web.caller, new).await.map(|w| w.value),
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => {
            let once = html! {
                section.card role="status" aria-labelledby="once-h" {
                    h2 #once-h { "Created “" (c.access.name.as_deref().unwrap_or("")) "”" }
                    p { "Copy what follows now: it is shown only once, and Breakglass keeps only a hash of it." }
                    @if let Some(s) = &c.secret { p { "API token:" } code.secret #access-secret { (s) } }
                    @for rc in &c.codes { p { "Acceptance code for " (rc.email) ":" } code.secret.access-code { (rc.code) } }
                }
            };
            render(&app, &web, &Failed::default(), Some(once), &Cursors::default()).await
        }
        Err(e) => {
            let failed = Failed::new(
                "access",
                &form,
                &e,
                &[
                    ("name", "name"),
                    ("kind", "kind"),
                    ("scope", "scope"),
                    ("workspace", "scope"),
                    ("expir", "expires"),
                    ("span", "expires"),
                    ("time", "expires"),
                    ("recipient", "recipients"),
                    ("email", "recipients"),
                ],
            );
            with_status(render(&app, &web, &failed, None, &Cursors::default()).await, e.status)
        }
    }
}

/// `POST /accesses/{id}/revoke`.
pub async fn revoke(State(app): State<Arc<App>>, web: Web, Path(id): Path<String>, _form: Form) -> Response {
    let result = match access_id(&id) {
        Ok(id) => ops::revoke(&app, &web.caller, id).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => redirect_with("/accesses", "Revoked. It stopped working at once.", web.secure),
        Err(e) => error_page(e.status, &e.detail),
    }
}

/// `POST /accesses/{id}/accept`.
pub async fn accept(State(app): State<Arc<App>>, web: Web, Path(id): Path<String>, form: Form) -> Response {
    let result = match access_id(&id) {
        Ok(access) => ops::accept(&app, &web.caller, access, &form.text("code")).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => redirect_with(
            "/",
            "Accepted. Pick the owner in the account switcher to act for them.",
            web.secure,
        ),
        Err(e) => {
            let failed = Failed::new(format!("acc-{id}"), &form, &e, &[("code", "code")]);
            with_status(super::dashboard::render_failed(&app, &web, &failed).await, e.status)
        }
    }
}

/// `POST /accesses/{id}/decline`.
pub async fn decline(State(app): State<Arc<App>>, web: Web, Path(id): Path<String>, _form: Form) -> Response {
    let result = match access_id(&id) {
        Ok(id) => ops::decline(&app, &web.caller, id).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => redirect_with("/", "Declined.", web.secure),
        Err(e) => error_page(e.status, &e.detail),
    }
}

/// `POST /tokens`: the secret is shown once.
pub async fn create_token(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let parsed = || -> Result<users::CreateToken, ApiError> {
        Ok(users::CreateToken {
            name: Name::parse(&form.text("name"))?,
            expires_at: expiry_of(&form, "expires", app.now())?,
            scope: form.get("scope").as_deref().map(Slug::parse).transpose()?,
            read_only: form.checked("read_only"),
        })
    };
    let result = match parsed() {
        Ok(new) => users::create_token(&app, &web.caller, new).await.map(|w| w.value),
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => {
            let once = html! {
                section.card role="status" {
                    h2 { "Token “" (c.token.name) "”" }
                    p { "Copy it now: it is shown only once." }
                    code.secret #token-secret { (c.secret) }
                }
            };
            render(&app, &web, &Failed::default(), Some(once), &Cursors::default()).await
        }
        Err(e) => {
            let fields: &[(&str, &str)] = &[
                ("name", "name"),
                ("scope", "scope"),
                ("workspace", "scope"),
                ("expir", "expires"),
                ("span", "expires"),
                ("time", "expires"),
            ];
            let failed = Failed::new("token", &form, &e, fields);
            with_status(render(&app, &web, &failed, None, &Cursors::default()).await, e.status)
        }
    }
}

/// `POST /tokens/{id}/revoke`.
pub async fn revoke_token(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let result = match token_id(&id) {
        Ok(id) => users::revoke_token(&app, &web.caller, id).await,
        Err(e) => Err(e),
    };
    super::finish(result.map(|_| ()), &web, "/accesses", "Token revoked.")
}

/// `POST /accesses/{id}/recipients`: shares with one more address; its code is shown once.
pub async fn add_recipient(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let result = match (access_id(&id), Email::parse(&form.text("email"))) {
        (Ok(access), Ok(email)) => {
            ops::add_recipient(&app, &web.caller, access, email).await.map(|w| w.value)
        }
        (Err(e), _) => Err(e),
        (_, Err(e)) => Err(e.into()),
    };
    match result {
        Ok(rc) => {
            let once = html! {
                section.card role="status" {
                    h2 { "Shared with " (rc.email) }
                    p { "Give them this acceptance code yourself; it is shown only once." }
                    code.secret.access-code { (rc.code) }
                }
            };
            render(&app, &web, &Failed::default(), Some(once), &Cursors::default()).await
        }
        Err(e) => {
            let failed =
                Failed::new(format!("share-{id}"), &form, &e, &[("email", "email"), ("recipient", "email")]);
            with_status(render(&app, &web, &failed, None, &Cursors::default()).await, e.status)
        }
    }
}

/// `POST /accesses/{id}/recipients/remove`: unshares at once.
pub async fn remove_recipient(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let email = form.text("email");
    let result = match (access_id(&id), Email::parse(&email)) {
        (Ok(access), Ok(address)) => ops::remove_recipient(&app, &web.caller, access, &address).await,
        (Err(e), _) => Err(e),
        (_, Err(e)) => Err(e.into()),
    };
    super::finish(result.map(|_| ()), &web, "/accesses", &format!("No longer shared with {email}."))
}
