//! Scenario tests of transfers in virtual time, asserting the exact effects: a warm transfer to
//! the call's guest, a cold one to an available clerk, and what is refused before the engine.

mod common;

use common::call::World;
use desk::effect::Effect;
use desk::three_way::{Invitee, GUEST};
use desk::transfer::{self, CLERK};
use protocol::{CallEndReason, ErrorCode, Peer, Role, ServerMessage};
use routing::{Action, BoothIdx, CallId, ClerkIdx, Input, TicketId};

/// Applies the transfer as the shell does: the desk's check, the engine's input, then the desk's
/// decision on the engine's `CallTransferred`.
fn transfer(w: &mut World, secs: u64, call: protocol::CallId, from: &str, to: &str) -> Result<Vec<Effect>, ErrorCode> {
    let from = w.clerk(from);
    let to = transfer::check(&w.floor(), &w.three_way, call.0, to)?;
    let actions = w.input(secs, Input::TransferCall { call: CallId(call.0), from, to });
    let (ticket, booth) = actions
        .iter()
        .find_map(|a| match a {
            Action::CallTransferred { ticket, booth, .. } => Some((*ticket, *booth)),
            _ => None,
        })
        .expect("the engine moved the call");
    let mut three_way = std::mem::take(&mut w.three_way);
    let effects = transfer::transferred(&w.floor(), &mut three_way, CallId(call.0), ticket, booth, from, to);
    w.three_way = three_way;
    Ok(effects)
}

fn moved(call: protocol::CallId, to: &str, to_name: &str) -> ServerMessage {
    ServerMessage::CallTransferred {
        call,
        ticket: protocol::TicketId(1),
        from: "clerk-hekou-1".into(),
        peer: Peer { role: Role::Clerk, id: to.into(), display_name: to_name.into() },
    }
}

#[test]
fn a_warm_transfer_hands_the_call_to_its_guest() {
    let (mut w, call) = World::in_a_call();
    let (first, second) = (w.clerk("clerk-hekou-1"), w.clerk("clerk-hekou-2"));
    w.invite(10, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-2")).unwrap();
    w.join(11, "clerk-hekou-2", call).unwrap();

    let effects = transfer(&mut w, 20, call, "clerk-hekou-1", "clerk-hekou-2").unwrap();
    let ended = ServerMessage::CallEnded { call, ticket: protocol::TicketId(1), reason: CallEndReason::Transferred };
    assert_eq!(
        effects,
        vec![
            Effect::ToClerk(first, ended),
            Effect::ToBooth(BoothIdx(0), moved(call, "clerk-hekou-2", "clerk-hekou-2")),
            Effect::CallStarted { call: call.0, to_clerk: true, to_booth: false, open_media: false },
            Effect::RelayJoin { call: call.0, party: CLERK.into(), publish: true },
            Effect::RelayLeave { call: call.0, party: GUEST.into() },
        ]
    );
    // The guest is the call's clerk now, a guest no more; the call and ticket are the same.
    assert_eq!(w.three_way.guest_of(call.0), None);
    let view = w.engine.call(CallId(call.0)).unwrap();
    assert_eq!((view.clerk, view.ticket, view.handovers), (second, TicketId(1), 1));
}

#[test]
fn a_cold_transfer_to_an_available_clerk_keeps_the_guest_informed() {
    let (mut w, call) = World::in_a_call();
    let (first, guest, third) = (w.clerk("clerk-hekou-1"), w.clerk("clerk-hekou-2"), w.clerk("clerk-hekou-3"));
    w.invite(10, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-2")).unwrap();
    w.join(11, "clerk-hekou-2", call).unwrap();

    let effects = transfer(&mut w, 20, call, "clerk-hekou-1", "clerk-hekou-3").unwrap();
    let ended = ServerMessage::CallEnded { call, ticket: protocol::TicketId(1), reason: CallEndReason::Transferred };
    let moved = moved(call, "clerk-hekou-3", "clerk-hekou-3");
    assert_eq!(
        effects,
        vec![
            Effect::ToClerk(first, ended),
            Effect::ToBooth(BoothIdx(0), moved.clone()),
            Effect::ToClerk(guest, moved),
            Effect::CallStarted { call: call.0, to_clerk: true, to_booth: false, open_media: false },
            Effect::RelayJoin { call: call.0, party: CLERK.into(), publish: true },
        ]
    );
    assert_eq!(w.three_way.guest_of(call.0), Some(guest), "the guest stays");
    assert_eq!(w.engine.call(CallId(call.0)).unwrap().clerk, third);
}

#[test]
fn a_transfer_that_cannot_be_done_is_refused_before_the_engine() {
    let (mut w, call) = World::in_a_call();
    assert_eq!(transfer::check(&w.floor(), &w.three_way, call.0, "nobody"), Err(ErrorCode::NotFound));
    // A clerk assisting another call is busy there.
    w.invite(10, "clerk-hekou-1", call, Invitee::Clerk("clerk-hekou-2")).unwrap();
    w.join(11, "clerk-hekou-2", call).unwrap();
    assert_eq!(transfer::check(&w.floor(), &w.three_way, call.0 + 1, "clerk-hekou-2"), Err(ErrorCode::WrongState));
    assert_eq!(transfer::check(&w.floor(), &w.three_way, call.0, "clerk-hekou-2"), Ok(ClerkIdx(1)));
    // Peer to peer there is no transfer.
    w.relayed = false;
    assert_eq!(transfer::check(&w.floor(), &w.three_way, call.0, "clerk-hekou-3"), Err(ErrorCode::WrongState));
}
