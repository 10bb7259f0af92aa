//! Health, sign-in and sign-out, and the caller's own view.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use breakglass_api as api;

use super::{written, written_empty, ApiJson, ApiResult};
use crate::app::App;
use crate::auth::{Caller, ClientAddr};
use crate::ops::session as ops;

/// Liveness, and the audit sequence this server's index reflects.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses((status = 200, description = "The server answers", body = api::Health)))]
pub async fn healthz(State(app): State<Arc<App>>) -> Json<api::Health> {
    Json(ops::health(&app))
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
    let done = ops::login(&app, client.0, &body.email, body.password).await?;
    Ok(written(StatusCode::CREATED, done.seq, &done.value))
}

/// Ends the calling session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Session ended"),
        (status = 422, description = "The credential is an API token; revoke it instead", body = api::Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(State(app): State<Arc<App>>, caller: Caller) -> ApiResult {
    Ok(written_empty(ops::logout(&app, &caller).await?.seq))
}

/// The caller and the workspaces they hold roles in.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, description = "The caller", body = api::Me)))]
pub async fn me(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Json<api::Me>> {
    Ok(Json(ops::me(&app, &caller)?))
}
