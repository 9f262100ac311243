//! The gateway: where clients come in. Its share of the server's state ([`edge`]); the WebSocket
//! sessions — hello, decoding, rate limits, heartbeats, handing messages to the engine host
//! ([`ws`]); the error shape every answer takes ([`api_error`]); the REST plumbing below the
//! server's resource handlers — `POST /api/login` ([`login`]), who is calling ([`caller`]), query strings, bodies, the error
//! rewriting, route timing and the staff reserve ([`rest`]); and the transport-level parts: the HTTP listener with its connection caps ([`serve`]), every
//! bound on clients and the descriptor limit ([`limits`]), login back-off ([`throttle`]), hashed
//! secrets and signed tokens ([`auth`]), and giving freed heap back to the OS after a burst
//! ([`memory`]).
//!
//! The only `unsafe` of the server is here, each a single libc call: `sysinfo` and
//! `getrlimit`/`setrlimit` (`limits.rs`), `malloc_trim` (`memory.rs`).

pub mod api_error;
pub mod auth;
pub mod caller;
pub mod edge;
pub mod limits;
pub mod login;
pub mod memory;
pub mod rest;
pub mod serve;
pub mod throttle;
pub mod ws;
