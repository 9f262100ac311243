//! The tamper-evident audit chain (全程留痕). Every chained record — case, rating, forced state,
//! document, document review, document read — is written in the same transaction as its link: the
//! record's canonical content, the previous link's hash, and SHA-256 over both. Editing or deleting
//! a record or a link afterwards breaks the chain, and [`Store::verify_audit`] names the first
//! broken link.
//!
//! Retention deletes records on purpose: each purge appends a `purge` link that says what it
//! removed (document ids; cases and ratings before a time), so the walk tells a purged record from
//! a deleted one.

use std::collections::HashSet;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::backend::{Executor, Row};
use crate::purged::Purged;
use crate::{Result, Store, StoreError};

/// The previous hash of the first link.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The first link of the audit chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBreak {
    pub seq: i64,
    pub kind: String,
    pub record_id: String,
    pub problem: String,
}

impl std::fmt::Display for AuditBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit link {} ({} {}): {}", self.seq, self.kind, self.record_id, self.problem)
    }
}

fn link_hash(prev: &str, kind: &str, record_id: &str, content: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev, kind, record_id, content] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends the chain link of a record inside the caller's transaction (which must hold the
/// `audit_chain` lock); returns its sequence number.
pub(crate) fn link(c: &mut dyn Executor, kind: &str, record_id: &str, content: &str) -> Result<i64> {
    link_after(c, None, kind, record_id, content).map(|(seq, _)| seq)
}

/// [`link`] after `last` (the chain's last link, when the caller knows it: a group commit that
/// wrote it), else after the last link in the table; returns the new link's sequence number and
/// hash.
pub(crate) fn link_after(
    c: &mut dyn Executor,
    last: Option<(i64, String)>,
    kind: &str,
    record_id: &str,
    content: &str,
) -> Result<(i64, String)> {
    let (seq, prev) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => {
            let last = c.query("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1", &[])?;
            match last.first() {
                Some(r) => (r.int("seq")? + 1, r.text("hash")?),
                None => (1, GENESIS.to_owned()),
            }
        }
    };
    let hash = link_hash(&prev, kind, record_id, content);
    c.execute_later(
        "INSERT INTO audit_chain (seq, kind, record_id, content, prev_hash, hash, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            seq.into(),
            kind.into(),
            record_id.into(),
            content.into(),
            prev.into(),
            hash.clone().into(),
            crate::rows::now_ms().into(),
        ],
    )?;
    Ok((seq, hash))
}

/// Everything the purge links of the chain removed.
#[derive(Default)]
struct PurgedSoFar {
    documents: HashSet<String>,
    recordings: HashSet<String>,
    cases_before_ms: i64,
    ratings_before_ms: i64,
}

/// The fields of a record's content that decide whether a purge covers it.
#[derive(Deserialize)]
struct Dated {
    document_id: Option<String>,
    call_id: Option<String>,
    recorded_ms: Option<i64>,
    at_ms: Option<i64>,
}

impl PurgedSoFar {
    fn covers(&self, kind: &str, id: &str, content: &str) -> bool {
        let Ok(d) = serde_json::from_str::<Dated>(content) else { return false };
        match kind {
            "document" => self.documents.contains(id),
            "document_review" | "document_read" => d.document_id.is_some_and(|doc| self.documents.contains(&doc)),
            "recording" => self.recordings.contains(id),
            "recording_view" => d.call_id.is_some_and(|call| self.recordings.contains(&call)),
            "case" => d.recorded_ms.is_some_and(|t| t < self.cases_before_ms),
            "rating" => d.at_ms.is_some_and(|t| t < self.ratings_before_ms),
            _ => false,
        }
    }
}

/// The canonical content of the stored record `kind`/`id`, as its link holds it; `None` when the
/// record is not there.
fn stored_content(c: &mut dyn Executor, kind: &str, id: &str) -> Result<Option<Option<String>>> {
    use crate::documents as d;
    use crate::recordings as rec;
    use crate::records as r;
    fn one<T: serde::Serialize>(rows: Vec<Row>, from: fn(&Row) -> Result<T>) -> Result<Option<String>> {
        rows.first().map(|row| Ok(serde_json::to_string(&from(row)?).expect("record rows serialize"))).transpose()
    }
    let by_id = |table: &str, key: &str, cols: &str| format!("SELECT {cols} FROM {table} WHERE {key} = $1");
    let p = [id.into()];
    Ok(Some(match kind {
        "case" => one(c.query(&by_id("cases", "id", r::CASE_COLUMNS), &p)?, r::case_from)?,
        "rating" => one(c.query(&by_id("ratings", "ticket_id", r::RATING_COLUMNS), &p)?, r::rating_from)?,
        "forced_state" => one(c.query(&by_id("forced_states", "id", r::FORCED_COLUMNS), &p)?, r::forced_from)?,
        "document" => one(c.query(&by_id("documents", "id", d::DOCUMENT_COLUMNS), &p)?, d::document_from)?,
        "document_review" => one(c.query(&by_id("document_reviews", "id", d::REVIEW_COLUMNS), &p)?, d::review_from)?,
        "document_read" => one(c.query(&by_id("document_reads", "id", d::READ_COLUMNS), &p)?, d::read_from)?,
        "recording" => one(c.query(&by_id("recordings", "call_id", rec::RECORDING_COLUMNS), &p)?, rec::recording_from)?,
        "recording_view" => one(c.query(&by_id("recording_views", "id", rec::VIEW_COLUMNS), &p)?, rec::view_from)?,
        "device_setup" => {
            let rows = c.query("SELECT id, booth, created_ms FROM devices WHERE id = $1", &p)?;
            rows.first()
                .map(|r| Ok::<_, StoreError>(json(&(r.text("id")?, r.text("booth")?, r.int("created_ms")?))))
                .transpose()?
        }
        "device_revoked" => {
            let rows = c.query("SELECT id, revoked_by, revoked_ms FROM devices WHERE id = $1", &p)?;
            match rows.first() {
                Some(r) => match (r.opt_text("revoked_by")?, r.opt_int("revoked_ms")?) {
                    (Some(by), Some(at)) => Some(json(&(r.text("id")?, by, at))),
                    // Revoked, then un-revoked by hand: the record no longer says what the link does.
                    _ => Some(String::new()),
                },
                None => None,
            }
        }
        _ => return Ok(None),
    }))
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("serializes")
}

impl Store {
    /// How many links the audit chain has.
    pub fn audit_len(&self) -> Result<i64> {
        let rows = self.conn().query("SELECT COUNT(*) AS links FROM audit_chain", &[])?;
        rows.first().map_or(Ok(0), |r| r.int("links"))
    }

    /// Walks the audit chain: every link's previous hash and own hash, and every record's content
    /// against its link. `None` when all holds, else the first break.
    pub fn verify_audit(&self) -> Result<Option<AuditBreak>> {
        let mut c = self.conn();
        let links =
            c.query("SELECT seq, kind, record_id, content, prev_hash, hash FROM audit_chain ORDER BY seq", &[])?;
        // Purge links come after what they removed: gather them first (they are checked in turn
        // like every link, so a forged purge breaks the chain too).
        let mut purged = PurgedSoFar::default();
        for l in links.iter() {
            if l.text("kind")? != "purge" {
                continue;
            }
            let p: Purged = serde_json::from_str(&l.text("content")?).unwrap_or_default();
            purged.documents.extend(p.documents);
            purged.recordings.extend(p.recordings);
            purged.cases_before_ms = purged.cases_before_ms.max(p.cases_before_ms.unwrap_or(0));
            purged.ratings_before_ms = purged.ratings_before_ms.max(p.ratings_before_ms.unwrap_or(0));
        }
        let mut prev = GENESIS.to_owned();
        for (expected_seq, l) in (1_i64..).zip(links.iter()) {
            let (seq, kind, id, content) = (l.int("seq")?, l.text("kind")?, l.text("record_id")?, l.text("content")?);
            let broken = |problem: &str| {
                Some(AuditBreak { seq, kind: kind.clone(), record_id: id.clone(), problem: problem.into() })
            };
            if seq != expected_seq {
                return Ok(broken("a link is missing before this one"));
            }
            if l.text("prev_hash")? != prev {
                return Ok(broken("its previous hash does not match the link before it"));
            }
            if l.text("hash")? != link_hash(&prev, &kind, &id, &content) {
                return Ok(broken("its hash does not match its content"));
            }
            prev = l.text("hash")?;
            if kind == "purge" {
                continue;
            }
            match stored_content(c.as_mut(), &kind, &id).map_err(|e| StoreError::Query(e.to_string()))? {
                None => return Ok(broken("unknown record kind")),
                Some(None) if purged.covers(&kind, &id, &content) => {}
                Some(None) => return Ok(broken("the record was deleted")),
                Some(Some(s)) if s != content => return Ok(broken("the record was changed after it was written")),
                Some(Some(_)) => {}
            }
        }
        Ok(None)
    }
}
