//! The whole application's routes: the API (`http`) and the web UI (`web`), two edges over the
//! use-case layer that never call each other, composed here with the answers for unknown
//! paths and methods and the layers every request passes (body limits, logging, headers).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::app::App;
use crate::error::ApiError;
use crate::{http, web};

/// Largest request body accepted.
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;

/// Largest body of a request anyone may send without a credential (sign-in, sign-up).
pub(crate) const PUBLIC_BODY: usize = 64 * 1024;

/// All routes, with problem+json answers for unknown paths and methods.
pub fn router(app: Arc<App>) -> Router {
    http::api_routes()
        .merge(web::router())
        .fallback(|headers: axum::http::HeaderMap, uri: axum::http::Uri| async move {
            if !uri.path().starts_with("/api/") && web::wants_html(&headers) {
                return web::not_found_page();
            }
            ApiError::new(StatusCode::NOT_FOUND, "http.not_found", "no such path").into_response()
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "http.method_not_allowed",
                "method not allowed on this path",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(log_request))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

/// Headers every answer carries: `nosniff` everywhere, so that no browser reads an answer as
/// another type than it says; and `no-store` on everything but the web UI's pages (which set
/// their own) and its versioned script, since API answers carry access and, once, new secrets.
async fn security_headers(req: Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if !headers.contains_key(axum::http::header::CACHE_CONTROL) {
        headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Logs method, route template, status and latency. Never headers or bodies (they carry
/// secrets), and the route template rather than the path (paths carry e-mails).
async fn log_request(req: Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros();
    if status >= 500 {
        tracing::warn!(%method, %route, status, micros, "request failed");
    } else {
        tracing::debug!(%method, %route, status, micros, "request");
    }
    response
}
