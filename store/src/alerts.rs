//! The supervisors' alerts as history: each alert raised and each one cleared is a row of
//! `alert_events`, so a supervisor can look back at what stood when (the live list only says what
//! stands now). Operational rows, not chained; written through the server's records writer.

use serde::{Deserialize, Serialize};

use crate::backend::Value;
use crate::{Result, Store};

/// An alert raised or cleared. No personal data: ids, numbers and the alert's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEventRow {
    pub at_ms: i64,
    /// `raised` or `cleared`.
    pub event: String,
    /// The alert's kind (`queue_over_target`, …).
    pub kind: String,
    pub region: String,
    pub service: Option<String>,
    pub clerk: Option<String>,
    pub booth: Option<String>,
    /// When the alert was raised (for a cleared one: how long it stood).
    pub since_ms: i64,
    /// Its measure, × 1000 (seconds, or a service level between 0 and 1).
    pub value_milli: i64,
    pub message_zh: String,
    pub message_en: String,
}

const COLUMNS: &str =
    "at_ms, event, kind, region, service, clerk, booth, since_ms, value_milli, message_zh, message_en, subject";

impl AlertEventRow {
    /// What the alert is about, as one key (an alert is raised and cleared once per subject).
    fn subject(&self) -> String {
        [&self.service, &self.clerk, &self.booth]
            .iter()
            .map(|s| s.as_deref().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl Store {
    /// Writes alert events in one transaction (one already there is kept: a retried batch).
    pub fn append_alert_events(&self, events: &[AlertEventRow]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.transaction(None, |c| {
            let sql = format!(
                "INSERT INTO alert_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (at_ms, event, kind, region, subject) DO NOTHING"
            );
            let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
            for e in events {
                c.execute(
                    &sql,
                    &[
                        e.at_ms.into(),
                        e.event.clone().into(),
                        e.kind.clone().into(),
                        e.region.clone().into(),
                        opt(&e.service),
                        opt(&e.clerk),
                        opt(&e.booth),
                        e.since_ms.into(),
                        e.value_milli.into(),
                        e.message_zh.clone().into(),
                        e.message_en.clone().into(),
                        e.subject().into(),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// The alert events in `[from_ms, to_ms)` of `regions`, newest first, at most `limit`.
    pub fn alert_events(&self, from_ms: i64, to_ms: i64, regions: &[String], limit: u32) -> Result<Vec<AlertEventRow>> {
        if regions.is_empty() {
            return Ok(vec![]);
        }
        let marks: Vec<String> = (4..4 + regions.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM alert_events WHERE at_ms >= $1 AND at_ms < $2 AND region IN ({}) \
             ORDER BY at_ms DESC, event, kind, subject LIMIT $3",
            marks.join(", ")
        );
        let mut params: Vec<Value> = vec![from_ms.into(), to_ms.into(), i64::from(limit).into()];
        params.extend(regions.iter().map(|r| Value::from(r.as_str())));
        let rows = self.reader().query(&sql, &params)?;
        rows.iter()
            .map(|r| {
                Ok(AlertEventRow {
                    at_ms: r.int("at_ms")?,
                    event: r.text("event")?,
                    kind: r.text("kind")?,
                    region: r.text("region")?,
                    service: r.opt_text("service")?,
                    clerk: r.opt_text("clerk")?,
                    booth: r.opt_text("booth")?,
                    since_ms: r.int("since_ms")?,
                    value_milli: r.int("value_milli")?,
                    message_zh: r.text("message_zh")?,
                    message_en: r.text("message_en")?,
                })
            })
            .collect()
    }
}
