//! The server's shared state, built from the settings: the host's share (`host::state::Shared`:
//! directory, records, documents, relay, hub — what the driver reads), the gateway's (`Edge`:
//! accounts, tokens, bounds), and what only the REST handlers read (the catalog, upload slots).

use std::sync::Arc;
use std::time::Duration;

use protocol::rest::{Catalog, CatalogBooth, CatalogRegion, CatalogService};
use protocol::{BoothId, RegionId, ServiceCode};
use routing::Directory;
use tokio::sync::mpsc;

use crate::config::Settings;
use desk::convert::level_out;
use gateway::auth::TokenSigner;
use host::commands::Command;

pub use host::state::SupervisorInfo;

pub use gateway::state::{AppState, Shared};

/// Builds the server's shared state from its settings: opens the records store, starts the media
/// relay (relay mode), and splits the state into the host's share, the gateway's and the REST
/// handlers'.
pub fn build(
    settings: Settings,
    directory: Arc<Directory>,
    commands: mpsc::Sender<Command>,
    inputs: Option<mpsc::Sender<host::bus::GatewayInput>>,
) -> std::io::Result<Shared> {
    let url = settings
        .file
        .database
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", settings.file.documents.data_dir.join("xiaowu.db").display()));
    // On a plain thread: the PostgreSQL client runs its own small runtime and must not be
    // started from inside tokio's (the server's handlers reach it through spawn_blocking).
    let records = std::thread::scope(|s| {
        s.spawn(|| {
            let store = store::Store::open_url(&url).map_err(|e| std::io::Error::other(e.bilingual()))?;
            let records = crate::records::Records::open(Arc::new(store))?;
            records.health().set_bound(settings.file.limits.records_queue);
            Ok::<_, std::io::Error>(records)
        })
        .join()
        .map_err(|_| std::io::Error::other("opening the records store panicked"))?
    })?;
    let records = Arc::new(records);
    let records_boot = records.boot();
    let vault = Arc::new(open_vault(&settings)?);
    let docs = Arc::new(crate::documents::DocStore::new(
        records.store().clone(),
        settings.file.documents.clone(),
        records.boot(),
        vault.clone(),
    ));
    // Blobs an earlier version wrote in clear are sealed before anything is served.
    let sealed = std::thread::scope(|s| s.spawn(|| docs.seal_blobs_in_clear()).join())
        .map_err(|_| std::io::Error::other("sealing stored documents panicked"))?
        .map_err(|e| std::io::Error::other(e.bilingual()))?;
    if sealed > 0 {
        tracing::info!(blobs = sealed, "document bytes stored in clear by an earlier version are now sealed");
    }
    let doc_pool = tokio::sync::Semaphore::new(settings.file.documents.max_parallel.max(1));
    let f = &settings.file;
    let catalog = Catalog {
        regions: f
            .regions
            .iter()
            .map(|r| CatalogRegion {
                id: RegionId::new(r.id.clone()),
                name: r.name.clone(),
                level: r.level,
                parent: r.parent.clone().map(RegionId::new),
            })
            .collect(),
        services: f
            .services
            .iter()
            .zip(&directory.services)
            .map(|(s, d)| CatalogService {
                code: ServiceCode::new(s.code.clone()),
                name: s.name.clone(),
                name_en: s.name_en.clone(),
                category: s.category.clone(),
                levels: d.levels.iter().map(|l| level_out(*l)).collect(),
                target_answer_secs: s.target_answer_secs,
                materials: s.materials.iter().map(|d| protocol::rest::Material::of(*d)).collect(),
                clerks_signed_in: None,
            })
            .collect(),
        booths: f
            .booths
            .iter()
            .map(|b| CatalogBooth {
                id: BoothId::new(b.id.clone()),
                name: b.name.clone(),
                region: RegionId::new(b.region.clone()),
                kind: b.kind.as_str().to_owned(),
            })
            .collect(),
    };
    let supervisors = f
        .supervisors
        .iter()
        .map(|s| SupervisorInfo {
            id: s.id.clone(),
            name: s.name.clone(),
            scope: directory.region_idx(&s.scope).expect("validated when the config was loaded"),
        })
        .collect();
    let signer = match &f.server.token_secret {
        Some(key) => TokenSigner::new(key.as_bytes()),
        // Kept under the data directory, so a restart does not sign every open page out.
        None => TokenSigner::persisted(&f.documents.data_dir)?,
    };
    let cluster = f.cluster.redis_url.as_ref().map(|_| {
        let node = f.cluster.node_id.clone().unwrap_or_else(|| format!("node-{}", std::process::id()));
        Arc::new(host::role::NodeRole::new(node))
    });
    let limits = f.limits.clone();
    let edge = Arc::new(gateway::edge::Edge::new(gateway::edge::EdgeConfig {
        directory: directory.clone(),
        supervisor_ids: f.supervisors.iter().map(|s| s.id.clone()).collect(),
        accounts: gateway::edge::Accounts {
            booths: settings.booth_secrets,
            clerks: settings.clerk_secrets,
            supervisors: settings.supervisor_secrets,
            supervisor_names: f.supervisors.iter().map(|s| s.name.clone()).collect(),
        },
        signer,
        token_ttl: Duration::from_secs(f.server.token_ttl_secs),
        heartbeat_timeout: Duration::from_secs(f.server.heartbeat_timeout_secs),
        gateway: match &cluster {
            Some(role) => format!("{}:{records_boot}", role.node),
            None => "local".into(),
        },
        inputs: match inputs {
            Some(tx) => host::commands::Inputs::Cluster(tx),
            None => host::commands::Inputs::Local(commands.clone()),
        },
        clustered: cluster.is_some(),
        limits: limits.clone(),
        first_conn_id: crate::records::id_base(records_boot),
    }));
    let host = Arc::new(host::state::Shared {
        docs,
        records,
        heartbeat_interval: Duration::from_secs(f.server.heartbeat_interval_secs),
        history_sample_secs: f.server.history_sample_secs,
        snapshot_every: f.server.snapshot_every.max(100),
        engine_config: settings.engine.clone(),
        cluster,
        ice_servers: f.ice_servers.clone(),
        media: f.media.clone(),
        alerts: f.alerts.clone(),
        recording_dir: f.media.recording_dir(&f.documents.data_dir),
        relay: crate::media::start_relay(&f.media, &f.documents.data_dir, commands.clone(), vault.clone()),
        vault,
        turn: f.turn.clone(),
        supervisors,
        directory,
        commands,
        hub: edge.hub.clone(),
        gateway: edge.gateway.clone(),
    });
    Ok(Shared {
        host,
        edge,
        upload_slots: Arc::new(tokio::sync::Semaphore::new(limits.effective_max_pending_uploads())),
        uploading_calls: Arc::default(),
        case_retention_days: f.database.case_retention_days,
        doc_pool,
        catalog,
        cluster_config: f.cluster.clone(),
        tcp_nodelay: f.server.tcp_nodelay,
    })
}

/// The vault that seals document bytes: `[storage]`'s cipher and the master key (see
/// `host::at_rest` for where it comes from). A key that cannot be read or made stops the start.
fn open_vault(settings: &Settings) -> std::io::Result<vault::Vault> {
    let f = &settings.file;
    let cluster_secret = f.cluster.redis_url.as_ref().and(f.server.token_secret.as_deref()).map(str::as_bytes);
    let (vault, source) = host::at_rest::open_vault(&f.storage, &f.documents.data_dir, cluster_secret)
        .map_err(|e| std::io::Error::other(format!("无法读取或创建主密钥 / the master key: {e}")))?;
    match source {
        host::at_rest::KeySource::File { path, created: true } => tracing::warn!(
            file = %path.display(),
            "a new master key was made: it opens every stored document; keep it apart from the data's backups"
        ),
        source => tracing::info!(?source, key = vault.master_id(), cipher = vault.cipher().name(), "master key loaded"),
    }
    Ok(vault)
}
