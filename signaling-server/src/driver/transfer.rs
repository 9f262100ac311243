//! Handing a citizen on (转接). `transfer_call` (relay mode): the call goes to another clerk —
//! the call's third party after an invitation (the warm transfer: all three have talked), or an
//! available clerk — and goes on with the same id, ticket and recording. The first clerk's part
//! ends into wrap-up and is a case of its own; the new clerk gets `call_started` and the relay a
//! fresh connection for the call's `clerk` party, whose streams the booth and the recording keep
//! receiving in the same tracks. `requeue_call`: the call ends and the ticket waits at the head of
//! another service item's queue.

use protocol::{CallId, ErrorCode, Peer, Role, ServerMessage, ServiceCode};
use routing::{BoothIdx, ClerkIdx, Input, ServiceIdx, TicketId};
use tracing::warn;

use super::Driver;
use crate::convert::reject_code;
use crate::media::CLERK;
use desk::three_way::GUEST;

impl Driver {
    pub(super) fn transfer_call(&mut self, clerk: ClerkIdx, call: CallId, to: &str) -> Result<(), ErrorCode> {
        if !self.shared.media.relayed() {
            // Peer to peer, the booth would have to build a new connection to the new clerk.
            return Err(ErrorCode::WrongState);
        }
        let to = self.shared.directory.clerk_idx(to).ok_or(ErrorCode::NotFound)?;
        // A clerk assisting another call than this one is busy there.
        if self.guest_call(to).is_some_and(|c| c != call.0) {
            return Err(ErrorCode::WrongState);
        }
        self.input(Input::TransferCall { call: routing::CallId(call.0), from: clerk, to }).map_err(reject_code)
    }

    pub(super) fn requeue_call(
        &mut self,
        clerk: ClerkIdx,
        call: CallId,
        service: &ServiceCode,
    ) -> Result<(), ErrorCode> {
        let service = self.shared.directory.service_idx(service.as_str()).ok_or(ErrorCode::UnknownService)?;
        self.input(Input::RequeueCall { call: routing::CallId(call.0), clerk, service }).map_err(reject_code)
    }

    /// The engine moved the call from `from` to `to`: tell everyone, move the media.
    pub(super) fn on_call_transferred(
        &mut self,
        call: routing::CallId,
        ticket: TicketId,
        booth: BoothIdx,
        service: ServiceIdx,
        from: ClerkIdx,
        to: ClerkIdx,
    ) {
        let dir = self.shared.directory.clone();
        // The first clerk's part is a case of its own (its wrap-up records it).
        self.open_case(call, ticket, booth, from, service, protocol::CallEndReason::Transferred);
        let ended = ServerMessage::CallEnded {
            call: CallId(call.0),
            ticket: protocol::TicketId(ticket.0),
            reason: protocol::CallEndReason::Transferred,
        };
        self.send_to_clerk(from, ended);
        let was_guest = self.three_way.taken_over(call.0, to);
        let (c, b) = (dir.clerk(to), dir.booth(booth));
        let transferred = ServerMessage::CallTransferred {
            call: CallId(call.0),
            ticket: protocol::TicketId(ticket.0),
            from: dir.clerk(from).id.clone(),
            peer: Peer { role: Role::Clerk, id: c.id.clone(), display_name: c.name.clone() },
        };
        self.send_to_booth(booth, transferred.clone());
        if let Some(guest) = self.three_way.guest_of(call.0) {
            self.send_to_clerk(guest, transferred);
        }
        if let Some(view) = self.engine.call(call) {
            self.tell_call_started(view, true, false);
        }
        if let Some(media) = self.media_calls.get_mut(&call.0) {
            media.clerks.push(to);
        }
        if let Some(relay) = self.live_relay() {
            // The call's `clerk` party is now `to`: a fresh connection replaces the first
            // clerk's, and what it publishes flows on in the tracks the booth already receives.
            // First, so that the new clerk's first offer is that fresh one (the guest's leaving
            // renegotiates the others next).
            if let Err(e) = relay.join(call.0, media_relay::JoinSpec { party: CLERK.into(), publish: true }) {
                warn!(call = call.0, booth = %b.id, error = %e, "the new clerk could not join the media room");
            }
            if was_guest {
                // Not a guest any more: its guest connection makes way for the call's.
                let _ = relay.leave(call.0, GUEST.into());
            }
        }
    }
}
