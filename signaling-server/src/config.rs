//! Configuration: one TOML file (or the embedded demo) turned into validated settings and the
//! routing directory. Every error names the file, the entry and the problem.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use protocol::{IceServer, RegionLevel};
use routing::{Directory, DirectoryBuilder, DirectoryError, EngineConfig, Level, Service};
use serde::Deserialize;

use gateway::auth::SecretHash;

/// The demo configuration compiled into the binary, used when no `--config` is given.
pub const DEMO_CONFIG: &str = include_str!("../config/demo.toml");
pub const DEMO_CONFIG_NAME: &str = "<embedded demo config>";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub routing: RoutingSection,
    #[serde(default)]
    pub ice_servers: Vec<IceServer>,
    /// Per-call TURN credentials (coturn `use-auth-secret`); none when absent.
    pub turn: Option<crate::turn::TurnConfig>,
    /// Where document photos are stored, and for how long.
    #[serde(default)]
    pub documents: crate::documents::DocumentsConfig,
    /// Bounds on connections, messages, logins and uploads.
    #[serde(default)]
    pub limits: gateway::limits::LimitsConfig,
    /// Where durable records go.
    #[serde(default)]
    pub database: DatabaseSection,
    /// How document photos are sealed at rest: the cipher and the master key's file.
    #[serde(default)]
    pub storage: host::at_rest::StorageConfig,
    /// How calls' media travel: through the server's media relay (recorded) or peer to peer.
    #[serde(default)]
    pub media: crate::media::MediaConfig,
    /// Cluster mode on Redis (absent: a single node with its routing log in a file).
    #[serde(default)]
    pub cluster: host::role::ClusterConfig,
    /// When the supervisors are alerted.
    #[serde(default)]
    pub alerts: desk::alerts::AlertsConfig,
    pub regions: Vec<RegionEntry>,
    pub services: Vec<ServiceEntry>,
    #[serde(default)]
    pub booths: Vec<BoothEntry>,
    #[serde(default)]
    pub clerks: Vec<ClerkEntry>,
    #[serde(default)]
    pub supervisors: Vec<SupervisorEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub listen: String,
    pub heartbeat_interval_secs: u64,
    pub heartbeat_timeout_secs: u64,
    pub token_ttl_secs: u64,
    /// Key for signing tokens; when absent, one is generated at first start and kept in
    /// `<documents.data_dir>/token.key` (so tokens outlive a restart).
    pub token_secret: Option<String>,
    /// How often the supervisors' waiting chart takes a sample (an hour of them is kept).
    pub history_sample_secs: u64,
    /// `TCP_NODELAY` on accepted sockets (default on). Off only to measure what Nagle's algorithm
    /// costs: a message right after another then waits for the client's delayed ACK.
    pub tcp_nodelay: bool,
    /// Keep the applied routing log (`routing.log` under `documents.data_dir`) and replay it at
    /// start, so that waiting citizens keep their tickets across a crash (default on).
    pub routing_log: bool,
    /// The router writes a snapshot of its state into the applied log every this many entries;
    /// a replay (a restart, a standby joining) starts from the last one.
    pub snapshot_every: u64,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            heartbeat_interval_secs: 10,
            heartbeat_timeout_secs: 30,
            token_ttl_secs: 12 * 3600,
            token_secret: None,
            history_sample_secs: 10,
            tcp_nodelay: true,
            routing_log: true,
            snapshot_every: 50_000,
        }
    }
}

/// `[database]`: `url = "sqlite:///var/lib/xiaowu/xiaowu.db"` or `"postgres://user@host:5432/xiaowu"`;
/// without it, `sqlite://<documents.data_dir>/xiaowu.db`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    pub url: Option<String>,
    /// Case records, ratings and ticket events older than this are deleted (10 years by default;
    /// 办件 records are kept for years).
    pub case_retention_days: u64,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self { url: None, case_retention_days: 3650 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSection {
    pub offer_timeout_secs: f64,
    pub max_missed_offers: u32,
    pub booth_grace_secs: f64,
    /// A clerk whose connection drops keeps a call or wrap-up this long (then is signed out).
    pub clerk_grace_secs: f64,
    pub wrap_up_max_secs: f64,
    pub max_wait_secs: f64,
    pub no_clerk_grace_secs: f64,
    /// A call whose media is not up on both sides by then ends as media_failed (re-queued at head).
    pub media_timeout_secs: f64,
    /// Default widening thresholds (waited seconds for step 1, 2, 3…).
    pub widen_after_secs: Vec<f64>,
}

impl Default for RoutingSection {
    fn default() -> Self {
        Self {
            offer_timeout_secs: 20.0,
            max_missed_offers: 2,
            booth_grace_secs: 30.0,
            clerk_grace_secs: 15.0,
            wrap_up_max_secs: 120.0,
            max_wait_secs: 1800.0,
            no_clerk_grace_secs: 60.0,
            media_timeout_secs: 15.0,
            widen_after_secs: vec![30.0, 90.0, 180.0],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionEntry {
    pub id: String,
    pub name: String,
    pub level: RegionLevel,
    pub parent: Option<String>,
    #[serde(default)]
    pub partners: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub category: String,
    pub levels: Vec<RegionLevel>,
    #[serde(default = "default_target")]
    pub target_answer_secs: u32,
    #[serde(default = "default_handle")]
    pub expected_handle_secs: u32,
    pub widen_after_secs: Option<Vec<f64>>,
    /// Documents the citizen should have at hand (`id_front`, `id_back`, `hukou_cover`,
    /// `hukou_self`, `diploma`, `other`), shown by the kiosk before queuing.
    #[serde(default)]
    pub materials: Vec<protocol::DocType>,
}

fn default_target() -> u32 {
    60
}
fn default_handle() -> u32 {
    300
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoothEntry {
    pub id: String,
    pub name: String,
    pub region: String,
    pub kind: BoothKind,
    pub secret_hash: String,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BoothKind {
    TownCentre,
    VillageStation,
    Bank,
    PostOffice,
    PowerOffice,
}

impl BoothKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BoothKind::TownCentre => "town_centre",
            BoothKind::VillageStation => "village_station",
            BoothKind::Bank => "bank",
            BoothKind::PostOffice => "post_office",
            BoothKind::PowerOffice => "power_office",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClerkEntry {
    pub id: String,
    pub name: String,
    pub hall: String,
    pub skills: Vec<String>,
    pub secret_hash: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorEntry {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub secret_hash: String,
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("config {file}: {entry}: {problem}")]
pub struct ConfigError {
    pub file: String,
    pub entry: String,
    pub problem: String,
}

/// Everything the server needs, validated.
#[derive(Debug)]
pub struct Settings {
    pub source: String,
    pub file: FileConfig,
    pub directory: Directory,
    pub engine: EngineConfig,
    pub booth_secrets: Vec<SecretHash>,
    pub clerk_secrets: Vec<SecretHash>,
    pub supervisor_secrets: Vec<SecretHash>,
}

impl Settings {
    pub fn demo() -> Self {
        Self::parse(DEMO_CONFIG, DEMO_CONFIG_NAME).expect("the embedded demo config is valid (tested)")
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: name.clone(),
            entry: "(file)".into(),
            problem: e.to_string(),
        })?;
        Self::parse(&text, &name)
    }

    pub fn parse(text: &str, name: &str) -> Result<Self, ConfigError> {
        let err = |entry: String, problem: String| ConfigError { file: name.to_owned(), entry, problem };
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let entry = match e.span() {
                Some(span) => format!("line {}", text[..span.start].matches('\n').count() + 1),
                None => "(document)".into(),
            };
            err(entry, e.message().to_owned())
        })?;
        let secs = |entry: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(err(format!("routing.{entry}"), format!("must be a non-negative number, got {v}")))
            }
        };
        let r = &file.routing;
        let engine = EngineConfig {
            offer_timeout: secs("offer_timeout_secs", r.offer_timeout_secs)?,
            max_missed_offers: r.max_missed_offers.max(1),
            booth_grace: secs("booth_grace_secs", r.booth_grace_secs)?,
            clerk_grace: secs("clerk_grace_secs", r.clerk_grace_secs)?,
            wrap_up_max: secs("wrap_up_max_secs", r.wrap_up_max_secs)?,
            max_wait: secs("max_wait_secs", r.max_wait_secs)?,
            no_clerk_grace: secs("no_clerk_grace_secs", r.no_clerk_grace_secs)?,
            media_timeout: secs("media_timeout_secs", r.media_timeout_secs)?,
            first_ticket: 1,
            first_call: 1,
        };
        let default_widen =
            r.widen_after_secs.iter().map(|v| secs("widen_after_secs", *v)).collect::<Result<Vec<_>, _>>()?;

        let mut b = DirectoryBuilder::default();
        for reg in &file.regions {
            let partners: Vec<&str> = reg.partners.iter().map(String::as_str).collect();
            b.region(&reg.id, &reg.name, level(reg.level), reg.parent.as_deref(), &partners);
        }
        for (i, s) in file.services.iter().enumerate() {
            let entry = || format!("services[{i}] ({})", s.code);
            let widen_after = match &s.widen_after_secs {
                Some(v) => v
                    .iter()
                    .map(|x| secs("widen_after_secs", *x).map_err(|e| err(entry(), e.problem)))
                    .collect::<Result<Vec<_>, _>>()?,
                None => default_widen.clone(),
            };
            if s.name.trim().is_empty() {
                return Err(err(entry(), "name is empty".into()));
            }
            b.service(Service {
                code: s.code.clone(),
                name: s.name.clone(),
                levels: s.levels.iter().map(|l| level(*l)).collect(),
                widen_after,
                target_answer: Duration::from_secs(s.target_answer_secs.into()),
                expected_handle: Duration::from_secs(s.expected_handle_secs.into()),
            });
        }
        for bo in &file.booths {
            b.booth(&bo.id, &bo.name, &bo.region);
        }
        for c in &file.clerks {
            let skills: Vec<&str> = c.skills.iter().map(String::as_str).collect();
            b.clerk(&c.id, &c.name, &c.hall, &skills);
        }
        let directory = b.build().map_err(|e| directory_error(&file, e, name))?;

        let mut seen = HashSet::new();
        for (i, s) in file.supervisors.iter().enumerate() {
            let entry = format!("supervisors[{i}] ({})", s.id);
            if !seen.insert(s.id.clone()) {
                return Err(err(entry, "duplicate id".into()));
            }
            if directory.region_idx(&s.scope).is_none() {
                return Err(err(entry, format!("unknown scope region `{}`", s.scope)));
            }
        }
        let hashes = |kind: &str, list: Vec<(&str, &str)>| {
            list.into_iter()
                .enumerate()
                .map(|(i, (id, h))| {
                    SecretHash::parse(h).map_err(|p| err(format!("{kind}[{i}] ({id})"), format!("secret_hash: {p}")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let booth_secrets =
            hashes("booths", file.booths.iter().map(|x| (x.id.as_str(), x.secret_hash.as_str())).collect())?;
        let clerk_secrets =
            hashes("clerks", file.clerks.iter().map(|x| (x.id.as_str(), x.secret_hash.as_str())).collect())?;
        let supervisor_secrets =
            hashes("supervisors", file.supervisors.iter().map(|x| (x.id.as_str(), x.secret_hash.as_str())).collect())?;
        if file.server.heartbeat_interval_secs == 0
            || file.server.heartbeat_timeout_secs <= file.server.heartbeat_interval_secs
        {
            return Err(err("server".into(), "heartbeat_timeout_secs must exceed heartbeat_interval_secs > 0".into()));
        }
        if !(1..=600).contains(&file.server.history_sample_secs) {
            return Err(err("server".into(), "history_sample_secs must be between 1 and 600".into()));
        }
        if let Some(problem) = file.media.check() {
            return Err(err("media".into(), problem.into()));
        }
        if let Some(problem) = file.alerts.check() {
            return Err(err("alerts".into(), problem.into()));
        }
        if let Some(problem) = file.storage.problem() {
            return Err(err("storage".into(), problem.into()));
        }
        Ok(Self { source: name.to_owned(), file, directory, engine, booth_secrets, clerk_secrets, supervisor_secrets })
    }
}

fn level(l: RegionLevel) -> Level {
    match l {
        RegionLevel::Province => Level::Province,
        RegionLevel::City => Level::City,
        RegionLevel::County => Level::County,
        RegionLevel::Town => Level::Town,
        RegionLevel::Village => Level::Village,
    }
}

/// Maps a directory error to the config entry it came from.
fn directory_error(file: &FileConfig, e: DirectoryError, name: &str) -> ConfigError {
    let (section, id) = match &e {
        DirectoryError::Duplicate { kind, id } | DirectoryError::UnknownReference { kind, id, .. } => {
            (*kind, id.clone())
        }
        DirectoryError::BadRegion { id, .. } => ("region", id.clone()),
        DirectoryError::BadService { id, .. } => ("service", id.clone()),
    };
    let index = match section {
        "region" => file.regions.iter().rposition(|r| r.id == id),
        "service" => file.services.iter().rposition(|s| s.code == id),
        "booth" => file.booths.iter().rposition(|b| b.id == id),
        _ => file.clerks.iter().rposition(|c| c.id == id),
    };
    let entry = match index {
        Some(i) => format!("{section}s[{i}] ({id})"),
        None => format!("{section} {id}"),
    };
    ConfigError { file: name.to_owned(), entry, problem: e.to_string() }
}
