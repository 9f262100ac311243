//! Handing a citizen on (转接), end to end with the real clients through the media relay: a warm
//! transfer (the clerk invites a second clerk, all three talk, the call goes to the second) keeps
//! one ticket and one recording, gives each clerk a case of its own, and the second clerk's media
//! goes on in the booth's and the recording's `clerk` tracks; a clerk sends a citizen to the head
//! of another service item's queue, and a clerk of that item serves the same ticket.

use std::process::Command;
use std::time::{Duration, Instant};

use protocol::{Role, ServerMessage};
use xiaowu_tests::*;

/// `GET` with a bearer token: status and body.
fn get(url: &str, token: &str) -> (u16, Vec<u8>) {
    let req = ureq::get(url).config().http_status_as_error(false).build();
    let mut resp = req.header("Authorization", &format!("Bearer {token}")).call().expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.body_mut().with_config().limit(100 << 20).read_to_vec().expect("a body"))
}

/// The cases of `ticket` in the records, as a supervisor sees them (waits until `n` are there).
async fn cases_of(url: &str, token: &str, ticket: u64, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = get(&format!("{url}/api/cases?limit=50"), token);
        assert_eq!(status, 200);
        let all: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let mut cases: Vec<serde_json::Value> =
            all["cases"].as_array().unwrap().iter().filter(|c| c["ticket"] == ticket).cloned().collect();
        if cases.len() >= n || Instant::now() > deadline {
            cases.sort_by_key(|c| c["id"].as_str().unwrap().len());
            return cases;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_transfer_hands_the_citizen_to_the_second_clerk_with_one_ticket_and_a_case_each() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    // The second clerk: at its desk (offered nothing), joins when invited, takes the call over,
    // hangs up 5 s after its own media is up.
    let second = guest_at_desk(&server, "clerk-hekou-2", Some(5.0)).await;
    // The first clerk invites it once the media is up, and hands the call over 3 s after it
    // joined.
    let first = tokio::spawn({
        let args = agent_console::AgentArgs {
            invite: Some("clerk-hekou-2".into()),
            transfer: Some("clerk-hekou-2".into()),
            transfer_after: 3.0,
            ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
        };
        async move {
            let mut seen = vec![];
            let s = agent_console::run(&args, |m| seen.push(m.clone())).await;
            (s, seen)
        }
    });
    clerks_available(&server, "hekou", 1).await;
    let started = Instant::now();
    let mut booth_seen = vec![];
    let booth = booth_client::run(&booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert"), |m| {
        booth_seen.push(m.clone())
    })
    .await
    .unwrap();
    let call_secs = started.elapsed().as_secs_f64();
    let (first, first_seen) = first.await.unwrap();
    let (second, second_seen) = second.await.unwrap();
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(
        (booth.outcome.as_str(), first.outcome.as_str(), second.outcome.as_str()),
        ("served", "done", "transferred"),
        "{booth:?}\n{first:?}\n{second:?}"
    );
    let call = booth.call.expect("the booth had a call");
    assert_eq!(booth.clerk.as_deref(), Some("clerk-hekou-2"), "the booth was told who took over");
    assert!(booth_seen
        .iter()
        .any(|m| matches!(m, ServerMessage::CallTransferred { from, .. } if from == "clerk-hekou-1")));
    // The first clerk's part ended as `transferred`; the second was told the call is its own.
    assert!(first_seen.iter().any(|m| matches!(m,
        ServerMessage::CallEnded { reason: protocol::CallEndReason::Transferred, call: c, .. } if c.0 == call)));
    assert!(second_seen.iter().any(|m| matches!(m, ServerMessage::CallStarted { call: c, .. } if c.0 == call)));
    // After the transfer the second clerk's own connection carried the booth's video and sound.
    let after = second.after_transfer.get("booth").copied().unwrap_or_default();
    assert!(after.frames_decoded >= 10 && after.audio_packets >= 50, "{second:?}");
    assert_eq!(second.media_path.as_deref(), Some("relay"));

    // One ticket, one case per clerk: the first clerk's is `<call>.1`, ended `transferred`; the
    // second's is the call's own number, on the citizen's receipt.
    let dongying = token(&server, Role::Supervisor, "sup-dongying").await;
    let ticket = booth.ticket.unwrap();
    let cases = cases_of(&url, &dongying, ticket, 2).await;
    let summary: Vec<(&str, &str)> =
        cases.iter().map(|c| (c["clerk"].as_str().unwrap(), c["call_end"].as_str().unwrap())).collect();
    assert_eq!(summary, vec![("clerk-hekou-2", "hung_up_by_clerk"), ("clerk-hekou-1", "transferred")], "{cases:?}");
    assert_eq!(cases[1]["id"].as_str().unwrap(), format!("{}.1", cases[0]["id"].as_str().unwrap()));
    assert!(cases.iter().all(|c| c["call"] == call));
    assert_eq!(second.case_recorded, Some(call));
    let receipt = booth_seen.iter().find_map(|m| match m {
        ServerMessage::TicketClosed { case, .. } => case.clone(),
        _ => None,
    });
    assert_eq!(receipt.as_deref(), cases[0]["id"].as_str(), "the receipt names the final case");

    // One recording for the whole call, which both clerks may view; its clerk video goes on
    // with the second clerk to the end.
    let recording_url = format!("{url}/api/calls/{call}/recording");
    let first_token = token(&server, Role::Clerk, "clerk-hekou-1").await;
    let second_token = token(&server, Role::Clerk, "clerk-hekou-2").await;
    let deadline = Instant::now() + WAIT;
    let (status, file) = loop {
        let got = get(&recording_url, &second_token);
        if got.0 != 404 || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, 200);
    assert_eq!(get(&recording_url, &first_token).0, 200);
    assert_eq!(get(&recording_url, &token(&server, Role::Clerk, "clerk-hekou-3").await).0, 403);
    let path = std::env::temp_dir().join(format!("xiaowu-transfer-{call}.webm"));
    std::fs::write(&path, &file).unwrap();
    // The clerk's video is the recording's second video stream: its last frame's time.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:1", "-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("ffprobe (Debian's ffmpeg) runs");
    assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
    let last = String::from_utf8_lossy(&probe.stdout)
        .lines()
        .filter_map(|l| l.trim_end_matches(',').parse::<f64>().ok())
        .fold(0.0, f64::max);
    assert!(last >= call_secs * 0.75, "the clerk track ends at {last} s of a {call_secs:.1} s call");
    let _ = std::fs::remove_file(&path);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_sends_the_citizen_to_the_head_of_another_services_queue() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let first = tokio::spawn({
        let args = agent_console::AgentArgs {
            requeue: Some("pension-check".into()),
            transfer_after: 1.0,
            ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
        };
        async move { agent_console::run(&args, |_| {}).await }
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
    let first = first.await.unwrap().unwrap();
    assert_eq!((first.outcome.as_str(), first.calls), ("done", 1), "{first:?}");
    // A pension clerk (who does not handle teacher certificates) serves the same ticket.
    let second = agent_console::run(
        &agent_console::AgentArgs { hold: Some(2.0), ..agent_console::AgentArgs::new(&url, "clerk-hekou-3") },
        |_| {},
    )
    .await
    .unwrap();
    let (booth, seen) = booth.await.unwrap();
    let booth = booth.unwrap();
    assert_eq!((booth.outcome.as_str(), second.outcome.as_str()), ("served", "done"), "{booth:?} {second:?}");
    assert_eq!(first.tickets, second.tickets, "one ticket");
    assert!(seen
        .iter()
        .any(|m| matches!(m, ServerMessage::CallEnded { reason: protocol::CallEndReason::Requeued, .. })));
    let moved = seen.iter().find_map(|m| match m {
        ServerMessage::TicketStatus {
            notice: Some(protocol::TicketNotice::Transferred), service, position, ..
        } => Some((service.as_str().to_owned(), *position)),
        _ => None,
    });
    assert_eq!(moved, Some(("pension-check".to_owned(), Some(1))), "told, with the new service, first in line");
    // Its event log says so; the cases are one per clerk, each under its service.
    let dongying = token(&server, Role::Supervisor, "sup-dongying").await;
    let ticket = booth.ticket.unwrap();
    let (status, body) = get(&format!("{url}/api/tickets/{ticket}/events"), &dongying);
    assert_eq!(status, 200);
    let events: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    let at = kinds.iter().position(|k| *k == "service_changed").unwrap_or_else(|| panic!("{kinds:?}"));
    assert_eq!(&kinds[at - 1..at + 2], ["call_ended", "service_changed", "requeued"], "{kinds:?}");
    let cases = cases_of(&url, &dongying, ticket, 2).await;
    let mut summary: Vec<(&str, &str, &str)> = cases
        .iter()
        .map(|c| (c["clerk"].as_str().unwrap(), c["service"].as_str().unwrap(), c["call_end"].as_str().unwrap()))
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        vec![("clerk-hekou-1", "teacher-cert", "requeued"), ("clerk-hekou-3", "pension-check", "hung_up_by_clerk")]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_and_requeue_requests_that_cannot_be_done_are_refused_with_a_clear_error() {
    use protocol::{CallId, ClientMessage, ErrorCode, ServiceCode};
    let refused = |code: ErrorCode| {
        move |m: &ServerMessage| match m {
            ServerMessage::Error { code: c, .. } => (*c == code).then_some(()),
            _ => None,
        }
    };
    let server = start(settings(|_| {})).await;
    let mut clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    let transfer = ClientMessage::TransferCall { call: CallId(42), clerk: "clerk-hekou-2".into() };
    let requeue = ClientMessage::RequeueCall { call: CallId(42), service: ServiceCode::new("pension-check") };
    booth.send(transfer.clone()).await.unwrap();
    expect(&mut booth, "a booth may not transfer", refused(ErrorCode::Forbidden)).await;
    clerk.send(transfer).await.unwrap();
    expect(&mut clerk, "no such call", refused(ErrorCode::NotFound)).await;
    clerk.send(requeue).await.unwrap();
    expect(&mut clerk, "no such call", refused(ErrorCode::NotFound)).await;
    let unknown = ClientMessage::RequeueCall { call: CallId(42), service: ServiceCode::new("no-such-item") };
    clerk.send(unknown).await.unwrap();
    expect(&mut clerk, "an unknown service", refused(ErrorCode::UnknownService)).await;
    server.shutdown().await;

    // Peer to peer the booth would need a new connection: transfers are for relayed calls.
    let server = start(settings(|s| s.file.media.mode = protocol::MediaMode::P2p)).await;
    let mut clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    clerk.send(ClientMessage::TransferCall { call: CallId(42), clerk: "clerk-hekou-2".into() }).await.unwrap();
    expect(&mut clerk, "p2p mode", refused(ErrorCode::WrongState)).await;
    server.shutdown().await;
}
