//! Calls through the server's media relay (the default `[media] mode = "relay"`), end to end with
//! the real clients: each side's selected candidate pair is with the relay, not the other party;
//! video decodes both ways; the call's recording is indexed, served with byte ranges to the
//! call's clerk and to supervisors in scope only, every view logged, and `ffprobe` reads one VP8
//! and one Opus stream per party lasting as long as the call; a supervisor lists the live call.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::{Role, ServerMessage};
use xiaowu_tests::*;

const CALL_SECS: f64 = 10.0;

fn get(url: &str, token: Option<&str>, range: Option<&str>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut req = ureq::get(url).config().http_status_as_error(false).build();
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    let mut resp = req.call().expect("the server answers");
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let status = resp.status().as_u16();
    let body = resp.body_mut().with_config().limit(100 << 20).read_to_vec().expect("a body");
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_call_is_recorded_and_its_recording_is_served_to_those_in_scope() {
    let server = start(settings(|s| s.file.media.max_bitrate_kbps = 600)).await;
    let url = base_url(&server);
    // When the clerk saw the call start and end: the call's length.
    let times: Arc<Mutex<(Option<Instant>, Option<Instant>)>> = Arc::default();
    let agent = tokio::spawn({
        let args =
            agent_console::AgentArgs { hold: Some(CALL_SECS), ..agent_console::AgentArgs::new(&url, "clerk-hekou-1") };
        let times = times.clone();
        async move {
            agent_console::run(&args, |m| match m {
                ServerMessage::CallStarted { .. } => times.lock().unwrap().0 = Some(Instant::now()),
                ServerMessage::CallEnded { .. } => times.lock().unwrap().1 = Some(Instant::now()),
                _ => {}
            })
            .await
        }
    });
    clerks_available(&server, "hekou", 1).await;
    let booth = tokio::spawn({
        let args = booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert");
        async move { booth_client::run(&args, |_| {}).await }
    });

    // While the call is live, the city's supervisor sees it; another city's does not.
    let dongying = token(&server, Role::Supervisor, "sup-dongying").await;
    let binzhou = token(&server, Role::Supervisor, "sup-binzhou").await;
    let deadline = Instant::now() + WAIT;
    let live = loop {
        let (status, _, body) = get(&format!("{url}/api/calls?live=true"), Some(&dongying), None);
        assert_eq!(status, 200);
        let live: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if !live["calls"].as_array().unwrap().is_empty() {
            break live;
        }
        assert!(Instant::now() < deadline, "the call never showed as live");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let call = &live["calls"][0];
    assert_eq!((call["booth"].as_str(), call["clerk"].as_str()), (Some("booth-gudao-1"), Some("clerk-hekou-1")));
    assert_eq!((call["media"].as_str(), call["recording"].as_bool()), (Some("relay"), Some(true)));
    let (_, _, body) = get(&format!("{url}/api/calls?live=true"), Some(&binzhou), None);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["calls"], serde_json::json!([]));

    let b = booth.await.unwrap().unwrap();
    let a = agent.await.unwrap().unwrap();
    assert_eq!((b.outcome.as_str(), a.outcome.as_str()), ("served", "done"), "{b:?} {a:?}");
    let call = b.call.expect("the booth had a call");

    // Both sides went through the relay: neither one's selected pair points at the other.
    assert_eq!((b.media_path.as_deref(), a.media_path.as_deref()), (Some("relay"), Some("relay")));
    let (bs, as_) = (b.media.clone().unwrap().stats.unwrap(), a.media.last().cloned().unwrap().stats.unwrap());
    let (b_local, b_remote) = (bs.local_address.expect("booth pair"), bs.remote_address.expect("booth pair"));
    let (a_local, a_remote) = (as_.local_address.expect("clerk pair"), as_.remote_address.expect("clerk pair"));
    assert_ne!(b_remote, a_local, "the booth's media goes to the relay, not to the clerk");
    assert_ne!(a_remote, b_local, "the clerk's media goes to the relay, not to the booth");
    // The relay told each publisher how fast it may send (REMB): never above the configured
    // 600 kb/s nor below the 100 kb/s floor, and at first below the cap — the relay's estimate of
    // the other side's path starts at 300 kb/s and grows as that side's feedback comes in.
    for (who, report) in [("booth", b.media.as_ref().unwrap()), ("clerk", a.media.last().unwrap())] {
        let (last, lowest) = (report.bitrate_limit_kbps, report.bitrate_limit_lowest_kbps);
        assert!(last.is_some_and(|k| (100..=600).contains(&k)), "{who}'s last bitrate limit: {last:?}");
        assert!(lowest.is_some_and(|k| (100..600).contains(&k)), "{who}'s lowest bitrate limit: {lowest:?}");
    }
    for (who, d) in [("booth", b.media.unwrap().decoded), ("clerk", a.media.last().unwrap().decoded)] {
        assert!(d.frames >= 100, "{who} decoded {d:?}");
        assert_eq!((d.width, d.height, d.errors), (320, 240, 0), "{who}");
    }

    // The recording is indexed when the room closes; the clerk of the call may fetch it.
    let clerk_token = token(&server, Role::Clerk, "clerk-hekou-1").await;
    let recording_url = format!("{url}/api/calls/{call}/recording");
    let deadline = Instant::now() + WAIT;
    let (status, headers, file) = loop {
        let got = get(&recording_url, Some(&clerk_token), None);
        if got.0 != 404 || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&file));
    assert_eq!(header(&headers, "content-type"), Some("video/webm"));
    assert_eq!(header(&headers, "accept-ranges"), Some("bytes"));
    assert!(file.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]), "an EBML (WebM) file");

    // A range, as a seeking player asks for one.
    let (status, headers, part) = get(&recording_url, Some(&dongying), Some("bytes=100-199"));
    assert_eq!(status, 206);
    assert_eq!(part, file[100..200]);
    assert_eq!(header(&headers, "content-range"), Some(format!("bytes 100-199/{}", file.len()).as_str()));
    let (status, _, _) = get(&recording_url, Some(&dongying), Some(&format!("bytes={}-", file.len())));
    assert_eq!(status, 416);
    // Not for another city's supervisor, the booth, another clerk, or without a token.
    let other_clerk = token(&server, Role::Clerk, "clerk-hekou-2").await;
    let booth_token = token(&server, Role::Booth, "booth-gudao-1").await;
    assert_eq!(get(&recording_url, Some(&binzhou), None).0, 403);
    assert_eq!(get(&recording_url, Some(&booth_token), None).0, 403);
    assert_eq!(get(&recording_url, Some(&other_clerk), None).0, 403);
    assert_eq!(get(&recording_url, None, None).0, 401);
    // Every attempt is in the view log, in order.
    let (status, _, body) = get(&format!("{recording_url}/views"), Some(&dongying), None);
    assert_eq!(status, 200);
    let views: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let seen: Vec<(String, bool)> = views["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["who"].as_str().unwrap().to_owned(), v["allowed"].as_bool().unwrap()))
        .collect();
    let allowed: Vec<&str> = seen.iter().filter(|(_, ok)| *ok).map(|(w, _)| w.as_str()).collect();
    assert!(allowed.contains(&"clerk:clerk-hekou-1") && allowed.contains(&"supervisor:sup-dongying"), "{seen:?}");
    let refused: Vec<&str> = seen.iter().filter(|(_, ok)| !*ok).map(|(w, _)| w.as_str()).collect();
    for who in ["supervisor:sup-binzhou", "booth:booth-gudao-1", "clerk:clerk-hekou-2", "anonymous"] {
        assert!(refused.contains(&who), "{who} refused and logged: {seen:?}");
    }
    assert_eq!(get(&format!("{recording_url}/views"), Some(&binzhou), None).0, 403);

    // ffprobe: one VP8 video and one Opus audio per party, as long as the call (within 10 %).
    let path = std::env::temp_dir().join(format!("xiaowu-recording-{call}.webm"));
    std::fs::write(&path, &file).unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name,codec_type:format=duration", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("ffprobe (Debian's ffmpeg) runs");
    let out = String::from_utf8_lossy(&probe.stdout).into_owned();
    assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("vp8,video")).count(), 2, "{out}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("opus,audio")).count(), 2, "{out}");
    let recorded: f64 = lines.last().and_then(|l| l.parse().ok()).expect("a duration");
    let (started, ended) = *times.lock().unwrap();
    let call_secs = ended.unwrap().duration_since(started.unwrap()).as_secs_f64();
    assert!((recorded - call_secs).abs() <= call_secs * 0.1, "recorded {recorded} s of a {call_secs:.1} s call");
    let _ = std::fs::remove_file(&path);

    // Each party's view: its own video and audio only (a browser plays a file's first audio
    // track), as long as the call, named in the same header, logged like any view.
    assert_eq!(header(&headers, "x-recording-parties"), Some("booth,clerk"));
    for party in ["booth", "clerk"] {
        let (status, headers, view) = get(&format!("{recording_url}?party={party}"), Some(&dongying), None);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&view));
        assert_eq!(header(&headers, "x-recording-parties"), Some("booth,clerk"));
        let path = std::env::temp_dir().join(format!("xiaowu-recording-{call}-{party}.webm"));
        std::fs::write(&path, &view).unwrap();
        let probe = Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=codec_name,codec_type:stream_tags=title:format=duration"])
            .args(["-of", "csv=p=0"])
            .arg(&path)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&probe.stdout).into_owned();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[..2], [format!("vp8,video,{party} video"), format!("opus,audio,{party} audio")], "{out}");
        let duration: f64 = lines[2].parse().unwrap();
        assert!((duration - recorded).abs() <= 1.0, "the {party} view lasts {duration} s of {recorded} s");
        let _ = std::fs::remove_file(&path);
    }
    let (status, _, part) = get(&format!("{recording_url}?party=clerk"), Some(&clerk_token), Some("bytes=0-3"));
    assert_eq!((status, part.as_slice()), (206, &[0x1A, 0x45, 0xDF, 0xA3][..]), "ranges within a view");
    assert_eq!(get(&format!("{recording_url}?party=guest"), Some(&dongying), None).0, 404, "nobody joined");
    assert_eq!(get(&format!("{recording_url}?party=..%2Fx"), Some(&dongying), None).0, 400);
    assert_eq!(get(&format!("{recording_url}?party=clerk"), Some(&binzhou), None).0, 403);
    let (_, _, body) = get(&format!("{recording_url}/views"), Some(&dongying), None);
    let views: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let ranges: Vec<&str> = views["views"].as_array().unwrap().iter().filter_map(|v| v["range"].as_str()).collect();
    assert!(ranges.contains(&"clerk: all") && ranges.contains(&"clerk: bytes=0-3"), "{ranges:?}");
    // At rest, the recording and its views are sealed: no WebM (EBML) header, nothing of the
    // file served in clear, only what the vault writes.
    let dir = server.state().recording_dir.clone();
    let mut on_disk = vec![dir.join(format!("call-{call}.webm"))];
    on_disk.extend(std::fs::read_dir(dir.join("views")).unwrap().flatten().map(|e| e.path()));
    assert_eq!(on_disk.len(), 3, "the recording and two views: {on_disk:?}");
    for path in &on_disk {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.starts_with(b"XWS1"), "{} is sealed", path.display());
        assert!(
            !bytes.windows(4).any(|w| w == [0x1A, 0x45, 0xDF, 0xA3]),
            "{}: an EBML header in clear",
            path.display()
        );
        assert!(!bytes.windows(32).any(|w| w == &file[200..232]), "{}: the recording's bytes in clear", path.display());
    }
    server.shutdown().await;
}

/// An invitation by service item, end to end: the call's clerk asks for a colleague who handles
/// pension-check; the server picks the one signed in and available — clerk-hekou-3, which does
/// not handle the citizen's teacher-cert, so nothing is offered to it meanwhile — tells the clerk
/// whom, and that colleague joins and sees both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_invites_a_colleague_by_service_item_and_the_server_picks_who() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let guest = tokio::spawn({
        let args = agent_console::AgentArgs {
            auto_accept: false,
            join_invites: true,
            wait_available: true,
            ..agent_console::AgentArgs::new(&url, "clerk-hekou-3")
        };
        async move { agent_console::guest::run(&args, |_| {}).await }
    });
    let mut sup = connect(&server, Role::Supervisor, "sup-dongying").await;
    expect(&mut sup, "the colleague available", |m| match m {
        ServerMessage::ClerkList { clerks } => clerks
            .iter()
            .any(|c| c.clerk == "clerk-hekou-3" && c.state == protocol::ClerkState::Available)
            .then_some(()),
        _ => None,
    })
    .await;
    let clerk = clerk_seeing(agent_console::AgentArgs {
        hold: Some(6.0),
        invite_service: Some("pension-check".into()),
        ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
    });
    clerks_available(&server, "hekou", 1).await;
    let booth =
        booth_client::run(&booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert"), |_| {}).await.unwrap();
    let (clerk, clerk_seen) = clerk.await.unwrap();
    let guest = guest.await.unwrap().unwrap();
    assert_eq!(
        (booth.outcome.as_str(), clerk.unwrap().outcome.as_str(), guest.outcome.as_str()),
        ("served", "done", "joined")
    );
    let sent: Vec<&str> = clerk_seen
        .iter()
        .filter_map(|m| match m {
            ServerMessage::InvitationSent { clerk, .. } => Some(clerk.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["clerk-hekou-3"], "the clerk was told whom");
    for party in ["booth", "clerk"] {
        let c = guest.by_party.get(party).copied().unwrap_or_default();
        assert!(c.frames_decoded >= 10, "the colleague sees the {party}: {:?}", guest.by_party);
    }
    server.shutdown().await;
}

/// A clerk on a lossy line (every tenth video packet dropped where it arrives): its NACKs reach
/// the relay, which resends the lost packets from its buffer on the RTX stream the clerk's
/// connection negotiated, and the clerk receives them there, once each, in time to decode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_on_a_lossy_line_gets_the_lost_packets_again_from_the_relay() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args = agent_console::AgentArgs {
            hold: Some(4.0),
            simulate_loss: Some(10),
            ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
        };
        async move { agent_console::run(&args, |_| {}).await }
    });
    clerks_available(&server, "hekou", 1).await;
    let booth = tokio::spawn({
        let args = booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert");
        async move { booth_client::run(&args, |_| {}).await }
    });
    let (b, a) = (booth.await.unwrap().unwrap(), agent.await.unwrap().unwrap());
    assert_eq!((b.outcome.as_str(), a.outcome.as_str()), ("served", "done"), "{b:?} {a:?}");
    let report = a.media.last().cloned().unwrap();
    let stats = report.stats.clone().unwrap();
    assert_eq!(report.media_path, "relay");
    assert!(report.video_packets_received > 100, "{report:?}");
    assert!(stats.nacks_sent > 0, "the clerk asked for the lost packets: {stats:?}");
    assert!(stats.retransmitted_packets_received > 0, "and got them again on the RTX stream: {stats:?}");
    // Each lost packet came back about once (a retransmission that was not recognised as the
    // lost packet would be asked for again and again), and in the end none is missing but the
    // last ones still on their way when the call ended.
    let dropped = report.video_packets_received / 10;
    assert!(stats.retransmitted_packets_received <= dropped + 5, "{dropped} dropped: {stats:?}");
    assert!(stats.packets_lost <= 2, "{stats:?}");
    // And the picture is whole: the clerk's receiver waits for a repaired gap before it
    // depacketizes (without that, 10 % loss cost most frames: 11 decoded, 57 dropped, in a run).
    let d = report.decoded;
    assert!(d.frames >= 30 && d.errors <= d.frames / 10, "{d:?}");
    // The booth's line lost nothing: nothing was asked of it.
    let booth_stats = b.media.unwrap().stats.unwrap();
    assert_eq!(booth_stats.nacks_sent, 0, "{booth_stats:?}");
    server.shutdown().await;
}

/// Runs a clerk; its summary and every message it was sent.
fn clerk_seeing(
    args: agent_console::AgentArgs,
) -> tokio::task::JoinHandle<(Result<agent_console::AgentSummary, session::SessionError>, Vec<ServerMessage>)> {
    tokio::spawn(async move {
        let mut seen = vec![];
        let s = agent_console::run(&args, |m| seen.push(m.clone())).await;
        (s, seen)
    })
}

/// The live call's id, from the supervisor's list.
async fn live_call(url: &str, token: &str) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, _, body) = get(&format!("{url}/api/calls?live=true"), Some(token), None);
        let live: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if let Some(call) = live["calls"][0]["call"].as_u64() {
            return call;
        }
        assert!(Instant::now() < deadline, "the call never showed as live");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_monitors_a_live_call_silently_and_another_city_is_refused() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args = agent_console::AgentArgs { hold: Some(8.0), ..agent_console::AgentArgs::new(&url, "clerk-hekou-1") };
        async move {
            let mut seen = vec![];
            let s = agent_console::run(&args, |m| seen.push(m.clone())).await;
            (s, seen)
        }
    });
    clerks_available(&server, "hekou", 1).await;
    let booth = tokio::spawn({
        let args = booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert");
        async move {
            let mut seen = vec![];
            let s = booth_client::run(&args, |m| seen.push(m.clone())).await;
            (s, seen)
        }
    });
    let dongying = token(&server, Role::Supervisor, "sup-dongying").await;
    let call = live_call(&url, &dongying).await;

    // Another city's supervisor is refused, and nothing reaches the call.
    let outsider = agent_console::AgentArgs {
        supervisor: Some("sup-binzhou".into()),
        monitor: Some(call),
        ..agent_console::AgentArgs::new(&url, "")
    };
    let refused = agent_console::monitor::run(&outsider, call, |_| {}).await.unwrap();
    assert_eq!((refused.outcome.as_str(), refused.error.as_deref()), ("refused", Some("forbidden")), "{refused:?}");

    // The city's supervisor watches for 3 s and decodes both parties' video, hears both.
    let args = agent_console::AgentArgs {
        supervisor: Some("sup-dongying".into()),
        monitor: Some(call),
        watch: 3.0,
        ..agent_console::AgentArgs::new(&url, "")
    };
    let mut monitor_seen = vec![];
    let watched = agent_console::monitor::run(&args, call, |m| monitor_seen.push(m.clone())).await.unwrap();
    assert_eq!(watched.outcome, "watched", "{watched:?}");
    assert_eq!(watched.media_path.as_deref(), Some("relay"));
    for party in ["booth", "clerk"] {
        let c = watched.by_party.get(party).copied().unwrap_or_default();
        assert!(c.frames_decoded >= 10 && c.audio_packets >= 50, "{party}: {c:?} in {watched:?}");
    }
    assert!(monitor_seen.iter().any(|m| matches!(m, ServerMessage::MonitorStarted { .. })));
    assert!(monitor_seen.iter().any(|m| matches!(m, ServerMessage::MonitorEnded { .. })));

    // The parties were never told and their call went on to the end.
    let ((b, booth_seen), (a, clerk_seen)) = (booth.await.unwrap(), agent.await.unwrap());
    let (b, a) = (b.unwrap(), a.unwrap());
    assert_eq!((b.outcome.as_str(), a.outcome.as_str()), ("served", "done"));
    let told = |seen: &[ServerMessage]| {
        seen.iter().any(|m| matches!(m, ServerMessage::MonitorStarted { .. } | ServerMessage::MonitorEnded { .. }))
    };
    assert!(!told(&booth_seen) && !told(&clerk_seen), "the parties heard of the monitor");
    assert!(b.media.unwrap().decoded.frames >= 60, "the booth's video went on while monitored");

    // Both attempts are in the call's view log (once the call's recording is indexed).
    let deadline = Instant::now() + WAIT;
    let views = loop {
        let (status, _, body) = get(&format!("{url}/api/calls/{call}/recording/views"), Some(&dongying), None);
        if status == 200 {
            break serde_json::from_slice::<serde_json::Value>(&body).unwrap();
        }
        assert!(Instant::now() < deadline, "the recording was never indexed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let live: Vec<(String, bool)> = views["views"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["range"] == "live")
        .map(|v| (v["who"].as_str().unwrap().to_owned(), v["allowed"].as_bool().unwrap()))
        .collect();
    assert_eq!(live, [("supervisor:sup-binzhou".to_owned(), false), ("supervisor:sup-dongying".to_owned(), true)]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_invites_a_second_clerk_and_all_three_see_and_hear_the_other_two() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    // The third party: away at its desk (offered nothing), waits for an invitation, joins, stays
    // until the call ends.
    let guest = guest_at_desk(&server, "clerk-hekou-2", None).await;
    // The call's clerk invites it once the media is up and hangs up 8 s later.
    let clerk = clerk_seeing(agent_console::AgentArgs {
        hold: Some(8.0),
        invite: Some("clerk-hekou-2".into()),
        ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
    });
    clerks_available(&server, "hekou", 1).await;
    let booth =
        booth_client::run(&booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert"), |_| {}).await.unwrap();
    let (clerk, clerk_seen) = clerk.await.unwrap();
    let (guest, guest_seen) = guest.await.unwrap();
    let (clerk, guest) = (clerk.unwrap(), guest.unwrap());
    assert_eq!((booth.outcome.as_str(), clerk.outcome.as_str(), guest.outcome.as_str()), ("served", "done", "joined"));
    assert_eq!(clerk.calls, 1, "one call, one ticket: {clerk:?}");

    // Each of the three decoded the other two's video and heard them.
    let decoded = |by: &std::collections::BTreeMap<String, media::counters::StreamCounts>, party: &str| {
        by.get(party).copied().unwrap_or_default()
    };
    let booth_by = booth.media.unwrap().by_party;
    let clerk_by = clerk.media.last().unwrap().by_party.clone();
    for (who, by, others) in [
        ("booth", &booth_by, ["clerk", "guest"]),
        ("clerk", &clerk_by, ["booth", "guest"]),
        ("guest", &guest.by_party, ["booth", "clerk"]),
    ] {
        for other in others {
            let c = decoded(by, other);
            assert!(c.frames_decoded >= 10 && c.audio_packets >= 50, "{who} from {other}: {c:?} ({by:?})");
        }
    }
    // The clerk was told who joined; the guest was away (assisting) and is available again.
    assert!(clerk_seen.iter().any(|m| matches!(m, ServerMessage::PartyJoined { id, .. } if id == "clerk-hekou-2")));
    let states: Vec<(protocol::ClerkState, Option<protocol::AwayReason>)> = guest_seen
        .iter()
        .filter_map(|m| match m {
            ServerMessage::ClerkState { state, reason, .. } => Some((*state, *reason)),
            _ => None,
        })
        .collect();
    let assisting =
        states.iter().position(|s| *s == (protocol::ClerkState::Away, Some(protocol::AwayReason::Assisting)));
    let assisting = assisting.unwrap_or_else(|| panic!("the guest was away (assisting): {states:?}"));
    assert!(
        states[assisting..].iter().any(|(s, _)| *s == protocol::ClerkState::Available),
        "and available again after the call: {states:?}"
    );
    server.shutdown().await;
}
