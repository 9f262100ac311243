//! The desk: decisions above the routing engine, made without I/O — what happened and the time
//! come in as arguments, what to do goes out as values; no socket, task, clock, database or log
//! inside. The server's driver feeds it and carries its answers out (sends, records, log lines),
//! and a replay or a standby can feed it the same way.
//!
//! Built so far: the supervisors' alerts ([`alerts`]) and each clerk's day ([`clerk_day`]).
//! The rest of what the driver decides (three-way calls, transfers, wrap-ups and cases, ratings,
//! outcomes kept for away booths) is still in the driver and moves here next.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod clerk_day;
