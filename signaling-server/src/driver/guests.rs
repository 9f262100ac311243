//! Three-way calls (三方通话, relay mode): the clerk of a call invites another clerk, who joins as
//! the call's guest — seen and heard by the booth and the clerk, seeing and hearing both. While
//! it assists, the guest is `away` with reason `assisting` in the routing engine, so it is never
//! offered a ticket; leaving the call (or the call ending) makes it available again. One guest per
//! call. The relay names it `guest`; the parties are told who it is (`party_joined`).
//!
//! What changes routing state here (the guest's `away`/`available`, who is a guest) depends only on
//! logged inputs and the configuration, so a replay of the log rebuilds it; only the relay calls
//! are skipped then. A driver snapshot carries the guests and open invitations.

use std::time::Duration;

use media_relay::JoinSpec;
use protocol::{CallId, ClientMessage, ErrorCode, ServerMessage};
use routing::{ClerkIdx, Input};
use tracing::info;

use super::{Driver, Principal};

/// The relay's name for a call's guest.
pub(super) const GUEST: &str = "guest";
/// How long an invitation can be taken up.
const INVITATION_TTL: Duration = Duration::from_secs(60);

impl Driver {
    pub(super) fn invite(&mut self, inviter: ClerkIdx, call: CallId, clerk: &str) -> Result<(), ErrorCode> {
        if !self.shared.media.relayed() {
            return Err(ErrorCode::WrongState);
        }
        let view = self.engine.call(routing::CallId(call.0)).ok_or(ErrorCode::NotFound)?;
        if view.clerk != inviter {
            return Err(ErrorCode::Forbidden);
        }
        let dir = self.shared.directory.clone();
        let invited = dir.clerk_idx(clerk).ok_or(ErrorCode::NotFound)?;
        let free =
            matches!(self.engine.clerk_state(invited), routing::ClerkState::Available | routing::ClerkState::Away(_));
        if invited == inviter || !self.clerk_conn.contains_key(&invited) || !free || self.guests.contains_key(&call.0) {
            return Err(ErrorCode::WrongState);
        }
        self.invitations.insert(invited, (call.0, self.now + INVITATION_TTL));
        let (from, booth) = (dir.clerk(inviter), dir.booth(view.booth));
        info!(call = call.0, from = %from.id, to = %clerk, "invited to a call");
        let msg = ServerMessage::CallInvitation {
            call,
            from: from.id.clone(),
            from_name: from.name.clone(),
            booth_name: booth.name.clone(),
            service: protocol::ServiceCode::new(dir.service(view.service).code.clone()),
        };
        self.send_to_clerk(invited, msg);
        Ok(())
    }

    pub(super) fn join_call(&mut self, clerk: ClerkIdx, call: CallId) -> Result<(), ErrorCode> {
        if !self.shared.media.relayed() {
            return Err(ErrorCode::WrongState);
        }
        match self.invitations.get(&clerk) {
            Some((c, until)) if *c == call.0 && self.now < *until => {}
            _ => return Err(ErrorCode::Forbidden),
        }
        let view = self.engine.call(routing::CallId(call.0)).ok_or(ErrorCode::NotFound)?;
        if self.guests.contains_key(&call.0) {
            return Err(ErrorCode::WrongState);
        }
        // Not offered anything while assisting.
        self.input(Input::ClerkSetAway { clerk, reason: routing::AwayReason::Assisting })
            .map_err(|_| ErrorCode::WrongState)?;
        self.invitations.remove(&clerk);
        self.guests.insert(call.0, clerk);
        let dir = self.shared.directory.clone();
        let guest = dir.clerk(clerk);
        info!(call = call.0, guest = %guest.id, "a guest joined the call");
        self.send_to_clerk(
            clerk,
            ServerMessage::CallJoined {
                call,
                booth_name: dir.booth(view.booth).name.clone(),
                clerk: dir.clerk(view.clerk).id.clone(),
                clerk_name: dir.clerk(view.clerk).name.clone(),
                ice_servers: self.shared.ice_servers.clone(),
            },
        );
        let joined = ServerMessage::PartyJoined {
            call,
            party: GUEST.into(),
            id: guest.id.clone(),
            display_name: guest.name.clone(),
        };
        self.send_to_booth(view.booth, joined.clone());
        self.send_to_clerk(view.clerk, joined);
        if let Some(relay) = self.live_relay() {
            if let Err(e) = relay.join(call.0, JoinSpec { party: GUEST.into(), publish: true }) {
                tracing::warn!(call = call.0, error = %e, "the guest could not join the media room");
            }
        }
        Ok(())
    }

    /// The guest leaves (asked to, or its connection or the call went away); it is available again.
    pub(super) fn leave_call(&mut self, call: u64, available: bool) {
        let Some(guest) = self.guests.remove(&call) else { return };
        if let Some(relay) = self.live_relay() {
            let _ = relay.leave(call, GUEST.into());
        }
        let dir = self.shared.directory.clone();
        if let Some(view) = self.engine.call(routing::CallId(call)) {
            let left =
                ServerMessage::PartyLeft { call: CallId(call), party: GUEST.into(), id: dir.clerk(guest).id.clone() };
            self.send_to_booth(view.booth, left.clone());
            self.send_to_clerk(view.clerk, left);
        }
        if available {
            let _ = self.input(Input::ClerkSetAvailable { clerk: guest });
        }
    }

    /// The call the clerk is a guest of.
    pub(super) fn guest_call(&self, clerk: ClerkIdx) -> Option<u64> {
        self.guests.iter().find(|(_, g)| **g == clerk).map(|(call, _)| *call)
    }

    /// A guest's answer or candidate, for the relay.
    pub(super) fn guest_signal(&mut self, clerk: ClerkIdx, msg: &ClientMessage) -> Result<(), ErrorCode> {
        let call = crate::relay::call_of(msg).expect("only sdp and ice_candidate reach here");
        if self.guests.get(&call.0) != Some(&clerk) {
            return Err(ErrorCode::Forbidden);
        }
        self.forward_to_relay(call.0, GUEST, msg)
    }

    /// Whether `who` is the guest of a live call (its `set_state` waits until it leaves).
    pub(super) fn is_guest(&self, who: Principal) -> bool {
        matches!(who, Principal::Clerk(c) if self.guest_call(c).is_some())
    }
}
