//! Added latency through the relay, side by side with a direct connection, on loopback.
//!
//! Two webrtc-rs peers in this process (built with the relay's own connection settings): a
//! publisher sends one 1,000-byte VP8-typed RTP packet every 10 ms carrying its send time; a
//! receiver reads each one and takes the difference (one clock: both are here). First the two are
//! connected directly (publisher offers, receiver answers), then through a relay room (the relay
//! offers to each). Recording is off: this is the forwarding path alone.
//!
//! Run: `cargo bench -p xiaowu-media-relay --bench latency`

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use media_relay::participant::{self, ConnectionSettings, PartyEvent};
use media_relay::{JoinSpec, Relay, RelayConfig, RelayEvent, Signal};
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp::Packet;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::TrackRemoteEvent;
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription};

const PACKETS: usize = 1_000;

struct Peer {
    pc: Arc<dyn PeerConnection>,
    events: mpsc::UnboundedReceiver<PartyEvent>,
}

async fn peer(name: &str) -> Peer {
    let settings = ConnectionSettings {
        bind_ip: [127, 0, 0, 1].into(),
        public_ip: None,
        max_bitrate_bps: f64::from(media_relay::DEFAULT_MAX_BITRATE_KBPS) * 1000.0,
    };
    let (tx, events) = mpsc::unbounded_channel();
    let (pc, _) = participant::connect(&settings, &name.to_owned(), 1, tx).await.expect("peer connection");
    Peer { pc, events }
}

fn video_track() -> Arc<TrackLocalStaticRTP> {
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "bench".into(),
        "bench-video".into(),
        "bench-video".into(),
        RtpCodecKind::Video,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(4242), ..Default::default() },
            codec: participant::codec(RtpCodecKind::Video),
            ..Default::default()
        }],
    )))
}

/// Sends `PACKETS` packets, 10 ms apart, each carrying its send time after `base`.
async fn send(track: Arc<TrackLocalStaticRTP>, base: Instant) {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for i in 0..PACKETS {
        tick.tick().await;
        let mut payload = vec![0x10u8]; // VP8 payload descriptor: start of a frame
        payload.extend_from_slice(&(base.elapsed().as_nanos() as u64).to_be_bytes());
        payload.resize(1_000, 0);
        let mut p = Packet::default();
        p.header.version = 2;
        p.header.payload_type = 96;
        p.header.sequence_number = i as u16;
        p.header.timestamp = (i as u32) * 900;
        p.header.ssrc = 4242;
        p.header.marker = true;
        p.payload = Bytes::from(payload);
        // Until the receiving side answered, the track is not bound yet: that packet is lost.
        let _ = track.write_rtp(p).await;
    }
}

/// Reads the receiver's track until `PACKETS` arrived (or 30 s passed); latencies in µs.
async fn receive(events: &mut mpsc::UnboundedReceiver<PartyEvent>, base: Instant) -> Vec<u64> {
    let track = loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Some(PartyEvent::Track { track, .. })) => break track,
            Ok(Some(_)) => continue,
            _ => panic!("no track arrived"),
        }
    };
    let mut out = vec![];
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < PACKETS && Instant::now() < deadline {
        let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(5), track.poll()).await else { break };
        if let TrackRemoteEvent::OnRtpPacket(p) = event {
            if p.payload.len() >= 9 {
                let sent = u64::from_be_bytes(p.payload[1..9].try_into().expect("8 bytes"));
                out.push((base.elapsed().as_nanos() as u64).saturating_sub(sent) / 1_000);
            }
        }
    }
    out
}

fn candidate_init(init: Option<RTCIceCandidateInit>) -> Option<RTCIceCandidateInit> {
    init.filter(|i| !i.candidate.is_empty())
}

async fn direct() -> Vec<u64> {
    let mut publisher = peer("publisher").await;
    let mut receiver = peer("receiver").await;
    let track = video_track();
    publisher.pc.add_track(track.clone() as Arc<dyn TrackLocal>).await.unwrap();
    let offer = participant::make_offer(&publisher.pc).await.unwrap();
    receiver.pc.set_remote_description(RTCSessionDescription::offer(offer).unwrap()).await.unwrap();
    let answer = receiver.pc.create_answer(None).await.unwrap();
    let answer_sdp = answer.sdp.clone();
    receiver.pc.set_local_description(answer).await.unwrap();
    publisher.pc.set_remote_description(RTCSessionDescription::answer(answer_sdp).unwrap()).await.unwrap();
    // Trade candidates until the publisher is connected, then stream.
    let (rx_pc, pub_pc) = (receiver.pc.clone(), publisher.pc.clone());
    let (track_tx, mut receiver_events_for_track) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(e) = receiver.events.recv().await {
            match e {
                PartyEvent::Candidate { init, .. } => {
                    if let Some(i) = candidate_init(init) {
                        let _ = pub_pc.add_ice_candidate(i).await;
                    }
                }
                other => {
                    let _ = track_tx.send(other);
                }
            }
        }
    });
    loop {
        match publisher.events.recv().await.expect("publisher events") {
            PartyEvent::Candidate { init, .. } => {
                if let Some(i) = candidate_init(init) {
                    let _ = rx_pc.add_ice_candidate(i).await;
                }
            }
            PartyEvent::State { state: RTCPeerConnectionState::Connected, .. } => break,
            _ => {}
        }
    }
    let base = Instant::now();
    tokio::spawn(send(track, base));
    let latencies = receive(&mut receiver_events_for_track, base).await;
    let _ = publisher.pc.close().await;
    latencies
}

/// Hands a peer's candidates to the relay, and its other events to `rest`.
fn pump(
    relay: Relay,
    name: &'static str,
    mut events: mpsc::UnboundedReceiver<PartyEvent>,
    rest: mpsc::UnboundedSender<PartyEvent>,
) {
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            match e {
                PartyEvent::Candidate { init: Some(i), .. } if !i.candidate.is_empty() => {
                    let _ = relay.candidate(1, name.into(), i.candidate, i.sdp_mid, i.sdp_mline_index);
                }
                PartyEvent::Candidate { .. } => {}
                other => {
                    let _ = rest.send(other);
                }
            }
        }
    });
}

async fn relayed() -> Vec<u64> {
    let (relay, mut events) = Relay::start(RelayConfig {
        bind_ip: [127, 0, 0, 1].into(),
        public_ip: None,
        record_dir: None,
        max_bitrate_kbps: media_relay::DEFAULT_MAX_BITRATE_KBPS,
        vault: None,
    });
    let publisher = peer("publisher").await;
    let receiver = peer("receiver").await;
    let track = video_track();
    publisher.pc.add_track(track.clone() as Arc<dyn TrackLocal>).await.unwrap();
    let pcs = [("pub", publisher.pc.clone()), ("sub", receiver.pc.clone())];
    let (pub_tx, mut pub_rest) = mpsc::unbounded_channel();
    let (sub_tx, mut sub_rest) = mpsc::unbounded_channel();
    pump(relay.clone(), "pub", publisher.events, pub_tx);
    pump(relay.clone(), "sub", receiver.events, sub_tx);
    relay.open(
        1,
        vec![JoinSpec { party: "pub".into(), publish: true }, JoinSpec { party: "sub".into(), publish: false }],
        false,
    );
    // The relay's offers and candidates go to the peers, which answer.
    let answering = relay.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let RelayEvent::Signal { party, signal, .. } = event else { continue };
            let pc = pcs.iter().find(|(n, _)| *n == party).map(|(_, pc)| pc.clone()).expect("a bench party");
            match signal {
                Signal::Offer { sdp, .. } => {
                    pc.set_remote_description(RTCSessionDescription::offer(sdp).unwrap()).await.unwrap();
                    let answer = pc.create_answer(None).await.unwrap();
                    let sdp = answer.sdp.clone();
                    pc.set_local_description(answer).await.unwrap();
                    answering.answer(1, party, sdp).unwrap();
                }
                Signal::Candidate { candidate, sdp_mid, sdp_mline_index } if !candidate.is_empty() => {
                    let init = RTCIceCandidateInit { candidate, sdp_mid, sdp_mline_index, ..Default::default() };
                    let _ = pc.add_ice_candidate(init).await;
                }
                Signal::Candidate { .. } => {}
            }
        }
    });
    // Stream once the publisher's connection with the relay is up.
    loop {
        match tokio::time::timeout(Duration::from_secs(20), pub_rest.recv()).await {
            Ok(Some(PartyEvent::State { state: RTCPeerConnectionState::Connected, .. })) => break,
            Ok(Some(_)) => continue,
            _ => panic!("the publisher never connected to the relay"),
        }
    }
    let base = Instant::now();
    tokio::spawn(send(track, base));
    let latencies = receive(&mut sub_rest, base).await;
    relay.close(1);
    latencies
}

fn pct(v: &[u64], p: f64) -> u64 {
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut v: Vec<u64>) {
    v.sort_unstable();
    println!(
        "  {name:<28} n={:>4}  p50 {:>5} µs  p99 {:>5} µs  max {:>6} µs",
        v.len(),
        pct(&v, 0.5),
        pct(&v, 0.99),
        v[v.len() - 1]
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        println!("one-way latency of 1,000-byte RTP packets, 100 per second for 10 s, loopback:");
        let d = direct().await;
        report("direct (peer to peer)", d);
        let r = relayed().await;
        report("through the relay", r);
    });
}
