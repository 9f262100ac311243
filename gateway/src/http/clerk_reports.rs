//! `GET /api/reports/clerks?from=YYYY-MM-DD&to=YYYY-MM-DD[&group=clerk,day][&format=csv]`: where
//! each clerk's signed-in time went — available, offered, talking, in wrap-up, away — with the
//! calls finished, occupancy and handling time, per clerk (and hour / day / week), for the clerks
//! of the halls in a supervisor's scope. From the hourly sums the driver's clerk state stretches
//! add up to (`store::Stretch`); an hour is complete once it has ended.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::rest::{ClerkReport, ClerkReportRow};
use protocol::ErrorCode;
use store::ClerkSums;

use super::reports::{date_range, day_start_ms, period_label, period_of, regions_within, wants_csv, ReportParams};
use super::{store_call, ApiError, ApiQuery, Caller};
use crate::state::AppState;

/// Each figure's formula, as the answer and the docs state it.
pub const FORMULAS: &[(&str, &str)] = &[
    ("calls", "calls the clerk finished (went on to wrap-up), counted in the period the call ended"),
    ("signed_in_secs", "available + offered + talk + wrap-up + away (signed in and connected)"),
    ("occupancy", "(talk + wrap-up) ÷ (available + offered + talk + wrap-up): busy share of the time ready to work"),
    ("aht_secs", "(talk + wrap-up) ÷ calls"),
];

/// The CSV's columns after the group's.
const FIGURES: [&str; 10] = [
    "calls",
    "signed_in_secs",
    "available_secs",
    "offered_secs",
    "talk_secs",
    "wrap_secs",
    "away_secs",
    "occupancy",
    "aht_secs",
    "hall",
];

pub async fn clerk_reports(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let sup = caller.supervisor()?;
    let (from_day, to_day) = date_range(&p.from, &p.to)?;
    let words: Vec<String> = match p.group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        Some(g) => g.split(',').map(|x| x.trim().to_owned()).collect(),
        None => vec!["clerk".into()],
    };
    let periods: Vec<_> = words.iter().filter_map(|w| period_of(w)).collect();
    let known = words.iter().all(|w| w == "clerk" || period_of(w).is_some());
    let unique = words.iter().collect::<std::collections::BTreeSet<_>>().len() == words.len();
    if !known || !unique || periods.len() > 1 {
        return Err(ErrorCode::InvalidField.into());
    }
    let mut group = vec!["clerk".to_owned()];
    group.extend(words.into_iter().filter(|w| w != "clerk"));
    let csv = wants_csv(p.format.as_deref())?;
    let halls = regions_within(&state.directory, state.supervisors[sup].scope);
    let period = periods.first().copied();
    let (from_ms, to_ms) = (day_start_ms(from_day), day_start_ms(to_day + 1));
    let records = state.records.clone();
    let sums = store_call("computing a clerk report", move || {
        if !records.sync_within(std::time::Duration::from_secs(5)) {
            return Err(store::StoreError::Unreachable("the records writer is waiting for the database".into()));
        }
        records.store().clerk_report(from_ms, to_ms, period, Some(&halls))
    })
    .await?;
    let rows: Vec<ClerkReportRow> = sums.iter().map(figures).collect();
    if csv {
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], to_csv(&group, &rows)?).into_response());
    }
    let formulas: BTreeMap<String, String> = FORMULAS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Ok(Json(ClerkReport { from: p.from, to: p.to, group, rows, formulas }).into_response())
}

/// The named figures of one clerk's sums.
pub fn figures(s: &ClerkSums) -> ClerkReportRow {
    let secs = |ms: i64| ms as f64 / 1000.0;
    let busy = s.in_call_ms + s.wrap_ms;
    let ready = s.available_ms + s.offered_ms + busy;
    ClerkReportRow {
        clerk: s.clerk.clone(),
        hall: s.hall.clone(),
        period: s.period_ms.map(period_label),
        calls: s.calls as u64,
        signed_in_secs: secs(ready + s.away_ms),
        available_secs: secs(s.available_ms),
        offered_secs: secs(s.offered_ms),
        talk_secs: secs(s.in_call_ms),
        wrap_secs: secs(s.wrap_ms),
        away_secs: secs(s.away_ms),
        occupancy: (ready > 0).then(|| busy as f64 / ready as f64),
        aht_secs: (s.calls > 0).then(|| secs(busy) / s.calls as f64),
    }
}

fn to_csv(group: &[String], rows: &[ClerkReportRow]) -> Result<String, ApiError> {
    let mut head: Vec<String> = group.iter().map(|g| if g == "clerk" { g.clone() } else { "period".into() }).collect();
    head.extend(FIGURES.iter().map(|f| (*f).to_owned()));
    let num = |x: f64| format!("{}", (x * 10_000.0).round() / 10_000.0);
    let body = rows.iter().map(|r| {
        let mut cells = vec![r.clerk.clone()];
        if group.len() > 1 {
            cells.push(r.period.clone().unwrap_or_default());
        }
        cells.push(r.calls.to_string());
        cells.extend(
            [r.signed_in_secs, r.available_secs, r.offered_secs, r.talk_secs, r.wrap_secs, r.away_secs].map(num),
        );
        cells.extend([r.occupancy, r.aht_secs].map(|v| v.map(num).unwrap_or_default()));
        cells.push(r.hall.clone());
        cells
    });
    super::csv_body::write(&head, body)
}
