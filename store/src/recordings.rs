//! Call recordings in the database: the index of each recording file (call, parties, times,
//! size, SHA-256) and every attempt to view one (who, which bytes, allowed or not), both chained
//! in the audit log. The files themselves live on disk (`[media] recording_dir`); the hash ties
//! each file to its row.
//!
//! Retention deletes the rows of recordings that ended before a cut-off, with their views, one
//! transaction, chained as a `purge` link naming them; the caller deletes the files it is handed.

use serde::{Deserialize, Serialize};

use crate::backend::{Row, Value};
use crate::purged::Purged;
use crate::rows::placeholders;
use crate::{Result, Store};

/// One call's recording. No personal data beyond the ids of the parties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingRow {
    pub call_id: String,
    pub ticket_id: String,
    pub booth: String,
    /// The clerks who served the call, comma-separated in order (more than one after a
    /// transfer); each may view the recording.
    pub clerk: String,
    pub booth_region: String,
    pub service: String,
    /// The recorded parties in track order, comma-separated (`booth,clerk`).
    pub parties: String,
    /// The file's name inside the recording directory.
    pub file: String,
    pub started_ms: i64,
    pub ended_ms: i64,
    pub duration_ms: i64,
    pub bytes: i64,
    pub sha256: String,
}

/// One attempt to view a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingViewRow {
    pub id: String,
    pub call_id: String,
    /// The account, or `anonymous` / `invalid_token`.
    pub who: String,
    /// The byte range asked for (`bytes=0-`, or `all`).
    pub range: String,
    pub allowed: bool,
    pub from_addr: String,
    pub at_ms: i64,
}

pub(crate) const RECORDING_COLUMNS: &str = "call_id, ticket_id, booth, clerk, booth_region, service, parties, file, \
                                            started_ms, ended_ms, duration_ms, bytes, sha256";

pub(crate) fn recording_from(r: &Row) -> Result<RecordingRow> {
    Ok(RecordingRow {
        call_id: r.text("call_id")?,
        ticket_id: r.text("ticket_id")?,
        booth: r.text("booth")?,
        clerk: r.text("clerk")?,
        booth_region: r.text("booth_region")?,
        service: r.text("service")?,
        parties: r.text("parties")?,
        file: r.text("file")?,
        started_ms: r.int("started_ms")?,
        ended_ms: r.int("ended_ms")?,
        duration_ms: r.int("duration_ms")?,
        bytes: r.int("bytes")?,
        sha256: r.text("sha256")?,
    })
}

pub(crate) const VIEW_COLUMNS: &str = "id, call_id, who, byte_range, allowed, from_addr, at_ms";

pub(crate) fn view_from(r: &Row) -> Result<RecordingViewRow> {
    Ok(RecordingViewRow {
        id: r.text("id")?,
        call_id: r.text("call_id")?,
        who: r.text("who")?,
        range: r.text("byte_range")?,
        allowed: r.flag("allowed")?,
        from_addr: r.text("from_addr")?,
        at_ms: r.int("at_ms")?,
    })
}

impl Store {
    /// Indexes a finished recording, chained, committed before this returns. A call recorded in
    /// parts (the server restarted mid-call) keeps its first row; later parts are logged only.
    /// `sealing`: the file's wrapped data key when it is sealed at rest (kept beside the row, out
    /// of its audited content).
    pub fn put_recording(&self, r: &RecordingRow, sealing: Option<&str>) -> Result<bool> {
        // On the writer's connection: a batch's own earlier writes count.
        let known =
            self.conn().query("SELECT call_id FROM recordings WHERE call_id = $1", &[r.call_id.as_str().into()])?;
        if !known.is_empty() {
            return Ok(false);
        }
        let content = serde_json::to_string(r).expect("a recording row always serializes");
        let params: Vec<Value> = vec![
            r.call_id.clone().into(),
            r.ticket_id.clone().into(),
            r.booth.clone().into(),
            r.clerk.clone().into(),
            r.booth_region.clone().into(),
            r.service.clone().into(),
            r.parties.clone().into(),
            r.file.clone().into(),
            r.started_ms.into(),
            r.ended_ms.into(),
            r.duration_ms.into(),
            r.bytes.into(),
            r.sha256.clone().into(),
            sealing.map(str::to_owned).into(),
        ];
        let sql =
            format!("INSERT INTO recordings ({RECORDING_COLUMNS}, sealing, audit_seq) VALUES ({})", placeholders(15));
        self.append("recording", &r.call_id, content, (&sql, params))?;
        Ok(true)
    }

    /// A recording's wrapped data key (`None`: the file is in clear).
    pub fn recording_sealing(&self, call_id: &str) -> Result<Option<String>> {
        let rows = self.reader().query("SELECT sealing FROM recordings WHERE call_id = $1", &[call_id.into()])?;
        rows.first().map_or(Ok(None), |r| r.opt_text("sealing"))
    }

    /// Every sealed recording's wrapped key: (call id, key).
    pub fn recording_sealings(&self) -> Result<Vec<(String, String)>> {
        let rows = self.conn().query("SELECT call_id, sealing FROM recordings WHERE sealing IS NOT NULL", &[])?;
        rows.iter().map(|r| Ok((r.text("call_id")?, r.text("sealing")?))).collect()
    }

    /// Writes recordings' re-wrapped keys, all in one transaction: (call id, key).
    pub fn reseal_recording_keys(&self, keys: &[(String, String)]) -> Result<u64> {
        self.transaction(None, |c| {
            let mut n = 0;
            for (call, key) in keys {
                n += c.execute(
                    "UPDATE recordings SET sealing = $2 WHERE call_id = $1",
                    &[call.as_str().into(), key.as_str().into()],
                )?;
            }
            Ok(n)
        })
    }

    /// A call's recording, if indexed (and not purged).
    pub fn recording(&self, call_id: &str) -> Result<Option<RecordingRow>> {
        let rows = self
            .reader()
            .query(&format!("SELECT {RECORDING_COLUMNS} FROM recordings WHERE call_id = $1"), &[call_id.into()])?;
        rows.first().map(recording_from).transpose()
    }

    /// Records a view attempt, chained, committed before this returns (before any byte is served).
    pub fn append_recording_view(&self, v: &RecordingViewRow) -> Result<i64> {
        let content = serde_json::to_string(v).expect("a view row always serializes");
        let params = vec![
            v.id.clone().into(),
            v.call_id.clone().into(),
            v.who.clone().into(),
            v.range.clone().into(),
            i64::from(v.allowed).into(),
            v.from_addr.clone().into(),
            v.at_ms.into(),
        ];
        let sql = format!("INSERT INTO recording_views ({VIEW_COLUMNS}, audit_seq) VALUES ({})", placeholders(8));
        self.append("recording_view", &v.id, content, (&sql, params))
    }

    /// Every view attempt of a call's recording, oldest first.
    pub fn recording_views(&self, call_id: &str) -> Result<Vec<RecordingViewRow>> {
        let rows = self.reader().query(
            &format!("SELECT {VIEW_COLUMNS} FROM recording_views WHERE call_id = $1 ORDER BY audit_seq"),
            &[call_id.into()],
        )?;
        rows.iter().map(view_from).collect()
    }

    /// Deletes the rows of recordings that ended before `before_ms`, with their views, in one
    /// transaction chained as a `purge` link; returns the files to delete.
    pub fn purge_recordings(&self, before_ms: i64) -> Result<Vec<String>> {
        self.transaction(Some("audit_chain"), |c| {
            let old: Vec<(String, String)> = c
                .query("SELECT call_id, file FROM recordings WHERE ended_ms < $1", &[before_ms.into()])?
                .iter()
                .map(|r| Ok((r.text("call_id")?, r.text("file")?)))
                .collect::<Result<_>>()?;
            let mut views = 0;
            for (call, _) in &old {
                let p = [Value::from(call.as_str())];
                views += c.execute("DELETE FROM recording_views WHERE call_id = $1", &p)?;
                c.execute("DELETE FROM recordings WHERE call_id = $1", &p)?;
            }
            if !old.is_empty() {
                let purged = Purged {
                    recordings: old.iter().map(|(call, _)| call.clone()).collect(),
                    recording_views: views,
                    ..Purged::default()
                };
                self.chain(c, "purge", "recordings", &serde_json::to_string(&purged).expect("serializes"))?;
            }
            Ok(old.into_iter().map(|(_, file)| file).collect())
        })
    }
}
