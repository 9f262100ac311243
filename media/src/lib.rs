//! Xiaowu media: what the headless clients need to make a call real with webrtc-rs 0.21.
//!
//! - [`peer`]: a [`CallPeer`] wraps one peer connection: built from the ICE servers the server
//!   hands out, negotiated through the signaling relay with trickle ICE (candidates buffered until
//!   the remote description is set), a `chat` data channel, and an ICE restart on demand;
//! - [`sender`]: sends VP8 video and Opus audio from the bundled sample files, looping;
//! - [`counters`]: what arrives — packets, frames, bytes per kind — and when the first video packet
//!   came;
//! - [`link`]: a [`CallLink`] maps the protocol's signaling messages onto a peer (both clients);
//! - [`stats`]: RTT, packets lost and bitrate from the connection's stats report;
//! - [`document`]: the document-photo pipeline, re-exported from the `xiaowu-photo` crate (the
//!   clients use its samples and hashes; the server uses that crate directly).
//!
//! The peer settings (in `peer.rs`, each explained there): mDNS off (it fails where no multicast
//! interface exists), loopback candidates allowed, a short ICE check interval and no wait before
//! accepting peer-reflexive pairs (both cut call set-up from hundreds of milliseconds to tens).
#![forbid(unsafe_code)]

pub mod client;
pub mod counters;
pub use photo as document;
pub mod link;
pub mod loss;
pub mod peer;
pub mod sender;
pub mod stats;

pub use counters::{Counters, CountersSnapshot, DecodedVideo};
pub use link::{CallLink, CallReport};
pub use peer::{CallPeer, PeerConfig, PeerEvent};
pub use stats::CallStats;

/// Errors at the media boundary.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    #[error("media file: {0}")]
    Sample(String),
    #[error("{0}")]
    Negotiation(&'static str),
}
