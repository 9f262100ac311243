//! The gateway: where clients come in. Its share of the server's state ([`edge`]) and the state
//! every handler is given ([`state`]); the WebSocket sessions — hello, decoding, rate limits,
//! heartbeats, handing messages to the engine host ([`ws`]); every REST endpoint, one module per
//! resource, with the pages and their assets ([`http`]), `POST /api/login` ([`login`]), who is
//! calling ([`caller`]) and the plumbing below them — query strings, bodies, the error rewriting,
//! route timing, the staff reserve ([`rest`]) — and the one error shape ([`api_error`]); staffing
//! advice ([`staffing`]); and the transport-level parts: the HTTP listener with its connection
//! caps ([`serve`]), every bound on clients and the descriptor limit ([`limits`]), login back-off
//! ([`throttle`]), hashed secrets and signed tokens ([`auth`]), and giving freed heap back to the OS
//! after a burst ([`memory`]).
//!
//! The only `unsafe` of the server is here, each a single libc call: `sysinfo` and
//! `getrlimit`/`setrlimit` (`limits.rs`), `malloc_trim` (`memory.rs`).

pub mod api_error;
pub mod auth;
pub mod caller;
pub mod edge;
pub mod http;
pub mod limits;
pub mod login;
pub mod memory;
pub mod rest;
pub mod serve;
pub mod staffing;
pub mod state;
pub mod throttle;
pub mod ws;
