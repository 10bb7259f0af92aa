//! Health, signing in and up, signing out, and the caller's own view.

use breakglass_api as api;
use breakglass_core::cmd::{invitations, tokens};
use breakglass_core::ident::{Email, Name};
use breakglass_core::model::{TokenKind, UserStatus};
use breakglass_core::time::Span;
use breakglass_core::{Actor, Ctx};
use uuid::Uuid;

use super::{OpResult, Written};
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::throttle;
use crate::views;

/// How long a session lasts.
pub const SESSION_TTL: Span = Span::hours(12);

/// Liveness, and the audit sequence this server's index reflects.
pub fn health(app: &App) -> api::Health {
    let integrity = app.integrity();
    api::Health {
        status: if integrity.is_some() { api::HealthStatus::Degraded } else { api::HealthStatus::Ok },
        seq: app.head().seq,
        stale: app.is_stale(),
        integrity,
        unhealthy_platforms: app
            .provisioning
            .unhealthy()
            .into_iter()
            .map(|(platform, error)| api::UnhealthyPlatform { platform: platform.to_string(), error })
            .collect(),
    }
}

/// Signs in with e-mail and password from `client` (the address the throttle counts) and opens
/// a session. A locked-out account or address is refused before any hashing.
pub async fn login(
    app: &std::sync::Arc<App>,
    client: Option<std::net::IpAddr>,
    email: &str,
    password: String,
) -> OpResult<Written<api::Session>> {
    let address = client.map(throttle::address_key);
    let email = Email::parse(email).ok();
    // The check runs in a task of its own holding its place among the sign-ins in flight, so
    // that its verdict is counted even when the client hangs up.
    let app_ = app.clone();
    let checked = tokio::spawn(async move {
        let _attempt = app_.throttle.admit(address.as_deref(), email.as_ref()).map_err(throttled)?;
        check_password(&app_, address.as_deref(), email, password).await
    });
    let user = checked.await.map_err(|e| {
        tracing::error!(error = %e, "a sign-in check failed");
        ApiError::internal()
    })??;
    open_session(app, &user).await
}

/// Opens a session for `user`: its secret is in the answer and nowhere else.
async fn open_session(app: &App, user: &breakglass_core::model::User) -> OpResult<Written<api::Session>> {
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
        user: views::user(user),
    };
    Ok(Written { seq: done.seq, value: session })
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
    ApiError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, "auth.throttled", detail)
        .with_retry_after(seconds)
}

/// Signs up with e-mail and password (as the setting `signup` allows) and opens a session.
pub async fn signup(app: &App, body: api::Signup) -> OpResult<Written<api::Session>> {
    let email = Email::parse(&body.email)?;
    let name = Name::parse(&body.name)?;
    auth::validate_password(&body.password)?;
    let invitation = body.invitation_token.as_deref().map(|t| auth::secret_hash(t.trim()));
    {
        // Refuse before the slow hash.
        let state = app.state();
        let ctx = Ctx::new(app.now(), Actor::System, Uuid::nil());
        let probe = breakglass_core::model::PasswordHash(String::new());
        invitations::sign_up(&state, &ctx, email.clone(), name.clone(), probe, invitation)?;
    }
    let hash = auth::hash_password(body.password).await?;
    let done = app
        .execute(Actor::System, |s, c| {
            invitations::sign_up(s, c, email.clone(), name.clone(), hash.clone(), invitation)
        })
        .await?;
    let user = app.state().user(done.value).cloned().ok_or_else(ApiError::internal)?;
    open_session(app, &user).await
}

/// Ends the calling session.
pub async fn logout(app: &App, caller: &Caller) -> OpResult<Written<()>> {
    if caller.kind != TokenKind::Session {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "auth.not_a_session",
            "this is an API token; revoke it with DELETE /api/v1/tokens/{id}",
        ));
    }
    let done = app
        .execute(caller.holder(), |state, ctx| Ok((tokens::revoke_token(state, ctx, caller.token)?, ())))
        .await?;
    Ok(Written { seq: done.seq, value: () })
}

/// The caller and the workspaces they hold roles in.
pub fn me(app: &App, caller: &Caller) -> OpResult<api::Me> {
    let now = app.now();
    let state = app.state();
    let user = state.user(caller.user).ok_or_else(ApiError::internal)?;
    let workspaces = caller.workspaces(&state, now);
    let holder = state.user(caller.holder).ok_or_else(ApiError::internal)?;
    let pending_accesses = breakglass_core::cmd::accesses::awaiting_answer(&state, &holder.email, now).len();
    Ok(api::Me {
        user: views::user(user),
        delegate: caller.bounds.delegate.map(|_| holder.email.to_string()),
        scope: caller.bounds.scope.as_ref().map(|s| s.iter().map(ToString::to_string).collect()),
        read_only: caller.bounds.read_only,
        pending_accesses: u32::try_from(pending_accesses).unwrap_or(u32::MAX),
        workspaces: workspaces
            .into_iter()
            .map(|ws| api::MyWorkspace {
                workspace: ws.to_string(),
                role: state.workspace_role(caller.user, ws, now).map(views::workspace_role),
            })
            .collect(),
    })
}
