//! The helper that runs a blocking records-store call for a handler, off the async workers.

use protocol::ErrorCode;

use super::ApiError;

/// Runs a blocking records-store call off the async workers. The database being away (or
/// restarting) is `503 server_busy` with `retry_after_secs`; any other failure is logged as `what`
/// and answered `500 internal`.
pub async fn store_call<T: Send + 'static>(
    what: &'static str,
    call: impl FnOnce() -> Result<T, store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(call).await.map_err(|_| ApiError::from(ErrorCode::Internal))?.map_err(|e| {
        tracing::error!(error = %e, "{what} failed");
        match e {
            store::StoreError::Unreachable(_) => {
                ApiError::retry_after(ErrorCode::ServerBusy, std::time::Duration::from_secs(5))
            }
            _ => ApiError::from(ErrorCode::Internal),
        }
    })
}

/// How long a request waits for its record to be committed by the records writer.
pub const COMMIT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Hands `record` to the one records writer (bounded) and waits for its commit: `503 server_busy`
/// with `Retry-After` when the queue is full or the database does not take it in time.
pub async fn records_commit(
    records: &host::records::Records,
    what: &'static str,
    record: host::records::Record,
) -> Result<(), ApiError> {
    records.commit(record, COMMIT_PATIENCE).await.map_err(|e| {
        tracing::error!(error = %e, "{what} failed");
        ApiError::retry_after(ErrorCode::ServerBusy, std::time::Duration::from_secs(5))
    })
}
