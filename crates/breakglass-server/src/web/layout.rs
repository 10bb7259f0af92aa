//! The page shell (header, account and workspace switchers, navigation), the stylesheet, and
//! small pieces every page uses: times with countdowns, badges, form fields with their errors.

use axum::http::StatusCode;
use axum::response::Response;
use breakglass_core::delegation::{AccessKind, RecipientStatus};
use breakglass_core::role::AdminRole;
use breakglass_core::time::Timestamp;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{html as html_response, Failed, Web};
use crate::app::App;

/// Inlined into every page, so that a page renders in one round trip.
pub(super) const CSS: &str = include_str!("app.css");

/// Which part of the site a page belongs to, for the navigation's current mark.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The dashboard.
    Home,
    /// A workspace or project page.
    Workspace,
    /// Requesting access, and one request.
    Request,
    /// Accesses and tokens.
    Accesses,
    /// The admin area.
    Admin,
}

/// What the header shows about the visitor, read once per page from the model.
struct Header {
    name: String,
    email: String,
    holder_email: String,
    acting: bool,
    admin_role: AdminRole,
    workspaces: Vec<String>,
    delegations: Vec<(String, String)>,
    scope: Option<Vec<String>>,
}

fn header(app: &App, web: &Web) -> Header {
    let now = app.now();
    let state = app.state();
    let user = state.user(web.caller.user);
    let holder = state.user(web.caller.holder);
    let ctx = web.caller.ctx(now);
    let admin_role = breakglass_core::authz::actor_admin_role(&state, &ctx).unwrap_or_default();
    let workspaces: Vec<String> =
        web.caller.workspaces(&state, now).into_iter().map(ToString::to_string).collect();
    let mut delegations: Vec<(String, String)> = holder
        .map(|h| {
            state
                .accesses_shared_with(&h.email)
                .into_iter()
                .filter(|a| {
                    a.kind == AccessKind::Delegate
                        && a.is_live(now)
                        && a.recipient(&h.email).is_some_and(|r| r.status == RecipientStatus::Accepted)
                })
                .filter_map(|a| state.user(a.owner))
                .map(|o| (o.email.to_string(), o.name.to_string()))
                .collect()
        })
        .unwrap_or_default();
    delegations.sort();
    delegations.dedup();
    Header {
        name: user.map(|u| u.name.to_string()).unwrap_or_default(),
        email: user.map(|u| u.email.to_string()).unwrap_or_default(),
        holder_email: holder.map(|u| u.email.to_string()).unwrap_or_default(),
        acting: web.caller.bounds.delegate.is_some(),
        admin_role,
        workspaces,
        delegations,
        scope: web.caller.bounds.scope.as_ref().map(|s| s.iter().map(ToString::to_string).collect()),
    }
}

/// The `<head>` of every page: the stylesheet is inlined so a page renders in one round trip.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Breakglass" }
            style { (PreEscaped(CSS)) }
        }
    }
}

/// A whole page for a signed-in visitor.
pub fn page(app: &App, web: &Web, nav: Nav, current_ws: Option<&str>, title: &str, body: Markup) -> Response {
    let h = header(app, web);
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                @if h.acting {
                    div.acting role="status" {
                        strong { "Acting as " (h.name) " (" (h.email) ")" }
                        " — you are " (h.holder_email) ". Everything you do here uses their rights"
                        @if let Some(scope) = &h.scope { ", limited to " (scope.join(", ")) }
                        ", and is recorded as done by you on their behalf."
                        form.inline method="post" action="/act-as" {
                            (csrf(web))
                            input type="hidden" name="as" value="";
                            button.small type="submit" { "Switch back to myself" }
                        }
                    }
                }
                header.top {
                    a.brand href="/" { span.glass aria-hidden="true" { "◇" } " Breakglass" }
                    nav aria-label="Main" {
                        a href="/" aria-current=[(nav == Nav::Home).then_some("page")] { "Dashboard" }
                        a href="/request" aria-current=[(nav == Nav::Request).then_some("page")] { "Request access" }
                        a href="/accesses" aria-current=[(nav == Nav::Accesses).then_some("page")] { "Accesses" }
                        a href="/check" { "Check" }
                        @if h.admin_role != AdminRole::None {
                            a href="/admin" aria-current=[(nav == Nav::Admin).then_some("page")] { "Admin area" }
                        }
                    }
                    form.switcher method="get" action="/w" {
                        label for="ws-switch" { "Workspace" }
                        select #ws-switch name="ws" {
                            option value="" { "Choose…" }
                            @for ws in &h.workspaces {
                                option value=(ws) selected[current_ws == Some(ws.as_str())] { (ws) }
                            }
                        }
                        noscript { button.small type="submit" { "Go" } }
                    }
                    div.account {
                        @if !h.delegations.is_empty() || h.acting {
                            form.switcher method="post" action="/act-as" {
                                (csrf(web))
                                label for="as-switch" { "Account" }
                                select #as-switch name="as" {
                                    option value="" selected[!h.acting] { "Myself (" (h.holder_email) ")" }
                                    @for (email, name) in &h.delegations {
                                        option value=(email) selected[h.acting && h.email == *email] { "As " (name) " (" (email) ")" }
                                    }
                                }
                                noscript { button.small type="submit" { "Switch" } }
                            }
                        } @else {
                            span.who { (h.name) }
                        }
                        form.inline method="post" action="/logout" {
                            (csrf(web))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    @if let Some(f) = &web.flash {
                        @if let Some(refusal) = f.strip_prefix('!') { p.error role="alert" { (refusal) } }
                        @else { p.flash role="status" { (f) } }
                    }
                    (body)
                }
                script src=(super::SCRIPT_PATH.as_str()) defer {}
            }
        }
    };
    let mut r = html_response(StatusCode::OK, markup.into_string());
    if web.flash.is_some() {
        r.headers_mut().append(
            axum::http::header::SET_COOKIE,
            super::set_cookie(super::FLASH_COOKIE, "", 0, web.secure, "Lax"),
        );
    }
    r
}

/// A page for visitors who are not signed in (sign-in, sign-up).
pub fn public_page(title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.public {
                main #main.narrow {
                    p.brand-big { span.glass aria-hidden="true" { "◇" } " Breakglass" }
                    (body)
                }
            }
        }
    };
    forget_flash(html_response(StatusCode::OK, markup.into_string()))
}

/// Clears a pending notice, so that it never surfaces on a later, unrelated page.
fn forget_flash(mut r: Response) -> Response {
    r.headers_mut()
        .append(axum::http::header::SET_COOKIE, super::set_cookie(super::FLASH_COOKIE, "", 0, false, "Lax"));
    r
}

/// An error page with a way back.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(status.canonical_reason().unwrap_or("Error")))
            body.public {
                main #main.narrow {
                    h1 { (status.canonical_reason().unwrap_or("Error")) }
                    p.error role="alert" { (message) }
                    p { a href="/" { "Back to the dashboard" } }
                }
            }
        }
    };
    forget_flash(html_response(status, markup.into_string()))
}

/// The HTML answer for a path no route knows, to a browser.
pub fn not_found_page() -> Response {
    error_page(StatusCode::NOT_FOUND, "There is no page here.")
}

/// The hidden CSRF field of a signed-in visitor's form.
pub fn csrf(web: &Web) -> Markup {
    html! { input type="hidden" name="csrf" value=(web.csrf); }
}

/// A time as text in UTC, machine-readable in `datetime`.
pub fn when(rfc3339: &str) -> Markup {
    let shown = Timestamp::parse_rfc3339(rfc3339).map_or_else(|_| rfc3339.to_owned(), short);
    html! { time datetime=(rfc3339) title=(rfc3339) { (shown) } }
}

/// `2026-11-22 14:03 UTC`.
pub fn short(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    format!("{} {} UTC", s.get(..10).unwrap_or(&s), s.get(11..16).unwrap_or(""))
}

/// How long until `rfc3339` from `now`: `in 2h 13m`, or `expired`.
pub fn countdown(rfc3339: &str, now: Timestamp) -> Markup {
    let Ok(t) = Timestamp::parse_rfc3339(rfc3339) else { return html! { (rfc3339) } };
    let left = (t.as_micros() - now.as_micros()) / 1_000_000;
    let text = if left <= 0 {
        "expired".to_owned()
    } else {
        let (d, h, m, s) = (left / 86_400, left % 86_400 / 3600, left % 3600 / 60, left % 60);
        if d > 0 {
            format!("in {d}d {h}h")
        } else if h > 0 {
            format!("in {h}h {m}m")
        } else if m > 0 {
            format!("in {m}m {s}s")
        } else {
            format!("in {s}s")
        }
    };
    html! {
        span.countdown.soon[left > 0 && left < 3600] data-until=(rfc3339) title=(short(t)) { (text) }
    }
}

/// The emergency mark: colour, icon and text, so it is not told by colour alone.
pub fn emergency_badge() -> Markup {
    html! { span.badge.emergency { span aria-hidden="true" { "⚠ " } "Emergency" } }
}

/// A status word in a badge.
pub fn badge(value: impl std::fmt::Display) -> Markup {
    let text = value.to_string();
    html! { span class=(format!("badge s-{}", text.replace(' ', "_"))) { (text.replace('_', " ")) } }
}

/// The link to a list's next page, when it has one: `path?param=<cursor>`. Lists are paged, so
/// none stops silently at a cap.
pub fn more(path: &str, param: &str, next_cursor: Option<&str>) -> Markup {
    html! {
        @if let Some(c) = next_cursor {
            @let query = serde_urlencoded::to_string([(param, c)]).unwrap_or_default();
            p.more { a href=(format!("{path}?{query}")) rel="next" { "More →" } }
        }
    }
}

/// A labelled text input that keeps what was typed and shows its error.
#[allow(clippy::too_many_arguments)]
pub fn field(
    failed: &Failed,
    form: &str,
    name: &str,
    label: &str,
    kind: &str,
    default: &str,
    hint: Option<&str>,
    required: bool,
) -> Markup {
    let id = format!("{form}-{name}");
    let value = failed.value(form, name).unwrap_or(default);
    let error = failed.error(form, name);
    let described = match (error.is_some(), hint.is_some()) {
        (true, _) => Some(format!("{id}-error")),
        (false, true) => Some(format!("{id}-hint")),
        _ => None,
    };
    html! {
        div.field.has-error[error.is_some()] {
            label for=(id) { (label) }
            @if kind == "textarea" {
                textarea id=(id) name=(name) required[required] aria-invalid=[error.map(|_| "true")] aria-describedby=[described.clone()] { (value) }
            } @else {
                input id=(id) name=(name) type=(kind) value=[(kind != "password").then_some(value)] required[required]
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[described.clone()];
            }
            @if let Some(e) = error { p.field-error id=(format!("{id}-error")) { (e) } }
            @else if let Some(h) = hint { p.hint id=(format!("{id}-hint")) { (h) } }
        }
    }
}

/// A labelled select that keeps the choice and shows its error; `options` are (value, label).
pub fn select(
    failed: &Failed,
    form: &str,
    name: &str,
    label: &str,
    options: &[(String, String)],
    default: &str,
) -> Markup {
    let id = format!("{form}-{name}");
    let value = failed.value(form, name).unwrap_or(default);
    let error = failed.error(form, name);
    html! {
        div.field.has-error[error.is_some()] {
            label for=(id) { (label) }
            select id=(id) name=(name) aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| format!("{id}-error"))] {
                @for (v, l) in options { option value=(v) selected[v == value] { (l) } }
            }
            @if let Some(e) = error { p.field-error id=(format!("{id}-error")) { (e) } }
        }
    }
}

/// The form-level error of `form`, if its error concerns no single field.
pub fn form_error(failed: &Failed, form: &str) -> Markup {
    html! {
        @if let Some(e) = failed.error(form, "") { p.error role="alert" { (e) } }
    }
}

/// The roles of a workspace or a project, as select options.
pub fn role_options(project: bool) -> Vec<(String, String)> {
    let roles: &[&str] = if project { &["reader", "user", "admin"] } else { &["member", "manager", "owner"] };
    roles.iter().map(|r| ((*r).to_owned(), (*r).to_owned())).collect()
}
