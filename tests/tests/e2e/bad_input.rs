//! End-to-end bad input: malformed and oversized frames, wrong roles, forged tokens, version
//! mismatches and signaling from non-parties get clear errors and change nothing.

use protocol::{
    CallId, ClientMessage, ErrorCode, OfferId, Priority, Role, SdpKind, ServerMessage, ServiceCode, PROTOCOL_VERSION,
};
use xiaowu_tests::*;

fn error_code(msg: Option<ServerMessage>) -> ErrorCode {
    match msg {
        Some(ServerMessage::Error { code, .. }) => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_get_errors_and_the_session_goes_on() {
    let server = start(settings(|_| {})).await;
    let _clerk = RawSocket::authenticated(&server, Role::Clerk, "clerk-hekou-1").await;
    let mut booth = RawSocket::authenticated(&server, Role::Booth, "booth-gudao-1").await;

    booth.send_text("{not json").await;
    assert_eq!(error_code(booth.recv_reply().await), ErrorCode::BadMessage);
    booth.send_text(r#"{"type":"launch_rockets"}"#).await;
    assert_eq!(error_code(booth.recv_reply().await), ErrorCode::BadMessage);
    booth.send_text(r#"{"type":"request_service"}"#).await;
    assert_eq!(error_code(booth.recv_reply().await), ErrorCode::BadMessage);
    booth.send_text(&format!(r#"{{"type":"ping","seq":1,"pad":"{}"}}"#, "x".repeat(70 * 1024))).await;
    assert_eq!(error_code(booth.recv_reply().await), ErrorCode::MessageTooLarge);
    booth.send_binary(vec![0, 1, 2]).await;
    assert_eq!(error_code(booth.recv_reply().await), ErrorCode::BadMessage);
    // Wrong role: a booth may not accept offers or change clerk state.
    booth.send(&ClientMessage::AcceptOffer { offer: OfferId(1) }).await;
    assert_eq!(error_code(booth.recv_reply().await), ErrorCode::Forbidden);
    booth
        .send(&ClientMessage::RequestService {
            service: ServiceCode::new("no-such-service"),
            priority: Priority::Normal,
        })
        .await;
    assert_eq!(error_code(booth.recv_reply().await), ErrorCode::UnknownService);
    booth.send(&ClientMessage::Hello { protocol_version: PROTOCOL_VERSION, token: "x".into() }).await;
    assert_eq!(error_code(booth.recv_reply().await), ErrorCode::WrongState);

    // Still usable: the engine was untouched and the next request is served normally.
    booth.send(&ClientMessage::Ping { seq: 7 }).await;
    assert_eq!(booth.recv_reply().await, Some(ServerMessage::Pong { seq: 7 }));
    booth
        .send(&ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal })
        .await;
    match booth.recv().await {
        Some(ServerMessage::TicketStatus { number, position: Some(1), .. }) => assert_eq!(number, 1),
        other => panic!("expected the first ticket, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_is_checked_for_version_token_and_role() {
    let server = start(settings(|_| {})).await;
    let booth_token = token(&server, Role::Booth, "booth-gudao-1").await;

    let mut raw = RawSocket::open(&server, Role::Booth).await;
    raw.send(&ClientMessage::Ping { seq: 1 }).await;
    assert_eq!(error_code(raw.recv().await), ErrorCode::NotAuthenticated);
    raw.send(&ClientMessage::Hello { protocol_version: PROTOCOL_VERSION + 1, token: booth_token.clone() }).await;
    assert_eq!(error_code(raw.recv().await), ErrorCode::UnsupportedVersion);
    assert_eq!(raw.recv().await, None, "closed after a version mismatch");

    let mut raw = RawSocket::open(&server, Role::Booth).await;
    let forged = format!("{}x", booth_token);
    raw.send(&ClientMessage::Hello { protocol_version: PROTOCOL_VERSION, token: forged }).await;
    assert_eq!(error_code(raw.recv().await), ErrorCode::InvalidToken);

    // A booth token on the clerk endpoint.
    let mut raw = RawSocket::open(&server, Role::Clerk).await;
    raw.send(&ClientMessage::Hello { protocol_version: PROTOCOL_VERSION, token: booth_token }).await;
    assert_eq!(error_code(raw.recv().await), ErrorCode::Forbidden);

    // Wrong secret at login.
    let err = session::login(&base_url(&server), Role::Clerk, "clerk-hekou-1", "wrong").await.unwrap_err();
    assert!(matches!(&err, session::SessionError::Rejected { code, .. } if code == "bad_credentials"), "{err}");
    assert!(err.to_string().contains("账号或密码错误"), "the server's own words: {err}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signaling_is_relayed_only_between_the_parties_of_a_call() {
    // Peer to peer: the server relays the parties' own offers and candidates.
    let server = start(settings(|s| s.file.media.mode = protocol::MediaMode::P2p)).await;
    let mut clerk = RawSocket::authenticated(&server, Role::Clerk, "clerk-hekou-1").await;
    let mut booth = RawSocket::authenticated(&server, Role::Booth, "booth-gudao-1").await;
    clerk.send(&ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None }).await;
    booth
        .send(&ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal })
        .await;
    let offer = match clerk.recv_reply().await {
        Some(ServerMessage::Offer { offer, .. }) => offer,
        other => panic!("expected an offer, got {other:?}"),
    };
    clerk.send(&ClientMessage::AcceptOffer { offer }).await;
    let call = match clerk.recv_reply().await {
        Some(ServerMessage::CallStarted { call, .. }) => call,
        other => panic!("expected call_started, got {other:?}"),
    };
    assert!(matches!(booth.recv_reply().await, Some(ServerMessage::CallStarted { .. })));

    let sdp =
        |call| ClientMessage::Sdp { call, kind: SdpKind::Offer, sdp: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n".into() };
    // An outsider clerk and an outsider booth are refused.
    let mut other_clerk = RawSocket::authenticated(&server, Role::Clerk, "clerk-hekou-2").await;
    other_clerk.send(&sdp(call)).await;
    assert_eq!(error_code(other_clerk.recv_reply().await), ErrorCode::Forbidden);
    let mut other_booth = RawSocket::authenticated(&server, Role::Booth, "booth-gudao-2").await;
    other_booth.send(&sdp(call)).await;
    assert_eq!(error_code(other_booth.recv_reply().await), ErrorCode::Forbidden);
    other_booth.send(&sdp(CallId(999))).await;
    assert_eq!(error_code(other_booth.recv_reply().await), ErrorCode::NotFound);
    // Garbage SDP and a malformed candidate from a party are refused too.
    clerk.send(&ClientMessage::Sdp { call, kind: SdpKind::Offer, sdp: "hello".into() }).await;
    assert_eq!(error_code(clerk.recv_reply().await), ErrorCode::InvalidField);
    clerk
        .send(&ClientMessage::IceCandidate {
            call,
            candidate: "candidate:garbage".into(),
            sdp_mid: None,
            sdp_mline_index: None,
        })
        .await;
    assert_eq!(error_code(clerk.recv_reply().await), ErrorCode::InvalidField);

    let huge = ClientMessage::Sdp { call, kind: SdpKind::Offer, sdp: format!("v=0\r\n{}", "a=x\r\n".repeat(12_000)) };
    assert!(huge.encode().len() > 64 * 1024);
    clerk.send(&huge).await;
    assert_eq!(error_code(clerk.recv_reply().await), ErrorCode::MessageTooLarge);

    // After all that, the parties' own signaling still goes through, to the other party only.
    clerk.send(&sdp(call)).await;
    match booth.recv_reply().await {
        Some(ServerMessage::Sdp { call: c, kind: SdpKind::Offer, .. }) => assert_eq!(c, call),
        other => panic!("expected the relayed offer, got {other:?}"),
    }
    let cand = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host";
    booth
        .send(&ClientMessage::IceCandidate {
            call,
            candidate: cand.into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
        })
        .await;
    match clerk.recv_reply().await {
        Some(ServerMessage::IceCandidate { candidate, .. }) => assert_eq!(candidate, cand),
        other => panic!("expected the relayed candidate, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_snapshot_needs_a_supervisor_token() {
    let server = start(settings(|_| {})).await;
    let _clerk = RawSocket::authenticated(&server, Role::Clerk, "clerk-hekou-1").await;
    let mut booth = RawSocket::authenticated(&server, Role::Booth, "booth-gudao-1").await;
    booth
        .send(&ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal })
        .await;
    assert!(matches!(booth.recv().await, Some(ServerMessage::TicketStatus { .. })));
    let url = format!("{}/api/queues", base_url(&server));
    let get = |token: Option<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut req = ureq::get(&url).config().http_status_as_error(false).build();
            if let Some(t) = token {
                req = req.header("Authorization", &format!("Bearer {t}"));
            }
            let mut resp = req.call().expect("the server answers");
            (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap_or_default())
        })
    };
    let (status, _) = get(None).await.unwrap();
    assert_eq!(status, 401);
    let (status, _) = get(Some(token(&server, Role::Booth, "booth-gudao-1").await)).await.unwrap();
    assert_eq!(status, 403);
    let (status, body) = get(Some(token(&server, Role::Supervisor, "sup-dongying").await)).await.unwrap();
    assert_eq!(status, 200);
    let snapshot: protocol::rest::QueueSnapshot = serde_json::from_str(&body).unwrap();
    let row =
        snapshot.rows.iter().find(|r| r.region.as_str() == "hekou" && r.service.as_str() == "teacher-cert").unwrap();
    assert_eq!((row.waiting, row.clerks_eligible, row.clerks_away), (1, 1, 1));
    // A supervisor of another city does not see 河口区.
    let (_, body) = get(Some(token(&server, Role::Supervisor, "sup-binzhou").await)).await.unwrap();
    assert!(!body.contains("hekou"), "{body}");
    server.shutdown().await;
}
