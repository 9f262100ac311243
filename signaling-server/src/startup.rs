//! The engine host: the thread that runs this node's driver, and the start-up around it.
//!
//! The driver runs on an OS thread of its own, with a single-threaded tokio runtime for its
//! channel and timers ([`spawn_driver_thread`]): the group commit's `fdatasync` and a cluster's
//! synchronous Redis calls (`EVAL`, `WAIT`) block that thread only, never the shared runtime's
//! workers, which carry the sockets and the in-process media relay.
//!
//! - A single node ([`spawn_single`]) replays the routing log a crash left (if any), then routes:
//!   its gateway's inputs come over an in-process channel.
//! - A cluster node is started by `cluster_node.rs` (with the `cluster` feature, on by default),
//!   on the same driver thread.

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::error;

use crate::config::Settings;
use crate::driver::Driver;
use crate::{history, records, AppState};
use gateway::auth;
use host::routing_log::{self, Entry};

/// Commands queued for the driver at most (the gateway waits beyond: back-pressure).
pub(crate) const COMMAND_QUEUE: usize = 1024;

/// A single node: replays a log left by a run that did not shut down cleanly, then routes.
pub fn spawn_single(settings: Settings) -> std::io::Result<AppState> {
    let directory = Arc::new(settings.directory.clone());
    let mut engine_cfg = settings.engine.clone();
    let log_path =
        settings.file.server.routing_log.then(|| routing_log::default_path(&settings.file.documents.data_dir));
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let shared = Arc::new(crate::state::build(settings, directory.clone(), tx, None)?);
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
    let mut driver = Driver::new(shared.host.clone(), engine_cfg);
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
    Ok(AppState(shared))
}

/// Runs the driver (`work`) on a thread of its own, with a single-threaded runtime for its timers
/// and channel. Ends the process if the driver panics: a server without its driver routes nobody
/// while still answering HTTP, so the supervisor (systemd, k8s) had better restart it.
pub(crate) fn spawn_driver_thread(work: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
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
