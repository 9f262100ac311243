//! One party's peer connection with the relay: built with the relay's settings, offered by the
//! relay, answered by the party; what happens on it goes to the room as [`PartyEvent`]s.
//!
//! Settings, each for a reason:
//! - only VP8 and Opus are offered: the relay forwards without transcoding, and the recording
//!   holds VP8 + Opus, so every party must send those two;
//! - VP8 with RTX ([`rtx_codec`]): a retransmission travels on a stream of its own, both ways;
//!   what arrives on one is turned back into the packet it repairs before the NACK generator
//!   sees it ([`crate::rtx`]), so a packet that came back is not asked for again;
//! - mDNS off (building a connection fails where no multicast interface exists, and a relay has a
//!   real address to give), loopback candidates kept (tests and one-machine demos), checks every
//!   25 ms and no wait before using a peer-reflexive pair (a browser's first check often arrives
//!   before its candidate): set-up in tens of milliseconds instead of hundreds;
//! - an interceptor that hands received PLI/FIR to the application, where they go on to the
//!   publisher; by default webrtc-rs consumes them;
//! - transport-wide congestion control both ways: the relay stamps what it forwards and estimates
//!   each party's receiving path from the party's feedback (Google congestion control, starting
//!   at 300 kb/s as a browser's own estimate does, held between 100 kb/s and
//!   `[media] max_bitrate_kbps`), and sends feedback on what it receives so
//!   the party's own estimate protects its uplink; the per-party estimate feeds the bitrate limits
//!   of [`crate::bitrate`].

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{CongestionControlBuilder, Gcc, Slot, GCC_INITIAL_BITRATE};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_rtcp_reports, configure_twcc,
};
use rtc::peer_connection::transport::RTCIceCandidateType;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodecParameters, RtpCodecKind};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription, Registry,
    SettingEngineBuilder,
};

use crate::feedback::{FeedbackToApp, PathEstimate};
use crate::{PartyId, RelayError};

/// What a party's connection reports to its room.
pub enum PartyEvent {
    Candidate { party: PartyId, generation: u64, init: Option<RTCIceCandidateInit> },
    Track { party: PartyId, generation: u64, track: Arc<dyn TrackRemote> },
    State { party: PartyId, generation: u64, state: RTCPeerConnectionState },
    Chat { party: PartyId, text: String },
}

pub use interceptors::codecs::{codec, rtx_codec};

/// How the relay's connections are built.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// The address the relay's UDP sockets bind to (a concrete one: a wildcard skips loopback).
    pub bind_ip: IpAddr,
    /// The address parties reach the relay at when it is behind a 1:1 NAT (advertised instead).
    pub public_ip: Option<IpAddr>,
    /// The most a publisher is asked to send, and the most a receiving path is estimated to
    /// carry (bits per second).
    pub max_bitrate_bps: f64,
}

/// Builds a peer connection for one party of a room; with it, the estimate of the party's
/// receiving path.
pub async fn connect(
    settings: &ConnectionSettings,
    party: &PartyId,
    generation: u64,
    room: mpsc::UnboundedSender<PartyEvent>,
) -> Result<(Arc<dyn PeerConnection>, PathEstimate), RelayError> {
    let mut media = MediaEngine::default();
    media.register_codec(
        RTCRtpCodecParameters { rtp_codec: codec(RtpCodecKind::Video), payload_type: 96 },
        RtpCodecKind::Video,
    )?;
    media.register_codec(RTCRtpCodecParameters { rtp_codec: rtx_codec(), payload_type: 97 }, RtpCodecKind::Video)?;
    media.register_codec(
        RTCRtpCodecParameters { rtp_codec: codec(RtpCodecKind::Audio), payload_type: 111 },
        RtpCodecKind::Audio,
    )?;
    let estimate = PathEstimate::default();
    let cap = settings.max_bitrate_bps.max(crate::bitrate::FLOOR_BPS);
    let registry = configure_nack(Registry::new(), &mut media);
    let registry = configure_rtcp_reports(configure_twcc(registry, &mut media)?)
        .with(
            Slot::CongestionControl,
            CongestionControlBuilder::new(Gcc::new(GCC_INITIAL_BITRATE.min(cap), crate::bitrate::FLOOR_BPS, cap))
                .build(),
        )
        .with(Slot::from(crate::rtx::SLOT), crate::rtx::RtxUnwrap::interceptor())
        .with(Slot::from(crate::feedback::SLOT), FeedbackToApp::new(estimate.clone()));
    let mut engine = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_include_loopback_candidate(true)
        .with_ice_connection_attempts(Some(Duration::from_millis(25)), Some(40))
        .with_host_acceptance_min_wait(Some(Duration::ZERO))
        .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
        // A party that vanished is noticed within seconds (it also says goodbye through signaling).
        .with_ice_timeouts(
            Some(Duration::from_secs(3)),
            Some(Duration::from_secs(8)),
            Some(Duration::from_millis(500)),
        );
    if let Some(ip) = settings.public_ip {
        engine = engine.with_nat_1to1_ips(vec![ip.to_string()], RTCIceCandidateType::Host);
    }
    let handler = Arc::new(Handler { party: party.clone(), generation, room });
    let runtime = webrtc::runtime::default_runtime().ok_or(RelayError::Stopped)?;
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(engine.build())
        .with_handler(handler)
        .with_runtime(runtime)
        .with_udp_addrs(vec![format!("{}:0", settings.bind_ip)])
        .build()
        .await?;
    Ok((Arc::new(pc), estimate))
}

struct Handler {
    party: PartyId,
    generation: u64,
    room: mpsc::UnboundedSender<PartyEvent>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let init = event.candidate.to_json().ok();
        let _ = self.room.send(PartyEvent::Candidate { party: self.party.clone(), generation: self.generation, init });
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.room.send(PartyEvent::State { party: self.party.clone(), generation: self.generation, state });
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.room.send(PartyEvent::Track { party: self.party.clone(), generation: self.generation, track });
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        // The relay opens the channel itself; a party's own channel is read the same way.
        tokio::spawn(read_chat(dc, self.party.clone(), self.room.clone()));
    }
}

/// Reads a party's chat channel into the room.
pub async fn read_chat(dc: Arc<dyn DataChannel>, party: PartyId, room: mpsc::UnboundedSender<PartyEvent>) {
    while let Some(event) = dc.poll().await {
        match event {
            DataChannelEvent::OnMessage(msg) => {
                let text = String::from_utf8_lossy(&msg.data).into_owned();
                let _ = room.send(PartyEvent::Chat { party: party.clone(), text });
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
}

/// Remote candidates that came before the answer, applied once it is set.
#[derive(Default)]
pub struct PendingCandidates(Mutex<Option<Vec<RTCIceCandidateInit>>>);

impl PendingCandidates {
    pub fn hold(&self) {
        *self.0.lock().expect("candidate lock is never poisoned") = Some(vec![]);
    }

    /// Keeps the candidate if the answer is not in yet; otherwise hands it back.
    pub fn keep(&self, init: RTCIceCandidateInit) -> Option<RTCIceCandidateInit> {
        match self.0.lock().expect("candidate lock is never poisoned").as_mut() {
            Some(list) => {
                list.push(init);
                None
            }
            None => Some(init),
        }
    }

    pub fn release(&self) -> Vec<RTCIceCandidateInit> {
        self.0.lock().expect("candidate lock is never poisoned").take().unwrap_or_default()
    }
}

/// Applies a party's SDP answer, then the candidates that came before it.
pub async fn apply_answer(
    pc: &Arc<dyn PeerConnection>,
    sdp: String,
    pending: &PendingCandidates,
) -> Result<(), RelayError> {
    pc.set_remote_description(RTCSessionDescription::answer(sdp)?).await?;
    for init in pending.release() {
        if let Err(e) = pc.add_ice_candidate(init).await {
            tracing::debug!(error = %e, "remote candidate refused");
        }
    }
    Ok(())
}

/// Creates an offer and sets it as the local description.
pub async fn make_offer(pc: &Arc<dyn PeerConnection>) -> Result<String, RelayError> {
    let offer = pc.create_offer(None).await?;
    let sdp = offer.sdp.clone();
    pc.set_local_description(offer).await?;
    Ok(sdp)
}
