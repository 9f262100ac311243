//! The desk: decisions above the routing engine, made without I/O — what happened and the time
//! come in as arguments, what to do goes out as values; no socket, task, clock, database or log
//! inside. The server's driver feeds it and carries its answers out (sends, records, log lines),
//! and a replay or a standby can feed it the same way.
//!
//! [`Desk`] owns the routing engine. The shell feeds it one [`Event`] at a time through
//! [`Desk::apply`] ([`apply`]) — a client's message ([`messages`]), a party's coming or going
//! ([`presence`]), time passing or an input — and gets back the effects of everything it caused,
//! the engine's actions drained ([`turns`]). Beside it: the supervisors' alerts
//! ([`alerts`]), outcomes kept for away booths ([`booth_outcomes`]), case records and ratings
//! ([`cases`]), each clerk's day ([`clerk_day`]), where each clerk's signed-in time goes
//! ([`clerk_time`]), three-way calls ([`three_way`]) and transfers ([`transfer`]), each ticket's event log and
//! facts ([`ticket_log`]), whose decisions
//! come back as [`effect::Effect`]s; what booths and clerks are shown ([`shown`]) and what
//! supervisors' screens list of the floor ([`supervisor_lists`]) and how often
//! waiting citizens' positions are refreshed ([`status_pace`]); the wire's words
//! for the engine's ([`convert`]), ids ([`ids`]), and signaling payloads checked ([`signal`]), and the staff configuration the decisions read
//! ([`staff`]).
#![forbid(unsafe_code)]

pub mod alerts;
pub mod apply;
pub mod booth_outcomes;
pub mod cases;
pub mod clerk_day;
pub mod clerk_time;
pub mod convert;
pub mod effect;
pub mod ids;
pub mod messages;
pub mod presence;
pub mod shown;
pub mod signal;
pub mod staff;
pub mod status_pace;
pub mod supervisor_lists;
pub mod three_way;
pub mod ticket_log;
pub mod transfer;
pub mod turns;

pub use apply::{Applied, Event};
pub use messages::Principal;
pub use turns::{Desk, Now};
