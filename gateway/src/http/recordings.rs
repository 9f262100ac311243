//! Call recordings over HTTP.
//!
//! - `GET /api/calls/{call}/recording` — the call's WebM file, for the call's clerk and for
//!   supervisors whose scope covers the booth's region. Supports single byte ranges
//!   (`Range: bytes=a-b`, `bytes=a-`, `bytes=-n` → `206` with `Content-Range`; a range past the
//!   end → `416`), so a `<video>` element can seek. Every attempt — who, which range, from
//!   where, allowed or not — is committed to the audit chain before a byte goes out; if it cannot
//!   be written, nothing is served. `?party=booth` (or `clerk`, `guest`) serves that party's
//!   view instead: its video and audio only, cut from the recording on first request
//!   ([`media_relay::record::views`]), since a browser plays only a file's first audio track. Every
//!   response names the recorded parties in `X-Recording-Parties`.
//! - `GET /api/calls/{call}/recording/views` — that log, for a supervisor in scope.
//! - `GET /api/calls?live=true` — the live calls in a supervisor's scope (to pick one to
//!   monitor).
//!
//! A body is streamed from the file in 64 KiB pieces, so a long recording never sits in memory;
//! a recording sealed at rest is opened piece by piece ([`super::recording_body`]).

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::ErrorCode;

use media_relay::record::views;

use super::recording_body::{self, Sealed};
use super::{store_call, ApiError, Caller};
use crate::state::AppState;
use host::commands::Principal;

type Peer = Option<axum::Extension<ConnectInfo<std::net::SocketAddr>>>;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingQuery {
    party: Option<String>,
}

pub async fn download(
    State(state): State<AppState>,
    Path(call): Path<u64>,
    peer: Peer,
    headers: HeaderMap,
    super::ApiQuery(query): super::ApiQuery<RecordingQuery>,
) -> Response {
    let from = peer.map(|p| p.0 .0.ip().to_string()).unwrap_or_default();
    let range_header: Option<String> =
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(|r| r.chars().take(64).collect());
    let party = query.party;
    if party.as_deref().is_some_and(|p| !views::valid_party(p)) {
        return ApiError::from(ErrorCode::InvalidField).into_response();
    }
    // The view log says which party's view was asked for: "clerk: bytes=0-".
    let logged = match (&party, &range_header) {
        (None, r) => r.clone(),
        (Some(p), r) => Some(format!("{p}: {}", r.as_deref().unwrap_or("all"))),
    };
    let row = match authorize(&state, call, &from, &headers, logged).await {
        Ok(row) => row,
        Err(e) => return e.into_response(),
    };
    let mut path = state.recording_dir.join(&row.file);
    // A recording sealed at rest opens with its wrapped key (kept beside its row).
    let records = state.records.clone();
    let key = row.call_id.clone();
    let envelope = match store_call("reading a recording's key", move || records.store().recording_sealing(&key)).await
    {
        Ok(sealing) => match sealing.map(|s| vault::Envelope::parse(&s)).transpose() {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::error!(call, error = %e, "a recording's wrapped key does not parse");
                return ApiError::from(ErrorCode::Internal).into_response();
            }
        },
        Err(e) => return e.into_response(),
    };
    let at_rest = envelope.map(|e| (state.vault.clone(), e));
    // The plaintext's length: the recording's from its row (a relay that died mid-call left only
    // whole chunks), a view's from its file.
    let mut len = Some(row.bytes.max(0) as u64).filter(|_| at_rest.is_some());
    if let Some(party) = &party {
        if !row.parties.split(',').any(|p| p == party) {
            return ApiError::from(ErrorCode::NotFound).into_response();
        }
        let view = views::view_path(&state.recording_dir, &row.file, party);
        let (src, dst, name, sealing) = (path.clone(), view.clone(), party.clone(), at_rest.clone());
        match tokio::task::spawn_blocking(move || views::ensure_view(&src, &name, &dst, sealing.as_ref())).await {
            Ok(Ok(true)) => (path, len) = (view, None),
            Ok(Ok(false)) => return ApiError::from(ErrorCode::NotFound).into_response(),
            Ok(Err(e)) => {
                tracing::error!(call, error = %e, "a recording's view could not be made");
                return ApiError::from(ErrorCode::Internal).into_response();
            }
            Err(_) => return ApiError::from(ErrorCode::Internal).into_response(),
        }
    }
    let sealed = match at_rest {
        Some((vault, envelope)) => match Sealed::open(&path, vault, envelope).await {
            Ok(sealed) => Some(sealed),
            Err(e) => {
                tracing::error!(call, error = %e, "an indexed recording's file is missing or not sealed");
                return ApiError::from(ErrorCode::NotFound).into_response();
            }
        },
        None => None,
    };
    let len = match (len, &sealed) {
        (Some(len), _) => Ok(len),
        (None, Some(sealed)) => sealed.plain_len(&path).await,
        (None, None) => tokio::fs::metadata(&path).await.map(|m| m.len()),
    };
    let len = match len {
        Ok(len) => len,
        Err(e) => {
            tracing::error!(call, error = %e, "an indexed recording's file is missing");
            return ApiError::from(ErrorCode::NotFound).into_response();
        }
    };
    let (status, start, end) = match range_header.as_deref().and_then(|r| parse_range(r, len)) {
        None => (StatusCode::OK, 0, len),
        Some(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Some(None) => {
            return (StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{len}"))])
                .into_response()
        }
    };
    let body = match recording_body::body(&path, sealed, len, start, end).await {
        Ok(body) => body,
        Err(_) => return ApiError::from(ErrorCode::NotFound).into_response(),
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "video/webm")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, end - start)
        .header(header::CACHE_CONTROL, "private, no-store")
        .header("x-recording-parties", row.parties.as_str());
    if status == StatusCode::PARTIAL_CONTENT {
        response = response.header(header::CONTENT_RANGE, format!("bytes {start}-{}/{len}", end - 1));
    }
    response.body(body).unwrap_or_else(|_| ApiError::from(ErrorCode::Internal).into_response())
}

/// A `Range` header: `None` when it is to be ignored (the whole body, `200`) — a unit other than
/// `bytes` (RFC 9110 §14.2: a server ignores a range unit it does not understand) or several
/// ranges (a server may ignore `Range`; one range is all a player asks for); `Some(None)` for a
/// `bytes` range that is malformed or cannot be satisfied (`416`); else the range as
/// `[start, end)`.
fn parse_range(header: &str, len: u64) -> Option<Option<(u64, u64)>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    Some(one_range(spec, len))
}

fn one_range(spec: &str, len: u64) -> Option<(u64, u64)> {
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (len.saturating_sub(n), len)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() { len } else { b.parse::<u64>().ok()?.saturating_add(1).min(len) };
        (start, end)
    };
    (start < end && start < len).then_some((start, end))
}

/// Who may view: the call's clerks, a supervisor whose scope covers the booth's region. Every
/// attempt is committed to the audit chain first.
async fn authorize(
    state: &AppState,
    call: u64,
    from: &str,
    headers: &HeaderMap,
    range: Option<String>,
) -> Result<store::RecordingRow, ApiError> {
    let (verdict, label) = match Caller::from_headers(&state.edge, headers) {
        Ok(caller) => (check(state, call, &caller).await, caller.label),
        Err(e) => {
            let label = if e.code == ErrorCode::NotAuthenticated { "anonymous" } else { "invalid_token" };
            (Err(e), label.to_owned())
        }
    };
    let view = store::RecordingViewRow {
        id: host::documents::new_id(),
        call_id: host::records::store_id(call),
        who: label,
        range: range.unwrap_or_else(|| "all".into()),
        allowed: verdict.is_ok(),
        from_addr: from.to_owned(),
        at_ms: store::now_ms(),
    };
    super::records_commit(&state.records, "recording a recording view", host::records::Record::View(view)).await?;
    verdict
}

async fn check(state: &AppState, call: u64, caller: &Caller) -> Result<store::RecordingRow, ApiError> {
    let records = state.records.clone();
    let key = host::records::store_id(call);
    let row = store_call("looking up a recording", move || records.store().recording(&key)).await?;
    let row = row.ok_or(ErrorCode::NotFound)?;
    if may_view(state, caller, &row) {
        Ok(row)
    } else {
        Err(ErrorCode::Forbidden.into())
    }
}

fn may_view(state: &AppState, caller: &Caller, row: &store::RecordingRow) -> bool {
    let dir = &state.directory;
    match caller.who {
        // Every clerk who served the call (more than one after a transfer).
        Principal::Clerk(c) => row.clerk.split(',').any(|id| id == dir.clerk(c).id),
        Principal::Supervisor(s) => {
            dir.region_idx(&row.booth_region).is_some_and(|r| dir.is_within(r, state.supervisors[s].scope))
        }
        Principal::Booth(_) => false,
    }
}

/// `GET /api/calls/{call}/recording/views`: who viewed the recording, for a supervisor in scope.
pub async fn views(
    State(state): State<AppState>,
    caller: Caller,
    Path(call): Path<u64>,
) -> Result<Json<protocol::rest::RecordingViews>, ApiError> {
    if !matches!(caller.who, Principal::Supervisor(_)) {
        return Err(ErrorCode::Forbidden.into());
    }
    let row = check(&state, call, &caller).await?;
    let records = state.records.clone();
    let rows = store_call("reading a recording's views", move || records.store().recording_views(&row.call_id)).await?;
    let views = rows
        .into_iter()
        .map(|v| protocol::rest::RecordingView {
            who: v.who,
            range: v.range,
            allowed: v.allowed,
            from: v.from_addr,
            at_ms: v.at_ms.max(0) as u64,
        })
        .collect();
    Ok(Json(protocol::rest::RecordingViews { call, views }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsQuery {
    live: bool,
}

/// `GET /api/calls?live=true` (supervisors).
pub async fn live(
    State(state): State<AppState>,
    caller: Caller,
    super::ApiQuery(query): super::ApiQuery<CallsQuery>,
) -> Result<Json<protocol::rest::LiveCalls>, ApiError> {
    let sup = caller.supervisor()?;
    if !query.live {
        return Err(ApiError::from(ErrorCode::InvalidField));
    }
    let (reply, rx) = tokio::sync::oneshot::channel();
    let scope = state.supervisors[sup].scope;
    let command = host::commands::Command::LiveCalls { scope, reply };
    state.commands.send(command).await.map_err(|_| ErrorCode::ShuttingDown)?;
    let calls = rx.await.map_err(|_| ErrorCode::ShuttingDown)?;
    Ok(Json(protocol::rest::LiveCalls { calls }))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-", 100), Some(Some((0, 100))));
        assert_eq!(parse_range("bytes=10-19", 100), Some(Some((10, 20))));
        assert_eq!(parse_range("bytes=90-200", 100), Some(Some((90, 100))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Some((90, 100))));
        assert_eq!(parse_range("bytes=100-", 100), Some(None), "past the end: 416");
        assert_eq!(parse_range("bytes=5-1", 100), Some(None));
        assert_eq!(parse_range("bytes=x-1", 100), Some(None), "malformed bytes range: 416");
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None, "several ranges: ignored, 200");
        assert_eq!(parse_range("items=0-5", 100), None, "an unknown unit is ignored: 200");
    }
}
