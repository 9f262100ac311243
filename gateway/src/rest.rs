//! The REST plumbing every endpoint shares, below the server's resource handlers: query strings
//! parsed into types ([`ApiQuery`]), bodies read with a size bound and a deadline (uploads with a
//! minimum rate too), every matched route timed, the error answers rewritten into the one JSON
//! shape, the staff reserve (when the general connections are used up, only what staff need to
//! get in is served) and the fallback for unknown paths.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use protocol::ErrorCode;
use serde::de::DeserializeOwned;

use crate::api_error::ApiError;
use crate::edge::Edge;

/// A query string parsed into `T`; a malformed one is `400 invalid_field` in the JSON shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri).map(|Query(q)| ApiQuery(q)).map_err(|e| {
            tracing::debug!(error = %e, "query string refused");
            ApiError::from(ErrorCode::InvalidField)
        })
    }
}

/// Reads a request body of at most `max` bytes that must arrive within `deadline` (a body
/// trickled byte by byte holds nothing for long).
pub async fn read_body(body: Body, max: usize, deadline: Duration, too_large: ErrorCode) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, max)).await {
        Err(_) => Err(ErrorCode::RequestTimeout.into()),
        Ok(Err(_)) => Err(too_large.into()),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// An upload's body: at most `max` bytes (more: `too_large`), all within `deadline`, and — once
/// `grace` has passed — at least `min_rate` bytes a second on average since the start; a sender
/// slower than that, or one that stops, gets `408 request_timeout` and its slot is freed.
pub async fn read_upload(
    body: Body,
    max: usize,
    deadline: Duration,
    (min_rate, grace): (u64, Duration),
    too_large: ErrorCode,
) -> Result<Bytes, ApiError> {
    use futures_util::StreamExt;
    let started = tokio::time::Instant::now();
    let mut stream = body.into_data_stream();
    let mut got: Vec<u8> = Vec::new();
    let mut check = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            chunk = stream.next() => match chunk {
                None => return Ok(Bytes::from(got)),
                Some(Ok(chunk)) => {
                    if got.len() + chunk.len() > max {
                        return Err(too_large.into());
                    }
                    got.extend_from_slice(&chunk);
                }
                // The client went away mid-body.
                Some(Err(_)) => return Err(ErrorCode::RequestTimeout.into()),
            },
            _ = check.tick() => {
                let elapsed = started.elapsed();
                let too_slow = elapsed > grace && (got.len() as f64) < min_rate as f64 * elapsed.as_secs_f64();
                if elapsed >= deadline || too_slow {
                    return Err(ErrorCode::RequestTimeout.into());
                }
            }
        }
    }
}

/// Times a matched route (`xiaowu_http_request_duration_seconds{route}`).
pub async fn time_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    if let Some(route) = route {
        let h = host::metrics::METRICS.http.get_or_create(&vec![("route", route)]);
        host::metrics::observe(&h, started.elapsed());
    }
    resp
}

/// Last layer: any error response that is not already JSON (an extractor's plain-text rejection,
/// 404 for an unknown path, 405 for a wrong method, a WebSocket handshake refusal) is rewritten
/// into the bilingual shape, keeping its status and headers (`Allow` on a 405).
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return resp;
    }
    let code = match status.as_u16() {
        401 => ErrorCode::NotAuthenticated,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 => ErrorCode::RequestTimeout,
        413 => ErrorCode::MessageTooLarge,
        422 => ErrorCode::InvalidField,
        429 => ErrorCode::RateLimited,
        503 => ErrorCode::ServerBusy,
        500.. => ErrorCode::Internal,
        _ => ErrorCode::BadMessage,
    };
    let (mut parts, _) = resp.into_parts();
    let rewritten = ApiError::from(code).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, rewritten.into_body())
}

/// When the general connections are used up, only what staff need to get in is served:
/// health checks, login, the clerk and supervisor pages and sockets. Booth traffic gets
/// `503 server_busy` and the connection is closed, so it frees its slot at once.
pub async fn reserve_gate(State(edge): State<Arc<Edge>>, req: Request, next: Next) -> Response {
    if !edge.conns.in_reserve() || is_reserved_path(req.uri().path()) {
        return next.run(req).await;
    }
    let mut resp = ApiError::retry_after(ErrorCode::ServerBusy, Duration::from_secs(5)).into_response();
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn is_reserved_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/api/login" | "/ws/clerk" | "/ws/supervisor" | "/clerk" | "/supervisor")
        || path.starts_with("/web/")
}

/// The fallback for unknown paths.
pub async fn not_found() -> ApiError {
    ErrorCode::NotFound.into()
}
