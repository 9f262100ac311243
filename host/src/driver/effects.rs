//! Carrying out what the desk decides, in order: each [`Effect`] becomes a send (through the
//! connection registry, so an away booth's outcome is kept), a `call_started` built with this
//! node's STUN/TURN servers, a relay join, leave, open or close (only while routing live: a replay
//! or a standby leaves the relay's rooms to the live router), a party's answer or candidate for
//! the relay, a record for the records writer (its answer sent once it is committed), a note for
//! the event log, or an input for the desk's next drain.

use desk::effect::Effect;
use media_relay::JoinSpec;

use super::Driver;

impl Driver {
    pub(super) fn carry_out_effects(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            self.carry_out_effect(effect);
        }
    }

    pub(super) fn carry_out_effect(&mut self, effect: Effect) {
        match effect {
            Effect::ToClerk(clerk, msg) => self.send_to_clerk(clerk, msg),
            Effect::ToBooth(booth, msg) => self.send_to_booth(booth, msg),
            Effect::RelayJoin { call, party, publish } => {
                if let Some(relay) = self.live_relay() {
                    if let Err(e) = relay.join(call, JoinSpec { party: party.clone(), publish }) {
                        tracing::warn!(call, party, error = %e, "a party could not join the media room");
                    }
                }
            }
            Effect::RelayLeave { call, party } => {
                if let Some(relay) = self.live_relay() {
                    let _ = relay.leave(call, party);
                }
            }
            Effect::CallStarted { call, to_clerk, to_booth, open_media } => {
                if let Some(view) = self.desk.engine().call(routing::CallId(call)) {
                    self.tell_call_started(view, to_clerk, to_booth);
                    // After the parties were told, so the relay's first offer follows `call_started`.
                    if open_media {
                        self.relay_call_started(&view, to_clerk, to_booth);
                    }
                }
            }
            Effect::CallEnded { call } => {
                self.relay_call_ended(routing::CallId(call));
                self.monitors_end(call);
            }
            Effect::ToRelay { call, party, signal } => {
                if let Err(code) = self.forward_to_relay(call, &party, &signal) {
                    tracing::debug!(call, party, ?code, "a signal the relay did not take");
                }
            }
            Effect::Write(write) => self.carry_out_write(*write),
            Effect::LoadChanged => self.load_dirty = true,
            Effect::Noted(action) => self.note_action(&action),
            Effect::FollowUp(input) => self.desk.follow_up(input),
        }
    }
}
