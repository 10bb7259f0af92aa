//! The admin area: workspaces with their status and actions, pending registrations, pending role
//! requests (override approve), tag definitions, messages, settings, and audit verification.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use breakglass_api as api;
use breakglass_core::role::AdminRole;
use maud::{html, Markup};

use super::dashboard::{requests_table, with_status};
use super::layout::{
    badge, csrf, emergency_badge, error_page, field, form_error, more, page, select, when, Nav,
};
use super::manage::{policy_body, POLICY_FIELDS};
use super::workspace::policy_fields;
use super::{redirect_with, Failed, Form, Web, IDENT_FIELDS};
use crate::app::App;
use crate::error::ApiError;
use crate::ops::admin as ops;

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
    let status = q.get("status").filter(|v| !v.is_empty()).cloned();
    let tag = q.get("tag").filter(|v| !v.is_empty()).cloned();
    let list = crate::ops::workspaces::list_workspaces(
        app,
        &web.caller,
        &api::ListQuery {
            status: status.clone(),
            tag: tag.clone(),
            limit: None,
            cursor: q.get("workspaces").cloned(),
        },
    )?;
    let pending_ws = crate::ops::every(|ask| {
        let q = api::ListQuery {
            status: Some("pending_approval".into()),
            limit: ask.limit,
            cursor: ask.cursor.clone(),
            ..Default::default()
        };
        crate::ops::workspaces::list_workspaces(app, &web.caller, &q)
    })?;
    // Every pending request the admin area may see: it decides them, so none is left out.
    let pending = crate::ops::every(|ask| {
        let q = api::RequestQuery {
            scope: Some("visible".into()),
            state: Some("pending".into()),
            limit: ask.limit,
            cursor: ask.cursor.clone(),
            ..Default::default()
        };
        crate::ops::requests::list_requests(app, &web.caller, &q)
    })?;
    let tags = crate::ops::every(|ask| ops::list_tags(app, ask))?;
    let settings = if role == AdminRole::Admin { Some(ops::get_settings(app, &web.caller)?) } else { None };
    let users = crate::ops::users::list_users(
        app,
        &web.caller,
        &crate::ops::PageAsk { limit: None, cursor: q.get("users").cloned() },
    )?;
    let platforms = crate::ops::platforms::all(app, &web.caller)?;
    let policies = crate::ops::every(|ask| crate::ops::requests::list_policies(app, &web.caller, None, ask))?;
    let me = app.state().user(web.caller.user).map(|u| u.email.to_string()).unwrap_or_default();
    let mut statuses = opts(&["active", "disabled", "pending_approval", "rejected"]);
    statuses.insert(0, (String::new(), "any".to_owned()));
    Ok(html! {
        h1 { "Admin area" }
        @if let Some(r) = result { (r) }
        (form_error(failed, "admin"))
        @if !pending_ws.is_empty() {
            section.card aria-labelledby="reg-h" {
                h2 #reg-h { "Workspace registrations waiting" }
                @for w in &pending_ws {
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
                    td { (badge(w.status)) @if w.open_reviews > 0 { br; (emergency_badge()) " " (w.open_reviews) " review(s)" } }
                    td { (w.project_count) " / " (w.project_quota) }
                    td.hide-narrow { @for (k, v) in &w.tags { code { (k) "=" (v) } " " } }
                    td { div.actions {
                        a.small-text href=(format!("/w/{}", w.identifier)) { "Users" }
                        a.small-text href=(format!("/w/{}/history", w.identifier)) { "History" }
                        @if manages {
                            (ws_action(web, &w.identifier, "add-myself", "Add myself", "secondary"))
                            @if w.status == api::WorkspaceStatus::Active { (ws_action(web, &w.identifier, "disable", "Disable", "danger")) }
                            @if w.status == api::WorkspaceStatus::Disabled { (ws_action(web, &w.identifier, "enable", "Enable", "secondary")) }
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
            @if let Some(c) = &list.next_cursor {
                @let query = serde_urlencoded::to_string([
                    ("status", status.as_deref().unwrap_or("")),
                    ("tag", tag.as_deref().unwrap_or("")),
                    ("workspaces", c.as_str()),
                ]).unwrap_or_default();
                p.more { a href=(format!("/admin?{query}")) rel="next" { "More →" } }
            }
        }
        @if manages {
            details.card open[failed.form == "workspace"] {
                summary { "Create a workspace" }
                form method="post" action="/admin/workspaces" novalidate {
                    (csrf(web))
                    (form_error(failed, "workspace"))
                    (field(failed, "workspace", "identifier", "Identifier", "text", "", Some("Lowercase letters, digits and -; it never changes."), true))
                    (field(failed, "workspace", "name", "Name", "text", "", None, true))
                    (field(failed, "workspace", "owners", "Owners' e-mails", "text", "", Some("Comma-separated; empty makes you the owner."), false))
                    (field(failed, "workspace", "project_quota", "Project quota", "number", "", Some("Empty for the installation's default."), false))
                    button type="submit" { "Create workspace" }
                }
            }
        }
        section aria-labelledby="pr-h" {
            h2 #pr-h { "Pending role requests" }
            @if pending.is_empty() { p.muted { "None." } }
            @else {
                (requests_table(&pending, &me))
                @if manages {
                    p.muted { "Open a request to approve it; outside its approvers, approving is recorded as an admin-area override." }
                    @for r in &pending {
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
                tbody { @for t in &tags { tr {
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
        section aria-labelledby="pol-h" {
            h2 #pol-h { "Installation-wide policies" }
            p.muted { "Entitlements of any workspace may name them; “installation default” governs requests where no entitlement names a policy." }
            @for p in policies.iter().filter(|p| p.workspace.is_none()) {
                @let form = format!("policy-{}", p.id);
                details.card open[failed.form == form] {
                    summary { (p.name) " — "
                        @if p.steps.is_empty() { "granted at once" }
                        @for (i, st) in p.steps.iter().enumerate() { @if i > 0 { ", then " } (st.count) " of " (st.approvers.replace('_', " ")) } }
                    @if role == AdminRole::Admin {
                        form method="post" action=(format!("/admin/policies/{}", p.id)) novalidate {
                            (csrf(web)) (policy_fields(failed, &form, Some(p))) button type="submit" { "Save policy" }
                        }
                    }
                }
            }
            @if role == AdminRole::Admin {
                details.card open[failed.form == "policy"] {
                    summary { "New installation-wide policy" }
                    form method="post" action="/admin/policies" novalidate {
                        (csrf(web)) (policy_fields(failed, "policy", None)) button type="submit" { "Create policy" }
                    }
                }
            }
        }
        section aria-labelledby="users-h" {
            h2 #users-h { "Users" }
            div.table-wrap { table {
                thead { tr { th { "E-mail" } th { "Name" } th { "Admin-area role" } th { "Status" } th.hide-narrow { "Since" } } }
                tbody { @for u in &users.items { tr {
                    td { (u.email) } td { (u.name) } td { (u.admin_role) } td { (badge(u.status)) } td.hide-narrow { (when(&u.created_at)) }
                } } }
            } }
            (more("/admin", "users", users.next_cursor.as_deref()))
            @if role == AdminRole::Admin {
                details.card open[failed.form == "user"] {
                    summary { "Create a user" }
                    form method="post" action="/admin/users" novalidate {
                        (csrf(web))
                        (form_error(failed, "user"))
                        (field(failed, "user", "email", "E-mail", "email", "", None, true))
                        (field(failed, "user", "name", "Name", "text", "", None, true))
                        (select(failed, "user", "admin_role", "Admin-area role", &opts(&["none", "employee", "auditor", "admin"]), "none"))
                        (field(failed, "user", "password", "Initial password", "password", "", Some("At least 12 characters; empty for a user who only uses tokens."), false))
                        button type="submit" { "Create user" }
                    }
                }
            }
        }
        section aria-labelledby="plat-h" {
            h2 #plat-h { "Platforms" }
            @if platforms.is_empty() { p.muted { "No platforms registered." } }
            ul { @for p in &platforms { li {
                a href=(format!("/admin/platforms/{}", p.identifier)) { strong { (p.name) } } " " code { (p.identifier) } " (" (p.kind) "), since " (when(&p.created_at))
                @if p.provisioned { " " span.badge.s-active { "provisioned" } }
            } } }
            @if role == AdminRole::Admin {
                details.card open[failed.form == "platform"] {
                    summary { "Register a platform" }
                    form method="post" action="/admin/platforms" novalidate {
                        (csrf(web))
                        (form_error(failed, "platform"))
                        (field(failed, "platform", "identifier", "Identifier", "text", "", None, true))
                        (field(failed, "platform", "kind", "Kind", "text", "", Some("aws, kubernetes, …; postgres, redis and external provision access, ssh signs certificates"), true))
                        (field(failed, "platform", "name", "Name", "text", "", None, true))
                        (platform_config_fields(failed, "platform"))
                        button type="submit" { "Register platform" }
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
                    (field(failed, "settings", "max_expiry", "Any expiry at most", "text", st.max_expiry.as_deref().unwrap_or(""), Some("How far ahead any membership, grant, token or access may end, e.g. 366d."), true))
                    (field(failed, "settings", "max_api_tokens_per_user", "API tokens per user", "number", &st.max_api_tokens_per_user.map(|d| d.to_string()).unwrap_or_default(), None, true))
                    (field(failed, "settings", "max_sessions_per_user", "Sessions per user", "number", &st.max_sessions_per_user.map(|d| d.to_string()).unwrap_or_default(), None, true))
                    div.check { input #settings-restrict type="checkbox" name="restrict_admin_role_assignment" value="true" checked[st.restrict_admin_role_assignment == Some(true)];
                        label for="settings-restrict" { "“Add myself” assigns member instead of manager" } }
                    button type="submit" { "Save settings" }
                }
            }
        }
        section.card aria-labelledby="ver-h" {
            h2 #ver-h { "Audit log" }
            p { "Recompute the whole hash chain and report the first broken link, if any. " a href="/admin/audit" { "Read the whole log" } }
            form method="post" action="/admin/verify" { (csrf(web)) button type="submit" { "Verify the audit chain" } }
        }
    })
}

fn ws_action(web: &Web, ws: &str, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(format!("/admin/workspaces/{ws}/{action}")) {
            (csrf(web)) button class=(format!("small {class}")) type="submit" { (label) }
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
    let c = &web.caller;
    let step = |step| ops::lifecycle(&app, c, &ws, step, None);
    let (result, done): (Result<(), ApiError>, String) = match action.as_str() {
        "approve" => (step(ops::Lifecycle::Approve).await.map(drop), format!("Approved {ws}.")),
        "reject" => (step(ops::Lifecycle::Reject).await.map(drop), format!("Rejected {ws}.")),
        "disable" => (
            step(ops::Lifecycle::Disable).await.map(drop),
            format!("Disabled {ws}: every check for it is denied."),
        ),
        "enable" => (step(ops::Lifecycle::Enable).await.map(drop), format!("Enabled {ws}.")),
        "add-myself" => (
            ops::add_myself(&app, c, &ws, &api::AddMyself::default()).await.map(drop),
            format!("You joined {ws}; it is recorded in its history and ends by itself."),
        ),
        "quota" => match form.text("project_quota").parse::<u32>() {
            Ok(n) => (ops::set_quota(&app, c, &ws, n).await.map(drop), format!("Quota of {ws} set to {n}.")),
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
            crate::ops::messages::send(&app, c, &ws, form.text("text"), &form.text("mode")).await.map(drop),
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
    match ops::define_tag(&app, &web.caller, &body).await {
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
    let result = match ops::tag_key(&key) {
        Ok(k) => ops::remove_tag_definition(&app, &web.caller, k).await,
        Err(e) => Err(e.into()),
    };
    match result {
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
    let bad = |field: &'static str| {
        let e =
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "input.invalid_number", "give a whole number");
        Failed { field, ..Failed::new("settings", &form, &e, &[]) }
    };
    let mut numbers = [None; 4];
    for (slot, field) in numbers.iter_mut().zip([
        "invitation_ttl_days",
        "default_project_quota",
        "max_api_tokens_per_user",
        "max_sessions_per_user",
    ]) {
        match number(field) {
            Some(Err(_)) => {
                return with_status(
                    render(&app, &web, &HashMap::new(), &bad(field), None).await,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
            }
            n => *slot = n.and_then(Result::ok),
        }
    }
    let [ttl, quota, tokens, sessions] = numbers;
    let body = api::Settings {
        workspace_registration: form.get("workspace_registration"),
        signup: form.get("signup"),
        invitation_ttl_days: ttl,
        default_project_quota: quota,
        restrict_admin_role_assignment: Some(form.checked("restrict_admin_role_assignment")),
        add_myself_default_expiry: form.get("add_myself_default_expiry"),
        add_myself_max_expiry: form.get("add_myself_max_expiry"),
        max_expiry: form.get("max_expiry"),
        max_api_tokens_per_user: tokens,
        max_sessions_per_user: sessions,
    };
    match ops::update_settings(&app, &web.caller, &body).await {
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
                    ("max_expiry", "max_expiry"),
                    ("tokens", "max_api_tokens_per_user"),
                    ("sessions", "max_sessions_per_user"),
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
    match crate::ops::audit::verify(&app, &web.caller).await {
        Ok(r) => {
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

/// Re-renders the admin area with a failed form.
async fn refused(
    app: &Arc<App>,
    web: &Web,
    name: &str,
    form: &Form,
    e: &ApiError,
    fields: &[(&str, &'static str)],
) -> Response {
    let failed = Failed::new(name, form, e, fields);
    with_status(render(app, web, &HashMap::new(), &failed, None).await, e.status)
}

/// `POST /admin/workspaces`.
pub async fn create_workspace(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let quota = match form.get("project_quota").map(|q| q.parse::<u32>()) {
        Some(Err(_)) => {
            let e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "input.invalid_quota",
                "the quota must be a whole number",
            );
            return refused(&app, &web, "workspace", &form, &e, &[("quota", "project_quota")]).await;
        }
        q => q.and_then(Result::ok),
    };
    let body = api::CreateWorkspace {
        identifier: form.text("identifier"),
        name: form.text("name"),
        owners: form
            .text("owners")
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect(),
        project_quota: quota,
        ..Default::default()
    };
    match crate::ops::workspaces::create_workspace(&app, &web.caller, &body).await.map(|w| w.value) {
        Ok(w) => redirect_with(
            &format!("/w/{}", w.identifier),
            &format!("Created workspace {}.", w.identifier),
            web.secure,
        ),
        Err(e) => {
            let more: &[(&str, &str)] =
                &[("user", "owners"), ("email", "owners"), ("quota", "project_quota"), ("tag", "")];
            refused(&app, &web, "workspace", &form, &e, &[IDENT_FIELDS, more].concat()).await
        }
    }
}

/// `POST /admin/users`.
pub async fn create_user(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let parsed = || -> Result<crate::ops::users::CreateUser, ApiError> {
        Ok(crate::ops::users::CreateUser {
            email: breakglass_core::ident::Email::parse(&form.text("email"))?,
            name: breakglass_core::ident::Name::parse(&form.text("name"))?,
            admin_role: AdminRole::parse(form.get("admin_role").as_deref().unwrap_or("none"))?,
            password: form.0.get("password").filter(|p| !p.is_empty()).cloned(),
        })
    };
    let result = match parsed() {
        Ok(new) => crate::ops::users::create_user(&app, &web.caller, new).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => redirect_with("/admin", &format!("Created {}.", form.text("email")), web.secure),
        Err(e) => {
            let fields: &[(&str, &str)] = &[
                ("password", "password"),
                ("email", "email"),
                ("duplicate", "email"),
                ("name", "name"),
                ("role", "admin_role"),
            ];
            refused(&app, &web, "user", &form, &e, fields).await
        }
    }
}

/// The settings, mode and mapping fields of a platform form. The settings are never written back
/// into the page: they may hold a secret.
fn platform_config_fields(failed: &Failed, form: &str) -> Markup {
    let modes: Vec<(String, String)> = [
        ("", "unchanged / enforce"),
        ("enforce", "enforce: remove access granted by hand"),
        ("report", "report: only record it"),
    ]
    .into_iter()
    .map(|(v, l)| (v.to_owned(), l.to_owned()))
    .collect();
    html! {
        div.field.has-error[failed.error(form, "settings").is_some()] {
            label for=(format!("{form}-settings")) { "Settings" }
            textarea id=(format!("{form}-settings")) name="settings" rows="3" autocomplete="off"
                aria-describedby=(format!("{form}-settings-hint")) {}
            p.hint id=(format!("{form}-settings-hint")) {
                "One key=value a line. For postgres: url=postgres://ROLE:PASSWORD@HOST:PORT/DB (sealed, never shown again) and optionally schemas=public."
            }
            @if let Some(e) = failed.error(form, "settings") { p.error { (e) } }
        }
        (select(failed, form, "mode", "Drift", &modes, ""))
        @for r in ["reader", "user", "admin"] {
            (field(failed, form, &format!("mapping_{r}"), &format!("What {r} means there"), "text", "", Some("Empty: the connector's default (postgres: table privileges such as SELECT, INSERT; CREATE for the schemas)."), false))
        }
    }
}

/// `GET /admin/platforms/{id}`: a platform's configuration, health, drift and sync.
pub async fn platform_page(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render_platform(&app, &web, &id, q.contains_key("drift"), &Failed::default(), None).await
}

async fn render_platform(
    app: &Arc<App>,
    web: &Web,
    id: &str,
    with_drift: bool,
    failed: &Failed,
    note: Option<Markup>,
) -> Response {
    let p = match crate::ops::platforms::show(app, &web.caller, id) {
        Ok(p) => p,
        Err(e) => return error_page(e.status, &e.detail),
    };
    let drift = if with_drift && p.provisioned {
        Some(crate::ops::platforms::drift(app, &web.caller, id).await)
    } else {
        None
    };
    let admin = crate::ops::session::me(app, &web.caller)
        .map(|m| m.user.admin_role == api::AdminRole::Admin)
        .unwrap_or(false);
    let body = html! {
        @if let Some(n) = note { (n) }
        p { a href="/admin" { "← Admin area" } }
        h1 { (p.name) " " span.muted.small-text { (p.identifier) " · " (p.kind) } }
        @if let Some(ssh) = &p.ssh {
            section.card aria-labelledby="ssh-h" {
                h2 #ssh-h { "Certificates" }
                p { (ssh.certificates_valid) " valid, " (ssh.certificates_revoked) " of them revoked early. Hosts check each certificate's end themselves and refuse revoked ones from the revocation list at " code { (ssh.krl_path) } " (no credential needed)." }
                p { "CA public key (the " code { "TrustedUserCAKeys" } " file):" }
                code.secret { (ssh.ca_public_key) }
                p { code { "sshd_config" } " on each host:" }
                pre { code { (ssh.sshd_config) } }
            }
        } @else if !p.provisioned { p.muted { "Its kind has no connector: access on its tenants is recorded, not provisioned." } }
        @if let Some(st) = &p.status {
            section.card aria-labelledby="health-h" {
                h2 #health-h { "Health" }
                @match (st.healthy, &st.error) {
                    (Some(true), _) => p { span.badge.s-active { "healthy" } " Last pass " (st.last_pass.as_deref().map(when).unwrap_or_default()) "." },
                    (_, Some(e)) => p.error { "Failing since " (st.failing_since.as_deref().map(when).unwrap_or_default()) ": " (e) },
                    _ => p.muted { "This server does not reconcile it; another replica does." },
                }
                p { (st.provisioned) " grants provisioned, " (st.failed) " failing." }
                div.actions {
                    a.button.secondary href=(format!("/admin/platforms/{}?drift=1", p.identifier)) { "Check drift" }
                    @if admin {
                        form.inline method="post" action=(format!("/admin/platforms/{}/sync", p.identifier)) {
                            (csrf(web)) button type="submit" { "Reconcile now" }
                        }
                    }
                }
            }
        }
        @if let Some(d) = drift {
            section.card #drift role="status" {
                h2 { "Drift" }
                @match d {
                    Ok(d) if d.missing.is_empty() && d.extra.is_empty() && d.foreign.is_empty() => p { "None: the platform holds exactly what Breakglass grants." },
                    Ok(d) => div.table-wrap { table {
                        thead { tr { th { "Found" } th { "Role" } th { "Member" } } }
                        tbody {
                            @for m in &d.missing { tr { td { "missing" } td { (m.role) } td { (m.member) } } }
                            @for m in &d.extra { tr { td { "extra" } td { (m.role) } td { (m.member) } } }
                            @for m in &d.foreign { tr { td { "granted by hand" } td { (m.role) } td { (m.member) } } }
                        }
                    } },
                    Err(e) => p.error { (e.detail) },
                }
            }
        }
        section.card aria-labelledby="conf-h" {
            h2 #conf-h { "Configuration" }
            dl {
                @for (k, v) in &p.settings { dt { (k) } dd { code { (v) } } }
                @for k in &p.secret_settings { dt { (k) } dd.muted { "secret (sealed; never shown)" } }
                @for (r, m) in &p.mapping { dt { (r) } dd { code { (m) } } }
                @if let Some(m) = &p.mode { dt { "drift" } dd { (m) } }
                @if let Some(t) = &p.account_template { dt { "accounts" } dd { code { (t) } } }
                @if let Some(l) = &p.credential_lifetime { dt { "credentials last" } dd { "at most " (l) } }
            }
            @if admin {
                details open[failed.form == "configure"] {
                    summary { "Change" }
                    form method="post" action=(format!("/admin/platforms/{}", p.identifier)) novalidate {
                        (csrf(web))
                        (form_error(failed, "configure"))
                        (platform_config_fields(failed, "configure"))
                        button type="submit" { "Save" }
                    }
                }
            }
        }
    };
    page(app, web, Nav::Admin, None, &p.name, body)
}

/// `POST /admin/platforms/{id}`: changes settings, mode or mapping.
pub async fn configure_platform(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let result = match platform_config(&form) {
        Ok(change) => crate::ops::platforms::configure(&app, &web.caller, &id, change).await.map(drop),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => redirect_with(&format!("/admin/platforms/{id}"), "Platform changed.", web.secure),
        Err(e) => {
            let failed =
                Failed::new("configure", &form, &e, &[("setting", "settings"), ("mapping", "mapping_admin")]);
            with_status(render_platform(&app, &web, &id, false, &failed, None).await, e.status)
        }
    }
}

/// `POST /admin/platforms/{id}/sync`: reconciles now and says what it did.
pub async fn sync_platform(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let note = match crate::ops::platforms::sync(&app, &web.caller, &id).await {
        Ok(r) => html! { section.card role="status" { p {
            "Reconciled: " (r.granted) " granted, " (r.revoked) " revoked, " (r.failed) " failed, "
            (r.accounts_changed) " accounts changed, " (r.accounts_removed) " removed, " (r.drift.len()) " drift."
        } } },
        Err(e) => html! { section.card role="alert" { p.error { (e.detail) } } },
    };
    render_platform(&app, &web, &id, false, &Failed::default(), Some(note)).await
}

/// A platform form's settings (`key=value` lines), mode and mappings.
fn platform_config(form: &Form) -> Result<breakglass_api::UpdatePlatform, ApiError> {
    let mut settings = std::collections::BTreeMap::new();
    for line in form.text("settings").lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once('=').ok_or_else(|| {
            ApiError::from(breakglass_core::DomainError::invalid(
                "platform.invalid_setting",
                "write each setting on a line of its own as key=value",
            ))
        })?;
        settings.insert(k.trim().to_owned(), Some(v.trim().to_owned()));
    }
    let mapping = ["reader", "user", "admin"]
        .into_iter()
        .filter_map(|r| {
            let m = form.text(&format!("mapping_{r}"));
            (!m.trim().is_empty()).then(|| (r.to_owned(), Some(m.trim().to_owned())))
        })
        .collect();
    let mode = Some(form.text("mode")).filter(|m| !m.is_empty());
    Ok(breakglass_api::UpdatePlatform { settings, mapping, mode, ..Default::default() })
}

/// `POST /admin/platforms`.
pub async fn register_platform(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let parsed = || -> Result<crate::ops::platforms::Register, ApiError> {
        Ok(crate::ops::platforms::Register {
            identifier: breakglass_core::ident::Slug::parse(&form.text("identifier"))?,
            kind: breakglass_core::platform::PlatformKind::parse(&form.text("kind"))?,
            name: breakglass_core::ident::Name::parse(&form.text("name"))?,
            config: platform_config(&form)?,
        })
    };
    let result = match parsed() {
        Ok(new) => crate::ops::platforms::register(&app, &web.caller, new).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => redirect_with("/admin", "Platform registered.", web.secure),
        Err(e) => {
            refused(&app, &web, "platform", &form, &e, &[IDENT_FIELDS, &[("kind", "kind")]].concat()).await
        }
    }
}

/// `GET /admin/audit?type=&workspace=&since=&until=&cursor=`: the whole log, for those who may read it.
pub async fn audit_log(
    State(app): State<Arc<App>>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let date = |v: Option<String>| v.map(|d| if d.len() == 10 { format!("{d}T00:00:00Z") } else { d });
    let query = api::AuditQuery {
        workspace: get("workspace"),
        event_type: get("type").map(|t| t.to_ascii_uppercase()),
        since: date(get("since")),
        until: date(get("until")),
        limit: Some(100),
        cursor: get("cursor"),
        ..Default::default()
    };
    let (events, error) = match crate::ops::audit::list(&app, &web.caller, &query).await {
        Ok(p) => (Some(p), None),
        Err(e) if e.status == StatusCode::FORBIDDEN => return error_page(e.status, &e.detail),
        Err(e) => (None, Some(e.detail)),
    };
    let keep = |k: &str| get(k).unwrap_or_default();
    let body = html! {
        h1 { "Audit log" }
        form.card.filters method="get" action="/admin/audit" {
            div.field { label for="a-ws" { "Workspace" } input #a-ws name="workspace" value=(keep("workspace")); }
            div.field { label for="a-type" { "Event types" } input #a-type name="type" value=(keep("type")) placeholder="USER_SIGNED_IN,TOKEN_CREATED"; }
            div.field { label for="a-since" { "From" } input #a-since name="since" type="date" value=(keep("since")); }
            div.field { label for="a-until" { "Before" } input #a-until name="until" type="date" value=(keep("until")); }
            button.secondary type="submit" { "Filter" }
        }
        @if let Some(e) = &error { p.error role="alert" { (e) } }
        @if let Some(events) = &events {
            div.table-wrap { table {
                thead { tr { th { "#" } th { "When" } th { "Event" } th { "By" } th { "Where" } th { "Details" } } }
                tbody { @for e in &events.items { tr {
                    td { (e.seq) }
                    td { (when(&e.time)) }
                    td { code { (e.event_type) } }
                    td { (e.actor) @if let Some(b) = &e.on_behalf_of { br; span.small-text.muted { "for " (b) } } }
                    td { (e.workspace.as_deref().unwrap_or("—")) @if let Some(p) = &e.project { " / " (p) } @if let Some(s) = &e.subject { br; span.small-text.muted { (s) } } }
                    td { details { summary { "Details" } pre { (serde_json::to_string_pretty(&e.details).unwrap_or_default()) } } }
                } } }
            } }
            @if let Some(c) = &events.next_cursor {
                p { a href=(format!("/admin/audit?workspace={}&type={}&since={}&until={}&cursor={}", super::pct(&keep("workspace")), super::pct(&keep("type")), super::pct(&keep("since")), super::pct(&keep("until")), super::pct(c))) { "More events →" } }
            }
        }
    };
    page(&app, &web, Nav::Admin, None, "Audit log", body)
}

/// `POST /admin/policies`: an installation-wide policy (admins).
pub async fn create_policy(State(app): State<Arc<App>>, web: Web, form: Form) -> Response {
    let r = match policy_body(None, &form) {
        Ok(body) => crate::ops::requests::create_policy(&app, &web.caller, &body).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => redirect_with("/admin", "Policy created.", web.secure),
        Err(e) => refused(&app, &web, "policy", &form, &e, POLICY_FIELDS).await,
    }
}

/// `POST /admin/policies/{id}`.
pub async fn update_policy(
    State(app): State<Arc<App>>,
    web: Web,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let r = match policy_body(None, &form) {
        Ok(body) => match crate::ops::requests::policy_id(&id) {
            Ok(pid) => crate::ops::requests::update_policy(&app, &web.caller, pid, &body).await,
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => redirect_with(
            "/admin",
            "Policy saved; open requests keep the rules they started with.",
            web.secure,
        ),
        Err(e) => refused(&app, &web, &format!("policy-{id}"), &form, &e, POLICY_FIELDS).await,
    }
}
