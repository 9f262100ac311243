//! Xiaowu media relay: a selective forwarding unit (SFU) on webrtc-rs 0.21 that calls go through
//! when `[media] mode = "relay"`, so that a call can be recorded, watched by a supervisor and
//! joined by a third party.
//!
//! The relay never decodes media. Per call it keeps a [`room`](room) of parties; each party has
//! one peer connection with the relay, on which it publishes its camera and microphone (unless it
//! only watches) and receives every other publisher's video and audio. RTP is forwarded as it
//! arrives, with the SSRC and payload type rewritten for each receiver ([`forward`]). A
//! receiver's keyframe request (PLI or FIR) goes back to the publisher, at most every 500 ms, and
//! one is sent for every new receiver. webrtc-rs's interceptors answer NACKs from a send buffer
//! (resending on an RTX stream, [`rtx`]), ask the publisher for lost packets, and send transport-wide congestion feedback (TWCC) so that
//! the publisher's own bandwidth estimate keeps a village uplink from flooding; the relay also
//! estimates each receiver's path from the receiver's TWCC feedback and tells every publisher,
//! once a second, how fast it may send (REMB, [`bitrate`]).
//!
//! The relay is the offerer on every connection: it sends an SDP offer to each party (and a new
//! one when a party joins or leaves), and the parties answer. It is driven by the signaling
//! server through [`Relay`] and reports through [`RelayEvent`]s: signaling to deliver, a party's
//! media up or lost, a recording finished. [`Relay`] is either a [`LocalRelay`] in the server's
//! own process or a client of `xiaowu-relay` processes on other machines ([`control`]).
//!
//! Recording ([`record`]): the relay writes the call as one WebM file (VP8 + Opus, one video and
//! one audio track per recorded party), cluster by cluster as the call runs, so a crash loses at
//! most the cluster being filled (about one second).
#![forbid(unsafe_code)]

pub mod bitrate;
pub mod control;
pub mod forward;
pub mod handshake;
pub mod participant;
pub mod pool;
pub mod record;
mod relay;
pub mod room;
pub mod serve;
pub mod transfer;

/// The interceptors and codecs the relay shares with the clients (crate `xiaowu-interceptors`).
pub use interceptors::{feedback, intercept, rtx};
pub use relay::{LocalRelay, Relay, RelayConfig, DEFAULT_MAX_BITRATE_KBPS};

/// Who a party of a room is, as the signaling server names it (`booth`, `clerk`, `monitor:3`, …).
/// The relay uses it as the media stream id of everything it forwards from that party, so a page
/// can tell whose video a track is.
pub type PartyId = String;

/// One party's part in a room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JoinSpec {
    pub party: PartyId,
    /// Sends its camera and microphone (false: a silent monitor, who only receives).
    pub publish: bool,
}

/// Signaling from the relay to one party.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// An SDP offer to answer. `fresh`: the relay made a new connection for this party (after it
    /// lost the previous one): drop the old peer connection and answer with a new one.
    Offer { sdp: String, fresh: bool },
    /// A local ICE candidate of the relay (`candidate` empty: gathering is done).
    Candidate { candidate: String, sdp_mid: Option<String>, sdp_mline_index: Option<u16> },
}

/// What the relay reports to the signaling server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RelayEvent {
    /// Deliver this to the party of the call.
    Signal { call: u64, party: PartyId, signal: Signal },
    /// The party's connection with the relay is up.
    Connected { call: u64, party: PartyId },
    /// The party's connection with the relay failed for good.
    Failed { call: u64, party: PartyId },
    /// A call's recording is complete (the room closed).
    Recorded(record::RecordingInfo),
    /// The call's room is gone without being closed: the relay process holding it died or its
    /// control link was lost (a relay on machines of its own, [`control`]). The call's media is
    /// lost; whatever was recorded so far stays readable on the relay's disk.
    RoomLost { call: u64 },
}

/// Errors at the relay boundary.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    #[error("no such call or party in the relay")]
    NotFound,
    #[error("the relay is not running")]
    Stopped,
    #[error("recording: {0}")]
    Recording(#[from] std::io::Error),
}
