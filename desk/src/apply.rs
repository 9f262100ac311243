//! The desk's one entry point for the shell: [`Desk::apply`] takes one [`Event`] — a client's
//! message, a party connecting or going away, time passing, or an input for the engine itself —
//! at its time, and returns everything it caused as effects, in order (the event's own decisions,
//! then what the engine did, drained). A live shell carries the effects out; a replay or a standby
//! feeds the same events at the same times and drops them.

use protocol::{ClientMessage, ErrorCode};

use crate::effect::Effect;
use crate::messages::Principal;
use crate::three_way::Connected;
use crate::turns::{Desk, Now};

/// Something that happened, for the desk.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A client's message.
    Message { who: Principal, msg: &'a ClientMessage },
    /// A booth or clerk connected, or came back (a supervisor's connection is the shell's alone).
    Connected(Principal),
    /// A booth's or clerk's connection went away.
    Disconnected(Principal),
    /// Time passed: the engine's timers due by now (and the paced status refresh).
    Timeout,
    /// An input for the engine that no client sends (shutdown, a relay's lost media).
    Input(&'a routing::Input),
}

/// What an event led to: the effects to carry out, in order, and for a refused message the code
/// to answer with (it changed nothing; what the engine's timers did before it is among the
/// effects).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Applied {
    pub effects: Vec<Effect>,
    pub refused: Option<ErrorCode>,
}

impl Desk {
    /// Applies one event at `now` and drains what it caused (see the module summary). `connected`:
    /// the clerks with a connection (after this event: a clerk who just went away is not among
    /// them).
    pub fn apply(&mut self, event: Event<'_>, now: Now, connected: &dyn Connected) -> Applied {
        let mut applied = Applied::default();
        match event {
            Event::Message { who, msg } => match self.on_message(who, msg, now, connected) {
                Ok(effects) => applied.effects = effects,
                Err(code) => applied.refused = Some(code),
            },
            Event::Connected(Principal::Booth(booth)) => applied.effects = self.booth_connected(booth, now),
            Event::Connected(Principal::Clerk(clerk)) => applied.effects = self.clerk_connected(clerk, now),
            Event::Disconnected(Principal::Booth(booth)) => self.booth_disconnected(booth, now),
            Event::Disconnected(Principal::Clerk(clerk)) => {
                applied.effects = self.clerk_disconnected(clerk, now, connected);
            }
            Event::Connected(Principal::Supervisor(_)) | Event::Disconnected(Principal::Supervisor(_)) => {}
            Event::Timeout => self.timeout(now.at),
            Event::Input(input) => {
                // Refused only once the state moved on (the engine shut down): nothing to do.
                let _ = self.input(input.clone(), now.at);
            }
        }
        applied.effects.extend(self.drain(now, connected));
        applied
    }
}
