//! Historical service figures. One row per ticket (`ticket_facts`), written when the ticket
//! closes, from what its event log saw: when it was asked for and answered, by which hall, how it
//! ended, how long its calls lasted, how often it was re-queued, the first wait estimate shown.
//!
//! Each fact is also added, in the same transaction, to two roll-ups — `report_hours` and
//! `report_days`: sums per hour (or day) asked × booth region × home hall × service, with the
//! waits counted in [`WAIT_BUCKETS_MS`] (for the 90th percentile); a case adds its wrap-up time and
//! a rating its value to its ticket's roll-up rows in the transaction that writes them. A report
//! sums roll-up rows: hours for an hourly report, days otherwise, so a month of a province reads
//! tens of thousands of rows, not millions of tickets. The server turns the sums into the named
//! figures (`docs/protocol.md`, "Reports"). Operational rows, not chained (cases and ratings are).

use serde::Serialize;

pub use desk::ticket_log::TicketFactRow;

use crate::backend::{Row, Value};
use crate::rows::placeholders;
use crate::{Result, Store};

const FACT_COLUMNS: &str = "ticket_id, booth, booth_region, home_hall, service, requested_ms, answered_ms, \
     answered_hall, answered_clerk, target_secs, closed_ms, outcome, talk_ms, requeues, estimate_secs";

/// How a report's rows are split in time (China time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Hour,
    Day,
    /// Weeks from Monday.
    Week,
}

// The SQL groups by `(ms + CHINA_MS) / width`, the same arithmetic as `china_time`'s buckets.
pub(crate) use china_time::{DAY_MS, HOUR_MS, OFFSET_MS as CHINA_MS};

impl Period {
    /// The SQL for a roll-up row's period number, from its `slot` (an hour in `report_hours`, a
    /// day in `report_days`).
    fn sql(self) -> &'static str {
        match self {
            Period::Hour | Period::Day => "slot",
            // 1970-01-01 was a Thursday: +3 days makes weeks start on Monday.
            Period::Week => "(slot + 3) / 7",
        }
    }

    /// When period number `n` starts (Unix ms).
    pub fn start_ms(self, n: i64) -> i64 {
        match self {
            Period::Hour => n * HOUR_MS - CHINA_MS,
            Period::Day => n * DAY_MS - CHINA_MS,
            Period::Week => (n * 7 - 3) * DAY_MS - CHINA_MS,
        }
    }
}

/// What to add up.
#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    /// Tickets asked for in `[from_ms, to_ms)`.
    pub from_ms: i64,
    pub to_ms: i64,
    pub by_hall: bool,
    pub by_service: bool,
    pub period: Option<Period>,
    /// Only tickets of booths in these regions (`None`: all).
    pub booth_regions: Option<Vec<String>>,
}

/// The upper ends of the wait buckets the roll-ups count (ms): 5-second steps to a minute, 15 s to
/// three, a minute to ten, five minutes to half an hour, and one bucket for longer.
pub const WAIT_BUCKETS_MS: [i64; 32] = [
    5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 45_000, 50_000, 55_000, 60_000, 75_000, 90_000,
    105_000, 120_000, 135_000, 150_000, 165_000, 180_000, 240_000, 300_000, 360_000, 420_000, 480_000, 540_000,
    600_000, 900_000, 1_200_000, 1_500_000, 1_800_000, 3_600_000,
];

/// The bucket a wait falls in.
fn bucket_of(wait_ms: i64) -> usize {
    WAIT_BUCKETS_MS.iter().position(|upper| wait_ms < *upper).unwrap_or(WAIT_BUCKETS_MS.len() - 1)
}

/// The sums of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportSums {
    pub hall: Option<String>,
    pub service: Option<String>,
    /// The period's start (Unix ms).
    pub period_ms: Option<i64>,
    pub offered: i64,
    pub answered: i64,
    /// Closed `cancelled` or `booth_lost` before any answer.
    pub abandoned: i64,
    pub no_clerk: i64,
    pub answered_within_target: i64,
    /// Request → first answer, summed over answered tickets.
    pub answer_wait_ms: i64,
    /// Request → first answer or close, summed over all tickets.
    pub wait_ms: i64,
    /// Answered by a hall other than the home hall.
    pub overflow: i64,
    pub requeues: i64,
    pub talk_ms: i64,
    pub wrap_ms: i64,
    /// Ratings: very satisfied, satisfied, acceptable, dissatisfied, very dissatisfied.
    pub ratings: [i64; 5],
    /// Answered tickets that had been shown an estimate, and the sums of |estimate − wait| and
    /// (estimate − wait) over them.
    pub estimated: i64,
    pub estimate_abs_error_ms: i64,
    pub estimate_error_ms: i64,
    /// Tickets per wait bucket ([`WAIT_BUCKETS_MS`]).
    pub wait_buckets: Vec<i64>,
}

pub const RATING_WORDS: [&str; 5] = ["very_satisfied", "satisfied", "acceptable", "dissatisfied", "very_dissatisfied"];

impl Store {
    /// Writes closed tickets' facts and adds each to the roll-ups, in one transaction (a fact
    /// already written is kept and not added again: replays and retried batches count once).
    ///
    /// Inside a group commit the fact is written without waiting for an answer, so a fact already
    /// there fails the batch with [`crate::StoreError::Duplicate`]: the records writer then writes
    /// the batch's records one by one, where it is skipped as above.
    pub fn append_facts(&self, facts: &[TicketFactRow]) -> Result<()> {
        if facts.is_empty() {
            return Ok(());
        }
        self.transaction(None, |c| {
            // Read with the connection held: a batch on another thread has ended by now.
            let held = self.in_batch();
            let sql = format!(
                "INSERT INTO ticket_facts ({FACT_COLUMNS}) VALUES ({}){}",
                placeholders(15),
                if held { "" } else { " ON CONFLICT (ticket_id) DO NOTHING" }
            );
            let upserts: Vec<String> = ROLLUPS.iter().map(|table| upsert(table)).collect();
            for f in facts {
                let opt_text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
                let opt_int = |v: Option<i64>| v.map_or(Value::Null, Value::Int);
                let params = vec![
                    f.ticket_id.clone().into(),
                    f.booth.clone().into(),
                    f.booth_region.clone().into(),
                    f.home_hall.clone().into(),
                    f.service.clone().into(),
                    f.requested_ms.into(),
                    opt_int(f.answered_ms),
                    opt_text(&f.answered_hall),
                    opt_text(&f.answered_clerk),
                    f.target_secs.into(),
                    f.closed_ms.into(),
                    f.outcome.clone().into(),
                    f.talk_ms.into(),
                    f.requeues.into(),
                    opt_int(f.estimate_secs),
                ];
                if held {
                    c.execute_later(&sql, params)?;
                } else if c.execute(&sql, &params)? == 0 {
                    continue;
                }
                for (table, sql) in ROLLUPS.iter().zip(&upserts) {
                    let slot = if *table == "report_hours" { hour_of(f.requested_ms) } else { day_of(f.requested_ms) };
                    let mut params: Vec<Value> = vec![
                        slot.into(),
                        f.booth_region.clone().into(),
                        f.home_hall.clone().into(),
                        f.service.clone().into(),
                    ];
                    params.extend(contribution(f).into_iter().map(Value::Int));
                    c.execute_later(sql, params)?;
                }
            }
            Ok(())
        })
    }

    /// One ticket's facts, if it closed.
    pub fn ticket_fact(&self, ticket_id: &str) -> Result<Option<TicketFactRow>> {
        let rows = self
            .reader()
            .query(&format!("SELECT {FACT_COLUMNS} FROM ticket_facts WHERE ticket_id = $1"), &[ticket_id.into()])?;
        rows.first()
            .map(|r| {
                Ok(TicketFactRow {
                    ticket_id: r.text("ticket_id")?,
                    booth: r.text("booth")?,
                    booth_region: r.text("booth_region")?,
                    home_hall: r.text("home_hall")?,
                    service: r.text("service")?,
                    requested_ms: r.int("requested_ms")?,
                    answered_ms: r.opt_int("answered_ms")?,
                    answered_hall: r.opt_text("answered_hall")?,
                    answered_clerk: r.opt_text("answered_clerk")?,
                    target_secs: r.int("target_secs")?,
                    closed_ms: r.int("closed_ms")?,
                    outcome: r.text("outcome")?,
                    talk_ms: r.int("talk_ms")?,
                    requeues: r.int("requeues")?,
                    estimate_secs: r.opt_int("estimate_secs")?,
                })
            })
            .transpose()
    }

    /// The sums of every group with at least one ticket, ordered by hall, service, period. An
    /// hourly report reads `report_hours` in whole hours; any other reads `report_days` in whole
    /// days (China time).
    pub fn report(&self, q: &ReportQuery) -> Result<Vec<ReportSums>> {
        let mut keys = vec![];
        if q.by_hall {
            keys.push("home_hall AS hall".to_owned());
        }
        if q.by_service {
            keys.push("service".to_owned());
        }
        if let Some(p) = q.period {
            keys.push(format!("{} AS period", p.sql()));
        }
        let (table, from, to) = match q.period {
            Some(Period::Hour) => ("report_hours", hour_of(q.from_ms), hour_of(q.to_ms)),
            _ => ("report_days", day_of(q.from_ms), day_of(q.to_ms)),
        };
        let mut params: Vec<Value> = vec![from.into(), to.into()];
        let mut filter = String::from("slot >= $1 AND slot < $2");
        if let Some(regions) = &q.booth_regions {
            if regions.is_empty() {
                return Ok(vec![]);
            }
            let first = params.len() + 1;
            let marks: Vec<String> = (first..first + regions.len()).map(|i| format!("${i}")).collect();
            filter.push_str(&format!(" AND booth_region IN ({})", marks.join(", ")));
            params.extend(regions.iter().map(|r| Value::from(r.as_str())));
        }
        let mut cols: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        // Summed as double precision: exact for integers below 2^53 (a sum of waits in ms over a
        // year of a province is far below), and on PostgreSQL much faster than `SUM(BIGINT)`,
        // which accumulates in `numeric`.
        // (No group and no row: one row of NULL sums, read as zeros and left out below.)
        cols.extend(
            all_sum_columns()
                .iter()
                .map(|c| format!("COALESCE(CAST(SUM(CAST({c} AS DOUBLE PRECISION)) AS BIGINT), 0) AS {c}")),
        );
        let grouping = if keys.is_empty() {
            String::new()
        } else {
            let list = (1..=keys.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
            format!("GROUP BY {list} ORDER BY {list}")
        };
        let sql = format!("SELECT {} FROM {table} WHERE {filter} {grouping}", cols.join(", "));
        let rows = self.reader().query(&sql, &params)?;
        let sums = rows.iter().map(|r| sums_from(r, q)).collect::<Result<Vec<_>>>()?;
        Ok(sums.into_iter().filter(|s| s.offered > 0).collect())
    }
}

/// The two roll-up tables.
const ROLLUPS: [&str; 2] = ["report_hours", "report_days"];

/// The wait buckets' columns, `w0` … `w31` (named once: a report reads them from every row).
static WAIT_COLUMNS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| (0..WAIT_BUCKETS_MS.len()).map(|i| format!("w{i}")).collect());

/// Every summed column: the figures, then the wait buckets `w0` … `w31`.
fn all_sum_columns() -> Vec<String> {
    let mut cols: Vec<String> = SUM_COLUMNS.split(", ").map(str::to_owned).collect();
    cols.extend(WAIT_COLUMNS.iter().cloned());
    cols
}

/// Adds a fact's contribution to a roll-up row (inserted if it is the first).
fn upsert(table: &str) -> String {
    let cols = all_sum_columns();
    format!(
        "INSERT INTO {table} (slot, booth_region, home_hall, service, {}) VALUES ({}) \
         ON CONFLICT (slot, booth_region, home_hall, service) DO UPDATE SET {}",
        cols.join(", "),
        placeholders(4 + cols.len()),
        cols.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect::<Vec<_>>().join(", ")
    )
}

/// The day number (China time) of a time.
fn day_of(ms: i64) -> i64 {
    china_time::day_number(ms)
}

/// The roll-up's summed columns, in this order.
const SUM_COLUMNS: &str = "offered, answered, abandoned, no_clerk, within_target, answer_wait_ms, wait_ms, overflow, \
     requeues, talk_ms, wrap_ms, r_very_satisfied, r_satisfied, r_acceptable, r_dissatisfied, r_very_dissatisfied, \
     estimated, estimate_abs_error_ms, estimate_error_ms";

/// The roll-up column of each rating, in [`RATING_WORDS`] order.
pub(crate) const RATING_COLUMNS: [&str; 5] =
    ["r_very_satisfied", "r_satisfied", "r_acceptable", "r_dissatisfied", "r_very_dissatisfied"];

/// The hour number (China time) of a time.
fn hour_of(ms: i64) -> i64 {
    china_time::hour_number(ms)
}

/// Asked → first answer, or close if never answered.
fn wait_ms(f: &TicketFactRow) -> i64 {
    f.answered_ms.unwrap_or(f.closed_ms) - f.requested_ms
}

/// What one fact adds to its roll-up rows, in [`all_sum_columns`] order (wrap-up and ratings come
/// with the cases and ratings).
fn contribution(f: &TicketFactRow) -> Vec<i64> {
    let answer_wait = f.answered_ms.map(|a| a - f.requested_ms);
    let answered = answer_wait.is_some();
    let abandoned = !answered && matches!(f.outcome.as_str(), "cancelled" | "booth_lost");
    let overflow = f.answered_hall.as_ref().is_some_and(|h| *h != f.home_hall);
    let estimate_error = match (answer_wait, f.estimate_secs) {
        (Some(w), Some(e)) => Some(e * 1000 - w),
        _ => None,
    };
    let b = i64::from;
    let mut sums = vec![
        1,
        b(answered),
        b(abandoned),
        b(f.outcome == "no_clerk"),
        b(answer_wait.is_some_and(|w| w <= f.target_secs * 1000)),
        answer_wait.unwrap_or(0),
        wait_ms(f),
        b(overflow),
        f.requeues,
        f.talk_ms,
        0,
        0,
        0,
        0,
        0,
        0,
        b(estimate_error.is_some()),
        estimate_error.map_or(0, i64::abs),
        estimate_error.unwrap_or(0),
    ];
    let mut buckets = vec![0; WAIT_BUCKETS_MS.len()];
    buckets[bucket_of(wait_ms(f))] = 1;
    sums.extend(buckets);
    sums
}

/// The statements that add `amount` to `column` of the roll-up rows of `ticket` (nothing when the
/// ticket has no facts yet: a case of a clerk who handed the call on, written while the ticket
/// was still open).
pub(crate) fn add_to_rollup(column: &str, amount: i64, ticket: &str) -> Vec<(String, Vec<Value>)> {
    ROLLUPS
        .iter()
        .map(|table| {
            let width = if *table == "report_hours" { HOUR_MS } else { DAY_MS };
            let sql = format!(
                "UPDATE {table} SET {column} = {column} + $1 WHERE (slot, booth_region, home_hall, service) IN \
                 (SELECT (requested_ms + {CHINA_MS}) / {width}, booth_region, home_hall, service FROM ticket_facts \
                  WHERE ticket_id = $2)"
            );
            (sql, vec![Value::Int(amount), ticket.into()])
        })
        .collect()
}

fn sums_from(r: &Row, q: &ReportQuery) -> Result<ReportSums> {
    let v = |column: &str| r.int(column);
    Ok(ReportSums {
        hall: q.by_hall.then(|| r.text("hall")).transpose()?,
        service: q.by_service.then(|| r.text("service")).transpose()?,
        period_ms: q.period.map(|p| r.int("period").map(|n| p.start_ms(n))).transpose()?,
        offered: v("offered")?,
        answered: v("answered")?,
        abandoned: v("abandoned")?,
        no_clerk: v("no_clerk")?,
        answered_within_target: v("within_target")?,
        answer_wait_ms: v("answer_wait_ms")?,
        wait_ms: v("wait_ms")?,
        overflow: v("overflow")?,
        requeues: v("requeues")?,
        talk_ms: v("talk_ms")?,
        wrap_ms: v("wrap_ms")?,
        ratings: [
            v(RATING_COLUMNS[0])?,
            v(RATING_COLUMNS[1])?,
            v(RATING_COLUMNS[2])?,
            v(RATING_COLUMNS[3])?,
            v(RATING_COLUMNS[4])?,
        ],
        estimated: v("estimated")?,
        estimate_abs_error_ms: v("estimate_abs_error_ms")?,
        estimate_error_ms: v("estimate_error_ms")?,
        wait_buckets: WAIT_COLUMNS.iter().map(|c| v(c)).collect::<Result<_>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_china_hours_days_and_mondays() {
        // 2026-12-02 10:30 China time = 02:30 UTC.
        let at = 1_796_178_600_000;
        let n = |sql_div: i64| (at + CHINA_MS) / sql_div;
        assert_eq!(Period::Hour.start_ms(n(3_600_000)), at - 30 * 60_000);
        assert_eq!(Period::Day.start_ms(n(DAY_MS)), at - (10 * 60 + 30) * 60_000);
        // That Wednesday's week began on Monday 2026-11-30, 00:00 China time.
        let week = ((at + CHINA_MS) / DAY_MS + 3) / 7;
        assert_eq!(Period::Week.start_ms(week), at - (2 * 24 * 60 + 10 * 60 + 30) * 60_000);
    }
}
