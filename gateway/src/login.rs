//! `POST /api/login`: a secret for a signed token, throttled per account and per address.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use protocol::rest::{LoginRequest, LoginResponse};
use protocol::{ErrorCode, Role};

use crate::api_error::ApiError;
use crate::auth::{unix_now, Claims, SecretHash};
use crate::edge::Edge;
use crate::rest::read_body;

/// A login body is a few hundred bytes; anything near this is not a login.
const MAX_LOGIN_BODY: usize = 4 * 1024;

/// The client's address as the listener saw it (unspecified when served without a socket, in tests).
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(PeerIp(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

pub async fn login(
    State(app): State<crate::state::AppState>,
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

/// Checks an account's secret, throttled per account and per address: its display name, or the
/// refusal (`bad_credentials`, `too_many_attempts`).
pub async fn verify_secret(state: &Edge, role: Role, id: &str, secret: &str, ip: IpAddr) -> Result<String, ApiError> {
    if secret.len() > 256 || id.len() > 128 {
        return Err(ErrorCode::InvalidField.into());
    }
    throttle(state, role, id, ip)?;
    let dir = &state.directory;
    let (hash, name) = match role {
        Role::Booth => dir.booth_idx(id).map(|i| (&state.accounts.booths[i.0 as usize], dir.booth(i).name.clone())),
        Role::Clerk => dir.clerk_idx(id).map(|i| (&state.accounts.clerks[i.0 as usize], dir.clerk(i).name.clone())),
        Role::Supervisor => state
            .supervisor_idx(id)
            .map(|i| (&state.accounts.supervisors[i], state.accounts.supervisor_names[i].clone())),
    }
    .map(|(h, n)| (Some(h.clone()), n))
    .unwrap_or((None, String::new()));
    let secret = secret.to_owned();
    // Hash even for unknown accounts so that timing does not reveal which ids exist.
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => h.verify(&secret),
        None => {
            let dummy = SecretHash::parse(
                "pbkdf2-sha256$10000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )
            .expect("the dummy hash is well formed");
            let _ = dummy.verify(&secret);
            false
        }
    })
    .await
    .map_err(|_| ErrorCode::Internal)?;
    settle(state, role, id, ip, ok)?;
    Ok(name)
}

/// Checks a kiosk's device token for `booth`: set up for that booth and not revoked.
async fn verify_device(app: &crate::state::AppState, booth: &str, token: &str, ip: IpAddr) -> Result<String, ApiError> {
    if token.len() > 128 || booth.len() > 128 {
        return Err(ErrorCode::InvalidField.into());
    }
    throttle(&app.edge, Role::Booth, booth, ip)?;
    let hash = crate::http::devices::token_hash(token);
    let records = app.records.clone();
    let found = crate::http::store_call("checking a device", move || records.store().device_by_token(&hash)).await?;
    let device = found.filter(|d| d.booth == booth && d.revoked_ms.is_none());
    settle(&app.edge, Role::Booth, booth, ip, device.is_some())?;
    if let Some(device) = device {
        let records = app.records.clone();
        // Best effort: the list's "last signed in" column.
        let _ = crate::http::store_call("noting a device's sign-in", move || {
            records.store().device_signed_in(&device.id, store::now_ms())
        })
        .await;
    }
    let dir = &app.edge.directory;
    Ok(dir.booth_idx(booth).map(|i| dir.booth(i).name.clone()).unwrap_or_default())
}

fn throttle(state: &Edge, role: Role, id: &str, ip: IpAddr) -> Result<(), ApiError> {
    if let Err(wait) = state.login_throttle.check(role, id, ip, tokio::time::Instant::now()) {
        tracing::info!(role = role.as_str(), wait_secs = wait.as_secs(), "login refused: backing off");
        return Err(ApiError::retry_after(ErrorCode::TooManyAttempts, wait));
    }
    Ok(())
}

fn settle(state: &Edge, role: Role, id: &str, ip: IpAddr, ok: bool) -> Result<(), ApiError> {
    if !ok {
        state.login_throttle.failed(role, id, ip, tokio::time::Instant::now());
        tracing::info!(role = role.as_str(), "login refused");
        return Err(ErrorCode::BadCredentials.into());
    }
    state.login_throttle.succeeded(role, id, ip);
    Ok(())
}
