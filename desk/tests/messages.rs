//! Scenario tests of the desk's handling of client messages, in virtual time, asserting the exact
//! effects or the refusal: who may send what, a supervisor forcing a clerk's state within scope,
//! signaling peer to peer and through the relay, documents asked for and reviewed, a guest's
//! state, and that a refused message changes nothing.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::cases::{ForcedState, Review, Write, Written};
use desk::effect::Effect;
use desk::messages::DocumentRef;
use desk::staff::{Staff, Supervisor};
use desk::{Desk, Now, Principal};
use protocol::{ClerkTargetState, ClientMessage, DocType, ErrorCode, SdpKind, ServerMessage, ServiceCode};
use routing::{AwayReason, BoothIdx, CallId, ClerkIdx, ClerkState, Engine, EngineConfig, Party};

/// Unix ms at `t = 0`.
const WALL0: i64 = 1_800_000_000_000;
const SDP: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n";

struct Floor {
    desk: Desk,
    connected: BTreeSet<ClerkIdx>,
    t0: Instant,
    booth: BoothIdx,
    clerk: ClerkIdx,
    /// 河口2, of the same hall.
    colleague: ClerkIdx,
    /// 滨城1, of another city.
    stranger: ClerkIdx,
}

impl Floor {
    /// 河口1, 河口2 and 滨城1 signed in, 孤岛镇1号 connected; supervisors of 河口区 (0) and 滨州市
    /// (1). `relayed`: calls go through the relay.
    fn new(relayed: bool) -> Self {
        let dir =
            Arc::new(common::directory_with_clerks(&[("clerk-hekou-2", "hekou"), ("clerk-bincheng-1", "bincheng")]));
        let t0 = Instant::now();
        let mut desk = Desk::new(Engine::new(dir.clone(), EngineConfig::default(), t0), relayed);
        let sup = |id: &str, region: &str| Supervisor { id: id.into(), scope: dir.region_idx(region).unwrap() };
        desk.set_staff(Staff {
            supervisors: vec![sup("sup-hekou", "hekou"), sup("sup-binzhou", "binzhou")],
            ice_servers: vec![],
        });
        let mut f = Floor {
            desk,
            connected: BTreeSet::new(),
            t0,
            booth: dir.booth_idx("booth-gudao-1").unwrap(),
            clerk: dir.clerk_idx("clerk-hekou-1").unwrap(),
            colleague: dir.clerk_idx("clerk-hekou-2").unwrap(),
            stranger: dir.clerk_idx("clerk-bincheng-1").unwrap(),
        };
        let now = f.now(0);
        for clerk in [f.clerk, f.colleague, f.stranger] {
            f.connected.insert(clerk);
            f.desk.clerk_connected(clerk, now);
        }
        f.desk.booth_connected(f.booth, now);
        f.desk.drain(now, &f.connected);
        f
    }

    fn now(&self, secs: u64) -> Now {
        Now { at: self.t0 + Duration::from_secs(secs), wall_ms: WALL0 + secs as i64 * 1000 }
    }

    /// A message from `who` at `secs`: the desk's answer, and what the engine then did (without
    /// its own actions, `Noted`).
    fn send(&mut self, secs: u64, who: Principal, msg: ClientMessage) -> Result<Vec<Effect>, ErrorCode> {
        let now = self.now(secs);
        let mut effects = self.desk.on_message(who, &msg, now, &self.connected)?;
        effects.extend(self.desk.drain(now, &self.connected).into_iter().filter(|e| !matches!(e, Effect::Noted(_))));
        Ok(effects)
    }

    /// 河口1 in a call with 孤岛镇1号, asked for and taken through messages: the call.
    fn in_a_call(&mut self) -> CallId {
        let (booth, clerk) = (Principal::Booth(self.booth), Principal::Clerk(self.clerk));
        let available = ClientMessage::SetState { state: ClerkTargetState::Available, reason: None };
        self.send(1, clerk, available).unwrap();
        let request = ClientMessage::RequestService {
            service: ServiceCode::new("teacher-cert".to_owned()),
            priority: protocol::Priority::Normal,
        };
        self.send(2, booth, request).unwrap();
        let (offer, _) = self.desk.engine().offer_of(self.clerk).expect("the free clerk is offered the ticket");
        self.send(3, clerk, ClientMessage::AcceptOffer { offer: protocol::OfferId(offer.0) }).unwrap();
        self.desk.engine().call_of(self.clerk).expect("the call is up").call
    }

    /// Everything the desk holds that a message could change, to compare before and after.
    fn state(&self) -> String {
        let e = self.desk.engine();
        let clerks: Vec<_> = [self.clerk, self.colleague, self.stranger].iter().map(|c| e.clerk_state(*c)).collect();
        format!("{clerks:?} {} {:?} {:?}", e.open_ticket_count(), self.desk.three_way, self.desk.cases)
    }
}

fn force(clerk: &str, state: ClerkTargetState, why: &str) -> ClientMessage {
    ClientMessage::ForceClerkState { clerk: clerk.into(), state, why: why.into() }
}

fn sdp(call: CallId, kind: SdpKind, sdp: &str) -> ClientMessage {
    ClientMessage::Sdp { call: protocol::CallId(call.0), kind, sdp: sdp.into() }
}

#[test]
fn a_refused_message_is_answered_with_its_code_and_changes_nothing() {
    let mut f = Floor::new(false);
    let call = f.in_a_call();
    let (booth, clerk, sup) = (Principal::Booth(f.booth), Principal::Clerk(f.clerk), Principal::Supervisor(0));
    let refused = [
        (
            booth,
            ClientMessage::RequestService {
                service: ServiceCode::new("nope".to_owned()),
                priority: protocol::Priority::Normal,
            },
        ),
        (
            clerk,
            ClientMessage::SetState { state: ClerkTargetState::Away, reason: Some(protocol::AwayReason::Supervisor) },
        ),
        (
            sup,
            ClientMessage::RequestService {
                service: ServiceCode::new("teacher-cert".to_owned()),
                priority: protocol::Priority::Normal,
            },
        ),
        (booth, ClientMessage::AcceptOffer { offer: protocol::OfferId(1) }),
        (Principal::Clerk(f.colleague), ClientMessage::HangUp { call: protocol::CallId(call.0) }),
        (Principal::Clerk(f.colleague), sdp(call, SdpKind::Offer, SDP)),
        (clerk, sdp(call, SdpKind::Offer, "not sdp")),
        (clerk, ClientMessage::HangUp { call: protocol::CallId(call.0 + 1) }),
        (Principal::Supervisor(9), force("clerk-hekou-2", ClerkTargetState::Away, "meeting")),
    ];
    let codes = [
        ErrorCode::UnknownService,
        ErrorCode::InvalidField,
        ErrorCode::Forbidden,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::InvalidField,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
    ];
    let before = f.state();
    for ((who, msg), code) in refused.into_iter().zip(codes) {
        let kind = msg.kind();
        assert_eq!(f.send(10, who, msg), Err(code), "{kind}");
        assert_eq!(f.state(), before, "{kind} changed nothing");
    }
}

#[test]
fn a_supervisor_forces_a_clerk_of_their_scope_with_a_reason_and_it_is_written() {
    let mut f = Floor::new(false);
    let sup = Principal::Supervisor(0);
    assert_eq!(f.send(5, sup, force("clerk-bincheng-1", ClerkTargetState::Away, "meeting")), Err(ErrorCode::Forbidden));
    assert_eq!(f.send(5, sup, force("clerk-nobody", ClerkTargetState::Away, "meeting")), Err(ErrorCode::NotFound));
    assert_eq!(f.send(5, sup, force("clerk-hekou-2", ClerkTargetState::Away, "  ")), Err(ErrorCode::InvalidField));
    let long = "很".repeat(201);
    assert_eq!(f.send(5, sup, force("clerk-hekou-2", ClerkTargetState::Away, &long)), Err(ErrorCode::InvalidField));
    assert_eq!(f.desk.engine().clerk_state(f.colleague), ClerkState::Away(AwayReason::SignedIn));

    let effects = f.send(7, sup, force("clerk-hekou-2", ClerkTargetState::Available, " 窗口缺人 ")).unwrap();
    let forced = ForcedState {
        supervisor: "sup-hekou".into(),
        clerk: "clerk-hekou-2".into(),
        state: ClerkTargetState::Available,
        why: "窗口缺人".into(),
        at_unix: (WALL0 / 1000) as u64 + 7,
    };
    let told =
        ServerMessage::ClerkState { state: protocol::ClerkState::Available, reason: None, wrap_up_ends_in_secs: None };
    assert_eq!(
        effects,
        vec![
            Effect::Write(Box::new(Write { record: Written::ForcedState(forced), then: None })),
            Effect::LoadChanged,
            Effect::LoadChanged,
            Effect::ToClerk(f.colleague, told),
        ]
    );
    assert_eq!(f.desk.engine().clerk_state(f.colleague), ClerkState::Available);
    // The other city's supervisor reaches its own clerk.
    let effects = f.send(8, Principal::Supervisor(1), force("clerk-bincheng-1", ClerkTargetState::Away, "培训"));
    assert!(effects.is_ok());
    assert_eq!(f.desk.engine().clerk_state(f.stranger), ClerkState::Away(AwayReason::Supervisor));
}

#[test]
fn peer_to_peer_signaling_goes_to_the_calls_other_party_checked() {
    let mut f = Floor::new(false);
    let call = f.in_a_call();
    let wire = protocol::CallId(call.0);
    let offer = f.send(5, Principal::Clerk(f.clerk), sdp(call, SdpKind::Offer, SDP)).unwrap();
    let out = ServerMessage::Sdp { call: wire, kind: SdpKind::Offer, sdp: SDP.into(), fresh: false };
    assert_eq!(offer, vec![Effect::ToBooth(f.booth, out)]);
    let candidate = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host";
    let ice = ClientMessage::IceCandidate {
        call: wire,
        candidate: candidate.into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    };
    let out = ServerMessage::IceCandidate {
        call: wire,
        candidate: candidate.into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    };
    assert_eq!(f.send(5, Principal::Booth(f.booth), ice).unwrap(), vec![Effect::ToClerk(f.clerk, out)]);
}

#[test]
fn through_the_relay_a_partys_answer_goes_to_the_relay_and_its_offer_is_refused() {
    let mut f = Floor::new(true);
    let call = f.in_a_call();
    let booth = Principal::Booth(f.booth);
    assert_eq!(f.send(5, booth, sdp(call, SdpKind::Offer, SDP)), Err(ErrorCode::WrongState));
    let answer = sdp(call, SdpKind::Answer, SDP);
    assert_eq!(
        f.send(5, booth, answer.clone()).unwrap(),
        vec![Effect::ToRelay { call: call.0, party: "booth".into(), signal: answer.clone() }]
    );
    assert_eq!(
        f.send(5, Principal::Clerk(f.clerk), answer.clone()).unwrap(),
        vec![Effect::ToRelay { call: call.0, party: "clerk".into(), signal: answer }]
    );
}

#[test]
fn a_clerk_asks_for_a_document_of_its_own_call_and_its_review_is_told_after_the_write() {
    let mut f = Floor::new(false);
    let call = f.in_a_call();
    let wire = protocol::CallId(call.0);
    let ask = ClientMessage::RequestDocument { call: wire, doc_type: DocType::IdFront };
    assert_eq!(f.send(5, Principal::Clerk(f.colleague), ask.clone()), Err(ErrorCode::Forbidden));
    let (zh, en) = DocType::IdFront.names();
    let requested = ServerMessage::DocumentRequested {
        call: wire,
        doc_type: DocType::IdFront,
        name_zh: zh.into(),
        name_en: en.into(),
    };
    assert_eq!(f.send(5, Principal::Clerk(f.clerk), ask).unwrap(), vec![Effect::ToBooth(f.booth, requested)]);

    let doc = DocumentRef { id: "doc-1".into(), call: call.0, doc_type: DocType::IdFront };
    let now = f.now(9);
    let too_long = Some("x".repeat(201));
    assert_eq!(f.desk.review_document(f.clerk, &doc, false, too_long, now), Err(ErrorCode::InvalidField));
    assert_eq!(f.desk.review_document(f.colleague, &doc, true, None, now), Err(ErrorCode::Forbidden));
    let write = f.desk.review_document(f.clerk, &doc, false, Some("照片模糊".into()), now).unwrap();
    let review = Review {
        document: "doc-1".into(),
        call: call.0,
        accepted: false,
        reason: Some("照片模糊".into()),
        at_ms: WALL0 + 9_000,
    };
    let told = ServerMessage::DocumentReviewed {
        call: wire,
        document: protocol::DocumentId::new("doc-1".to_owned()),
        doc_type: DocType::IdFront,
        accepted: false,
        reason: Some("照片模糊".into()),
    };
    assert_eq!(write, Write { record: Written::Review(review), then: Some((Party::Booth(f.booth), told)) });
}

#[test]
fn a_party_whose_media_came_up_is_noted_in_the_tickets_log() {
    let mut f = Floor::new(false);
    let call = f.in_a_call();
    let up = ClientMessage::MediaState { call: protocol::CallId(call.0), state: protocol::MediaState::Connected };
    f.desk.ticket_log.take_rows();
    assert_eq!(f.send(4, Principal::Booth(f.booth), up).unwrap(), vec![]);
    let (rows, _) = f.desk.ticket_log.take_rows();
    let said: Vec<_> = rows.iter().map(|r| (r.kind.as_str(), r.detail.as_str(), r.at_ms)).collect();
    let detail = format!("{{\"call\":{},\"party\":\"booth\"}}", call.0);
    assert_eq!(said, vec![("media_up", detail.as_str(), WALL0 + 4_000)]);
}

#[test]
fn a_guest_changes_its_state_only_by_leaving_the_call() {
    let mut f = Floor::new(true);
    let call = f.in_a_call();
    let wire = protocol::CallId(call.0);
    let (host, guest) = (Principal::Clerk(f.clerk), Principal::Clerk(f.colleague));
    let invite = ClientMessage::InviteToCall { call: wire, clerk: Some("clerk-hekou-2".into()), service: None };
    f.send(5, host, invite).unwrap();
    f.send(6, guest, ClientMessage::JoinCall { call: wire }).unwrap();
    assert_eq!(f.desk.engine().clerk_state(f.colleague), ClerkState::Away(AwayReason::Assisting));

    let available = ClientMessage::SetState { state: ClerkTargetState::Available, reason: None };
    assert_eq!(f.send(7, guest, available.clone()), Err(ErrorCode::WrongState));
    assert_eq!(f.send(7, host, ClientMessage::LeaveCall { call: wire }), Err(ErrorCode::NotFound), "not the guest");
    // The guest's answer goes to the relay as the guest's.
    let answer = sdp(call, SdpKind::Answer, SDP);
    let effects = f.send(7, guest, answer.clone()).unwrap();
    assert_eq!(effects, vec![Effect::ToRelay { call: call.0, party: "guest".into(), signal: answer }]);

    let effects = f.send(8, guest, ClientMessage::LeaveCall { call: wire }).unwrap();
    assert_eq!(effects.first(), Some(&Effect::RelayLeave { call: call.0, party: "guest".into() }));
    assert_eq!(f.desk.engine().clerk_state(f.colleague), ClerkState::Available, "available again once it left");
}

#[test]
fn a_guest_whose_console_drops_leaves_the_call_and_is_not_made_available() {
    let mut f = Floor::new(true);
    let call = f.in_a_call();
    let wire = protocol::CallId(call.0);
    let invite = ClientMessage::InviteToCall { call: wire, clerk: Some("clerk-hekou-2".into()), service: None };
    f.send(5, Principal::Clerk(f.clerk), invite).unwrap();
    f.send(6, Principal::Clerk(f.colleague), ClientMessage::JoinCall { call: wire }).unwrap();

    f.connected.remove(&f.colleague);
    let now = f.now(7);
    let effects = f.desk.clerk_disconnected(f.colleague, now, &f.connected);
    let left = ServerMessage::PartyLeft { call: wire, party: "guest".into(), id: "clerk-hekou-2".into() };
    assert_eq!(
        effects,
        vec![
            Effect::RelayLeave { call: call.0, party: "guest".into() },
            Effect::ToBooth(f.booth, left.clone()),
            Effect::ToClerk(f.clerk, left),
        ]
    );
    f.desk.drain(now, &f.connected);
    assert_eq!(f.desk.three_way.guest_of(call.0), None);
    assert_eq!(f.desk.engine().call_of(f.clerk).map(|c| c.call), Some(call), "the call goes on");
    assert_ne!(f.desk.engine().clerk_state(f.colleague), ClerkState::Available);
}
