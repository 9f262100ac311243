//! End-to-end calls with real media: the real server, the real booth-client and agent-console,
//! webrtc-rs on both sides over loopback.
//!
//! A test binary of its own: twenty calls at once load the machine on purpose, and run beside
//! other tests' calls in one binary on two loaded cores, their media came too late.

use protocol::ServerMessage;
use xiaowu_tests::*;

fn booth(url: &str, id: &str) -> booth_client::BoothArgs {
    booth_client::BoothArgs::new(url, id, "teacher-cert")
}

fn clerk(url: &str, id: &str) -> agent_console::AgentArgs {
    agent_console::AgentArgs::new(url, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_carries_video_audio_and_chat_both_ways_and_clerk_hangs_up() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args = agent_console::AgentArgs {
            hold: Some(2.5),
            say: Some("请出示身份证正面".into()),
            ..clerk(&url, "clerk-hekou-1")
        };
        async move { agent_console::run(&args, |_| {}).await }
    });
    clerks_available(&server, "hekou", 1).await;
    let args = booth_client::BoothArgs { say: Some("好的，马上".into()), ..booth(&url, "booth-gudao-1") };
    let b = booth_client::run(&args, |_| {}).await.unwrap();
    let a = agent.await.unwrap().unwrap();
    assert_eq!(b.outcome, "served", "{b:?}");
    assert_eq!(a.outcome, "done", "{a:?}");
    // 2.5 s of a 15 fps stream and 50 audio packets a second, received on each side.
    for (who, video, frames, audio, chat) in [
        ("booth", b.video_packets_received, b.frames_received, b.audio_packets_received, b.chat_received),
        ("clerk", a.video_packets_received, a.frames_received, a.audio_packets_received, a.chat_received),
    ] {
        assert!(frames >= 25 && video >= frames, "{who}: {frames} frames, {video} video packets");
        assert!(audio >= 80, "{who}: {audio} audio packets");
        assert_eq!(chat, 1, "{who}: chat messages received");
    }
    // Each side decoded the other's VP8 with libvpx: the test pattern's size, real picture content.
    for (who, report) in [("booth", b.media.clone().unwrap()), ("clerk", a.media.last().cloned().unwrap())] {
        let d = report.decoded;
        assert!(d.frames >= 25 && d.frames <= report.frames_received, "{who}: {d:?} of {}", report.frames_received);
        assert_eq!((d.width, d.height), (320, 240), "{who}: decoded picture size");
        assert!((40.0..220.0).contains(&d.luma_mean), "{who}: mean luma {}", d.luma_mean);
        assert_eq!(d.errors, 0, "{who}: decode errors");
    }
    // The clerk's case record is confirmed at the end of wrap-up.
    assert_eq!(a.cases_recorded.len(), 1, "{a:?}");
    assert!(a.setup_ms.is_some() && b.setup_ms.is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booth_hang_up_ends_the_call_for_both_and_frees_the_clerk() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args = clerk(&url, "clerk-hekou-1"); // waits for the booth to hang up
        async move { agent_console::run(&args, |_| {}).await }
    });
    clerks_available(&server, "hekou", 1).await;
    let args = booth_client::BoothArgs { hold: Some(1.0), ..booth(&url, "booth-gudao-1") };
    let b = booth_client::run(&args, |_| {}).await.unwrap();
    assert_eq!(b.outcome, "served");
    assert!(b.frames_received > 0 && b.audio_packets_received > 0, "{b:?}");
    // The agent finishes its one call only once wrap-up has taken it back to available.
    let a = agent.await.unwrap().unwrap();
    assert_eq!((a.outcome.as_str(), a.calls), ("done", 1));
    assert!(a.frames_received > 0 && a.audio_packets_received > 0, "{a:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_calls_in_parallel_all_complete_with_media_both_ways() {
    const N: usize = 20;
    // 20 extra booths in 孤岛镇 and 20 extra clerks in the 河口区 hall: every clerk may take every
    // booth, so the 20 calls run at the same time.
    let server = start(settings_with_extra(N)).await;
    let url = base_url(&server);
    let mut agents = vec![];
    for i in 0..N {
        let args =
            agent_console::AgentArgs { hold: Some(3.0), timeout: 60.0, ..clerk(&url, &format!("clerk-extra-{i}")) };
        agents.push(tokio::spawn(async move { agent_console::run(&args, |_| {}).await }));
    }
    clerks_available(&server, "hekou", N as u32).await;
    let mut visits = vec![];
    for i in 0..N {
        let args = booth_client::BoothArgs { timeout: 60.0, ..booth(&url, &format!("booth-extra-{i}")) };
        visits.push(tokio::spawn(async move { booth_client::run(&args, |_| {}).await }));
    }
    let mut clerks_seen = std::collections::BTreeSet::new();
    for v in visits {
        let b = v.await.unwrap().unwrap();
        assert_eq!(b.outcome, "served", "{b:?}");
        assert!(b.frames_received > 0 && b.audio_packets_received > 0, "booth received no media: {b:?}");
        clerks_seen.insert(b.clerk.clone().unwrap());
    }
    assert_eq!(clerks_seen.len(), N, "each booth had its own clerk: the calls overlapped");
    for a in agents {
        let a = a.await.unwrap().unwrap();
        assert_eq!((a.outcome.as_str(), a.calls), ("done", 1), "{a:?}");
        assert!(a.frames_received > 0 && a.audio_packets_received > 0, "clerk received no media: {a:?}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_whose_media_never_connects_ends_in_bounded_time_and_requeues_at_head() {
    // A TURN server that does not exist: a relay-only peer gathers nothing and never connects,
    // without failing outright, so only the server's media timeout can end the call.
    let dead_turn = signaling_server::turn::TurnConfig {
        urls: vec!["turn:127.0.0.1:9?transport=udp".into()],
        secret: "x".into(),
        ttl_secs: 60,
    };
    let server = start(settings(|s| {
        s.engine.media_timeout = std::time::Duration::from_secs(2);
        s.file.turn = Some(dead_turn);
    }))
    .await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args = agent_console::AgentArgs { timeout: 20.0, ..clerk(&url, "clerk-hekou-1") };
        async move {
            let mut seen = vec![];
            let s = agent_console::run(&args, |m| seen.push(m.clone())).await;
            (s, seen)
        }
    });
    clerks_available(&server, "hekou", 1).await;
    let args = booth_client::BoothArgs { relay_only: true, timeout: 6.0, ..booth(&url, "booth-gudao-1") };
    let mut seen = vec![];
    let started = std::time::Instant::now();
    let b = booth_client::run(&args, |m| seen.push((started.elapsed(), m.clone()))).await.unwrap();
    assert_eq!(b.frames_received, 0, "{b:?}");
    let ended = seen
        .iter()
        .find_map(|(at, m)| match m {
            ServerMessage::CallEnded { reason, .. } => Some((*at, *reason)),
            _ => None,
        })
        .expect("the call was ended");
    assert_eq!(ended.1, protocol::CallEndReason::MediaFailed);
    assert!(ended.0 < std::time::Duration::from_secs(5), "ended only after {:?}", ended.0);
    let requeued = seen.iter().find_map(|(_, m)| match m {
        ServerMessage::TicketStatus { notice: Some(n), position, state, .. } => Some((*n, *position, *state)),
        _ => None,
    });
    assert_eq!(
        requeued,
        Some((protocol::TicketNotice::MediaFailedRequeued, Some(1), protocol::TicketState::Waiting)),
        "{seen:?}"
    );
    // The clerk was told too, and went straight back to available (nobody was served).
    let (_, clerk_seen) = agent.await.unwrap();
    assert!(clerk_seen
        .iter()
        .any(|m| matches!(m, ServerMessage::CallEnded { reason: protocol::CallEndReason::MediaFailed, .. })));
    let after_end: Vec<_> = clerk_seen
        .iter()
        .skip_while(|m| !matches!(m, ServerMessage::CallEnded { .. }))
        .filter_map(|m| match m {
            ServerMessage::ClerkState { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(after_end.first(), Some(&protocol::ClerkState::Available), "{clerk_seen:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booth_signaling_drop_within_grace_keeps_the_call_going() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args = clerk(&url, "clerk-hekou-1"); // waits for the booth to hang up
        async move {
            let mut seen = vec![];
            let s = agent_console::run(&args, |m| seen.push(m.clone())).await;
            (s, seen)
        }
    });
    clerks_available(&server, "hekou", 1).await;
    // The booth's WebSocket is cut 1 s into the call (no close frame: as a network failure would)
    // and comes back; the booth hangs up 4 s after the media connected.
    let args =
        booth_client::BoothArgs { hold: Some(4.0), drop_signaling_after: Some(1.0), ..booth(&url, "booth-gudao-1") };
    let mut seen = vec![];
    let b = booth_client::run(&args, |m| seen.push(m.clone())).await.unwrap();
    assert_eq!(b.outcome, "served", "{b:?}");
    let welcomes = seen.iter().filter(|m| matches!(m, ServerMessage::Welcome { .. })).count();
    assert_eq!(welcomes, 2, "the booth reconnected once");
    assert!(
        seen.iter()
            .any(|m| matches!(m, ServerMessage::TicketStatus { notice: Some(protocol::TicketNotice::Resumed), .. })),
        "the server told the booth its ticket was resumed"
    );
    // The media kept flowing through the drop: about 4 s at 15 fps.
    assert!(b.frames_received >= 45, "{b:?}");
    let (a, clerk_seen) = agent.await.unwrap();
    let a = a.unwrap();
    assert_eq!((a.outcome.as_str(), a.calls), ("done", 1));
    assert!(a.frames_received >= 45, "{a:?}");
    let reasons: Vec<_> = clerk_seen
        .iter()
        .filter_map(|m| match m {
            ServerMessage::CallEnded { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec![protocol::CallEndReason::HungUpByBooth], "one call, ended by the booth, not lost");
    server.shutdown().await;
}
