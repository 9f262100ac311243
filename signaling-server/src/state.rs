//! State shared by every handler: the directory, accounts, token signer, catalog, this node's
//! connection hub and its inputs to the engine host. Immutable after start-up except the
//! connection counter (and the hub's registry).

use std::sync::Arc;
use std::time::Duration;

use protocol::rest::{Catalog, CatalogBooth, CatalogRegion, CatalogService};
use protocol::{BoothId, IceServer, RegionId, ServiceCode};
use routing::{Directory, RegionIdx};
use tokio::sync::mpsc;

use crate::config::Settings;
use desk::convert::level_out;
use gateway::auth::TokenSigner;
use host::commands::Command;

#[derive(Debug, Clone)]
pub struct SupervisorInfo {
    pub id: String,
    pub name: String,
    pub scope: RegionIdx,
}

pub struct Shared {
    pub directory: Arc<Directory>,
    pub catalog: Catalog,
    pub heartbeat_interval: Duration,
    pub history_sample_secs: u64,
    /// Applied-log entries between two snapshots (`[server] snapshot_every`).
    pub snapshot_every: u64,
    /// The routing engine's timeouts (the driver starts its engine, or a standby's, with them).
    pub engine_config: routing::EngineConfig,
    /// In cluster mode: this node's name and whether it is the router now.
    pub cluster: Option<Arc<host::role::NodeRole>>,
    pub cluster_config: host::role::ClusterConfig,
    pub tcp_nodelay: bool,
    pub supervisors: Vec<SupervisorInfo>,
    pub ice_servers: Vec<IceServer>,
    /// `[media]`: relay or peer to peer, recording.
    pub media: crate::media::MediaConfig,
    pub alerts: desk::alerts::AlertsConfig,
    /// Where call recordings are written (relay mode with recording on).
    pub recording_dir: std::path::PathBuf,
    /// The in-process media relay (relay mode).
    pub relay: Option<media_relay::Relay>,
    pub turn: Option<crate::turn::TurnConfig>,
    pub docs: Arc<crate::documents::DocStore>,
    /// Case records, ratings, forced states, ticket events and the grid's counts, in the
    /// records store (`[database] url`).
    pub records: Arc<crate::records::Records>,
    /// How long case records (and ratings and ticket events) are kept.
    pub case_retention_days: u64,
    /// Bounds how many photos are processed at once (the pipeline's blocking pool).
    pub doc_pool: tokio::sync::Semaphore,
    /// The engine host on this node (queries, and the router's own inputs).
    pub commands: mpsc::Sender<Command>,
    /// Document uploads being received or processed.
    pub upload_slots: Arc<tokio::sync::Semaphore>,
    /// Calls with an upload being received or processed (one per call at a time).
    pub uploading_calls: Arc<std::sync::Mutex<std::collections::HashSet<u64>>>,
    /// The gateway's share: tokens, bounds, this node's sockets and its inputs to the engine host.
    pub edge: Arc<gateway::edge::Edge>,
}

impl Shared {
    pub fn new(
        settings: Settings,
        directory: Arc<Directory>,
        commands: mpsc::Sender<Command>,
        inputs: Option<mpsc::Sender<host::bus::GatewayInput>>,
    ) -> std::io::Result<Self> {
        let url =
            settings.file.database.url.clone().unwrap_or_else(|| {
                format!("sqlite://{}", settings.file.documents.data_dir.join("xiaowu.db").display())
            });
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
        let docs = Arc::new(crate::documents::DocStore::new(
            records.store().clone(),
            settings.file.documents.clone(),
            records.boot(),
        ));
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
        Ok(Self {
            upload_slots: Arc::new(tokio::sync::Semaphore::new(limits.effective_max_pending_uploads())),
            uploading_calls: Arc::default(),
            docs,
            records,
            case_retention_days: f.database.case_retention_days,
            doc_pool,
            catalog,
            heartbeat_interval: Duration::from_secs(f.server.heartbeat_interval_secs),
            history_sample_secs: f.server.history_sample_secs,
            snapshot_every: f.server.snapshot_every.max(100),
            engine_config: settings.engine.clone(),
            cluster_config: f.cluster.clone(),
            cluster,
            edge,
            tcp_nodelay: f.server.tcp_nodelay,
            ice_servers: f.ice_servers.clone(),
            media: f.media.clone(),
            alerts: f.alerts.clone(),
            recording_dir: f.media.recording_dir(&f.documents.data_dir),
            relay: crate::media::start_relay(&f.media, &f.documents.data_dir, commands.clone()),
            turn: f.turn.clone(),
            supervisors,
            directory,
            commands,
        })
    }

    pub fn supervisor_idx(&self, id: &str) -> Option<usize> {
        self.edge.supervisor_idx(id)
    }
}
