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
