//! Xiaowu routing: the sans-IO engine that matches citizens' tickets with clerks.
//!
//! The [`Engine`] is a pure state machine in the style of str0m and firezone's relay:
//! feed it [`Input`]s with [`Engine::handle_input`] (each carrying the current time), drain
//! [`Action`]s with [`Engine::poll_action`], and call [`Engine::handle_timeout`] when the time from
//! [`Engine::poll_timeout`] has come (before an input too: `handle_input` fires no timers). It owns no socket, task, lock or clock, so every run is
//! deterministic and can be replayed from its inputs.
//!
//! The rules it implements (ARCHITECTURE.md has the full list):
//! - a ticket is eligible first for its booth's county hall, then city, province, partner cities;
//!   the pool widens after per-service thresholds, at once over steps with nobody signed in;
//! - order is priority class first, then age; a clerk takes the best eligible ticket across all
//!   its skills; a ticket goes to the eligible available clerk idle longest at the nearest step;
//! - one offer to one clerk at a time, with a timeout; two missed offers put the clerk away.
#![forbid(unsafe_code)]

mod audit;
mod clerk_index;
mod digest;
mod directory;
mod engine;
mod fxhash;
mod matching;
mod model;
mod tickets;
mod timers;
mod views;

pub use directory::{
    Booth, BoothIdx, Clerk, ClerkIdx, Directory, DirectoryBuilder, DirectoryError, Level, Region, RegionIdx, Service,
    ServiceIdx,
};
pub use engine::snapshot::{EngineSnapshot, SnapshotError};
pub use engine::{Engine, EngineConfig};
pub use fxhash::FxMap;
pub use model::{
    Action, AwayReason, CallEndReason, CallId, ClerkState, Input, OfferId, OfferRevokeReason, Party, Priority, Reject,
    RequeueCause, TicketEndReason, TicketId, TicketState, WidenCause,
};
pub use views::{CallView, LoadRow, TicketView};
