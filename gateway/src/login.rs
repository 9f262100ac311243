//! `POST /api/login`: a secret for a signed token, throttled per account and per address.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use protocol::rest::{LoginRequest, LoginResponse};
use protocol::{ErrorCode, Role};

use std::sync::Arc;

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
    State(state): State<Arc<Edge>>,
    PeerIp(ip): PeerIp,
    body: Body,
) -> Result<Json<LoginResponse>, ApiError> {
    let bytes = read_body(body, MAX_LOGIN_BODY, state.limits.body_timeout(), ErrorCode::MessageTooLarge).await?;
    let req: LoginRequest = serde_json::from_slice(&bytes).map_err(|_| ErrorCode::BadMessage)?;
    if req.secret.len() > 256 || req.id.len() > 128 {
        return Err(ErrorCode::InvalidField.into());
    }
    let now = tokio::time::Instant::now();
    if let Err(wait) = state.login_throttle.check(req.role, &req.id, ip, now) {
        tracing::info!(role = req.role.as_str(), wait_secs = wait.as_secs(), "login refused: backing off");
        return Err(ApiError::retry_after(ErrorCode::TooManyAttempts, wait));
    }
    let dir = &state.directory;
    let (hash, name) = match req.role {
        Role::Booth => {
            dir.booth_idx(&req.id).map(|i| (&state.accounts.booths[i.0 as usize], dir.booth(i).name.clone()))
        }
        Role::Clerk => {
            dir.clerk_idx(&req.id).map(|i| (&state.accounts.clerks[i.0 as usize], dir.clerk(i).name.clone()))
        }
        Role::Supervisor => state
            .supervisor_idx(&req.id)
            .map(|i| (&state.accounts.supervisors[i], state.accounts.supervisor_names[i].clone())),
    }
    .map(|(h, n)| (Some(h.clone()), n))
    .unwrap_or((None, String::new()));
    let secret = req.secret.clone();
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
    if !ok {
        state.login_throttle.failed(req.role, &req.id, ip, tokio::time::Instant::now());
        tracing::info!(role = req.role.as_str(), "login refused");
        return Err(ErrorCode::BadCredentials.into());
    }
    state.login_throttle.succeeded(req.role, &req.id, ip);
    let exp = unix_now() + state.token_ttl.as_secs();
    let token = state.signer.issue(&Claims { role: req.role, id: req.id.clone(), exp });
    tracing::info!(role = req.role.as_str(), id = %req.id, "login");
    Ok(Json(LoginResponse { token, role: req.role, id: req.id, display_name: name, expires_at_unix: exp }))
}
