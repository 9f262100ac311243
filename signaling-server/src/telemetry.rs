//! Logging set-up: structured `tracing` output, human-readable by default, JSON lines with
//! `XIAOWU_LOG_FORMAT=json`; level from `RUST_LOG` (default `info`; webrtc-rs's own crates at
//! `error` unless `RUST_LOG` names them). Logs carry ticket, booth,
//! clerk and call ids only: never a citizen's name, ID number or document.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_with_default("info");
}

/// webrtc-rs's crates (the media relay) warn about normal ICE and DTLS progress: they log only
/// errors unless `RUST_LOG` names them.
const WEBRTC_QUIET: &str = "rtc=error,rtc_ice=error,rtc_dtls=error,rtc_srtp=error,rtc_sctp=error,webrtc=error";

/// Like [`init`] with another default level (tests use `warn`).
pub fn init_with_default(level: &str) {
    let asked = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| level.to_owned());
    let directives = if asked.contains("rtc") { asked } else { format!("{asked},{WEBRTC_QUIET}") };
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new(level));
    let json = std::env::var("XIAOWU_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests starting several servers) is harmless: the first subscriber stays.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
