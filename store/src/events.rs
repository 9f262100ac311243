//! What the supervisors' views are built from, kept across restarts: the per-ticket event log
//! (requested, widened, offered, declined, timed out, accepted, media up or failed, re-queued,
//! ended — the `queue_log` of a contact centre), the day's answered counts per hall and service
//! (for the service level), and the samples of waiting tickets (for the last hour's chart).
//!
//! These are operational records, not chained: they are many, small, and written in batches.

pub use desk::ticket_log::TicketEventRow;

use crate::backend::Value;
use crate::{Result, Store};

/// Calls answered on `day` (China date) by one server start, per hall and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnsweredRow {
    pub day: String,
    pub boot: i64,
    pub hall: String,
    pub service: String,
    pub answered: i64,
    pub within_target: i64,
}

impl Store {
    /// Appends ticket events, all in one transaction.
    pub fn append_events(&self, events: &[TicketEventRow]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.transaction(None, |c| {
            // One statement per 100 rows (one round trip instead of one per row).
            for chunk in events.chunks(100) {
                let rows: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let n = i * 6;
                        format!("(${}, ${}, ${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4, n + 5, n + 6)
                    })
                    .collect();
                let params: Vec<Value> = chunk
                    .iter()
                    .flat_map(|e| {
                        [
                            e.ticket_id.clone().into(),
                            e.seq.into(),
                            e.booth_region.clone().into(),
                            e.at_ms.into(),
                            e.kind.clone().into(),
                            e.detail.clone().into(),
                        ]
                    })
                    .collect();
                c.execute_later(
                    &format!(
                        "INSERT INTO ticket_events (ticket_id, seq, booth_region, at_ms, kind, detail) VALUES {} \
                         ON CONFLICT (ticket_id, seq) DO NOTHING",
                        rows.join(", ")
                    ),
                    params,
                )?;
            }
            Ok(())
        })
    }

    /// One ticket's events, in order.
    pub fn ticket_events(&self, ticket_id: &str) -> Result<Vec<TicketEventRow>> {
        let rows = self.reader().query(
            "SELECT ticket_id, seq, booth_region, at_ms, kind, detail FROM ticket_events \
             WHERE ticket_id = $1 ORDER BY seq",
            &[ticket_id.into()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(TicketEventRow {
                    ticket_id: r.text("ticket_id")?,
                    seq: r.int("seq")?,
                    booth_region: r.text("booth_region")?,
                    at_ms: r.int("at_ms")?,
                    kind: r.text("kind")?,
                    detail: r.text("detail")?,
                })
            })
            .collect()
    }

    /// Saves the day's answered counts of one server start (replacing what it saved before).
    pub fn save_answered(&self, rows: &[AnsweredRow]) -> Result<()> {
        self.transaction(None, |c| {
            for r in rows {
                c.execute(
                    "INSERT INTO answered_counts (day, boot, hall, service, answered, within_target) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (day, boot, hall, service) \
                     DO UPDATE SET answered = excluded.answered, within_target = excluded.within_target",
                    &[
                        r.day.clone().into(),
                        r.boot.into(),
                        r.hall.clone().into(),
                        r.service.clone().into(),
                        r.answered.into(),
                        r.within_target.into(),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// The answered counts of `day` saved by server starts other than `except_boot`.
    pub fn answered_on(&self, day: &str, except_boot: i64) -> Result<Vec<AnsweredRow>> {
        let rows = self.reader().query(
            "SELECT day, boot, hall, service, answered, within_target FROM answered_counts \
             WHERE day = $1 AND boot <> $2",
            &[day.into(), except_boot.into()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(AnsweredRow {
                    day: r.text("day")?,
                    boot: r.int("boot")?,
                    hall: r.text("hall")?,
                    service: r.text("service")?,
                    answered: r.int("answered")?,
                    within_target: r.int("within_target")?,
                })
            })
            .collect()
    }

    /// Saves one sample of waiting tickets: `counts` is a JSON object, region id → waiting.
    pub fn append_waiting_sample(&self, at_ms: i64, boot: i64, counts: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO waiting_samples (at_ms, boot, counts) VALUES ($1, $2, $3) ON CONFLICT (at_ms, boot) DO NOTHING",
            &[at_ms.into(), boot.into(), counts.into()],
        )?;
        Ok(())
    }

    /// The waiting samples taken at or after `since_ms`, oldest first: (time, counts).
    pub fn waiting_samples(&self, since_ms: i64) -> Result<Vec<(i64, String)>> {
        let rows = self
            .reader()
            .query("SELECT at_ms, counts FROM waiting_samples WHERE at_ms >= $1 ORDER BY at_ms", &[since_ms.into()])?;
        rows.iter().map(|r| Ok((r.int("at_ms")?, r.text("counts")?))).collect()
    }

    /// Deletes waiting samples and answered counts older than `before_ms` (`day` before `before_day`).
    pub fn purge_samples(&self, before_ms: i64, before_day: &str) -> Result<u64> {
        self.transaction(None, |c| {
            let n = c.execute("DELETE FROM waiting_samples WHERE at_ms < $1", &[Value::Int(before_ms)])?;
            Ok(n + c.execute("DELETE FROM answered_counts WHERE day < $1", &[before_day.into()])?)
        })
    }
}
