//! One call's room: its parties' connections, what each publishes, who receives what, chat, and
//! the recording. One task owns a room and handles its commands and its connections' events in
//! order, so negotiation never interleaves.
//!
//! Negotiation: the relay offers, the party answers. A party that joins gets an offer with a
//! receiving slot for each of its own kinds (video, audio) — paired with a sending slot for the
//! first other party's, so a two-party call has exactly two media sections like a direct call —
//! and one sending slot per kind for every other publisher. Every party already there gets the
//! newcomer's tracks in a new offer; one that has not answered its last offer yet gets it when it
//! does. A party that joins again (its connection was lost, the server restarted) gets a fresh
//! connection and an offer marked `fresh`; what it publishes keeps flowing to the others through
//! the same tracks.
//!
//! Once a second the room tells every publisher how fast it may send (REMB), from its receivers'
//! path estimates ([`crate::bitrate`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp::Packet;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::{broadcast, mpsc, watch};
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState};
use webrtc::rtp_transceiver::RtpSender;

use crate::bitrate::{self, ReceiverPath};
use crate::feedback::PathEstimate;
use crate::forward::{Forward, ForwardCounters, PublisherFeedback};
use crate::participant::{self, ConnectionSettings, PartyEvent, PendingCandidates};
use crate::record::{RecordedTrack, Recorder};
use crate::{JoinSpec, PartyId, RelayError, RelayEvent, Signal};

/// Packets a slow receiver may fall behind by before it skips ahead (and asks for a keyframe).
const FORWARD_QUEUE: usize = 512;
/// How often each publisher is told its bitrate limit (a sender forgets a REMB it has not heard
/// again for a few seconds).
const BITRATE_LIMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// What a room is asked to do.
#[derive(Debug)]
pub enum RoomCommand {
    /// A party joins, or joins again with a fresh connection.
    Join(JoinSpec),
    /// A party joins again only if its connection is not up (it may have lost its side).
    Rejoin(JoinSpec),
    Answer {
        party: PartyId,
        sdp: String,
    },
    Candidate {
        party: PartyId,
        init: RTCIceCandidateInit,
    },
    Leave {
        party: PartyId,
    },
    Close,
}

/// One party's media as the room hands it on.
struct Publication {
    video: broadcast::Sender<Packet>,
    audio: broadcast::Sender<Packet>,
    feedback: Arc<PublisherFeedback>,
}

impl Publication {
    fn new() -> Self {
        Self {
            video: broadcast::channel(FORWARD_QUEUE).0,
            audio: broadcast::channel(FORWARD_QUEUE).0,
            feedback: Arc::new(PublisherFeedback::default()),
        }
    }

    fn of(&self, kind: RtpCodecKind) -> &broadcast::Sender<Packet> {
        if kind == RtpCodecKind::Video {
            &self.video
        } else {
            &self.audio
        }
    }
}

struct Party {
    spec: JoinSpec,
    generation: u64,
    pc: Arc<dyn PeerConnection>,
    /// What its receiving path carries, as the relay's congestion control estimates it.
    path: PathEstimate,
    pending: PendingCandidates,
    chat: Arc<dyn DataChannel>,
    /// The senders of what this party receives, by publisher.
    receiving: HashMap<PartyId, Vec<Arc<dyn RtpSender>>>,
    /// Stops this party's forwards.
    stop: watch::Sender<bool>,
    awaiting_answer: bool,
    renegotiate: bool,
    /// Its connection is up (connected, and not disconnected or failed since).
    connected: bool,
    /// The same, for its forwards.
    up: watch::Sender<bool>,
}

pub struct Room {
    call: u64,
    settings: ConnectionSettings,
    parties: HashMap<PartyId, Party>,
    publications: HashMap<PartyId, Publication>,
    generation: u64,
    events: mpsc::UnboundedSender<RelayEvent>,
    party_tx: mpsc::UnboundedSender<PartyEvent>,
    recorder: Option<Recorder>,
    counters: Arc<ForwardCounters>,
}

/// What a room starts with.
pub struct RoomSetup {
    pub call: u64,
    pub settings: ConnectionSettings,
    /// The first parties (their first offers carry each other's tracks).
    pub parties: Vec<JoinSpec>,
    /// The parties may hold connections to an earlier room of the call: their offers say so.
    pub fresh: bool,
    /// Record the publishing parties to this file.
    pub record_to: Option<PathBuf>,
    /// Seal the recording at rest with this vault.
    pub seal_with: Option<Arc<vault::Vault>>,
}

impl Room {
    /// Runs a room until `Close` (or until the relay drops its handle).
    pub async fn run(
        setup: RoomSetup,
        events: mpsc::UnboundedSender<RelayEvent>,
        counters: Arc<ForwardCounters>,
        mut commands: mpsc::UnboundedReceiver<RoomCommand>,
    ) {
        let RoomSetup { call, settings, parties, fresh, record_to, seal_with } = setup;
        let (party_tx, mut party_rx) = mpsc::unbounded_channel();
        let mut room = Room {
            call,
            settings,
            parties: HashMap::new(),
            publications: HashMap::new(),
            generation: 0,
            events,
            party_tx,
            recorder: None,
            counters,
        };
        // Publications first, so every party's first offer already carries the others' tracks.
        for spec in parties.iter().filter(|s| s.publish) {
            room.publications.insert(spec.party.clone(), Publication::new());
        }
        if let Some(path) = record_to {
            room.start_recording(path, &parties, seal_with);
        }
        for spec in parties {
            room.join(spec, fresh).await;
        }
        let mut limits = tokio::time::interval(BITRATE_LIMIT_EVERY);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    None | Some(RoomCommand::Close) => break,
                    Some(command) => room.handle(command).await,
                },
                Some(event) = party_rx.recv() => room.on_party_event(event).await,
                _ = limits.tick() => room.send_bitrate_limits().await,
            }
        }
        room.close().await;
    }

    fn start_recording(&mut self, path: PathBuf, parties: &[JoinSpec], seal_with: Option<Arc<vault::Vault>>) {
        let mut tracks = vec![];
        for spec in parties.iter().filter(|s| s.publish) {
            let publication = &self.publications[&spec.party];
            for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
                tracks.push(RecordedTrack {
                    party: spec.party.clone(),
                    kind,
                    source: publication.of(kind).subscribe(),
                    keyframes: publication.feedback.clone(),
                });
            }
        }
        match Recorder::start(self.call, path, tracks, seal_with) {
            Ok(recorder) => self.recorder = Some(recorder),
            Err(e) => tracing::error!(call = self.call, error = %e, "recording could not start"),
        }
    }

    async fn handle(&mut self, command: RoomCommand) {
        match command {
            RoomCommand::Join(spec) => self.join(spec, false).await,
            RoomCommand::Rejoin(spec) => {
                if !self.parties.get(&spec.party).is_some_and(|p| p.connected) {
                    self.join(spec, true).await;
                }
            }
            RoomCommand::Answer { party, sdp } => {
                let Some(p) = self.parties.get_mut(&party) else { return };
                if let Err(e) = participant::apply_answer(&p.pc, sdp, &p.pending).await {
                    tracing::warn!(call = self.call, %party, error = %e, "answer refused");
                    return;
                }
                p.awaiting_answer = false;
                if std::mem::take(&mut p.renegotiate) {
                    self.offer(&party, false).await;
                }
            }
            RoomCommand::Candidate { party, init } => {
                let Some(p) = self.parties.get(&party) else { return };
                if let Some(init) = p.pending.keep(init) {
                    if let Err(e) = p.pc.add_ice_candidate(init).await {
                        tracing::debug!(call = self.call, %party, error = %e, "remote candidate refused");
                    }
                }
            }
            RoomCommand::Leave { party } => self.leave(&party).await,
            RoomCommand::Close => unreachable!("handled in run"),
        }
    }

    /// `fresh`: the party may hold a connection from before (tell it to replace it).
    async fn join(&mut self, spec: JoinSpec, fresh: bool) {
        let party = spec.party.clone();
        let fresh = fresh || self.parties.contains_key(&party);
        if let Some(old) = self.parties.remove(&party) {
            drop_party(old).await;
        }
        let new_publication = spec.publish && !self.publications.contains_key(&party);
        if spec.publish {
            self.publications.entry(party.clone()).or_insert_with(Publication::new);
        }
        match self.connect(spec.clone()).await {
            Ok(p) => {
                self.parties.insert(party.clone(), p);
            }
            Err(e) => {
                tracing::error!(call = self.call, %party, error = %e, "relay connection could not be built");
                let _ = self.events.send(RelayEvent::Failed { call: self.call, party });
                return;
            }
        }
        self.offer(&party, fresh).await;
        if new_publication {
            let others: Vec<PartyId> = self.parties.keys().filter(|p| **p != party).cloned().collect();
            for other in others {
                self.add_receiving(&other, &party).await;
                self.offer(&other, false).await;
            }
        }
    }

    async fn connect(&mut self, spec: JoinSpec) -> Result<Party, RelayError> {
        self.generation += 1;
        let generation = self.generation;
        let (pc, path) = participant::connect(&self.settings, &spec.party, generation, self.party_tx.clone()).await?;
        if spec.publish {
            for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
                let init =
                    RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
                pc.add_transceiver_from_kind(kind, Some(init)).await?;
            }
        }
        let chat = pc.create_data_channel("chat", None).await?;
        tokio::spawn(participant::read_chat(chat.clone(), spec.party.clone(), self.party_tx.clone()));
        let pending = PendingCandidates::default();
        pending.hold();
        let mut party = Party {
            spec,
            generation,
            pc,
            path,
            pending,
            chat,
            receiving: HashMap::new(),
            stop: watch::channel(false).0,
            awaiting_answer: false,
            renegotiate: false,
            connected: false,
            up: watch::channel(false).0,
        };
        let publishers: Vec<PartyId> = self.publications.keys().filter(|p| **p != party.spec.party).cloned().collect();
        for publisher in publishers {
            let senders = self.wire(&party, &publisher).await?;
            party.receiving.insert(publisher, senders);
        }
        Ok(party)
    }

    /// Adds `publisher`'s video and audio to `receiver`'s connection and starts forwarding.
    async fn wire(&self, receiver: &Party, publisher: &PartyId) -> Result<Vec<Arc<dyn RtpSender>>, RelayError> {
        let publication = &self.publications[publisher];
        let mut senders = vec![];
        for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
            let ssrc = random_ssrc();
            let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                publisher.clone(),
                format!("{publisher}-{kind}"),
                format!("{publisher}-{kind}"),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                    codec: participant::codec(kind),
                    ..Default::default()
                }],
            )));
            let sender = receiver.pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
            let forward = Forward {
                kind,
                source: publication.of(kind).subscribe(),
                track,
                sender: sender.clone(),
                ssrc,
                keyframes: publication.feedback.clone(),
                counters: self.counters.clone(),
                receiver_up: receiver.up.subscribe(),
            };
            tokio::spawn(forward.run(receiver.stop.subscribe()));
            senders.push(sender);
        }
        Ok(senders)
    }

    async fn add_receiving(&mut self, receiver: &PartyId, publisher: &PartyId) {
        let Some(p) = self.parties.get(receiver) else { return };
        match self.wire(p, publisher).await {
            Ok(senders) => {
                self.parties.get_mut(receiver).expect("checked above").receiving.insert(publisher.clone(), senders);
            }
            Err(e) => tracing::warn!(call = self.call, %receiver, error = %e, "could not add a track"),
        }
    }

    /// Sends `party` an offer now, or once it has answered the one before.
    async fn offer(&mut self, party: &PartyId, fresh: bool) {
        let Some(p) = self.parties.get_mut(party) else { return };
        if p.awaiting_answer && !fresh {
            p.renegotiate = true;
            return;
        }
        match participant::make_offer(&p.pc).await {
            Ok(sdp) => {
                p.awaiting_answer = true;
                let signal = Signal::Offer { sdp, fresh };
                let _ = self.events.send(RelayEvent::Signal { call: self.call, party: party.clone(), signal });
            }
            Err(e) => tracing::warn!(call = self.call, %party, error = %e, "offer failed"),
        }
    }

    async fn restart_ice(&mut self, party: &PartyId) {
        let Some(p) = self.parties.get(party) else { return };
        if p.awaiting_answer {
            return; // an offer is out: its answer comes first
        }
        tracing::info!(call = self.call, %party, "path to a party lost: restarting ICE");
        if let Err(e) = p.pc.restart_ice().await {
            tracing::warn!(call = self.call, %party, error = %e, "ICE restart failed");
            return;
        }
        self.offer(party, false).await;
    }

    async fn leave(&mut self, party: &PartyId) {
        let Some(old) = self.parties.remove(party) else { return };
        drop_party(old).await;
        if self.publications.remove(party).is_none() {
            return;
        }
        // Its tracks leave every other party's connection.
        let others: Vec<PartyId> = self.parties.keys().cloned().collect();
        for other in others {
            let p = self.parties.get_mut(&other).expect("listed above");
            for sender in p.receiving.remove(party).unwrap_or_default() {
                let _ = p.pc.remove_track(&sender).await;
            }
            self.offer(&other, false).await;
        }
    }

    async fn on_party_event(&mut self, event: PartyEvent) {
        let current = |room: &Room, party: &PartyId, generation: u64| {
            room.parties.get(party).is_some_and(|p| p.generation == generation)
        };
        match event {
            PartyEvent::Candidate { party, generation, init } => {
                if !current(self, &party, generation) {
                    return;
                }
                let signal = match init {
                    Some(i) => Signal::Candidate {
                        candidate: i.candidate,
                        sdp_mid: i.sdp_mid,
                        sdp_mline_index: i.sdp_mline_index,
                    },
                    None => Signal::Candidate { candidate: String::new(), sdp_mid: None, sdp_mline_index: None },
                };
                let _ = self.events.send(RelayEvent::Signal { call: self.call, party, signal });
            }
            PartyEvent::State { party, generation, state } => {
                if !current(self, &party, generation) {
                    return;
                }
                if let Some(p) = self.parties.get_mut(&party) {
                    p.connected = state == RTCPeerConnectionState::Connected;
                    let _ = p.up.send(p.connected);
                }
                if state == RTCPeerConnectionState::Disconnected {
                    // The path broke (a village uplink dropping for a few seconds): restart ICE
                    // from this side; the party answers the new offer like any other.
                    self.restart_ice(&party).await;
                    return;
                }
                let event = match state {
                    RTCPeerConnectionState::Connected => RelayEvent::Connected { call: self.call, party },
                    RTCPeerConnectionState::Failed => RelayEvent::Failed { call: self.call, party },
                    _ => return,
                };
                let _ = self.events.send(event);
            }
            PartyEvent::Track { party, generation, track } => {
                if !current(self, &party, generation) {
                    return;
                }
                let Some(publication) = self.publications.get(&party) else { return };
                let kind = track.kind().await;
                let ssrc = track.ssrcs().await.first().copied().unwrap_or(0);
                if kind == RtpCodecKind::Video {
                    publication.feedback.set_track(track.clone(), ssrc);
                }
                let out = publication.of(kind).clone();
                tokio::spawn(read_published(track, out));
            }
            PartyEvent::Chat { party, text } => {
                for (other, p) in &self.parties {
                    if *other != party && p.spec.publish {
                        if let Err(e) = p.chat.send_text(&text).await {
                            tracing::debug!(call = self.call, to = %other, error = %e, "chat not forwarded");
                        }
                    }
                }
            }
        }
    }

    /// Tells every publisher the tightest share of its connected receivers' paths.
    async fn send_bitrate_limits(&self) {
        for (publisher, publication) in &self.publications {
            let receivers = self
                .parties
                .values()
                .filter(|p| p.connected && p.receiving.contains_key(publisher))
                .map(|p| ReceiverPath { estimate_bps: p.path.bits_per_second(), publishers: p.receiving.len() });
            let limit = bitrate::publisher_limit(receivers, self.settings.max_bitrate_bps);
            publication.feedback.limit_bitrate(limit).await;
        }
    }

    async fn close(mut self) {
        for (_, party) in self.parties.drain() {
            drop_party(party).await;
        }
        // Dropping the publications ends the recorder's sources; it then finishes the file.
        self.publications.clear();
        if let Some(recorder) = self.recorder.take() {
            match recorder.finish().await {
                Ok(info) => {
                    let _ = self.events.send(RelayEvent::Recorded(info));
                }
                Err(e) => tracing::error!(call = self.call, error = %e, "recording not finished"),
            }
        }
    }
}

async fn drop_party(party: Party) {
    let _ = party.stop.send(true);
    if let Err(e) = party.pc.close().await {
        tracing::debug!(error = %e, "closing a relay connection");
    }
}

/// Hands a publisher's packets to its receivers (and the recorder) until the track ends.
async fn read_published(track: Arc<dyn TrackRemote>, out: broadcast::Sender<Packet>) {
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnRtpPacket(packet) => {
                // No receiver yet is fine: nothing to forward to.
                let _ = out.send(packet);
            }
            TrackRemoteEvent::OnEnded | TrackRemoteEvent::OnError => break,
            _ => {}
        }
    }
}

/// SSRCs need only be unique within one connection.
fn random_ssrc() -> u32 {
    let mut bytes = [0u8; 4];
    // A failing system random source only costs uniqueness, which the counter below keeps.
    if getrandom::fill(&mut bytes).is_err() {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0x5eed);
        return NEXT.fetch_add(2, std::sync::atomic::Ordering::Relaxed) | 1;
    }
    u32::from_le_bytes(bytes) | 1
}
