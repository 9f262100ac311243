//! `signaling-server`: runs the Xiaowu signaling server (single node, embedded demo by default).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gateway::auth::SecretHash;
use signaling_server::config::Settings;

#[derive(Parser)]
#[command(version, about = "Xiaowu signaling server (政务晓屋 信令服务)")]
struct Cli {
    /// Address to listen on (overrides the config's server.listen).
    #[arg(long, env = "XIAOWU_LISTEN")]
    listen: Option<String>,
    /// Configuration file (TOML). Without it the embedded demo configuration is used.
    #[arg(long, env = "XIAOWU_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Records database: `sqlite://PATH` or `postgres://user@host:port/db` (overrides
    /// `[database] url`; default `sqlite://<documents.data_dir>/xiaowu.db`).
    #[arg(long, env = "XIAOWU_DATABASE", global = true)]
    database: Option<String>,
    /// Cluster mode: the Redis that holds the router lease and the applied log, e.g.
    /// `redis://10.0.0.5:6379/0`, or through Sentinel `redis-sentinel://h1:26379,h2:26379,h3:26379/mymaster`
    /// (overrides `[cluster] redis_url`; needs `--database postgres://…` and `--token-secret`).
    #[arg(long, env = "XIAOWU_REDIS")]
    redis: Option<String>,
    /// This node's name in the cluster (default `node-<pid>`; overrides `[cluster] node_id`).
    #[arg(long, env = "XIAOWU_NODE_ID")]
    node_id: Option<String>,
    /// The router lease in milliseconds (overrides `[cluster] lease_ms`, default 1000): a standby
    /// takes over this long after the router stops renewing it.
    #[arg(long, env = "XIAOWU_LEASE_MS", value_parser = clap::value_parser!(u64).range(100..=60_000))]
    lease_ms: Option<u64>,
    /// Token signing key (overrides server.token_secret).
    #[arg(long, env = "XIAOWU_TOKEN_SECRET", hide_env_values = true)]
    token_secret: Option<String>,
    /// Seconds between samples of the supervisors' waiting chart (overrides server.history_sample_secs).
    #[arg(long, env = "XIAOWU_HISTORY_SAMPLE_SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    history_sample_secs: Option<u64>,
    /// Routing-log entries between two snapshots of the routing state (overrides
    /// `server.snapshot_every`, default 50,000): a restart or a joining standby replays from the
    /// last snapshot.
    #[arg(long, env = "XIAOWU_SNAPSHOT_EVERY", value_parser = clap::value_parser!(u64).range(100..))]
    snapshot_every: Option<u64>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Prints the stored form of a secret, for the `secret_hash` fields of a config.
    HashSecret { secret: String },
    /// Loads and validates the configuration, then exits.
    CheckConfig,
    /// Walks the records' audit hash chain; names the first broken link (exit code 1) or says how
    /// many links hold.
    VerifyAudit,
    /// Re-runs an applied routing log offline (with the configuration of `--config`) and prints
    /// every applied entry and every engine action, one line each: the same log always gives the
    /// same output. Nothing is sent, and no database is touched.
    /// Re-wraps every stored data key with a new master key (run with the server stopped): a key
    /// file gets a new key in place; a key from `XIAOWU_MASTER_KEY` (or a cluster's, from its
    /// token secret) is replaced by the one in `XIAOWU_NEW_MASTER_KEY`. Afterwards the old master
    /// key is no longer needed.
    RotateKey,
    Replay {
        /// The log: a file (e.g. `xiaowu-data/routing.log`), or a cluster's Redis
        /// (`redis://host:port/db` or `redis-sentinel://host:port,…/master`; the stream under
        /// `[cluster] key_prefix`).
        log: PathBuf,
    },
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Cmd::HashSecret { secret }) = &cli.command {
        println!("{}", SecretHash::create(secret, 100_000));
        return Ok(());
    }
    // `replay` prints the log's decisions on stdout; the server's own log lines would only be
    // noise beside them (errors still go to stderr).
    match &cli.command {
        Some(Cmd::Replay { .. }) => signaling_server::telemetry::init_with_default("error"),
        _ => signaling_server::telemetry::init(),
    }
    let mut settings = match &cli.config {
        Some(path) => Settings::load(path)?,
        None => Settings::demo(),
    };
    if let Some(Cmd::CheckConfig) = cli.command {
        println!("{}: ok", settings.source);
        return Ok(());
    }
    if let Some(url) = cli.database {
        settings.file.database.url = Some(url);
    }
    if let Some(Cmd::VerifyAudit) = cli.command {
        let url =
            settings.file.database.url.clone().unwrap_or_else(|| {
                format!("sqlite://{}", settings.file.documents.data_dir.join("xiaowu.db").display())
            });
        // Off the async runtime: the PostgreSQL client runs its own.
        let verdict = tokio::task::spawn_blocking(move || -> Result<_, store::StoreError> {
            let store = store::Store::open_url(&url)?;
            Ok((store.verify_audit()?, store.audit_len()?))
        })
        .await?
        .map_err(|e| anyhow::anyhow!(e.bilingual()))?;
        match verdict {
            (None, links) => println!("审计链完整 / audit chain ok: {links} links hold"),
            (Some(broken), _) => {
                println!("审计链断裂 / audit chain broken at {broken}");
                std::process::exit(1);
            }
        }
        return Ok(());
    }
    if let Some(Cmd::Replay { log }) = &cli.command {
        let out = Box::new(|line: String| println!("{line}"));
        let entries =
            signaling_server::replay_log(settings, log, out).with_context(|| format!("replaying {}", log.display()))?;
        eprintln!("{entries} entries replayed");
        return Ok(());
    }
    if let Some(url) = cli.redis {
        settings.file.cluster.redis_url = Some(url);
    }
    if let Some(node) = cli.node_id {
        settings.file.cluster.node_id = Some(node);
    }
    if let Some(ms) = cli.lease_ms {
        settings.file.cluster.lease_ms = ms;
    }
    if let Some(key) = cli.token_secret {
        settings.file.server.token_secret = Some(key);
    }
    if let Some(Cmd::RotateKey) = cli.command {
        // Off the async runtime: the PostgreSQL client runs its own.
        let done = tokio::task::spawn_blocking(move || signaling_server::rotate_key::rotate_key(&settings)).await??;
        println!(
            "主密钥已轮换 / master key rotated: {} wrapped keys re-wrapped, {} → {}",
            done.rewrapped,
            done.old_ids.join(", "),
            done.new_id
        );
        match done.key_file {
            Some(file) => println!("新主密钥 / the new master key: {} (the old one is no longer needed)", file.display()),
            None => println!(
                "请在每个节点将 XIAOWU_MASTER_KEY 设为 XIAOWU_NEW_MASTER_KEY 的值 / set XIAOWU_MASTER_KEY to the value of \
                 XIAOWU_NEW_MASTER_KEY on every node before starting it"
            ),
        }
        return Ok(());
    }
    // A key anybody could guess signs tokens anybody could make: refuse it, whether it came from
    // the flag, the environment or the config (EX_CONFIG, 78).
    if let Err(e) = gateway::auth::check_token_secret(settings.file.server.token_secret.as_deref()) {
        eprintln!("error: {e}");
        std::process::exit(78);
    }
    if let Some(secs) = cli.history_sample_secs {
        settings.file.server.history_sample_secs = secs;
    }
    if let Some(n) = cli.snapshot_every {
        settings.file.server.snapshot_every = n;
    }
    let listen = cli.listen.unwrap_or_else(|| settings.file.server.listen.clone());
    let demo = cli.config.is_none();
    let server = match signaling_server::start(settings, &listen).await {
        Ok(server) => server,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            anyhow::bail!("地址 {listen} 已被占用（另一个服务器正在运行？）/ address {listen} is already in use (is another server running?)")
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("无法启动 / starting on {listen}"))),
    };
    let base = format!("http://{}", server.addr);
    println!("Xiaowu signaling server listening on {base}");
    println!("  booth kiosk page:     {base}/booth?booth=booth-gudao-1&secret=demo");
    println!("  clerk console page:   {base}/clerk?clerk=clerk-hekou-1&secret=demo");
    println!("  supervisor dashboard: {base}/supervisor?id=sup-dongying&secret=demo");
    println!("  API index:        {base}/");
    println!("  catalog:          {base}/api/catalog");
    println!("  booth socket:     ws://{}/ws/booth", server.addr);
    println!("  clerk socket:     ws://{}/ws/clerk", server.addr);
    println!("  supervisor socket: ws://{}/ws/supervisor", server.addr);
    if demo {
        println!("  demo accounts (secret `demo`): booth booth-gudao-1, clerks clerk-hekou-1 / clerk-dongying-1,");
        println!("  supervisor sup-dongying; service teacher-cert (教师资格认定确认)");
    }
    shutdown_signal().await;
    tracing::info!("shutdown requested");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
