//! What the console's relay-only roles share (`--monitor`, `--join-invites`): a [`CallLink`]
//! driven by the media relay's signaling that reports no media state of its own (the call's
//! parties do), and the per-party report at the end.

use std::collections::BTreeMap;

use media::counters::StreamCounts;
use media::{CallLink, PeerEvent};
use protocol::{ClientMessage, ErrorCode, ServerMessage};
use session::{Session, SessionError};

/// Sends what the peer event calls for (candidates), never a `media_state`.
pub(crate) async fn on_peer_event(
    link: &mut Option<CallLink>,
    event: &PeerEvent,
    session: &Session,
) -> Result<(), SessionError> {
    if let Some(l) = link.as_mut() {
        for out in l.on_event(event).await.unwrap_or_default() {
            if !matches!(out, ClientMessage::MediaState { .. }) {
                session.send(out).await?;
            }
        }
    }
    Ok(())
}

/// Answers the relay's offer or applies its candidate.
pub(crate) async fn on_signal(
    link: &mut Option<CallLink>,
    msg: &ServerMessage,
    session: &Session,
) -> Result<(), SessionError> {
    media::client::apply_signal(session, link, msg).await
}

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
