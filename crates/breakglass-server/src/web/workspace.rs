//! A workspace: Workspace Access (current access, invite, invitations), projects, entitlements
//! and policies, open emergency reviews, and its history with a details view per event; and a
//! project's Project Access.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use breakglass_api as api;
use breakglass_core::authz::{self, WorkspaceAccess};
use breakglass_core::ident::Slug;
use breakglass_core::role::AdminRole;
use breakglass_core::time::Timestamp;
use maud::{html, Markup};

use super::dashboard::with_status;
use super::layout::{
    badge, countdown, csrf, emergency_badge, error_page, field, form_error, page, role_options, select, when,
    Nav,
};
use super::manage::{settle, Back};
use super::requests::{request_link, request_target, review_form};
use super::{expiry_fields, redirect, redirect_with, Failed, Form, Web, IDENT_FIELDS};
use crate::app::App;
use crate::error::ApiError;
use crate::ops::workspaces as ops;

/// The visitor's rights in `ws` and their admin-area role, to show only the forms they may use
/// (the handlers decide anyway).
fn rights(app: &App, web: &Web, ws: &str) -> (WorkspaceAccess, AdminRole) {
    let state = app.state();
    let ctx = web.caller.ctx(app.now());
    let none = WorkspaceAccess { see: false, read_history: false, manage: false, manage_managers: false };
    let access =
        Slug::parse(ws).ok().and_then(|w| authz::actor_access(&state, &ctx, &w).ok()).unwrap_or(none);
    (access, authz::actor_admin_role(&state, &ctx).unwrap_or_default())
}

const EXPIRY_HINT: &str = "Empty for standing access; a duration (8h, 7d) or a date (2026-12-31, in UTC).";

fn tabs(ws: &str, current: &str) -> Markup {
    let tab = |key: &str, label: &str, href: String| {
        html! { a href=(href) aria-current=[(key == current).then_some("page")] { (label) } }
    };
    html! {
        nav.tabs aria-label="Workspace" {
            (tab("access", "Workspace Access", format!("/w/{ws}")))
            (tab("projects", "Projects", format!("/w/{ws}?tab=projects")))
            (tab("policies", "Entitlements & policies", format!("/w/{ws}?tab=policies")))
            (tab("reviews", "Emergency reviews", format!("/w/{ws}?tab=reviews")))
            (tab("history", "History", format!("/w/{ws}/history")))
            (tab("settings", "Settings", format!("/w/{ws}?tab=settings")))
        }
    }
}

/// `GET /w?ws=` (the workspace switcher without script).
pub async fn jump(Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("ws").filter(|w| Slug::parse(w).is_ok()) {
        Some(ws) => redirect(&format!("/w/{ws}")),
        None => redirect("/"),
    }
}

/// `GET /w/{ws}?tab=`.
pub async fn show(
    State(app): State<Arc<App>>,
    web: Web,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let tab = q.get("tab").map_or("access", String::as_str).to_owned();
    render(&app, &web, &ws, &tab, &Failed::default(), None).await
}

pub(super) async fn render(
    app: &Arc<App>,
    web: &Web,
    ws: &str,
    tab: &str,
    failed: &Failed,
    shown_once: Option<Markup>,
) -> Response {
    let w = match ops::get_workspace(app, &web.caller, ws) {
        Ok(w) => w,
        Err(e) => return error_page(e.status, &e.detail),
    };
    let (rights, admin_role) = rights(app, web, ws);
    let body = match tab {
        "projects" => projects_tab(app, web, &w, rights, failed).await,
        "policies" => policies_tab(app, web, &w, rights, admin_role, failed).await,
        "settings" => settings_tab(app, web, &w, rights, failed).await,
        "reviews" => reviews_tab(app, web, &w, failed).await,
        _ => access_tab(app, web, &w, rights, admin_role, failed).await,
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return error_page(e.status, &e.detail),
    };
    let markup = html! {
        div.actions {
            h1 { (w.name) " " span.muted.small-text { (w.identifier) } }
            (badge(w.status))
            @if w.open_reviews > 0 { a href=(format!("/w/{ws}?tab=reviews")) { (emergency_badge()) " " (w.open_reviews) " open review(s)" } }
        }
        (tabs(ws, tab))
        @if let Some(m) = shown_once { (m) }
        (body)
    };
    page(app, web, Nav::Workspace, Some(ws), &w.name, markup)
}

/// The rows of a Current Access table, with change-role and remove forms for those who manage.
fn access_table(
    web: &Web,
    ws: &str,
    project: Option<&str>,
    members: &[api::Binding],
    manage: bool,
    now: Timestamp,
) -> Markup {
    let base = match project {
        Some(p) => format!("/w/{ws}/p/{p}/members"),
        None => format!("/w/{ws}/members"),
    };
    let provisioned = members.iter().any(|b| !b.provisioning.is_empty());
    html! {
        div.table-wrap { table {
            thead { tr { th { "User" } th { "Role" } th { "Source" } th { "Expires" } @if provisioned { th { "On platforms" } } @if manage { th { "Actions" } } } }
            tbody {
                @for b in members {
                    tr.emergency-row[b.emergency] {
                        td { (b.user) }
                        td { (b.role) }
                        td {
                            @if b.emergency { (emergency_badge()) } @else { (b.source) }
                            @if let Some(r) = &b.request_id { " " a.small-text href=(format!("/requests/{r}")) { "request" } }
                            @if let Some(r) = &b.reason { br; span.small-text.muted { (r) } }
                        }
                        td { @match &b.expires_at { Some(e) => { (countdown(e, now)) br; span.small-text.muted { (when(e)) } }, None => span.muted { "—" } } }
                        @if provisioned { td { @for pr in &b.provisioning {
                            div.small-text {
                                (pr.platform) ": " (badge(pr.state))
                                @if let Some(e) = &pr.error { br; span.muted { (e) " (" (pr.attempts.unwrap_or(0)) " attempts; next " (pr.next_retry.as_deref().map(when).unwrap_or_default()) ")" } }
                            }
                        } } }
                        @if manage {
                            td {
                                @if b.source == api::BindingSource::Grant {
                                    form.inline method="post" action=(format!("/w/{ws}/grants/{}/revoke", b.id)) {
                                        (csrf(web))
                                        input type="hidden" name="back" value=(project.map_or_else(|| format!("/w/{ws}"), |p| format!("/w/{ws}/p/{p}")));
                                        button.small.danger type="submit" { "Revoke grant" }
                                    }
                                }
                                @if b.source == api::BindingSource::Direct {
                                    details {
                                        summary { "Change" }
                                        form method="post" action=(base.clone()) {
                                            (csrf(web))
                                            input type="hidden" name="email" value=(b.user);
                                            div.field { label for=(format!("r-{}", b.id)) { "Role" }
                                                select id=(format!("r-{}", b.id)) name="role" {
                                                    @for (v, l) in role_options(project.is_some()) { option value=(v) selected[v == b.role.as_str()] { (l) } }
                                                } }
                                            div.field { label for=(format!("e-{}", b.id)) { "Expires" }
                                                input id=(format!("e-{}", b.id)) name="expires" value=(b.expires_at.as_deref().unwrap_or("")) placeholder="8h, 7d or 2026-12-31"; }
                                            button.small type="submit" { "Save" }
                                        }
                                    }
                                    form.inline method="post" action=(format!("{base}/remove")) {
                                        (csrf(web))
                                        input type="hidden" name="email" value=(b.user);
                                        button.small.danger type="submit" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        } }
    }
}

async fn access_tab(
    app: &Arc<App>,
    web: &Web,
    w: &api::Workspace,
    rights: WorkspaceAccess,
    admin_role: AdminRole,
    failed: &Failed,
) -> Result<Markup, ApiError> {
    let ws = &w.identifier;
    let members = crate::ops::every(|ask| ops::members(app, &web.caller, ws, None, ask))?;
    let invitations = if rights.manage {
        crate::ops::every(|ask| crate::ops::admin::workspace_invitations(app, &web.caller, ws, ask))?
    } else {
        Vec::new()
    };
    let now = app.now();
    let roles = role_options(false);
    let me = app.state().user(web.caller.user).map(|u| u.email.to_string()).unwrap_or_default();
    Ok(html! {
        div.actions {
            a.button.secondary href=(request_link(ws)) { "Request access here" }
            @if admin_role.manages_workspaces() {
                form.inline method="post" action=(format!("/admin/workspaces/{ws}/add-myself")) {
                    (csrf(web)) button.secondary type="submit" title="Join this workspace for a limited time, recorded in its history" { "Add myself" }
                }
            }
        }
        h2 { "Current access" }
        (access_table(web, ws, None, &members, rights.manage, now))
        @if members.iter().any(|b| b.user == me && b.project.is_none() && b.source == api::BindingSource::Direct) {
            form.inline method="post" action=(format!("/w/{ws}/leave")) {
                (csrf(web)) button.small.secondary type="submit" { "Leave this workspace" }
            }
        }
        @if rights.manage {
            div.grid {
                section.card aria-labelledby="add-h" {
                    h2 #add-h { "Add or change a user" }
                    form method="post" action=(format!("/w/{ws}/members")) novalidate {
                        (csrf(web))
                        (form_error(failed, "member"))
                        (field(failed, "member", "email", "E-mail of an existing user", "email", "", None, true))
                        (select(failed, "member", "role", "Role", &roles, "member"))
                        (field(failed, "member", "expires", "Expires", "text", "", Some(EXPIRY_HINT), false))
                        button type="submit" { "Assign" }
                    }
                }
                section.card aria-labelledby="inv-h" {
                    h2 #inv-h { "Invite by e-mail" }
                    form method="post" action=(format!("/w/{ws}/invite")) novalidate {
                        (csrf(web))
                        (form_error(failed, "invite"))
                        (field(failed, "invite", "email", "E-mail (they need no account yet)", "email", "", None, true))
                        (select(failed, "invite", "role", "Role", &roles, "member"))
                        (field(failed, "invite", "expires", "Membership expires", "text", "", Some(EXPIRY_HINT), false))
                        button type="submit" { "Invite" }
                    }
                }
                (grant_form(web, failed, ws, None))
            }
            @if !invitations.is_empty() {
                h2 { "Invitations" }
                div.table-wrap { table {
                    thead { tr { th { "E-mail" } th { "Role" } th { "State" } th { "Valid until" } th { "Invited by" } th { "" } } }
                    tbody { @for i in &invitations { tr {
                        td { (i.email) } td { (i.role) } td { (badge(i.state)) } td { (when(&i.expires_at)) } td { (i.invited_by) }
                        td { @if i.state == api::InvitationState::Pending {
                            form.inline method="post" action=(format!("/w/{ws}/invitations/{}/cancel", i.id)) {
                                (csrf(web)) button.small.danger type="submit" { "Cancel" }
                            }
                        } }
                    } } }
                } }
            }
        }
    })
}

async fn projects_tab(
    app: &Arc<App>,
    web: &Web,
    w: &api::Workspace,
    rights: WorkspaceAccess,
    failed: &Failed,
) -> Result<Markup, ApiError> {
    let ws = &w.identifier;
    let projects = crate::ops::every(|ask| {
        let q = api::ListQuery { limit: ask.limit, cursor: ask.cursor.clone(), ..Default::default() };
        ops::list_projects(app, &web.caller, ws, &q)
    })?;
    Ok(html! {
        p.muted { (w.project_count) " of " (w.project_quota) " projects (quota)." }
        div.table-wrap { table {
            thead { tr { th { "Project" } th { "Name" } th.hide-narrow { "Tags" } th.hide-narrow { "Created" } } }
            tbody { @for p in &projects { tr {
                td { a href=(format!("/w/{ws}/p/{}", p.identifier)) { (p.identifier) } }
                td { (p.name) }
                td.hide-narrow { @for (k, v) in &p.tags { code { (k) "=" (v) } " " } }
                td.hide-narrow { (when(&p.created_at)) }
            } } }
        } }
        @if rights.manage {
            section.card {
                h2 { "New project" }
                form method="post" action=(format!("/w/{ws}/projects")) novalidate {
                    (csrf(web))
                    (form_error(failed, "project"))
                    (field(failed, "project", "identifier", "Identifier", "text", "", Some("Lowercase letters, digits and -; it never changes."), true))
                    (field(failed, "project", "name", "Name", "text", "", None, true))
                    button type="submit" { "Create project" }
                }
            }
        }
    })
}

async fn policies_tab(
    app: &Arc<App>,
    web: &Web,
    w: &api::Workspace,
    rights: WorkspaceAccess,
    admin_role: AdminRole,
    failed: &Failed,
) -> Result<Markup, ApiError> {
    // Workspace owners and admins manage a workspace's policies and entitlements.
    let manage = rights.manage_managers || admin_role == AdminRole::Admin;
    let ws = &w.identifier;
    let ents = crate::ops::every(|ask| crate::ops::requests::list_entitlements(app, &web.caller, ws, ask))?;
    let policies = crate::ops::every(|ask| {
        crate::ops::requests::list_policies(app, &web.caller, Some(ws.as_str()), ask)
    })?;
    let targets: Vec<(String, String)> = ents
        .iter()
        .map(|e| {
            let at =
                e.project.as_deref().map_or_else(|| format!("{ws} (workspace)"), |p| format!("{ws} / {p}"));
            (format!("{}|{}", e.project.as_deref().unwrap_or(""), e.role), format!("{at} — {}", e.role))
        })
        .collect();
    let policy_opts: Vec<(String, String)> =
        policies.iter().map(|p| (p.id.clone(), p.name.clone())).collect();
    let mut with_default = vec![(String::new(), "the installation default".to_owned())];
    with_default.extend(policy_opts.iter().cloned());
    Ok(html! {
        h2 { "Entitlements" }
        p.muted { "Which policy governs a request for each role, and whether emergency requests are allowed." }
        div.table-wrap { table {
            thead { tr { th { "Where" } th { "Role" } th { "Requests" } th { "Emergency" } } }
            tbody { @for e in &ents { tr.emergency-row[e.emergency_enabled] {
                td { (request_target(&e.workspace, e.project.as_deref())) }
                td { (e.role) }
                td { (e.request_policy.name) @if e.default { " " span.muted.small-text { "(default)" } } }
                td { @match &e.emergency_policy { Some(p) if e.emergency_enabled => { (emergency_badge()) " " (p.name) }, _ => span.muted { "not allowed" } } }
            } } }
        } }
        h2 { "Policies" }
        div.table-wrap { table {
            thead { tr { th { "Policy" } th { "Steps" } th { "Longest access" } th { "Justification" } } }
            tbody { @for p in &policies { tr {
                td { (p.name) @if p.workspace.is_none() { " " span.muted.small-text { "(installation)" } } }
                td { @if p.steps.is_empty() { "granted at once" } @for (i, s) in p.steps.iter().enumerate() { @if i > 0 { ", then " } (s.count) " of " (s.approvers.replace('_', " ")) @if !s.users.is_empty() { " (" (s.users.join(", ")) ")" } } }
                td { (p.max_duration.as_deref().unwrap_or("no limit")) }
                td { @if p.justification_required { "required" } @else { "optional" } }
            } } }
        } }
        @if manage {
            @for p in policies.iter().filter(|p| p.workspace.as_deref() == Some(ws.as_str())) {
                @let form = format!("policy-{}", p.id);
                details.card open[failed.form == form] {
                    summary { "Edit “" (p.name) "”" }
                    form method="post" action=(format!("/w/{ws}/policies/{}", p.id)) novalidate {
                        (csrf(web)) (policy_fields(failed, &form, Some(p))) button type="submit" { "Save policy" }
                    }
                }
            }
            div.grid {
                section.card {
                    h2 { "New policy" }
                    form method="post" action=(format!("/w/{ws}/policies")) novalidate {
                        (csrf(web)) (policy_fields(failed, "policy", None)) button type="submit" { "Create policy" }
                    }
                }
                section.card {
                    h2 { "Set an entitlement" }
                    form method="post" action=(format!("/w/{ws}/entitlements")) novalidate {
                        (csrf(web))
                        (form_error(failed, "entitlement"))
                        (select(failed, "entitlement", "target", "Role and where", &targets, ""))
                        (select(failed, "entitlement", "request_policy", "Policy for requests", &with_default, ""))
                        div.check {
                            input #entitlement-emergency type="checkbox" name="emergency_enabled" value="true" checked[failed.value("entitlement", "emergency_enabled").is_some()];
                            label for="entitlement-emergency" { "Emergency requests allowed" }
                        }
                        (select(failed, "entitlement", "emergency_policy", "Policy for emergencies", &policy_opts, ""))
                        button type="submit" { "Save entitlement" }
                    }
                }
            }
        }
    })
}

async fn reviews_tab(
    app: &Arc<App>,
    web: &Web,
    w: &api::Workspace,
    failed: &Failed,
) -> Result<Markup, ApiError> {
    // Every emergency use of the workspace, newest first: the review history is shown whole.
    let reviews = crate::ops::every(|ask| {
        let q = api::ReviewQuery {
            state: Some("all".into()),
            workspace: Some(w.identifier.clone()),
            limit: ask.limit,
            cursor: ask.cursor.clone(),
        };
        crate::ops::requests::list_reviews(app, &web.caller, &q)
    })?;
    let me = app.state().user(web.caller.user).map(|u| u.email.to_string()).unwrap_or_default();
    Ok(html! {
        @if reviews.is_empty() { p.muted { "No emergency access has been used here." } }
        @for r in &reviews {
            section.card.emergency[r.state == api::ReviewState::Open] {
                p { (emergency_badge()) " " strong { (r.holder) } " held " (r.role) " on " (request_target(&r.workspace, r.project.as_deref()))
                    " — opened " (when(&r.opened_at)) " " (badge(r.state))
                    @if let Some(o) = &r.outcome { " " (badge(o)) }
                    " " a href=(format!("/requests/{}", r.request_id)) { "request" } }
                @if let Some(n) = &r.notes { p { (n) @if let Some(b) = &r.completed_by { " — " (b) } } }
                @if r.state == api::ReviewState::Open && r.holder != me { (review_form(web, r, failed)) }
            }
        }
    })
}

/// The tags of a workspace or project (`base` is its page), with remove and set for managers.
fn tags_section(
    web: &Web,
    failed: &Failed,
    tags: &std::collections::BTreeMap<String, String>,
    base: &str,
    manage: bool,
) -> Markup {
    html! {
        h2 { "Tags" }
        @if tags.is_empty() { p.muted { "No tags." } }
        ul { @for (k, v) in tags { li { code { (k) "=" (v) }
            @if manage { " " form.inline method="post" action=(format!("{base}/tags/{k}/remove")) { (csrf(web)) button.small.danger type="submit" { "Remove" } } }
        } } }
        @if manage {
            details.card open[failed.form == "tag"] { summary { "Set a tag" }
                form method="post" action=(format!("{base}/tags")) novalidate {
                    (csrf(web))
                    (form_error(failed, "tag"))
                    (field(failed, "tag", "key", "Key", "text", "", Some("A key the admin area defined."), true))
                    (field(failed, "tag", "value", "Value", "text", "", None, true))
                    button type="submit" { "Set tag" }
                }
            }
        }
    }
}

/// A temporary grant on top of membership, for the workspace or (with `project`) one project.
fn grant_form(web: &Web, failed: &Failed, ws: &str, project: Option<&str>) -> Markup {
    let roles = role_options(project.is_some());
    html! {
        section.card aria-labelledby="grant-h" {
            h2 #grant-h { "Temporary grant" }
            p.hint { "A role on top of someone's membership that ends by itself, with the reason recorded." }
            form method="post" action=(format!("/w/{ws}/grants")) novalidate {
                (csrf(web))
                @if let Some(p) = project { input type="hidden" name="project" value=(p); }
                (form_error(failed, "grant"))
                (field(failed, "grant", "user", "E-mail of a user", "email", "", None, true))
                (select(failed, "grant", "role", "Role", &roles, if project.is_some() { "admin" } else { "manager" }))
                (field(failed, "grant", "expires", "Ends", "text", "2h", Some("Required: a duration (2h, 1d) or a date."), true))
                (field(failed, "grant", "reason", "Reason", "text", "", Some("Recorded in the history, e.g. the incident number."), false))
                button type="submit" { "Grant" }
            }
        }
    }
}

async fn settings_tab(
    app: &Arc<App>,
    web: &Web,
    w: &api::Workspace,
    rights: WorkspaceAccess,
    failed: &Failed,
) -> Result<Markup, ApiError> {
    let ws = &w.identifier;
    // Only the admin area sees sent messages; for anyone else the list is simply not shown.
    let messages = crate::ops::messages::sent(app, &web.caller, ws, &crate::ops::PageAsk::default())
        .map(|p| p.items)
        .unwrap_or_default();
    Ok(html! {
        (tags_section(web, failed, &w.tags, &format!("/w/{ws}"), rights.manage))
        @if rights.manage {
            div.grid {
                section.card {
                    h2 { "Rename" }
                    form method="post" action=(format!("/w/{ws}/rename")) novalidate {
                        (csrf(web))
                        (form_error(failed, "rename"))
                        (field(failed, "rename", "name", "Name", "text", &w.name, Some("The identifier never changes."), true))
                        button type="submit" { "Rename" }
                    }
                }
            }
        }
        @if !messages.is_empty() {
            h2 { "Messages to this workspace" }
            @for m in &messages {
                div.card { p { (m.sender) " · " (when(&m.created_at)) " · " (m.mode.as_str().replace('_', " ")) br; (m.text) }
                    @if !m.acknowledgements.is_empty() { p.small-text.muted { "Acknowledged by " @for (i, a) in m.acknowledgements.iter().enumerate() { @if i > 0 { ", " } (a.user) } } } }
            }
        }
    })
}

/// The fields of a policy (new, or one to edit when `p` is given).
pub(super) fn policy_fields(failed: &Failed, form: &str, p: Option<&api::Policy>) -> Markup {
    let approvers = [
        ("".to_owned(), "— no step —".to_owned()),
        ("workspace_managers".to_owned(), "workspace managers".to_owned()),
        ("workspace_owners".to_owned(), "workspace owners".to_owned()),
        ("admin_area".to_owned(), "the admin area".to_owned()),
        ("users".to_owned(), "these users".to_owned()),
    ];
    let step = |n: usize| p.and_then(|p| p.steps.get(n - 1));
    html! {
        (form_error(failed, form))
        (field(failed, form, "name", "Name", "text", p.map_or("", |p| p.name.as_str()), None, true))
        @for n in 1..=3usize {
            fieldset {
                legend { "Step " (n) }
                (select(failed, form, &format!("step{n}_approvers"), "Approvers", &approvers, step(n).map_or("", |s| s.approvers.as_str())))
                (field(failed, form, &format!("step{n}_users"), "Users (for “these users”)", "text", &step(n).map(|s| s.users.join(", ")).unwrap_or_default(), Some("E-mails, comma-separated."), false))
                (field(failed, form, &format!("step{n}_count"), "Approvals needed", "number", &step(n).map_or_else(|| "1".to_owned(), |s| s.count.to_string()), None, false))
            }
        }
        (field(failed, form, "max_duration", "Longest access", "text", p.and_then(|p| p.max_duration.as_deref()).unwrap_or(""), Some("e.g. 4h or 30d; empty for no limit."), false))
        (field(failed, form, "pending_ttl", "Requests lapse after", "text", p.map_or("7d", |p| p.pending_ttl.as_str()), None, false))
        div.check {
            input id=(format!("{form}-just")) type="checkbox" name="justification_required" value="true" checked[p.is_none_or(|p| p.justification_required)];
            label for=(format!("{form}-just")) { "Requests need a justification" }
        }
    }
}

/// The e-mail and body of a membership form.
fn member_body(form: &Form) -> (String, api::SetMember) {
    let (expires_at, expires_in) = expiry_fields(form.get("expires"));
    let body = api::SetMember {
        role: form.text("role"),
        expires_at,
        expires_in,
        justification: form.get("justification"),
    };
    (form.text("email"), body)
}

/// Ends an assignment: the API answers with the binding, or with a request when the role's
/// policy needs approvals, and the notice says which.
async fn assigned(
    app: &Arc<App>,
    web: &Web,
    back: Back<'_>,
    form: &Form,
    r: Result<ops::Assignment, ApiError>,
) -> Response {
    let email = form.text("email");
    match r {
        Ok(ops::Assignment::Request(_)) => redirect_with(
            &back.path(),
            &format!("The role for {email} needs approval: a request was opened with your approval."),
            web.secure,
        ),
        Ok(_) => redirect_with(&back.path(), &format!("Saved the role of {email}."), web.secure),
        Err(e) => {
            settle(app, web, back, Err::<(), _>(e), "", |e| Failed::new("member", form, e, MEMBER_FIELDS))
                .await
        }
    }
}

/// `POST /w/{ws}/members`: assigns or changes a workspace role.
pub async fn set_member(
    State(app): State<Arc<App>>,
    web: Web,
    Path(ws): Path<String>,
    form: Form,
) -> Response {
    let (email, body) = member_body(&form);
    let r = ops::set_member(&app, &web.caller, &ws, None, &email, &body).await.map(|w| w.value);
    assigned(&app, &web, Back::Tab(&ws, "access"), &form, r).await
}

const MEMBER_FIELDS: &[(&str, &str)] = &[
    ("email", "email"),
    ("user", "email"),
    ("role", "role"),
    ("expir", "expires"),
    ("span", "expires"),
    ("time", "expires"),
];

/// `POST /w/{ws}/members/remove`.
pub async fn remove_member(
    State(app): State<Arc<App>>,
    web: Web,
    Path(ws): Path<String>,
    form: Form,
) -> Response {
    let email = form.text("email");
    let r = ops::remove_member(&app, &web.caller, &ws, None, &email).await;
    let notice = format!("Removed {email}.");
    settle(&app, &web, Back::Tab(&ws, "access"), r, &notice, |e| Failed::new("member", &form, e, &[])).await
}

/// `POST /w/{ws}/invite`: the invitation's code is shown once, with a sign-up link to pass on.
pub async fn invite(State(app): State<Arc<App>>, web: Web, Path(ws): Path<String>, form: Form) -> Response {
    let (expires_at, expires_in) = expiry_fields(form.get("expires"));
    let body =
        api::CreateInvitation { email: form.text("email"), role: form.text("role"), expires_at, expires_in };
    match crate::ops::admin::invite(&app, &web.caller, &ws, &body).await.map(|w| w.value) {
        Ok(i) => {
            let code = i.token.clone().unwrap_or_default();
            let link = format!("/signup?code={}&email={}", super::pct(&code), super::pct(&i.email));
            let once = html! {
                section.card role="status" aria-labelledby="once-h" {
                    h2 #once-h { "Invitation for " (i.email) }
                    p { "Send this link (or the code) to " (i.email) " yourself. It is shown only now; Breakglass keeps only a hash of it." }
                    p { "Sign-up link (path on this server):" }
                    code.secret #invite-link { (link) }
                    p { "Code:" }
                    code.secret #invite-code { (code) }
                    p.muted { "Valid until " (when(&i.expires_at)) ". Someone who already has an account accepts it on their dashboard with the code." }
                }
            };
            render(&app, &web, &ws, "access", &Failed::default(), Some(once)).await
        }
        Err(e) => {
            let failed = Failed::new("invite", &form, &e, MEMBER_FIELDS);
            with_status(render(&app, &web, &ws, "access", &failed, None).await, e.status)
        }
    }
}

/// `POST /w/{ws}/projects`.
pub async fn create_project(
    State(app): State<Arc<App>>,
    web: Web,
    Path(ws): Path<String>,
    form: Form,
) -> Response {
    let body = api::CreateProject {
        identifier: form.text("identifier"),
        name: form.text("name"),
        tags: Default::default(),
    };
    match ops::create_project(&app, &web.caller, &ws, &body).await.map(|w| w.value) {
        Ok(p) => redirect_with(
            &format!("/w/{ws}/p/{}", p.identifier),
            &format!("Created project {}.", p.identifier),
            web.secure,
        ),
        Err(e) => {
            let failed = Failed::new("project", &form, &e, IDENT_FIELDS);
            with_status(render(&app, &web, &ws, "projects", &failed, None).await, e.status)
        }
    }
}

/// `GET /w/{ws}/p/{p}`: Project Access.
pub async fn project(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p)): Path<(String, String)>,
) -> Response {
    render_project(&app, &web, &ws, &p, &Failed::default(), None).await
}

pub(super) async fn render_project(
    app: &Arc<App>,
    web: &Web,
    ws: &str,
    p: &str,
    failed: &Failed,
    shown_once: Option<Markup>,
) -> Response {
    let proj = match ops::get_project(app, &web.caller, ws, p) {
        Ok(p) => p,
        Err(e) => return error_page(e.status, &e.detail),
    };
    let members = match crate::ops::every(|ask| ops::members(app, &web.caller, ws, Some(p), ask)) {
        Ok(m) => m,
        Err(e) => return error_page(e.status, &e.detail),
    };
    let (rights, _) = rights(app, web, ws);
    let tenants = match crate::ops::platforms::tenants_with_service_users(app, &web.caller, ws, p) {
        Ok(t) => t,
        Err(e) => return error_page(e.status, &e.detail),
    };
    let platform_opts: Vec<(String, String)> = crate::ops::platforms::all(app, &web.caller)
        .unwrap_or_default()
        .into_iter()
        .map(|pl| (pl.identifier.clone(), format!("{} ({})", pl.name, pl.kind)))
        .collect();
    let now = app.now();
    let roles = role_options(true);
    let body = html! {
        @if let Some(m) = shown_once { (m) }
        p { a href=(format!("/w/{ws}")) { "← " (ws) } }
        h1 { (proj.name) " " span.muted.small-text { (ws) " / " (p) } }
        nav.tabs aria-label="Project" {
            a href=(format!("/w/{ws}/p/{p}")) aria-current="page" { "Project Access" }
            a href=(format!("/w/{ws}/history?project={}", super::pct(p))) { "History" }
        }
        div.actions { a.button.secondary href=(request_link(ws)) { "Request access here" } }
        h2 { "Current access" }
        (access_table(web, ws, Some(p), &members, rights.manage, now))
        @if rights.manage {
            section.card {
                h2 { "Assign a role" }
                form method="post" action=(format!("/w/{ws}/p/{p}/members")) novalidate {
                    (csrf(web))
                    (form_error(failed, "member"))
                    (field(failed, "member", "email", "E-mail of a user", "email", "", None, true))
                    (select(failed, "member", "role", "Role", &roles, "user"))
                    (field(failed, "member", "expires", "Expires", "text", "", Some(EXPIRY_HINT), false))
                    (field(failed, "member", "justification", "Justification", "text", "", Some("Needed when the role's policy asks for approvals."), false))
                    button type="submit" { "Assign" }
                }
            }
            (grant_form(web, failed, ws, Some(p)))
        }
        (tags_section(web, failed, &proj.tags, &format!("/w/{ws}/p/{p}"), rights.manage))
        h2 { "Platforms and service users" }
        @if tenants.is_empty() { p.muted { "This project has no tenant on any platform yet." } }
        @for (t, users) in &tenants {
            section.card {
                h3 { (t.platform) " " span.muted.small-text { (t.platform_kind) } }
                p { "Tenant " code { (t.external_id) } ", recorded by " (t.created_by) " " (when(&t.created_at)) "." }
                @if t.platform_kind == "ssh" {
                    @let form = format!("ssh-{}", t.platform);
                    form method="post" action=(format!("/w/{ws}/p/{p}/tenants/{}/ssh-certificates", t.platform)) novalidate {
                        (csrf(web))
                        (form_error(failed, &form))
                        (field(failed, &form, "public_key", "Your SSH public key", "textarea", "", Some("The line of your .pub file (ssh-ed25519 AAAA...). The certificate carries the principals of your roles here until your access ends."), true))
                        button.small.secondary type="submit" { "Sign my SSH key" }
                    }
                } @else if breakglass_connect::kind(&t.platform_kind).is_some() {
                    form.inline method="post" action=(format!("/w/{ws}/p/{p}/tenants/{}/credentials", t.platform)) {
                        (csrf(web))
                        button.small.secondary type="submit" title="A login and a password valid until your access here ends" { "Get a credential" }
                    }
                }
                @if !users.is_empty() {
                    div.table-wrap { table {
                        thead { tr { th { "Service user" } th { "Client id" } th { "Created by" } th { "" } } }
                        tbody { @for u in users { tr {
                            td { (u.name) } td { code.small-text { (u.client_id) } } td { (u.created_by) " " (when(&u.created_at)) }
                            td { form.inline method="post" action=(format!("/w/{ws}/p/{p}/tenants/{}/service-users/{}/delete", t.platform, u.id)) {
                                (csrf(web)) button.small.danger type="submit" { "Delete" } } }
                        } } }
                    } }
                }
                @let form = format!("su-{}", t.platform);
                form method="post" action=(format!("/w/{ws}/p/{p}/tenants/{}/service-users", t.platform)) novalidate {
                    (csrf(web))
                    (form_error(failed, &form))
                    (field(failed, &form, "name", "New service user", "text", "", Some("A label; its secret is shown once."), true))
                    (select(failed, &form, "role", "Its role here", &role_options(true), "user"))
                    button.small type="submit" { "Create service user" }
                }
            }
        }
        @if rights.manage && !platform_opts.is_empty() {
            details.card open[failed.form == "tenant"] { summary { "Record a tenant on a platform" }
                form method="post" action=(format!("/w/{ws}/p/{p}/tenants")) novalidate {
                    (csrf(web))
                    (form_error(failed, "tenant"))
                    (select(failed, "tenant", "platform", "Platform", &platform_opts, ""))
                    (field(failed, "tenant", "external_id", "How the platform names it", "text", "", Some("An account id, a namespace, …"), true))
                    button type="submit" { "Record tenant" }
                }
            }
        }
    };
    page(app, web, Nav::Workspace, Some(ws), &proj.name, body)
}

/// `POST /w/{ws}/p/{p}/members`.
pub async fn set_project_member(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p)): Path<(String, String)>,
    form: Form,
) -> Response {
    let (email, body) = member_body(&form);
    let r = ops::set_member(&app, &web.caller, &ws, Some(&p), &email, &body).await.map(|w| w.value);
    assigned(&app, &web, Back::Project(&ws, &p), &form, r).await
}

/// `POST /w/{ws}/p/{p}/members/remove`.
pub async fn remove_project_member(
    State(app): State<Arc<App>>,
    web: Web,
    Path((ws, p)): Path<(String, String)>,
    form: Form,
) -> Response {
    let email = form.text("email");
    let r = ops::remove_member(&app, &web.caller, &ws, Some(&p), &email).await;
    let notice = format!("Removed {email}.");
    settle(&app, &web, Back::Project(&ws, &p), r, &notice, |e| Failed::new("member", &form, e, &[])).await
}

/// `GET /w/{ws}/history?project=&type=&since=&until=&cursor=`.
pub async fn history(
    State(app): State<Arc<App>>,
    web: Web,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let date = |v: Option<String>| v.map(|d| if d.len() == 10 { format!("{d}T00:00:00Z") } else { d });
    let query = api::AuditQuery {
        event_type: get("type").map(|t| t.to_ascii_uppercase()),
        since: date(get("since")),
        until: date(get("until")),
        limit: Some(100),
        cursor: get("cursor"),
        ..Default::default()
    };
    let project = get("project");
    let result = match &project {
        Some(p) => crate::ops::audit::project_history(&app, &web.caller, &ws, p, &query).await,
        None => crate::ops::audit::workspace_history(&app, &web.caller, &ws, &query).await,
    };
    let (events, error) = match result {
        Ok(p) => (Some(p), None),
        Err(e)
            if e.status.is_client_error()
                && e.status != axum::http::StatusCode::NOT_FOUND
                && e.status != axum::http::StatusCode::FORBIDDEN =>
        {
            (None, Some(e.detail))
        }
        Err(e) => return error_page(e.status, &e.detail),
    };
    let keep = |k: &str| get(k).unwrap_or_default();
    let body = html! {
        h1 { "History of " (ws) @if let Some(p) = &project { " / " (p) } }
        (tabs(&ws, "history"))
        form.card.filters method="get" action=(format!("/w/{ws}/history")) {
            div.field { label for="f-project" { "Project" } input #f-project name="project" value=(keep("project")); }
            div.field { label for="f-type" { "Event types" } input #f-type name="type" value=(keep("type")) placeholder="USER_ASSIGNED,ACCESS_GRANTED"; }
            div.field { label for="f-since" { "From" } input #f-since name="since" type="date" value=(keep("since")); }
            div.field { label for="f-until" { "Before" } input #f-until name="until" type="date" value=(keep("until")); }
            button.secondary type="submit" { "Filter" }
        }
        @if let Some(e) = &error { p.error role="alert" { (e) } }
        @if let Some(events) = &events {
            @if events.items.is_empty() { p.muted { "No events match." } }
            @else {
                div.table-wrap { table {
                    thead { tr { th { "When" } th { "Event" } th { "By" } th { "Where" } th { "Details" } } }
                    tbody { @for e in &events.items {
                        @let emergency = e.details.get("emergency").and_then(serde_json::Value::as_bool).unwrap_or(false) || e.event_type.contains("EMERGENCY") || e.event_type.starts_with("REVIEW");
                        tr.emergency-row[emergency] {
                            td { (when(&e.time)) }
                            td { @if emergency { (emergency_badge()) " " } code { (e.event_type) } }
                            td { (e.actor) @if let Some(b) = &e.on_behalf_of { br; span.small-text.muted { "for " (b) } } }
                            td { @if let Some(p) = &e.project { (p) } @else { span.muted { "workspace" } } @if let Some(s) = &e.subject { br; span.small-text.muted { (s) } } }
                            td { a href=(format!("/w/{ws}/history/{}", e.seq)) { "Details" } }
                        }
                    } }
                } }
                @if let Some(c) = &events.next_cursor {
                    p { a href=(format!("/w/{ws}/history?project={}&type={}&since={}&until={}&cursor={}", super::pct(&keep("project")), super::pct(&keep("type")), super::pct(&keep("since")), super::pct(&keep("until")), super::pct(c))) { "More events →" } }
                }
            }
        }
    };
    page(&app, &web, Nav::Workspace, Some(&ws), "History", body)
}

/// `GET /w/{ws}/history/{seq}`: one event in full, with its place in the hash chain.
pub async fn event(State(app): State<Arc<App>>, web: Web, Path((ws, seq)): Path<(String, i64)>) -> Response {
    let query = api::AuditQuery { after: Some(seq - 1), limit: Some(1), ..Default::default() };
    let found = match crate::ops::audit::workspace_history(&app, &web.caller, &ws, &query).await {
        Ok(p) => p.items.into_iter().find(|e| e.seq == seq),
        Err(e) => return error_page(e.status, &e.detail),
    };
    let Some(e) = found else {
        return error_page(axum::http::StatusCode::NOT_FOUND, "No such event in this workspace's history.");
    };
    let details = serde_json::to_string_pretty(&e.details).unwrap_or_default();
    let body = html! {
        p { a href=(format!("/w/{ws}/history")) { "← History" } }
        h1 { code { (e.event_type) } }
        dl.details.card {
            dt { "Sequence" } dd { (e.seq) }
            dt { "When" } dd { (when(&e.time)) }
            dt { "By" } dd { (e.actor) }
            @if let Some(b) = &e.on_behalf_of { dt { "On behalf of" } dd { (b) } }
            dt { "Workspace" } dd { (e.workspace.as_deref().unwrap_or("—")) }
            @if let Some(p) = &e.project { dt { "Project" } dd { (p) } }
            @if let Some(s) = &e.subject { dt { "Subject" } dd { (s) } }
            dt { "Hash" } dd { code.small-text { (e.hash) } }
            dt { "Previous hash" } dd { code.small-text { (e.prev_hash) } }
        }
        h2 { "Details" }
        pre { (details) }
    };
    page(&app, &web, Nav::Workspace, Some(&ws), "Event", body)
}
