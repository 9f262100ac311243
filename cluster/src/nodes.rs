//! Who is in the cluster: every node writes a heartbeat into the hash `<prefix>:nodes` each
//! second (role, epoch, entries applied, when), and `GET /api/cluster` reads it back with the
//! applied log's length, so a supervisor sees who routes and how far behind each standby is.

use std::sync::Arc;
use std::time::Duration;

use protocol::rest::{ClusterView, NodeView};
use serde::{Deserialize, Serialize};

use crate::redis_log::{connect, Keys};
use crate::ClusterError;
use host::role::ClusterConfig;
use host::role::NodeRole;

/// A node as its heartbeat describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeBeat {
    pub role: String,
    pub epoch: u64,
    pub applied: u64,
    pub seen_unix_ms: u64,
}

/// Every gateway's last heartbeat, as `HGETALL` returns it.
type Beats = Vec<(String, u64)>;

fn nodes_key(prefix: &str) -> String {
    format!("{prefix}:nodes")
}

/// Writes this node's heartbeat every second, on a thread of its own, and its gateway's; reads
/// back every gateway's for the router (which logs a silent gateway's connections as gone).
pub fn spawn_heartbeat(cfg: &ClusterConfig, role: Arc<NodeRole>, gateway: String) {
    let url = cfg.redis_url.clone().expect("cluster mode has a Redis URL");
    let key = nodes_key(&cfg.key_prefix);
    let gateways = crate::redis_log::Keys::new(&cfg.key_prefix).gateways;
    let _ = std::thread::Builder::new().name("cluster-heartbeat".into()).spawn(move || {
        let mut conn = None;
        loop {
            let beat = NodeBeat {
                role: if role.is_router() { "router" } else { "standby" }.into(),
                epoch: role.epoch(),
                applied: role.applied(),
                seen_unix_ms: store::now_ms() as u64,
            };
            let json = serde_json::to_string(&beat).expect("a heartbeat serializes");
            if conn.is_none() {
                conn = connect(&url).ok();
            }
            if let Some(c) = conn.as_mut() {
                let now = store::now_ms() as u64;
                let beat: redis::RedisResult<((), (), Beats)> = redis::pipe()
                    .cmd("HSET")
                    .arg(&key)
                    .arg(&role.node)
                    .arg(json)
                    .cmd("HSET")
                    .arg(&gateways)
                    .arg(&gateway)
                    .arg(now)
                    .cmd("HGETALL")
                    .arg(&gateways)
                    .query(c);
                match beat {
                    Ok((_, _, all)) => {
                        // Gateways silent for a day are forgotten (restarted nodes are new gateways).
                        let old: Vec<&String> = all
                            .iter()
                            .filter(|(_, seen)| now.saturating_sub(*seen) > 86_400_000)
                            .map(|(g, _)| g)
                            .collect();
                        if !old.is_empty() {
                            let _ = redis::cmd("HDEL").arg(&gateways).arg(old).query::<u64>(c);
                        }
                        role.set_gateway_beats(all.into_iter().collect(), now);
                    }
                    Err(_) => conn = None,
                }
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
}

/// Reads the cluster's state. Blocking.
pub fn view(cfg: &ClusterConfig) -> Result<ClusterView, ClusterError> {
    let url = cfg.redis_url.clone().expect("cluster mode has a Redis URL");
    let keys = Keys::new(&cfg.key_prefix);
    let mut conn = connect(&url)?;
    let router: Option<String> = redis::cmd("GET").arg(&keys.lease).query(&mut conn)?;
    let epoch = crate::redis_log::current_epoch(&mut conn, &keys)?;
    let log_length: u64 = redis::cmd("XLEN").arg(&keys.applied).query(&mut conn)?;
    let beats: Vec<(String, String)> = redis::cmd("HGETALL").arg(nodes_key(&cfg.key_prefix)).query(&mut conn)?;
    let now = store::now_ms() as u64;
    let mut nodes: Vec<NodeView> = beats
        .into_iter()
        .filter_map(|(node, json)| {
            let b: NodeBeat = serde_json::from_str(&json).ok()?;
            Some(NodeView {
                node,
                role: b.role,
                epoch: b.epoch,
                applied: b.applied,
                lag: log_length.saturating_sub(b.applied),
                last_seen_ms: now.saturating_sub(b.seen_unix_ms),
            })
        })
        .collect();
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(ClusterView { mode: "cluster".into(), router, epoch, log_length, nodes })
}
