//! The gateway: where clients come in. Its share of the server's state ([`edge`]); the WebSocket
//! sessions — hello, decoding, rate limits, heartbeats, handing messages to the engine host
//! ([`ws`]); the error shape every answer takes ([`api_error`]); and the transport-level parts
//! below the server's REST handlers: the HTTP listener with its connection caps ([`serve`]), every
//! bound on clients and the descriptor limit ([`limits`]), login back-off ([`throttle`]), hashed
//! secrets and signed tokens ([`auth`]), and giving freed heap back to the OS after a burst
//! ([`memory`]).
//!
//! The only `unsafe` of the server is here, each a single libc call: `sysinfo` and
//! `getrlimit`/`setrlimit` (`limits.rs`), `malloc_trim` (`memory.rs`).

pub mod api_error;
pub mod auth;
pub mod edge;
pub mod limits;
pub mod memory;
pub mod serve;
pub mod throttle;
pub mod ws;
