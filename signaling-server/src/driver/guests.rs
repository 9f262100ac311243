//! The driver's side of three-way calls (三方通话, relay mode): it feeds `invite_to_call`,
//! `join_call`, `leave_call` and the guest's signaling to the desk's [`desk::three_way`] and
//! carries out the effects it decides. Joining applies the guest's `away` (reason `assisting`) to
//! the routing engine between the desk's check and its decision, since the engine may refuse it.
//!
//! What changes routing state here (the guest's `away`/`available`, who is a guest) depends only on
//! logged inputs and the configuration, so a replay of the log rebuilds it; only the relay calls
//! are skipped then. A driver snapshot carries the guests and open invitations.

use desk::effect::Effect;
use desk::three_way::Invitee;
use protocol::{CallId, ClientMessage, ErrorCode};
use routing::{ClerkIdx, Input};
use tracing::info;

use super::{Driver, Principal};

impl Driver {
    /// Invites a clerk into the inviter's call (see [`desk::three_way::ThreeWay::invite`]).
    pub(super) fn invite(&mut self, inviter: ClerkIdx, call: CallId, invitee: Invitee<'_>) -> Result<(), ErrorCode> {
        let now = self.now;
        let effects = self.decide_three_way(|floor, three_way| three_way.invite(floor, inviter, call, invitee, now))?;
        if let Some(Effect::ToClerk(invited, _)) = effects.first() {
            let dir = &self.shared.directory;
            info!(call = call.0, from = %dir.clerk(inviter).id, to = %dir.clerk(*invited).id, "invited to a call");
        }
        self.carry_out_effects(effects);
        Ok(())
    }

    pub(super) fn join_call(&mut self, clerk: ClerkIdx, call: CallId) -> Result<(), ErrorCode> {
        self.desk.three_way.may_join(&self.floor(), clerk, call, self.now)?;
        // Not offered anything while assisting.
        self.input(Input::ClerkSetAway { clerk, reason: routing::AwayReason::Assisting })
            .map_err(|_| ErrorCode::WrongState)?;
        let ice_servers = self.shared.ice_servers.clone();
        let effects = self.decide_three_way(|floor, three_way| three_way.joined(floor, clerk, call, &ice_servers));
        info!(call = call.0, guest = %self.shared.directory.clerk(clerk).id, "a guest joined the call");
        self.carry_out_effects(effects);
        Ok(())
    }

    /// The guest leaves (asked to, or its connection or the call went away); with `available` it
    /// is available again once the engine's current work is drained (see `Driver::route_all`).
    pub(super) fn leave_call(&mut self, call: u64, available: bool) {
        let effects = self.decide_three_way(|floor, three_way| three_way.leave(floor, call, available));
        self.carry_out_effects(effects);
    }

    /// The call the clerk is a guest of.
    pub(super) fn guest_call(&self, clerk: ClerkIdx) -> Option<u64> {
        self.desk.three_way.guest_call(clerk)
    }

    /// A guest's answer or candidate, for the relay.
    pub(super) fn guest_signal(&mut self, clerk: ClerkIdx, msg: &ClientMessage) -> Result<(), ErrorCode> {
        let call = crate::relay::call_of(msg).expect("only sdp and ice_candidate reach here");
        if self.desk.three_way.guest_of(call.0) != Some(clerk) {
            return Err(ErrorCode::Forbidden);
        }
        self.forward_to_relay(call.0, desk::three_way::GUEST, msg)
    }

    /// Whether `who` is the guest of a live call (its `set_state` waits until it leaves).
    pub(super) fn is_guest(&self, who: Principal) -> bool {
        matches!(who, Principal::Clerk(c) if self.guest_call(c).is_some())
    }
}
