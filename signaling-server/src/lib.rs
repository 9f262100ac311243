//! Xiaowu signaling server: the binary's wiring around the crates that do the work.
//!
//! - `config`: TOML (or the embedded demo) → validated settings and the routing directory;
//! - `state`: the server's shared state — the host's share, the gateway's, and the REST handlers';
//! - `startup`: runs the host's driver (the desk's shell, `host::driver`) on a thread of its own,
//!   alone or (`cluster_node`, with the `cluster` feature) as a cluster's standby replica that
//!   becomes the router;
//! - `http`: the REST resources (cases, reports, documents, recordings, queues, staffing, alerts,
//!   the pages); the gateway crate has the listener, the WebSocket sessions, login, tokens, limits
//!   and the REST plumbing; the host crate the driver, the applied log, the records writer, the
//!   documents and the grid's history; the `cluster` crate the Redis side of cluster mode;
//! - `staffing`: staffing advice; `telemetry`: logging set-up.
//!
//! [`router`] builds the app without a socket (for tests); [`start`] binds and serves it.
#![forbid(unsafe_code)]

#[cfg(feature = "cluster")]
mod cluster_node;
pub mod config;
pub mod rotate_key;
// The records writer, documents, the grid's history, the metrics and the media and TURN settings
// are the host's; under their old names here too.
pub use host::{documents, driver, history, media, metrics, records, turn};
#[cfg(test)]
mod driver_tests;
pub use gateway::http;
pub mod startup;
pub mod state;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::driver::{Command, Driver};

pub use gateway::state::AppState;

/// Builds the shared state and spawns the engine host (single node, or a cluster's standby that
/// becomes the router) and the retention purger.
pub fn spawn_driver(settings: Settings) -> std::io::Result<AppState> {
    let cluster = settings.file.cluster.redis_url.is_some();
    let shared = if cluster { spawn_cluster(settings)? } else { startup::spawn_single(settings)? };
    tokio::spawn(retention(shared.clone()));
    shared.edge.trimmer.clone().spawn(shared.edge.conns.clone());
    Ok(shared)
}

/// Why a server built without the `cluster` feature refuses a cluster's settings.
pub const NO_CLUSTER: &str =
    "本版本未包含集群功能 / this build has no cluster support (build with the `cluster` feature, on by default)";

/// A cluster node (`cluster_node.rs`), when the server is built with the `cluster` feature.
#[cfg(feature = "cluster")]
fn spawn_cluster(settings: Settings) -> std::io::Result<AppState> {
    cluster_node::spawn_cluster(settings)
}

#[cfg(not(feature = "cluster"))]
fn spawn_cluster(_settings: Settings) -> std::io::Result<AppState> {
    Err(std::io::Error::other(NO_CLUSTER))
}

/// Re-runs the applied log at `source` offline — a file, or `redis://…` for a cluster's stream
/// (under `[cluster] key_prefix`) — and hands every applied entry and every engine action to
/// `out`, one line each (`signaling-server replay`). The same log gives the same lines, byte for
/// byte. Nothing is sent; the records go nowhere (a throwaway SQLite file stands in for the
/// database, removed afterwards). Returns the number of entries.
pub fn replay_log(
    mut settings: Settings,
    source: &std::path::Path,
    out: Box<dyn FnMut(String) + Send>,
) -> std::io::Result<usize> {
    let log = match source.to_str().filter(|s| s.starts_with("redis://") || s.starts_with("redis-sentinel://")) {
        Some(url) => read_redis_log(url, &settings.file.cluster.key_prefix)?,
        None => host::routing_log::read(source)?,
    };
    let Some((first_ticket, first_call, started_unix_ms)) = log.entries.first().and_then(|e| e.entry.log_start())
    else {
        return Err(std::io::Error::other("the log begins with neither a header nor a snapshot"));
    };
    let scratch = std::env::temp_dir().join(format!("xiaowu-replay-{}", std::process::id()));
    settings.file.documents.data_dir = scratch.clone();
    settings.file.database.url = None;
    let mut engine_cfg = settings.engine.clone();
    (engine_cfg.first_ticket, engine_cfg.first_call) = (first_ticket, first_call);
    let directory = Arc::new(settings.directory.clone());
    let (tx, _rx) = mpsc::channel(1);
    let shared = Arc::new(crate::state::build(settings, directory, tx, None)?);
    let mut driver = Driver::new(shared.host.clone(), engine_cfg);
    driver.set_wall_base(started_unix_ms);
    driver.trace_to(out);
    driver.replay(&log.entries);
    drop(driver);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(log.entries.len())
}

/// A cluster's applied log, read from Redis.
#[cfg(feature = "cluster")]
fn read_redis_log(url: &str, key_prefix: &str) -> std::io::Result<host::routing_log::ReadLog> {
    let keys = cluster::redis_log::Keys::new(key_prefix);
    let mut conn = cluster::redis_log::connect(url).map_err(|e| std::io::Error::other(e.bilingual()))?;
    let (entries, _) =
        cluster::redis_log::read_all(&mut conn, &keys).map_err(|e| std::io::Error::other(e.bilingual()))?;
    Ok(host::routing_log::ReadLog { entries, valid_len: 0 })
}

#[cfg(not(feature = "cluster"))]
fn read_redis_log(_url: &str, _key_prefix: &str) -> std::io::Result<host::routing_log::ReadLog> {
    Err(std::io::Error::other(NO_CLUSTER))
}

/// Retention, once at start and then every hour: documents (with their reads, reviews and bytes)
/// after `[documents] retention_days`; case records, ratings and ticket events after `[database]
/// case_retention_days`; call recordings (index rows, view logs, files) after `[media]
/// recording_retention_days`; the grid's samples after the documents' period. Logged with counts
/// only.
async fn retention(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let state = state.clone();
        let purged = tokio::task::spawn_blocking(move || -> Result<store::PurgeCounts, store::StoreError> {
            let now = gateway::auth::unix_now();
            let mut counts = state.docs.purge(now)?;
            let case_cutoff = now.saturating_sub(state.case_retention_days.saturating_mul(86_400));
            let cases = state.records.store().purge_cases(case_cutoff as i64 * 1000)?;
            (counts.cases, counts.ratings, counts.ticket_events) = (cases.cases, cases.ratings, cases.ticket_events);
            let sample_cutoff = now.saturating_sub(state.docs.config.retention_days * 86_400);
            state
                .records
                .store()
                .purge_samples(sample_cutoff as i64 * 1000, &china_time::date_string(sample_cutoff as i64 * 1000))?;
            let recording_cutoff = now.saturating_sub(state.media.recording_retention_days.saturating_mul(86_400));
            let files = state.records.store().purge_recordings(recording_cutoff as i64 * 1000)?;
            for file in &files {
                // The row is gone first: a file left by a failed delete is no longer served.
                if let Err(e) = std::fs::remove_file(state.recording_dir.join(file)) {
                    tracing::warn!(error = %e, "a purged recording's file could not be deleted");
                }
                media_relay::record::views::remove_views(&state.recording_dir, file);
                let _ = std::fs::remove_file(media_relay::record::sink::key_file(&state.recording_dir.join(file)));
            }
            if !files.is_empty() {
                tracing::info!(recordings = files.len(), "recordings past retention deleted");
            }
            Ok(counts)
        })
        .await;
        match purged {
            Ok(Ok(c)) if c != store::PurgeCounts::default() => tracing::info!(
                documents = c.documents,
                document_reads = c.document_reads,
                document_reviews = c.document_reviews,
                images = c.blobs,
                cases = c.cases,
                ratings = c.ratings,
                ticket_events = c.ticket_events,
                "records past retention deleted"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "retention purge failed; retrying in an hour"),
            Err(e) => tracing::error!(error = %e, "retention purge panicked"),
        }
    }
}

pub fn router(state: AppState) -> Router {
    use http::{
        alerts, cases, clerk_reports, devices, documents, pages, qr, queues, recordings, reports, sign_in, staffing,
    };
    Router::new()
        .route("/", get(pages::index))
        .route("/healthz", get(pages::healthz))
        .route("/booth", get(pages::booth))
        .route("/clerk", get(pages::clerk))
        .route("/supervisor", get(pages::supervisor))
        .route("/web/{name}", get(pages::asset))
        .route("/api/login", post(sign_in::login))
        .route("/api/devices", post(devices::set_up).get(devices::list))
        .route("/api/devices/{id}", axum::routing::delete(devices::revoke))
        .route("/api/catalog", get(pages::catalog))
        .route("/api/qr", get(qr::qr))
        .route("/api/queues", get(queues::queues))
        .route("/api/cases", get(cases::cases))
        .route("/api/tickets/{id}/events", get(cases::ticket_events))
        .route("/api/reports", get(reports::reports))
        .route("/api/reports/clerks", get(clerk_reports::clerk_reports))
        .route("/api/alerts", get(alerts::alert_history))
        .route("/api/staffing", get(staffing::staffing))
        .route("/api/cluster", get(queues::cluster))
        .merge(gateway::ws::routes(state.edge.clone()))
        .route("/api/calls/{call}/documents", post(documents::upload))
        .route("/api/documents/{id}", get(documents::download))
        .route("/api/documents/{id}/thumbnail", get(documents::thumbnail))
        .route("/api/documents/{id}/reads", get(documents::reads))
        .route("/api/calls", get(recordings::live))
        .route("/api/calls/{call}/recording", get(recordings::download))
        .route("/api/calls/{call}/recording/views", get(recordings::views))
        // Every matched route's duration, by its template (bounded labels).
        .route_layer(axum::middleware::from_fn(http::time_route))
        .route("/metrics", get(pages::metrics))
        .route("/api/openapi.json", get(pages::openapi))
        .fallback(http::not_found)
        // Bodies are read by the handlers themselves, each with its own size and time limit.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(state.edge.clone(), http::reserve_gate))
        .layer(axum::middleware::from_fn(http::json_errors))
        .layer(axum::middleware::from_fn(http::security_headers))
        .with_state(state)
}

/// A server running in this process.
pub struct RunningServer {
    pub addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Graceful shutdown: tickets are closed with `server_shutdown`, every client is told and
    /// disconnected, then the HTTP server stops.
    pub async fn shutdown(mut self) {
        shutdown_driver(&self.state).await;
        // The driver has told every socket of this node `server_shutdown` and closes them: wait
        // (a few seconds at most) until their tasks have written that and the close frame, so a
        // process that exits next does not cut them off.
        let mut running = self.state.edge.websockets.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(4), running.wait_for(|n| *n == 0)).await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }

    /// Waits until the server stops by itself (it only does when the driver stops).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

async fn shutdown_driver(state: &AppState) {
    let (reply, done) = oneshot::channel();
    if state.commands.send(Command::Shutdown { reply }).await.is_ok() {
        let _ = done.await;
    }
}

/// Binds `listen` (port 0 picks a free port) and serves until [`RunningServer::shutdown`].
pub async fn start(settings: Settings, listen: &str) -> std::io::Result<RunningServer> {
    let nofile = gateway::limits::raise_nofile_limit();
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let state = spawn_driver(settings)?;
    metrics::create_configured_series(&state.directory);
    tracing::info!(nofile, max_connections = state.edge.limits.effective_max_connections(), "limits");
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(state.clone());
    let options = gateway::serve::ListenOptions {
        header_timeout: state.edge.limits.header_timeout(),
        nodelay: state.tcp_nodelay,
    };
    let task = tokio::spawn(gateway::serve::serve(listener, app, state.edge.conns.clone(), options, stopped));
    Ok(RunningServer { addr, state, stop: Some(stop), task })
}
