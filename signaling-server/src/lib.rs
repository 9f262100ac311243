//! Xiaowu signaling server: the axum + WebSocket I/O shell around the routing engine.
//!
//! - `config`: TOML (or the embedded demo) → validated settings and the routing directory;
//! - `auth`: hashed secrets and signed tokens;
//! - `driver`: the one task that owns the engine and routes its actions;
//! - `ws` / `http`: thin adapters from the wire to driver commands;
//! - `serve`: the listener (connection caps, `TCP_NODELAY`, header timeout);
//! - `limits` / `throttle`: every bound on clients, and login back-off;
//! - `relay`: checks on SDP / ICE relayed between the two parties of a call;
//! - `documents` / `cases`: durable document photos, case records and ratings;
//! - `history`: the last hour of waiting counts for the supervisors' chart.
//!
//! [`router`] builds the app without a socket (for tests); [`start`] binds and serves it.

pub mod auth;
pub mod cases;
pub mod config;
pub mod convert;
pub mod documents;
pub mod driver;
pub mod history;
pub mod http;
pub mod limits;
pub mod memory;
pub mod relay;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod turn;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::error;

use crate::config::Settings;
use crate::driver::{Command, Driver};
use crate::state::Shared;

pub type AppState = Arc<Shared>;

/// Builds the shared state and spawns the driver task and the retention purger.
pub fn spawn_driver(settings: Settings) -> std::io::Result<AppState> {
    let directory = Arc::new(settings.directory.clone());
    let engine_cfg = settings.engine.clone();
    let (tx, rx) = mpsc::channel(1024);
    let shared = Arc::new(Shared::new(settings, directory.clone(), tx)?);
    let engine = routing::Engine::new(directory, engine_cfg, tokio::time::Instant::now().into_std());
    let driver = tokio::spawn(Driver::new(shared.clone(), engine).run(rx));
    tokio::spawn(async move {
        // A panicking driver is a bug, and a server without its driver routes nobody while still
        // answering HTTP: end the process so the supervisor (systemd, k8s) restarts it.
        if let Err(e) = driver.await {
            if e.is_panic() {
                error!("the routing driver panicked; exiting so the service is restarted");
                std::process::exit(70);
            }
        }
    });
    tokio::spawn(purge_documents(shared.docs.clone()));
    shared.trimmer.clone().spawn(shared.conns.clone());
    Ok(shared)
}

/// Deletes documents past retention once at start and then every hour.
async fn purge_documents(docs: Arc<documents::DocStore>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let docs = docs.clone();
        let result = tokio::task::spawn_blocking(move || docs.purge(auth::unix_now())).await;
        if let Ok(Err(e)) = result {
            tracing::error!(error = %e, "document purge failed");
        }
    }
}

pub fn router(state: AppState) -> Router {
    use http::{cases, documents, login, pages, queues};
    Router::new()
        .route("/", get(pages::index))
        .route("/healthz", get(pages::healthz))
        .route("/booth", get(pages::booth))
        .route("/clerk", get(pages::clerk))
        .route("/supervisor", get(pages::supervisor))
        .route("/web/{name}", get(pages::asset))
        .route("/api/login", post(login::login))
        .route("/api/catalog", get(pages::catalog))
        .route("/api/queues", get(queues::queues))
        .route("/api/cases", get(cases::cases))
        .route("/ws/{role}", get(ws::upgrade))
        .route("/api/calls/{call}/documents", post(documents::upload))
        .route("/api/documents/{id}", get(documents::download))
        .route("/api/documents/{id}/thumbnail", get(documents::thumbnail))
        .fallback(http::not_found)
        // Bodies are read by the handlers themselves, each with its own size and time limit.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(state.clone(), http::reserve_gate))
        .layer(axum::middleware::from_fn(http::json_errors))
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
    let nofile = limits::raise_nofile_limit();
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let state = spawn_driver(settings)?;
    tracing::info!(nofile, max_connections = state.limits.effective_max_connections(), "limits");
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(state.clone());
    let options = serve::ListenOptions { header_timeout: state.limits.header_timeout(), nodelay: state.tcp_nodelay };
    let task = tokio::spawn(serve::serve(listener, app, state.conns.clone(), options, stopped));
    Ok(RunningServer { addr, state, stop: Some(stop), task })
}
