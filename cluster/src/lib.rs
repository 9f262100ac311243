//! Cluster mode on Redis: one router at a time, chosen by a lease, writing one ordered applied log
//! that every other node tails to keep a warm engine, with fencing so that a deposed router can
//! never write again.
//!
//! - `bus.rs`: the gateways' input stream and each gateway's outbound stream;
//! - `redis_log.rs`: the lease (`SET NX PX`) with its fencing epoch (`INCR`), the applied log as a
//!   Redis Stream appended by a Lua script that checks the epoch in the same step, and reading it
//!   back;
//! - `standby.rs`: a node without the lease tails the log and replays it, and takes over when the
//!   lease lapses;
//! - `nodes.rs`: each node's heartbeat, and the view `GET /api/cluster` gives supervisors;
//!
//! Every node is a gateway: it serves HTTP and WebSockets for every role whether it routes or
//! not, so a load balancer may send any client to any node. A booth on node A, its clerk on node
//! B and their supervisor on node C are one call: the inputs go through the input stream to the
//! router, its answers through each gateway's outbound stream.

#![forbid(unsafe_code)]

pub mod bus;
pub mod nodes;
pub mod redis_log;
pub mod standby;

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("Redis unreachable or failing: {0}")]
    Redis(String),
    /// Another router holds a newer epoch: this one was deposed and must not write.
    #[error("fenced: the router lease moved to epoch {current}, this router had epoch {mine}")]
    Fenced { mine: u64, current: u64 },
    #[error("the applied log in Redis is damaged: {0}")]
    BadLog(String),
}

impl From<redis::RedisError> for ClusterError {
    fn from(e: redis::RedisError) -> Self {
        ClusterError::Redis(e.to_string())
    }
}

impl ClusterError {
    /// Chinese first, then English: what an operator reads on the console.
    pub fn bilingual(&self) -> String {
        let zh = match self {
            ClusterError::Redis(_) => "无法连接 Redis",
            ClusterError::Fenced { .. } => "本节点已不再是路由节点，停止写入",
            ClusterError::BadLog(_) => "Redis 中的路由日志已损坏",
        };
        format!("{zh} / {self}")
    }
}
