//! `GET /api/staffing?week=YYYY-MM-DD`: staffing advice (潮汐) for a supervisor's scope — for each
//! hall × service × hour of the week starting on that date's Monday, the clerks needed to answer
//! the item's goal share within its target answer time, by Erlang C (`crate::staffing`), from the
//! arrivals and handling times of the same hours in the four weeks before; next to the clerks
//! signed in now and, for the hours of that week that have begun, the clerks signed in then.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::Json;
use protocol::rest::{Staffing, StaffingRow};
use protocol::ErrorCode;
use store::{Period, ReportQuery};
use tokio::sync::oneshot;

use super::{store_call, ApiError, ApiQuery, Caller};
use crate::staffing::{agents_needed, asa_secs, service_level};
use crate::state::AppState;
use china_time::{day_start_ms, period_label, DAY_MS, HOUR_MS};
use host::commands::Command;

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
    let date = china_time::parse_date(&p.week).map_err(|_| ErrorCode::InvalidField)?;
    let day_start = china_time::date_start_ms(date).map_err(|_| ErrorCode::InvalidField)?;
    let monday = china_time::day_number(china_time::week_start_ms(day_start));
    let scope = state.supervisors[sup].scope;
    let dir = state.directory.clone();
    let regions = super::reports::regions_within(&dir, scope);
    let query = ReportQuery {
        from_ms: day_start_ms(monday - 7 * HISTORY_WEEKS),
        to_ms: day_start_ms(monday),
        by_hall: true,
        by_service: true,
        period: Some(Period::Hour),
        booth_regions: Some(regions.clone()),
    };
    let records = state.records.clone();
    let week_start = day_start_ms(monday);
    let now_ms = store::now_ms();
    // The hours of the week that have begun (none for a week to come).
    let (begun_to, halls) = ((now_ms + HOUR_MS).clamp(week_start, week_start + 7 * DAY_MS), regions.clone());
    let (history, presence) = store_call("reading the staffing history", move || {
        // What the driver handed the records writer so far is in (the clerks' stretches).
        records.sync_within(std::time::Duration::from_secs(5));
        let history = records.store().report(&query)?;
        // Who was signed in during the hours of the week that have begun.
        let presence = records.store().clerk_report(week_start, begun_to, Some(Period::Hour), Some(&halls))?;
        Ok((history, presence))
    })
    .await?;
    let signed_in_then = presence_by_hour(&dir, &presence, week_start);
    let (reply, rx) = oneshot::channel();
    state.commands.send(Command::Snapshot { scope, reply }).await.map_err(|_| ErrorCode::ShuttingDown)?;
    let signed_in: HashMap<(String, String), u32> = rx
        .await
        .map_err(|_| ErrorCode::ShuttingDown)?
        .into_iter()
        .map(|r| ((r.region.to_string(), r.service.to_string()), r.clerks_eligible))
        .collect();

    // Per hall × service: tickets per hour of the week, and the handling time.
    let mut arrivals: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
    let mut handled: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for s in &history {
        let (Some(hall), Some(service), Some(at)) = (s.hall.clone(), s.service.clone(), s.period_ms) else { continue };
        let hour_of_week = (at - week_start).div_euclid(HOUR_MS).rem_euclid(168);
        *arrivals.entry((hall.clone(), service.clone(), hour_of_week)).or_default() += s.offered;
        let h = handled.entry((hall, service)).or_default();
        h.0 += s.talk_ms + s.wrap_ms;
        h.1 += s.answered;
    }
    // Hours with clerks signed in but no traffic expected show up too (people to move).
    for (hall, service, hour_of_week) in signed_in_then.keys() {
        arrivals.entry((hall.clone(), service.clone(), *hour_of_week)).or_default();
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
            // No traffic expected: no clerk needed.
            let (n, level, asa) = match offered {
                0 => (0, 1.0, 0.0),
                _ => {
                    let n = agents_needed(erlangs, aht, target, GOAL);
                    (n, service_level(n, erlangs, aht, target), asa_secs(n, erlangs, aht))
                }
            };
            let hour_start = week_start + hour_of_week * HOUR_MS;
            let then = (hour_start <= now_ms)
                .then(|| signed_in_then.get(&(hall.clone(), service.clone(), hour_of_week)).copied().unwrap_or(0.0));
            StaffingRow {
                clerks_signed_in_now: signed_in.get(&(hall.clone(), service.clone())).copied().unwrap_or(0),
                clerks_signed_in_then: then,
                hour: period_label(week_start + hour_of_week * HOUR_MS),
                hall,
                service,
                arrivals_per_hour: per_hour,
                aht_secs: aht,
                erlangs,
                clerks_needed: n,
                service_level: level,
                asa_secs: asa,
            }
        })
        .collect();
    Ok(Json(Staffing {
        week: china_time::date_string(week_start),
        history_weeks: HISTORY_WEEKS as u32,
        goal: GOAL,
        formula: FORMULA.into(),
        rows,
    }))
}

/// Per hall × service × hour of the week: the hall's clerks with the item's skill signed in
/// during that hour, on average (their signed-in time ÷ an hour).
fn presence_by_hour(
    dir: &routing::Directory,
    presence: &[store::ClerkSums],
    week_start: i64,
) -> HashMap<(String, String, i64), f64> {
    let mut out: HashMap<(String, String, i64), f64> = HashMap::new();
    for p in presence {
        let (Some(clerk), Some(at)) = (dir.clerk_idx(&p.clerk), p.period_ms) else { continue };
        let hour_of_week = (at - week_start).div_euclid(HOUR_MS);
        let signed_in = (p.available_ms + p.offered_ms + p.in_call_ms + p.wrap_ms + p.away_ms) as f64 / HOUR_MS as f64;
        for skill in &dir.clerk(clerk).skills {
            let key = (p.hall.clone(), dir.service(*skill).code.clone(), hour_of_week);
            *out.entry(key).or_default() += signed_in;
        }
    }
    out
}
