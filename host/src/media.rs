//! The `[media]` section and the media relay the server runs in-process in relay mode.
//!
//! In relay mode (the default) every call goes through the relay (`media-relay` crate): the
//! driver opens a room when a call starts, hands the parties' answers and candidates to it, and
//! closes it when the call ends; the relay's offers and candidates come back as
//! [`Command::Relay`](crate::commands::Command::Relay) and go out to the party like any message.
//! Calls are recorded when `record` is on. In `p2p` mode the server only relays signaling
//! between the two parties, as before.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// `[media]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// `relay` (default): calls go through the server's media relay, are recorded and can be
    /// monitored; `p2p`: directly between the parties (or through TURN), nothing recorded.
    pub mode: protocol::MediaMode,
    /// The address the relay's UDP sockets bind to; booths and consoles must reach it. A concrete
    /// address (a wildcard would leave out loopback).
    pub relay_ip: IpAddr,
    /// The address advertised instead, when the relay is behind a 1:1 NAT.
    pub public_ip: Option<IpAddr>,
    /// Record every relayed call (both parties' video and audio, one WebM file per call).
    pub record: bool,
    /// Where recordings are written; default `<documents.data_dir>/recordings`.
    pub recording_dir: Option<PathBuf>,
    /// Recordings older than this are deleted (with their index rows; the audit chain keeps a
    /// purge link).
    pub recording_retention_days: u64,
    /// Relays on machines of their own (`xiaowu-relay`), as `host:port` of their control ports.
    /// Empty (the default): the relay runs inside this server. With relays, each call's room is
    /// opened on the one that is up with the fewest rooms; `relay_ip`, `public_ip` are then the
    /// relays' own settings (their `--bind-ip`, `--public-ip`), and they write the recordings into
    /// their `--record-dir`; each finished one is copied into this server's `recording_dir`
    /// (`media_relay::transfer`). A relay that goes away ends its calls as `media_failed` (the
    /// citizens go back to the head of the queue); its partial recordings are indexed only if
    /// `recording_dir` is its `--record-dir` too (a shared mount).
    pub relays: Vec<String>,
    /// The secret the server says first on each relay's control link (the relays'
    /// `--secret`); at least 16 characters. Required with `relays`.
    pub relay_secret: Option<String>,
    /// The most a party is asked to send, in kb/s (100 to 100000; default 1500). The relay asks
    /// each publisher (REMB) to stay under this and under the tightest share of its receivers'
    /// links, which it estimates from their congestion feedback. Relays on machines of their own
    /// take it as their `--max-bitrate-kbps`.
    pub max_bitrate_kbps: u32,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            mode: protocol::MediaMode::Relay,
            relay_ip: IpAddr::from([127, 0, 0, 1]),
            public_ip: None,
            record: true,
            recording_dir: None,
            recording_retention_days: 180,
            relays: Vec::new(),
            relay_secret: None,
            max_bitrate_kbps: media_relay::DEFAULT_MAX_BITRATE_KBPS,
        }
    }
}

impl MediaConfig {
    pub fn relayed(&self) -> bool {
        self.mode == protocol::MediaMode::Relay
    }

    /// Whether relayed calls are recorded.
    pub fn recorded(&self) -> bool {
        self.relayed() && self.record
    }

    /// What is wrong with the section, if anything.
    pub fn check(&self) -> Option<&'static str> {
        if !(100..=100_000).contains(&self.max_bitrate_kbps) {
            return Some("max_bitrate_kbps must be between 100 and 100000");
        }
        if self.relays.is_empty() {
            return None;
        }
        if !self.relayed() {
            return Some("relays need mode = \"relay\"");
        }
        match &self.relay_secret {
            Some(s) if s.len() >= 16 => None,
            _ => Some("relays need a relay_secret of at least 16 characters"),
        }
    }

    pub fn recording_dir(&self, data_dir: &std::path::Path) -> PathBuf {
        self.recording_dir.clone().unwrap_or_else(|| data_dir.join("recordings"))
    }
}

/// Starts the in-process relay, or connects to the relays of `relays` (relay mode, inside a
/// tokio runtime), and pumps their events into the driver's command channel.
/// Recordings are sealed at rest with `vault` (in process; a relay process seals with the same
/// master key, given to it).
pub fn start_relay(
    config: &MediaConfig,
    data_dir: &std::path::Path,
    commands: tokio::sync::mpsc::Sender<crate::commands::Command>,
    vault: std::sync::Arc<vault::Vault>,
) -> Option<media_relay::Relay> {
    if !config.relayed() || tokio::runtime::Handle::try_current().is_err() {
        return None;
    }
    let relay_config = media_relay::RelayConfig {
        bind_ip: config.relay_ip,
        public_ip: config.public_ip,
        record_dir: config.recorded().then(|| config.recording_dir(data_dir)),
        max_bitrate_kbps: config.max_bitrate_kbps,
        vault: Some(vault.clone()),
    };
    let (relay, mut events) = if config.relays.is_empty() {
        media_relay::Relay::start(relay_config)
    } else {
        let secret = config.relay_secret.as_deref().unwrap_or_default();
        let fetch_into = config.recorded().then(|| config.recording_dir(data_dir));
        let (pool, events) = media_relay::pool::RelayPool::connect(&config.relays, secret, fetch_into, Some(vault));
        (media_relay::Relay::Remote(pool), events)
    };
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if commands.send(crate::commands::Command::Relay(event)).await.is_err() {
                break;
            }
        }
    });
    Some(relay)
}

/// The relay's name for a party of a call.
pub const BOOTH: &str = "booth";
pub use desk::transfer::CLERK;

#[cfg(test)]
mod tests {
    use super::MediaConfig;

    #[test]
    fn the_bitrate_cap_and_the_relays_secret_are_checked() {
        assert_eq!(MediaConfig::default().check(), None);
        assert_eq!(MediaConfig::default().max_bitrate_kbps, 1_500);
        for bad in [0, 99, 100_001] {
            let config = MediaConfig { max_bitrate_kbps: bad, ..MediaConfig::default() };
            assert_eq!(config.check(), Some("max_bitrate_kbps must be between 100 and 100000"), "{bad}");
        }
        let relays = MediaConfig { relays: vec!["10.0.0.21:7700".into()], ..MediaConfig::default() };
        assert!(relays.check().is_some_and(|p| p.contains("relay_secret")));
        let secret = Some("sixteen-chars-ok".to_owned());
        assert_eq!(MediaConfig { relay_secret: secret, ..relays }.check(), None);
    }
}
