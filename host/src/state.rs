//! What the engine host reads, shared with the server's handlers: the directory and the
//! supervisors, the engine's and the host's settings, the records writer and the documents, the
//! media relay, this node's hub of sockets and its name as a gateway, and the channel to the
//! driver. Immutable after start-up (the hub's registry and the records writer's queue aside).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use protocol::IceServer;
use routing::{Directory, RegionIdx};
use tokio::sync::mpsc;

use crate::commands::{Command, Principal};
use crate::documents::DocStore;
use crate::hub::Hub;
use crate::media::MediaConfig;
use crate::records::Records;
use crate::role::NodeRole;
use crate::turn::TurnConfig;

/// A configured supervisor: who, the name shown, and the region overseen.
#[derive(Debug, Clone)]
pub struct SupervisorInfo {
    pub id: String,
    pub name: String,
    pub scope: RegionIdx,
}

pub struct Shared {
    pub directory: Arc<Directory>,
    pub supervisors: Vec<SupervisorInfo>,
    /// How often clients are asked to send a heartbeat (told in `welcome`).
    pub heartbeat_interval: Duration,
    /// How often the waiting counts are sampled for the supervisors' last-hour chart.
    pub history_sample_secs: u64,
    /// Applied-log entries between two snapshots (`[server] snapshot_every`).
    pub snapshot_every: u64,
    /// The routing engine's timeouts (the driver starts its engine, or a standby's, with them).
    pub engine_config: routing::EngineConfig,
    /// In cluster mode: this node's name and whether it is the router now.
    pub cluster: Option<Arc<NodeRole>>,
    pub ice_servers: Vec<IceServer>,
    /// `[media]`: relay or peer to peer, recording.
    pub media: MediaConfig,
    pub alerts: desk::alerts::AlertsConfig,
    /// Seals document bytes and recordings at rest, and opens them.
    pub vault: std::sync::Arc<vault::Vault>,
    /// Where call recordings are written (relay mode with recording on).
    pub recording_dir: PathBuf,
    /// The in-process media relay (relay mode).
    pub relay: Option<media_relay::Relay>,
    pub turn: Option<TurnConfig>,
    pub docs: Arc<DocStore>,
    /// Case records, ratings, forced states, ticket events and the grid's counts, in the
    /// records store (`[database] url`).
    pub records: Arc<Records>,
    /// The engine host on this node (queries, and the router's own inputs).
    pub commands: mpsc::Sender<Command>,
    /// This node's WebSockets (the gateway registers them; the driver sends through it).
    pub hub: Arc<Hub>,
    /// This node's name as a gateway (`<node>:<boot>` in a cluster; `local` on a single node).
    pub gateway: String,
}

impl Shared {
    /// The role and id of an account, as inputs and the log name it.
    pub fn account_of(&self, who: Principal) -> (protocol::Role, String) {
        match who {
            Principal::Booth(b) => (protocol::Role::Booth, self.directory.booth(b).id.clone()),
            Principal::Clerk(c) => (protocol::Role::Clerk, self.directory.clerk(c).id.clone()),
            Principal::Supervisor(s) => (protocol::Role::Supervisor, self.supervisors[s].id.clone()),
        }
    }

    pub fn supervisor_idx(&self, id: &str) -> Option<usize> {
        self.supervisors.iter().position(|s| s.id == id)
    }
}
