//! A cluster node's start-up (built with the `cluster` feature): every node a gateway at once —
//! its WebSockets' inputs go to the cluster's input stream, and its outbound stream is tailed into
//! its hub — and a standby: the log tail hands the host every applied entry
//! ([`Command::Replay`]), so the replica is warm and answers this node's queries (a live call's
//! parties, the queue-load snapshot). When the tail takes the lease it hands over the log and the
//! bus ([`Command::Promote`]) and the same driver routes from then on.

use std::sync::Arc;

use host::routing_log::Entry;
use tokio::sync::mpsc;
use tracing::error;

use crate::config::Settings;
use crate::driver::{shutdown_notice, Command, Driver};
use crate::startup::{spawn_driver_thread, COMMAND_QUEUE};
use crate::state::Shared;
use crate::{history, AppState};
use gateway::auth;

/// A cluster node: a gateway at once, a standby until its log tail takes the lease, then the
/// router (see the module's summary).
pub fn spawn_cluster(settings: Settings) -> std::io::Result<AppState> {
    if settings.file.database.url.is_none() {
        return Err(std::io::Error::other(
            "集群模式需要共享数据库 / cluster mode needs a shared records database: --database postgres://…",
        ));
    }
    if settings.file.server.token_secret.is_none() {
        return Err(std::io::Error::other(
            "集群模式需要共享令牌密钥 / cluster mode needs the same token secret on every node: --token-secret …",
        ));
    }
    let cfg = settings.file.cluster.clone();
    let url = cfg.redis_url.clone().unwrap_or_default();
    // Redis must answer at start: a clear error now rather than a silent standby.
    cluster::redis_log::connect(&url).map_err(|e| std::io::Error::other(e.bilingual()))?;
    let keys = cluster::redis_log::Keys::new(&cfg.key_prefix);
    let directory = Arc::new(settings.directory.clone());
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let inputs = cluster::bus::spawn_input_appender(url.clone(), keys.clone());
    let shared = Arc::new(crate::state::build(settings, directory, tx, Some(inputs))?);
    let role = shared.cluster.clone().expect("cluster mode has a node role");
    cluster::nodes::spawn_heartbeat(&cfg, role.clone(), shared.edge.gateway.clone());
    cluster::bus::spawn_outbound_tail(url, keys, shared.edge.gateway.clone(), shared.edge.hub.clone());
    spawn_driver_thread(run_cluster(shared.clone(), rx))?;
    cluster::standby::spawn_log_tail(shared.commands.clone(), shared.records.boot(), cfg, role);
    Ok(AppState(shared))
}

/// The cluster node's host: a replica built from the log's header and fed by the log tail, which
/// answers this node's queries, until [`Command::Promote`] makes its driver the router.
async fn run_cluster(shared: Arc<Shared>, mut rx: mpsc::Receiver<Command>) {
    let mut driver: Option<Driver> = None;
    while let Some(cmd) = rx.recv().await {
        match (cmd, driver.as_mut()) {
            (Command::Replay { entries }, None) => {
                let Some(first) = entries.first() else { continue };
                let mut d = match replica_for(&shared, &first.entry).await {
                    Ok(d) => d,
                    Err(e) => {
                        error!(error = %e, "the applied log does not start with a header; exiting");
                        std::process::exit(76);
                    }
                };
                d.on_command(Command::Replay { entries });
                driver = Some(d);
            }
            (Command::Shutdown { reply }, _) => {
                // A standby routes nothing: only this gateway's clients are told, to reconnect
                // to another node.
                for conn in shared.edge.hub.connections() {
                    shared.edge.hub.deliver(conn, shutdown_notice(1_000));
                    shared.edge.hub.close_after_queued(conn, protocol::CloseReason::ServerShutdown);
                }
                let _ = reply.send(());
                return;
            }
            (cmd @ Command::Promote { .. }, Some(d)) => {
                d.on_command(cmd);
                let d = driver.take().expect("promoted just above");
                return d.run(rx).await;
            }
            (cmd, Some(d)) => d.on_command(cmd),
            (Command::Probe { reply }, None) => {
                let _ = reply.send(());
            }
            (Command::Snapshot { reply, .. }, None) => {
                let _ = reply.send(Vec::new());
            }
            (Command::CallInfo { reply, .. }, None) => {
                let _ = reply.send(None);
            }
            (Command::StaffedFor { reply, .. }, None) => {
                let _ = reply.send(Vec::new());
            }
            (_, None) => {}
        }
    }
}

/// A driver for the log whose header is `header` (its first ids and wall time), with the grid's
/// saved counts of its lineage.
async fn replica_for(shared: &Arc<Shared>, header: &Entry) -> Result<Driver, String> {
    let Some((first_ticket, first_call, started_unix_ms)) = header.log_start() else {
        return Err("the first entry is neither a header nor a snapshot".into());
    };
    let mut cfg = shared.engine_config.clone();
    (cfg.first_ticket, cfg.first_call) = (first_ticket, first_call);
    let mut driver = Driver::new(shared.host.clone(), cfg);
    driver.set_wall_base(started_unix_ms);
    let lineage = driver.lineage();
    let state = shared.clone();
    let saved = tokio::task::spawn_blocking(move || {
        history::load_saved(state.records.store(), &state.directory, lineage, auth::unix_now())
    })
    .await;
    if let Ok(Ok(saved)) = saved {
        driver.restore_grid(saved);
    }
    Ok(driver)
}
