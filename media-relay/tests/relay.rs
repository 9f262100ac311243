//! The relay with real webrtc-rs parties (the clients' own `CallPeer`): a booth and a clerk
//! publish through a room, each decodes the other's video; a silent monitor joins later and
//! decodes both; chat crosses the relay; the recording is a WebM file `ffprobe` reads with one
//! VP8 and one Opus stream per party.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::{CallPeer, PeerConfig, PeerEvent};
use media_relay::{JoinSpec, Relay, RelayConfig, RelayEvent, Signal};
use tokio::sync::mpsc;

type Peers = Arc<tokio::sync::Mutex<HashMap<String, Arc<CallPeer>>>>;

/// Creates a party's peer and pumps its local candidates to the relay.
async fn party(relay: &Relay, call: u64, name: &str, peers: &Peers) {
    let (peer, mut events) = CallPeer::new(&PeerConfig::default()).await.expect("peer");
    let peer = Arc::new(peer);
    peers.lock().await.insert(name.to_owned(), peer.clone());
    let (relay, name) = (relay.clone(), name.to_owned());
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                PeerEvent::LocalCandidate { candidate, sdp_mid, sdp_mline_index } => {
                    let _ = relay.candidate(call, name.clone(), candidate, sdp_mid, sdp_mline_index);
                }
                PeerEvent::Connected => peer.start_media(),
                _ => {}
            }
        }
    });
}

/// Delivers the relay's signaling to the parties, as the signaling server does.
fn pump(
    relay: Relay,
    call: u64,
    mut events: mpsc::UnboundedReceiver<RelayEvent>,
    peers: Peers,
) -> mpsc::UnboundedReceiver<RelayEvent> {
    let (rest_tx, rest) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let RelayEvent::Signal { party, signal, .. } = &event else {
                let _ = rest_tx.send(event);
                continue;
            };
            // The party's peer may still be being built: wait for it.
            let peer = loop {
                if let Some(p) = peers.lock().await.get(party).cloned() {
                    break p;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            match signal {
                Signal::Offer { sdp, .. } => {
                    let answer = peer.answer(sdp).await.expect("answer");
                    relay.answer(call, party.clone(), answer).expect("room open");
                }
                Signal::Candidate { candidate, sdp_mid, sdp_mline_index } => {
                    peer.add_remote_candidate(candidate.clone(), sdp_mid.clone(), *sdp_mline_index)
                        .await
                        .expect("candidate");
                }
            }
        }
    });
    rest
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_parties_and_a_monitor_through_a_room_and_the_recording_plays() {
    let dir = std::env::temp_dir().join(format!("xiaowu-relay-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = RelayConfig {
        bind_ip: [127, 0, 0, 1].into(),
        public_ip: None,
        record_dir: Some(dir.clone()),
        max_bitrate_kbps: media_relay::DEFAULT_MAX_BITRATE_KBPS,
        vault: None,
    };
    let (relay, events) = Relay::start(config);
    let call = 7;
    let peers: Peers = Arc::default();
    party(&relay, call, "booth", &peers).await;
    party(&relay, call, "clerk", &peers).await;
    let mut rest = pump(relay.clone(), call, events, peers.clone());
    relay.open(
        call,
        vec![JoinSpec { party: "booth".into(), publish: true }, JoinSpec { party: "clerk".into(), publish: true }],
        false,
    );
    let started = Instant::now();
    let (booth, clerk) = {
        let p = peers.lock().await;
        (p["booth"].clone(), p["clerk"].clone())
    };
    wait_for("both parties decode the other's video", || {
        booth.counters().snapshot().decoded.frames >= 10 && clerk.counters().snapshot().decoded.frames >= 10
    })
    .await;
    let b = booth.counters().snapshot();
    assert!(b.audio_packets > 0, "the booth hears the clerk");
    assert!(b.decoded.width > 0 && b.decoded.height > 0);
    assert!(clerk.counters().snapshot().audio_packets > 0, "the clerk hears the booth");
    let (packets, _) = relay.forwarded();
    assert!(packets > 0, "the relay counted what it forwarded");

    clerk.send_chat("请出示身份证").await.expect("chat sent");
    wait_for("the booth receives the clerk's chat through the relay", || {
        booth.counters().snapshot().chat_received >= 1
    })
    .await;

    // A silent monitor joins the live call: it receives both parties and sends nothing.
    party(&relay, call, "monitor:1", &peers).await;
    relay.join(call, JoinSpec { party: "monitor:1".into(), publish: false }).expect("room open");
    let monitor = peers.lock().await["monitor:1"].clone();
    wait_for("the monitor decodes video", || monitor.counters().snapshot().decoded.frames >= 20).await;
    assert!(monitor.counters().snapshot().audio_packets > 0);
    let booth_frames = booth.counters().snapshot().decoded.frames;
    wait_for("the booth keeps receiving while monitored", || {
        booth.counters().snapshot().decoded.frames > booth_frames + 10
    })
    .await;

    tokio::time::sleep(Duration::from_secs(3)).await;
    let call_secs = started.elapsed().as_secs_f64();
    relay.close(call);
    let info = loop {
        match tokio::time::timeout(Duration::from_secs(30), rest.recv()).await.expect("recording reported") {
            Some(RelayEvent::Recorded(info)) => break info,
            Some(_) => continue,
            None => panic!("relay stopped"),
        }
    };
    for p in peers.lock().await.values() {
        p.close().await;
    }
    assert_eq!(info.call, call);
    assert_eq!(info.parties, ["booth", "clerk"]);
    let bytes = std::fs::read(&info.path).expect("recording file");
    assert_eq!(bytes.len() as u64, info.bytes);
    assert_eq!(info.sha256.len(), 64);

    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name,codec_type:format=duration", "-of", "csv=p=0"])
        .arg(&info.path)
        .output()
        .expect("ffprobe runs (Debian's ffmpeg package)");
    let out = String::from_utf8_lossy(&probe.stdout);
    assert!(probe.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&probe.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("vp8,video")).count(), 2, "{out}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("opus,audio")).count(), 2, "{out}");
    let duration: f64 = lines.last().and_then(|l| l.parse().ok()).expect("a duration");
    assert!((duration - call_secs).abs() <= call_secs * 0.1, "recorded {duration} s of a {call_secs:.1} s call");
    let _ = std::fs::remove_dir_all(&dir);
}
