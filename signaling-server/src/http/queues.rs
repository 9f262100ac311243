//! `GET /api/queues`: the queue-load snapshot of a supervisor's scope.

use axum::extract::State;
use axum::Json;
use protocol::rest::QueueSnapshot;
use protocol::ErrorCode;
use tokio::sync::oneshot;

use super::{ApiError, Caller};
use crate::driver::Command;
use crate::AppState;

pub async fn queues(State(state): State<AppState>, caller: Caller) -> Result<Json<QueueSnapshot>, ApiError> {
    let sup = caller.supervisor()?;
    let (reply, rx) = oneshot::channel();
    let scope = state.supervisors[sup].scope;
    state.commands.send(Command::Snapshot { scope, reply }).await.map_err(|_| ErrorCode::ShuttingDown)?;
    let rows = rx.await.map_err(|_| ErrorCode::ShuttingDown)?;
    Ok(Json(QueueSnapshot { rows }))
}
