//! The web control plane: server-rendered pages served at `/` by the same binary.
//!
//! Every page reads and every form writes through the API's own handler functions, called
//! in-process with the visitor's [`Caller`]: one authorisation rule, one validation, one audit
//! trail for the API, the CLI and the browser. The browser holds a session cookie
//! (`HttpOnly; SameSite=Lax`, `Secure` behind TLS); every form carries a CSRF token.

mod accesses;
mod admin;
mod dashboard;
mod layout;
mod manage;
mod requests;
mod session;
mod tools;
mod workspace;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;

pub use layout::not_found_page;

/// The cookie holding the session secret.
const SESSION_COOKIE: &str = "bg_session";
/// The cookie naming the owner whose delegate access is in use (absent: one's own rights).
const ACT_AS_COOKIE: &str = "bg_as";
/// The double-submit CSRF cookie of forms shown before signing in.
const CSRF_COOKIE: &str = "bg_csrf";
/// A one-line notice shown once on the next page.
const FLASH_COOKIE: &str = "bg_flash";

/// The web UI's routes.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(dashboard::show))
        .route("/static/app.js", get(script))
        .route(
            "/login",
            get(session::login_page)
                .post(session::login)
                .layer(axum::extract::DefaultBodyLimit::max(crate::routes::PUBLIC_BODY)),
        )
        .route("/logout", post(session::logout))
        .route(
            "/signup",
            get(session::signup_page)
                .post(session::signup)
                .layer(axum::extract::DefaultBodyLimit::max(crate::routes::PUBLIC_BODY)),
        )
        .route("/act-as", post(session::act_as))
        .route("/invitations/{id}/accept", post(dashboard::accept_invitation))
        .route("/invitations/{id}/decline", post(dashboard::decline_invitation))
        .route("/messages/{id}/ack", post(dashboard::ack_message))
        .route("/accesses", get(accesses::show).post(accesses::create))
        .route("/accesses/{id}/revoke", post(accesses::revoke))
        .route("/accesses/{id}/recipients", post(accesses::add_recipient))
        .route("/accesses/{id}/recipients/remove", post(accesses::remove_recipient))
        .route("/tokens", post(accesses::create_token))
        .route("/tokens/{id}/revoke", post(accesses::revoke_token))
        .route("/accesses/{id}/accept", post(accesses::accept))
        .route("/accesses/{id}/decline", post(accesses::decline))
        .route("/request", get(requests::request_page).post(requests::create))
        .route("/requests/{id}", get(requests::show))
        .route("/requests/{id}/approve", post(requests::approve))
        .route("/requests/{id}/deny", post(requests::deny))
        .route("/requests/{id}/cancel", post(requests::cancel))
        .route("/requests/{id}/escalate", post(requests::escalate))
        .route("/reviews/{id}/complete", post(requests::complete_review))
        .route("/w", get(workspace::jump))
        .route("/w/{ws}", get(workspace::show))
        .route("/w/{ws}/members", post(workspace::set_member))
        .route("/w/{ws}/members/remove", post(workspace::remove_member))
        .route("/w/{ws}/invite", post(workspace::invite))
        .route("/w/{ws}/projects", post(workspace::create_project))
        .route("/w/{ws}/history", get(workspace::history))
        .route("/w/{ws}/history/{seq}", get(workspace::event))
        .route("/w/{ws}/grants", post(manage::grant))
        .route("/w/{ws}/grants/{id}/revoke", post(manage::revoke_grant))
        .route("/w/{ws}/invitations/{id}/cancel", post(manage::cancel_invitation))
        .route("/w/{ws}/leave", post(manage::leave))
        .route("/w/{ws}/rename", post(manage::rename))
        .route("/w/{ws}/tags", post(manage::set_tag))
        .route("/w/{ws}/tags/{key}/remove", post(manage::remove_tag))
        .route("/w/{ws}/policies", post(manage::create_policy))
        .route("/w/{ws}/policies/{id}", post(manage::update_policy))
        .route("/w/{ws}/entitlements", post(manage::set_entitlement))
        .route("/w/{ws}/p/{p}", get(workspace::project))
        .route("/w/{ws}/p/{p}/tags", post(manage::set_project_tag))
        .route("/w/{ws}/p/{p}/tags/{key}/remove", post(manage::remove_project_tag))
        .route("/w/{ws}/p/{p}/tenants", post(manage::create_tenant))
        .route("/w/{ws}/p/{p}/tenants/{platform}/service-users", post(manage::create_service_user))
        .route("/w/{ws}/p/{p}/tenants/{platform}/credentials", post(manage::issue_credential))
        .route("/w/{ws}/p/{p}/tenants/{platform}/ssh-certificates", post(manage::sign_ssh_key))
        .route(
            "/w/{ws}/p/{p}/tenants/{platform}/service-users/{id}/delete",
            post(manage::delete_service_user),
        )
        .route("/w/{ws}/p/{p}/members", post(workspace::set_project_member))
        .route("/w/{ws}/p/{p}/members/remove", post(workspace::remove_project_member))
        .route("/admin", get(admin::show))
        .route("/admin/workspaces", post(admin::create_workspace))
        .route("/admin/workspaces/{ws}/{action}", post(admin::workspace_action))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/policies", post(admin::create_policy))
        .route("/admin/policies/{id}", post(admin::update_policy))
        .route("/admin/platforms", post(admin::register_platform))
        .route("/admin/platforms/{id}", get(admin::platform_page).post(admin::configure_platform))
        .route("/admin/platforms/{id}/sync", post(admin::sync_platform))
        .route("/admin/audit", get(admin::audit_log))
        .route("/check", get(tools::check_page).post(tools::check))
        .route("/workspaces/new", get(tools::register_page).post(tools::register))
        .route("/admin/tags", post(admin::define_tag))
        .route("/admin/tags/{key}/remove", post(admin::remove_tag))
        .route("/admin/settings", post(admin::settings))
        .route("/admin/verify", post(admin::verify))
}

/// Whether a request wants HTML (a browser navigating), for answers outside the web routes.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The value of cookie `name`, if the request sent it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so), so that
/// cookies get `Secure`.
fn behind_tls(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    header("x-forwarded-proto").eq_ignore_ascii_case("https")
        || header("forwarded").to_ascii_lowercase().contains("proto=https")
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool, same_site: &str) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CSRF token of a signed-in session: derived from the session secret, which only the
/// browser holding the `HttpOnly` cookie knows, so another site cannot forge it.
fn session_csrf(secret: &str) -> String {
    let digest = Sha256::digest(format!("breakglass-web-csrf:{secret}").as_bytes());
    hex::encode(&digest[..16])
}

/// A page answer that must never be cached (pages show access and secrets).
fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert("x-frame-options", HeaderValue::from_static("DENY"));
    r.headers_mut().insert("referrer-policy", HeaderValue::from_static("same-origin"));
    r.headers_mut().insert("content-security-policy", CSP.clone());
    r
}

/// The pages' Content-Security-Policy: no inline script at all (the one script is
/// [`SCRIPT_PATH`]), and the inlined stylesheet allowed by its digest alone.
static CSP: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    use base64::Engine as _;
    let style = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(layout::CSS.as_bytes()));
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'sha256-{style}'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

/// The web UI's script.
const SCRIPT: &str = include_str!("app.js");

/// Where pages load [`SCRIPT`] from: versioned by its digest, so a browser may keep it for good.
static SCRIPT_PATH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("/static/app.js?v={}", hex::encode(&Sha256::digest(SCRIPT.as_bytes())[..6]))
});

/// `GET /static/app.js`.
async fn script() -> Response {
    let mut r = SCRIPT.into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    r
}

/// A 303 redirect (the answer to a successful form: the browser then GETs the page).
fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut()
        .insert(LOCATION, HeaderValue::from_str(to).unwrap_or_else(|_| HeaderValue::from_static("/")));
    r
}

/// A redirect that also shows `notice` once on the next page.
fn redirect_with(to: &str, notice: &str, secure: bool) -> Response {
    let notice = match notice.char_indices().nth(MAX_NOTICE) {
        Some((cut, _)) => format!("{}…", &notice[..cut]),
        None => notice.to_owned(),
    };
    let mut r = redirect(to);
    r.headers_mut().append(SET_COOKIE, set_cookie(FLASH_COOKIE, &hex::encode(notice), 60, secure, "Lax"));
    r
}

/// A redirect that shows a refusal once, in the error style, on the next page (for buttons
/// without fields; forms with fields re-render with the error next to the field instead).
fn redirect_refused(to: &str, refusal: &ApiError, secure: bool) -> Response {
    redirect_with(to, &format!("!{}", refusal.detail), secure)
}

/// The longest notice carried in the flash cookie (hex doubles it; browsers drop cookies over
/// about 4 KiB, which would lose the notice silently).
const MAX_NOTICE: usize = 600;

/// Ends a button's action: back to `to` with `notice`, or with the refusal.
fn finish(result: Result<(), ApiError>, web: &Web, to: &str, notice: &str) -> Response {
    match result {
        Ok(()) => redirect_with(to, notice, web.secure),
        Err(e) => redirect_refused(to, &e, web.secure),
    }
}

/// Keeps `next` to paths of this site, so a link cannot send a signed-in user elsewhere.
fn local_path(next: Option<&str>) -> String {
    match next {
        // Browsers drop tabs and newlines inside URLs, so "/\t/evil" would become "//evil".
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Reads an expiry field: a span (`8h`, `7d`), a date (`2026-12-01`, the start of that day in
/// UTC) or an RFC 3339 instant, into the API's `expires_in` / `expires_at`.
/// The expiry typed into `field`: a duration from `now`, a date or an RFC 3339 time, or none.
fn expiry_of(
    form: &Form,
    field: &str,
    now: breakglass_core::time::Timestamp,
) -> Result<Option<breakglass_core::time::Timestamp>, ApiError> {
    let (at, within) = expiry_fields(form.get(field));
    Ok(crate::ops::expiry(at.as_deref(), within.as_deref(), now)?)
}

fn expiry_fields(v: Option<String>) -> (Option<String>, Option<String>) {
    match v {
        None => (None, None),
        Some(v) if breakglass_core::time::Span::parse(&v).is_ok() => (None, Some(v)),
        Some(v)
            if v.len() == 10
                && breakglass_core::time::Timestamp::parse_rfc3339(&format!("{v}T00:00:00Z")).is_ok() =>
        {
            (Some(format!("{v}T00:00:00Z")), None)
        }
        Some(v) => (Some(v), None),
    }
}

/// A signed-in visitor: their caller (whose rights, with which limits), the CSRF token their
/// forms carry, and the notice left by the previous form, if any.
pub struct Web {
    /// The caller, exactly as the API would see them.
    pub caller: Caller,
    /// The token every form of theirs carries.
    pub csrf: String,
    /// A notice to show once.
    pub flash: Option<String>,
    /// Whether cookies must be `Secure`.
    pub secure: bool,
    /// The e-mail being acted as, when a delegate access is in use.
    pub act_as: Option<String>,
}

impl FromRequestParts<Arc<App>> for Web {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let secure = behind_tls(&parts.headers);
        let here = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let to_login = |clear: bool| {
            let next = if parts.method == Method::GET { here.clone() } else { "/".to_owned() };
            let mut r = redirect(&format!("/login?next={}", pct(&next)));
            if clear {
                r.headers_mut().append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, secure, "Lax"));
            }
            r
        };
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(to_login(false));
        };
        let act_as = cookie(&parts.headers, ACT_AS_COOKIE)
            .map(|v| String::from_utf8(hex_decode(v)).unwrap_or_default());
        let caller = match auth::authenticate(app, &secret, act_as.as_deref()).await {
            Ok(c) => c,
            Err(e) if e.code == "auth.invalid_token" => return Err(to_login(true)),
            Err(e) => {
                // The delegation in use ended (revoked, expired, out of scope): back to one's own
                // rights, saying why, rather than failing every page.
                let notice = format!(
                    "You no longer act as {}: {}. You are using your own rights again.",
                    act_as.as_deref().unwrap_or("someone"),
                    e.detail
                );
                let mut r = redirect_with("/", &notice, secure);
                r.headers_mut().append(SET_COOKIE, set_cookie(ACT_AS_COOKIE, "", 0, secure, "Lax"));
                return Err(r);
            }
        };
        if caller.kind != breakglass_core::model::TokenKind::Session {
            return Err(to_login(true));
        }
        let flash = cookie(&parts.headers, FLASH_COOKIE).and_then(|v| String::from_utf8(hex_decode(v)).ok());
        Ok(Self { csrf: session_csrf(&secret), caller, flash, secure, act_as })
    }
}

fn hex_decode(v: &str) -> Vec<u8> {
    hex::decode(v).unwrap_or_default()
}

/// Percent-encodes a query parameter value.
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where the errors of a new workspace's, project's or platform's identifier and name belong.
const IDENT_FIELDS: &[(&str, &str)] =
    &[("identifier", "identifier"), ("slug", "identifier"), ("duplicate", "identifier"), ("name", "name")];

/// A submitted form: its fields, after its CSRF token was checked against the session (or,
/// before signing in, against the double-submit cookie).
pub struct Form(pub HashMap<String, String>);

impl Form {
    /// A field, trimmed; empty counts as absent.
    pub fn get(&self, k: &str) -> Option<String> {
        self.0.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// A field, or the empty string.
    pub fn text(&self, k: &str) -> String {
        self.get(k).unwrap_or_default()
    }

    /// A checkbox: present and not "false".
    pub fn checked(&self, k: &str) -> bool {
        self.0.get(k).is_some_and(|v| v != "false" && v != "0")
    }
}

impl FromRequest<Arc<App>> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Response> {
        let expected = match cookie(req.headers(), SESSION_COOKIE) {
            Some(secret) => Some(session_csrf(secret)),
            None => cookie(req.headers(), CSRF_COOKIE).map(str::to_owned),
        };
        let axum::Form(fields) = axum::Form::<HashMap<String, String>>::from_request(req, app)
            .await
            .map_err(|_| layout::error_page(StatusCode::BAD_REQUEST, "The form could not be read."))?;
        let given = fields.get("csrf").map(String::as_str).unwrap_or("");
        let ok =
            expected.is_some_and(|e| !given.is_empty() && bool::from(e.as_bytes().ct_eq(given.as_bytes())));
        if !ok {
            return Err(layout::error_page(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ));
        }
        Ok(Self(fields))
    }
}

/// What a failed form submission shows: which form, the values typed, and the error placed next
/// to the field it concerns (or above the form).
#[derive(Default)]
pub struct Failed {
    /// The form's name on the page.
    pub form: String,
    /// What was typed (never passwords).
    pub values: HashMap<String, String>,
    /// The field the error concerns, or "" for the form as a whole.
    pub field: &'static str,
    /// The error.
    pub message: String,
}

impl Failed {
    /// A failure of `form`, the error placed by `fields` (error-code fragment → field name).
    pub fn new(
        form: impl Into<String>,
        submitted: &Form,
        error: &ApiError,
        fields: &[(&str, &'static str)],
    ) -> Self {
        let field = fields.iter().find(|(frag, _)| error.code.contains(frag)).map_or("", |(_, f)| *f);
        let mut values = submitted.0.clone();
        values.remove("password");
        values.remove("csrf");
        Self { form: form.into(), values, field, message: error.detail.clone() }
    }

    /// The value typed into `field` of `form`, if that form failed.
    pub fn value(&self, form: &str, field: &str) -> Option<&str> {
        (self.form == form).then(|| self.values.get(field).map(String::as_str)).flatten()
    }

    /// The error of `field` in `form`.
    pub fn error(&self, form: &str, field: &str) -> Option<&str> {
        (self.form == form && self.field == field && !self.message.is_empty())
            .then_some(self.message.as_str())
    }
}
