//! Where each clerk's signed-in time went, hour by hour: `clerk_hours` sums, per hour (China
//! time) × clerk, the milliseconds spent available, being offered a request, in calls, in wrap-up
//! and away, and the calls finished. The server hands over state intervals as the routing engine
//! changes a clerk's state; an interval spanning hours is split at the hour boundaries here.
//!
//! Each row keeps `covered_to_ms`, the end of the last interval added to it. A clerk's intervals
//! come in time order, so one that starts before that end was added already (a replay of the
//! routing log, a retried batch) and is skipped: every interval counts once.

use serde::Serialize;

use crate::backend::{Row, Value};
use crate::reports::Period;
use crate::{Result, Store};

/// What a clerk was doing, and a stretch of one activity: the desk's, which decides them (one
/// type for the decision and the row).
pub use desk::clerk_time::{ClerkActivity, Stretch};

/// One clerk's sums over a report's group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClerkSums {
    pub clerk: String,
    pub hall: String,
    /// The period's start (Unix ms), when grouped by one.
    pub period_ms: Option<i64>,
    pub available_ms: i64,
    pub offered_ms: i64,
    pub in_call_ms: i64,
    pub wrap_ms: i64,
    pub away_ms: i64,
    pub calls: i64,
}

const SUMS: &str = "available_ms, offered_ms, in_call_ms, wrap_ms, away_ms, calls";

/// Adds one hour's piece of an interval, unless the row already covers its start.
const ADD_PIECE: &str = "INSERT INTO clerk_hours (slot, clerk, hall, available_ms, offered_ms, in_call_ms, wrap_ms, \
     away_ms, calls, covered_to_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (slot, clerk) DO UPDATE SET available_ms = clerk_hours.available_ms + excluded.available_ms, \
     offered_ms = clerk_hours.offered_ms + excluded.offered_ms, in_call_ms = clerk_hours.in_call_ms + \
     excluded.in_call_ms, wrap_ms = clerk_hours.wrap_ms + excluded.wrap_ms, away_ms = clerk_hours.away_ms + \
     excluded.away_ms, calls = clerk_hours.calls + excluded.calls, covered_to_ms = excluded.covered_to_ms \
     WHERE clerk_hours.covered_to_ms <= $11";

/// `interval` cut at the hours it spans: (hour slot, start, end) of each piece.
fn pieces(interval: &Stretch) -> Vec<(i64, i64, i64)> {
    let mut out = vec![];
    let mut start = interval.start_ms;
    while start < interval.end_ms {
        let slot = china_time::hour_number(start);
        let hour_end = china_time::hour_start_ms(start) + china_time::HOUR_MS;
        let end = hour_end.min(interval.end_ms);
        out.push((slot, start, end));
        start = end;
    }
    out
}

impl Store {
    /// Adds clerk state intervals to the hourly sums, in one transaction (what a row already
    /// covers is skipped).
    pub fn append_clerk_time(&self, intervals: &[Stretch]) -> Result<()> {
        if intervals.is_empty() {
            return Ok(());
        }
        self.transaction(None, |c| {
            for i in intervals {
                let pieces = pieces(i);
                let last = pieces.len().saturating_sub(1);
                for (n, (slot, start, end)) in pieces.into_iter().enumerate() {
                    let mut params: Vec<Value> = vec![slot.into(), i.clerk.clone().into(), i.hall.clone().into()];
                    for a in [
                        ClerkActivity::Available,
                        ClerkActivity::Offered,
                        ClerkActivity::InCall,
                        ClerkActivity::WrapUp,
                        ClerkActivity::Away,
                    ] {
                        params.push(Value::Int(if a == i.activity { end - start } else { 0 }));
                    }
                    params.push(Value::Int(i64::from(i.call_finished && n == last)));
                    params.extend([Value::Int(end), Value::Int(start)]);
                    c.execute(ADD_PIECE, &params)?;
                }
            }
            Ok(())
        })
    }

    /// Each clerk's sums over `[from_ms, to_ms)` (whole hours), per period if one is given, only
    /// for clerks of `halls` (`None`: all), ordered by hall, clerk, period.
    pub fn clerk_report(
        &self,
        from_ms: i64,
        to_ms: i64,
        period: Option<Period>,
        halls: Option<&[String]>,
    ) -> Result<Vec<ClerkSums>> {
        let hour = china_time::hour_number;
        let mut params: Vec<Value> = vec![hour(from_ms).into(), hour(to_ms).into()];
        let mut filter = String::from("slot >= $1 AND slot < $2");
        if let Some(halls) = halls {
            if halls.is_empty() {
                return Ok(vec![]);
            }
            let marks: Vec<String> = (3..3 + halls.len()).map(|i| format!("${i}")).collect();
            filter.push_str(&format!(" AND hall IN ({})", marks.join(", ")));
            params.extend(halls.iter().map(|h| Value::from(h.as_str())));
        }
        // The period number from the hour slot (days and weeks count in China time already).
        let period_sql = match period {
            None => "0",
            Some(Period::Hour) => "slot",
            Some(Period::Day) => "slot / 24",
            Some(Period::Week) => "(slot / 24 + 3) / 7",
        };
        let sums: Vec<String> = SUMS.split(", ").map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}")).collect();
        let sql = format!(
            "SELECT hall, clerk, {period_sql} AS period, {} FROM clerk_hours WHERE {filter} \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            sums.join(", ")
        );
        let rows = self.reader().query(&sql, &params)?;
        rows.iter().map(|r| sums_from(r, period)).collect()
    }
}

fn sums_from(r: &Row, period: Option<Period>) -> Result<ClerkSums> {
    Ok(ClerkSums {
        hall: r.text("hall")?,
        clerk: r.text("clerk")?,
        period_ms: period.map(|p| r.int("period").map(|n| p.start_ms(n))).transpose()?,
        available_ms: r.int("available_ms")?,
        offered_ms: r.int("offered_ms")?,
        in_call_ms: r.int("in_call_ms")?,
        wrap_ms: r.int("wrap_ms")?,
        away_ms: r.int("away_ms")?,
        calls: r.int("calls")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_is_cut_at_china_hours() {
        // 2026-12-02 09:50 China time, for 25 minutes.
        let start = 1_796_173_200_000 + 50 * 60_000;
        let i = Stretch {
            clerk: "c".into(),
            hall: "h".into(),
            activity: ClerkActivity::InCall,
            start_ms: start,
            end_ms: start + 25 * 60_000,
            call_finished: true,
        };
        let p = pieces(&i);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].2 - p[0].1, p[1].2 - p[1].1), (10 * 60_000, 15 * 60_000));
        assert_eq!(p[1].0, p[0].0 + 1);
        assert_eq!(p[0].2, p[1].1, "no gap, no overlap");
        assert!(pieces(&Stretch { end_ms: start, ..i }).is_empty(), "an empty interval adds nothing");
    }
}
