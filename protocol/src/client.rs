//! Messages from clients (booth, clerk, supervisor) to the server.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::ids::{CallId, DocumentId, OfferId, ServiceCode, TicketId};
use crate::types::{
    AwayReason, CaseOutcome, ClerkTargetState, DeviceState, DocType, MediaState, Priority, Rating, SdpKind,
};
use crate::MAX_MESSAGE_BYTES;

/// A message a client sends. The role allowed to send each one is noted; others get `forbidden`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message on every connection (all roles). `token` comes from `POST /api/login`.
    Hello { protocol_version: u32, token: String },
    /// Keep-alive (all roles); answered by `pong`.
    Ping {
        #[serde(default)]
        seq: u64,
    },
    /// Booth: take a ticket for a service item.
    RequestService {
        service: ServiceCode,
        #[serde(default)]
        priority: Priority,
    },
    /// Booth: leave the queue (or end the request before a clerk answers).
    CancelTicket { ticket: TicketId },
    /// Clerk: go available, or away with a reason.
    SetState {
        state: ClerkTargetState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<AwayReason>,
    },
    /// Clerk: take the offered ticket.
    AcceptOffer { offer: OfferId },
    /// Clerk: refuse the offered ticket; it goes to the next clerk and keeps its place.
    DeclineOffer { offer: OfferId },
    /// Clerk: wrap-up is done, back to available. The outcome and note are kept with the case
    /// (办件记录); without an outcome the case is recorded as `not_recorded`.
    EndWrapUp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<CaseOutcome>,
        /// Free text, at most [`crate::MAX_CASE_NOTE_CHARS`] characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Clerk, in wrap-up: what has been entered so far. If wrap-up then ends any other way than
    /// `end_wrap_up` — its time limit, `set_state`, a sign-out, a supervisor — the case is
    /// recorded with this outcome and note instead of `not_recorded`. No answer; refused with
    /// `wrong_state` outside wrap-up and `invalid_field` for a note over the limit.
    WrapUpDraft {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<CaseOutcome>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Either party of a call: a session description for the other party.
    Sdp { call: CallId, kind: SdpKind, sdp: String },
    /// Either party of a call: a trickled ICE candidate for the other party.
    IceCandidate {
        call: CallId,
        candidate: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u16>,
    },
    /// Either party of a call: end it.
    HangUp { call: CallId },
    /// Either party of a call: its media path is up, or failed for good.
    MediaState { call: CallId, state: MediaState },
    /// Clerk in a call (relay mode): invite another signed-in clerk to join as a third party —
    /// the one named (`clerk`), or the one the server picks for a service item (`service`: a
    /// colleague who handles it, or a helper of `assist`). Exactly one of the two.
    InviteToCall {
        call: CallId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clerk: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<ServiceCode>,
    },
    /// Clerk invited (`call_invitation`): join the call as its third party.
    JoinCall { call: CallId },
    /// The call's third party: leave it (available again).
    LeaveCall { call: CallId },
    /// Clerk in a call (relay mode): hand the call to another clerk (转接) — its third party
    /// after `invite_to_call` (warm: all three have talked), or a clerk who is available. The
    /// call, its ticket and its recording go on; the sender's part ends (`call_ended` with reason
    /// `transferred`, then wrap-up: a case of its own).
    TransferCall { call: CallId, clerk: String },
    /// Clerk in a call: end it and put the citizen at the head of another service item's queue
    /// (the citizen asked for the wrong item). The booth gets `call_ended` (`requeued`), then its
    /// ticket's status with the new service and notice `transferred`.
    RequeueCall { call: CallId, service: ServiceCode },
    /// Supervisor: watch and hear a live call of their scope without the parties noticing (relay
    /// mode). Answered by `monitor_started`, then the relay's SDP offer for this connection.
    MonitorCall { call: CallId },
    /// Supervisor: stop watching. Answered by `monitor_ended`.
    StopMonitoring { call: CallId },
    /// Supervisor: set a clerk of their scope available or away (recorded with who and why).
    ForceClerkState { clerk: String, state: ClerkTargetState, why: String },
    /// Booth: how its camera and microphone work — on every connect and whenever that changes.
    /// No answer; shown to the supervisors (`booth_list`) and raised as an alert when either
    /// does not work.
    DeviceStatus { camera: DeviceState, microphone: DeviceState },
    /// Booth: rate a served ticket, once (好差评, 一事一评). Answered by `rating_recorded`.
    RateService {
        ticket: TicketId,
        rating: Rating,
        /// With 不满意 / 非常不满意: why (optional).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<crate::RatingReason>,
    },
    /// Clerk in a call: ask the booth to photograph a document.
    RequestDocument { call: CallId, doc_type: DocType },
    /// Clerk in a call: accept a received document, or reject it with a reason (the booth re-shoots).
    ReviewDocument {
        document: DocumentId,
        accepted: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl ClientMessage {
    /// Decodes one text frame, refusing oversized frames before parsing them.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(DecodeError::TooLarge { size: text.len(), limit: MAX_MESSAGE_BYTES });
        }
        Ok(serde_json::from_str(text)?)
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("protocol messages always serialize: no maps with non-string keys")
    }

    /// Every value [`ClientMessage::kind`] can return (metrics create their series from it).
    pub const KINDS: &'static [&'static str] = &[
        "hello",
        "ping",
        "request_service",
        "cancel_ticket",
        "set_state",
        "accept_offer",
        "decline_offer",
        "end_wrap_up",
        "wrap_up_draft",
        "sdp",
        "ice_candidate",
        "hang_up",
        "media_state",
        "rate_service",
        "device_status",
        "force_clerk_state",
        "monitor_call",
        "invite_to_call",
        "join_call",
        "leave_call",
        "transfer_call",
        "requeue_call",
        "stop_monitoring",
        "request_document",
        "review_document",
    ];

    /// The `type` tag, for logs and error replies.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Hello { .. } => "hello",
            ClientMessage::Ping { .. } => "ping",
            ClientMessage::RequestService { .. } => "request_service",
            ClientMessage::CancelTicket { .. } => "cancel_ticket",
            ClientMessage::SetState { .. } => "set_state",
            ClientMessage::AcceptOffer { .. } => "accept_offer",
            ClientMessage::DeclineOffer { .. } => "decline_offer",
            ClientMessage::EndWrapUp { .. } => "end_wrap_up",
            ClientMessage::WrapUpDraft { .. } => "wrap_up_draft",
            ClientMessage::Sdp { .. } => "sdp",
            ClientMessage::IceCandidate { .. } => "ice_candidate",
            ClientMessage::HangUp { .. } => "hang_up",
            ClientMessage::MediaState { .. } => "media_state",
            ClientMessage::RateService { .. } => "rate_service",
            ClientMessage::DeviceStatus { .. } => "device_status",
            ClientMessage::ForceClerkState { .. } => "force_clerk_state",
            ClientMessage::MonitorCall { .. } => "monitor_call",
            ClientMessage::InviteToCall { .. } => "invite_to_call",
            ClientMessage::JoinCall { .. } => "join_call",
            ClientMessage::LeaveCall { .. } => "leave_call",
            ClientMessage::TransferCall { .. } => "transfer_call",
            ClientMessage::RequeueCall { .. } => "requeue_call",
            ClientMessage::StopMonitoring { .. } => "stop_monitoring",
            ClientMessage::RequestDocument { .. } => "request_document",
            ClientMessage::ReviewDocument { .. } => "review_document",
        }
    }
}
