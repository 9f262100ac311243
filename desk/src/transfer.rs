//! Handing a citizen on (转接, relay mode): the call goes to another clerk — the call's guest
//! after an invitation (the warm transfer: all three have talked), or an available clerk — and
//! goes on with the same id, ticket and recording. The routing engine moves the call
//! (`TransferCall`); this module checks the request before it and decides what follows: the first
//! clerk's part ends (`call_ended`, `transferred`; its case is written by [`crate::cases`]), the
//! booth and a guest who stays learn who took over (`call_transferred`), the new clerk is told its
//! call started, and the relay gives the call's `clerk` party a fresh connection (a guest who took
//! over leaves its guest connection).

use protocol::{CallEndReason, ErrorCode, Peer, Role, ServerMessage};
use routing::{BoothIdx, CallId, ClerkIdx, TicketId};

use crate::effect::Effect;
use crate::three_way::{Floor, ThreeWay, GUEST};

/// The relay's name for the call's clerk.
pub const CLERK: &str = "clerk";

/// Checks a transfer request before the engine sees it: only through the relay (peer to peer, the
/// booth would have to build a new connection), to a clerk who exists (`not_found`) and is not
/// assisting another call (`wrong_state`). Returns the clerk to hand the call to.
pub fn check(floor: &Floor<'_>, three_way: &ThreeWay, call: u64, to: &str) -> Result<ClerkIdx, ErrorCode> {
    if !floor.relayed {
        return Err(ErrorCode::WrongState);
    }
    let to = floor.directory.clerk_idx(to).ok_or(ErrorCode::NotFound)?;
    if three_way.guest_call(to).is_some_and(|c| c != call) {
        return Err(ErrorCode::WrongState);
    }
    Ok(to)
}

/// The engine moved `call` from `from` to `to`: what everyone is told and what the relay does.
pub fn transferred(
    floor: &Floor<'_>,
    three_way: &mut ThreeWay,
    call: CallId,
    ticket: TicketId,
    booth: BoothIdx,
    from: ClerkIdx,
    to: ClerkIdx,
) -> Vec<Effect> {
    let dir = floor.directory;
    let (wire_call, wire_ticket) = (protocol::CallId(call.0), protocol::TicketId(ticket.0));
    let ended = ServerMessage::CallEnded { call: wire_call, ticket: wire_ticket, reason: CallEndReason::Transferred };
    let mut effects = vec![Effect::ToClerk(from, ended)];
    let was_guest = three_way.taken_over(call.0, to);
    let new_clerk = dir.clerk(to);
    let moved = ServerMessage::CallTransferred {
        call: wire_call,
        ticket: wire_ticket,
        from: dir.clerk(from).id.clone(),
        peer: Peer { role: Role::Clerk, id: new_clerk.id.clone(), display_name: new_clerk.name.clone() },
    };
    effects.push(Effect::ToBooth(booth, moved.clone()));
    if let Some(guest) = three_way.guest_of(call.0) {
        effects.push(Effect::ToClerk(guest, moved));
    }
    effects.push(Effect::CallStarted { call: call.0, to_clerk: true, to_booth: false, open_media: false });
    // The call's `clerk` party is now `to`: a fresh connection replaces the first clerk's, and
    // what it publishes flows on in the tracks the booth already receives. First, so that the new
    // clerk's first offer is that fresh one (the guest's leaving renegotiates the others next).
    effects.push(Effect::RelayJoin { call: call.0, party: CLERK.into(), publish: true });
    if was_guest {
        // Not a guest any more: its guest connection makes way for the call's.
        effects.push(Effect::RelayLeave { call: call.0, party: GUEST.into() });
    }
    effects
}
