//! The desk: decisions above the routing engine, made without I/O — what happened and the time
//! come in as arguments, what to do goes out as values; no socket, task, clock, database or log
//! inside. The server's driver feeds it and carries its answers out (sends, records, log lines),
//! and a replay or a standby can feed it the same way.
//!
//! Built so far: the supervisors' alerts ([`alerts`]), outcomes kept for away booths
//! ([`booth_outcomes`]), case records and ratings ([`cases`]), each clerk's day ([`clerk_day`])
//! where each clerk's signed-in time goes ([`clerk_time`]), three-way calls ([`three_way`]) and
//! transfers ([`transfer`]), whose decisions come back as [`effect::Effect`]s. The rest of what
//! the driver decides (the engine's actions turned into messages, the per-ticket event log) is
//! still in the driver and moves here next.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod booth_outcomes;
pub mod cases;
pub mod clerk_day;
pub mod clerk_time;
pub mod effect;
pub mod three_way;
pub mod transfer;
