//! Checking an account's secret for a sign-in, throttled per account and per address, and the
//! client's address (the handler is `http::sign_in`).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use protocol::{ErrorCode, Role};

use crate::api_error::ApiError;
use crate::auth::SecretHash;
use crate::edge::Edge;

/// A login body is a few hundred bytes; anything near this is not a login.
pub(crate) const MAX_LOGIN_BODY: usize = 4 * 1024;

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

pub(crate) fn throttle(state: &Edge, role: Role, id: &str, ip: IpAddr) -> Result<(), ApiError> {
    if let Err(wait) = state.login_throttle.check(role, id, ip, tokio::time::Instant::now()) {
        tracing::info!(role = role.as_str(), wait_secs = wait.as_secs(), "login refused: backing off");
        return Err(ApiError::retry_after(ErrorCode::TooManyAttempts, wait));
    }
    Ok(())
}

pub(crate) fn settle(state: &Edge, role: Role, id: &str, ip: IpAddr, ok: bool) -> Result<(), ApiError> {
    if !ok {
        state.login_throttle.failed(role, id, ip, tokio::time::Instant::now());
        tracing::info!(role = role.as_str(), "login refused");
        return Err(ErrorCode::BadCredentials.into());
    }
    state.login_throttle.succeeded(role, id, ip);
    Ok(())
}
