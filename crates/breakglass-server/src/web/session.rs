//! Signing in and out, signing up (by invitation when the installation says so), and switching
//! the account in use through a delegate access.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use breakglass_api as api;
use breakglass_core::org::Signup as SignupMode;
use maud::html;

use super::layout::{field, form_error, public_page};
use super::{
    behind_tls, cookie, local_path, redirect, redirect_with, session_csrf, set_cookie, Failed, Form, Web,
    ACT_AS_COOKIE, CSRF_COOKIE, SESSION_COOKIE,
};
use crate::app::App;
use crate::ops::session as ops;

/// The CSRF token for a form shown before signing in, and the cookie to set if it is new.
fn anonymous_csrf(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(secret) = cookie(headers, SESSION_COOKIE) {
        return (session_csrf(secret), None);
    }
    if let Some(t) = cookie(headers, CSRF_COOKIE) {
        return (t.to_owned(), None);
    }
    let t = crate::auth::new_secret("");
    let c = set_cookie(CSRF_COOKIE, &t, 3600, behind_tls(headers), "Strict");
    (t, Some(c))
}

fn with_cookie(mut r: Response, c: Option<HeaderValue>) -> Response {
    if let Some(c) = c {
        r.headers_mut().append(SET_COOKIE, c);
    }
    r
}

fn session_cookie(headers: &HeaderMap, token: &str) -> HeaderValue {
    let max_age = ops::SESSION_TTL.as_micros() / 1_000_000;
    set_cookie(SESSION_COOKIE, token, max_age, behind_tls(headers), "Lax")
}

fn login_form(csrf: &str, next: &str, failed: &Failed, signup_open: bool) -> Response {
    public_page(
        "Sign in",
        html! {
            h1 { "Sign in" }
            form.card method="post" action="/login" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                (form_error(failed, "login"))
                (field(failed, "login", "email", "E-mail", "email", "", None, true))
                (field(failed, "login", "password", "Password", "password", "", None, true))
                button type="submit" { "Sign in" }
            }
            @if signup_open {
                p { "No account yet? " a href="/signup" { "Sign up" } }
            }
        },
    )
}

/// `GET /login`.
pub async fn login_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (csrf, c) = anonymous_csrf(&headers);
    let next = local_path(q.get("next").map(String::as_str));
    let open = app.state().settings().signup != SignupMode::Closed;
    with_cookie(login_form(&csrf, &next, &Failed::default(), open), c)
}

/// `POST /login`: opens a session exactly as `POST /api/v1/auth/login` does.
pub async fn login(
    State(app): State<Arc<App>>,
    client: crate::auth::ClientAddr,
    headers: HeaderMap,
    form: Form,
) -> Response {
    let next = local_path(form.get("next").as_deref());
    let body = api::Login {
        email: form.text("email"),
        password: form.0.get("password").cloned().unwrap_or_default(),
    };
    match ops::login(&app, client.0, &body.email, body.password.clone()).await.map(|w| w.value) {
        Ok(s) => {
            // A new sign-in replaces the browser's session: the previous one ends now, not
            // when it expires.
            if let Some(previous) = cookie(&headers, SESSION_COOKIE) {
                if let Ok(caller) = crate::auth::authenticate(&app, previous, None).await {
                    if caller.kind == breakglass_core::model::TokenKind::Session {
                        let _ = ops::logout(&app, &caller).await;
                    }
                }
            }
            let mut r = redirect(&next);
            r.headers_mut().append(SET_COOKIE, session_cookie(&headers, &s.token));
            r.headers_mut().append(SET_COOKIE, set_cookie(ACT_AS_COOKIE, "", 0, behind_tls(&headers), "Lax"));
            r
        }
        Err(e) => {
            let (csrf, c) = anonymous_csrf(&headers);
            let failed = Failed::new("login", &form, &e, &[]);
            let open = app.state().settings().signup != SignupMode::Closed;
            let mut r = with_cookie(login_form(&csrf, &next, &failed, open), c);
            *r.status_mut() = e.status;
            if let Some(s) = e.retry_after {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, s.into());
            }
            r
        }
    }
}

/// `POST /logout`: ends the session (recorded like the API's sign-out) and forgets the cookies.
pub async fn logout(State(app): State<Arc<App>>, web: Web, _form: Form) -> Response {
    if let Err(e) = ops::logout(&app, &web.caller).await {
        tracing::warn!(code = e.code, "sign-out failed");
    }
    let mut r = redirect("/login");
    r.headers_mut().append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, web.secure, "Lax"));
    r.headers_mut().append(SET_COOKIE, set_cookie(ACT_AS_COOKIE, "", 0, web.secure, "Lax"));
    r
}

fn signup_form(
    csrf: &str,
    failed: &Failed,
    mode: SignupMode,
    code: &str,
    email: &str,
    next: &str,
) -> Response {
    public_page(
        "Sign up",
        html! {
            h1 { "Create your account" }
            @if mode == SignupMode::Closed {
                p.error { "Sign-up is closed on this installation. Ask an administrator for an account." }
            } @else {
                form.card method="post" action="/signup" novalidate {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    (form_error(failed, "signup"))
                    (field(failed, "signup", "email", "E-mail", "email", email, None, true))
                    (field(failed, "signup", "name", "Your name", "text", "", None, true))
                    (field(failed, "signup", "password", "Password", "password", "", Some("At least 12 characters."), true))
                    @let hint = if mode == SignupMode::InvitedOnly {
                        "Required: the code from the invitation you received (bgi_…)."
                    } else {
                        "Only if you were invited: the code from your invitation (bgi_…)."
                    };
                    (field(failed, "signup", "invitation_token", "Invitation code", "text", code, Some(hint), mode == SignupMode::InvitedOnly))
                    button type="submit" { "Create account" }
                }
            }
            p { "Already have an account? " a href=(format!("/login?next={}", super::pct(next))) { "Sign in" } }
        },
    )
}

/// `GET /signup`, optionally with `code` and `email` from an invitation link.
pub async fn signup_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (csrf, c) = anonymous_csrf(&headers);
    let mode = app.state().settings().signup;
    let code = q.get("code").map_or("", String::as_str);
    let email = q.get("email").map_or("", String::as_str);
    let next = if code.is_empty() { "/".to_owned() } else { format!("/?code={}", super::pct(code)) };
    with_cookie(signup_form(&csrf, &Failed::default(), mode, code, email, &next), c)
}

/// `POST /signup`: creates the account through the API's sign-up and signs the new user in.
pub async fn signup(State(app): State<Arc<App>>, headers: HeaderMap, form: Form) -> Response {
    let next = local_path(form.get("next").as_deref());
    let body = api::Signup {
        email: form.text("email"),
        name: form.text("name"),
        password: form.0.get("password").cloned().unwrap_or_default(),
        invitation_token: form.get("invitation_token"),
    };
    match ops::signup(&app, body).await.map(|w| w.value) {
        Ok(s) => {
            let mut r = redirect_with(&next, "Welcome! Your account is ready.", behind_tls(&headers));
            r.headers_mut().append(SET_COOKIE, session_cookie(&headers, &s.token));
            r
        }
        Err(e) => {
            let (csrf, c) = anonymous_csrf(&headers);
            let failed = Failed::new(
                "signup",
                &form,
                &e,
                &[
                    ("password", "password"),
                    ("email", "email"),
                    ("name", "name"),
                    ("invitation", "invitation_token"),
                    ("signup", "invitation_token"),
                ],
            );
            let mode = app.state().settings().signup;
            let code = form.text("invitation_token");
            let mut r = with_cookie(signup_form(&csrf, &failed, mode, &code, &form.text("email"), &next), c);
            *r.status_mut() = e.status;
            r
        }
    }
}

/// `POST /act-as`: switches to acting as the owner of an accepted delegate access (checked like
/// the API's `X-Breakglass-Act-As` before it takes effect), or back to oneself.
pub async fn act_as(State(app): State<Arc<App>>, headers: HeaderMap, web: Web, form: Form) -> Response {
    let secure = web.secure;
    match form.get("as") {
        None => {
            let mut r = redirect_with("/", "You are using your own rights again.", secure);
            r.headers_mut().append(SET_COOKIE, set_cookie(ACT_AS_COOKIE, "", 0, secure, "Lax"));
            r
        }
        Some(email) => {
            let Some(secret) = cookie(&headers, SESSION_COOKIE) else { return redirect("/login") };
            match crate::auth::authenticate(&app, secret, Some(&email)).await {
                Ok(_) => {
                    let mut r = redirect_with("/", &format!("You are now acting as {email}."), secure);
                    r.headers_mut().append(
                        SET_COOKIE,
                        set_cookie(ACT_AS_COOKIE, &hex::encode(&email), 43_200, secure, "Lax"),
                    );
                    r
                }
                Err(e) => redirect_with("/", &format!("You cannot act as {email}: {}", e.detail), secure),
            }
        }
    }
}
