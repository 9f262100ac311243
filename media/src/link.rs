//! A call as a client sees it: the protocol's signaling messages in, a [`CallPeer`] driven by
//! them, and the messages to send back out. Shared by `booth-client` and `agent-console`.
//!
//! Peer to peer, the initiator (clerk) offers; on a lost path it restarts ICE with a new offer,
//! and again every [`RESTART_RETRY`] until the path is back (a restart begun while the network is
//! still down gathers nothing), giving up after [`MAX_RESTARTS`]. The other side answers every
//! offer it gets. Before the call ever connected a failure is reported at once
//! (`media_state: failed`); after, only the initiator declares it.
//!
//! Through the server's media relay, both sides answer: the relay offers (again when a party
//! joins or leaves the call), and an offer marked `fresh` replaces the peer connection with a new
//! one (the relay lost the old one). A connection to the relay that fails for good is reported at
//! once: the relay is gone, and nobody else would say so.

use std::time::{Duration, Instant};

use protocol::{CallId, ClientMessage, IceServer, MediaMode, MediaState, SdpKind, ServerMessage};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::peer::{CallPeer, PeerConfig, PeerEvent};
use crate::stats::CallStats;
use crate::MediaError;

/// How long a restart may take before the initiator tries again.
pub const RESTART_RETRY: Duration = Duration::from_secs(5);
/// Restarts in a row without the path coming back, after which the call is reported failed.
pub const MAX_RESTARTS: u32 = 6;

/// What a finished (or ongoing) call received.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CallReport {
    pub call: u64,
    pub video_packets_received: u64,
    pub audio_packets_received: u64,
    pub frames_received: u64,
    /// The received video as decoded here (only with the `vp8-decode` feature; else zeros).
    pub decoded: crate::counters::DecodedVideo,
    pub bytes_received: u64,
    /// From `t0` (the clerk's accept, or the booth's `call_started`) to the first remote video packet.
    pub setup_ms: Option<u64>,
    /// From `t0` to the first complete remote video frame.
    pub first_frame_ms: Option<u64>,
    pub chat_received: u64,
    pub ice_restarts: u32,
    /// Video frames received since the last ICE restart began (None: no restart).
    pub frames_after_restart: Option<u64>,
    /// How the media travelled, from the selected candidate pair: `relay` (through the server's
    /// media relay), `turn` (through a TURN server), `p2p` (directly).
    pub media_path: String,
    /// Per remote party (the media stream's id: `booth`, `clerk` through the relay): video frames
    /// decoded and audio packets received.
    pub by_party: std::collections::BTreeMap<String, crate::counters::StreamCounts>,
    /// The last bitrate limit the other side asked this side's video to keep under (REMB, sent
    /// by the relay once a second), kb/s; None when none came (peer to peer).
    pub bitrate_limit_kbps: Option<u64>,
    /// The lowest such limit during the call, kb/s.
    pub bitrate_limit_lowest_kbps: Option<u64>,
    pub stats: Option<CallStats>,
}

pub struct CallLink {
    pub call: CallId,
    initiator: bool,
    media: MediaMode,
    config: PeerConfig,
    peer: CallPeer,
    events: UnboundedReceiver<PeerEvent>,
    t0: Instant,
    say: Option<String>,
    ice_restarts: u32,
    /// Restarts since the path was last up.
    failed_restarts: u32,
    /// When to try another restart if the path is still down.
    retry_at: Option<Instant>,
    connected: bool,
    connected_once: bool,
    reported_failed: bool,
    answered: bool,
    frames_at_restart: Option<u64>,
}

impl CallLink {
    /// Builds the peer for `call_started`; returns the link and, for the initiator, the offer.
    pub async fn start(
        call: CallId,
        initiator: bool,
        media: MediaMode,
        ice_servers: &[IceServer],
        base: &PeerConfig,
        t0: Instant,
        say: Option<String>,
    ) -> Result<(Self, Vec<ClientMessage>), MediaError> {
        let config = PeerConfig { ice_servers: ice_servers.to_vec(), ..base.clone() };
        let (peer, events) = CallPeer::new(&config).await?;
        let mut out = vec![];
        if initiator {
            let sdp = peer.create_offer().await?;
            out.push(ClientMessage::Sdp { call, kind: SdpKind::Offer, sdp });
            peer.start_media();
        }
        let link = Self {
            call,
            initiator,
            media,
            config,
            peer,
            events,
            t0,
            say,
            ice_restarts: 0,
            failed_restarts: 0,
            retry_at: None,
            connected: false,
            connected_once: false,
            reported_failed: false,
            answered: false,
            frames_at_restart: None,
        };
        Ok((link, out))
    }

    /// Handles a relayed `sdp` or `ice_candidate` for this call.
    pub async fn on_signal(&mut self, msg: &ServerMessage) -> Result<Vec<ClientMessage>, MediaError> {
        match msg {
            ServerMessage::Sdp { call, kind: SdpKind::Offer, sdp, fresh } if *call == self.call && !self.initiator => {
                if *fresh && self.answered {
                    // The relay lost our connection and made a new one: replace ours.
                    tracing::info!(call = self.call.0, "the media relay reconnects: new peer connection");
                    let (peer, events) = CallPeer::new(&self.config).await?;
                    std::mem::replace(&mut self.peer, peer).close().await;
                    self.events = events;
                    self.answered = false;
                    self.connected = false;
                    self.reported_failed = false;
                    self.ice_restarts += 1;
                    self.frames_at_restart = Some(self.peer.counters().snapshot().video_frames);
                } else if self.answered && self.media == MediaMode::P2p {
                    // A second offer on the same call is the clerk's ICE restart.
                    self.ice_restarts += 1;
                    self.frames_at_restart = Some(self.peer.counters().snapshot().video_frames);
                }
                let answer = self.peer.answer(sdp).await?;
                if !self.answered {
                    self.answered = true;
                    self.peer.start_media();
                }
                Ok(vec![ClientMessage::Sdp { call: self.call, kind: SdpKind::Answer, sdp: answer }])
            }
            ServerMessage::Sdp { call, kind: SdpKind::Answer, sdp, .. } if *call == self.call && self.initiator => {
                self.peer.accept_answer(sdp).await?;
                Ok(vec![])
            }
            ServerMessage::IceCandidate { call, candidate, sdp_mid, sdp_mline_index } if *call == self.call => {
                self.peer.add_remote_candidate(candidate.clone(), sdp_mid.clone(), *sdp_mline_index).await?;
                Ok(vec![])
            }
            _ => Ok(vec![]),
        }
    }

    /// Next peer event (pending forever once the peer is gone, so it can sit in a `select!`).
    /// When a restart is overdue this yields a `PathLost` of its own, so the retry happens.
    pub async fn next_event(&mut self) -> PeerEvent {
        let retry = self.retry_at;
        tokio::select! {
            ev = self.events.recv() => match ev {
                Some(ev) => ev,
                None => std::future::pending().await,
            },
            _ = async {
                match retry {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            } => {
                self.retry_at = None;
                PeerEvent::PathLost
            }
        }
    }

    fn failed(&mut self) -> Vec<ClientMessage> {
        if std::mem::replace(&mut self.reported_failed, true) {
            return vec![];
        }
        tracing::warn!(call = self.call.0, "media failed");
        vec![ClientMessage::MediaState { call: self.call, state: MediaState::Failed }]
    }

    /// Turns a peer event into messages to send (candidates; a restart offer after a lost path).
    pub async fn on_event(&mut self, event: &PeerEvent) -> Result<Vec<ClientMessage>, MediaError> {
        match event {
            PeerEvent::LocalCandidate { candidate, sdp_mid, sdp_mline_index } => {
                Ok(vec![ClientMessage::IceCandidate {
                    call: self.call,
                    candidate: candidate.clone(),
                    sdp_mid: sdp_mid.clone(),
                    sdp_mline_index: *sdp_mline_index,
                }])
            }
            PeerEvent::Connected => {
                // The report falls back on the pair seen once the media came up: by the time it
                // is taken the other side may have closed the connection and the stats no longer
                // name a pair.
                self.peer.keep_pair_when_up();
                self.connected = true;
                self.failed_restarts = 0;
                self.retry_at = None;
                if std::mem::replace(&mut self.connected_once, true) {
                    return Ok(vec![]); // back after a restart
                }
                if let Some(text) = self.say.take() {
                    self.peer.send_chat(&text).await?;
                }
                Ok(vec![ClientMessage::MediaState { call: self.call, state: MediaState::Connected }])
            }
            PeerEvent::Failed if !self.connected_once || self.media == MediaMode::Relay => Ok(self.failed()),
            PeerEvent::PathLost | PeerEvent::Failed if self.initiator && self.connected_once => {
                self.connected = false;
                if self.retry_at.is_some_and(|at| Instant::now() < at) {
                    return Ok(vec![]); // a restart is under way
                }
                if self.failed_restarts >= MAX_RESTARTS {
                    return Ok(self.failed());
                }
                self.failed_restarts += 1;
                self.ice_restarts += 1;
                self.frames_at_restart = Some(self.peer.counters().snapshot().video_frames);
                self.retry_at = Some(Instant::now() + RESTART_RETRY);
                tracing::info!(call = self.call.0, attempt = self.failed_restarts, "media path lost: restarting ICE");
                let sdp = self.peer.restart_ice().await?;
                Ok(vec![ClientMessage::Sdp { call: self.call, kind: SdpKind::Offer, sdp }])
            }
            _ => Ok(vec![]),
        }
    }

    /// Whether the other party's media has arrived: a video frame and an audio packet.
    pub fn media_received(&self) -> bool {
        let c = self.peer.counters().snapshot();
        c.video_frames > 0 && c.audio_packets > 0
    }

    pub async fn send_chat(&self, text: &str) -> Result<(), MediaError> {
        self.peer.send_chat(text).await
    }

    pub async fn report(&self) -> CallReport {
        let c = self.peer.counters().snapshot();
        let mut stats = self.peer.stats().await;
        let whole =
            stats.local_candidate_type.is_some() && stats.local_address.is_some() && stats.remote_address.is_some();
        if let (false, Some(up)) = (whole, self.peer.pair_seen()) {
            stats.local_candidate_type = up.local_candidate_type;
            stats.local_address = up.local_address;
            stats.remote_address = up.remote_address;
        }
        CallReport {
            call: self.call.0,
            video_packets_received: c.video_packets,
            audio_packets_received: c.audio_packets,
            frames_received: c.video_frames,
            decoded: c.decoded,
            bytes_received: c.bytes,
            setup_ms: c.first_video.map(|at| at.saturating_duration_since(self.t0).as_millis() as u64),
            first_frame_ms: c.first_frame.map(|at| at.saturating_duration_since(self.t0).as_millis() as u64),
            chat_received: c.chat_received,
            ice_restarts: self.ice_restarts,
            frames_after_restart: self.frames_at_restart.map(|at| c.video_frames.saturating_sub(at)),
            media_path: media_path(self.media, stats.local_candidate_type.as_deref()).into(),
            by_party: self.peer.counters().by_stream(),
            bitrate_limit_kbps: c.bitrate_limit_bps.map(|b| b / 1000),
            bitrate_limit_lowest_kbps: c.bitrate_limit_lowest_bps.map(|b| b / 1000),
            stats: Some(stats),
        }
    }

    pub async fn close(self) -> CallReport {
        let report = self.report().await;
        self.peer.close().await;
        report
    }
}

/// How the media travels, from the mode and this side's selected candidate type.
pub fn media_path(mode: MediaMode, local_candidate_type: Option<&str>) -> &'static str {
    match (local_candidate_type, mode) {
        (Some("relay"), _) => "turn",
        (_, MediaMode::Relay) => "relay",
        (_, MediaMode::P2p) => "p2p",
    }
}
