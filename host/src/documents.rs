//! Document photos: metadata, bytes (processed image and thumbnail), the clerk's reviews and every
//! read attempt, all in the records store (chained in the audit log) through the records writer,
//! each committed before the upload, review or read is answered; and retention purging. The bytes are sealed at rest (the
//! `vault`: a data key per image, wrapped by the master key, stored beside them); the audit
//! chain's hashes are over the plaintext.
//!
//! The methods that reach the database say so (blocking: call them from `spawn_blocking`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use protocol::DocType;
use serde::Deserialize;
use store::{DocumentReadRow, DocumentReviewRow, DocumentRow, PurgeCounts, Store, StoreError, StoredBytes};
use vault::{Envelope, Vault};

use crate::records::{store_id, wire_id};

/// `[documents]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentsConfig {
    /// Where the embedded database (`xiaowu.db`) lives unless `[database] url` says otherwise.
    pub data_dir: PathBuf,
    /// Documents older than this are deleted, with their reads and reviews.
    pub retention_days: u64,
    /// How long after upload a document's links work.
    pub link_ttl_secs: u64,
    /// Photos processed at once (the pipeline's blocking pool).
    pub max_parallel: usize,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("xiaowu-data"), retention_days: 30, link_ttl_secs: 3600, max_parallel: 2 }
    }
}

use crate::doc_meta::{DocMeta, Review};

/// Documents over the records store, with the recent ones' metadata kept in memory: the driver
/// looks up a live call's documents without touching the database.
pub struct DocStore {
    store: Arc<Store>,
    vault: Arc<Vault>,
    pub config: DocumentsConfig,
    /// Metadata of documents stored by this server within the link lifetime.
    recent: Mutex<HashMap<String, DocMeta>>,
    boot: i64,
    next_record: AtomicU64,
}

pub fn new_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn row_of(m: &DocMeta) -> DocumentRow {
    DocumentRow {
        id: m.id.clone(),
        call_id: store_id(m.call),
        ticket_id: store_id(m.ticket),
        booth: m.booth.clone(),
        clerk: m.clerk.clone(),
        booth_region: m.booth_region.clone(),
        service: m.service.clone(),
        doc_type: m.doc_type.as_str().to_owned(),
        created_ms: m.created_unix as i64 * 1000,
        width: i64::from(m.width),
        height: i64::from(m.height),
        bytes: m.bytes as i64,
        sha256_original: m.sha256_original.clone(),
        sha256_result: m.sha256_result.clone(),
    }
}

fn meta_of(d: DocumentRow, review: Option<DocumentReviewRow>) -> DocMeta {
    DocMeta {
        call: wire_id(&d.call_id),
        ticket: wire_id(&d.ticket_id),
        id: d.id,
        booth: d.booth,
        clerk: d.clerk,
        booth_region: d.booth_region,
        service: d.service,
        doc_type: DocType::parse(&d.doc_type).unwrap_or(DocType::Other),
        created_unix: (d.created_ms / 1000) as u64,
        width: d.width as u32,
        height: d.height as u32,
        bytes: d.bytes as u64,
        sha256_original: d.sha256_original,
        sha256_result: d.sha256_result,
        review: review.map(|r| Review { accepted: r.accepted, reason: r.reason, at_unix: (r.at_ms / 1000) as u64 }),
    }
}

impl DocStore {
    pub fn new(store: Arc<Store>, config: DocumentsConfig, boot: i64, vault: Arc<Vault>) -> Self {
        Self { store, vault, config, recent: Mutex::default(), boot, next_record: AtomicU64::new(1) }
    }

    fn seal(&self, plain: &[u8]) -> StoredBytes {
        let (envelope, bytes) = self.vault.seal(plain);
        StoredBytes { bytes, sealing: Some(envelope.to_text()) }
    }

    /// Seals the blobs a server before sealing at rest wrote in clear (in place, a few at a time;
    /// SQLite zeroes what it overwrites). Returns how many. Blocking.
    pub fn seal_blobs_in_clear(&self) -> Result<u64, StoreError> {
        let mut sealed = 0;
        loop {
            let batch = self.store.unsealed_document_blobs(20)?;
            if batch.is_empty() {
                if sealed > 0 {
                    self.store.forget_replaced_pages()?;
                }
                return Ok(sealed);
            }
            for blob in batch {
                sealed += self.store.seal_document_blob(
                    &blob.sha256,
                    &self.seal(&blob.image),
                    &self.seal(&blob.thumbnail),
                )?;
            }
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, HashMap<String, DocMeta>> {
        self.recent.lock().expect("the recent-documents lock is never held across a panic")
    }

    /// `<boot>-<n>`: ids of reviews and reads, unique across restarts.
    fn next_record_id(&self) -> String {
        format!("{}-{}", self.boot, self.next_record.fetch_add(1, Ordering::Relaxed))
    }

    /// A processed document as the records writer stores it: its metadata's row and its image
    /// and thumbnail sealed (CPU: call it off the async runtime).
    pub fn sealed_record(&self, meta: &DocMeta, jpeg: &[u8], thumbnail: &[u8]) -> crate::records::Record {
        crate::records::Record::Document(Box::new(crate::records::StoredDocument {
            row: row_of(meta),
            image: self.seal(jpeg),
            thumbnail: self.seal(thumbnail),
        }))
    }

    /// A read attempt as the records writer stores it.
    pub fn read_record(&self, read: ReadAttempt<'_>) -> crate::records::Record {
        crate::records::Record::DocumentRead(DocumentReadRow {
            id: self.next_record_id(),
            document_id: read.document.to_owned(),
            who: read.who.to_owned(),
            what: read.what.to_owned(),
            allowed: read.allowed,
            from_addr: read.from.to_owned(),
            at_ms: store::now_ms(),
        })
    }

    /// Keeps a stored document's metadata in memory (the router learns of documents another
    /// node's gateway stored).
    pub fn remember(&self, meta: &DocMeta) {
        let mut recent = self.recent();
        let horizon = meta.created_unix.saturating_sub(self.config.link_ttl_secs);
        recent.retain(|_, m| m.created_unix >= horizon);
        recent.insert(meta.id.clone(), meta.clone());
    }

    /// A recent document's metadata, from memory (for the driver: never waits on the database).
    pub fn get(&self, id: &str) -> Option<DocMeta> {
        self.recent().get(id).cloned()
    }

    /// A document's metadata: from memory, else from the database (stored by another node or
    /// before a restart). Blocking.
    pub fn lookup(&self, id: &str) -> Result<Option<DocMeta>, StoreError> {
        if let Some(m) = self.get(id) {
            return Ok(Some(m));
        }
        Ok(self.store.document(id)?.map(|(d, review)| meta_of(d, review)))
    }

    /// The processed image or its thumbnail, opened. Bytes that do not open (altered, or sealed
    /// with a master key not loaded) are an error, never served. Blocking.
    pub fn read(&self, meta: &DocMeta, thumbnail: bool) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(stored) = self.store.document_bytes(&meta.sha256_result, thumbnail)? else { return Ok(None) };
        let Some(sealing) = stored.sealing else { return Ok(Some(stored.bytes)) };
        let opened = Envelope::parse(&sealing).and_then(|envelope| self.vault.open(&envelope, &stored.bytes));
        opened.map(Some).map_err(|e| {
            tracing::error!(document = %meta.id, error = %e, "a stored document does not open");
            StoreError::BadRow("document_blobs", "image or thumbnail (does not open)")
        })
    }

    /// The clerk's review, committed by the records writer: kept with the recent metadata.
    pub fn reviewed(&self, id: &str, review: Review) {
        if let Some(m) = self.recent().get_mut(id) {
            m.review = Some(review);
        }
    }

    /// Every read attempt of a document, oldest first. Blocking.
    pub fn reads(&self, id: &str) -> Result<Vec<DocumentReadRow>, StoreError> {
        self.store.document_reads(id)
    }

    /// Deletes documents older than the retention period, with their reads, reviews and bytes.
    /// Blocking.
    pub fn purge(&self, now_unix: u64) -> Result<PurgeCounts, StoreError> {
        let cutoff = now_unix.saturating_sub(self.config.retention_days * 86_400);
        let counts = self.store.purge_documents(cutoff as i64 * 1000, 200)?;
        self.recent().retain(|_, m| m.created_unix >= cutoff);
        Ok(counts)
    }
}

/// One attempt to read a document, for the audit chain.
pub struct ReadAttempt<'a> {
    pub who: &'a str,
    pub document: &'a str,
    /// `document` or `thumbnail`.
    pub what: &'a str,
    pub allowed: bool,
    pub from: &'a str,
}
