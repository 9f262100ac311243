//! Document photo endpoints.
//!
//! - `POST /api/calls/{call}/documents?doc_type=id_front` — the booth of that live call uploads a
//!   JPEG or PNG (raw body, at most 20 MiB, bearer token of the booth). The photo runs through the
//!   pipeline on a bounded blocking pool, is stored durably, and only then is the upload answered
//!   and the clerk told (`document_ready`).
//! - `GET /api/documents/{id}` and `/api/documents/{id}/thumbnail` — for the uploading booth while
//!   the call lasts, the clerk of the call, and supervisors whose scope covers the booth's region;
//!   until the link expires. Every attempt — who, when, from which address, allowed or not — is
//!   committed to the audit chain before an answer (or a byte) goes out.

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use photo::{self as document, DocError, PipelineLimits, Watermark};
use protocol::rest::DocumentUploaded;
use protocol::{DocType, ErrorCode};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::{read_upload, store_call, ApiError, ApiQuery, Caller};
use crate::auth::unix_now;
use crate::state::AppState;
use host::commands::{CallInfo, Command, Principal};
use host::doc_meta::DocMeta;
use host::documents::{new_id, ReadAttempt};

pub const MAX_UPLOAD: usize = 20 * 1024 * 1024;

async fn call_info(state: &AppState, call: u64) -> Result<Option<CallInfo>, ApiError> {
    let (reply, rx) = oneshot::channel();
    state.commands.send(Command::CallInfo { call, reply }).await.map_err(|_| ErrorCode::ShuttingDown)?;
    rx.await.map_err(|_| ErrorCode::ShuttingDown.into())
}

fn pipeline_error(e: &DocError) -> ErrorCode {
    match e {
        DocError::Empty => ErrorCode::EmptyFile,
        DocError::TooLarge { .. } => ErrorCode::FileTooLarge,
        DocError::Unsupported(_) => ErrorCode::UnsupportedFormat,
        DocError::Truncated => ErrorCode::TruncatedImage,
        DocError::Dimensions { .. } | DocError::MemoryLimit => ErrorCode::ImageTooLarge,
        DocError::Corrupt(_) => ErrorCode::DamagedImage,
        DocError::Internal(_) => ErrorCode::Internal,
    }
}

#[derive(Deserialize)]
pub struct UploadQuery {
    doc_type: String,
}

pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(call): Path<u64>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<DocumentUploaded>, ApiError> {
    let Principal::Booth(booth) = caller.who else { return Err(ErrorCode::Forbidden.into()) };
    let doc_type = DocType::parse(&q.doc_type).ok_or(ErrorCode::InvalidField)?;
    let info = call_info(&state, call).await?.ok_or(ErrorCode::NotInCall)?;
    if info.booth != booth {
        tracing::warn!(call, "upload for another booth's call refused");
        return Err(ErrorCode::Forbidden.into());
    }
    // Checked before reading a byte of the body: a declared size over the limit is refused at
    // once; an undeclared one stops being read at 20 MiB + 1 byte.
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD as u64) {
        return Err(ErrorCode::FileTooLarge.into());
    }
    // One upload per call at a time: a slow booth holds up its own call's photos, nobody else's.
    let busy = || ApiError::retry_after(ErrorCode::ServerBusy, std::time::Duration::from_secs(2));
    let _call_slot = CallUpload::take(&state.uploading_calls, call).ok_or_else(busy)?;
    // Each upload in flight may hold 20 MiB of body plus its decode: bound how many at once.
    let _slot = state.upload_slots.clone().try_acquire_owned().map_err(|_| busy())?;
    let rate = (state.edge.limits.upload_min_bytes_per_sec, state.edge.limits.upload_rate_grace());
    let bytes: Bytes =
        read_upload(body, MAX_UPLOAD + 1, state.edge.limits.upload_timeout(), rate, ErrorCode::FileTooLarge).await?;
    if bytes.len() > MAX_UPLOAD {
        return Err(ErrorCode::FileTooLarge.into());
    }
    let dir = state.directory.clone();
    let service_name = dir.service(info.service).name.clone();
    let now = unix_now();
    let watermark = Watermark::for_service(&service_name, &china_time::date_string(now as i64 * 1000));
    let _permit = state.doc_pool.acquire().await.map_err(|_| ErrorCode::ShuttingDown)?;
    let started = std::time::Instant::now();
    let processed =
        tokio::task::spawn_blocking(move || document::process(&bytes, &watermark, &PipelineLimits::default()))
            .await
            .map_err(|_| ErrorCode::Internal)?
            .map_err(|e| {
                tracing::info!(call, code = e.code(), "document refused");
                pipeline_error(&e)
            })?;
    host::metrics::observe(&host::metrics::METRICS.documents, started.elapsed());
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
    // Sealed off the runtime, then written by the one records writer (bounded), and answered
    // only once committed.
    let docs = state.docs.clone();
    let stored = meta.clone();
    let record =
        tokio::task::spawn_blocking(move || docs.sealed_record(&stored, &processed.jpeg, &processed.thumbnail))
            .await
            .map_err(|_| ErrorCode::Internal)?;
    super::records_commit(&state.records, "document store write", record).await?;
    state.docs.remember(&meta);
    tracing::info!(call, document = %meta.id, doc_type = doc_type.as_str(), "document stored");
    let answer = DocumentUploaded {
        document: protocol::DocumentId::new(meta.id.clone()),
        doc_type,
        width: meta.width,
        height: meta.height,
        sha256_original: meta.sha256_original.clone(),
        sha256_result: meta.sha256_result.clone(),
    };
    let _ = state.edge.inputs.send(host::bus::GatewayInput::DocumentStored { meta }).await;
    state.edge.trimmer.upload_finished();
    Ok(Json(answer))
}

type Peer = Option<axum::Extension<ConnectInfo<std::net::SocketAddr>>>;

pub async fn download(state: State<AppState>, id: Path<String>, peer: Peer, headers: HeaderMap) -> Response {
    serve(state, id, peer, headers, false).await
}

pub async fn thumbnail(state: State<AppState>, id: Path<String>, peer: Peer, headers: HeaderMap) -> Response {
    serve(state, id, peer, headers, true).await
}

async fn serve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
    thumb: bool,
) -> Response {
    let from = peer.map(|p| p.0 .0.ip().to_string()).unwrap_or_default();
    let result = match authorize_read(&state, &id, &from, &headers, thumb).await {
        Ok(meta) => {
            let docs = state.docs.clone();
            store_call("reading a document", move || docs.read(&meta, thumb)).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(Some(bytes)) => {
            ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, no-store")], bytes)
                .into_response()
        }
        Ok(None) => ApiError::from(ErrorCode::NotFound).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Who may read: the uploading booth during the call, the clerk of the call, a supervisor whose
/// scope covers the booth's region; all only until the link expires. Every attempt is committed
/// to the audit chain first, also those without a valid token (recorded as `anonymous` or
/// `invalid_token`); if that cannot be written, nothing is served.
async fn authorize_read(
    state: &AppState,
    id: &str,
    from: &str,
    headers: &HeaderMap,
    thumb: bool,
) -> Result<DocMeta, ApiError> {
    let now = unix_now();
    let what = if thumb { "thumbnail" } else { "document" };
    // Bound what an unauthenticated caller can make us look up and write: ids are 32 hex characters.
    let id: String = id.chars().take(64).collect();
    let (verdict, label) = match Caller::from_headers(&state.edge, headers) {
        Ok(caller) => (check_read(state, &id, &caller, now).await, caller.label),
        Err(e) => {
            let label = if e.code == ErrorCode::NotAuthenticated { "anonymous" } else { "invalid_token" };
            (Err(e), label.to_owned())
        }
    };
    let record =
        state.docs.read_record(ReadAttempt { who: &label, document: &id, what, allowed: verdict.is_ok(), from });
    super::records_commit(&state.records, "recording a document read", record).await?;
    verdict
}

async fn check_read(state: &AppState, id: &str, caller: &Caller, now: u64) -> Result<DocMeta, ApiError> {
    let docs = state.docs.clone();
    let key = id.to_owned();
    let meta = store_call("looking up a document", move || docs.lookup(&key)).await?.ok_or(ErrorCode::NotFound)?;
    if now >= meta.created_unix + state.docs.config.link_ttl_secs {
        return Err(ErrorCode::Expired.into());
    }
    let dir = &state.directory;
    let allowed = match caller.who {
        Principal::Booth(b) => {
            dir.booth(b).id == meta.booth && call_info(state, meta.call).await?.is_some_and(|c| c.booth == b)
        }
        Principal::Clerk(c) => dir.clerk(c).id == meta.clerk,
        Principal::Supervisor(s) => {
            dir.region_idx(&meta.booth_region).is_some_and(|r| dir.is_within(r, state.supervisors[s].scope))
        }
    };
    if allowed {
        Ok(meta)
    } else {
        Err(ErrorCode::Forbidden.into())
    }
}

/// `GET /api/documents/{id}/reads`: the read log of a document, for a supervisor whose scope
/// covers its booth's region (others: 403). Unknown or purged document → 404.
pub async fn reads(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<protocol::rest::DocumentReads>, ApiError> {
    let Principal::Supervisor(s) = caller.who else { return Err(ErrorCode::Forbidden.into()) };
    let id: String = id.chars().take(64).collect();
    let docs = state.docs.clone();
    let key = id.clone();
    let (meta, rows) = store_call("reading a document's read log", move || {
        let Some(meta) = docs.lookup(&key)? else { return Ok((None, Vec::new())) };
        Ok((Some(meta), docs.reads(&key)?))
    })
    .await?;
    let meta = meta.ok_or(ErrorCode::NotFound)?;
    let dir = &state.directory;
    if !dir.region_idx(&meta.booth_region).is_some_and(|r| dir.is_within(r, state.supervisors[s].scope)) {
        return Err(ErrorCode::Forbidden.into());
    }
    let reads = rows
        .into_iter()
        .map(|r| protocol::rest::DocumentRead {
            who: r.who,
            what: r.what,
            allowed: r.allowed,
            from: r.from_addr,
            at_ms: r.at_ms,
        })
        .collect();
    Ok(Json(protocol::rest::DocumentReads { document: id, reads }))
}

/// A call's one upload in flight; the call is free for the next when this is dropped.
struct CallUpload {
    calls: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<u64>>>,
    call: u64,
}

impl CallUpload {
    fn take(calls: &std::sync::Arc<std::sync::Mutex<std::collections::HashSet<u64>>>, call: u64) -> Option<Self> {
        let fresh = calls.lock().expect("the uploads lock is never held across a panic").insert(call);
        fresh.then(|| Self { calls: calls.clone(), call })
    }
}

impl Drop for CallUpload {
    fn drop(&mut self) {
        self.calls.lock().expect("the uploads lock is never held across a panic").remove(&self.call);
    }
}
