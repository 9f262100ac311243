//! Golden JSON for every message: the exact wire form, both ways. docs/protocol.md shows the same.

use protocol::rest::*;
use protocol::DocumentId;
use protocol::*;
use serde_json::{json, Value};
use xiaowu_protocol as protocol;

fn client(msg: ClientMessage, expected: Value) {
    let encoded: Value = serde_json::from_str(&msg.encode()).unwrap();
    assert_eq!(encoded, expected, "encoding of {msg:?}");
    assert_eq!(ClientMessage::decode(&expected.to_string()).unwrap(), msg, "decoding of {expected}");
}

fn server(msg: ServerMessage, expected: Value) {
    let encoded: Value = serde_json::from_str(&msg.encode()).unwrap();
    assert_eq!(encoded, expected, "encoding of {msg:?}");
    assert_eq!(ServerMessage::decode(&expected.to_string()).unwrap(), msg, "decoding of {expected}");
}

#[test]
fn client_messages() {
    client(
        ClientMessage::Hello { protocol_version: 1, token: "eyJy.sig".into() },
        json!({"type": "hello", "protocol_version": 1, "token": "eyJy.sig"}),
    );
    client(ClientMessage::Ping { seq: 3 }, json!({"type": "ping", "seq": 3}));
    client(
        ClientMessage::RequestService { service: "teacher-cert".into(), priority: Priority::Elderly },
        json!({"type": "request_service", "service": "teacher-cert", "priority": "elderly"}),
    );
    client(ClientMessage::CancelTicket { ticket: TicketId(12) }, json!({"type": "cancel_ticket", "ticket": 12}));
    client(
        ClientMessage::SetState { state: ClerkTargetState::Away, reason: Some(AwayReason::Meal) },
        json!({"type": "set_state", "state": "away", "reason": "meal"}),
    );
    client(
        ClientMessage::SetState { state: ClerkTargetState::Available, reason: None },
        json!({"type": "set_state", "state": "available"}),
    );
    client(ClientMessage::AcceptOffer { offer: OfferId(5) }, json!({"type": "accept_offer", "offer": 5}));
    client(ClientMessage::DeclineOffer { offer: OfferId(5) }, json!({"type": "decline_offer", "offer": 5}));
    client(ClientMessage::EndWrapUp { outcome: None, note: None }, json!({"type": "end_wrap_up"}));
    client(
        ClientMessage::WrapUpDraft { outcome: Some(CaseOutcome::Accepted), note: Some("待补材料".into()) },
        json!({"type": "wrap_up_draft", "outcome": "accepted", "note": "待补材料"}),
    );
    client(
        ClientMessage::EndWrapUp { outcome: Some(CaseOutcome::MissingDocuments), note: Some("缺户口本".into()) },
        json!({"type": "end_wrap_up", "outcome": "missing_documents", "note": "缺户口本"}),
    );
    client(
        ClientMessage::ForceClerkState {
            clerk: "clerk-hekou-2".into(),
            state: ClerkTargetState::Away,
            why: "培训".into(),
        },
        json!({"type": "force_clerk_state", "clerk": "clerk-hekou-2", "state": "away", "why": "培训"}),
    );
    client(
        ClientMessage::DeviceStatus { camera: DeviceState::Denied, microphone: DeviceState::Ok },
        json!({"type": "device_status", "camera": "denied", "microphone": "ok"}),
    );
    client(
        ClientMessage::RateService { ticket: TicketId(12), rating: Rating::VerySatisfied, reason: None },
        json!({"type": "rate_service", "ticket": 12, "rating": "very_satisfied"}),
    );
    client(
        ClientMessage::RateService {
            ticket: TicketId(12),
            rating: Rating::Dissatisfied,
            reason: Some(RatingReason::LongWait),
        },
        json!({"type": "rate_service", "ticket": 12, "rating": "dissatisfied", "reason": "long_wait"}),
    );
    client(
        ClientMessage::RequestDocument { call: CallId(2), doc_type: DocType::HukouSelf },
        json!({"type": "request_document", "call": 2, "doc_type": "hukou_self"}),
    );
    client(
        ClientMessage::ReviewDocument {
            document: DocumentId::new("ab12"),
            accepted: false,
            reason: Some("不清晰".into()),
        },
        json!({"type": "review_document", "document": "ab12", "accepted": false, "reason": "不清晰"}),
    );
    client(
        ClientMessage::Sdp { call: CallId(2), kind: SdpKind::Offer, sdp: "v=0\r\n".into() },
        json!({"type": "sdp", "call": 2, "kind": "offer", "sdp": "v=0\r\n"}),
    );
    client(
        ClientMessage::IceCandidate {
            call: CallId(2),
            candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
        },
        json!({"type": "ice_candidate", "call": 2, "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
               "sdp_mid": "0", "sdp_mline_index": 0}),
    );
    client(ClientMessage::HangUp { call: CallId(2) }, json!({"type": "hang_up", "call": 2}));
    client(
        ClientMessage::MediaState { call: CallId(2), state: MediaState::Connected },
        json!({"type": "media_state", "call": 2, "state": "connected"}),
    );
    client(
        ClientMessage::TransferCall { call: CallId(4294967297), clerk: "clerk-hekou-2".into() },
        json!({"type": "transfer_call", "call": 4294967297u64, "clerk": "clerk-hekou-2"}),
    );
    client(
        ClientMessage::InviteToCall { call: CallId(4294967297), clerk: Some("clerk-hekou-2".into()), service: None },
        json!({"type": "invite_to_call", "call": 4294967297u64, "clerk": "clerk-hekou-2"}),
    );
    client(
        ClientMessage::InviteToCall { call: CallId(4294967297), clerk: None, service: Some("assist".into()) },
        json!({"type": "invite_to_call", "call": 4294967297u64, "service": "assist"}),
    );
    client(
        ClientMessage::RequeueCall { call: CallId(4294967297), service: ServiceCode::new("pension-check") },
        json!({"type": "requeue_call", "call": 4294967297u64, "service": "pension-check"}),
    );
}

#[test]
fn request_service_priority_defaults_to_normal() {
    let msg = ClientMessage::decode(r#"{"type":"request_service","service":"teacher-cert"}"#).unwrap();
    assert_eq!(msg, ClientMessage::RequestService { service: "teacher-cert".into(), priority: Priority::Normal });
}

#[test]
fn server_messages() {
    server(
        ServerMessage::Welcome {
            protocol_version: 1,
            role: Role::Booth,
            id: "booth-gudao-1".into(),
            display_name: "孤岛镇便民服务中心 1号晓屋".into(),
            heartbeat_interval_ms: 10000,
        },
        json!({"type": "welcome", "protocol_version": 1, "role": "booth", "id": "booth-gudao-1",
               "display_name": "孤岛镇便民服务中心 1号晓屋", "heartbeat_interval_ms": 10000}),
    );
    server(ServerMessage::Pong { seq: 3 }, json!({"type": "pong", "seq": 3}));
    server(
        ServerMessage::error(ErrorCode::Forbidden, Some("accept_offer")),
        json!({"type": "error", "code": "forbidden", "message_zh": "无权执行此操作",
               "message_en": "You are not allowed to do this", "in_reply_to": "accept_offer"}),
    );
    server(
        ServerMessage::TicketStatus {
            ticket: TicketId(12),
            number: 12,
            service: "teacher-cert".into(),
            state: TicketState::Waiting,
            position: Some(2),
            estimated_wait_secs: Some(300),
            waited_secs: 41,
            notice: None,
        },
        json!({"type": "ticket_status", "ticket": 12, "number": 12, "service": "teacher-cert", "state": "waiting", "position": 2,
               "estimated_wait_secs": 300, "waited_secs": 41}),
    );
    server(
        ServerMessage::TicketStatus {
            ticket: TicketId(12),
            number: 12,
            service: "teacher-cert".into(),
            state: TicketState::Waiting,
            position: Some(1),
            estimated_wait_secs: Some(0),
            waited_secs: 200,
            notice: Some(TicketNotice::ClerkLostRequeued),
        },
        json!({"type": "ticket_status", "ticket": 12, "number": 12, "service": "teacher-cert", "state": "waiting", "position": 1,
               "estimated_wait_secs": 0, "waited_secs": 200, "notice": "clerk_lost_requeued"}),
    );
    server(
        ServerMessage::ticket_closed(TicketId(12), TicketEndReason::NoClerk),
        json!({"type": "ticket_closed", "ticket": 12, "reason": "no_clerk",
               "message_zh": "当前没有可办理该事项的工作人员，请稍后再来或预约",
               "message_en": "No clerk for this service is signed in now; please come back later or book an appointment."}),
    );
    server(
        ServerMessage::TicketClosed {
            ticket: TicketId(12),
            reason: TicketEndReason::Served,
            message_zh: "办理完毕".into(),
            message_en: "Served.".into(),
            case: Some("1-12".into()),
        },
        json!({"type": "ticket_closed", "ticket": 12, "reason": "served", "message_zh": "办理完毕",
               "message_en": "Served.", "case": "1-12"}),
    );
    server(
        ServerMessage::ClerkState {
            state: ClerkState::Away,
            reason: Some(AwayReason::MissedOffers),
            wrap_up_ends_in_secs: None,
        },
        json!({"type": "clerk_state", "state": "away", "reason": "missed_offers"}),
    );
    server(
        ServerMessage::ClerkState { state: ClerkState::WrapUp, reason: None, wrap_up_ends_in_secs: Some(120) },
        json!({"type": "clerk_state", "state": "wrap_up", "wrap_up_ends_in_secs": 120}),
    );
    server(
        ServerMessage::Offer {
            offer: OfferId(5),
            ticket: TicketId(12),
            service: "teacher-cert".into(),
            service_name: "教师资格认定确认".into(),
            booth: "booth-gudao-1".into(),
            booth_region: "gudao".into(),
            booth_region_name: "东营市 河口区 孤岛镇".into(),
            priority: Priority::Normal,
            waited_secs: 41,
            expires_in_ms: 20000,
        },
        json!({"type": "offer", "offer": 5, "ticket": 12, "service": "teacher-cert", "service_name": "教师资格认定确认",
               "booth": "booth-gudao-1", "booth_region": "gudao", "booth_region_name": "东营市 河口区 孤岛镇",
               "priority": "normal", "waited_secs": 41, "expires_in_ms": 20000}),
    );
    server(
        ServerMessage::OfferRevoked { offer: OfferId(5), reason: OfferRevokeReason::Timeout },
        json!({"type": "offer_revoked", "offer": 5, "reason": "timeout"}),
    );
    server(
        ServerMessage::OfferRevoked { offer: OfferId(5), reason: OfferRevokeReason::BoothAway },
        json!({"type": "offer_revoked", "offer": 5, "reason": "booth_away"}),
    );
    server(
        ServerMessage::error(ErrorCode::RateLimited, None),
        json!({"type": "error", "code": "rate_limited", "message_zh": "操作过于频繁，请稍后再试",
               "message_en": "Too many messages; please slow down"}),
    );
    server(
        ServerMessage::CallStarted {
            call: CallId(2),
            ticket: TicketId(12),
            service: "teacher-cert".into(),
            peer: Peer { role: Role::Clerk, id: "clerk-hekou-1".into(), display_name: "王伟".into() },
            ice_servers: vec![IceServer {
                urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
                username: Some("1767225600:booth-gudao-1".into()),
                credential: Some("c2VjcmV0".into()),
            }],
            initiator: false,
            media: MediaMode::Relay,
            recording: true,
        },
        json!({"type": "call_started", "call": 2, "ticket": 12, "service": "teacher-cert",
               "peer": {"role": "clerk", "id": "clerk-hekou-1", "display_name": "王伟"},
               "ice_servers": [{"urls": ["turn:127.0.0.1:3478?transport=udp"], "username": "1767225600:booth-gudao-1",
                                "credential": "c2VjcmV0"}],
               "initiator": false, "media": "relay", "recording": true}),
    );
    server(
        ServerMessage::Sdp { call: CallId(2), kind: SdpKind::Answer, sdp: "v=0\r\n".into(), fresh: false },
        json!({"type": "sdp", "call": 2, "kind": "answer", "sdp": "v=0\r\n"}),
    );
    server(
        ServerMessage::Sdp { call: CallId(2), kind: SdpKind::Offer, sdp: "v=0\r\n".into(), fresh: true },
        json!({"type": "sdp", "call": 2, "kind": "offer", "sdp": "v=0\r\n", "fresh": true}),
    );
    server(
        ServerMessage::IceCandidate { call: CallId(2), candidate: "".into(), sdp_mid: None, sdp_mline_index: None },
        json!({"type": "ice_candidate", "call": 2, "candidate": ""}),
    );
    server(
        ServerMessage::CallEnded { call: CallId(2), ticket: TicketId(12), reason: CallEndReason::ClerkLost },
        json!({"type": "call_ended", "call": 2, "ticket": 12, "reason": "clerk_lost"}),
    );
    server(
        ServerMessage::CallEnded { call: CallId(2), ticket: TicketId(12), reason: CallEndReason::MediaFailed },
        json!({"type": "call_ended", "call": 2, "ticket": 12, "reason": "media_failed"}),
    );
    server(
        ServerMessage::InvitationSent { call: CallId(2), clerk: "clerk-hekou-3".into(), clerk_name: "张涛".into() },
        json!({"type": "invitation_sent", "call": 2, "clerk": "clerk-hekou-3", "clerk_name": "张涛"}),
    );
    server(
        ServerMessage::QueueLoad {
            rows: vec![QueueLoadRow {
                region: "hekou".into(),
                region_name: "河口区".into(),
                service: "teacher-cert".into(),
                service_name: "教师资格认定确认".into(),
                waiting: 3,
                longest_wait_secs: 95,
                clerks_eligible: 2,
                clerks_available: 0,
                clerks_offered: 0,
                clerks_in_call: 1,
                clerks_wrap_up: 0,
                clerks_away: 1,
                overflowing: 1,
                answered_today: 8,
                answered_within_target_today: 6,
                service_level: Some(0.75),
                city: Some("dongying".into()),
                city_name: Some("东营市".into()),
            }],
        },
        json!({"type": "queue_load", "rows": [{"region": "hekou", "region_name": "河口区", "service": "teacher-cert",
               "service_name": "教师资格认定确认", "waiting": 3, "longest_wait_secs": 95, "clerks_eligible": 2,
               "clerks_available": 0, "clerks_offered": 0, "clerks_in_call": 1, "clerks_wrap_up": 0, "clerks_away": 1,
               "overflowing": 1, "answered_today": 8, "answered_within_target_today": 6, "service_level": 0.75,
               "city": "dongying", "city_name": "东营市"}]}),
    );
    server(
        ServerMessage::ClerkList {
            clerks: vec![ClerkRow {
                clerk: "clerk-hekou-1".into(),
                name: "王伟".into(),
                hall: "hekou".into(),
                hall_name: "河口区".into(),
                state: ClerkState::Away,
                reason: Some(AwayReason::Supervisor),
                secs_in_state: 12,
                calls_today: 14,
                avg_handle_secs: Some(262),
                missed_offers_today: 1,
                ratings_today: 9,
                bad_ratings_today: 0,
            }],
        },
        json!({"type": "clerk_list", "clerks": [{"clerk": "clerk-hekou-1", "name": "王伟", "hall": "hekou",
               "hall_name": "河口区", "state": "away", "reason": "supervisor", "secs_in_state": 12,
               "calls_today": 14, "avg_handle_secs": 262, "missed_offers_today": 1, "ratings_today": 9,
               "bad_ratings_today": 0}]}),
    );
    server(
        ServerMessage::Alerts {
            alerts: vec![Alert {
                kind: AlertKind::QueueOverTarget,
                region: "hekou".into(),
                service: Some(ServiceCode::new("teacher-cert")),
                clerk: None,
                booth: None,
                since_unix: 1_796_086_861,
                value: 75.0,
                message_zh: "河口区「教师资格认定确认」最长等待 75 秒，超过目标 60 秒".into(),
                message_en: "hekou teacher-cert: longest wait 75 s, over the 60 s target".into(),
            }],
        },
        json!({"type": "alerts", "alerts": [{"kind": "queue_over_target", "region": "hekou", "service": "teacher-cert",
               "since_unix": 1_796_086_861, "value": 75.0,
               "message_zh": "河口区「教师资格认定确认」最长等待 75 秒，超过目标 60 秒",
               "message_en": "hekou teacher-cert: longest wait 75 s, over the 60 s target"}]}),
    );
    server(
        ServerMessage::BoothList {
            booths: vec![BoothRow {
                booth: "booth-gudao-1".into(),
                name: "孤岛镇便民服务中心 1号晓屋".into(),
                region: "gudao".into(),
                online: false,
                offline_since_unix: Some(1_796_086_800),
                camera: None,
                microphone: None,
            }],
        },
        json!({"type": "booth_list", "booths": [{"booth": "booth-gudao-1", "name": "孤岛镇便民服务中心 1号晓屋",
               "region": "gudao", "online": false, "offline_since_unix": 1_796_086_800u64}]}),
    );
    server(
        ServerMessage::BoothList {
            booths: vec![BoothRow {
                booth: "booth-xianhe-1".into(),
                name: "仙河镇便民服务中心晓屋".into(),
                region: "xianhe".into(),
                online: true,
                offline_since_unix: None,
                camera: Some(DeviceState::Failed),
                microphone: Some(DeviceState::Ok),
            }],
        },
        json!({"type": "booth_list", "booths": [{"booth": "booth-xianhe-1", "name": "仙河镇便民服务中心晓屋",
               "region": "xianhe", "online": true, "camera": "failed", "microphone": "ok"}]}),
    );
    server(
        ServerMessage::CallTransferred {
            call: CallId(4294967297),
            ticket: TicketId(4294967297),
            from: "clerk-hekou-1".into(),
            peer: Peer { role: Role::Clerk, id: "clerk-hekou-2".into(), display_name: "李磊".into() },
        },
        json!({"type": "call_transferred", "call": 4294967297u64, "ticket": 4294967297u64, "from": "clerk-hekou-1",
               "peer": {"role": "clerk", "id": "clerk-hekou-2", "display_name": "李磊"}}),
    );
    server(
        ServerMessage::CaseRecorded { call: CallId(2), ticket: TicketId(12), outcome: CaseOutcome::Completed },
        json!({"type": "case_recorded", "call": 2, "ticket": 12, "outcome": "completed"}),
    );
    server(
        ServerMessage::QueueHistory {
            interval_secs: 10,
            points: vec![
                WaitingPoint { at: 1_795_000_000, waiting: 3 },
                WaitingPoint { at: 1_795_000_010, waiting: 4 },
            ],
        },
        json!({"type": "queue_history", "interval_secs": 10,
               "points": [{"at": 1_795_000_000u64, "waiting": 3}, {"at": 1_795_000_010u64, "waiting": 4}]}),
    );
    server(
        ServerMessage::ServerShutdown {
            retry_after_ms: 5000,
            message_zh: "系统维护中，请稍后重新连接".into(),
            message_en: "The server is restarting; please reconnect shortly.".into(),
        },
        json!({"type": "server_shutdown", "retry_after_ms": 5000, "message_zh": "系统维护中，请稍后重新连接",
               "message_en": "The server is restarting; please reconnect shortly."}),
    );
}

#[test]
fn rest_bodies() {
    let req: LoginRequest =
        serde_json::from_value(json!({"role": "clerk", "id": "clerk-hekou-1", "secret": "demo"})).unwrap();
    assert_eq!(
        req,
        LoginRequest { role: Role::Clerk, id: "clerk-hekou-1".into(), secret: "demo".into(), device_token: None }
    );
    let resp = LoginResponse {
        token: "t".into(),
        role: Role::Clerk,
        id: "clerk-hekou-1".into(),
        display_name: "王伟".into(),
        expires_at_unix: 1767225600,
    };
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({"token": "t", "role": "clerk", "id": "clerk-hekou-1", "display_name": "王伟", "expires_at_unix": 1767225600})
    );
}

/// `GET /api/cluster` as docs/protocol.md shows it, both ways, and a single node's answer.
#[test]
fn the_cluster_view() {
    let doc = json!({"mode": "cluster", "router": "b", "epoch": 4, "log_length": 18234,
        "nodes": [{"node": "a", "role": "router", "epoch": 3, "applied": 18190, "lag": 44, "last_seen_ms": 9120},
                  {"node": "b", "role": "router", "epoch": 4, "applied": 18234, "lag": 0, "last_seen_ms": 310}]});
    let view: ClusterView = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!((view.router.as_deref(), view.nodes.len(), view.nodes[0].lag), (Some("b"), 2, 44));
    assert_eq!(serde_json::to_value(&view).unwrap(), doc);
    let single = ClusterView { mode: "single".into(), router: None, epoch: 0, log_length: 0, nodes: vec![] };
    assert_eq!(
        serde_json::to_value(&single).unwrap(),
        json!({"mode": "single", "router": null, "epoch": 0, "log_length": 0, "nodes": []})
    );
}

#[test]
fn rest_error_bodies_and_statuses() {
    let (zh, en) = ErrorCode::BadCredentials.messages();
    let body = ApiErrorBody {
        code: ErrorCode::BadCredentials,
        message_zh: zh.into(),
        message_en: en.into(),
        retry_after_secs: None,
    };
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({"code": "bad_credentials", "message_zh": "账号或密码错误", "message_en": "Unknown account or wrong secret"})
    );
    let (zh, en) = ErrorCode::TooManyAttempts.messages();
    let body = ApiErrorBody {
        code: ErrorCode::TooManyAttempts,
        message_zh: zh.into(),
        message_en: en.into(),
        retry_after_secs: Some(4),
    };
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({"code": "too_many_attempts", "message_zh": "登录失败次数过多，请稍后再试",
               "message_en": "Too many failed sign-in attempts; please retry later", "retry_after_secs": 4})
    );
    // The status table of docs/protocol.md.
    for (code, status) in [
        ("bad_message", 400),
        ("invalid_field", 400),
        ("not_authenticated", 401),
        ("invalid_token", 401),
        ("bad_credentials", 401),
        ("forbidden", 403),
        ("not_found", 404),
        ("method_not_allowed", 405),
        ("request_timeout", 408),
        ("not_in_call", 409),
        ("expired", 410),
        ("message_too_large", 413),
        ("file_too_large", 413),
        ("unsupported_format", 415),
        ("image_too_large", 422),
        ("too_many_attempts", 429),
        ("rate_limited", 429),
        ("internal", 500),
        ("server_busy", 503),
        ("shutting_down", 503),
    ] {
        let code: ErrorCode = serde_json::from_value(json!(code)).unwrap();
        assert_eq!(code.http_status(), status, "{code:?}");
    }
}

#[test]
fn close_reasons_are_the_documented_words() {
    let words: Vec<(&str, u16)> = CloseReason::ALL.iter().map(|r| (r.as_str(), r.code())).collect();
    assert_eq!(
        words,
        [
            ("server_shutdown", 1001),
            ("replaced", 4001),
            ("authentication_failed", 4002),
            ("hello_timeout", 4003),
            ("heartbeat_timeout", 4004),
            ("too_slow", 4005),
            ("rate_limited", 4006)
        ]
    );
}

#[test]
fn unknown_and_malformed_messages_are_rejected() {
    for bad in [
        r#"{"type":"launch_rockets"}"#,
        r#"{"type":"accept_offer","offer":"five"}"#,
        r#"{"offer":5}"#,
        r#"[1,2,3]"#,
        "not json",
        r#"{"type":"request_service","service":"teacher-cert","priority":"vip"}"#,
    ] {
        let err = ClientMessage::decode(bad).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadMessage, "{bad}");
    }
    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES));
    assert_eq!(ClientMessage::decode(&huge).unwrap_err().code(), ErrorCode::MessageTooLarge);
}
