//! Who is calling: the bearer token of a REST request verified into a [`Principal`], as an
//! extractor for any router state the gateway's [`Edge`] can be taken from.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use protocol::{ErrorCode, Role};

use std::sync::Arc;

use axum::extract::FromRef;
use host::commands::Principal;

use crate::api_error::ApiError;
use crate::auth::unix_now;
use crate::edge::Edge;

/// The verified caller of a REST request; `label` is `role:id` for audit records.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    pub label: String,
}

impl Caller {
    /// Verifies the `Authorization: Bearer` token: `401 not_authenticated` without one,
    /// `401 invalid_token` for a bad or expired one, `403 forbidden` for an unknown account.
    pub fn from_headers(state: &Edge, headers: &HeaderMap) -> Result<Self, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ErrorCode::NotAuthenticated)?;
        let claims = state.signer.verify(token, unix_now()).map_err(|_| ErrorCode::InvalidToken)?;
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

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    Arc<Edge>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Self::from_headers(&Arc::<Edge>::from_ref(state), &parts.headers)
    }
}
