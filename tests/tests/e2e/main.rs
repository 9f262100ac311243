//! The end-to-end tests, one test binary: the real server on port 0, driven by the real clients
//! (booth-client, agent-console), raw protocol, real PostgreSQL, Redis, coturn and Prometheus.
//! One binary links the server, webrtc-rs and both clients once instead of once per file; each
//! module is one former file (`cargo test -p xiaowu-tests --test e2e relay::` runs one of them).
//! Three are binaries of their own, because what they measure or do is the whole process's:
//! `tests/metrics.rs` (the metrics registry is the process's, as in production, and series must
//! be at 0 from the start), `tests/document_uploads.rs` (it bounds the process's peak memory) and
//! `tests/calls.rs` (twenty calls at once load the machine on purpose; beside another test's
//! calls on two loaded cores they missed their media).

mod at_rest;
mod bad_input;
mod cases;
mod client_errors;
mod devices;
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
