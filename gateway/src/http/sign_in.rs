//! `POST /api/login`: a secret — or, for a kiosk set up once, its device token
//! (`http::devices`) — for a signed token, throttled per account and per address.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use protocol::rest::{LoginRequest, LoginResponse};
use protocol::{ErrorCode, Role};

use super::{read_body, store_call, ApiError};
use crate::auth::{unix_now, Claims};
use crate::login::{settle, throttle, verify_secret, PeerIp, MAX_LOGIN_BODY};
use crate::state::AppState;

pub async fn login(
    State(app): State<AppState>,
    PeerIp(ip): PeerIp,
    body: Body,
) -> Result<Json<LoginResponse>, ApiError> {
    let state = app.edge.clone();
    let bytes = read_body(body, MAX_LOGIN_BODY, state.limits.body_timeout(), ErrorCode::MessageTooLarge).await?;
    let req: LoginRequest = serde_json::from_slice(&bytes).map_err(|_| ErrorCode::BadMessage)?;
    let name = match req.device_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) if req.role == Role::Booth => verify_device(&app, &req.id, token, ip).await?,
        Some(_) => return Err(ErrorCode::InvalidField.into()),
        None => verify_secret(&state, req.role, &req.id, &req.secret, ip).await?,
    };
    let exp = unix_now() + state.token_ttl.as_secs();
    let token = state.signer.issue(&Claims { role: req.role, id: req.id.clone(), exp });
    tracing::info!(role = req.role.as_str(), id = %req.id, "login");
    Ok(Json(LoginResponse { token, role: req.role, id: req.id, display_name: name, expires_at_unix: exp }))
}

/// Checks a kiosk's device token for `booth`: set up for that booth and not revoked.
async fn verify_device(app: &AppState, booth: &str, token: &str, ip: IpAddr) -> Result<String, ApiError> {
    if token.len() > 128 || booth.len() > 128 {
        return Err(ErrorCode::InvalidField.into());
    }
    throttle(&app.edge, Role::Booth, booth, ip)?;
    let hash = super::devices::token_hash(token);
    let records = app.records.clone();
    let found = store_call("checking a device", move || records.store().device_by_token(&hash)).await?;
    let device = found.filter(|d| d.booth == booth && d.revoked_ms.is_none());
    settle(&app.edge, Role::Booth, booth, ip, device.is_some())?;
    if let Some(device) = device {
        let records = app.records.clone();
        // Best effort: the list's "last signed in" column.
        let _ = store_call("noting a device's sign-in", move || {
            records.store().device_signed_in(&device.id, store::now_ms())
        })
        .await;
    }
    let dir = &app.edge.directory;
    Ok(dir.booth_idx(booth).map(|i| dir.booth(i).name.clone()).unwrap_or_default())
}
