//! The content of a `purge` link in the audit chain: what a retention purge removed on purpose,
//! so that [`crate::Store::verify_audit`] tells a purge from a deletion.

use serde::Deserialize;

/// What a `purge` link says was removed on purpose.
#[derive(Debug, Default, Clone, serde::Serialize, Deserialize)]
pub(crate) struct Purged {
    #[serde(default)]
    pub documents: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases_before_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratings_before_ms: Option<i64>,
    /// Counts only, for the operator.
    #[serde(default)]
    pub document_reads: u64,
    #[serde(default)]
    pub document_reviews: u64,
    /// Calls whose recordings were removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recordings: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recording_views: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
