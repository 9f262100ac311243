//! `GET /api/reports?from=YYYY-MM-DD&to=YYYY-MM-DD&group=hall,service,hour[&format=csv]`: the
//! standard contact-centre figures per home hall × service × hour / day / week, for a supervisor's
//! scope, computed from the closed tickets' facts (`store::reports`) the same way every time. The
//! formulas travel with the answer (`formulas`) and are in `docs/protocol.md`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::rest::{Report, ReportRow};
use protocol::ErrorCode;
use store::{Period, ReportQuery, ReportSums, RATING_WORDS, WAIT_BUCKETS_MS};

use super::{store_call, ApiError, ApiQuery, Caller};
use crate::state::AppState;
use host::commands::Principal;

/// The longest range one report covers.
pub const MAX_REPORT_DAYS: i64 = 400;

/// The query of both report endpoints (`/api/reports`, `/api/reports/clerks`).
#[derive(Debug, serde::Deserialize)]
pub struct ReportParams {
    pub(crate) from: String,
    pub(crate) to: String,
    #[serde(default)]
    pub(crate) group: Option<String>,
    #[serde(default)]
    pub(crate) format: Option<String>,
}

/// Each figure's formula, as the answer and the docs state it.
pub const FORMULAS: &[(&str, &str)] = &[
    ("offered", "tickets asked for in the range (by the time they were asked for)"),
    ("answered", "offered tickets a clerk accepted at least once"),
    ("abandoned", "offered tickets closed cancelled or booth_lost before any answer"),
    ("no_clerk", "offered tickets closed no_clerk"),
    ("service_level", "answered within the item's target answer time ÷ answered"),
    ("asa_secs", "Σ (first answer − asked) over answered ÷ answered"),
    ("aht_secs", "(Σ talk time of the tickets' calls + Σ wrap-up of their cases) ÷ answered"),
    ("avg_wait_secs", "Σ (first answer, or close if never answered, − asked) ÷ offered"),
    (
        "p90_wait_secs",
        "the wait (as avg_wait) that 90 % of offered tickets did not exceed, in 5-second steps (the step's upper end)",
    ),
    ("overflow_rate", "answered by a hall other than the home hall ÷ answered"),
    ("local_served_rate", "answered by the home hall ÷ answered (1 − overflow_rate)"),
    ("requeues", "times offered tickets went back to the head after a lost clerk or failed media"),
    ("bad_rating_rate", "(dissatisfied + very_dissatisfied) ÷ rated"),
    ("estimate_mae_secs", "Σ |first estimate shown − actual wait to answer| ÷ answered tickets shown an estimate"),
    (
        "estimate_bias_secs",
        "Σ (first estimate shown − actual wait to answer) ÷ the same (positive: estimates too long)",
    ),
];

pub async fn reports(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let Principal::Supervisor(s) = caller.who else { return Err(ErrorCode::Forbidden.into()) };
    let (from_day, to_day) = date_range(&p.from, &p.to)?;
    let group: Vec<String> = match p.group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        Some(g) => g.split(',').map(|x| x.trim().to_owned()).collect(),
        None => vec!["hall".into(), "service".into(), "day".into()],
    };
    let periods: Vec<Period> = group.iter().filter_map(|g| period_of(g)).collect();
    let known = group.iter().all(|g| g == "hall" || g == "service" || period_of(g).is_some());
    let unique = group.iter().collect::<std::collections::BTreeSet<_>>().len() == group.len();
    if !known || !unique || periods.len() > 1 {
        return Err(ErrorCode::InvalidField.into());
    }
    let csv = wants_csv(p.format.as_deref())?;
    let dir = state.directory.clone();
    let scope = state.supervisors[s].scope;
    let regions = regions_within(&dir, scope);
    let query = ReportQuery {
        from_ms: day_start_ms(from_day),
        to_ms: day_start_ms(to_day + 1),
        by_hall: group.iter().any(|g| g == "hall"),
        by_service: group.iter().any(|g| g == "service"),
        period: periods.first().copied(),
        booth_regions: Some(regions),
    };
    let records = state.records.clone();
    let sums = store_call("computing a report", move || {
        if !records.sync_within(std::time::Duration::from_secs(5)) {
            return Err(store::StoreError::Unreachable("the records writer is waiting for the database".into()));
        }
        records.store().report(&query)
    })
    .await?;
    let rows: Vec<ReportRow> = sums.iter().map(figures).collect();
    if csv {
        let body = to_csv(&group, &rows)?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response());
    }
    let formulas = FORMULAS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Ok(Json(Report { from: p.from, to: p.to, group, rows, formulas }).into_response())
}

/// `from` and `to` (China dates, inclusive) as day numbers: both valid, in order, at most
/// [`MAX_REPORT_DAYS`] apart.
pub(crate) fn date_range(from: &str, to: &str) -> Result<(i64, i64), ApiError> {
    let day = |text: &str| china_time::parse_date(text).ok().and_then(|d| china_time::day_of_date(d).ok());
    match (day(from), day(to)) {
        (Some(f), Some(t)) if f <= t && t - f < MAX_REPORT_DAYS => Ok((f, t)),
        _ => Err(ErrorCode::InvalidField.into()),
    }
}

/// `csv` or `json` (the default) from a `format` parameter.
pub(crate) fn wants_csv(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(ErrorCode::InvalidField.into()),
    }
}

/// The ids of `scope` and every region below it: the booth regions a supervisor's report covers.
pub(crate) fn regions_within(dir: &routing::Directory, scope: routing::RegionIdx) -> Vec<String> {
    (0..dir.regions.len() as u32)
        .map(routing::RegionIdx)
        .filter(|r| dir.is_within(*r, scope))
        .map(|r| dir.region(r).id.clone())
        .collect()
}

pub(crate) fn period_of(word: &str) -> Option<Period> {
    match word {
        "hour" => Some(Period::Hour),
        "day" => Some(Period::Day),
        "week" => Some(Period::Week),
        _ => None,
    }
}

/// The named figures of one group's sums.
pub fn figures(s: &ReportSums) -> ReportRow {
    let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
    let secs = |ms: i64, n: i64| (n > 0).then(|| ms as f64 / 1000.0 / n as f64);
    let rated: i64 = s.ratings.iter().sum();
    ReportRow {
        hall: s.hall.clone(),
        service: s.service.clone(),
        period: s.period_ms.map(period_label),
        offered: s.offered as u64,
        answered: s.answered as u64,
        abandoned: s.abandoned as u64,
        no_clerk: s.no_clerk as u64,
        service_level: ratio(s.answered_within_target, s.answered),
        asa_secs: secs(s.answer_wait_ms, s.answered),
        aht_secs: secs(s.talk_ms + s.wrap_ms, s.answered),
        avg_wait_secs: secs(s.wait_ms, s.offered),
        p90_wait_secs: p90(&s.wait_buckets, s.offered),
        overflow_rate: ratio(s.overflow, s.answered),
        local_served_rate: ratio(s.answered - s.overflow, s.answered),
        requeues: s.requeues as u64,
        ratings: RATING_WORDS
            .iter()
            .zip(s.ratings)
            .map(|(w, n)| ((*w).to_owned(), n as u64))
            .collect::<BTreeMap<_, _>>(),
        rated: rated as u64,
        bad_rating_rate: ratio(s.ratings[3] + s.ratings[4], rated),
        estimate_mae_secs: secs(s.estimate_abs_error_ms, s.estimated),
        estimate_bias_secs: secs(s.estimate_error_ms, s.estimated),
    }
}

/// The upper end of the first wait bucket at which 90 % of the tickets are counted.
fn p90(buckets: &[i64], total: i64) -> Option<f64> {
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        // 10 × seen ≥ 9 × total: 90 % reached, in integers.
        if total > 0 && 10 * seen >= 9 * total {
            return Some(WAIT_BUCKETS_MS[i] as f64 / 1000.0);
        }
    }
    None
}

fn to_csv(group: &[String], rows: &[ReportRow]) -> Result<String, ApiError> {
    let mut head: Vec<String> =
        group.iter().map(|g| if period_of(g).is_some() { "period".into() } else { g.clone() }).collect();
    let figures = [
        "offered",
        "answered",
        "abandoned",
        "no_clerk",
        "service_level",
        "asa_secs",
        "aht_secs",
        "avg_wait_secs",
        "p90_wait_secs",
        "overflow_rate",
        "local_served_rate",
        "requeues",
    ];
    head.extend(figures.iter().map(|f| (*f).to_owned()));
    head.extend(RATING_WORDS.iter().map(|w| format!("rating_{w}")));
    head.extend(["rated", "bad_rating_rate", "estimate_mae_secs", "estimate_bias_secs"].map(str::to_owned));
    let num = |v: Option<f64>| v.map(|x| format!("{}", (x * 10_000.0).round() / 10_000.0)).unwrap_or_default();
    let body = rows.iter().map(|r| {
        let mut cells: Vec<String> = vec![];
        for g in group {
            cells.push(match g.as_str() {
                "hall" => r.hall.clone().unwrap_or_default(),
                "service" => r.service.clone().unwrap_or_default(),
                _ => r.period.clone().unwrap_or_default(),
            });
        }
        cells.extend([r.offered, r.answered, r.abandoned, r.no_clerk].map(|n| n.to_string()));
        cells.extend(
            [
                r.service_level,
                r.asa_secs,
                r.aht_secs,
                r.avg_wait_secs,
                r.p90_wait_secs,
                r.overflow_rate,
                r.local_served_rate,
            ]
            .map(num),
        );
        cells.push(r.requeues.to_string());
        cells.extend(RATING_WORDS.iter().map(|w| r.ratings.get(*w).copied().unwrap_or(0).to_string()));
        cells.push(r.rated.to_string());
        cells.extend([r.bad_rating_rate, r.estimate_mae_secs, r.estimate_bias_secs].map(num));
        cells
    });
    super::csv_body::write(&head, body)
}

pub(crate) use china_time::{day_start_ms, period_label};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_two_china_dates_in_order_and_not_too_far_apart() {
        assert_eq!(date_range("1970-01-01", "1970-01-01").ok(), Some((0, 0)));
        assert_eq!(date_range("2026-12-01", "2026-12-02").ok(), Some((20_788, 20_789)));
        assert_eq!(period_label(day_start_ms(20_789) + 9 * 3_600_000), "2026-12-02T09:00+08:00");
        for (from, to) in [("2026-02-29", "2026-03-01"), ("2026-13-01", "2026-13-02"), ("26-12-01", "26-12-02")] {
            assert!(date_range(from, to).is_err(), "{from}");
        }
        assert!(date_range("2026-12-02", "2026-12-01").is_err());
        assert!(date_range("2025-01-01", "2026-12-01").is_err());
    }

    #[test]
    fn the_90th_percentile_is_the_step_where_90_percent_are_counted() {
        // Ten tickets: nine within the first 5 s, one at 42 s (the 40–45 s bucket).
        let mut buckets = vec![0; WAIT_BUCKETS_MS.len()];
        (buckets[0], buckets[8]) = (9, 1);
        assert_eq!(p90(&buckets, 10), Some(5.0));
        (buckets[0], buckets[8]) = (8, 2);
        assert_eq!(p90(&buckets, 10), Some(45.0));
        // Past a minute the buckets are 15 s wide: 80 s is counted in 75–90 s.
        let mut wide = vec![0; WAIT_BUCKETS_MS.len()];
        wide[13] = 1;
        assert_eq!(p90(&wide, 1), Some(90.0));
        assert_eq!(p90(&[], 0), None);
    }
}
