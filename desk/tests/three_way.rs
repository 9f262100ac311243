//! Scenario tests of three-way calls in virtual time, asserting the exact effects: an invitation
//! by id and by service item, joining, leaving, the invitee's state, and what is refused.

mod common;

use common::call::{ice_servers, World};
use desk::effect::Effect;
use desk::three_way::{Invitee, ThreeWay, GUEST, INVITATION_TTL};
use protocol::{CallId, ErrorCode, ServerMessage, ServiceCode};
use routing::{AwayReason, BoothIdx, ClerkState, Input};

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
