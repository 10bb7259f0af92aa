//! The HTTP API: routes, extractors that turn bad input into problem+json, and the OpenAPI
//! document generated from the handlers' annotations.

pub(crate) mod accesses;
pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod check;
pub mod openapi;
pub(crate) mod platforms;
pub(crate) mod requests;
pub(crate) mod session;
pub(crate) mod users;
pub(crate) mod workspaces;

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::error::ApiError;

pub use breakglass_api::SEQ_HEADER;

pub(crate) use crate::ops::expiry;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Breakglass API",
        version = "1",
        description = "Access governance: who may do what, where, until when, and why.\n\nA recipient of an accepted delegate access acts as its owner by sending `X-Breakglass-Act-As: <owner e-mail>` with their own credential: the owner's current rights, cut down to the access's scope. Tokens and accesses are never managed through a delegation."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "system", description = "Health and the API document"),
        (name = "auth", description = "Sign-in, sessions and the caller"),
        (name = "users", description = "User accounts and API tokens"),
        (name = "accesses", description = "API tokens and delegate accesses shared by their owner"),
        (name = "workspaces", description = "Workspaces, projects and who holds which role"),
        (name = "check", description = "Authorization checks"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "requests", description = "Access requests, approval policies, entitlements and emergency reviews"),
        (name = "platforms", description = "Platforms, the tenants projects have on them, and service users")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn api_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(session::healthz))
        .merge(
            // Bodies anyone may send, before any credential: small ones only.
            OpenApiRouter::new()
                .routes(routes!(session::login))
                .routes(routes!(admin::signup))
                .layer(axum::extract::DefaultBodyLimit::max(crate::routes::PUBLIC_BODY)),
        )
        .routes(routes!(session::logout))
        .routes(routes!(session::me))
        .routes(routes!(users::create_user, users::list_users))
        .routes(routes!(users::create_token, users::list_tokens))
        .routes(routes!(users::revoke_token))
        .routes(routes!(accesses::create_access, accesses::list_accesses))
        .routes(routes!(accesses::received_accesses))
        .routes(routes!(accesses::get_access, accesses::revoke_access))
        .routes(routes!(accesses::add_recipient))
        .routes(routes!(accesses::remove_recipient))
        .routes(routes!(accesses::accept_access))
        .routes(routes!(accesses::decline_access))
        .routes(routes!(workspaces::create_workspace, workspaces::list_workspaces))
        .routes(routes!(workspaces::get_workspace))
        .routes(routes!(workspaces::list_workspace_members))
        .routes(routes!(workspaces::set_workspace_member, workspaces::remove_workspace_member))
        .routes(routes!(workspaces::create_project, workspaces::list_projects))
        .routes(routes!(workspaces::get_project))
        .routes(routes!(workspaces::list_project_members))
        .routes(routes!(workspaces::set_project_member, workspaces::remove_project_member))
        .routes(routes!(workspaces::create_grant))
        .routes(routes!(workspaces::revoke_grant))
        .routes(routes!(check::check))
        .routes(routes!(check::check_batch))
        .routes(routes!(audit::list_audit))
        .routes(routes!(audit::workspace_history))
        .routes(routes!(audit::project_history))
        .routes(routes!(audit::verify))
        .routes(routes!(requests::create_policy, requests::list_policies))
        .routes(routes!(requests::get_policy, requests::update_policy))
        .routes(routes!(requests::list_entitlements))
        .routes(routes!(requests::set_workspace_entitlement))
        .routes(routes!(requests::set_project_entitlement))
        .routes(routes!(requests::create_request, requests::list_requests))
        .routes(routes!(requests::get_request))
        .routes(routes!(requests::approve_request))
        .routes(routes!(requests::deny_request))
        .routes(routes!(requests::cancel_request))
        .routes(routes!(requests::escalate_request))
        .routes(routes!(requests::list_tasks))
        .routes(routes!(requests::list_reviews))
        .routes(routes!(requests::complete_review))
        .routes(routes!(admin::register_workspace))
        .routes(routes!(admin::update_workspace))
        .routes(routes!(admin::approve_workspace))
        .routes(routes!(admin::reject_workspace))
        .routes(routes!(admin::disable_workspace))
        .routes(routes!(admin::enable_workspace))
        .routes(routes!(admin::set_quota))
        .routes(routes!(admin::add_myself, admin::leave_workspace))
        .routes(routes!(admin::invite, admin::workspace_invitations))
        .routes(routes!(admin::cancel_invitation))
        .routes(routes!(admin::accept_invitation))
        .routes(routes!(admin::decline_invitation))
        .routes(routes!(admin::my_invitations))
        .routes(routes!(admin::list_tags, admin::define_tag))
        .routes(routes!(admin::remove_tag_definition))
        .routes(routes!(admin::set_workspace_tag, admin::remove_workspace_tag))
        .routes(routes!(admin::set_project_tag, admin::remove_project_tag))
        .routes(routes!(admin::send_message, admin::workspace_messages))
        .routes(routes!(admin::my_messages))
        .routes(routes!(admin::ack_message))
        .routes(routes!(admin::get_settings, admin::update_settings))
        .routes(routes!(platforms::register_platform, platforms::list_platforms))
        .routes(routes!(platforms::show_platform, platforms::update_platform))
        .routes(routes!(platforms::platform_drift))
        .routes(routes!(platforms::sync_platform))
        .routes(routes!(platforms::issue_credential))
        .routes(routes!(platforms::sign_ssh_key))
        .routes(routes!(platforms::ssh_krl))
        .routes(routes!(platforms::create_tenant, platforms::list_tenants))
        .routes(routes!(platforms::create_service_user, platforms::list_service_users))
        .routes(routes!(platforms::delete_service_user))
}

/// The OpenAPI document's operations, as generated from the handlers, with the answers every
/// kind of operation can give ([`openapi::common_responses`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().split_for_parts().1;
    openapi::common_responses(&mut doc);
    doc
}

/// The OpenAPI document as the pretty JSON committed in the repository.
pub fn openapi_json() -> String {
    let mut s = serde_json::to_string_pretty(&openapi::complete(&openapi())).unwrap_or_default();
    s.push('\n');
    s
}

/// The API's routes and the OpenAPI document at `/api/v1/openapi.json`, without state: the
/// whole application is composed in [`crate::routes`].
pub fn api_routes() -> Router<Arc<App>> {
    let (router, _) = api_router().split_for_parts();
    let doc = openapi_json();
    router.route(
        "/api/v1/openapi.json",
        get(move || async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], doc) }),
    )
}

/// A JSON object body whose rejections are problem+json with precise codes: 415 without a JSON
/// content type, 413 when too large, 400 `input.malformed_json` when it is not JSON,
/// `input.unknown_field` / `input.missing_field` / `input.invalid_field` when its shape is wrong
/// (including valid JSON that is not an object).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBody(bytes) = JsonBody::from_request(req, state).await?;
        parse_json_object(&bytes).map(Self)
    }
}

/// The raw body of a JSON request, checked like [`ApiJson`]'s (415, 413) but not yet parsed:
/// for handlers that parse into types borrowing from it ([`parse_json_object`] gives the same
/// errors as `ApiJson`).
pub struct JsonBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json")
                    || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "input.unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "input.too_large",
                    format!("the body exceeds {} MiB", crate::routes::MAX_BODY / (1024 * 1024)),
                )
            } else {
                ApiError::bad_request("input.malformed_json", r.body_text())
            }
        })?;
        Ok(Self(bytes))
    }
}

/// A JSON object body that may also be left out entirely (then `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let has_type = req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        if !has_type {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|r| ApiError::bad_request("input.malformed_json", r.body_text()))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Self(T::default()));
            }
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "input.unsupported_media_type",
                "send the body as application/json",
            ));
        }
        // A JSON `null` is no body too (the document makes these bodies optional).
        let JsonBody(bytes) = JsonBody::from_request(req, state).await?;
        if bytes.trim_ascii() == b"null" {
            return Ok(Self(T::default()));
        }
        parse_json_object(&bytes).map(Self)
    }
}

/// Deserialises a JSON object. serde would accept an array for a struct, and reports a shape
/// error before a later syntax error; both are sorted out here, off the happy path.
pub fn parse_json_object<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ApiError> {
    let malformed = |detail: String| ApiError::bad_request("input.malformed_json", detail);
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Err(malformed(format!("the body is not valid JSON: {e}")));
        }
        return Err(ApiError::bad_request("input.invalid_field", "the body must be a JSON object"));
    }
    serde_json::from_slice::<T>(bytes).map_err(|e| {
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return malformed(format!("the body is not valid JSON: {syntax}"));
        }
        let text = e.to_string();
        let code = if text.contains("unknown field") {
            "input.unknown_field"
        } else if text.contains("missing field") {
            "input.missing_field"
        } else {
            "input.invalid_field"
        };
        ApiError::bad_request(code, text)
    })
}

/// Query parameters whose rejections are problem+json.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(r @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(ApiError::bad_request("input.invalid_query", r.body_text()))
            }
            Err(r) => Err(ApiError::bad_request("input.invalid_query", r.body_text())),
        }
    }
}

/// A successful write: the body, with the audit sequence it committed at in `Breakglass-Seq`.
pub fn written<T: Serialize>(status: StatusCode, seq: i64, body: &T) -> Response {
    (status, seq_header(seq), Json(body)).into_response()
}

/// A successful write without a body.
pub fn written_empty(seq: i64) -> Response {
    (StatusCode::NO_CONTENT, seq_header(seq)).into_response()
}

fn seq_header(seq: i64) -> [(HeaderName, HeaderValue); 1] {
    [(HeaderName::from_static(SEQ_HEADER), HeaderValue::from(seq))]
}

/// Shorthand for handler results.
pub type ApiResult<T = Response> = Result<T, ApiError>;
