//! A node without the router lease is a standby: it tails the applied log in Redis and its engine
//! host replays each entry, so its engine is warm, and every third of the lease (at most a
//! second) it tries to take the lease. Once it has it (the old router died, or stalled past its
//! lease and is fenced off), it reads what is left of the log and becomes the router: it reads
//! the gateways' inputs after the last one logged, and the connections of gateways that stopped
//! beating (the old router's own, after a `kill -9`) are logged as gone — their clients reconnect
//! to another node within their grace periods and find their tickets and calls.
//!
//! Records are written by the replay too (each found already there, unless the old router died
//! before committing it): nothing a router logged is lost with it.
//!

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::bus::RedisBus;
use crate::redis_log::{
    connect, read_after, read_snapshot, replicas_for, try_acquire, wait_for_replicas, Keys, RedisLog,
};
use host::commands::Command;
use host::role::{ClusterConfig, NodeRole};
use host::routing_log::{AppliedLog, Entry, Logged, LOG_VERSION};

use crate::ClusterError;

/// Tails the applied log as a standby and hands each batch to the engine host
/// ([`Command::Replay`]); every third of the lease (at most a second) tries the lease. Once it has
/// it, it reads what is left of the log, starts a new log if there was none (the first router of
/// this deployment), and hands the host the log and the bus to route with ([`Command::Promote`]).
/// Blocking: runs on a thread of its own.
/// `commands`: the driver's; `boot`: this start's number (its ids' prefix if it becomes the
/// router of an empty log).
pub fn spawn_log_tail(commands: mpsc::Sender<Command>, boot: i64, cfg: ClusterConfig, role: Arc<NodeRole>) {
    let spawned = std::thread::Builder::new().name("standby-log-tail".into()).spawn(move || {
        if let Err(e) = tail_until_router(&commands, boot, &cfg, &role) {
            tracing::error!(error = %e.bilingual(), "standby stopped; exiting so the service is restarted");
            std::process::exit(76);
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the standby");
        std::process::exit(76);
    }
}

fn tail_until_router(
    commands: &mpsc::Sender<Command>,
    boot: i64,
    cfg: &ClusterConfig,
    role: &NodeRole,
) -> Result<(), ClusterError> {
    let url = cfg.redis_url.clone().expect("cluster mode has a Redis URL");
    let keys = Keys::new(&cfg.key_prefix);
    let lease = cfg.lease();
    let mut conn = connect(&url)?;
    let mut last = "0".to_owned();
    let mut have_header = false;
    // A replay starts at the latest snapshot: it holds everything before it.
    if let Some((id, snapshot)) = read_snapshot(&mut conn, &keys)? {
        last.clone_from(&id);
        have_header = true;
        if commands.blocking_send(Command::Replay { entries: vec![snapshot] }).is_err() {
            return Ok(());
        }
    }
    let hand_over = |batch: Vec<(String, Logged)>, last: &mut String, have_header: &mut bool| {
        let Some((id, _)) = batch.last() else { return true };
        last.clone_from(id);
        *have_header = true;
        let entries = batch.into_iter().map(|(_, l)| l).collect();
        commands.blocking_send(Command::Replay { entries }).is_ok()
    };
    // Tails the log and tries the lease until it is ours; a lost connection (Redis restarting, a
    // Sentinel failover) is made again.
    let epoch = loop {
        let step = (|| -> Result<Option<u64>, ClusterError> {
            // Wait for new entries at most a third of the lease (and at most a second), then try
            // the lease; the connection's read timeout (5 s) is well above this wait.
            let batch = read_after(&mut conn, &keys, &last, 1000, Some((lease / 3).min(Duration::from_secs(1))))?;
            if !hand_over(batch, &mut last, &mut have_header) {
                return Err(ClusterError::Redis("the engine host stopped".into()));
            }
            // `/healthz` shows the router lease's epoch on a standby too.
            let seen: Option<u64> = redis::cmd("GET").arg(&keys.epoch).query(&mut conn)?;
            role.saw_epoch(seen.unwrap_or(0));
            let Some(epoch) = try_acquire(&mut conn, &keys, &role.node, lease)? else { return Ok(None) };
            // The new epoch must survive a failover before anything is written under it.
            wait_for_replicas(&mut conn, replicas_for(&url))?;
            // The lease is ours: nobody else can append any more. Read what is left.
            loop {
                let rest = read_after(&mut conn, &keys, &last, 10_000, None)?;
                if rest.is_empty() {
                    return Ok(Some(epoch));
                }
                hand_over(rest, &mut last, &mut have_header);
            }
        })();
        match step {
            Ok(Some(epoch)) => break epoch,
            Ok(None) => {}
            Err(e @ ClusterError::BadLog(_)) => return Err(e),
            Err(e) => {
                if commands.is_closed() {
                    return Ok(());
                }
                tracing::warn!(error = %e, "standby lost Redis; reconnecting");
                std::thread::sleep((lease / 3).min(Duration::from_secs(1)));
                if let Ok(c) = connect(&url) {
                    conn = c;
                }
            }
        }
    };
    let mut log = RedisLog::new(&url, keys.clone(), role.node.clone(), epoch, lease)?;
    if !have_header {
        // The first router of this deployment: its boot number starts the ids.
        let base = desk::ids::id_base(boot);
        let header = Entry::Header {
            version: LOG_VERSION,
            first_ticket: base,
            first_call: base,
            started_unix_ms: store::now_ms() as u64,
        };
        let logged = Logged::at(0, header);
        log.append(&logged).map_err(|e| ClusterError::Redis(e.to_string()))?;
        log.commit().map_err(ClusterError::Redis)?;
        tracing::info!(epoch, "first router of the cluster: a new applied log begins");
        let _ = commands.blocking_send(Command::Replay { entries: vec![logged] });
    }
    let bus = RedisBus::new(&url, keys, epoch, commands.clone());
    let _ = commands.blocking_send(Command::Promote { epoch, log: Box::new(log), bus: Box::new(bus) });
    Ok(())
}
