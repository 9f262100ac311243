//! Logging set-up: structured `tracing` output, human-readable by default, JSON lines with
//! `XIAOWU_LOG_FORMAT=json`; level from `RUST_LOG` (default `info`). Logs carry ticket, booth,
//! clerk and call ids only: never a citizen's name, ID number or document.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_with_default("info");
}

/// Like [`init`] with another default level (tests use `warn`).
pub fn init_with_default(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = std::env::var("XIAOWU_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests starting several servers) is harmless: the first subscriber stays.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
