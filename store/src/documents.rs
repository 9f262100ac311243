//! Document photos in the database: metadata, the bytes (processed image and thumbnail, stored once
//! per SHA-256 of the processed image), the clerk's reviews, and every read attempt (who, when,
//! from where, allowed or not). Metadata, reviews and reads are chained in the audit log; the
//! bytes are covered by the metadata's `sha256_result`.
//!
//! Retention deletes documents past their time together with their reads, reviews and bytes no
//! other document uses, one transaction per batch, and chains a `purge` link naming them.

use serde::{Deserialize, Serialize};

use crate::backend::{Row, Value};
use crate::purged::Purged;
use crate::rows::placeholders;
use crate::{Result, Store};

/// Bytes as the database holds them: sealed (`sealing`: the wrapped data key they open with,
/// see the `vault` crate), or in clear (`None`: written before sealing at rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBytes {
    pub bytes: Vec<u8>,
    pub sealing: Option<String>,
}

/// A blob an earlier version wrote in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInClear {
    pub sha256: String,
    pub image: Vec<u8>,
    pub thumbnail: Vec<u8>,
}

/// A stored document's metadata. No personal data beyond the ids of the parties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRow {
    pub id: String,
    pub call_id: String,
    pub ticket_id: String,
    pub booth: String,
    pub clerk: String,
    pub booth_region: String,
    pub service: String,
    pub doc_type: String,
    pub created_ms: i64,
    pub width: i64,
    pub height: i64,
    pub bytes: i64,
    pub sha256_original: String,
    pub sha256_result: String,
}

/// A clerk's verdict on a document (the latest one counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentReviewRow {
    pub id: String,
    pub document_id: String,
    pub accepted: bool,
    pub reason: Option<String>,
    pub at_ms: i64,
}

/// One attempt to read a document or its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentReadRow {
    pub id: String,
    pub document_id: String,
    /// The account, or `anonymous` / `invalid_token`.
    pub who: String,
    /// `document` or `thumbnail`.
    pub what: String,
    pub allowed: bool,
    /// The peer address the request came from.
    pub from_addr: String,
    pub at_ms: i64,
}

/// What one retention run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub documents: u64,
    pub document_reads: u64,
    pub document_reviews: u64,
    pub blobs: u64,
    pub cases: u64,
    pub ratings: u64,
    pub ticket_events: u64,
}

pub(crate) const DOCUMENT_COLUMNS: &str = "id, call_id, ticket_id, booth, clerk, booth_region, service, doc_type, \
                                           created_ms, width, height, bytes, sha256_original, sha256_result";

pub(crate) fn document_from(r: &Row) -> Result<DocumentRow> {
    Ok(DocumentRow {
        id: r.text("id")?,
        call_id: r.text("call_id")?,
        ticket_id: r.text("ticket_id")?,
        booth: r.text("booth")?,
        clerk: r.text("clerk")?,
        booth_region: r.text("booth_region")?,
        service: r.text("service")?,
        doc_type: r.text("doc_type")?,
        created_ms: r.int("created_ms")?,
        width: r.int("width")?,
        height: r.int("height")?,
        bytes: r.int("bytes")?,
        sha256_original: r.text("sha256_original")?,
        sha256_result: r.text("sha256_result")?,
    })
}

pub(crate) const REVIEW_COLUMNS: &str = "id, document_id, accepted, reason, at_ms";

pub(crate) fn review_from(r: &Row) -> Result<DocumentReviewRow> {
    Ok(DocumentReviewRow {
        id: r.text("id")?,
        document_id: r.text("document_id")?,
        accepted: r.flag("accepted")?,
        reason: r.opt_text("reason")?,
        at_ms: r.int("at_ms")?,
    })
}

pub(crate) const READ_COLUMNS: &str = "id, document_id, who, what, allowed, from_addr, at_ms";

pub(crate) fn read_from(r: &Row) -> Result<DocumentReadRow> {
    Ok(DocumentReadRow {
        id: r.text("id")?,
        document_id: r.text("document_id")?,
        who: r.text("who")?,
        what: r.text("what")?,
        allowed: r.flag("allowed")?,
        from_addr: r.text("from_addr")?,
        at_ms: r.int("at_ms")?,
    })
}

/// `$1, $2, …, $n`.
impl Store {
    /// Stores a document's bytes and metadata (with its chain link) in one transaction, committed
    /// before this returns. Bytes already stored under the same hash are not written again.
    pub fn put_document(&self, d: &DocumentRow, image: &StoredBytes, thumbnail: &StoredBytes) -> Result<()> {
        let content = serde_json::to_string(d).expect("a document row always serializes");
        self.transaction(Some("audit_chain"), |c| {
            c.execute(
                "INSERT INTO document_blobs (sha256, image, thumbnail, image_sealing, thumbnail_sealing) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
                &[
                    d.sha256_result.clone().into(),
                    image.bytes.as_slice().into(),
                    thumbnail.bytes.as_slice().into(),
                    image.sealing.clone().into(),
                    thumbnail.sealing.clone().into(),
                ],
            )?;
            let seq = self.chain(c, "document", &d.id, &content)?;
            let params: Vec<Value> = vec![
                d.id.clone().into(),
                d.call_id.clone().into(),
                d.ticket_id.clone().into(),
                d.booth.clone().into(),
                d.clerk.clone().into(),
                d.booth_region.clone().into(),
                d.service.clone().into(),
                d.doc_type.clone().into(),
                d.created_ms.into(),
                d.width.into(),
                d.height.into(),
                d.bytes.into(),
                d.sha256_original.clone().into(),
                d.sha256_result.clone().into(),
                seq.into(),
            ];
            let sql = format!(
                "INSERT INTO documents ({DOCUMENT_COLUMNS}, audit_seq) VALUES ({})",
                placeholders(params.len())
            );
            c.execute(&sql, &params)?;
            Ok(())
        })
    }

    /// A document's metadata and its latest review, if it is stored (and not purged).
    pub fn document(&self, id: &str) -> Result<Option<(DocumentRow, Option<DocumentReviewRow>)>> {
        let mut c = self.reader();
        let Some(doc) = c
            .query(&format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1"), &[id.into()])?
            .first()
            .map(document_from)
            .transpose()?
        else {
            return Ok(None);
        };
        let review = c
            .query(
                &format!(
                    "SELECT {REVIEW_COLUMNS} FROM document_reviews WHERE document_id = $1 ORDER BY audit_seq DESC LIMIT 1"
                ),
                &[id.into()],
            )?
            .first()
            .map(review_from)
            .transpose()?;
        Ok(Some((doc, review)))
    }

    /// The processed image (or its thumbnail) stored under `sha256`, as stored.
    pub fn document_bytes(&self, sha256: &str, thumbnail: bool) -> Result<Option<StoredBytes>> {
        let column = if thumbnail { "thumbnail" } else { "image" };
        let rows = self.reader().query(
            &format!("SELECT {column}, {column}_sealing FROM document_blobs WHERE sha256 = $1"),
            &[sha256.into()],
        )?;
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some(StoredBytes { bytes: row.bytes(column)?, sealing: row.opt_text(&format!("{column}_sealing"))? }))
    }

    /// Up to `limit` blobs written in clear (before sealing at rest).
    pub fn unsealed_document_blobs(&self, limit: usize) -> Result<Vec<BlobInClear>> {
        let rows = self.conn().query(
            "SELECT sha256, image, thumbnail FROM document_blobs WHERE image_sealing IS NULL LIMIT $1",
            &[(limit.max(1) as i64).into()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(BlobInClear {
                    sha256: r.text("sha256")?,
                    image: r.bytes("image")?,
                    thumbnail: r.bytes("thumbnail")?,
                })
            })
            .collect()
    }

    /// Replaces a blob written in clear with its sealed bytes (only if it is still in clear).
    pub fn seal_document_blob(&self, sha256: &str, image: &StoredBytes, thumbnail: &StoredBytes) -> Result<u64> {
        self.transaction(None, |c| {
            c.execute(
                "UPDATE document_blobs SET image = $2, thumbnail = $3, image_sealing = $4, thumbnail_sealing = $5 \
                 WHERE sha256 = $1 AND image_sealing IS NULL",
                &[
                    sha256.into(),
                    image.bytes.as_slice().into(),
                    thumbnail.bytes.as_slice().into(),
                    image.sealing.clone().into(),
                    thumbnail.sealing.clone().into(),
                ],
            )
        })
    }

    /// After sealing blobs in place: the old pages' content out of the journal too. SQLite keeps
    /// the pages a write replaced in its write-ahead log until a checkpoint; this checkpoints and
    /// truncates the log. (PostgreSQL's own log is not part of the data directory's tables, and
    /// is recycled by the server.)
    pub fn forget_replaced_pages(&self) -> Result<()> {
        if self.dialect() == crate::Dialect::Sqlite {
            self.conn().query("PRAGMA wal_checkpoint(TRUNCATE)", &[])?;
        }
        Ok(())
    }

    /// Every sealed blob's wrapped keys: (sha256, image's, thumbnail's).
    pub fn document_sealings(&self) -> Result<Vec<(String, String, String)>> {
        let rows = self.conn().query(
            "SELECT sha256, image_sealing, thumbnail_sealing FROM document_blobs WHERE image_sealing IS NOT NULL",
            &[],
        )?;
        rows.iter().map(|r| Ok((r.text("sha256")?, r.text("image_sealing")?, r.text("thumbnail_sealing")?))).collect()
    }

    /// Writes blobs' re-wrapped keys, all in one transaction: (sha256, image's, thumbnail's).
    pub fn reseal_document_keys(&self, keys: &[(String, String, String)]) -> Result<u64> {
        self.transaction(None, |c| {
            let mut n = 0;
            for (sha, image, thumbnail) in keys {
                n += c.execute(
                    "UPDATE document_blobs SET image_sealing = $2, thumbnail_sealing = $3 WHERE sha256 = $1",
                    &[sha.as_str().into(), image.as_str().into(), thumbnail.as_str().into()],
                )?;
            }
            Ok(n)
        })
    }

    /// Records a clerk's review of a document, chained.
    pub fn append_review(&self, r: &DocumentReviewRow) -> Result<i64> {
        let content = serde_json::to_string(r).expect("a review row always serializes");
        let params = vec![
            r.id.clone().into(),
            r.document_id.clone().into(),
            i64::from(r.accepted).into(),
            r.reason.clone().into(),
            r.at_ms.into(),
        ];
        let sql = format!("INSERT INTO document_reviews ({REVIEW_COLUMNS}, audit_seq) VALUES ({})", placeholders(6));
        self.append("document_review", &r.id, content, (&sql, params))
    }

    /// Records a read attempt, chained, committed before this returns (before any byte is served).
    pub fn append_read(&self, r: &DocumentReadRow) -> Result<i64> {
        let content = serde_json::to_string(r).expect("a read row always serializes");
        let params = vec![
            r.id.clone().into(),
            r.document_id.clone().into(),
            r.who.clone().into(),
            r.what.clone().into(),
            i64::from(r.allowed).into(),
            r.from_addr.clone().into(),
            r.at_ms.into(),
        ];
        let sql = format!("INSERT INTO document_reads ({READ_COLUMNS}, audit_seq) VALUES ({})", placeholders(8));
        self.append("document_read", &r.id, content, (&sql, params))
    }

    /// Every read attempt of a document, oldest first.
    pub fn document_reads(&self, document_id: &str) -> Result<Vec<DocumentReadRow>> {
        let rows = self.reader().query(
            &format!("SELECT {READ_COLUMNS} FROM document_reads WHERE document_id = $1 ORDER BY audit_seq"),
            &[document_id.into()],
        )?;
        rows.iter().map(read_from).collect()
    }

    /// Deletes documents created before `before_ms`, with their reads, reviews and the bytes no
    /// remaining document uses: `batch` documents per transaction, each chained as a `purge` link.
    pub fn purge_documents(&self, before_ms: i64, batch: usize) -> Result<PurgeCounts> {
        let mut total = PurgeCounts::default();
        loop {
            let done = self.transaction(Some("audit_chain"), |c| {
                let ids: Vec<(String, String)> = c
                    .query(
                        "SELECT id, sha256_result FROM documents WHERE created_ms < $1 ORDER BY created_ms LIMIT $2",
                        &[before_ms.into(), (batch.max(1) as i64).into()],
                    )?
                    .iter()
                    .map(|r| Ok((r.text("id")?, r.text("sha256_result")?)))
                    .collect::<Result<_>>()?;
                let mut counts = PurgeCounts::default();
                for (id, sha) in &ids {
                    let p = [Value::from(id.as_str())];
                    counts.document_reads += c.execute("DELETE FROM document_reads WHERE document_id = $1", &p)?;
                    counts.document_reviews += c.execute("DELETE FROM document_reviews WHERE document_id = $1", &p)?;
                    counts.documents += c.execute("DELETE FROM documents WHERE id = $1", &p)?;
                    counts.blobs += c.execute(
                        "DELETE FROM document_blobs WHERE sha256 = $1 \
                         AND NOT EXISTS (SELECT 1 FROM documents WHERE sha256_result = $1)",
                        &[sha.as_str().into()],
                    )?;
                }
                if !ids.is_empty() {
                    let purged = Purged {
                        documents: ids.iter().map(|(id, _)| id.clone()).collect(),
                        document_reads: counts.document_reads,
                        document_reviews: counts.document_reviews,
                        ..Purged::default()
                    };
                    self.chain(c, "purge", "documents", &serde_json::to_string(&purged).expect("serializes"))?;
                }
                Ok(counts)
            })?;
            total.documents += done.documents;
            total.document_reads += done.document_reads;
            total.document_reviews += done.document_reviews;
            total.blobs += done.blobs;
            if done.documents < batch.max(1) as u64 {
                return Ok(total);
            }
        }
    }

    /// Deletes case records recorded before `before_ms`, ratings given before it and ticket events
    /// older than it, in one transaction, chained as a `purge` link.
    pub fn purge_cases(&self, before_ms: i64) -> Result<PurgeCounts> {
        self.transaction(Some("audit_chain"), |c| {
            let p = [Value::Int(before_ms)];
            let cases = c.execute("DELETE FROM cases WHERE recorded_ms < $1", &p)?;
            let ratings = c.execute("DELETE FROM ratings WHERE at_ms < $1", &p)?;
            let ticket_events = c.execute("DELETE FROM ticket_events WHERE at_ms < $1", &p)?;
            if cases + ratings > 0 {
                let purged = Purged {
                    cases_before_ms: Some(before_ms),
                    ratings_before_ms: Some(before_ms),
                    ..Purged::default()
                };
                self.chain(c, "purge", "cases", &serde_json::to_string(&purged).expect("serializes"))?;
            }
            Ok(PurgeCounts { cases, ratings, ticket_events, ..PurgeCounts::default() })
        })
    }
}
