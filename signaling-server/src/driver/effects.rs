//! Carrying out what the desk decides: each [`Effect`] becomes a send (through the connection
//! registry, so an away booth's outcome is kept), a relay join or leave (only while routing live:
//! a replay or a standby leaves the relay's rooms to the live router), a `call_started` built with
//! this node's STUN/TURN servers, or an engine input queued behind the current work.

use desk::effect::Effect;
use desk::three_way::{Floor, ThreeWay};
use media_relay::JoinSpec;

use super::Driver;
use crate::state::Shared;

type ClerkConns = std::collections::HashMap<routing::ClerkIdx, super::ConnId>;

impl Driver {
    /// What the desk's three-way and transfer decisions read.
    pub(super) fn floor(&self) -> Floor<'_> {
        floor(&self.engine, &self.shared, &self.clerk_conn)
    }

    /// A desk decision that reads the floor and changes the three-way state (the fields are
    /// borrowed apart, so both fit in one call).
    pub(super) fn decide_three_way<R>(&mut self, decide: impl FnOnce(&Floor<'_>, &mut ThreeWay) -> R) -> R {
        decide(&floor(&self.engine, &self.shared, &self.clerk_conn), &mut self.three_way)
    }

    /// Carries out what the desk decided, in order. The relay is left alone while replaying or
    /// standing by (its rooms belong to the live router).
    pub(super) fn carry_out_effects(&mut self, effects: Vec<Effect>) {
        for effect in effects {
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
                Effect::CallStarted { call, to_clerk, to_booth } => {
                    if let Some(view) = self.engine.call(routing::CallId(call)) {
                        self.tell_call_started(view, to_clerk, to_booth);
                    }
                }
                Effect::FollowUp(input) => self.followups.push_back(input),
            }
        }
    }
}

fn floor<'a>(engine: &'a routing::Engine, shared: &'a Shared, clerk_conn: &'a ClerkConns) -> Floor<'a> {
    Floor { engine, directory: &shared.directory, relayed: shared.media.relayed(), connected: clerk_conn }
}
