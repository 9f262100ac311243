//! Messages from the server to clients.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::ids::{BoothId, CallId, DocumentId, OfferId, RegionId, ServiceCode, TicketId};
use crate::types::{
    AwayReason, CallEndReason, CaseOutcome, ClerkRow, ClerkState, DocType, IceServer, MediaMode, OfferRevokeReason,
    Peer, Priority, QueueLoadRow, Rating, Role, SdpKind, TicketEndReason, TicketNotice, TicketState, WaitingPoint,
};

/// A message the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Reply to a valid `hello`.
    Welcome {
        protocol_version: u32,
        role: Role,
        id: String,
        display_name: String,
        /// Send a `ping` at least this often; after three intervals of silence the server closes.
        heartbeat_interval_ms: u64,
    },
    Pong {
        seq: u64,
    },
    /// A request was refused; nothing changed.
    Error {
        code: ErrorCode,
        message_zh: String,
        message_en: String,
        /// The `type` of the refused message, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<String>,
    },
    /// Booth: the live state of its ticket; sent on every change of position or estimate.
    TicketStatus {
        ticket: TicketId,
        /// The short number the kiosk shows and speaks (“12号”). It counts from 1 again
        /// when the server restarts; `ticket` is the id, unique for ever.
        number: u32,
        service: ServiceCode,
        state: TicketState,
        /// 1 = next. Present while waiting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        /// Present while waiting and a clerk for the service is signed in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimated_wait_secs: Option<u32>,
        waited_secs: u32,
        /// Set once, on the status that follows a re-queue or a resume.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notice: Option<TicketNotice>,
    },
    /// Booth: the ticket ended.
    TicketClosed {
        ticket: TicketId,
        reason: TicketEndReason,
        message_zh: String,
        message_en: String,
        /// When served: the number of the case (办件) the clerk's wrap-up records, for the
        /// citizen's receipt.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case: Option<String>,
    },
    /// Clerk: its own state changed.
    ClerkState {
        state: ClerkState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<AwayReason>,
        /// In wrap-up: seconds until it ends by itself (the case is then recorded with the
        /// clerk's draft, see `wrap_up_draft`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wrap_up_ends_in_secs: Option<u32>,
    },
    /// Clerk: a ticket is offered; accept or decline before it expires.
    Offer {
        offer: OfferId,
        ticket: TicketId,
        service: ServiceCode,
        service_name: String,
        booth: BoothId,
        booth_region: RegionId,
        booth_region_name: String,
        priority: Priority,
        waited_secs: u32,
        expires_in_ms: u64,
    },
    /// Clerk: the offer is gone.
    OfferRevoked {
        offer: OfferId,
        reason: OfferRevokeReason,
    },
    /// Both parties: the call is set up. With `media` `p2p` the initiator (the clerk) sends the
    /// SDP offer to the other party; with `relay` the server's media relay sends each party an
    /// offer and nobody is initiator.
    CallStarted {
        call: CallId,
        ticket: TicketId,
        service: ServiceCode,
        peer: Peer,
        ice_servers: Vec<IceServer>,
        initiator: bool,
        #[serde(default)]
        media: MediaMode,
        /// The call is recorded (the booth says so: 本次服务全程录音录像).
        #[serde(default)]
        recording: bool,
    },
    /// Relayed from the other party of the call, or (relay mode) from the media relay.
    Sdp {
        call: CallId,
        kind: SdpKind,
        sdp: String,
        /// Relay mode: the relay made a new connection for this party (after losing the last
        /// one): drop the old peer connection and answer with a new one.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        fresh: bool,
    },
    /// Relayed from the other party of the call.
    IceCandidate {
        call: CallId,
        candidate: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u16>,
    },
    /// Both parties: the call is over.
    CallEnded {
        call: CallId,
        ticket: TicketId,
        reason: CallEndReason,
    },
    /// Booth: its rating of a served ticket was recorded.
    RatingRecorded {
        ticket: TicketId,
        rating: Rating,
    },
    /// Clerk: the case of the call just wrapped up was stored durably (办件记录).
    CaseRecorded {
        call: CallId,
        ticket: TicketId,
        outcome: CaseOutcome,
    },
    /// Booth in a call: the clerk asks for a document photo.
    DocumentRequested {
        call: CallId,
        doc_type: DocType,
        name_zh: String,
        name_en: String,
    },
    /// Clerk in a call: a document photo arrived (processed, watermarked). The links need the
    /// clerk's token and expire at `expires_at_unix`.
    DocumentReady {
        call: CallId,
        document: DocumentId,
        doc_type: DocType,
        width: u32,
        height: u32,
        bytes: u64,
        sha256_original: String,
        sha256_result: String,
        url: String,
        thumbnail_url: String,
        expires_at_unix: u64,
    },
    /// Booth in a call: the clerk's verdict on a document; when rejected, take it again.
    DocumentReviewed {
        call: CallId,
        document: DocumentId,
        doc_type: DocType,
        accepted: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Supervisor: the load of every queue in scope. Sent on connect and about once a second.
    QueueLoad {
        rows: Vec<QueueLoadRow>,
    },
    /// Supervisor: every clerk of the scope who is signed in, with state and time in state.
    /// Sent with `queue_load`.
    ClerkList {
        clerks: Vec<ClerkRow>,
    },
    /// Supervisor: every booth of the scope, offline ones first; sent on connect and when a booth
    /// comes or goes.
    BoothList {
        booths: Vec<crate::types::BoothRow>,
    },
    /// Supervisor: every standing alert in scope, most urgent first. Sent on connect and whenever
    /// the list changes (an empty list: all clear).
    Alerts {
        alerts: Vec<crate::types::Alert>,
    },
    /// Supervisor: waiting tickets in scope over the last hour, oldest first, sampled every
    /// `interval_secs`. Sent once on connect; `queue_load` continues it live.
    QueueHistory {
        interval_secs: u32,
        points: Vec<WaitingPoint>,
    },
    /// The inviting clerk: the invitation went out, to the clerk named or to the one picked for
    /// the service item.
    InvitationSent {
        call: CallId,
        clerk: String,
        clerk_name: String,
    },
    /// Clerk: another clerk invites you into its live call as a third party (`join_call`).
    CallInvitation {
        call: CallId,
        from: String,
        from_name: String,
        booth_name: String,
        service: ServiceCode,
    },
    /// The third party: you joined; the relay's SDP offer follows (answer it as a party does).
    CallJoined {
        call: CallId,
        booth_name: String,
        clerk: String,
        clerk_name: String,
        ice_servers: Vec<IceServer>,
    },
    /// Booth and clerk of a call: a third party joined (its media stream's id is `party`).
    PartyJoined {
        call: CallId,
        party: String,
        id: String,
        display_name: String,
    },
    /// Booth and clerk of a call: the third party left.
    PartyLeft {
        call: CallId,
        party: String,
        id: String,
    },
    /// Booth (and a third party that stays): the call was handed to another clerk
    /// (`transfer_call`); it goes on with `peer`. The new clerk gets `call_started`, the first
    /// clerk `call_ended` with reason `transferred`.
    CallTransferred {
        call: CallId,
        ticket: TicketId,
        /// The clerk who handed it on.
        from: String,
        peer: Peer,
    },
    /// Supervisor: monitoring this call begins; the relay's SDP offer follows (answer it like a
    /// party, with `sdp` / `ice_candidate` for this call). Nothing is sent; the parties are not told.
    MonitorStarted {
        call: CallId,
        booth: BoothId,
        booth_name: String,
        clerk: String,
        clerk_name: String,
        service: ServiceCode,
        ice_servers: Vec<IceServer>,
    },
    /// Supervisor: monitoring this call ended (`stop_monitoring`, or the call ended).
    MonitorEnded {
        call: CallId,
    },
    /// All roles: the server is going down; reconnect after `retry_after_ms`.
    ServerShutdown {
        retry_after_ms: u64,
        message_zh: String,
        message_en: String,
    },
}

impl ServerMessage {
    /// An error reply with the standard texts for `code`.
    pub fn error(code: ErrorCode, in_reply_to: Option<&str>) -> Self {
        let (zh, en) = code.messages();
        ServerMessage::Error {
            code,
            message_zh: zh.to_owned(),
            message_en: en.to_owned(),
            in_reply_to: in_reply_to.map(str::to_owned),
        }
    }

    /// A closed-ticket message with the standard texts for `reason`.
    pub fn ticket_closed(ticket: TicketId, reason: TicketEndReason) -> Self {
        let (zh, en) = reason.messages();
        ServerMessage::TicketClosed { ticket, reason, message_zh: zh.to_owned(), message_en: en.to_owned(), case: None }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("protocol messages always serialize: no maps with non-string keys")
    }

    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
