//! One side of a call: a webrtc-rs peer connection negotiated through the Xiaowu signaling relay.
//!
//! The initiator (the clerk) creates the `chat` data channel and the SDP offer; the other side
//! answers. Both send video and audio and count what they receive. Local ICE candidates come out
//! as [`PeerEvent::LocalCandidate`] for the client to relay; remote ones are buffered until the
//! remote description is set: Chromium trickles candidates that can arrive before the answer, and
//! applying them early fails.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::ice::mdns::MulticastDnsMode;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::PayloadType;
use tokio::sync::{mpsc, watch};
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceConnectionState, RTCIceServer, RTCIceTransportPolicy,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::counters::Counters;
use crate::sender;
use crate::stats::{self, CallStats};
use crate::MediaError;

/// How to build the peer connection.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// STUN/TURN servers as the signaling server handed them out.
    pub ice_servers: Vec<protocol::IceServer>,
    /// Use only TURN relay candidates (tests the TURN path).
    pub relay_only: bool,
    /// Local address to bind UDP sockets on (a concrete address: a wildcard skips loopback).
    pub bind_ip: IpAddr,
    /// Drop every Nth received video packet where it enters (a lossy link, simulated; see
    /// [`crate::loss`]).
    pub simulated_loss: Option<u32>,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self { ice_servers: vec![], relay_only: false, bind_ip: IpAddr::from([127, 0, 0, 1]), simulated_loss: None }
    }
}

/// What the peer reports to its client.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerEvent {
    /// A local candidate to relay to the other party (`candidate` empty: gathering is done).
    LocalCandidate {
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    },
    IceState(String),
    Connected,
    /// ICE lost the path (disconnected or failed): the initiator should restart ICE.
    PathLost,
    Failed,
    Closed,
    Chat(String),
}

type Events = mpsc::UnboundedSender<PeerEvent>;

struct Handler {
    events: Events,
    counters: Arc<Counters>,
    chat: Arc<Mutex<Option<Arc<dyn DataChannel>>>>,
    connected: watch::Sender<bool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.events.send(PeerEvent::LocalCandidate {
                candidate: init.candidate,
                sdp_mid: init.sdp_mid,
                sdp_mline_index: init.sdp_mline_index,
            });
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let _ = self.events.send(PeerEvent::IceState(state.to_string()));
        if matches!(state, RTCIceConnectionState::Disconnected | RTCIceConnectionState::Failed) {
            let _ = self.events.send(PeerEvent::PathLost);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        match state {
            RTCPeerConnectionState::Connected => {
                let _ = self.connected.send(true);
                let _ = self.events.send(PeerEvent::Connected);
            }
            RTCPeerConnectionState::Failed => {
                let _ = self.events.send(PeerEvent::Failed);
            }
            RTCPeerConnectionState::Closed => {
                let _ = self.events.send(PeerEvent::Closed);
            }
            _ => {}
        }
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        *self.chat.lock().expect("chat lock is never poisoned: no panics under it") = Some(dc.clone());
        tokio::spawn(read_chat(dc, self.events.clone(), self.counters.clone()));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let counters = self.counters.clone();
        tokio::spawn(async move {
            let kind = track.kind().await;
            let stream = track.stream_id().await;
            let mut decoder = (kind == RtpCodecKind::Video).then(VideoDecoder::new).flatten();
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    match kind {
                        RtpCodecKind::Video => {
                            counters.video_packet(packet.payload.len(), packet.header.marker);
                            let (ask, decoded) = decoder.as_mut().map_or((false, 0), |d| d.push(&packet, &counters));
                            for _ in 0..decoded {
                                counters.stream(&stream, true, false);
                            }
                            if ask {
                                // Loss: ask the sender for a keyframe so decoding resumes.
                                let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: packet.header.ssrc };
                                let _ = track.write_rtcp(vec![Box::new(pli)]).await;
                            }
                        }
                        _ => {
                            counters.audio_packet(packet.payload.len());
                            counters.stream(&stream, false, true);
                        }
                    }
                }
            }
        });
    }
}

/// Decodes received VP8 with libvpx when built with the `vp8-decode` feature (the Rust clients
/// are); without it, video is only counted. Cost per frame: BENCHMARKS.md (VP8 decode).
#[cfg(feature = "vp8-decode")]
struct VideoDecoder {
    rx: vp8::Receiver,
    last_pli: Option<Instant>,
}

#[cfg(feature = "vp8-decode")]
impl VideoDecoder {
    /// Keyframe requests are sent at most this often while frames are being dropped.
    const PLI_INTERVAL: Duration = Duration::from_millis(500);

    fn new() -> Option<Self> {
        match vp8::Receiver::new() {
            Ok(rx) => Some(Self { rx, last_pli: None }),
            Err(e) => {
                tracing::warn!(error = %e, "no VP8 decoder: received video is counted, not decoded");
                None
            }
        }
    }

    /// Feeds a packet; (a keyframe should be requested now, pictures decoded).
    fn push(&mut self, packet: &rtc::rtp::Packet, counters: &Counters) -> (bool, usize) {
        let h = &packet.header;
        let pictures = self.rx.push(h.sequence_number, h.timestamp, h.marker, &packet.payload, Instant::now());
        let errors = self.rx.errors + self.rx.frames_lost();
        counters.video_decoded(None, errors);
        for p in &pictures {
            counters.video_decoded(Some((p.width, p.height, p.luma_mean)), errors);
        }
        let due = self.last_pli.is_none_or(|at| at.elapsed() >= Self::PLI_INTERVAL);
        if self.rx.needs_keyframe() && due {
            self.last_pli = Some(Instant::now());
            return (true, pictures.len());
        }
        (false, pictures.len())
    }
}

#[cfg(not(feature = "vp8-decode"))]
struct VideoDecoder;

#[cfg(not(feature = "vp8-decode"))]
impl VideoDecoder {
    fn new() -> Option<Self> {
        None
    }

    fn push(&mut self, _packet: &rtc::rtp::Packet, _counters: &Counters) -> (bool, usize) {
        (false, 0)
    }
}

async fn read_chat(dc: Arc<dyn DataChannel>, events: Events, counters: Arc<Counters>) {
    while let Some(event) = dc.poll().await {
        match event {
            DataChannelEvent::OnMessage(msg) => {
                counters.chat();
                let _ = events.send(PeerEvent::Chat(String::from_utf8_lossy(&msg.data).into_owned()));
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
}

/// One side of a call.
pub struct CallPeer {
    pc: Arc<dyn PeerConnection>,
    events: Events,
    counters: Arc<Counters>,
    chat: Arc<Mutex<Option<Arc<dyn DataChannel>>>>,
    pending_candidates: Mutex<Option<Vec<RTCIceCandidateInit>>>,
    tracks: Vec<(Arc<TrackLocalStaticSample>, Arc<dyn RtpSender>, RtpCodecKind)>,
    connected: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    last_stats: Mutex<Option<(u64, Instant)>>,
    /// The selected candidate pair as last seen in a stats report (its type and both addresses):
    /// a report taken while the connection is torn down no longer names one.
    pair_seen: Arc<Mutex<Option<CallStats>>>,
}

/// The codecs the calls use (VP8, Opus), as the media relay offers them.
fn codec(kind: RtpCodecKind) -> RTCRtpCodec {
    interceptors::codecs::codec(kind)
}

fn local_track(kind: RtpCodecKind, ssrc: u32) -> Result<Arc<TrackLocalStaticSample>, MediaError> {
    let track = MediaStreamTrack::new(
        "xiaowu".to_owned(),
        format!("xiaowu-{kind}"),
        format!("xiaowu-{kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: codec(kind),
            ..Default::default()
        }],
    );
    Ok(Arc::new(TrackLocalStaticSample::new(Instant::now(), track)?))
}

impl CallPeer {
    /// Builds the peer connection and returns it with the stream of its events.
    pub async fn new(config: &PeerConfig) -> Result<(Self, mpsc::UnboundedReceiver<PeerEvent>), MediaError> {
        let mut media = MediaEngine::default();
        media.register_default_codecs()?;
        // Keyframe requests reach the video sender, which then starts again at a keyframe.
        // RTX packets become the packets they repair before the NACK generator sees them.
        let mut registry = register_default_interceptors(Registry::new(), &mut media)?
            .with(rtc::interceptor::Slot::from(interceptors::rtx::SLOT), interceptors::rtx::RtxUnwrap::interceptor())
            .with(
                rtc::interceptor::Slot::from(interceptors::feedback::SLOT),
                interceptors::feedback::FeedbackToApp::interceptor(),
            );
        if let Some(every) = config.simulated_loss {
            registry = registry
                .with(rtc::interceptor::Slot::from(crate::loss::SLOT), crate::loss::SimulatedLoss::every(every));
        }
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_include_loopback_candidate(true)
            .with_ice_connection_attempts(Some(Duration::from_millis(25)), Some(40))
            .with_host_acceptance_min_wait(Some(Duration::ZERO))
            .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
            .with_srflx_acceptance_min_wait(Some(Duration::from_millis(50)))
            .with_relay_acceptance_min_wait(Some(Duration::from_millis(100)))
            // Notice a broken path within seconds so that an ICE restart can repair it.
            .with_ice_timeouts(
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(6)),
                Some(Duration::from_millis(500)),
            )
            .build();
        let ice_servers = config
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
            .collect();
        let policy = if config.relay_only { RTCIceTransportPolicy::Relay } else { RTCIceTransportPolicy::All };
        let rtc_config =
            RTCConfigurationBuilder::new().with_ice_servers(ice_servers).with_ice_transport_policy(policy).build();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let chat = Arc::new(Mutex::new(None));
        let (connected_tx, connected_rx) = watch::channel(false);
        let handler = Arc::new(Handler {
            events: events_tx.clone(),
            counters: counters.clone(),
            chat: chat.clone(),
            connected: connected_tx,
        });
        let runtime = webrtc::runtime::default_runtime().ok_or(MediaError::Negotiation("no async runtime"))?;
        let pc = PeerConnectionBuilder::new()
            .with_configuration(rtc_config)
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .with_handler(handler)
            .with_runtime(runtime)
            .with_udp_addrs(vec![format!("{}:0", config.bind_ip)])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let mut tracks = vec![];
        for (kind, ssrc) in [(RtpCodecKind::Video, rand_ssrc(1)), (RtpCodecKind::Audio, rand_ssrc(2))] {
            let track = local_track(kind, ssrc)?;
            let sender = pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
            tracks.push((track, sender, kind));
        }
        let (stop, _) = watch::channel(false);
        let peer = Self {
            pc,
            events: events_tx,
            counters,
            chat,
            pending_candidates: Mutex::new(Some(vec![])),
            tracks,
            connected: connected_rx,
            stop,
            last_stats: Mutex::new(None),
            pair_seen: Arc::default(),
        };
        Ok((peer, events_rx))
    }

    /// Initiator: opens the chat channel and creates the SDP offer (set as local description).
    pub async fn create_offer(&self) -> Result<String, MediaError> {
        let dc = self.pc.create_data_channel("chat", None).await?;
        *self.chat.lock().expect("chat lock is never poisoned") = Some(dc.clone());
        tokio::spawn(read_chat(dc, self.events.clone(), self.counters.clone()));
        self.offer().await
    }

    async fn offer(&self) -> Result<String, MediaError> {
        let offer = self.pc.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        self.pc.set_local_description(offer).await?;
        Ok(sdp)
    }

    /// Answerer: applies the remote offer and returns the SDP answer.
    pub async fn answer(&self, offer_sdp: &str) -> Result<String, MediaError> {
        self.pc.set_remote_description(RTCSessionDescription::offer(offer_sdp.to_owned())?).await?;
        self.flush_candidates().await;
        let answer = self.pc.create_answer(None).await?;
        let sdp = answer.sdp.clone();
        self.pc.set_local_description(answer).await?;
        Ok(sdp)
    }

    /// Initiator: applies the remote answer.
    pub async fn accept_answer(&self, answer_sdp: &str) -> Result<(), MediaError> {
        self.pc.set_remote_description(RTCSessionDescription::answer(answer_sdp.to_owned())?).await?;
        self.flush_candidates().await;
        Ok(())
    }

    /// Initiator: restarts ICE and returns the new offer to send.
    pub async fn restart_ice(&self) -> Result<String, MediaError> {
        self.pc.restart_ice().await?;
        self.offer().await
    }

    /// Adds a remote candidate, or keeps it until the remote description is set.
    pub async fn add_remote_candidate(
        &self,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    ) -> Result<(), MediaError> {
        if candidate.is_empty() {
            return Ok(()); // end of candidates
        }
        let init = RTCIceCandidateInit { candidate, sdp_mid, sdp_mline_index, ..Default::default() };
        {
            let mut pending = self.pending_candidates.lock().expect("candidate lock is never poisoned");
            if let Some(list) = pending.as_mut() {
                list.push(init);
                return Ok(());
            }
        }
        self.pc.add_ice_candidate(init).await?;
        Ok(())
    }

    async fn flush_candidates(&self) {
        let pending = self.pending_candidates.lock().expect("candidate lock is never poisoned").take();
        for init in pending.unwrap_or_default() {
            if let Err(e) = self.pc.add_ice_candidate(init).await {
                tracing::debug!(error = %e, "remote candidate refused");
            }
        }
    }

    /// Starts sending video and audio once the connection is up; runs until `close`.
    pub fn start_media(&self) {
        for (track, sender, kind) in &self.tracks {
            let (track, sender, kind) = (track.clone(), sender.clone(), *kind);
            let mut connected = self.connected.clone();
            let stop = self.stop.subscribe();
            let counters = self.counters.clone();
            tokio::spawn(async move {
                if connected.wait_for(|c| *c).await.is_err() {
                    return;
                }
                let Some(pt) = payload_type(&sender, kind).await else {
                    tracing::warn!(%kind, "no negotiated codec for the track; not sending");
                    return;
                };
                let result = match kind {
                    RtpCodecKind::Video => sender::send_video(track, pt, counters, stop).await,
                    _ => sender::send_audio(track, pt, stop).await,
                };
                if let Err(e) = result {
                    tracing::warn!(%kind, error = %e, "media sender stopped");
                }
            });
        }
    }

    /// Sends a chat message on the data channel (waits up to 5 s for it to open).
    pub async fn send_chat(&self, text: &str) -> Result<(), MediaError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let dc = self.chat.lock().expect("chat lock is never poisoned").clone();
            if let Some(dc) = dc {
                if dc.send_text(text).await.is_ok() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(MediaError::Negotiation("the chat channel did not open"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub async fn stats(&self) -> CallStats {
        let previous = *self.last_stats.lock().expect("stats lock is never poisoned");
        let s = stats::collect(self.pc.as_ref(), previous).await;
        *self.last_stats.lock().expect("stats lock is never poisoned") = Some((s.bytes_received, Instant::now()));
        keep_pair(&self.pair_seen, &s);
        s
    }

    /// Once the media is up: reads the stats until they name the selected pair (ICE reports
    /// "connected" before the pair is marked nominated; on a loaded machine that can take a
    /// while), at most for 10 s, and keeps it for [`CallPeer::pair_seen`].
    pub fn keep_pair_when_up(&self) {
        let (pc, seen) = (self.pc.clone(), self.pair_seen.clone());
        tokio::spawn(async move {
            for _ in 0..100 {
                if keep_pair(&seen, &stats::collect(pc.as_ref(), None).await) {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        });
    }

    /// The selected candidate pair as last seen (type and addresses only).
    pub fn pair_seen(&self) -> Option<CallStats> {
        self.pair_seen.lock().expect("stats lock is never poisoned").clone()
    }

    pub async fn close(&self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "closing the peer connection");
        }
    }
}

/// The payload type negotiated for the track's codec, looked up by codec name. Not the first codec
/// of the sender's parameters: when the page prefers H.264, VP8 frames would go out labelled H.264
/// and Chromium would decode nothing.
async fn payload_type(sender: &Arc<dyn RtpSender>, kind: RtpCodecKind) -> Option<PayloadType> {
    let want = match kind {
        RtpCodecKind::Video => MIME_TYPE_VP8,
        _ => MIME_TYPE_OPUS,
    };
    let params = sender.get_parameters().await.ok()?;
    params
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(want))
        .map(|c| c.payload_type)
}

/// SSRCs need only be unique within the call; derive them from the clock and the track.
fn rand_ssrc(salt: u32) -> u32 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(7);
    nanos.wrapping_mul(2_654_435_761).wrapping_add(salt.wrapping_mul(40_503)) | 1
}

/// Keeps `s`'s selected pair when it names one whole; `true` if it did.
fn keep_pair(seen: &Mutex<Option<CallStats>>, s: &CallStats) -> bool {
    if s.local_candidate_type.is_none() || s.local_address.is_none() || s.remote_address.is_none() {
        return false;
    }
    let pair = CallStats {
        local_candidate_type: s.local_candidate_type.clone(),
        local_address: s.local_address.clone(),
        remote_address: s.remote_address.clone(),
        ..CallStats::default()
    };
    *seen.lock().expect("stats lock is never poisoned") = Some(pair);
    true
}
