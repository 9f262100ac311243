//! Three-way calls (三方通话, relay mode): the clerk of a call invites another clerk — by id, or
//! the one [`Driver::invite`] picks for a service item (a colleague who handles it, a helper of
//! `assist`) — who joins as the call's guest — seen and heard by the booth and the clerk, seeing and hearing both. While
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

/// Whom an invitation is for.
pub(super) enum Invitee<'a> {
    /// The clerk with this id.
    Clerk(&'a str),
    /// A clerk who handles this service item (its code), picked by the server.
    Service(&'a str),
}

impl Driver {
    /// Invites a clerk into the inviter's call. By service item, the pick is a clerk with that
    /// skill who is signed in, `available` and not invited elsewhere — from the inviter's own hall
    /// if one is, else from any hall — the one available longest. The inviter is told whom
    /// (`invitation_sent`).
    pub(super) fn invite(&mut self, inviter: ClerkIdx, call: CallId, invitee: Invitee<'_>) -> Result<(), ErrorCode> {
        if !self.shared.media.relayed() {
            return Err(ErrorCode::WrongState);
        }
        let view = self.engine.call(routing::CallId(call.0)).ok_or(ErrorCode::NotFound)?;
        if view.clerk != inviter {
            return Err(ErrorCode::Forbidden);
        }
        let dir = self.shared.directory.clone();
        let invited = match invitee {
            Invitee::Clerk(id) => dir.clerk_idx(id).ok_or(ErrorCode::NotFound)?,
            Invitee::Service(code) => {
                let service = dir.service_idx(code).ok_or(ErrorCode::UnknownService)?;
                self.free_clerk_for(service, inviter).ok_or(ErrorCode::WrongState)?
            }
        };
        let free =
            matches!(self.engine.clerk_state(invited), routing::ClerkState::Available | routing::ClerkState::Away(_));
        if invited == inviter || !self.clerk_conn.contains_key(&invited) || !free || self.guests.contains_key(&call.0) {
            return Err(ErrorCode::WrongState);
        }
        self.invitations.insert(invited, (call.0, self.now + INVITATION_TTL));
        let (from, booth, to) = (dir.clerk(inviter), dir.booth(view.booth), dir.clerk(invited));
        info!(call = call.0, from = %from.id, to = %to.id, "invited to a call");
        let msg = ServerMessage::CallInvitation {
            call,
            from: from.id.clone(),
            from_name: from.name.clone(),
            booth_name: booth.name.clone(),
            service: protocol::ServiceCode::new(dir.service(view.service).code.clone()),
        };
        self.send_to_clerk(invited, msg);
        self.send_to_clerk(
            inviter,
            ServerMessage::InvitationSent { call, clerk: to.id.clone(), clerk_name: to.name.clone() },
        );
        Ok(())
    }

    /// The clerk to invite for `service`: see [`Driver::invite`].
    fn free_clerk_for(&self, service: routing::ServiceIdx, inviter: ClerkIdx) -> Option<ClerkIdx> {
        let dir = &self.shared.directory;
        let home = dir.clerk(inviter).hall;
        let invited_elsewhere = |c: &ClerkIdx| self.invitations.get(c).is_some_and(|(_, until)| self.now < *until);
        (0..dir.clerks.len())
            .map(|i| ClerkIdx(i as u32))
            .filter(|c| *c != inviter && dir.clerk(*c).skills.contains(&service))
            .filter(|c| self.clerk_conn.contains_key(c) && !invited_elsewhere(c))
            .filter(|c| self.engine.clerk_state(*c) == routing::ClerkState::Available)
            .min_by_key(|c| (dir.clerk(*c).hall != home, self.engine.clerk_state_since(*c)))
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
            // Applied after the engine's queue is drained (this may run while routing a call's
            // end): see `Driver::route_all`.
            self.followups.push_back(Input::ClerkSetAvailable { clerk: guest });
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
