//! Scenario tests of three-way calls in virtual time, asserting the exact effects: an invitation
//! by id and by service item, joining, leaving, the invitee's state, and what is refused.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::effect::Effect;
use desk::three_way::{Floor, Invitee, ThreeWay, GUEST, INVITATION_TTL};
use protocol::{CallId, ErrorCode, IceServer, ServerMessage, ServiceCode};
use routing::{Action, AwayReason, BoothIdx, ClerkIdx, ClerkState, Directory, Engine, EngineConfig, Input, Priority};

struct World {
    dir: Arc<Directory>,
    engine: Engine,
    t0: Instant,
    connected: BTreeSet<ClerkIdx>,
    relayed: bool,
    three_way: ThreeWay,
}

impl World {
    /// 河口1 in a call with 孤岛镇1号; 河口2 and 河口3 (河口区) and 滨城1 (滨城区) signed in.
    fn in_a_call() -> (Self, CallId) {
        let dir = Arc::new(common::directory_with_clerks(&[
            ("clerk-hekou-2", "hekou"),
            ("clerk-hekou-3", "hekou"),
            ("clerk-bincheng-1", "bincheng"),
        ]));
        let t0 = Instant::now();
        let engine = Engine::new(dir.clone(), EngineConfig::default(), t0);
        let mut w =
            World { dir, engine, t0, connected: BTreeSet::new(), relayed: true, three_way: ThreeWay::default() };
        let first = w.clerk("clerk-hekou-1");
        w.sign_in(0, first);
        w.input(0, Input::ClerkSetAvailable { clerk: first });
        let booth = w.dir.booth_idx("booth-gudao-1").unwrap();
        let service = w.dir.service_idx("teacher-cert").unwrap();
        w.input(0, Input::BoothConnected { booth });
        let offer = w
            .input(1, Input::RequestService { booth, service, priority: Priority::Normal })
            .into_iter()
            .find_map(|a| match a {
                Action::OfferMade { offer, .. } => Some(offer),
                _ => None,
            })
            .expect("the free clerk is offered the ticket");
        let call = w
            .input(2, Input::AcceptOffer { clerk: first, offer })
            .into_iter()
            .find_map(|a| match a {
                Action::CallStarted { call, .. } => Some(CallId(call.0)),
                _ => None,
            })
            .expect("the call starts");
        let routing_call = routing::CallId(call.0);
        w.input(2, Input::MediaConnected { call: routing_call, by: routing::Party::Booth(booth) });
        w.input(2, Input::MediaConnected { call: routing_call, by: routing::Party::Clerk(first) });
        // The others sign in afterwards (the ticket was the first clerk's); 滨城1 longest available.
        for (secs, id) in [(3, "clerk-bincheng-1"), (4, "clerk-hekou-3"), (5, "clerk-hekou-2")] {
            let c = w.clerk(id);
            w.sign_in(secs, c);
            w.input(secs, Input::ClerkSetAvailable { clerk: c });
        }
        (w, call)
    }

    fn clerk(&self, id: &str) -> ClerkIdx {
        self.dir.clerk_idx(id).unwrap()
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn sign_in(&mut self, secs: u64, clerk: ClerkIdx) {
        self.connected.insert(clerk);
        self.input(secs, Input::ClerkSignIn { clerk });
    }

    fn input(&mut self, secs: u64, input: Input) -> Vec<Action> {
        let now = self.at(secs);
        self.engine.handle_timeout(now);
        self.engine.handle_input(input, now).expect("the input is accepted");
        std::iter::from_fn(|| self.engine.poll_action()).collect()
    }

    fn floor(&self) -> Floor<'_> {
        Floor { engine: &self.engine, directory: &self.dir, relayed: self.relayed, connected: &self.connected }
    }

    fn invite(
        &mut self,
        secs: u64,
        inviter: &str,
        call: CallId,
        invitee: Invitee<'_>,
    ) -> Result<Vec<Effect>, ErrorCode> {
        let (inviter, now) = (self.clerk(inviter), self.at(secs));
        let mut three_way = std::mem::take(&mut self.three_way);
        let result = three_way.invite(&self.floor(), inviter, call, invitee, now);
        self.three_way = three_way;
        result
    }

    /// Joins as the shell does: the desk's check, the engine's `away`, the desk's decision.
    fn join(&mut self, secs: u64, clerk: &str, call: CallId) -> Result<Vec<Effect>, ErrorCode> {
        let (clerk, now) = (self.clerk(clerk), self.at(secs));
        self.three_way.may_join(&self.floor(), clerk, call, now)?;
        self.input(secs, Input::ClerkSetAway { clerk, reason: AwayReason::Assisting });
        let mut three_way = std::mem::take(&mut self.three_way);
        let effects = three_way.joined(&self.floor(), clerk, call, &ice_servers());
        self.three_way = three_way;
        Ok(effects)
    }

    fn leave(&mut self, call: CallId, available: bool) -> Vec<Effect> {
        let mut three_way = std::mem::take(&mut self.three_way);
        let effects = three_way.leave(&self.floor(), call.0, available);
        self.three_way = three_way;
        effects
    }
}

fn ice_servers() -> Vec<IceServer> {
    vec![IceServer { urls: vec!["stun:127.0.0.1:3478".into()], username: None, credential: None }]
}

fn invitation(call: CallId) -> ServerMessage {
    ServerMessage::CallInvitation {
        call,
        from: "clerk-hekou-1".into(),
        from_name: "河口1".into(),
        booth_name: "孤岛镇1号".into(),
        service: ServiceCode::new("teacher-cert".to_owned()),
    }
}

#[test]
fn a_clerk_invites_a_colleague_by_id_who_joins_and_leaves() {
    let (mut w, call) = World::in_a_call();
    let (first, second) = (w.clerk("clerk-hekou-1"), w.clerk("clerk-hekou-2"));
    let booth = BoothIdx(0);
    assert_eq!(w.dir.booth(booth).id, "booth-gudao-1");

    let effects = w.invite(10, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-2")).unwrap();
    let sent =
        ServerMessage::InvitationSent { call, clerk: "clerk-hekou-2".into(), clerk_name: "clerk-hekou-2".into() };
    assert_eq!(effects, vec![Effect::ToClerk(second, invitation(call)), Effect::ToClerk(first, sent)]);

    let effects = w.join(20, "clerk-hekou-2", call).unwrap();
    let joined = ServerMessage::PartyJoined {
        call,
        party: GUEST.into(),
        id: "clerk-hekou-2".into(),
        display_name: "clerk-hekou-2".into(),
    };
    let welcome = ServerMessage::CallJoined {
        call,
        booth_name: "孤岛镇1号".into(),
        clerk: "clerk-hekou-1".into(),
        clerk_name: "河口1".into(),
        ice_servers: ice_servers(),
    };
    assert_eq!(
        effects,
        vec![
            Effect::ToClerk(second, welcome),
            Effect::ToBooth(booth, joined.clone()),
            Effect::ToClerk(first, joined),
            Effect::RelayJoin { call: call.0, party: GUEST.into(), publish: true },
        ]
    );
    // The guest is offered nothing while it assists.
    assert_eq!(w.engine.clerk_state(second), ClerkState::Away(AwayReason::Assisting));
    assert_eq!((w.three_way.guest_of(call.0), w.three_way.guest_call(second)), (Some(second), Some(call.0)));
    // The invitation was used up.
    assert_eq!(w.three_way.snapshot(w.t0).invitations, vec![]);

    let left = ServerMessage::PartyLeft { call, party: GUEST.into(), id: "clerk-hekou-2".into() };
    assert_eq!(
        w.leave(call, true),
        vec![
            Effect::RelayLeave { call: call.0, party: GUEST.into() },
            Effect::ToBooth(booth, left.clone()),
            Effect::ToClerk(first, left),
            Effect::FollowUp(Input::ClerkSetAvailable { clerk: second }),
        ]
    );
    assert_eq!(w.three_way.guest_of(call.0), None);
    assert_eq!(w.leave(call, true), vec![], "once");
}

#[test]
fn by_service_item_the_desk_picks_a_free_colleague_of_the_same_hall_first() {
    let (mut w, call) = World::in_a_call();
    // 滨城1 has been available longest, but 河口3 is of the inviter's hall (河口区).
    let effects = w.invite(10, "clerk-hekou-1", call, Invitee::Service("teacher-cert")).unwrap();
    assert!(matches!(&effects[0], Effect::ToClerk(c, _) if *c == w.clerk("clerk-hekou-3")), "{effects:?}");
    // Invited, 河口3 is not picked again while its invitation holds: 河口2 is next.
    let effects = w.invite(11, "clerk-hekou-1", call, Invitee::Service("teacher-cert")).unwrap();
    assert!(matches!(&effects[0], Effect::ToClerk(c, _) if *c == w.clerk("clerk-hekou-2")), "{effects:?}");
    // Then the other hall's.
    let effects = w.invite(12, "clerk-hekou-1", call, Invitee::Service("teacher-cert")).unwrap();
    assert!(matches!(&effects[0], Effect::ToClerk(c, _) if *c == w.clerk("clerk-bincheng-1")), "{effects:?}");
    // Nobody free is left.
    assert_eq!(w.invite(13, "clerk-hekou-1", call, Invitee::Service("teacher-cert")), Err(ErrorCode::WrongState));
    // An expired invitation frees its clerk for the pick again.
    let later = 10 + INVITATION_TTL.as_secs();
    let effects = w.invite(later, "clerk-hekou-1", call, Invitee::Service("teacher-cert")).unwrap();
    assert!(matches!(&effects[0], Effect::ToClerk(c, _) if *c == w.clerk("clerk-hekou-3")), "{effects:?}");
}

#[test]
fn what_cannot_be_done_is_refused_and_changes_nothing() {
    let (mut w, call) = World::in_a_call();
    let before = w.three_way.clone();
    let refused = |w: &mut World, who: &str, call: CallId, invitee: Invitee<'_>| w.invite(10, who, call, invitee);
    assert_eq!(refused(&mut w, "clerk-hekou-2", call, Invitee::Clerk("clerk-hekou-3")), Err(ErrorCode::Forbidden));
    assert_eq!(
        refused(&mut w, "clerk-hekou-1", CallId(999), Invitee::Clerk("clerk-hekou-3")),
        Err(ErrorCode::NotFound)
    );
    assert_eq!(refused(&mut w, "clerk-hekou-1", call, Invitee::Clerk("nobody")), Err(ErrorCode::NotFound));
    assert_eq!(refused(&mut w, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-1")), Err(ErrorCode::WrongState));
    assert_eq!(refused(&mut w, "clerk-hekou-1", call, Invitee::Service("no-such")), Err(ErrorCode::UnknownService));
    // Not connected.
    let third = w.clerk("clerk-hekou-3");
    w.connected.remove(&third);
    assert_eq!(refused(&mut w, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-3")), Err(ErrorCode::WrongState));
    w.connected.insert(third);
    // Not through the relay: no three-way calls.
    w.relayed = false;
    assert_eq!(refused(&mut w, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-3")), Err(ErrorCode::WrongState));
    w.relayed = true;
    assert_eq!(w.three_way, before);

    // Joining uninvited, or after the invitation expired.
    assert_eq!(w.join(11, "clerk-hekou-3", call), Err(ErrorCode::Forbidden));
    w.invite(12, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-3")).unwrap();
    assert_eq!(w.join(12 + INVITATION_TTL.as_secs(), "clerk-hekou-3", call), Err(ErrorCode::Forbidden));
    // One guest per call: a second invitee may not join, nor be invited.
    w.invite(80, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-3")).unwrap();
    w.invite(80, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-2")).unwrap();
    w.join(81, "clerk-hekou-2", call).unwrap();
    assert_eq!(w.join(82, "clerk-hekou-3", call), Err(ErrorCode::WrongState));
    assert_eq!(w.invite(82, "clerk-hekou-1", call, Invitee::Clerk("clerk-bincheng-1")), Err(ErrorCode::WrongState));
}

#[test]
fn a_guest_taken_over_as_the_calls_clerk_is_a_guest_no_more() {
    let (mut w, call) = World::in_a_call();
    let second = w.clerk("clerk-hekou-2");
    w.invite(10, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-2")).unwrap();
    w.invite(10, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-3")).unwrap();
    w.join(11, "clerk-hekou-2", call).unwrap();
    assert!(w.three_way.taken_over(call.0, second), "it was the guest");
    assert_eq!(w.three_way.guest_of(call.0), None);
    // Someone else's invitation is untouched; taking over twice changes nothing.
    assert_eq!(w.three_way.snapshot(w.t0).invitations.len(), 1);
    assert!(!w.three_way.taken_over(call.0, second));
}

#[test]
fn the_snapshot_carries_the_guest_and_open_invitations() {
    let (mut w, call) = World::in_a_call();
    w.invite(10, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-2")).unwrap();
    w.invite(10, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-3")).unwrap();
    w.join(11, "clerk-hekou-2", call).unwrap();
    let snap = w.three_way.snapshot(w.t0);
    let until = (10 + INVITATION_TTL.as_secs()) * 1_000_000_000;
    assert_eq!(snap.guests, vec![(call.0, w.clerk("clerk-hekou-2").0)]);
    assert_eq!(snap.invitations, vec![(w.clerk("clerk-hekou-3").0, call.0, until)]);
    assert_eq!(ThreeWay::restore(w.t0, &snap), w.three_way);
}
