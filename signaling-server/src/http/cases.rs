//! `GET /api/cases`: case records (办件) with their ratings, scoped to the caller.

use axum::extract::State;
use axum::Json;
use protocol::ErrorCode;

use super::{blocking_io, ApiError, ApiQuery, Caller};
use crate::driver::Principal;
use crate::AppState;

/// Largest page of `GET /api/cases`.
pub const MAX_CASES: usize = 500;

#[derive(Debug, serde::Deserialize)]
pub struct CasesQuery {
    #[serde(default = "default_case_limit")]
    limit: usize,
}

fn default_case_limit() -> usize {
    50
}

/// `GET /api/cases?limit=N` (1–500, else `400 invalid_field`): a clerk's own case records, or those
/// of a supervisor's scope (the clerk's hall or the booth's region within it), newest first.
pub async fn cases(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CasesQuery>,
) -> Result<Json<protocol::rest::CaseList>, ApiError> {
    if !(1..=MAX_CASES).contains(&q.limit) {
        return Err(ErrorCode::InvalidField.into());
    }
    let keep: Box<dyn Fn(&protocol::rest::CaseRecord) -> bool + Send> = match caller.who {
        Principal::Clerk(c) => {
            let id = state.directory.clerk(c).id.clone();
            Box::new(move |r| r.clerk == id)
        }
        Principal::Supervisor(s) => {
            let (dir, scope) = (state.directory.clone(), state.supervisors[s].scope);
            let within = move |region: &str| dir.region_idx(region).is_some_and(|r| dir.is_within(r, scope));
            Box::new(move |r| within(&r.hall) || within(&r.booth_region))
        }
        Principal::Booth(_) => return Err(ErrorCode::Forbidden.into()),
    };
    let (log, limit) = (state.cases.clone(), q.limit);
    let cases = blocking_io("reading the case log", move || log.recent_cases(limit, keep)).await?;
    Ok(Json(protocol::rest::CaseList { cases }))
}
