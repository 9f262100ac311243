//! Bodies of the REST endpoints (`/api/login`, `/api/catalog`, `/api/queues`, `/api/cases`, documents).

use serde::{Deserialize, Serialize};

use crate::ids::{BoothId, RegionId, ServiceCode};
use crate::types::{CallEndReason, CaseOutcome, QueueLoadRow, Rating, RegionLevel, Role};

/// `POST /api/login` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub role: Role,
    pub id: String,
    /// The account's secret; a kiosk set up once signs in with `device_token` instead.
    #[serde(default)]
    pub secret: String,
    /// A booth's device token (`POST /api/devices`), instead of the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

/// `POST /api/login` response: a signed token to present in `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
    pub role: Role,
    pub id: String,
    pub display_name: String,
    pub expires_at_unix: u64,
}

/// `GET /api/catalog`: what booths show and clients script against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub regions: Vec<CatalogRegion>,
    pub services: Vec<CatalogService>,
    pub booths: Vec<CatalogBooth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogRegion {
    pub id: RegionId,
    pub name: String,
    pub level: RegionLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<RegionId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogService {
    pub code: ServiceCode,
    pub name: String,
    pub name_en: String,
    pub category: String,
    pub levels: Vec<RegionLevel>,
    pub target_answer_secs: u32,
    /// The documents to have at hand (the kiosk shows them before the citizen queues).
    #[serde(default)]
    pub materials: Vec<Material>,
    /// With `GET /api/catalog?booth=…` only: how many clerks who could serve this item for that
    /// booth are signed in now (0: a ticket would close `no_clerk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerks_signed_in: Option<u32>,
}

/// A document a service item needs, with its names for screens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Material {
    pub doc_type: crate::DocType,
    pub name_zh: String,
    pub name_en: String,
}

impl Material {
    pub fn of(doc_type: crate::DocType) -> Self {
        let (zh, en) = doc_type.names();
        Self { doc_type, name_zh: zh.to_owned(), name_en: en.to_owned() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogBooth {
    pub id: BoothId,
    pub name: String,
    pub region: RegionId,
    pub kind: String,
}

/// `GET /api/queues` response (supervisor token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueSnapshot {
    pub rows: Vec<QueueLoadRow>,
}

/// `POST /api/calls/{call}/documents?doc_type=…` response: the photo is stored (durably) and the
/// clerk has been told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentUploaded {
    pub document: crate::DocumentId,
    pub doc_type: crate::DocType,
    pub width: u32,
    pub height: u32,
    pub sha256_original: String,
    pub sha256_result: String,
}

/// Body of every REST error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub code: crate::ErrorCode,
    pub message_zh: String,
    pub message_en: String,
    /// With `too_many_attempts`, `server_busy` and `rate_limited`: seconds to wait before retrying
    /// (also in the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

/// A handled call's case record (办件记录), written when the clerk's wrap-up ends. Ids only: no
/// citizen data beyond what the clerk wrote in the note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// The case's id, unique across restarts: `<boot>-<n>`, the server start's number and the
    /// call's number within that start.
    #[serde(default)]
    pub id: String,
    /// The call's id (unique across restarts: `boot << 32 | n`).
    pub call: u64,
    /// The ticket's id (unique across restarts: `boot << 32 | n`).
    pub ticket: u64,
    pub service: String,
    pub booth: String,
    pub booth_region: String,
    pub clerk: String,
    pub hall: String,
    pub call_end: CallEndReason,
    pub ended_unix: u64,
    pub outcome: CaseOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub recorded_unix: u64,
    /// The citizen's rating of the ticket, when one was given (only in `GET /api/cases`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
    /// Why the citizen was not satisfied, when they said (only with a rating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_reason: Option<crate::RatingReason>,
}

/// `GET /api/cases`: a page of the case records the caller may see (a clerk: their own; a
/// supervisor: those whose hall or booth is in scope), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseList {
    pub cases: Vec<CaseRecord>,
    /// Present when the page is full: pass it as `cursor` for the next (older) page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /api/documents/{id}/reads`: every attempt to read a document, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentReads {
    pub document: String,
    pub reads: Vec<DocumentRead>,
}

/// One attempt to read a document or its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRead {
    /// `clerk:<id>`, `booth:<id>`, `supervisor:<id>`, or `anonymous` / `invalid_token`.
    pub who: String,
    /// `document` or `thumbnail`.
    pub what: String,
    pub allowed: bool,
    /// The address the request came from.
    pub from: String,
    pub at_ms: i64,
}

/// `GET /api/tickets/{id}/events`: one ticket's life, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvents {
    pub ticket: u64,
    /// The short number the kiosk showed.
    pub number: u32,
    pub events: Vec<TicketEvent>,
}

/// One step of a ticket: `requested`, `widened`, `offered`, `offer_revoked`, `requeued`,
/// `accepted`, `media_up`, `call_ended`, `closed`; `detail` names the parties and reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub seq: i64,
    pub at_ms: i64,
    pub kind: String,
    pub detail: serde_json::Value,
}

/// `GET /api/calls/{call}/recording/views`: every attempt to view a call's recording, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingViews {
    pub call: u64,
    pub views: Vec<RecordingView>,
}

/// One attempt to view a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingView {
    /// `clerk:<id>`, `supervisor:<id>`, … or `anonymous` / `invalid_token`.
    pub who: String,
    /// The `Range` header asked for, or `all`.
    pub range: String,
    pub allowed: bool,
    pub from: String,
    pub at_ms: u64,
}

/// `GET /api/calls?live=true`: the live calls in the supervisor's scope, by call id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCalls {
    pub calls: Vec<LiveCall>,
}

/// One live call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    pub call: u64,
    pub ticket: u64,
    pub service: String,
    pub service_name: String,
    pub booth: String,
    pub booth_name: String,
    pub booth_region: String,
    pub clerk: String,
    pub clerk_name: String,
    /// `relay` or `p2p`: only relayed calls can be monitored and are recorded.
    pub media: crate::MediaMode,
    pub recording: bool,
}

/// `GET /api/reports`: service figures per group, for the days `from` to `to` (China dates,
/// inclusive), over the tickets asked for in that time by booths in the supervisor's scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    /// What the rows are grouped by, in order: `hall`, `service`, and one of `hour`, `day`, `week`.
    pub group: Vec<String>,
    pub rows: Vec<ReportRow>,
    /// How each figure is computed, by name.
    pub formulas: std::collections::BTreeMap<String, String>,
}

/// `GET /api/alerts`: the supervisors' alerts raised and cleared in the days `from` to `to` (China
/// dates, inclusive), in the supervisor's scope, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertHistory {
    pub from: String,
    pub to: String,
    pub events: Vec<AlertEvent>,
    /// More events than the 1,000 returned: ask for a shorter range.
    pub truncated: bool,
}

/// One alert raised or cleared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// When (Unix ms).
    pub at_unix_ms: i64,
    /// `raised` or `cleared`.
    pub event: String,
    /// The alert as it was sent (`since_unix`: when it was raised; for a cleared one, `value` is
    /// its last measure).
    pub alert: crate::Alert,
}

/// `GET /api/reports/clerks`: where each clerk's signed-in time went, for the days `from` to `to`
/// (China dates, inclusive), for the clerks of the halls in the supervisor's scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkReport {
    pub from: String,
    pub to: String,
    /// `clerk`, then the period if one was asked for (`hour`, `day` or `week`).
    pub group: Vec<String>,
    pub rows: Vec<ClerkReportRow>,
    /// How each figure is computed, by name.
    pub formulas: std::collections::BTreeMap<String, String>,
}

/// One clerk's figures (over one period when grouped by one). Time is counted while signed in
/// and connected; a ratio over no time is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkReportRow {
    pub clerk: String,
    pub hall: String,
    /// When grouped by time: the period's start, `2026-12-01T09:00+08:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Calls finished (the clerk went on to wrap-up), counted in the period they ended.
    pub calls: u64,
    pub signed_in_secs: f64,
    pub available_secs: f64,
    /// Being offered a request (ringing).
    pub offered_secs: f64,
    pub talk_secs: f64,
    pub wrap_secs: f64,
    pub away_secs: f64,
    /// (talk + wrap-up) ÷ (available + offered + talk + wrap-up).
    pub occupancy: Option<f64>,
    /// (talk + wrap-up) ÷ calls.
    pub aht_secs: Option<f64>,
}

/// One group's figures. A rate or average over no tickets is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// The home hall (the hall nearest the booth that serves the item), when grouped by hall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// When grouped by time: the period's start, `2026-12-01T09:00+08:00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub no_clerk: u64,
    pub service_level: Option<f64>,
    pub asa_secs: Option<f64>,
    pub aht_secs: Option<f64>,
    pub avg_wait_secs: Option<f64>,
    pub p90_wait_secs: Option<f64>,
    pub overflow_rate: Option<f64>,
    pub local_served_rate: Option<f64>,
    pub requeues: u64,
    /// Ratings by value (`very_satisfied` … `very_dissatisfied`).
    pub ratings: std::collections::BTreeMap<String, u64>,
    pub rated: u64,
    pub bad_rating_rate: Option<f64>,
    pub estimate_mae_secs: Option<f64>,
    pub estimate_bias_secs: Option<f64>,
}

/// `GET /api/staffing`: clerks needed per hall × service × hour of the coming week (Erlang C).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Staffing {
    /// The Monday the week starts (China date).
    pub week: String,
    /// Weeks of history the arrivals and handling times are averaged over.
    pub history_weeks: u32,
    /// The service-level goal: this share answered within the item's target answer time.
    pub goal: f64,
    pub formula: String,
    pub rows: Vec<StaffingRow>,
}

/// One hall × service × hour with expected traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffingRow {
    pub hall: String,
    pub service: String,
    /// The hour's start in the coming week, `2026-11-30T09:00+08:00`.
    pub hour: String,
    /// Tickets expected in the hour: the average of that hour over the history weeks.
    pub arrivals_per_hour: f64,
    /// Average handling time (talk + wrap-up) of the hall's answered tickets of the item over the
    /// history weeks, or the item's expected handling time without any.
    pub aht_secs: f64,
    /// Offered traffic, A = arrivals × AHT / 3600.
    pub erlangs: f64,
    pub clerks_needed: u32,
    /// The service level and average speed of answer with that many clerks.
    pub service_level: f64,
    pub asa_secs: f64,
    /// Clerks of the hall with the item's skill signed in right now.
    pub clerks_signed_in_now: u32,
    /// Clerks of the hall with the item's skill signed in during that hour, on average (signed-in
    /// time ÷ one hour), for an hour that has begun; `null` for an hour to come.
    #[serde(default)]
    pub clerks_signed_in_then: Option<f64>,
}

/// `GET /api/cluster`: who routes, the fencing epoch, the applied log's length, and each node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterView {
    /// `single` (no Redis) or `cluster`.
    pub mode: String,
    /// The node holding the router lease, if any.
    pub router: Option<String>,
    pub epoch: u64,
    /// Entries in the applied log.
    pub log_length: u64,
    pub nodes: Vec<NodeView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeView {
    pub node: String,
    pub role: String,
    pub epoch: u64,
    pub applied: u64,
    /// Entries of the log this node has not applied yet.
    pub lag: u64,
    /// Milliseconds since its last heartbeat (over 3,000: the node is probably gone).
    pub last_seen_ms: u64,
}
