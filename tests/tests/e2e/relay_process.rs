//! The media relay on a machine of its own (`xiaowu-relay`, `[media] relays`): calls go through
//! it as through the in-process relay; when it is killed mid-call both parties are told at once
//! (`call_ended` `media_failed`), the citizen goes back to the head of the queue, the partial
//! recording on the relay's disk is sealed at rest, readable and indexed (the clerk gets it
//! through the API, opened, and it plays), and once a relay is back the next call works.

use std::process::Command;
use std::time::{Duration, Instant};

use protocol::ServerMessage;
use xiaowu_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_relay_mid_call_requeues_the_citizen_and_leaves_a_readable_recording() {
    let record_dir = std::env::temp_dir().join(format!("xiaowu-relay-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&record_dir);
    // The server's master key, given to the relay too (it seals what it records).
    let key_file = std::env::temp_dir().join(format!("xiaowu-relay-key-{}", std::process::id()));
    let _ = std::fs::remove_file(&key_file);
    vault::MasterKey::read_or_create(&key_file).unwrap();
    let mut relay = RelayProcess::start("127.0.0.1:0", &record_dir, &key_file);
    let (addr, secret) = (relay.addr.clone(), relay.secret.clone());
    let server = start(settings(|s| {
        s.file.media.relays = vec![addr.clone()];
        s.file.media.relay_secret = Some(secret.clone());
        s.file.media.recording_dir = Some(record_dir.clone());
        s.file.storage.master_key_file = Some(key_file.clone());
    }))
    .await;
    let url = base_url(&server);
    relay_up(&url, true).await;

    let first = tokio::spawn({
        let args = agent_console::AgentArgs { timeout: 30.0, ..agent_console::AgentArgs::new(&url, "clerk-hekou-1") };
        async move {
            let mut seen = vec![];
            let s = agent_console::run(&args, |m| seen.push(m.clone())).await;
            (s, seen)
        }
    });
    clerks_available(&server, "hekou", 1).await;
    let (booth_tx, mut booth_rx) = tokio::sync::mpsc::unbounded_channel();
    let booth = tokio::spawn({
        let args = booth_client::BoothArgs {
            timeout: 60.0,
            ..booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert")
        };
        async move {
            booth_client::run(&args, |m| {
                let _ = booth_tx.send(m.clone());
            })
            .await
        }
    });
    // The call is up through the relay process; let the recording get a few seconds.
    let call = loop {
        match tokio::time::timeout(WAIT, booth_rx.recv()).await.expect("the booth hears from the server") {
            Some(ServerMessage::CallStarted { call, .. }) => break call.0,
            Some(_) => {}
            None => panic!("the booth stopped"),
        }
    };
    let deadline = Instant::now() + WAIT;
    while reqwest_json(&format!("{url}/healthz"))["media"]["packets_forwarded"].as_u64().unwrap_or(0) < 300 {
        assert!(Instant::now() < deadline, "no media through the relay process");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    relay.kill();
    let killed = Instant::now();
    // The booth is told at once, and is back first in line.
    let mut ended = None;
    let requeued = loop {
        match tokio::time::timeout(WAIT, booth_rx.recv()).await.expect("the booth is told") {
            Some(ServerMessage::CallEnded { reason, .. }) => ended = Some(reason),
            Some(ServerMessage::TicketStatus { notice: Some(notice), position, .. }) => break (notice, position),
            Some(_) => {}
            None => panic!("the booth stopped"),
        }
    };
    assert_eq!(ended, Some(protocol::CallEndReason::MediaFailed));
    assert_eq!(requeued, (protocol::TicketNotice::MediaFailedRequeued, Some(1)));
    relay_up(&url, false).await;
    // (Before ICE itself would have noticed: that takes several seconds more.)
    eprintln!("the booth was told {} ms after the kill", killed.elapsed().as_millis());
    let (first, first_seen) = first.await.unwrap();
    assert!(
        first_seen
            .iter()
            .any(|m| matches!(m, ServerMessage::CallEnded { reason: protocol::CallEndReason::MediaFailed, .. })),
        "{first:?}"
    );

    // What was recorded before the kill is on the relay's disk, sealed: no WebM in clear.
    let path = record_dir.join(format!("call-{call}.webm"));
    let on_disk = std::fs::read(&path).unwrap();
    assert!(on_disk.starts_with(b"XWS1"), "sealed at rest");
    assert!(!on_disk.windows(4).any(|w| w == [0x1A, 0x45, 0xDF, 0xA3]), "no EBML header in clear");
    // ...and indexed: the call's clerk gets it through the API, opened; it plays.
    let served = recording_once_indexed(&server, call).await;
    let opened = record_dir.join(format!("served-{call}.webm"));
    std::fs::write(&opened, &served).unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name:format=duration", "-of", "csv=p=0"])
        .arg(&opened)
        .output()
        .expect("ffprobe (Debian's ffmpeg) runs");
    let out = String::from_utf8_lossy(&probe.stdout).into_owned();
    assert!(probe.status.success(), "{}: {}", opened.display(), String::from_utf8_lossy(&probe.stderr));
    assert_eq!(out.lines().filter(|l| l.starts_with("vp8")).count(), 2, "{out}");
    let frames = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
        ])
        .arg(&opened)
        .output()
        .expect("ffprobe runs");
    let read: u64 = String::from_utf8_lossy(&frames.stdout).trim().trim_end_matches(',').parse().unwrap_or(0);
    assert!(read >= 30, "the booth's video before the kill is readable: {read} frames");
    // The whole chunks written before the kill: the sealed file less its header and tags.
    let chunks = (on_disk.len() - vault::HEADER_LEN) / (64 * 1024 + 16);
    assert_eq!(served.len(), chunks * 64 * 1024, "the partial recording as written before the kill");

    // A relay back on the same address: the server reconnects, and the next clerk serves the
    // citizen who was waiting at the head.
    let _relay = RelayProcess::start(&addr, &record_dir, &key_file);
    relay_up(&url, true).await;
    let second = agent_console::run(
        &agent_console::AgentArgs { hold: Some(2.0), ..agent_console::AgentArgs::new(&url, "clerk-hekou-2") },
        |_| {},
    )
    .await
    .unwrap();
    let booth = booth.await.unwrap().unwrap();
    assert_eq!((booth.outcome.as_str(), second.outcome.as_str()), ("served", "done"), "{booth:?} {second:?}");
    assert_eq!(second.tickets, first.unwrap().tickets, "the same ticket");
    assert_eq!(second.media_path.as_deref(), Some("relay"));
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&record_dir);
    let _ = std::fs::remove_file(&key_file);
}

/// Waits until `/healthz` says the relay's control link is `up` (or down).
/// A relay with a disk of its own (no storage shared with the server): each finished recording is
/// copied to the server's recording directory on a connection of its own, checked against the
/// size and SHA-256 the relay reported, then indexed and served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_with_a_disk_of_its_own_sends_the_server_each_finished_recording() {
    let relay_dir = std::env::temp_dir().join(format!("xiaowu-relay-own-{}", std::process::id()));
    let server_dir = std::env::temp_dir().join(format!("xiaowu-server-rec-{}", std::process::id()));
    for dir in [&relay_dir, &server_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let key_file = relay_dir.with_extension("key");
    let _ = std::fs::remove_file(&key_file);
    vault::MasterKey::read_or_create(&key_file).unwrap();
    let relay = RelayProcess::start("127.0.0.1:0", &relay_dir, &key_file);
    let server = start(settings(|s| {
        s.file.media.relays = vec![relay.addr.clone()];
        s.file.media.relay_secret = Some(relay.secret.clone());
        s.file.media.recording_dir = Some(server_dir.clone());
        s.file.storage.master_key_file = Some(key_file.clone());
    }))
    .await;
    let url = base_url(&server);
    relay_up(&url, true).await;
    let clerk = tokio::spawn({
        let args = agent_console::AgentArgs { hold: Some(3.0), ..agent_console::AgentArgs::new(&url, "clerk-hekou-1") };
        async move { agent_console::run(&args, |_| {}).await }
    });
    clerks_available(&server, "hekou", 1).await;
    let booth =
        booth_client::run(&booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert"), |_| {}).await.unwrap();
    assert_eq!(clerk.await.unwrap().unwrap().outcome, "done");
    let call = booth.call.expect("the booth had a call");

    let served = recording_once_indexed(&server, call).await;
    let name = format!("call-{call}.webm");
    let on_relay = std::fs::read(relay_dir.join(&name)).expect("the relay wrote it on its own disk");
    assert!(on_relay.starts_with(b"XWS1"), "sealed at rest on the relay's disk");
    assert!(std::fs::read(server_dir.join(&name)).unwrap() == on_relay, "copied as it is, sealed");
    assert!(served.len() > 10_000 && served.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]), "served opened: a WebM file");
    assert!(!relay_dir.join(format!("{name}.key")).exists(), "the key beside it goes once it is complete");
    assert!(
        std::fs::read_dir(&server_dir).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().ends_with(".part")),
        "no partial copy left behind"
    );
    server.shutdown().await;
    for dir in [&relay_dir, &server_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_file(&key_file);
}

/// The call's recording as its clerk (clerk-hekou-1) gets it, once the server has indexed it.
async fn recording_once_indexed(server: &signaling_server::RunningServer, call: u64) -> Vec<u8> {
    let url = base_url(server);
    let clerk = token(server, protocol::Role::Clerk, "clerk-hekou-1").await;
    let deadline = Instant::now() + WAIT;
    loop {
        let req = ureq::get(&format!("{url}/api/calls/{call}/recording")).config().http_status_as_error(false).build();
        let mut resp = req.header("Authorization", &format!("Bearer {clerk}")).call().expect("the server answers");
        if resp.status() == 200 {
            return resp.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap();
        }
        assert!(Instant::now() < deadline, "the recording was not indexed: {}", resp.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn relay_up(url: &str, up: bool) {
    let deadline = Instant::now() + WAIT;
    while reqwest_json(&format!("{url}/healthz"))["media"]["relays"][0]["up"].as_bool() != Some(up) {
        assert!(Instant::now() < deadline, "healthz never showed the relay {}", if up { "up" } else { "down" });
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn reqwest_json(url: &str) -> serde_json::Value {
    let mut resp = ureq::get(url).config().http_status_as_error(false).build().call().expect("the server answers");
    serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap_or_default()).unwrap_or_default()
}
