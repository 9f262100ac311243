//! What the desk asks the shell to do. The desk decides; the shell carries each effect out (or,
//! replaying a log or standing by, drops the ones that reach the world).

use protocol::ServerMessage;
use routing::{BoothIdx, ClerkIdx};

use crate::cases::Write;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A message for the clerk's connection, if it has one.
    ToClerk(ClerkIdx, ServerMessage),
    /// A message for the booth's connection (an outcome for an away booth is kept for it).
    ToBooth(BoothIdx, ServerMessage),
    /// The party joins the call's media room on the relay (`publish`: its media goes to the others).
    RelayJoin { call: u64, party: String, publish: bool },
    /// An answer or ICE candidate (`signal`, checked) for the relay, from `party` of the call.
    ToRelay { call: u64, party: String, signal: protocol::ClientMessage },
    /// The party leaves the call's media room.
    RelayLeave { call: u64, party: String },
    /// Tell the call's parties (the clerk, the booth or both) that their call started: the shell
    /// builds the `call_started` messages, with the STUN/TURN servers and credentials it holds.
    /// With `open_media`, the relay then opens the call's media room for them (or lets a party
    /// that came back rejoin it); without, the media is the caller's own effects.
    CallStarted { call: u64, to_clerk: bool, to_booth: bool, open_media: bool },
    /// The call ended: its media room closes and its silent monitors end.
    CallEnded { call: u64 },
    /// A record to commit, and the message that follows its commit (never before).
    Write(Box<Write>),
    /// The queue load changed: the supervisors' feed is due.
    LoadChanged,
    /// An action the engine took, before the effects it leads to: for the shell's log lines and
    /// trace.
    Noted(routing::Action),
    /// An input for the routing engine, applied once the engine's current work is drained (it may
    /// follow from an action the engine is still routing).
    FollowUp(routing::Input),
}
