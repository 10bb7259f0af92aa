//! Health, sign-in and sign-out, and the caller's own view.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;
use breakglass_core::cmd::tokens;
use breakglass_core::delegation::RecipientStatus;
use breakglass_core::ident::Email;
use breakglass_core::model::{TokenKind, UserStatus};

use breakglass_core::time::Span;
use breakglass_core::Actor;

use super::{written, written_empty, ApiJson, ApiResult};
use crate::app::App;
use crate::auth::{self, Caller, ClientAddr};
use crate::error::ApiError;
use crate::throttle;
use crate::views;

/// How long a session lasts.
pub(crate) const SESSION_TTL: Span = Span::hours(12);

/// Liveness, and the audit sequence this server's index reflects.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses((status = 200, description = "The server answers", body = api::Health)))]
pub async fn healthz(State(app): State<Arc<App>>) -> Json<api::Health> {
    let integrity = app.integrity();
    Json(api::Health {
        status: if integrity.is_some() { api::HealthStatus::Degraded } else { api::HealthStatus::Ok },
        seq: app.head().seq,
        stale: app.is_stale(),
        integrity,
    })
}

/// Signs in with e-mail and password and opens a session.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()),
    request_body = api::Login,
    responses(
        (status = 201, description = "Signed in; the token is shown only here", body = api::Session),
        (status = 401, description = "Wrong e-mail or password", body = api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins for this account or from this address (`auth.throttled`); `Retry-After` says when to try again", body = api::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until sign-ins are accepted again"))),
        (status = 503, description = "Too many sign-ins being checked at once (`auth.busy`); `Retry-After` says when to try again", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(app): State<Arc<App>>,
    client: ClientAddr,
    ApiJson(body): ApiJson<api::Login>,
) -> ApiResult {
    let address = client.0.map(throttle::address_key);
    let email = Email::parse(&body.email).ok();
    // A locked-out account or address is refused before any hashing: guessing costs nothing.
    // The check runs in a task of its own holding its place among the sign-ins in flight, so
    // that its verdict is counted even when the client hangs up.
    let app_ = app.clone();
    let checked = tokio::spawn(async move {
        let _attempt = app_.throttle.admit(address.as_deref(), email.as_ref()).map_err(throttled)?;
        check_password(&app_, address.as_deref(), email, body.password).await
    });
    let user = checked.await.map_err(|e| {
        tracing::error!(error = %e, "a sign-in check failed");
        ApiError::internal()
    })??;
    let secret = auth::new_secret(auth::SESSION_PREFIX);
    let digest = auth::secret_hash(&secret);
    let done = app
        .execute(Actor::User(user.id), |state, ctx| {
            tokens::sign_in(state, ctx, digest, ctx.now.plus(SESSION_TTL))
        })
        .await?;
    let session = api::Session {
        token: secret,
        expires_at: done.value.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        user: views::user(&user),
    };
    Ok(written(StatusCode::CREATED, done.seq, &session))
}

/// Checks a password for `email` and counts the verdict: the user when it is right.
async fn check_password(
    app: &App,
    address: Option<&str>,
    email: Option<Email>,
    password: String,
) -> Result<breakglass_core::model::User, ApiError> {
    let wrong = || ApiError::unauthenticated("auth.invalid_credentials", "wrong e-mail or password");
    let user = email
        .as_ref()
        .and_then(|e| app.state().user_by_email(e).filter(|u| u.status == UserStatus::Active).cloned());
    // The same database read whether or not the account exists, so that timing says nothing.
    let id = user.as_ref().map_or(breakglass_core::ident::UserId(uuid::Uuid::nil()), |u| u.id);
    let hash = app.store.password_hash(id).await?;
    let hash = if user.is_some() { hash } else { None };
    let right = email.is_some() && auth::verify_password(password, hash).await?;
    match (user, right) {
        (Some(user), true) => {
            app.throttle.succeeded(address, &user.email);
            Ok(user)
        }
        _ => {
            if let Some(e) = &email {
                tracing::info!(email = %e, "failed sign-in");
            }
            let began = app.throttle.failed(address, email.as_ref());
            let locked = began.iter().find_map(|l| match l {
                throttle::Lockout::Began { key, for_, .. } => {
                    Some(throttled(throttle::Throttled { kind: key.kind(), retry_after: *for_, busy: false }))
                }
                throttle::Lockout::Ended(_) => None,
            });
            app.record_lockouts(began).await;
            Err(locked.unwrap_or_else(wrong))
        }
    }
}

/// The answer to a sign-in the throttle refuses.
fn throttled(t: throttle::Throttled) -> ApiError {
    let seconds = t.retry_after.as_secs() + u64::from(t.retry_after.subsec_nanos() > 0);
    let whose = if t.kind == "account" { "this account" } else { "your address" };
    let detail = if t.busy {
        format!("a sign-in for {whose} is being checked already; try again in {seconds} s")
    } else {
        format!("too many failed sign-ins for {whose}; try again in {seconds} s")
    };
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "auth.throttled", detail).with_retry_after(seconds)
}

/// Ends the calling session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Session ended"),
        (status = 422, description = "The credential is an API token; revoke it instead", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(State(app): State<Arc<App>>, caller: Caller) -> ApiResult {
    if caller.kind != TokenKind::Session {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "auth.not_a_session",
            "this is an API token; revoke it with DELETE /api/v1/tokens/{id}",
        ));
    }
    let done = app
        .execute(caller.holder(), |state, ctx| Ok((tokens::revoke_token(state, ctx, caller.token)?, ())))
        .await?;
    Ok(written_empty(done.seq))
}

/// The caller and the workspaces they hold roles in.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, description = "The caller", body = api::Me)))]
pub async fn me(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Json<api::Me>> {
    let now = app.now();
    let state = app.state();
    let user = state.user(caller.user).ok_or_else(ApiError::internal)?;
    let workspaces = caller.workspaces(&state, now);
    let holder = state.user(caller.holder).ok_or_else(ApiError::internal)?;
    let pending_accesses = state
        .accesses_shared_with(&holder.email)
        .iter()
        .filter(|a| {
            a.is_live(now) && a.recipient(&holder.email).is_some_and(|r| r.status == RecipientStatus::Pending)
        })
        .count();
    Ok(Json(api::Me {
        user: views::user(user),
        delegate: caller.bounds.delegate.map(|_| holder.email.to_string()),
        scope: caller.bounds.scope.as_ref().map(|s| s.iter().map(ToString::to_string).collect()),
        read_only: caller.bounds.read_only,
        pending_accesses: u32::try_from(pending_accesses).unwrap_or(u32::MAX),
        workspaces: workspaces
            .into_iter()
            .map(|ws| api::MyWorkspace {
                workspace: ws.to_string(),
                role: state.workspace_role(caller.user, ws, now).map(crate::views::workspace_role),
            })
            .collect(),
    }))
}
