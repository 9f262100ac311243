//! REST endpoints, one module per resource. Handlers only translate: the gateway's [`Caller`]
//! extractor verifies the bearer token, its [`ApiQuery`] parses query strings, and every error,
//! the framework's own rejections included, goes out as one bilingual JSON shape (`ApiErrorBody`)
//! whose HTTP status comes from `ErrorCode::http_status` alone (the plumbing is
//! `crate::rest`).

pub mod alerts;
pub mod caller;
pub mod cases;
pub mod clerk_reports;
mod csv_body;
pub mod devices;
pub mod documents;
pub mod pages;
pub mod qr;
pub mod queues;
mod recording_body;
pub mod recordings;
pub mod reports;
mod security_headers;
pub mod sign_in;
pub mod staffing;

pub use crate::api_error::ApiError;
pub use crate::caller::Caller;
pub use crate::login;
pub use crate::rest::{json_errors, not_found, read_body, read_upload, reserve_gate, time_route, ApiQuery};
pub use caller::{records_commit, store_call};
pub use security_headers::{security_headers, CONTENT_SECURITY_POLICY};
