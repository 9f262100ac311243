//! `xiaowu-relay`: the media relay on a machine of its own. The signaling server connects to its
//! control port (`[media] relays` and `relay_secret` in the server's config) and drives its rooms;
//! parties' media reaches it on UDP at `--bind-ip` (or `--public-ip` behind a 1:1 NAT).
//! Recordings go to `--record-dir`, sealed at rest with the server's master key
//! (`XIAOWU_MASTER_KEY` or `--master-key-file`); the server fetches each finished one over the
//! control port (`media_relay::transfer`).
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "xiaowu-relay", about = "Xiaowu media relay (SFU) driven by the signaling server")]
struct Args {
    /// Control address the signaling server connects to.
    #[arg(long, default_value = "127.0.0.1:7700")]
    listen: String,
    /// Shared secret the server says first (also from XIAOWU_RELAY_SECRET).
    #[arg(long, env = "XIAOWU_RELAY_SECRET", hide_env_values = true)]
    secret: String,
    /// Address the relay's UDP sockets bind to; the booths and consoles must reach it.
    #[arg(long, default_value = "127.0.0.1")]
    bind_ip: IpAddr,
    /// Address advertised instead of --bind-ip (1:1 NAT).
    #[arg(long)]
    public_ip: Option<IpAddr>,
    /// Record every call here (call-<id>.webm); without it nothing is recorded.
    #[arg(long)]
    record_dir: Option<PathBuf>,
    /// The server's master key, in a file (base64 of 32 bytes; or `XIAOWU_MASTER_KEY`): recordings
    /// are sealed at rest with it. Needed with --record-dir.
    #[arg(long)]
    master_key_file: Option<PathBuf>,
    /// The cipher recordings are sealed with: the server's `[storage] cipher`.
    #[arg(long, default_value = "aes-256-gcm")]
    cipher: String,
    /// The most a publisher is asked to send (kb/s, at least 100), whatever its receivers' links
    /// would carry: the server's `[media] max_bitrate_kbps`.
    #[arg(long, default_value_t = media_relay::DEFAULT_MAX_BITRATE_KBPS,
          value_parser = clap::value_parser!(u32).range(100..=100_000))]
    max_bitrate_kbps: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    if args.secret.len() < 16 {
        anyhow::bail!("--secret must be at least 16 characters");
    }
    let mut vault = None;
    if let Some(dir) = &args.record_dir {
        std::fs::create_dir_all(dir)?;
        let cipher = vault::Cipher::from_name(&args.cipher)
            .ok_or_else(|| anyhow::anyhow!("--cipher must be aes-256-gcm or sm4-gcm"))?;
        let key = match (vault::MasterKey::from_env()?, &args.master_key_file) {
            (Some(key), _) => key,
            (None, Some(file)) => vault::MasterKey::read_file(file)?,
            (None, None) => anyhow::bail!(
                "录像需加密存储，请提供服务器的主密钥 / recordings are sealed at rest: give the server's master key \
                 (XIAOWU_MASTER_KEY or --master-key-file)"
            ),
        };
        tracing::info!(key = key.id(), cipher = cipher.name(), "recordings sealed at rest");
        vault = Some(std::sync::Arc::new(vault::Vault::new(key, cipher)));
    }
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    // The line tests and scripts wait for: the port is open.
    println!("xiaowu-relay listening on {}", listener.local_addr()?);
    let config = media_relay::RelayConfig {
        bind_ip: args.bind_ip,
        public_ip: args.public_ip,
        record_dir: args.record_dir,
        max_bitrate_kbps: args.max_bitrate_kbps,
        vault,
    };
    media_relay::serve::serve(listener, config, args.secret).await?;
    Ok(())
}
