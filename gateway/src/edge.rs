//! The gateway's share of the server's state: what its WebSocket and REST handlers read to take a
//! client in — the directory and the supervisors' ids (whom a token may name), each account's
//! hashed secret, the token signer,
//! every bound on clients and the counters that enforce them — and where they hand what clients
//! say: this node's hub of sockets and its inputs to the engine host. Immutable after start-up
//! except the counters (and the hub's registry).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use host::commands::{Inputs, Principal};
use host::hub::Hub;
use routing::Directory;
use tokio::sync::{watch, Semaphore};

use crate::auth::{SecretHash, TokenSigner};
use crate::limits::LimitsConfig;
use crate::memory::Trimmer;
use crate::serve::ConnTracker;
use crate::throttle::LoginThrottle;

pub struct Edge {
    pub directory: Arc<Directory>,
    /// The configured supervisors' ids, in order: a [`Principal::Supervisor`] is an index into them.
    pub supervisor_ids: Vec<String>,
    /// Each account's hashed secret and the supervisors' display names, for login.
    pub accounts: Accounts,
    pub signer: TokenSigner,
    /// How long a token from `POST /api/login` is valid.
    pub token_ttl: Duration,
    /// Silence longer than this closes a WebSocket (`heartbeat_timeout`).
    pub heartbeat_timeout: Duration,
    /// Where the gateway's inputs go: the local driver, or the cluster's input stream.
    pub inputs: Inputs,
    /// This node's WebSockets.
    pub hub: Arc<Hub>,
    /// This node's name as a gateway (`<node>:<boot>` in a cluster, so that a restarted node is a
    /// new gateway; `local` on a single node).
    pub gateway: String,
    /// In a cluster, connections are named with their gateway (the router may be another node).
    pub clustered: bool,
    /// Every bound on clients (`[limits]`).
    pub limits: LimitsConfig,
    /// Open TCP connections, in total and per address.
    pub conns: Arc<ConnTracker>,
    /// WebSockets that have not said `hello` yet.
    pub unauthenticated: Arc<Semaphore>,
    pub login_throttle: LoginThrottle,
    /// Returns freed memory to the OS after bursts.
    pub trimmer: Arc<Trimmer>,
    /// WebSocket tasks still running (writing their last messages and close frames): a stopping
    /// server waits for them, so what it said last reaches its clients.
    pub websockets: Arc<watch::Sender<usize>>,
    next_conn: AtomicU64,
}

/// Each account's hashed secret: booths and clerks by directory index, supervisors by their index;
/// and the supervisors' display names (booths' and clerks' are in the directory).
pub struct Accounts {
    pub booths: Vec<SecretHash>,
    pub clerks: Vec<SecretHash>,
    pub supervisors: Vec<SecretHash>,
    pub supervisor_names: Vec<String>,
}

/// What the gateway is configured with; the rest it builds.
pub struct EdgeConfig {
    pub directory: Arc<Directory>,
    pub supervisor_ids: Vec<String>,
    pub accounts: Accounts,
    pub signer: TokenSigner,
    pub token_ttl: Duration,
    pub heartbeat_timeout: Duration,
    pub inputs: Inputs,
    pub gateway: String,
    pub clustered: bool,
    pub limits: LimitsConfig,
    /// The first connection id (connection ids carry the boot number: the applied log names
    /// connections, and a restarted server's must not collide with the replayed ones).
    pub first_conn_id: u64,
}

impl Edge {
    pub fn new(c: EdgeConfig) -> Self {
        let limits = c.limits;
        Edge {
            conns: Arc::new(ConnTracker::new(
                limits.effective_max_connections(),
                limits.reserved_connections,
                limits.max_connections_per_ip,
            )),
            unauthenticated: Arc::new(Semaphore::new(limits.max_unauthenticated.max(1))),
            login_throttle: LoginThrottle::new(&limits),
            trimmer: Arc::default(),
            websockets: Arc::new(watch::Sender::new(0)),
            hub: Arc::default(),
            limits,
            directory: c.directory,
            supervisor_ids: c.supervisor_ids,
            accounts: c.accounts,
            signer: c.signer,
            token_ttl: c.token_ttl,
            heartbeat_timeout: c.heartbeat_timeout,
            inputs: c.inputs,
            gateway: c.gateway,
            clustered: c.clustered,
            next_conn: AtomicU64::new(c.first_conn_id),
        }
    }

    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// The role and id of an account, as inputs and the log name it.
    pub fn account_of(&self, who: Principal) -> (protocol::Role, String) {
        match who {
            Principal::Booth(b) => (protocol::Role::Booth, self.directory.booth(b).id.clone()),
            Principal::Clerk(c) => (protocol::Role::Clerk, self.directory.clerk(c).id.clone()),
            Principal::Supervisor(s) => (protocol::Role::Supervisor, self.supervisor_ids[s].clone()),
        }
    }

    pub fn supervisor_idx(&self, id: &str) -> Option<usize> {
        self.supervisor_ids.iter().position(|s| s == id)
    }
}
