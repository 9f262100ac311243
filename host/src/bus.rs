//! The bus between a node's gateway — its WebSockets and HTTP handlers — and the engine host that
//! runs the routing engine.
//!
//! - Inbound, [`GatewayInput`]s (sent through `commands::Inputs`): connects, disconnects, client messages and stored documents, in the
//!   order the gateway saw them. On a single node (the default) they go over an in-process
//!   channel straight to the driver. In a cluster every gateway appends them to one Redis Stream
//!   that the router reads (`cluster::bus`), so an input survives the router's death.
//! - Outbound, [`RemoteBus`]: the driver delivers to this node's connections through the hub;
//!   what is for a connection on another gateway is published once the batch that caused it is
//!   committed — in a cluster, to that gateway's own Redis Stream.

use protocol::{ClientMessage, CloseReason, Role, ServerMessage};
use serde::{Deserialize, Serialize};

use crate::doc_meta::DocMeta;
use crate::hub::ConnId;

/// One input from a gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "input")]
pub enum GatewayInput {
    /// A WebSocket said a valid `hello`: `role`/`id` from its verified token, on `gateway`
    /// (absent on a single node).
    Connect {
        conn: ConnId,
        role: Role,
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<String>,
    },
    Disconnect {
        conn: ConnId,
    },
    Message {
        conn: ConnId,
        msg: ClientMessage,
    },
    /// A document of a live call was stored (uploaded to this gateway): tell the clerk.
    DocumentStored {
        meta: DocMeta,
    },
}

/// The engine host is gone (shutting down): the input was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the routing engine is not taking inputs (shutting down)")]
pub struct BusClosed;

/// A message or a close for a connection on another gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteOut {
    pub gateway: String,
    pub conn: ConnId,
    pub what: RemoteWhat,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RemoteWhat {
    Msg(ServerMessage),
    Close(CloseReason),
}

/// Delivers to connections on other gateways.
pub trait RemoteBus: Send {
    /// Publishes a committed batch's messages, in order. An error means they cannot be delivered:
    /// the driver stops the process (a standby takes over and the clients reconnect to it).
    fn publish(&mut self, out: Vec<RemoteOut>) -> Result<(), String>;
    /// Inputs up to `upto` (a stream id the log recorded) are no longer needed.
    fn trim_inputs(&mut self, _upto: &str) {}
    /// A new router reads the gateways' inputs from after `after` (the last one its log
    /// recorded) into its driver.
    fn read_inputs_after(&mut self, _after: String) {}
}

/// A close reason from its wire word.
pub fn close_reason(word: &str) -> Option<CloseReason> {
    CloseReason::ALL.into_iter().find(|r| r.as_str() == word)
}
