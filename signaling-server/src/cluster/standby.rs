//! A node without the router lease is a standby: it tails the applied log in Redis and replays
//! each entry into its own driver, so its engine is warm, and every third of the lease (at most a
//! second) it tries to take the lease. Once it has it (the old router died, or stalled past its lease and is fenced
//! off), it reads what is left of the log, logs every connection of the old router as dropped —
//! clients reconnect to this node within their grace periods and find their tickets and calls —
//! and becomes the router.
//!
//! Records are written by the replay too (each found already there, unless the old router died
//! before committing it): nothing a router logged is lost with it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::redis_log::{connect, read_after, replicas_for, try_acquire, wait_for_replicas, Keys, RedisLog};
use super::{ClusterConfig, ClusterError};
use crate::driver::Driver;
use crate::routing_log::{AppliedLog, Entry, Logged, LOG_VERSION};
use crate::state::Shared;

/// This node's place in the cluster, for `/healthz` and the gates on sockets and logins.
#[derive(Debug)]
pub struct NodeRole {
    pub node: String,
    router: AtomicBool,
    epoch: AtomicU64,
    /// Applied-log entries this node's engine has applied (live or replayed).
    applied: AtomicU64,
}

impl NodeRole {
    pub fn new(node: String) -> Self {
        Self { node, router: AtomicBool::new(false), epoch: AtomicU64::new(0), applied: AtomicU64::new(0) }
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

    fn became_router(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::SeqCst);
        self.router.store(true, Ordering::SeqCst);
    }
}

/// A driver for the log whose header is `header` (its first ids and wall time).
fn driver_for(shared: &Arc<Shared>, header: &Entry) -> Driver {
    let mut cfg = shared.engine_config.clone();
    let Entry::Header { first_ticket, first_call, started_unix_ms, .. } = header else {
        unreachable!("called with the header only")
    };
    (cfg.first_ticket, cfg.first_call) = (*first_ticket, *first_call);
    let mut driver = Driver::new(shared.clone(), cfg);
    driver.set_wall_base(*started_unix_ms);
    driver
}

/// Waits as a standby until this node holds the lease, then returns the driver, caught up and
/// logging to Redis as the router. Blocking: run it off the async workers.
pub fn become_router(shared: Arc<Shared>, cfg: &ClusterConfig, role: &NodeRole) -> Result<Driver, ClusterError> {
    let url = cfg.redis_url.clone().expect("cluster mode has a Redis URL");
    let keys = Keys::new(&cfg.key_prefix);
    let lease = cfg.lease();
    let mut conn = connect(&url)?;
    let mut driver: Option<Driver> = None;
    let mut last = "0".to_owned();
    let apply = |driver: &mut Option<Driver>, batch: Vec<(String, Logged)>, last: &mut String| {
        for (id, logged) in batch {
            match driver.as_mut() {
                Some(d) => d.replay(std::slice::from_ref(&logged)),
                None => *driver = Some(driver_for(&shared, &logged.entry)),
            }
            *last = id;
        }
        if let Some(d) = driver.as_mut() {
            d.flush_records();
        }
    };
    // Tails the log and tries the lease until it is ours; a lost connection (Redis restarting, a
    // Sentinel failover) is made again.
    let epoch = loop {
        let step = (|| -> Result<Option<u64>, ClusterError> {
            // Wait for new entries at most a third of the lease (and at most a second), then try
            // the lease; the connection's read timeout (5 s) is well above this wait.
            let batch = read_after(&mut conn, &keys, &last, 1000, Some((lease / 3).min(Duration::from_secs(1))))?;
            apply(&mut driver, batch, &mut last);
            let Some(epoch) = try_acquire(&mut conn, &keys, &role.node, lease)? else { return Ok(None) };
            // The new epoch must survive a failover before anything is written under it.
            wait_for_replicas(&mut conn, replicas_for(&url))?;
            // The lease is ours: nobody else can append any more. Read what is left.
            loop {
                let rest = read_after(&mut conn, &keys, &last, 10_000, None)?;
                if rest.is_empty() {
                    return Ok(Some(epoch));
                }
                apply(&mut driver, rest, &mut last);
            }
        })();
        match step {
            Ok(Some(epoch)) => break epoch,
            Ok(None) => {}
            Err(e @ ClusterError::BadLog(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "standby lost Redis; reconnecting");
                std::thread::sleep((lease / 3).min(Duration::from_secs(1)));
                if let Ok(c) = connect(&url) {
                    conn = c;
                }
            }
        }
    };
    let mut log = RedisLog::new(&url, keys.clone(), role.node.clone(), epoch, lease)?;
    let driver = match driver {
        Some(mut d) => {
            let (last_t, wall_base) = d.timeline();
            let down_t = (store::now_ms() as u64).saturating_sub(wall_base) * 1000;
            let gone = d.resume_after_restart(last_t.max(down_t), Box::new(log));
            tracing::info!(epoch, connections_gone = gone, open_tickets = d.open_tickets(), "took over as router");
            d
        }
        None => {
            // The first router of this deployment: its boot number starts the ids.
            let base = crate::records::id_base(shared.records.boot());
            let header = Entry::Header {
                version: LOG_VERSION,
                first_ticket: base,
                first_call: base,
                started_unix_ms: store::now_ms() as u64,
            };
            log.append(&Logged { t: 0, entry: header.clone() }).map_err(|e| ClusterError::Redis(e.to_string()))?;
            log.commit().map_err(ClusterError::Redis)?;
            let mut d = driver_for(&shared, &header);
            d.set_log(Box::new(log));
            tracing::info!(epoch, "first router of the cluster: a new applied log begins");
            d
        }
    };
    role.became_router(epoch);
    Ok(driver)
}
