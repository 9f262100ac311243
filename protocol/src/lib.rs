//! Xiaowu wire protocol: the JSON messages that booths, clerks and supervisors exchange with the signaling server.
//!
//! Every WebSocket text frame carries exactly one message, a JSON object tagged by `"type"`
//! (`snake_case`). Clients send [`ClientMessage`]; the server sends [`ServerMessage`]. The REST
//! bodies live in [`rest`]. These types are the wire contract only: the routing engine has its own
//! types and the server converts between the two. `docs/protocol.md` documents every message and
//! the golden tests in `tests/golden.rs` pin their JSON shape.
#![forbid(unsafe_code)]

pub mod client;
pub mod close;
pub mod error;
pub mod ids;
pub mod rest;
pub mod server;
pub mod types;

pub use client::ClientMessage;
pub use close::CloseReason;
pub use error::{DecodeError, ErrorCode};
pub use ids::{BoothId, CallId, ClerkId, DocumentId, OfferId, RegionId, ServiceCode, TicketId};
pub use server::ServerMessage;
pub use types::*;

/// The protocol version this build speaks. A `hello` with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest text frame the server accepts (SDP bodies included). Larger frames are refused unread.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
