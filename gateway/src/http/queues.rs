//! `GET /api/queues`: the queue-load snapshot of a supervisor's scope; `GET /api/cluster`: the
//! cluster's nodes.

use axum::extract::State;
use axum::Json;
use protocol::rest::QueueSnapshot;
use protocol::ErrorCode;
use tokio::sync::oneshot;

use super::{ApiError, Caller};
use crate::state::AppState;
use host::commands::Command;

pub async fn queues(State(state): State<AppState>, caller: Caller) -> Result<Json<QueueSnapshot>, ApiError> {
    let sup = caller.supervisor()?;
    let (reply, rx) = oneshot::channel();
    let scope = state.supervisors[sup].scope;
    state.commands.send(Command::Snapshot { scope, reply }).await.map_err(|_| ErrorCode::ShuttingDown)?;
    let rows = rx.await.map_err(|_| ErrorCode::ShuttingDown)?;
    Ok(Json(QueueSnapshot { rows }))
}

/// `GET /api/cluster` (supervisors): who routes, the fencing epoch, the applied log's length, and
/// each node's role, entries applied, lag and last heartbeat. A single node answers
/// `{"mode": "single", …}` with no nodes. Redis away → `503 server_busy`.
pub async fn cluster(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<protocol::rest::ClusterView>, ApiError> {
    caller.supervisor()?;
    if state.cluster.is_none() {
        let single =
            protocol::rest::ClusterView { mode: "single".into(), router: None, epoch: 0, log_length: 0, nodes: vec![] };
        return Ok(Json(single));
    }
    cluster_view(state).await
}

#[cfg(not(feature = "cluster"))]
async fn cluster_view(_state: AppState) -> Result<Json<protocol::rest::ClusterView>, ApiError> {
    unreachable!("a server built without the cluster feature runs no cluster node")
}

#[cfg(feature = "cluster")]
async fn cluster_view(state: AppState) -> Result<Json<protocol::rest::ClusterView>, ApiError> {
    let cfg = state.cluster_config.clone();
    let view = tokio::task::spawn_blocking(move || cluster::nodes::view(&cfg))
        .await
        .map_err(|_| ErrorCode::Internal)?
        .map_err(|e| {
            tracing::warn!(error = %e, "reading the cluster's state failed");
            ApiError::retry_after(ErrorCode::ServerBusy, std::time::Duration::from_secs(2))
        })?;
    Ok(Json(view))
}
