//! The end-to-end tests, one test binary: the real server on port 0, driven by the real clients
//! (booth-client, agent-console), raw protocol, real PostgreSQL, Redis, coturn and Prometheus.
//! One binary links the server, webrtc-rs and both clients once instead of once per file; each
//! module is one former file (`cargo test -p xiaowu-tests --test e2e relay::` runs one of them).
//! The metrics tests are a binary of their own (`tests/metrics.rs`): the metrics are the
//! process's, as in production (one server per process), and they check series at 0 from the start.

mod bad_input;
mod calls;
mod cases;
mod client_errors;
mod document_uploads;
mod documents;
mod faults;
mod limits;
mod liveness;
mod matching;
mod openapi;
mod records;
mod relay;
mod relay_process;
mod reports;
mod transfer;
mod turn;
