//! Value types shared by client and server messages.

use serde::{Deserialize, Serialize};

use crate::ids::{RegionId, ServiceCode};

/// Who is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Booth,
    Clerk,
    Supervisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Booth => "booth",
            Role::Clerk => "clerk",
            Role::Supervisor => "supervisor",
        }
    }
}

/// Priority class of a ticket; higher classes are served first, then the earliest ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Normal,
    /// Elderly or disabled citizen (适老 / 助残).
    Elderly,
    /// The citizen booked this slot in advance (预约).
    Appointment,
}

/// Administrative level of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    County,
    Town,
    Village,
}

/// A clerk's state as the server sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClerkState {
    Offline,
    Available,
    Offered,
    InCall,
    WrapUp,
    Away,
}

/// Why a clerk is away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwayReason {
    /// Just signed in, not yet available.
    SignedIn,
    Break,
    Meal,
    Meeting,
    Training,
    /// Back-office work (后台办件).
    Paperwork,
    /// Two offers in a row went unanswered.
    MissedOffers,
    /// A supervisor set this state.
    Supervisor,
    /// The clerk's connection dropped; available again on return within the grace period.
    Disconnected,
    /// In another clerk's call as its invited third party (`join_call`); available again when it
    /// leaves.
    Assisting,
}

impl AwayReason {
    /// Whether a clerk may give this reason in `set_state`. `signed_in`, `missed_offers`,
    /// `supervisor` and `disconnected` are set by the server only: a clerk must not make a break
    /// look like an order.
    pub fn clerk_may_claim(self) -> bool {
        matches!(self, Self::Break | Self::Meal | Self::Meeting | Self::Training | Self::Paperwork)
    }
}

/// What a clerk may ask to become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClerkTargetState {
    Available,
    Away,
}

/// Where a live ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Waiting,
    /// A clerk is being asked; the citizen keeps their place if the clerk declines.
    Offered,
    Connected,
}

/// How a ticket ended. Every ticket ends exactly once with one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketEndReason {
    Served,
    Cancelled,
    BoothLost,
    NoClerk,
    Expired,
    ServerShutdown,
}

impl TicketEndReason {
    /// Chinese and English texts for the booth screen.
    pub fn messages(self) -> (&'static str, &'static str) {
        use TicketEndReason::*;
        match self {
            Served => ("办理结束，感谢您的使用", "Service finished. Thank you."),
            Cancelled => ("您已取消排队", "You cancelled the request."),
            BoothLost => ("终端连接中断时间过长，排队已取消", "The booth was offline too long; the ticket was closed."),
            NoClerk => (
                "当前没有可办理该事项的工作人员，请稍后再来或预约",
                "No clerk for this service is signed in now; please come back later or book an appointment.",
            ),
            Expired => {
                ("等待时间过长，排队已结束，请重新取号", "The wait exceeded the limit; please take a new ticket.")
            }
            ServerShutdown => (
                "系统维护，排队已结束，请稍后重新取号",
                "The system is restarting for maintenance; please take a new ticket shortly.",
            ),
        }
    }
}

/// Something the booth should tell the citizen about a still-open ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketNotice {
    /// The clerk's connection was lost mid-call; the ticket is back at the head of its queue.
    ClerkLostRequeued,
    /// The booth reconnected within the grace period; the ticket kept its place.
    Resumed,
    /// The call's media could not be connected; the ticket is back at the head of the queue.
    MediaFailedRequeued,
    /// The clerk sent the citizen to another service item's queue (the status's `service`), at
    /// its head.
    Transferred,
}

impl TicketNotice {
    pub fn messages(self) -> (&'static str, &'static str) {
        match self {
            TicketNotice::ClerkLostRequeued => (
                "工作人员连接中断，您已回到队首，请稍候",
                "The clerk was disconnected; you are back at the head of the queue.",
            ),
            TicketNotice::Resumed => {
                ("网络已恢复，您的排队位置已保留", "Reconnected; your place in the queue was kept.")
            }
            TicketNotice::MediaFailedRequeued => (
                "视频连接未能建立，您已回到队首，请稍候",
                "The video connection could not be set up; you are back at the head of the queue.",
            ),
            TicketNotice::Transferred => (
                "工作人员已为您转到其他事项办理，您排在队首，请稍候",
                "The clerk moved your request to another service item; you are first in line.",
            ),
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEndReason {
    HungUpByBooth,
    HungUpByClerk,
    /// The booth stayed disconnected past the grace period.
    BoothLost,
    /// The clerk disconnected; the citizen goes back to the head of the queue.
    ClerkLost,
    /// The media never connected (or failed for good); the citizen goes back to the head.
    MediaFailed,
    /// To the first clerk of a transferred call: its part ended, the call goes on with another.
    Transferred,
    /// The clerk sent the citizen to another service item's queue, at its head.
    Requeued,
    ServerShutdown,
}

/// Kinds of document a clerk can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    /// 身份证正面
    IdFront,
    /// 身份证反面
    IdBack,
    /// 户口本首页
    HukouCover,
    /// 户口本本人页
    HukouSelf,
    /// 毕业证书
    Diploma,
    /// 其他
    Other,
}

impl DocType {
    /// Chinese and English names for screens.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            DocType::IdFront => ("身份证正面", "ID card, front"),
            DocType::IdBack => ("身份证反面", "ID card, back"),
            DocType::HukouCover => ("户口本首页", "Household register, cover page"),
            DocType::HukouSelf => ("户口本本人页", "Household register, own page"),
            DocType::Diploma => ("毕业证书", "Diploma"),
            DocType::Other => ("其他材料", "Other document"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DocType::IdFront => "id_front",
            DocType::IdBack => "id_back",
            DocType::HukouCover => "hukou_cover",
            DocType::HukouSelf => "hukou_self",
            DocType::Diploma => "diploma",
            DocType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DocType::IdFront, DocType::IdBack, DocType::HukouCover, DocType::HukouSelf, DocType::Diploma, DocType::Other]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// Why a citizen was not satisfied (asked with 不满意 / 非常不满意).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingReason {
    /// 等待时间太长
    LongWait,
    /// 问题没有解决
    NotResolved,
    /// 工作人员态度
    StaffAttitude,
    /// 声音或画面不清楚
    AudioVideo,
    /// 其他
    Other,
}

impl RatingReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RatingReason::LongWait => "long_wait",
            RatingReason::NotResolved => "not_resolved",
            RatingReason::StaffAttitude => "staff_attitude",
            RatingReason::AudioVideo => "audio_video",
            RatingReason::Other => "other",
        }
    }
}

/// The 5-level 好差评 rating, one per served ticket (一事一评).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// 非常满意
    VerySatisfied,
    /// 满意
    Satisfied,
    /// 基本满意
    Acceptable,
    /// 不满意
    Dissatisfied,
    /// 非常不满意
    VeryDissatisfied,
}

/// The clerk's outcome for a handled request (办理结果), recorded with the case at wrap-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseOutcome {
    /// 已办结: the matter was completed in the call.
    Completed,
    /// 已受理: accepted; the result follows later.
    Accepted,
    /// 材料不全: documents missing; the citizen comes back with them.
    MissingDocuments,
    /// 需到现场: the matter needs a visit to the hall.
    NeedsVisit,
    /// 转办: handed to another department.
    Referred,
    /// 咨询: a question answered, nothing to process.
    Consultation,
    /// 不予受理: not eligible.
    NotEligible,
    /// 未记录: wrap-up ended (time limit, supervisor, disconnect) before the clerk chose one.
    NotRecorded,
}

impl CaseOutcome {
    pub const ALL: [CaseOutcome; 8] = [
        CaseOutcome::Completed,
        CaseOutcome::Accepted,
        CaseOutcome::MissingDocuments,
        CaseOutcome::NeedsVisit,
        CaseOutcome::Referred,
        CaseOutcome::Consultation,
        CaseOutcome::NotEligible,
        CaseOutcome::NotRecorded,
    ];
}

/// Longest wrap-up note, in characters.
pub const MAX_CASE_NOTE_CHARS: usize = 500;

/// Waiting tickets in a supervisor's scope at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingPoint {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub waiting: u32,
}

/// A party's report on its media path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaState {
    Connected,
    Failed,
}

/// Why an offer was withdrawn from a clerk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferRevokeReason {
    Timeout,
    /// The clerk declined (confirmation to that clerk).
    Declined,
    CancelledByCitizen,
    BoothLost,
    /// The booth's connection dropped while the offer was out; the citizen keeps their place and
    /// is offered again once the booth is back.
    BoothAway,
    Expired,
    /// The clerk's console disconnected while the offer was out.
    ClerkLost,
    ServerShutdown,
}

/// How a call's media travels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaMode {
    /// Through the server's media relay (recorded, can be monitored and joined).
    #[default]
    Relay,
    /// Directly between the parties (or through TURN).
    P2p,
}

/// Session description kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SdpKind {
    Offer,
    Answer,
}

/// One STUN or TURN server, in the shape of the browser's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The other party of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub role: Role,
    pub id: String,
    pub display_name: String,
}

/// A clerk as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClerkRow {
    pub clerk: String,
    pub name: String,
    pub hall: RegionId,
    pub hall_name: String,
    pub state: ClerkState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<AwayReason>,
    pub secs_in_state: u32,
    /// Today (China time): calls handled, their average handling time (talk + wrap-up, seconds),
    /// offers missed (not answered in time), ratings received, and of those 不满意 or worse.
    #[serde(default)]
    pub calls_today: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_handle_secs: Option<u32>,
    #[serde(default)]
    pub missed_offers_today: u32,
    #[serde(default)]
    pub ratings_today: u32,
    #[serde(default)]
    pub bad_ratings_today: u32,
}

/// Load of one queue: one service item at one hall (region).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueLoadRow {
    pub region: RegionId,
    pub region_name: String,
    pub service: ServiceCode,
    pub service_name: String,
    /// Tickets whose home queue is this hall.
    pub waiting: u32,
    /// Longest current wait among them, in seconds.
    pub longest_wait_secs: u32,
    /// Signed-in clerks of this hall with the skill, in any state but offline.
    pub clerks_eligible: u32,
    pub clerks_available: u32,
    pub clerks_offered: u32,
    pub clerks_in_call: u32,
    pub clerks_wrap_up: u32,
    pub clerks_away: u32,
    /// Waiting tickets of this hall already offered to wider steps.
    pub overflowing: u32,
    /// Tickets of this queue answered today (China time; since the server started if later)…
    #[serde(default)]
    pub answered_today: u32,
    /// …of those, answered within the service's target answer time.
    #[serde(default)]
    pub answered_within_target_today: u32,
    /// Service level = answered within target ÷ answered, today; `None` before the first answer.
    #[serde(default)]
    pub service_level: Option<f64>,
    /// The city the hall belongs to (the hall itself for a city's hall; absent for a province's
    /// own hall): a province supervisor's grid rolls up by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<RegionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city_name: Option<String>,
}

/// How a booth's camera or microphone works, as the kiosk last found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// It opened and gives a picture (or sound).
    Ok,
    /// None is attached.
    Missing,
    /// The browser or the system refused access.
    Denied,
    /// It is there but would not open (in use, broken).
    Failed,
}

/// One booth of a supervisor's scope and whether it is online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoothRow {
    pub booth: String,
    pub name: String,
    pub region: RegionId,
    pub online: bool,
    /// Offline: since when (Unix seconds), when the server saw it go (absent for a booth not seen
    /// since the server started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_since_unix: Option<u64>,
    /// The camera as the booth last reported it (`device_status`); absent if it never did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<DeviceState>,
    /// The microphone, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microphone: Option<DeviceState>,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A queue's longest wait is past its item's target answer time.
    QueueOverTarget,
    /// A queue answered fewer than the goal's share within target over the last hour.
    ServiceLevelLow,
    /// A clerk has been away longer than the limit.
    ClerkAwayLong,
    /// A booth has been offline longer than the limit during opening hours.
    BoothOffline,
    /// A booth is online but reported its camera or microphone not working.
    BoothDevice,
}

/// One standing alert on the supervisors' dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    /// The queue's hall, the clerk's hall or the booth's region.
    pub region: RegionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booth: Option<String>,
    /// When it was raised (Unix seconds).
    pub since_unix: u64,
    /// Its measure: seconds waited, away or offline, the service level (0–1), or for a device
    /// 0.
    pub value: f64,
    pub message_zh: String,
    pub message_en: String,
}
