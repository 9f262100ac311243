//! The engine host: the thread that runs this node's driver, and the start-up around it.
//!
//! The driver runs on an OS thread of its own, with a single-threaded tokio runtime for its
//! channel and timers ([`spawn_driver_thread`]): the group commit's `fdatasync` and a cluster's
//! synchronous Redis calls (`EVAL`, `WAIT`) block that thread only, never the shared runtime's
//! workers, which carry the sockets and the in-process media relay.
//!
//! - A single node ([`spawn_single`]) replays the routing log a crash left (if any), then routes:
//!   its gateway's inputs come over an in-process channel.
//! - A cluster node ([`spawn_cluster`]) is a gateway at once — its WebSockets' inputs go to the
//!   cluster's input stream, and its outbound stream is tailed into its hub — and a standby: the
//!   log tail hands the host every applied entry ([`Command::Replay`]), so the replica is warm and
//!   answers this node's queries (a live call's parties, the queue-load snapshot). When the tail
//!   takes the lease it hands over the log and the bus ([`Command::Promote`]) and the same driver
//!   routes from then on.

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::error;

use crate::config::Settings;
use crate::driver::{shutdown_notice, Command, Driver};
use crate::routing_log::{self, Entry};
use crate::state::Shared;
use crate::{auth, cluster, history, records, AppState};

/// Commands queued for the driver at most (the gateway waits beyond: back-pressure).
const COMMAND_QUEUE: usize = 1024;

/// A single node: replays a log left by a run that did not shut down cleanly, then routes.
pub fn spawn_single(settings: Settings) -> std::io::Result<AppState> {
    let directory = Arc::new(settings.directory.clone());
    let mut engine_cfg = settings.engine.clone();
    let log_path =
        settings.file.server.routing_log.then(|| routing_log::default_path(&settings.file.documents.data_dir));
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let shared = Arc::new(Shared::new(settings, directory.clone(), tx, None)?);
    let boot = shared.records.boot();
    let previous = match &log_path {
        Some(path) if path.exists() => {
            let log = routing_log::read(path)?;
            match log.entries.last().map(|e| &e.entry) {
                Some(Entry::Shutdown {}) => {
                    // A clean stop left nothing to restore: keep the log aside, start anew.
                    std::fs::rename(path, path.with_extension("log.1"))?;
                    None
                }
                _ => Some(log),
            }
        }
        _ => None,
    };
    // Ticket and call ids carry the boot number of the run that started the log, so they never
    // repeat across restarts (or across nodes sharing the database).
    let (first_ticket, first_call, started_unix_ms) =
        match previous.as_ref().and_then(|l| l.entries.first()).and_then(|e| e.entry.log_start()) {
            Some(start) => start,
            None => (records::id_base(boot), records::id_base(boot), store::now_ms() as u64),
        };
    engine_cfg.first_ticket = first_ticket;
    engine_cfg.first_call = first_call;
    let mut driver = Driver::new(shared.clone(), engine_cfg);
    driver.set_wall_base(started_unix_ms);
    // Today's answered counts of other engine histories (earlier logs, other nodes); this one's
    // come back with the replay.
    let lineage = (first_ticket >> 32) as i64;
    // The grid's last hour and today's service level, as saved before a restart. On a plain
    // thread, like every store call made outside spawn_blocking.
    let saved = std::thread::scope(|s| {
        s.spawn(|| history::load_saved(shared.records.store(), &directory, lineage, auth::unix_now()))
            .join()
            .map_err(|_| std::io::Error::other("loading the saved grid panicked"))
    })?
    .map_err(|e| std::io::Error::other(e.bilingual()))?;
    driver.restore_grid(saved);
    match (log_path, previous) {
        (Some(path), Some(log)) => {
            // From the last snapshot: it holds everything before it.
            driver.replay(routing_log::from_last_snapshot(&log.entries));
            let last_t = log.entries.last().map_or(0, |e| e.t);
            let down_t = (store::now_ms() as u64).saturating_sub(started_unix_ms) * 1000;
            let writer = routing_log::LogWriter::append_to(&path, log.valid_len)?;
            let gone = driver.resume_after_restart(last_t.max(down_t), Box::new(writer));
            tracing::info!(
                entries = log.entries.len(),
                open_tickets = driver.open_tickets(),
                connections_gone = gone,
                "routing log replayed: waiting citizens keep their tickets"
            );
        }
        (Some(path), None) => {
            let header = Entry::Header { version: routing_log::LOG_VERSION, first_ticket, first_call, started_unix_ms };
            driver.set_log(Box::new(routing_log::LogWriter::create(&path, header)?));
        }
        (None, _) => {}
    }
    spawn_driver_thread(driver.run(rx))?;
    Ok(shared)
}

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
    let shared = Arc::new(Shared::new(settings, directory, tx, Some(inputs))?);
    let role = shared.cluster.clone().expect("cluster mode has a node role");
    cluster::nodes::spawn_heartbeat(&cfg, role.clone(), shared.gateway.clone());
    cluster::bus::spawn_outbound_tail(url, keys, shared.gateway.clone(), shared.hub.clone());
    spawn_driver_thread(run_cluster(shared.clone(), rx))?;
    cluster::standby::spawn_log_tail(shared.commands.clone(), shared.records.boot(), cfg, role);
    Ok(shared)
}

/// The cluster node's host: a replica built from the log's header and fed by the log tail, which
/// answers this node's queries, until [`Command::Promote`] makes its driver the router.
async fn run_cluster(shared: AppState, mut rx: mpsc::Receiver<Command>) {
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
                for conn in shared.hub.connections() {
                    shared.hub.deliver(conn, shutdown_notice(1_000));
                    shared.hub.close_after_queued(conn, protocol::CloseReason::ServerShutdown);
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
async fn replica_for(shared: &AppState, header: &Entry) -> Result<Driver, String> {
    let Some((first_ticket, first_call, started_unix_ms)) = header.log_start() else {
        return Err("the first entry is neither a header nor a snapshot".into());
    };
    let mut cfg = shared.engine_config.clone();
    (cfg.first_ticket, cfg.first_call) = (first_ticket, first_call);
    let mut driver = Driver::new(shared.clone(), cfg);
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

/// Runs the driver (`work`) on a thread of its own, with a single-threaded runtime for its timers
/// and channel. Ends the process if the driver panics: a server without its driver routes nobody
/// while still answering HTTP, so the supervisor (systemd, k8s) had better restart it.
fn spawn_driver_thread(work: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    std::thread::Builder::new().name("routing-driver".into()).spawn(move || {
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(work)));
        if ran.is_err() {
            error!("the routing driver panicked; exiting so the service is restarted");
            std::process::exit(70);
        }
    })?;
    Ok(())
}
