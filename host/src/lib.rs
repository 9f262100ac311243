//! The engine host's seams: what the server's gateways, its driver and the cluster's Redis code
//! hand each other, without depending on one another.
//!
//! - [`routing_log`]: the applied log — entries, the group-committed file writer, a reader that
//!   cuts a torn tail — and the [`routing_log::AppliedLog`] seam a cluster's Redis log also fills;
//! - [`snapshot`]: the driver's state as one log entry (types only);
//! - [`commands`]: what the engine host is asked and by whom, and where a gateway's inputs go;
//! - [`bus`]: the gateway ↔ router bus ([`bus::GatewayInput`], [`bus::RemoteBus`]);
//! - [`hub`]: this node's WebSockets, delivered to without blocking;
//! - [`role`]: a node's place in a cluster and its `[cluster]` settings;
//! - [`doc_meta`]: a stored document's metadata, as the gateway hands it to the host;
//! - [`records`]: the records writer (cases, ratings, events and the rest, committed in order on
//!   a thread of their own, each answer sent once its record is committed) and the id scheme;
//! - [`documents`]: documents over the records store, recent metadata in memory;
//! - [`history`]: the supervisors' last hour of waiting counts and today's answered counts;
//! - [`metrics`]: the Prometheus registry every part of the server counts in;
//! - [`driver`]: the desk's shell — the one loop that feeds the desk, logs and commits its
//!   inputs and carries out its effects;
//! - [`state`]: what the host reads, shared with the server's handlers (`Shared`);
//! - [`media`]: the `[media]` settings and the in-process media relay; [`turn`]: the `[turn]`
//!   settings and the TURN credentials minted per call.
#![forbid(unsafe_code)]

pub mod at_rest;
pub mod bus;
pub mod commands;
pub mod doc_meta;
pub mod documents;
pub mod driver;
pub mod history;
pub mod hub;
pub mod media;
pub mod metrics;
pub mod records;
pub mod role;
pub mod routing_log;
pub mod snapshot;
pub mod state;
pub mod turn;
