//! What is known about a stored document photo, as the gateway hands it to the engine host (the
//! upload is stored before the driver hears of it) and as the documents store keeps it.

use protocol::DocType;
use serde::{Deserialize, Serialize};

/// A clerk's review of a document: accepted, or rejected with a reason.
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
