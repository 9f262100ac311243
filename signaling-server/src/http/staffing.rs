//! `GET /api/staffing?week=YYYY-MM-DD`: staffing advice (潮汐) for a supervisor's scope — for each
//! hall × service × hour of the week starting on that date's Monday, the clerks needed to answer
//! the item's goal share within its target answer time, by Erlang C (`crate::staffing`), from the
//! arrivals and handling times of the same hours in the four weeks before; next to the clerks
//! signed in now.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::Json;
use protocol::rest::{Staffing, StaffingRow};
use protocol::ErrorCode;
use store::{Period, ReportQuery};
use tokio::sync::oneshot;

use super::reports::{civil_days, day_start_ms, period_label};
use super::{store_call, ApiError, ApiQuery, Caller};
use crate::commands::Command;
use crate::staffing::{agents_needed, asa_secs, service_level};
use crate::AppState;

/// Weeks of history the forecast averages.
pub const HISTORY_WEEKS: i64 = 4;
/// The service-level goal: this share answered within the item's target answer time.
pub const GOAL: f64 = 0.8;

pub const FORMULA: &str = "A = arrivals_per_hour × aht_secs / 3600; P(wait) = C(N, A) = N·B / (N − A·(1 − B)) with \
    Erlang B(N, A); service_level = 1 − C(N, A)·exp(−(N − A)·target_answer_secs / aht_secs); clerks_needed = the \
    smallest N > A with service_level ≥ goal; asa_secs = C(N, A)·aht_secs / (N − A)";

#[derive(Debug, serde::Deserialize)]
pub struct StaffingParams {
    week: String,
}

pub async fn staffing(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<StaffingParams>,
) -> Result<Json<Staffing>, ApiError> {
    let sup = caller.supervisor()?;
    let day = civil_days(&p.week).ok_or(ErrorCode::InvalidField)?;
    // 1970-01-01 was a Thursday: days + 3 counts from a Monday.
    let monday = day - (day + 3).rem_euclid(7);
    let scope = state.supervisors[sup].scope;
    let dir = state.directory.clone();
    let regions = super::reports::regions_within(&dir, scope);
    let query = ReportQuery {
        from_ms: day_start_ms(monday - 7 * HISTORY_WEEKS),
        to_ms: day_start_ms(monday),
        by_hall: true,
        by_service: true,
        period: Some(Period::Hour),
        booth_regions: Some(regions),
    };
    let records = state.records.clone();
    let history = store_call("reading the staffing history", move || records.store().report(&query)).await?;
    let (reply, rx) = oneshot::channel();
    state.commands.send(Command::Snapshot { scope, reply }).await.map_err(|_| ErrorCode::ShuttingDown)?;
    let signed_in: HashMap<(String, String), u32> = rx
        .await
        .map_err(|_| ErrorCode::ShuttingDown)?
        .into_iter()
        .map(|r| ((r.region.to_string(), r.service.to_string()), r.clerks_eligible))
        .collect();

    // Per hall × service: tickets per hour of the week, and the handling time.
    let week_start = day_start_ms(monday);
    let mut arrivals: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
    let mut handled: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for s in &history {
        let (Some(hall), Some(service), Some(at)) = (s.hall.clone(), s.service.clone(), s.period_ms) else { continue };
        let hour_of_week = (at - week_start).div_euclid(3_600_000).rem_euclid(168);
        *arrivals.entry((hall.clone(), service.clone(), hour_of_week)).or_default() += s.offered;
        let h = handled.entry((hall, service)).or_default();
        h.0 += s.talk_ms + s.wrap_ms;
        h.1 += s.answered;
    }
    let rows = arrivals
        .into_iter()
        .map(|((hall, service, hour_of_week), offered)| {
            let item = dir.service_idx(&service).map(|s| dir.service(s));
            let expected = item.map_or(300.0, |s| s.expected_handle.as_secs_f64());
            let target = item.map_or(60.0, |s| s.target_answer.as_secs_f64());
            let aht = match handled.get(&(hall.clone(), service.clone())) {
                Some((ms, n)) if *n > 0 => *ms as f64 / 1000.0 / *n as f64,
                _ => expected,
            }
            .max(1.0);
            let per_hour = offered as f64 / HISTORY_WEEKS as f64;
            let erlangs = per_hour * aht / 3600.0;
            let n = agents_needed(erlangs, aht, target, GOAL);
            StaffingRow {
                clerks_signed_in_now: signed_in.get(&(hall.clone(), service.clone())).copied().unwrap_or(0),
                hour: period_label(week_start + hour_of_week * 3_600_000),
                hall,
                service,
                arrivals_per_hour: per_hour,
                aht_secs: aht,
                erlangs,
                clerks_needed: n,
                service_level: service_level(n, erlangs, aht, target),
                asa_secs: asa_secs(n, erlangs, aht),
            }
        })
        .collect();
    Ok(Json(Staffing {
        week: crate::documents::china_date((day_start_ms(monday) / 1000 + 8 * 3600) as u64),
        history_weeks: HISTORY_WEEKS as u32,
        goal: GOAL,
        formula: FORMULA.into(),
        rows,
    }))
}
