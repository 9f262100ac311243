//! Scenario tests of the desk's turns in virtual time, through the engine it owns: what each
//! input leads to, as the exact effects (the engine's own actions, `Noted`, are tested in
//! `routing`; here they are left out). A re-queue to another item, a wrap-up ended by its time
//! limit, by `available` and by a clerk who drops, and a booth that comes back to its call.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::cases::{Write, Written};
use desk::effect::Effect;
use desk::{Desk, Now};
use protocol::rest::CaseRecord;
use protocol::{CallEndReason, CaseOutcome, ServerMessage, TicketNotice, TicketState};
use routing::{BoothIdx, CallId, ClerkIdx, Engine, EngineConfig, Input, Party, Priority, ServiceIdx};

/// Unix ms at `t = 0`.
const WALL0: i64 = 1_800_000_000_000;

struct Floor {
    desk: Desk,
    connected: BTreeSet<ClerkIdx>,
    t0: Instant,
    booth: BoothIdx,
    clerk: ClerkIdx,
    household_clerk: ClerkIdx,
}

impl Floor {
    /// 河口1 (`teacher-cert`) and 河口户籍 (`household`) signed in; 孤岛镇1号 connected.
    fn new() -> Self {
        let dir = Arc::new(common::directory_with_two_items());
        let t0 = Instant::now();
        let engine = Engine::new(dir.clone(), EngineConfig::default(), t0);
        let mut f = Floor {
            desk: Desk::new(engine, true),
            connected: BTreeSet::new(),
            t0,
            booth: dir.booth_idx("booth-gudao-1").unwrap(),
            clerk: dir.clerk_idx("clerk-hekou-1").unwrap(),
            household_clerk: dir.clerk_idx("clerk-hekou-h").unwrap(),
        };
        for clerk in [f.clerk, f.household_clerk] {
            f.connected.insert(clerk);
            let now = f.now(0);
            f.desk.clerk_connected(clerk, now);
            f.desk.drain(now, &f.connected);
        }
        let now = f.now(0);
        f.desk.booth_connected(f.booth, now);
        f.desk.drain(now, &f.connected);
        f
    }

    fn now(&self, secs: u64) -> Now {
        Now { at: self.t0 + Duration::from_secs(secs), wall_ms: WALL0 + secs as i64 * 1000 }
    }

    /// An input at `secs`, and what it led to (without the engine's own actions).
    fn input(&mut self, secs: u64, input: Input) -> Vec<Effect> {
        let now = self.now(secs);
        self.desk.input(input, now.at).expect("the input is accepted");
        said(self.desk.drain(now, &self.connected))
    }

    /// Time passes to `secs`.
    fn wait(&mut self, secs: u64) -> Vec<Effect> {
        let now = self.now(secs);
        self.desk.timeout(now.at);
        said(self.desk.drain(now, &self.connected))
    }

    /// 河口1 in a call with 孤岛镇1号 from t = 2 s, media up: the call.
    fn in_a_call(&mut self) -> CallId {
        let clerk = self.clerk;
        self.input(0, Input::ClerkSetAvailable { clerk });
        let service = ServiceIdx(0);
        self.input(1, Input::RequestService { booth: self.booth, service, priority: Priority::Normal });
        let (offer, _) = self.desk.engine().offer_of(clerk).expect("the free clerk is offered the ticket");
        self.input(2, Input::AcceptOffer { clerk, offer });
        let call = self.desk.engine().call_of(clerk).expect("the call is up").call;
        self.input(2, Input::MediaConnected { call, by: Party::Booth(self.booth) });
        self.input(2, Input::MediaConnected { call, by: Party::Clerk(clerk) });
        call
    }
}

fn said(effects: Vec<Effect>) -> Vec<Effect> {
    effects.into_iter().filter(|e| !matches!(e, Effect::Noted(_))).collect()
}

fn clerk_state(state: protocol::ClerkState, wrap_up_ends_in_secs: Option<u32>) -> ServerMessage {
    ServerMessage::ClerkState { state, reason: None, wrap_up_ends_in_secs }
}

fn wire(call: CallId) -> protocol::CallId {
    protocol::CallId(call.0)
}

/// The case 河口1's call opens, as written once its wrap-up ends at `recorded_secs`.
fn case(
    call_end: CallEndReason,
    outcome: CaseOutcome,
    note: Option<&str>,
    ended_secs: u64,
    recorded_secs: u64,
) -> CaseRecord {
    let unix0 = (WALL0 / 1000) as u64;
    CaseRecord {
        outcome,
        note: note.map(str::to_owned),
        recorded_unix: unix0 + recorded_secs,
        ..common::pending_case("0-1", 1, 1, call_end, unix0 + ended_secs)
    }
}

fn case_written(clerk: ClerkIdx, case: CaseRecord) -> Effect {
    let then = ServerMessage::CaseRecorded {
        call: protocol::CallId(case.call),
        ticket: protocol::TicketId(case.ticket),
        outcome: case.outcome,
    };
    Effect::Write(Box::new(Write { record: Written::Case(case), then: Some((Party::Clerk(clerk), then)) }))
}

#[test]
fn a_requeue_ends_the_call_into_wrap_up_and_offers_the_ticket_first_to_the_new_items_clerk() {
    let mut f = Floor::new();
    let call = f.in_a_call();
    let (clerk, h, booth) = (f.clerk, f.household_clerk, f.booth);
    f.input(5, Input::ClerkSetAvailable { clerk: h });

    let effects = f.input(10, Input::RequeueCall { call, clerk, service: ServiceIdx(1) });

    let ended = |reason| ServerMessage::CallEnded { call: wire(call), ticket: protocol::TicketId(1), reason };
    let status = ServerMessage::TicketStatus {
        ticket: protocol::TicketId(1),
        number: 1,
        service: protocol::ServiceCode::new("household"),
        state: TicketState::Offered,
        position: None,
        estimated_wait_secs: None,
        waited_secs: 0,
        notice: Some(TicketNotice::Transferred),
    };
    let offer = ServerMessage::Offer {
        offer: protocol::OfferId(2),
        ticket: protocol::TicketId(1),
        service: protocol::ServiceCode::new("household"),
        service_name: "户口迁移".into(),
        booth: protocol::BoothId::new("booth-gudao-1"),
        booth_region: protocol::RegionId::new("gudao"),
        booth_region_name: "东营市 河口区 孤岛镇".into(),
        priority: protocol::Priority::Normal,
        waited_secs: 0,
        expires_in_ms: 20_000,
    };
    assert_eq!(
        effects,
        vec![
            // The call ends for both parties (its media room closes); the clerk goes to wrap-up.
            Effect::CallEnded { call: call.0 },
            Effect::ToBooth(booth, ended(CallEndReason::Requeued)),
            Effect::ToClerk(clerk, ended(CallEndReason::Requeued)),
            Effect::LoadChanged,
            Effect::ToClerk(clerk, clerk_state(protocol::ClerkState::WrapUp, Some(120))),
            Effect::LoadChanged,
            // The same ticket, at the head of the new item's queue, is offered to its clerk at
            // once; the booth is told it was handed on.
            Effect::ToBooth(booth, status),
            Effect::LoadChanged,
            Effect::LoadChanged,
            Effect::ToClerk(h, clerk_state(protocol::ClerkState::Offered, None)),
            Effect::ToClerk(h, offer),
            Effect::LoadChanged,
        ]
    );
    // The first clerk's part is a case of its own, pending its wrap-up.
    assert_eq!(f.desk.cases.pending_clerks(), vec![clerk]);
}

/// 河口1 hangs up at 10 s and drafts 已办结 at 20 s: the call's case waits in wrap-up.
fn in_wrap_up_with_a_draft() -> Floor {
    let mut f = Floor::new();
    let call = f.in_a_call();
    let (clerk, booth) = (f.clerk, f.booth);
    let effects = f.input(10, Input::HangUp { call, by: Party::Clerk(clerk) });
    let ended = ServerMessage::CallEnded {
        call: wire(call),
        ticket: protocol::TicketId(1),
        reason: CallEndReason::HungUpByClerk,
    };
    let mut closed = ServerMessage::ticket_closed(protocol::TicketId(1), protocol::TicketEndReason::Served);
    if let ServerMessage::TicketClosed { case, .. } = &mut closed {
        // The receipt carries the case number.
        *case = Some("0-1".into());
    }
    assert_eq!(
        effects,
        vec![
            Effect::CallEnded { call: call.0 },
            Effect::ToBooth(booth, ended.clone()),
            Effect::ToClerk(clerk, ended),
            Effect::LoadChanged,
            Effect::ToClerk(clerk, clerk_state(protocol::ClerkState::WrapUp, Some(120))),
            Effect::ToBooth(booth, closed),
            Effect::LoadChanged,
        ]
    );
    f.desk.cases.draft(clerk, Some(CaseOutcome::Completed), Some("已办结")).expect("a draft is kept");
    f
}

#[test]
fn a_wrap_up_ended_by_its_time_limit_writes_the_case_with_the_clerks_draft() {
    let mut f = in_wrap_up_with_a_draft();
    let clerk = f.clerk;
    assert_eq!(f.wait(129), vec![], "the wrap-up goes on for 120 s");
    assert_eq!(
        f.wait(130),
        vec![
            case_written(clerk, case(CallEndReason::HungUpByClerk, CaseOutcome::Completed, Some("已办结"), 10, 130)),
            Effect::LoadChanged,
            Effect::ToClerk(clerk, clerk_state(protocol::ClerkState::Available, None)),
        ]
    );
    assert!(f.desk.cases.pending_clerks().is_empty());
}

#[test]
fn a_wrap_up_ended_by_available_writes_the_case_with_the_clerks_draft() {
    let mut f = in_wrap_up_with_a_draft();
    let clerk = f.clerk;
    assert_eq!(
        f.input(30, Input::ClerkSetAvailable { clerk }),
        vec![
            case_written(clerk, case(CallEndReason::HungUpByClerk, CaseOutcome::Completed, Some("已办结"), 10, 30)),
            Effect::LoadChanged,
            Effect::ToClerk(clerk, clerk_state(protocol::ClerkState::Available, None)),
        ]
    );
}

#[test]
fn a_wrap_up_ended_by_a_clerk_who_drops_writes_the_case_and_tells_nobody() {
    let mut f = in_wrap_up_with_a_draft();
    let clerk = f.clerk;
    f.connected.remove(&clerk);
    assert_eq!(f.input(30, Input::ClerkDisconnected { clerk }), vec![], "wrap-up goes on through the grace");
    // Signed out when the 15 s grace is over: the case is written with the draft; the clerk's
    // state message has nobody to go to. The write's answer is for the clerk's next connection.
    assert_eq!(
        f.wait(45),
        vec![
            case_written(clerk, case(CallEndReason::HungUpByClerk, CaseOutcome::Completed, Some("已办结"), 10, 45)),
            Effect::LoadChanged,
        ]
    );
}

#[test]
fn a_booth_that_comes_back_is_told_where_its_ticket_stands_and_its_call_again() {
    let mut f = Floor::new();
    let call = f.in_a_call();
    let booth = f.booth;
    assert_eq!(f.input(5, Input::BoothDisconnected { booth }), vec![], "the call goes on through the grace");
    let now = f.now(8);
    let effects = f.desk.booth_connected(booth, now);
    let resumed = ServerMessage::TicketStatus {
        ticket: protocol::TicketId(1),
        number: 1,
        service: protocol::ServiceCode::new("teacher-cert"),
        state: TicketState::Connected,
        position: None,
        estimated_wait_secs: None,
        // Since the request at 1 s.
        waited_secs: 7,
        notice: Some(TicketNotice::Resumed),
    };
    assert_eq!(
        effects,
        vec![
            Effect::ToBooth(booth, resumed),
            Effect::CallStarted { call: call.0, to_clerk: false, to_booth: true, open_media: true },
        ]
    );
    assert_eq!(said(f.desk.drain(now, &f.connected)), vec![]);
}
