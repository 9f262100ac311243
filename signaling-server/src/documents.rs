//! Document storage: content-addressed files under the data directory, written durably (file and
//! directory fsync'd) before an upload is acknowledged; a metadata sidecar per document so that a
//! restart loses nothing; an audit log line for every read attempt; and retention purging.
//!
//! Layout under `data_dir`:
//! - `blobs/<aa>/<sha256>.jpg` and `thumbs/<aa>/<sha256>.jpg` — the processed image and thumbnail,
//!   named by the SHA-256 of the processed image;
//! - `docs/<id>.json` — metadata; `<id>` is 128 random bits in hex (links cannot be guessed);
//! - `audit.log` — one JSON line per read attempt: when, who, which document, what, allowed.
//!
//! All methods do blocking file I/O: call them from `spawn_blocking`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use protocol::DocType;
use serde::{Deserialize, Serialize};

/// `[documents]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentsConfig {
    pub data_dir: PathBuf,
    /// Documents older than this are deleted.
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub accepted: bool,
    pub reason: Option<String>,
    pub at_unix: u64,
}

/// What is known about a stored document. No personal data beyond the ids of the parties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMeta {
    pub id: String,
    pub call: u64,
    pub ticket: u64,
    pub booth: String,
    pub clerk: String,
    pub booth_region: String,
    pub service: String,
    pub doc_type: DocType,
    pub created_unix: u64,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256_original: String,
    pub sha256_result: String,
    pub review: Option<Review>,
}

pub struct DocStore {
    dir: PathBuf,
    pub config: DocumentsConfig,
    index: Mutex<HashMap<String, DocMeta>>,
    audit: Mutex<File>,
}

/// Writes `bytes` to `path` durably: a temporary file, fsync, rename, then fsync of the directory.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().expect("document paths have a parent");
    fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

pub fn new_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl DocStore {
    /// Opens (creating) the data directory and loads every document's metadata.
    pub fn open(config: DocumentsConfig) -> io::Result<Self> {
        let dir = config.data_dir.clone();
        fs::create_dir_all(dir.join("docs"))?;
        let mut index = HashMap::new();
        for entry in fs::read_dir(dir.join("docs"))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                match fs::read(&path).map(|b| serde_json::from_slice::<DocMeta>(&b)) {
                    Ok(Ok(meta)) => {
                        index.insert(meta.id.clone(), meta);
                    }
                    _ => tracing::warn!(path = %path.display(), "unreadable document metadata skipped"),
                }
            }
        }
        let audit = OpenOptions::new().create(true).append(true).open(dir.join("audit.log"))?;
        tracing::info!(dir = %dir.display(), documents = index.len(), "document store opened");
        Ok(Self { dir, config, index: Mutex::new(index), audit: Mutex::new(audit) })
    }

    fn blob_path(&self, sha: &str, thumbnail: bool) -> PathBuf {
        let kind = if thumbnail { "thumbs" } else { "blobs" };
        self.dir.join(kind).join(&sha[..2]).join(format!("{sha}.jpg"))
    }

    fn meta_path(&self, id: &str) -> PathBuf {
        self.dir.join("docs").join(format!("{id}.json"))
    }

    /// Stores a processed document durably and indexes it. Returns once everything is on disk.
    pub fn put(&self, meta: DocMeta, jpeg: &[u8], thumbnail: &[u8]) -> io::Result<DocMeta> {
        for (bytes, thumb) in [(jpeg, false), (thumbnail, true)] {
            let path = self.blob_path(&meta.sha256_result, thumb);
            if !path.exists() {
                write_durably(&path, bytes)?;
            }
        }
        write_durably(&self.meta_path(&meta.id), &serde_json::to_vec_pretty(&meta).expect("metadata serializes"))?;
        self.index.lock().expect("index lock is never poisoned").insert(meta.id.clone(), meta.clone());
        Ok(meta)
    }

    pub fn get(&self, id: &str) -> Option<DocMeta> {
        self.index.lock().expect("index lock is never poisoned").get(id).cloned()
    }

    pub fn read(&self, meta: &DocMeta, thumbnail: bool) -> io::Result<Vec<u8>> {
        fs::read(self.blob_path(&meta.sha256_result, thumbnail))
    }

    pub fn set_review(&self, id: &str, review: Review) -> io::Result<Option<DocMeta>> {
        let Some(mut meta) = self.get(id) else { return Ok(None) };
        meta.review = Some(review);
        write_durably(&self.meta_path(id), &serde_json::to_vec_pretty(&meta).expect("metadata serializes"))?;
        self.index.lock().expect("index lock is never poisoned").insert(id.to_owned(), meta.clone());
        Ok(Some(meta))
    }

    /// Appends one line to the audit log: who tried to read which document, and the answer.
    pub fn record_read(&self, now_unix: u64, who: &str, id: &str, what: &str, allowed: bool) {
        let line = serde_json::json!({ "at": now_unix, "who": who, "document": id, "what": what, "allowed": allowed });
        let mut f = self.audit.lock().expect("audit lock is never poisoned");
        if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
            tracing::error!(error = %e, "audit log write failed");
        }
    }

    /// The audit log's lines (for tests and supervisors' tools).
    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        fs::read_to_string(self.dir.join("audit.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Deletes documents older than the retention period (and files no other document uses).
    pub fn purge(&self, now_unix: u64) -> io::Result<usize> {
        let cutoff = now_unix.saturating_sub(self.config.retention_days * 86_400);
        let mut index = self.index.lock().expect("index lock is never poisoned");
        let old: Vec<DocMeta> = index.values().filter(|m| m.created_unix < cutoff).cloned().collect();
        for meta in &old {
            index.remove(&meta.id);
            fs::remove_file(self.meta_path(&meta.id))?;
        }
        for meta in &old {
            if !index.values().any(|m| m.sha256_result == meta.sha256_result) {
                for thumb in [false, true] {
                    let _ = fs::remove_file(self.blob_path(&meta.sha256_result, thumb));
                }
            }
        }
        if !old.is_empty() {
            tracing::info!(purged = old.len(), "documents past retention deleted");
        }
        Ok(old.len())
    }
}

/// "2026-11-22" for a Unix time, in China Standard Time (UTC+8), for the watermark.
pub fn china_date(unix: u64) -> String {
    let days = (unix + 8 * 3600) / 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, created: u64, sha: &str) -> DocMeta {
        DocMeta {
            id: id.into(),
            call: 1,
            ticket: 1,
            booth: "booth-gudao-1".into(),
            clerk: "clerk-hekou-1".into(),
            booth_region: "gudao".into(),
            service: "teacher-cert".into(),
            doc_type: DocType::IdFront,
            created_unix: created,
            width: 10,
            height: 10,
            bytes: 3,
            sha256_original: "o".into(),
            sha256_result: sha.into(),
            review: None,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xiaowu-docstore-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn documents_survive_a_restart_and_retention_purges_old_ones() {
        let dir = temp_dir("retention");
        let config = DocumentsConfig { data_dir: dir.clone(), retention_days: 30, ..Default::default() };
        let day = 86_400;
        let now = 100 * day;
        {
            let store = DocStore::open(config.clone()).unwrap();
            store.put(meta("old", now - 31 * day, "aa11"), b"old", b"o").unwrap();
            store.put(meta("new", now - 29 * day, "bb22"), b"new", b"n").unwrap();
        }
        // A new process finds both, with their files.
        let store = DocStore::open(config).unwrap();
        let old = store.get("old").unwrap();
        assert_eq!(store.read(&old, false).unwrap(), b"old");
        assert_eq!(store.purge(now).unwrap(), 1);
        assert!(store.get("old").is_none());
        assert!(!dir.join("blobs/aa/aa11.jpg").exists() && !dir.join("docs/old.json").exists());
        assert_eq!(store.read(&store.get("new").unwrap(), true).unwrap(), b"n");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn china_date_is_utc_plus_8() {
        assert_eq!(china_date(0), "1970-01-01");
        assert_eq!(china_date(1_795_276_800), "2026-11-22"); // 2026-11-22T00:00+08:00
        assert_eq!(china_date(1_795_276_800 - 1), "2026-11-21");
    }
}
