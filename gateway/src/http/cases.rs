//! `GET /api/cases`: case records (办件) with their ratings, scoped to the caller, by time range and
//! page cursor; `GET /api/tickets/{id}/events`: one ticket's event log, for supervisors.

use axum::extract::{Path, State};
use axum::Json;
use protocol::rest::{CaseList, TicketEvent, TicketEvents};
use protocol::ErrorCode;
use routing::RegionIdx;
use store::{CaseCursor, CaseQuery, CaseScope};

use super::{store_call, ApiError, ApiQuery, Caller};
use crate::state::AppState;
use host::commands::Principal;
use host::records::{short_number, store_id};

/// Largest page of `GET /api/cases`.
pub const MAX_CASES: usize = 500;

#[derive(Debug, serde::Deserialize)]
pub struct CasesQuery {
    #[serde(default = "default_case_limit")]
    limit: usize,
    /// Recorded at or after this Unix time.
    since: Option<u64>,
    /// Recorded before this Unix time.
    until: Option<u64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Supervisors: only this clerk's cases (the clerk's hall must be in scope).
    clerk: Option<String>,
    /// Supervisors: only this region within their scope (its halls and booths, and below).
    region: Option<String>,
}

fn default_case_limit() -> usize {
    50
}

/// `<recorded_ms>:<id>` ↔ the store's cursor.
fn parse_cursor(c: &str) -> Option<CaseCursor> {
    let (ms, id) = c.split_once(':')?;
    Some(CaseCursor { recorded_ms: ms.parse().ok()?, id: id.to_owned() }).filter(|c| !c.id.is_empty())
}

/// The region ids within `scope`.
fn regions_within(state: &AppState, scope: RegionIdx) -> Vec<String> {
    let dir = &state.directory;
    (0..dir.regions.len() as u32)
        .map(RegionIdx)
        .filter(|r| dir.is_within(*r, scope))
        .map(|r| dir.region(r).id.clone())
        .collect()
}

/// Whose cases the caller may list, narrowed by the `clerk` / `region` filters.
fn case_scope(state: &AppState, caller: &Caller, q: &CasesQuery) -> Result<CaseScope, ApiError> {
    let dir = &state.directory;
    match caller.who {
        Principal::Clerk(c) => {
            if q.clerk.as_ref().is_some_and(|id| *id != dir.clerk(c).id) || q.region.is_some() {
                return Err(ErrorCode::Forbidden.into());
            }
            Ok(CaseScope::Clerk(dir.clerk(c).id.clone()))
        }
        Principal::Supervisor(s) => {
            let scope = state.supervisors[s].scope;
            if let Some(id) = &q.clerk {
                let clerk = dir.clerk_idx(id).ok_or(ErrorCode::NotFound)?;
                if !dir.is_within(dir.clerk(clerk).hall, scope) {
                    return Err(ErrorCode::Forbidden.into());
                }
                return Ok(CaseScope::Clerk(id.clone()));
            }
            let narrowed = match &q.region {
                Some(id) => {
                    let r = dir.region_idx(id).ok_or(ErrorCode::NotFound)?;
                    if !dir.is_within(r, scope) {
                        return Err(ErrorCode::Forbidden.into());
                    }
                    r
                }
                None => scope,
            };
            // A case is in scope when its clerk's hall or its booth's region is.
            Ok(CaseScope::Regions(regions_within(state, narrowed)))
        }
        Principal::Booth(_) => Err(ErrorCode::Forbidden.into()),
    }
}

/// `GET /api/cases?limit=&since=&until=&cursor=&clerk=&region=`: a page of case records, newest
/// first (see docs/protocol.md).
pub async fn cases(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CasesQuery>,
) -> Result<Json<CaseList>, ApiError> {
    if !(1..=MAX_CASES).contains(&q.limit) {
        return Err(ErrorCode::InvalidField.into());
    }
    let after = match &q.cursor {
        Some(c) => Some(parse_cursor(c).ok_or(ErrorCode::InvalidField)?),
        None => None,
    };
    let ms = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let query = CaseQuery {
        scope: case_scope(&state, &caller, &q)?,
        since_ms: q.since.map(ms),
        until_ms: q.until.map(ms),
        after,
        limit: q.limit,
    };
    let records = state.records.clone();
    // Read your writes: what was queued for the store before this request is committed first.
    // While the database is away the writer holds the records back: answer 503, not a stale list.
    let cases = store_call("reading case records", move || {
        if !records.sync_within(std::time::Duration::from_secs(5)) {
            return Err(store::StoreError::Unreachable("the records writer is waiting for the database".into()));
        }
        records.cases(&query)
    })
    .await?;
    let next_cursor = (cases.len() == q.limit)
        .then(|| cases.last().map(|c| format!("{}:{}", c.recorded_unix as i64 * 1000, c.id)))
        .flatten();
    Ok(Json(CaseList { cases, next_cursor }))
}

/// `GET /api/tickets/{id}/events`: a supervisor whose scope covers the ticket's booth reads the
/// ticket's event log. Unknown ticket → 404; out of scope, or not a supervisor → 403.
pub async fn ticket_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(ticket): Path<u64>,
) -> Result<Json<TicketEvents>, ApiError> {
    let Principal::Supervisor(s) = caller.who else { return Err(ErrorCode::Forbidden.into()) };
    let records = state.records.clone();
    let rows = store_call("reading ticket events", move || {
        if !records.sync_within(std::time::Duration::from_secs(5)) {
            return Err(store::StoreError::Unreachable("the records writer is waiting for the database".into()));
        }
        records.store().ticket_events(&store_id(ticket))
    })
    .await?;
    let region = rows.first().ok_or(ErrorCode::NotFound)?.booth_region.clone();
    let dir = &state.directory;
    if !dir.region_idx(&region).is_some_and(|r| dir.is_within(r, state.supervisors[s].scope)) {
        return Err(ErrorCode::Forbidden.into());
    }
    let events = rows
        .into_iter()
        .map(|e| TicketEvent {
            seq: e.seq,
            at_ms: e.at_ms,
            kind: e.kind,
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(Json(TicketEvents { ticket, number: short_number(ticket), events }))
}
