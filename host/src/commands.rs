//! What the engine host is asked, and by whom: the [`Command`]s on its channel — a gateway's
//! inputs, queries answered from the engine (a live call's parties, the queue-load snapshot),
//! answers the records writer has committed, and in a cluster the standby's replay and
//! promotion — and the [`Principal`] a verified token names. The driver executes them; the
//! gateway side (`ws`, `http`, `bus`) and the shared state only name them, so neither depends on
//! the driver.

use protocol::{QueueLoadRow, ServerMessage};
use routing::{BoothIdx, ClerkIdx, Party, RegionIdx, ServiceIdx};
use tokio::sync::{mpsc, oneshot};

use crate::bus::{BusClosed, GatewayInput, RemoteBus};
use crate::routing_log::{AppliedLog, Logged};

/// Who is on a connection, resolved from a verified token (the desk's decisions read it).
pub use desk::Principal;

/// The parties and service of a live call, for the document endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallInfo {
    pub booth: BoothIdx,
    pub clerk: ClerkIdx,
    pub service: ServiceIdx,
    pub ticket: u64,
}

pub enum Command {
    /// The live call's parties, or `None` when no such call is live.
    CallInfo {
        call: u64,
        reply: oneshot::Sender<Option<CallInfo>>,
    },
    /// A record the driver answers for is committed: send the answer to the party's connection.
    Deliver {
        to: Party,
        msg: ServerMessage,
    },
    /// An input from a gateway: this node's (`src: None`), or one read from the cluster's input
    /// stream (`src`: its stream id).
    Input {
        src: Option<String>,
        input: GatewayInput,
    },
    /// Liveness probe for `/healthz`: answered at once by a driver that is running.
    Probe {
        reply: oneshot::Sender<()>,
    },
    Snapshot {
        scope: RegionIdx,
        reply: oneshot::Sender<Vec<QueueLoadRow>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
    /// For each service item (in directory order): how many clerks who could serve it for
    /// `booth` are signed in now.
    StaffedFor {
        booth: BoothIdx,
        reply: oneshot::Sender<Vec<u32>>,
    },
    /// The live calls whose booth is within `scope`.
    LiveCalls {
        scope: RegionIdx,
        reply: oneshot::Sender<Vec<protocol::rest::LiveCall>>,
    },
    /// What the media relay reports: signaling for a party, a finished recording.
    Relay(media_relay::RelayEvent),
    /// A standby's replica: applied-log entries read from Redis, to replay (the first one of a
    /// log is its header).
    Replay {
        entries: Vec<Logged>,
    },
    /// The standby holds the lease now, under `epoch`: route with this log and bus.
    Promote {
        epoch: u64,
        log: Box<dyn AppliedLog>,
        bus: Box<dyn RemoteBus>,
    },
}

/// Where this node's gateway sends its inputs.
#[derive(Debug, Clone)]
pub enum Inputs {
    /// The driver in this process.
    Local(mpsc::Sender<Command>),
    /// The cluster's input stream, through this node's appender (`cluster::bus`).
    Cluster(mpsc::Sender<GatewayInput>),
}

impl Inputs {
    /// Hands `input` on, waiting while the channel is full (back-pressure on the socket).
    pub async fn send(&self, input: GatewayInput) -> Result<(), BusClosed> {
        match self {
            Inputs::Local(tx) => tx.send(Command::Input { src: None, input }).await.map_err(|_| BusClosed),
            Inputs::Cluster(tx) => tx.send(input).await.map_err(|_| BusClosed),
        }
    }
}
