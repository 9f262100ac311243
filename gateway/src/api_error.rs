//! The one shape every error answer of the REST API and the WebSocket upgrade takes: a protocol
//! error code — its HTTP status and standard bilingual texts follow from it — and, for back-off
//! refusals, the seconds to wait (`Retry-After`).

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::rest::ApiErrorBody;
use protocol::ErrorCode;

/// An error answer: a protocol error code (its status and standard texts follow from it), and
/// for back-off refusals the seconds to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn retry_after(code: ErrorCode, wait: Duration) -> Self {
        // Round up: a client retrying after the stated time must not be refused again.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self { code, retry_after_secs: Some(secs.max(1)) }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self { code, retry_after_secs: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (zh, en) = self.code.messages();
        let body = ApiErrorBody {
            code: self.code,
            message_zh: zh.into(),
            message_en: en.into(),
            retry_after_secs: self.retry_after_secs,
        };
        let status = StatusCode::from_u16(self.code.http_status()).expect("http_status returns valid statuses");
        let mut resp = (status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
