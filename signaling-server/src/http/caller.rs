//! Who is calling: the bearer token of a REST request verified into a [`Principal`], as an
//! extractor, plus the helper that runs blocking file I/O for handlers.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use protocol::{ErrorCode, Role};

use super::ApiError;
use crate::AppState;
use gateway::auth::unix_now;
use host::commands::Principal;

/// The verified caller of a REST request; `label` is `role:id` for audit records.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    pub label: String,
}

impl Caller {
    /// Verifies the `Authorization: Bearer` token: `401 not_authenticated` without one,
    /// `401 invalid_token` for a bad or expired one, `403 forbidden` for an unknown account.
    pub fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ErrorCode::NotAuthenticated)?;
        let claims = state.edge.signer.verify(token, unix_now()).map_err(|_| ErrorCode::InvalidToken)?;
        let dir = &state.directory;
        let who = match claims.role {
            Role::Booth => dir.booth_idx(&claims.id).map(Principal::Booth),
            Role::Clerk => dir.clerk_idx(&claims.id).map(Principal::Clerk),
            Role::Supervisor => state.supervisor_idx(&claims.id).map(Principal::Supervisor),
        }
        .ok_or(ErrorCode::Forbidden)?;
        Ok(Self { who, label: format!("{}:{}", claims.role.as_str(), claims.id) })
    }

    /// The supervisor's index, or `403 forbidden`.
    pub fn supervisor(&self) -> Result<usize, ApiError> {
        match self.who {
            Principal::Supervisor(s) => Ok(s),
            _ => Err(ErrorCode::Forbidden.into()),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Self::from_headers(state, &parts.headers)
    }
}

/// Runs a blocking records-store call off the async workers. The database being away (or
/// restarting) is `503 server_busy` with `retry_after_secs`; any other failure is logged as `what`
/// and answered `500 internal`.
pub async fn store_call<T: Send + 'static>(
    what: &'static str,
    call: impl FnOnce() -> Result<T, store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(call).await.map_err(|_| ApiError::from(ErrorCode::Internal))?.map_err(|e| {
        tracing::error!(error = %e, "{what} failed");
        match e {
            store::StoreError::Unreachable(_) => {
                ApiError::retry_after(ErrorCode::ServerBusy, std::time::Duration::from_secs(5))
            }
            _ => ApiError::from(ErrorCode::Internal),
        }
    })
}
