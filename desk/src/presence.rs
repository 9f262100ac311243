//! Parties coming and going: a booth or a clerk connects (or comes back) and is told where things
//! stand; one whose connection went away is reported to the engine, which gives it its grace
//! period (a booth's offline alert starts counting; a guest leaves the call it was assisting).
//! What the engine does about it follows from the next drain.

use protocol::TicketNotice;
use routing::{BoothIdx, ClerkIdx, Input};

use crate::effect::Effect;
use crate::shown::{clerk_state_message, offer_message};
use crate::three_way::Connected;
use crate::turns::{Desk, Now};

impl Desk {
    /// A booth connected (or came back): it is told where its ticket stands (`resumed`) and, in a
    /// call, that call again. What the engine does about it is routed by the next drain.
    pub fn booth_connected(&mut self, booth: BoothIdx, now: Now) -> Vec<Effect> {
        let mut out = Vec::new();
        self.alerts.booth_up(booth);
        // Refused only once the engine is shut down: nothing to tell.
        let _ = self.input(Input::BoothConnected { booth }, now.at);
        if let Some(ticket) = self.engine.booth_ticket(booth) {
            self.shown.forget(ticket);
            self.push_status(ticket, Some(TicketNotice::Resumed), now.at, &mut out);
            if let Some(call) = self.engine.call_of_booth(booth) {
                out.push(Effect::CallStarted { call: call.call.0, to_clerk: false, to_booth: true, open_media: true });
            }
        }
        out
    }

    /// A clerk signed in (or came back). A sign-in that changed the clerk's state or offer (a
    /// first sign-in; a return within the grace that makes the clerk available, and maybe
    /// offered) announces it through the engine's actions, routed next: telling the clerk here
    /// too would show the same offer twice. One that changed nothing (back to a call, wrap-up or
    /// away; a second console) is told where things stand.
    pub fn clerk_connected(&mut self, clerk: ClerkIdx, now: Now) -> Vec<Effect> {
        let mut out = Vec::new();
        let before = (self.engine.clerk_state(clerk), self.engine.offer_of(clerk));
        let _ = self.input(Input::ClerkSignIn { clerk }, now.at);
        if (self.engine.clerk_state(clerk), self.engine.offer_of(clerk)) == before {
            out.push(Effect::ToClerk(clerk, clerk_state_message(&self.engine, clerk, now.at)));
            if let Some((offer, ticket)) = self.engine.offer_of(clerk) {
                if let Some(msg) = offer_message(&self.engine, &self.region_paths, offer, ticket, now.at) {
                    out.push(Effect::ToClerk(clerk, msg));
                }
            }
        }
        if let Some(call) = self.engine.call_of(clerk) {
            out.push(Effect::CallStarted { call: call.call.0, to_clerk: true, to_booth: false, open_media: true });
        }
        out
    }

    /// The booth's connection went away: the engine gives it its grace period (routed by the next
    /// drain) and its offline time starts for the alerts.
    pub fn booth_disconnected(&mut self, booth: BoothIdx, now: Now) {
        self.alerts.booth_down(booth, now.at);
        // Refused only once the engine is shut down: nothing to do.
        let _ = self.input(Input::BoothDisconnected { booth }, now.at);
    }

    /// The clerk's connection went away: a guest leaves the call it was assisting (not available
    /// again: it is not there), and the clerk has its grace period to come back to its call.
    /// `connected`: the clerks with a connection, this one no longer among them.
    pub fn clerk_disconnected(&mut self, clerk: ClerkIdx, now: Now, connected: &dyn Connected) -> Vec<Effect> {
        let mut out = Vec::new();
        if let Some(call) = self.three_way.guest_call(clerk) {
            out = self.decide_three_way(connected, |floor, three_way| three_way.leave(floor, call, false));
        }
        // Not a sign-out yet. Refused only once the engine is shut down: nothing to do.
        let _ = self.input(Input::ClerkDisconnected { clerk }, now.at);
        self.absorb(out)
    }
}
