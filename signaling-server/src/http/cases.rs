//! `GET /api/cases`: case records (办件) with their ratings, scoped to the caller.

use axum::extract::State;
use axum::Json;
use protocol::ErrorCode;
use store::CaseScope;

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
    let scope = match caller.who {
        Principal::Clerk(c) => CaseScope::Clerk(state.directory.clerk(c).id.clone()),
        Principal::Supervisor(s) => {
            // The regions within the supervisor's scope: a case is theirs when its clerk's hall or
            // its booth's region is one of them.
            let (dir, scope) = (&state.directory, state.supervisors[s].scope);
            let regions = (0..dir.regions.len() as u32)
                .map(routing::RegionIdx)
                .filter(|r| dir.is_within(*r, scope))
                .map(|r| dir.region(r).id.clone())
                .collect();
            CaseScope::Regions(regions)
        }
        Principal::Booth(_) => return Err(ErrorCode::Forbidden.into()),
    };
    let (log, limit) = (state.cases.clone(), q.limit);
    // Read your writes: what was queued for the store before this request is committed first.
    // While the database is away the writer holds the records back: answer 503, not a stale list.
    let cases = blocking_io("reading case records", move || {
        if !log.sync_within(std::time::Duration::from_secs(5)) {
            return Ok(None);
        }
        log.recent_cases(limit, &scope).map(Some)
    })
    .await?
    .ok_or_else(|| ApiError::retry_after(ErrorCode::ServerBusy, std::time::Duration::from_secs(5)))?;
    Ok(Json(protocol::rest::CaseList { cases }))
}
