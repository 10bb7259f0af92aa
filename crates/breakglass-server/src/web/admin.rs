//! The admin area: workspaces with their status and actions, pending registrations, pending role
//! requests (override approve), tag definitions, messages, settings, and audit verification.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use breakglass_api as api;
use breakglass_core::role::AdminRole;
use maud::{html, Markup};

use super::dashboard::{requests_table, with_status};
use super::layout::{badge, csrf, emergency_badge, error_page, field, form_error, page, select, when, Nav};
use super::{body_of, redirect_with, Failed, Form, Web};
use crate::app::App;
use crate::error::ApiError;
use crate::http::{admin, requests, workspaces, ApiJson, ApiQuery, OptionalJson};

fn opts(values: &[&str]) -> Vec<(String, String)> {
    values.iter().map(|v| ((*v).to_owned(), v.replace('_', " "))).collect()
}

/// `GET /admin?status=&tag=`.
pub async fn show(
    State(app): State<Arc<App>>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render(&app, &web, &q, &Failed::default(), None).await
}

async fn render(
    app: &Arc<App>,
    web: &Web,
    q: &HashMap<String, String>,
    failed: &Failed,
    result: Option<Markup>,
) -> Response {
    match body(app, web, q, failed, result).await {
        Ok(b) => page(app, web, Nav::Admin, None, "Admin area", b),
        Err(e) => error_page(e.status, &e.detail),
    }
}

async fn body(
    app: &Arc<App>,
    web: &Web,
    q: &HashMap<String, String>,
    failed: &Failed,
    result: Option<Markup>,
) -> Result<Markup, ApiError> {
    let role = {
        let state = app.state();
        breakglass_core::authz::actor_admin_role(&state, &web.caller.ctx(app.now()))?
    };
    if role == AdminRole::None {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "auth.forbidden",
            "the admin area is for admins, employees and auditors",
        ));
    }
    let manages = role.manages_workspaces();
    let s = || State(app.clone());
    let status = q.get("status").filter(|v| !v.is_empty()).cloned();
    let tag = q.get("tag").filter(|v| !v.is_empty()).cloned();
    let Json(list) = workspaces::list_workspaces(
        s(),
        web.caller.clone(),
        ApiQuery(api::ListQuery {
            status: status.clone(),
            tag: tag.clone(),
            limit: Some(1000),
            cursor: None,
        }),
    )
    .await?;
    let Json(pending_ws) = workspaces::list_workspaces(
        s(),
        web.caller.clone(),
        ApiQuery(api::ListQuery {
            status: Some("pending_approval".into()),
            limit: Some(1000),
            ..Default::default()
        }),
    )
    .await?;
    let Json(pending) = requests::list_requests(
        s(),
        web.caller.clone(),
        ApiQuery(api::RequestQuery {
            scope: Some("visible".into()),
            state: Some("pending".into()),
            limit: Some(200),
            ..Default::default()
        }),
    )
    .await?;
    let Json(tags) = admin::list_tags(
        s(),
        web.caller.clone(),
        ApiQuery(api::PageQuery { limit: Some(1000), cursor: None }),
    )
    .await?;
    let settings = if role == AdminRole::Admin {
        Some(admin::get_settings(s(), web.caller.clone()).await?.0)
    } else {
        None
    };
    let me = app.state().user(web.caller.user).map(|u| u.email.to_string()).unwrap_or_default();
    let statuses = opts(&["", "active", "disabled", "pending_approval", "rejected"]);
    Ok(html! {
        h1 { "Admin area" }
        @if let Some(r) = result { (r) }
        (form_error(failed, "admin"))
        @if !pending_ws.items.is_empty() {
            section.card aria-labelledby="reg-h" {
                h2 #reg-h { "Workspace registrations waiting" }
                @for w in &pending_ws.items {
                    div.actions {
                        span { strong { (w.name) } " (" (w.identifier) "), registered " (when(&w.created_at)) }
                        @if manages { (ws_action(web, &w.identifier, "approve", "Approve", "")) (ws_action(web, &w.identifier, "reject", "Reject", "danger")) }
                    }
                }
            }
        }
        section aria-labelledby="ws-h" {
            h2 #ws-h { "Workspaces" }
            form.filters method="get" action="/admin" {
                (select(failed, "filter", "status", "Status", &statuses, status.as_deref().unwrap_or("")))
                div.field { label for="filter-tag" { "Tag" } input #filter-tag name="tag" value=(tag.as_deref().unwrap_or("")) placeholder="key or key:value"; }
                button.secondary type="submit" { "Filter" }
            }
            div.table-wrap { table {
                thead { tr { th { "Workspace" } th { "Status" } th { "Projects" } th.hide-narrow { "Tags" } th { "Actions" } } }
                tbody { @for w in &list.items { tr.emergency-row[w.open_reviews > 0] {
                    td { a href=(format!("/w/{}", w.identifier)) { (w.name) } br; span.small-text.muted { (w.identifier) } }
                    td { (badge(&w.status)) @if w.open_reviews > 0 { br; (emergency_badge()) " " (w.open_reviews) " review(s)" } }
                    td { (w.project_count) " / " (w.project_quota) }
                    td.hide-narrow { @for (k, v) in &w.tags { code { (k) "=" (v) } " " } }
                    td { div.actions {
                        a.small-text href=(format!("/w/{}", w.identifier)) { "Users" }
                        a.small-text href=(format!("/w/{}/history", w.identifier)) { "History" }
                        @if manages {
                            (ws_action(web, &w.identifier, "add-myself", "Add myself", "secondary"))
                            @if w.status == "active" { (ws_action(web, &w.identifier, "disable", "Disable", "danger")) }
                            @if w.status == "disabled" { (ws_action(web, &w.identifier, "enable", "Enable", "secondary")) }
                            details { summary { "Quota, message" }
                                form method="post" action=(format!("/admin/workspaces/{}/quota", w.identifier)) {
                                    (csrf(web))
                                    div.field { label for=(format!("q-{}", w.identifier)) { "Project quota" }
                                        input id=(format!("q-{}", w.identifier)) name="project_quota" type="number" min="0" value=(w.project_quota); }
                                    button.small type="submit" { "Set quota" }
                                }
                                form method="post" action=(format!("/admin/workspaces/{}/message", w.identifier)) {
                                    (csrf(web))
                                    div.field { label for=(format!("m-{}", w.identifier)) { "Message to its users" }
                                        textarea id=(format!("m-{}", w.identifier)) name="text" {} }
                                    div.field { label for=(format!("mm-{}", w.identifier)) { "Until" }
                                        select id=(format!("mm-{}", w.identifier)) name="mode" {
                                            option value="all_must_read" { "each user acknowledges" }
                                            option value="single_read" { "one user acknowledges" } } }
                                    button.small type="submit" { "Send" }
                                }
                            }
                        }
                    } }
                } } }
            } }
        }
        section aria-labelledby="pr-h" {
            h2 #pr-h { "Pending role requests" }
            @if pending.items.is_empty() { p.muted { "None." } }
            @else {
                (requests_table(&pending.items, &me))
                @if manages {
                    p.muted { "Open a request to approve it; outside its approvers, approving is recorded as an admin-area override." }
                    @for r in &pending.items {
                        form.inline method="post" action=(format!("/requests/{}/approve", r.id)) {
                            (csrf(web)) input type="hidden" name="override" value="true";
                            button.small type="submit" { "Override-approve " (r.user) " → " (r.role) " on " (r.workspace) @if let Some(p) = &r.project { "/" (p) } }
                        } " "
                    }
                }
            }
        }
        section aria-labelledby="tags-h" {
            h2 #tags-h { "Tag definitions" }
            div.table-wrap { table {
                thead { tr { th { "Key" } th { "On" } th { "Rule" } th { "Flags" } @if role == AdminRole::Admin { th { "" } } } }
                tbody { @for t in &tags.items { tr {
                    td { code { (t.key) } }
                    td { (t.target) }
                    td { @if !t.values.is_empty() { (t.values.join(", ")) } @else if let Some(p) = &t.pattern { code { (p) } } @else { "any value" } }
                    td { @if t.mandatory { span.badge { "mandatory" } " " } @if t.restricted { span.badge { "restricted" } } @if let Some(d) = &t.default { " default " code { (d) } } }
                    @if role == AdminRole::Admin { td {
                        form.inline method="post" action=(format!("/admin/tags/{}/remove", t.key)) { (csrf(web)) button.small.danger type="submit" { "Remove" } }
                    } }
                } } }
            } }
            @if role == AdminRole::Admin {
                details.card { summary { "Define a tag" }
                    form method="post" action="/admin/tags" novalidate {
                        (csrf(web))
                        (form_error(failed, "tag"))
                        (field(failed, "tag", "key", "Key", "text", "", None, true))
                        (select(failed, "tag", "target", "On", &opts(&["workspace", "project"]), "workspace"))
                        (field(failed, "tag", "values", "Allowed values", "text", "", Some("Comma-separated; or leave empty and give a pattern, or neither for any value."), false))
                        (field(failed, "tag", "pattern", "Pattern (regular expression)", "text", "", None, false))
                        (field(failed, "tag", "default", "Default value", "text", "", None, false))
                        div.check { input #tag-mandatory type="checkbox" name="mandatory" value="true"; label for="tag-mandatory" { "Mandatory" } }
                        div.check { input #tag-restricted type="checkbox" name="restricted" value="true"; label for="tag-restricted" { "Restricted (only the admin area sets it)" } }
                        button type="submit" { "Save tag" }
                    }
                }
            }
        }
        @if let Some(st) = &settings {
            section.card aria-labelledby="set-h" {
                h2 #set-h { "Settings" }
                form method="post" action="/admin/settings" novalidate {
                    (csrf(web))
                    (form_error(failed, "settings"))
                    (select(failed, "settings", "signup", "Sign-up", &opts(&["open", "invited_only", "closed"]), st.signup.as_deref().unwrap_or("")))
                    (select(failed, "settings", "workspace_registration", "Workspace registration", &opts(&["open", "approval", "closed"]), st.workspace_registration.as_deref().unwrap_or("")))
                    (field(failed, "settings", "invitation_ttl_days", "Invitations valid for (days)", "number", &st.invitation_ttl_days.map(|d| d.to_string()).unwrap_or_default(), None, true))
                    (field(failed, "settings", "default_project_quota", "Project quota of new workspaces", "number", &st.default_project_quota.map(|d| d.to_string()).unwrap_or_default(), None, true))
                    (field(failed, "settings", "add_myself_default_expiry", "“Add myself” lasts", "text", st.add_myself_default_expiry.as_deref().unwrap_or(""), None, true))
                    (field(failed, "settings", "add_myself_max_expiry", "“Add myself” at most", "text", st.add_myself_max_expiry.as_deref().unwrap_or(""), None, true))
                    div.check { input #settings-restrict type="checkbox" name="restrict_admin_role_assignment" value="true" checked[st.restrict_admin_role_assignment == Some(true)];
                        label for="settings-restrict" { "“Add myself” assigns member instead of manager" } }
                    button type="submit" { "Save settings" }
                }
            }
        }
        section.card aria-labelledby="ver-h" {
            h2 #ver-h { "Audit log" }
            p { "Recompute the whole hash chain and report the first broken link, if any." }
            form method="post" action="/admin/verify" { (csrf(web)) button type="submit" { "Verify the audit chain" } }
        }
    })
}

fn ws_action(web: &Web, ws: &str, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(format!("/admin/workspaces/{ws}/{action}")) {
            (csrf(web)) button.small class=(class) type="submit" { (label) }
        }
    }
}

/// `POST /admin/workspaces/{ws}/{action}`.
pub async fn workspace_action(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, action)): Path<(String, String)>,
    form: Form,
) -> Response {
    let s = State(app.clone());
    let c = web.caller.clone();
    let p = Path(ws.clone());
    let none = || OptionalJson(api::LifecycleAction::default());
    let (result, done) = match action.as_str() {
        "approve" => (admin::approve_workspace(s, c, p, none()).await, format!("Approved {ws}.")),
        "reject" => (admin::reject_workspace(s, c, p, none()).await, format!("Rejected {ws}.")),
        "disable" => (
            admin::disable_workspace(s, c, p, none()).await,
            format!("Disabled {ws}: every check for it is denied."),
        ),
        "enable" => (admin::enable_workspace(s, c, p, none()).await, format!("Enabled {ws}.")),
        "add-myself" => (
            admin::add_myself(s, c, p, OptionalJson(api::AddMyself::default())).await,
            format!("You joined {ws}; it is recorded in its history and ends by itself."),
        ),
        "quota" => match form.text("project_quota").parse::<u32>() {
            Ok(n) => (
                admin::set_quota(s, c, p, ApiJson(api::SetQuota { project_quota: n })).await,
                format!("Quota of {ws} set to {n}."),
            ),
            Err(_) => (
                Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "input.invalid_quota",
                    "the quota must be a whole number",
                )),
                String::new(),
            ),
        },
        "message" => (
            admin::send_message(
                s,
                c,
                p,
                ApiJson(api::SendMessage { text: form.text("text"), mode: form.text("mode") }),
            )
            .await,
            format!("Message sent to the users of {ws}."),
        ),
        _ => return error_page(StatusCode::NOT_FOUND, "There is no such action."),
    };
    match result {
        Ok(_) if action == "add-myself" => redirect_with(&format!("/w/{ws}"), &done, web.secure),
        Ok(_) => redirect_with("/admin", &done, web.secure),
        Err(e) => {
            let failed = Failed::new("admin", &form, &e, &[]);
            with_status(render(&app, &web, &HashMap::new(), &failed, None).await, e.status)
        }
    }
}

/// `POST /admin/tags`.
pub async fn define_tag(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let body = api::TagDefinition {
        key: form.text("key"),
        target: form.text("target"),
        restricted: form.checked("restricted"),
        values: form
            .text("values")
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect(),
        pattern: form.get("pattern"),
        mandatory: form.checked("mandatory"),
        default: form.get("default"),
    };
    match admin::define_tag(State(app.clone()), web.caller.clone(), ApiJson(body)).await {
        Ok(_) => redirect_with("/admin", "Tag saved.", web.secure),
        Err(e) => {
            let failed = Failed::new(
                "tag",
                &form,
                &e,
                &[("key", "key"), ("pattern", "pattern"), ("default", "default"), ("value", "values")],
            );
            with_status(render(&app, &web, &HashMap::new(), &failed, None).await, e.status)
        }
    }
}

/// `POST /admin/tags/{key}/remove`.
pub async fn remove_tag(
    State(app): State<Arc<App>>,
    web: Web,
    Path(key): Path<String>,
    form: Form,
) -> Response {
    match admin::remove_tag_definition(State(app.clone()), web.caller.clone(), Path(key.clone())).await {
        Ok(_) => redirect_with("/admin", &format!("Tag {key} removed."), web.secure),
        Err(e) => {
            let failed = Failed::new("admin", &form, &e, &[]);
            with_status(render(&app, &web, &HashMap::new(), &failed, None).await, e.status)
        }
    }
}

/// `POST /admin/settings`.
pub async fn settings(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let number = |k: &str| form.get(k).map(|v| v.parse::<u32>());
    let (ttl, quota) = (number("invitation_ttl_days"), number("default_project_quota"));
    let bad = |field: &'static str| {
        let e =
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "input.invalid_number", "give a whole number");
        Failed { field, ..Failed::new("settings", &form, &e, &[]) }
    };
    if let Some(Err(_)) = ttl {
        return with_status(
            render(&app, &web, &HashMap::new(), &bad("invitation_ttl_days"), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    if let Some(Err(_)) = quota {
        return with_status(
            render(&app, &web, &HashMap::new(), &bad("default_project_quota"), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let body = api::Settings {
        workspace_registration: form.get("workspace_registration"),
        signup: form.get("signup"),
        invitation_ttl_days: ttl.and_then(Result::ok),
        default_project_quota: quota.and_then(Result::ok),
        restrict_admin_role_assignment: Some(form.checked("restrict_admin_role_assignment")),
        add_myself_default_expiry: form.get("add_myself_default_expiry"),
        add_myself_max_expiry: form.get("add_myself_max_expiry"),
    };
    match body_of::<api::Settings>(
        admin::update_settings(State(app.clone()), web.caller.clone(), ApiJson(body)).await,
    )
    .await
    {
        Ok(_) => redirect_with("/admin", "Settings saved.", web.secure),
        Err(e) => {
            let failed = Failed::new(
                "settings",
                &form,
                &e,
                &[
                    ("signup", "signup"),
                    ("registration", "workspace_registration"),
                    ("invitation", "invitation_ttl_days"),
                    ("quota", "default_project_quota"),
                    ("max", "add_myself_max_expiry"),
                    ("expiry", "add_myself_default_expiry"),
                    ("span", "add_myself_default_expiry"),
                ],
            );
            with_status(render(&app, &web, &HashMap::new(), &failed, None).await, e.status)
        }
    }
}

/// `POST /admin/verify`: recomputes the chain and shows the report.
pub async fn verify(State(app): State<Arc<App>>, web: Web, _form: Form) -> Response {
    match crate::http::audit::verify(State(app.clone()), web.caller.clone()).await {
        Ok(Json(r)) => {
            let result = html! {
                section.card role="status" #verify-result {
                    @if r.ok {
                        p { strong { "The audit chain is intact: " } (r.events) " events verified; head " code.small-text { (r.head_hash) } "." }
                    } @else {
                        p.error { "The audit chain is broken" @if let Some(b) = &r.broken { " at event " (b.seq) ": " (b.reason) } ". " (r.events) " events checked." }
                    }
                }
            };
            render(&app, &web, &HashMap::new(), &Failed::default(), Some(result)).await
        }
        Err(e) => error_page(e.status, &e.detail),
    }
}
