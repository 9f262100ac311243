//! A node's place in a cluster, which the server reads without the cluster's Redis code: its
//! settings (`[cluster]`), whether it routes and under which fencing epoch, how much of the log it
//! has applied, and what the heartbeats say of every gateway (the router reads that to tell a dead
//! gateway).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// `[cluster]` in the configuration (or `--redis` / `XIAOWU_REDIS`, `--node-id`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `redis://host:port/db`; without it the node runs alone with its log in a file.
    pub redis_url: Option<String>,
    /// This node's name (default: the host name and port).
    pub node_id: Option<String>,
    /// How long the router's lease lasts without renewal; a standby takes over after it lapses.
    pub lease_ms: u64,
    /// Prefix of every Redis key (several deployments may share a Redis).
    pub key_prefix: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { redis_url: None, node_id: None, lease_ms: 1000, key_prefix: "xiaowu".into() }
    }
}

impl ClusterConfig {
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms.max(100))
    }
}

/// This node's place in the cluster, for `/healthz` and the gates on sockets and logins.
#[derive(Debug)]
pub struct NodeRole {
    pub node: String,
    router: AtomicBool,
    epoch: AtomicU64,
    /// Applied-log entries this node's engine has applied (live or replayed).
    applied: AtomicU64,
    /// Every gateway's last heartbeat (Unix ms) as last read, and when it was read.
    gateways: Mutex<(HashMap<String, u64>, u64)>,
}

/// A gateway without a heartbeat for this long is taken as dead, its connections as gone (three
/// missed beats; the nodes' clocks must agree to well within this).
pub const GATEWAY_TIMEOUT_MS: u64 = 3_000;

impl NodeRole {
    pub fn new(node: String) -> Self {
        Self {
            node,
            router: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            gateways: Mutex::default(),
        }
    }

    /// The gateways' heartbeats as just read from Redis.
    pub fn set_gateway_beats(&self, beats: HashMap<String, u64>, now_ms: u64) {
        *self.gateways.lock().unwrap_or_else(|p| p.into_inner()) = (beats, now_ms);
    }

    /// When `gateway` last beat (`Some(None)`: never seen), or `None` when this node's own view
    /// is too old to tell (it cannot reach Redis): then nobody is judged dead.
    pub fn gateway_seen(&self, gateway: &str, now_ms: u64) -> Option<Option<u64>> {
        let guard = self.gateways.lock().unwrap_or_else(|p| p.into_inner());
        let (beats, read_ms) = &*guard;
        if now_ms.saturating_sub(*read_ms) > GATEWAY_TIMEOUT_MS / 2 {
            return None;
        }
        Some(beats.get(gateway).copied())
    }

    /// One more entry applied.
    pub fn applied_one(&self) {
        self.applied.fetch_add(1, Ordering::Relaxed);
    }

    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    pub fn is_router(&self) -> bool {
        self.router.load(Ordering::SeqCst)
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// A standby's view of the router lease's epoch (read from Redis as it tails the log).
    pub fn saw_epoch(&self, epoch: u64) {
        if !self.is_router() {
            self.epoch.fetch_max(epoch, Ordering::SeqCst);
        }
    }

    pub fn became_router(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::SeqCst);
        self.router.store(true, Ordering::SeqCst);
    }
}
