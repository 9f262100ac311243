//! What the console's relay-only roles share (`--monitor`, `--join-invites`): the per-party
//! report of their [`CallLink`] at the end, and error codes as words.

use std::collections::BTreeMap;

use media::counters::StreamCounts;
use media::CallLink;
use protocol::ErrorCode;

/// Closes the link: what came from each party, and how the media travelled.
pub(crate) async fn finish(link: Option<CallLink>) -> (BTreeMap<String, StreamCounts>, Option<String>) {
    match link {
        Some(l) => {
            let report = l.close().await;
            (report.by_party, Some(report.media_path))
        }
        None => (BTreeMap::new(), None),
    }
}

/// An error code as its wire word (`forbidden`, …).
pub(crate) fn code_word(code: &ErrorCode) -> Option<String> {
    serde_json::to_value(code).ok().and_then(|v| v.as_str().map(str::to_owned))
}
