//! Document photo endpoints.
//!
//! - `POST /api/calls/{call}/documents?doc_type=id_front` — the booth of that live call uploads a
//!   JPEG or PNG (raw body, at most 20 MiB, bearer token of the booth). The photo runs through the
//!   pipeline on a bounded blocking pool, is stored durably, and only then is the upload answered
//!   and the clerk told (`document_ready`).
//! - `GET /api/documents/{id}` and `/api/documents/{id}/thumbnail` — for the uploading booth while
//!   the call lasts, the clerk of the call, and supervisors whose scope covers the booth's region;
//!   until the link expires. Every attempt is written to the audit log.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use media::document::{self, DocError, PipelineLimits, Watermark};
use protocol::rest::DocumentUploaded;
use protocol::{DocType, ErrorCode, Role};
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::auth::unix_now;
use crate::documents::{new_id, DocMeta};
use crate::driver::{CallInfo, Command, Principal};
use crate::http::ApiError;
use crate::AppState;

pub const MAX_UPLOAD: usize = 20 * 1024 * 1024;

/// The verified caller of a REST request.
pub fn caller(state: &AppState, headers: &HeaderMap) -> Result<(Principal, String), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError(StatusCode::UNAUTHORIZED, ErrorCode::NotAuthenticated))?;
    let claims = state
        .signer
        .verify(token, unix_now())
        .map_err(|_| ApiError(StatusCode::UNAUTHORIZED, ErrorCode::InvalidToken))?;
    let dir = &state.directory;
    let who = match claims.role {
        Role::Booth => dir.booth_idx(&claims.id).map(Principal::Booth),
        Role::Clerk => dir.clerk_idx(&claims.id).map(Principal::Clerk),
        Role::Supervisor => state.supervisor_idx(&claims.id).map(Principal::Supervisor),
    }
    .ok_or(ApiError(StatusCode::FORBIDDEN, ErrorCode::Forbidden))?;
    Ok((who, format!("{}:{}", claims.role.as_str(), claims.id)))
}

/// Runs blocking file I/O off the async workers; a failure is logged as `what` and answered 500.
pub async fn blocking_io<T: Send + 'static>(
    what: &'static str,
    io: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let internal = || ApiError(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal);
    tokio::task::spawn_blocking(io).await.map_err(|_| internal())?.map_err(|e| {
        tracing::error!(error = %e, "{what} failed");
        internal()
    })
}

async fn call_info(state: &AppState, call: u64) -> Result<Option<CallInfo>, ApiError> {
    let (reply, rx) = oneshot::channel();
    let unavailable = || ApiError(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ShuttingDown);
    state.commands.send(Command::CallInfo { call, reply }).await.map_err(|_| unavailable())?;
    rx.await.map_err(|_| unavailable())
}

fn pipeline_error(e: &DocError) -> ApiError {
    match e {
        DocError::Empty => ApiError(StatusCode::BAD_REQUEST, ErrorCode::EmptyFile),
        DocError::TooLarge { .. } => ApiError(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::FileTooLarge),
        DocError::Unsupported(_) => ApiError(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedFormat),
        DocError::Truncated => ApiError(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::TruncatedImage),
        DocError::Dimensions { .. } | DocError::MemoryLimit => {
            ApiError(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ImageTooLarge)
        }
        DocError::Corrupt(_) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::DamagedImage),
        DocError::Internal(_) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
    }
}

#[derive(Deserialize)]
pub struct UploadQuery {
    doc_type: String,
}

pub async fn upload(
    State(state): State<AppState>,
    Path(call): Path<u64>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<DocumentUploaded>, ApiError> {
    let (who, _) = caller(&state, &headers)?;
    let Principal::Booth(booth) = who else { return Err(ApiError(StatusCode::FORBIDDEN, ErrorCode::Forbidden)) };
    let doc_type = DocType::parse(&q.doc_type).ok_or(ApiError(StatusCode::BAD_REQUEST, ErrorCode::InvalidField))?;
    let info = call_info(&state, call).await?.ok_or(ApiError(StatusCode::CONFLICT, ErrorCode::NotInCall))?;
    if info.booth != booth {
        tracing::warn!(call, "upload for another booth's call refused");
        return Err(ApiError(StatusCode::FORBIDDEN, ErrorCode::Forbidden));
    }
    // Checked before reading a byte of the body: a declared size over the limit is refused at
    // once; an undeclared one stops being read at 20 MiB + 1 byte.
    let too_large = || ApiError(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::FileTooLarge);
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD as u64) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_UPLOAD + 1).await.map_err(|_| too_large())?;
    let dir = state.directory.clone();
    let service_name = dir.service(info.service).name.clone();
    let now = unix_now();
    let watermark = Watermark::for_service(&service_name, &crate::documents::china_date(now));
    let _permit = state
        .doc_pool
        .acquire()
        .await
        .map_err(|_| ApiError(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ShuttingDown))?;
    let processed =
        tokio::task::spawn_blocking(move || document::process(&bytes, &watermark, &PipelineLimits::default()))
            .await
            .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal))?
            .map_err(|e| {
                tracing::info!(call, code = e.code(), "document refused");
                pipeline_error(&e)
            })?;
    let booth_info = dir.booth(info.booth);
    let meta = DocMeta {
        id: new_id(),
        call,
        ticket: info.ticket,
        booth: booth_info.id.clone(),
        clerk: dir.clerk(info.clerk).id.clone(),
        booth_region: dir.region(booth_info.region).id.clone(),
        service: dir.service(info.service).code.clone(),
        doc_type,
        created_unix: now,
        width: processed.width,
        height: processed.height,
        bytes: processed.jpeg.len() as u64,
        sha256_original: processed.sha256_original.clone(),
        sha256_result: processed.sha256_result.clone(),
        review: None,
    };
    let docs = state.docs.clone();
    let meta =
        blocking_io("document store write", move || docs.put(meta, &processed.jpeg, &processed.thumbnail)).await?;
    tracing::info!(call, document = %meta.id, doc_type = doc_type.as_str(), "document stored");
    let answer = DocumentUploaded {
        document: protocol::DocumentId::new(meta.id.clone()),
        doc_type,
        width: meta.width,
        height: meta.height,
        sha256_original: meta.sha256_original.clone(),
        sha256_result: meta.sha256_result.clone(),
    };
    let _ = state.commands.send(Command::DocumentStored { meta }).await;
    Ok(Json(answer))
}

pub async fn download(state: State<AppState>, id: Path<String>, headers: HeaderMap) -> Response {
    serve(state, id, headers, false).await
}

pub async fn thumbnail(state: State<AppState>, id: Path<String>, headers: HeaderMap) -> Response {
    serve(state, id, headers, true).await
}

async fn serve(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, thumb: bool) -> Response {
    match authorize_read(&state, &id, &headers, thumb).await {
        Ok(meta) => {
            let docs = state.docs.clone();
            match tokio::task::spawn_blocking(move || docs.read(&meta, thumb)).await {
                Ok(Ok(bytes)) => {
                    ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, no-store")], bytes)
                        .into_response()
                }
                _ => ApiError(StatusCode::NOT_FOUND, ErrorCode::NotFound).into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

/// Who may read: the uploading booth during the call, the clerk of the call, a supervisor whose
/// scope covers the booth's region; all only until the link expires. Every attempt is audited.
async fn authorize_read(state: &AppState, id: &str, headers: &HeaderMap, thumb: bool) -> Result<DocMeta, ApiError> {
    let (who, label) = caller(state, headers)?;
    let now = unix_now();
    let what = if thumb { "thumbnail" } else { "document" };
    let meta = state.docs.get(id);
    let verdict = match &meta {
        None => Err(ApiError(StatusCode::NOT_FOUND, ErrorCode::NotFound)),
        Some(m) if now >= m.created_unix + state.docs.config.link_ttl_secs => {
            Err(ApiError(StatusCode::GONE, ErrorCode::Expired))
        }
        Some(m) => {
            let dir = &state.directory;
            let allowed = match who {
                Principal::Booth(b) => {
                    dir.booth(b).id == m.booth && call_info(state, m.call).await?.is_some_and(|c| c.booth == b)
                }
                Principal::Clerk(c) => dir.clerk(c).id == m.clerk,
                Principal::Supervisor(s) => {
                    dir.region_idx(&m.booth_region).is_some_and(|r| dir.is_within(r, state.supervisors[s].scope))
                }
            };
            if allowed {
                Ok(m.clone())
            } else {
                Err(ApiError(StatusCode::FORBIDDEN, ErrorCode::Forbidden))
            }
        }
    };
    let docs = state.docs.clone();
    let (label, id, ok) = (label, id.to_owned(), verdict.is_ok());
    let _ = tokio::task::spawn_blocking(move || docs.record_read(now, &label, &id, what, ok)).await;
    verdict
}
