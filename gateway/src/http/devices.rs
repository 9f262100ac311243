//! Kiosk devices. A kiosk is set up once with its booth's secret and gets a device token of its
//! own (`POST /api/devices`); from then on it signs in with that token (`POST /api/login` with
//! `device_token`) and keeps nothing else, so the booth's secret never stays on the kiosk. Only
//! the token's SHA-256 is stored. A supervisor lists the devices of the booths in scope
//! (`GET /api/devices`) and revokes one (`DELETE /api/devices/{id}`): its next sign-in is refused.
//! Setting up and revoking are chained in the audit log.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use protocol::{ErrorCode, Role};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{read_body, store_call, ApiError, Caller};
use crate::login::{verify_secret, PeerIp};
use crate::state::AppState;

/// A set-up request is a few hundred bytes.
const MAX_BODY: usize = 4 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetUp {
    booth: String,
    secret: String,
}

/// `201` to a set-up: the token is shown this once.
#[derive(Debug, Serialize)]
pub struct SetUpDone {
    device: String,
    booth: String,
    token: String,
}

/// One device, as a supervisor sees it (never its token).
#[derive(Debug, Serialize)]
pub struct Device {
    device: String,
    booth: String,
    booth_name: String,
    created_ms: i64,
    created_from: String,
    last_login_ms: Option<i64>,
    revoked_ms: Option<i64>,
    revoked_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Devices {
    devices: Vec<Device>,
}

/// Lower-case hex SHA-256 of a device token: what is stored and looked up.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /api/devices`: sets up a kiosk for a booth with the booth's secret.
pub async fn set_up(State(state): State<AppState>, PeerIp(ip): PeerIp, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body, MAX_BODY, state.edge.limits.body_timeout(), ErrorCode::MessageTooLarge).await?;
    let req: SetUp = serde_json::from_slice(&bytes).map_err(|_| ErrorCode::BadMessage)?;
    verify_secret(&state.edge, Role::Booth, &req.booth, &req.secret, ip).await?;
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|_| ErrorCode::Internal)?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let row = store::DeviceRow {
        id: host::documents::new_id(),
        booth: req.booth.clone(),
        created_ms: store::now_ms(),
        created_from: ip.to_string(),
        last_login_ms: None,
        revoked_ms: None,
        revoked_by: None,
    };
    let (records, hash, stored) = (state.records.clone(), token_hash(&token), row.clone());
    store_call("setting up a device", move || records.store().put_device(&stored, &hash)).await?;
    tracing::info!(device = %row.id, booth = %row.booth, "kiosk device set up");
    let done = SetUpDone { device: row.id, booth: row.booth, token };
    Ok((StatusCode::CREATED, Json(done)).into_response())
}

/// The booths of a supervisor's scope.
fn booths_in_scope(state: &AppState, sup: usize) -> Vec<String> {
    let dir = &state.directory;
    let scope = state.supervisors[sup].scope;
    dir.booths.iter().filter(|b| dir.is_within(b.region, scope)).map(|b| b.id.clone()).collect()
}

/// `GET /api/devices`: the devices of the booths in the supervisor's scope, newest first.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Devices>, ApiError> {
    let sup = caller.supervisor()?;
    let booths = booths_in_scope(&state, sup);
    let records = state.records.clone();
    let rows = store_call("listing devices", move || records.store().devices(&booths)).await?;
    let dir = &state.directory;
    let devices = rows
        .into_iter()
        .map(|d| Device {
            booth_name: dir.booth_idx(&d.booth).map(|i| dir.booth(i).name.clone()).unwrap_or_default(),
            device: d.id,
            booth: d.booth,
            created_ms: d.created_ms,
            created_from: d.created_from,
            last_login_ms: d.last_login_ms,
            revoked_ms: d.revoked_ms,
            revoked_by: d.revoked_by,
        })
        .collect();
    Ok(Json(Devices { devices }))
}

/// `DELETE /api/devices/{id}`: revokes a device of a booth in the supervisor's scope (`204`, also
/// when it was revoked already); `404` for a device unknown or out of scope.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let sup = caller.supervisor()?;
    let id: String = id.chars().take(64).collect();
    let records = state.records.clone();
    let key = id.clone();
    let device = store_call("looking up a device", move || records.store().device(&key)).await?;
    let in_scope = device.is_some_and(|d| booths_in_scope(&state, sup).contains(&d.booth));
    if !in_scope {
        return Err(ErrorCode::NotFound.into());
    }
    let (records, by) = (state.records.clone(), caller.label.clone());
    store_call("revoking a device", move || records.store().revoke_device(&id, &by, store::now_ms())).await?;
    tracing::info!(by = %caller.label, "kiosk device revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}
