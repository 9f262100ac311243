//! End-to-end faults found by reading the driver and by abuse runs, one test each: a send failing
//! in the middle of routing, zombie connections, booths away during an offer or a call, the
//! handshake's rules, server-only away reasons, REST error shapes and unaudited document reads.

use std::time::Duration;

use protocol::{ClerkTargetState, ClientMessage, ErrorCode, Priority, Role, ServerMessage, ServiceCode};
use xiaowu_tests::*;

fn error_code(msg: Option<ServerMessage>) -> ErrorCode {
    match msg {
        Some(ServerMessage::Error { code, .. }) => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn request() -> ClientMessage {
    ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal }
}

fn available() -> ClientMessage {
    ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }
}

/// A clerk whose console stops reading (a stalled link) while signaling keeps coming: once its
/// queue is full the driver drops it, closes its socket with `too_slow` (before: the socket stayed
/// open, pings were answered, and every request it sent was silently dropped: a zombie), and
/// drops it after routing the current batch; when the clerk's grace period runs out without it
/// coming back, the call ends `clerk_lost` and the citizen is re-queued at the head. The driver lives on. (The exact re-entrance case, a send failing while
/// an accept is routed, is pinned deterministically by the driver's unit test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_that_stops_reading_is_closed_and_its_call_requeued() {
    let server = start(settings(|s| {
        // Peer to peer, so the booth's SDP bodies are relayed to the clerk.
        s.file.media.mode = protocol::MediaMode::P2p;
        s.file.limits.outbound_queue = 8;
        s.file.limits.messages_per_sec = 100_000;
        s.file.limits.message_burst = 100_000;
        // The dropped clerk does not come back: its grace period runs out soon.
        s.engine.clerk_grace = std::time::Duration::from_millis(300);
    }))
    .await;
    let mut clerk = RawSocket::open_small_window(&server, Role::Clerk).await;
    clerk.hello(token(&server, Role::Clerk, "clerk-hekou-1").await).await;
    clerk.send(&available()).await;
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    booth.send(request()).await.unwrap();
    let offer = loop {
        match clerk.recv().await {
            Some(ServerMessage::Offer { offer, .. }) => break offer,
            Some(_) => continue,
            None => panic!("the clerk's socket closed before the offer"),
        }
    };
    clerk.send(&ClientMessage::AcceptOffer { offer }).await;
    let call = expect(&mut booth, "call started", |m| match m {
        ServerMessage::CallStarted { call, .. } => Some(*call),
        _ => None,
    })
    .await;
    // The clerk reads no more; the booth keeps sending large SDP bodies, each relayed to the
    // clerk (far more than any socket buffer holds).
    let sdp = format!("v=0\r\na=x-pad:{}\r\n", "x".repeat(50_000));
    let mut ended = None;
    for _ in 0..1_000 {
        let msg = ClientMessage::Sdp { call, kind: protocol::SdpKind::Offer, sdp: sdp.clone() };
        booth.send(msg).await.unwrap();
        if let Ok(ServerMessage::CallEnded { reason, .. }) = booth.recv_timeout(Duration::from_millis(1)).await {
            ended = Some(reason);
            break;
        }
    }
    let ended = match ended {
        Some(r) => r,
        None => {
            expect(&mut booth, "call ended", |m| match m {
                ServerMessage::CallEnded { reason, .. } => Some(*reason),
                _ => None,
            })
            .await
        }
    };
    assert_eq!(ended, protocol::CallEndReason::ClerkLost);
    expect(&mut booth, "re-queued", |m| match m {
        ServerMessage::TicketStatus { notice: Some(protocol::TicketNotice::ClerkLostRequeued), .. } => Some(()),
        _ => None,
    })
    .await;
    // The zombie is gone: reading again, the clerk finds its socket closed with `too_slow`.
    assert_eq!(clerk.close_reason().await.as_deref(), Some("too_slow"));
    // And the driver still routes: /healthz asks it.
    let health = http("GET", format!("{}/healthz", base_url(&server)), None, None).await;
    assert_eq!((health.status, health.body["driver"].as_str()), (200, Some("ok")));
    server.shutdown().await;
}

/// A booth that is away (disconnected, within its grace period) keeps its place but is not offered;
/// an outstanding offer is withdrawn (`booth_away`) instead of starting a call with nobody there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_away_booth_is_not_offered_and_is_offered_again_on_return() {
    let server = start(settings(|_| {})).await;
    let mut clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    clerk.send(available()).await.unwrap();
    let booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    booth.send(request()).await.unwrap();
    let offer = expect(&mut clerk, "offer", |m| match m {
        ServerMessage::Offer { offer, .. } => Some(*offer),
        _ => None,
    })
    .await;
    booth.abort();
    let reason = expect(&mut clerk, "offer revoked", |m| match m {
        ServerMessage::OfferRevoked { offer: o, reason } if *o == offer => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, protocol::OfferRevokeReason::BoothAway);
    clerk.send(ClientMessage::AcceptOffer { offer }).await.unwrap();
    expect(&mut clerk, "accepting the withdrawn offer is refused", |m| match m {
        ServerMessage::Error { code: ErrorCode::NotFound, .. } => Some(()),
        ServerMessage::CallStarted { .. } => panic!("a call started with nobody at the booth"),
        _ => None,
    })
    .await;
    expect_none(&mut clerk, "an offer while the booth is away", Duration::from_millis(1500), |m| {
        matches!(m, ServerMessage::Offer { .. })
    })
    .await;
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    expect(&mut booth, "resumed", |m| match m {
        ServerMessage::TicketStatus { notice: Some(protocol::TicketNotice::Resumed), .. } => Some(()),
        _ => None,
    })
    .await;
    expect(&mut clerk, "the offer again", |m| matches!(m, ServerMessage::Offer { .. }).then_some(())).await;
    server.shutdown().await;
}

/// The clerk hangs up while the booth's connection is down: the returning booth is told how its
/// call and ticket ended (before: it was never told and waited on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_booth_learns_what_ended_while_it_was_away() {
    let server = start(settings(|_| {})).await;
    let (booth, mut clerk, call) = live_call(&server).await;
    booth.abort();
    tokio::time::sleep(Duration::from_millis(300)).await;
    clerk.send(ClientMessage::HangUp { call: protocol::CallId(call) }).await.unwrap();
    expect(&mut clerk, "call ended", |m| matches!(m, ServerMessage::CallEnded { .. }).then_some(())).await;
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    let ended = expect(&mut booth, "call_ended", |m| match m {
        ServerMessage::CallEnded { call: c, reason, .. } if c.0 == call => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(ended, protocol::CallEndReason::HungUpByClerk);
    let closed = expect(&mut booth, "ticket_closed", |m| match m {
        ServerMessage::TicketClosed { reason, .. } => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(closed, protocol::TicketEndReason::Served);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_does_what_the_docs_say() {
    let server = start(settings(|_| {})).await;
    let booth_token = token(&server, Role::Booth, "booth-gudao-1").await;
    // Anything but a well-formed hello first: not_authenticated, and the socket waits on.
    let mut raw = RawSocket::open(&server, Role::Booth).await;
    raw.send_text("{not json").await;
    assert_eq!(error_code(raw.recv().await), ErrorCode::NotAuthenticated);
    raw.send_binary(vec![1, 2, 3]).await;
    assert_eq!(error_code(raw.recv().await), ErrorCode::NotAuthenticated);
    raw.send(&request()).await;
    assert_eq!(error_code(raw.recv().await), ErrorCode::NotAuthenticated);
    raw.hello(booth_token.clone()).await;

    // A malformed hello closes the connection like a refused one.
    let mut raw = RawSocket::open(&server, Role::Booth).await;
    raw.send_text(r#"{"type":"hello","protocol_version":"one","token":5}"#).await;
    assert_eq!(error_code(raw.recv().await), ErrorCode::BadMessage);
    assert_eq!(raw.close_reason().await.as_deref(), Some("authentication_failed"));

    // A newer connection of the same account replaces the older: close reason `replaced`.
    let mut first = RawSocket::authenticated(&server, Role::Booth, "booth-gudao-1").await;
    let _second = RawSocket::authenticated(&server, Role::Booth, "booth-gudao-1").await;
    assert_eq!(first.close_reason().await.as_deref(), Some("replaced"));

    // Silence after the upgrade: not_authenticated, then closed with `hello_timeout`.
    server.shutdown().await;
    let server = start(settings(|s| s.file.limits.hello_timeout_secs = 1)).await;
    let mut raw = RawSocket::open(&server, Role::Booth).await;
    assert_eq!(error_code(raw.recv().await), ErrorCode::NotAuthenticated);
    assert_eq!(raw.close_reason().await.as_deref(), Some("hello_timeout"));
    server.shutdown().await;
}

/// `supervisor`, `missed_offers` and `signed_in` are set by the server only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_cannot_claim_a_server_only_away_reason() {
    let server = start(settings(|_| {})).await;
    let mut clerk = RawSocket::authenticated(&server, Role::Clerk, "clerk-hekou-1").await;
    clerk.send(&available()).await;
    while !matches!(clerk.recv().await, Some(ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }))
    {
    }
    for reason in [protocol::AwayReason::Supervisor, protocol::AwayReason::MissedOffers, protocol::AwayReason::SignedIn]
    {
        clerk.send(&ClientMessage::SetState { state: ClerkTargetState::Away, reason: Some(reason) }).await;
        assert_eq!(error_code(clerk.recv().await), ErrorCode::InvalidField, "{reason:?}");
    }
    // Nothing changed: the clerk is still available (an honest break is accepted).
    clerk
        .send(&ClientMessage::SetState { state: ClerkTargetState::Away, reason: Some(protocol::AwayReason::Meal) })
        .await;
    match clerk.recv().await {
        Some(ServerMessage::ClerkState { state: protocol::ClerkState::Away, reason: Some(r), .. }) => {
            assert_eq!(r, protocol::AwayReason::Meal)
        }
        other => panic!("expected away(meal), got {other:?}"),
    }
    server.shutdown().await;
}

/// Every REST error, the framework's own rejections included, has the bilingual JSON shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rest_error_has_the_json_shape() {
    let server = start(settings(|_| {})).await;
    let base = base_url(&server);
    let clerk = token(&server, Role::Clerk, "clerk-hekou-1").await;
    let booth = token(&server, Role::Booth, "booth-gudao-1").await;
    let cases = |q: &str| format!("{base}/api/cases{q}");
    for q in ["?limit=abc", "?limit=0", "?limit=501", "?limit=-1"] {
        let a = http("GET", cases(q), Some(clerk.clone()), None).await;
        assert_eq!((a.status, a.code()), (400, "invalid_field"), "{q}");
    }
    assert_eq!(http("GET", cases("?limit=500"), Some(clerk.clone()), None).await.status, 200);
    let a = http("POST", format!("{base}/api/calls/1/documents"), Some(booth.clone()), Some(vec![1])).await;
    assert_eq!((a.status, a.code()), (400, "invalid_field"), "upload without doc_type");
    let a = http("POST", format!("{base}/api/calls/abc/documents?doc_type=id_front"), Some(booth), None).await;
    assert_eq!((a.status, a.code()), (400, "bad_message"), "a call id that is not a number");
    let a = http("GET", format!("{base}/api/login"), None, None).await;
    assert_eq!((a.status, a.code()), (405, "method_not_allowed"));
    assert_eq!(a.allow.as_deref(), Some("POST"));
    let a = http("DELETE", format!("{base}/api/catalog"), None, None).await;
    assert_eq!((a.status, a.code()), (405, "method_not_allowed"));
    let a = http("GET", format!("{base}/no/such/page"), None, None).await;
    assert_eq!((a.status, a.code()), (404, "not_found"));
    let a = http("GET", format!("{base}/web/nothing.js"), None, None).await;
    assert_eq!((a.status, a.code()), (404, "not_found"));
    let a = http("GET", format!("{base}/ws/booth"), None, None).await;
    assert_eq!((a.status, a.code()), (400, "bad_message"), "a plain GET on the socket endpoint");
    let a = http("POST", format!("{base}/api/login"), None, Some(b"{\"role\":".to_vec())).await;
    assert_eq!((a.status, a.code()), (400, "bad_message"));
    let a = http("POST", format!("{base}/api/login"), None, Some(vec![b' '; 64 * 1024])).await;
    assert_eq!((a.status, a.code()), (413, "message_too_large"));
    server.shutdown().await;
}

/// Reads without a token or with a forged one are refused and audited like every other attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_document_reads_are_audited() {
    let server = start(settings(|_| {})).await;
    let url = format!("{}/api/documents/0123456789abcdef0123456789abcdef", base_url(&server));
    let a = http("GET", url.clone(), None, None).await;
    assert_eq!((a.status, a.code()), (401, "not_authenticated"));
    let a = http("GET", format!("{url}/thumbnail"), Some("forged.token".into()), None).await;
    assert_eq!((a.status, a.code()), (401, "invalid_token"));
    let reads = server.state().docs.reads("0123456789abcdef0123456789abcdef").unwrap();
    let who: Vec<(&str, &str, bool)> = reads.iter().map(|r| (r.who.as_str(), r.what.as_str(), r.allowed)).collect();
    assert_eq!(who, vec![("anonymous", "document", false), ("invalid_token", "thumbnail", false)]);
    server.shutdown().await;
}
