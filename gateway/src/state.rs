//! The state every handler is given: the server's shared state — the host's share (read through
//! `Deref`: directory, records, documents, relay, hub), the gateway's (`Edge`: accounts, tokens,
//! bounds, sockets), and what only the REST handlers read (the catalog, the upload slots, the
//! photo pool). The server builds it from its settings.

use std::sync::Arc;

use protocol::rest::Catalog;

use crate::edge::Edge;

/// The server's shared state: the host's share (read through `Deref`), the gateway's, and what
/// only the REST handlers read.
pub struct Shared {
    pub host: Arc<host::state::Shared>,
    /// The gateway's share: tokens, bounds, this node's sockets and its inputs to the engine host.
    pub edge: Arc<Edge>,
    pub catalog: Catalog,
    pub cluster_config: host::role::ClusterConfig,
    pub tcp_nodelay: bool,
    /// How long case records (and ratings and ticket events) are kept.
    pub case_retention_days: u64,
    /// Bounds how many photos are processed at once (the pipeline's blocking pool).
    pub doc_pool: tokio::sync::Semaphore,
    /// Document uploads being received or processed.
    pub upload_slots: Arc<tokio::sync::Semaphore>,
    /// Calls with an upload being received or processed (one per call at a time).
    pub uploading_calls: Arc<std::sync::Mutex<std::collections::HashSet<u64>>>,
}

impl std::ops::Deref for Shared {
    type Target = host::state::Shared;

    fn deref(&self) -> &host::state::Shared {
        &self.host
    }
}

/// What every handler is given: the shared state. A type of the gateway's own, so its extractors
/// can take their share of it (`Arc<Edge>`) by `FromRef`.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl axum::extract::FromRef<AppState> for Arc<Edge> {
    fn from_ref(state: &AppState) -> Self {
        state.edge.clone()
    }
}
