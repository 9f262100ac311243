//! Client messages decided: what a booth, clerk or supervisor sends becomes an input for the
//! engine, a decision of the three-way, transfer, case or rating parts, or a message for the call's
//! other party (or for the relay) — or a refusal ([`ErrorCode`]) that changes nothing.
//!
//! Two kinds stay with the shell, which holds what they need: a supervisor's silent monitoring
//! (its connection and the relay's room) and the review of a document (the shell's document
//! registry resolves the id; the desk then decides with [`Desk::review_document`]).
//! [`Desk::on_message`] refuses them as `forbidden`, as it does every message a principal may not
//! send.

use protocol::{ClerkTargetState, ClientMessage, ErrorCode, SdpKind, ServerMessage};
use routing::{BoothIdx, ClerkIdx, Input, Party, TicketId};

use crate::cases::{ForcedState, Review, Write, Written};
use crate::convert::{away_in, priority_in, reject_code};
use crate::effect::Effect;
use crate::three_way::{Connected, Invitee, GUEST};
use crate::transfer::CLERK;
use crate::turns::{Desk, Now};

/// The relay's name for the call's booth.
pub const BOOTH: &str = "booth";
/// Longest reason a supervisor or a clerk may give (characters).
pub const MAX_REASON_CHARS: usize = 200;

/// The account a verified token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Principal {
    Booth(BoothIdx),
    Clerk(ClerkIdx),
    /// Index into the configured supervisors ([`crate::staff`]).
    Supervisor(usize),
}

impl Principal {
    /// The call party this principal can be.
    pub fn party(self) -> Option<Party> {
        match self {
            Principal::Booth(b) => Some(Party::Booth(b)),
            Principal::Clerk(c) => Some(Party::Clerk(c)),
            Principal::Supervisor(_) => None,
        }
    }
}

/// A document as the shell's registry knows it: its id, its call and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    pub id: String,
    pub call: u64,
    pub doc_type: protocol::DocType,
}

impl Desk {
    /// Decides one client message from `who`. `Ok`: the effects to carry out now, in order (what
    /// the engine does with an input it took, and the inputs the decision gave rise to, follow
    /// from the next [`Desk::drain`]); `Err`: the code to answer with, and nothing changed.
    pub fn on_message(
        &mut self,
        who: Principal,
        msg: &ClientMessage,
        now: Now,
        connected: &dyn Connected,
    ) -> Result<Vec<Effect>, ErrorCode> {
        let effects = self.decide_message(who, msg, now, connected)?;
        Ok(self.absorb(effects))
    }

    fn decide_message(
        &mut self,
        who: Principal,
        msg: &ClientMessage,
        now: Now,
        connected: &dyn Connected,
    ) -> Result<Vec<Effect>, ErrorCode> {
        use ClientMessage as M;
        use Principal as P;
        let none = Ok(Vec::new());
        match (who, msg) {
            (P::Booth(booth), M::RequestService { service, priority }) => {
                let service = self.engine.directory().service_idx(service.as_str()).ok_or(ErrorCode::UnknownService)?;
                self.take(Input::RequestService { booth, service, priority: priority_in(*priority) }, now)
            }
            (P::Booth(booth), M::CancelTicket { ticket }) => {
                self.take(Input::CancelTicket { booth, ticket: TicketId(ticket.0) }, now)
            }
            (P::Booth(booth), M::DeviceStatus { camera, microphone }) => {
                self.alerts.booth_devices(booth, *camera, *microphone);
                none
            }
            (P::Booth(booth), M::RateService { ticket, rating, reason }) => {
                let write = self.rate_service(booth, TicketId(ticket.0), *rating, *reason, now)?;
                Ok(vec![Effect::Write(Box::new(write))])
            }
            // A third party changes its state by leaving the call.
            (P::Clerk(clerk), M::SetState { .. }) if self.three_way.guest_call(clerk).is_some() => {
                Err(ErrorCode::WrongState)
            }
            (P::Clerk(clerk), M::SetState { state: ClerkTargetState::Available, .. }) => {
                self.take(Input::ClerkSetAvailable { clerk }, now)
            }
            (P::Clerk(clerk), M::SetState { state: ClerkTargetState::Away, reason }) => {
                let reason = reason.unwrap_or(protocol::AwayReason::Break);
                if !reason.clerk_may_claim() {
                    // `supervisor`, `missed_offers` and `signed_in` are the server's to set.
                    return Err(ErrorCode::InvalidField);
                }
                self.take(Input::ClerkSetAway { clerk, reason: away_in(reason) }, now)
            }
            (P::Clerk(clerk), M::AcceptOffer { offer }) => {
                self.take(Input::AcceptOffer { clerk, offer: routing::OfferId(offer.0) }, now)
            }
            (P::Clerk(clerk), M::DeclineOffer { offer }) => {
                self.take(Input::DeclineOffer { clerk, offer: routing::OfferId(offer.0) }, now)
            }
            (P::Clerk(clerk), M::EndWrapUp { outcome, note }) => {
                let write = self.end_wrap_up(clerk, *outcome, note.as_deref(), now)?;
                Ok(write.map(|w| Effect::Write(Box::new(w))).into_iter().collect())
            }
            (P::Clerk(clerk), M::WrapUpDraft { outcome, note }) => {
                self.cases.draft(clerk, *outcome, note.as_deref())?;
                none
            }
            (P::Booth(_) | P::Clerk(_), M::HangUp { call }) => {
                let by = who.party().expect("a booth or a clerk");
                self.take(Input::HangUp { call: routing::CallId(call.0), by }, now)
            }
            (P::Booth(_) | P::Clerk(_), M::MediaState { call, state }) => {
                let (call, by) = (routing::CallId(call.0), who.party().expect("a booth or a clerk"));
                match state {
                    protocol::MediaState::Connected => {
                        self.take(Input::MediaConnected { call, by }, now)?;
                        if let Some(view) = self.engine.call(call) {
                            self.ticket_log.media_up(view.ticket, call.0, by, now.wall_ms);
                        }
                        Ok(Vec::new())
                    }
                    protocol::MediaState::Failed => self.take(Input::MediaFailed { call, by }, now),
                }
            }
            (P::Supervisor(sup), M::ForceClerkState { clerk, state, why }) => {
                self.force_clerk_state(sup, clerk, *state, why, now)
            }
            (P::Clerk(clerk), M::RequestDocument { call, doc_type }) => {
                let view = self.clerk_call(clerk, call.0)?;
                let (zh, en) = doc_type.names();
                let msg = ServerMessage::DocumentRequested {
                    call: *call,
                    doc_type: *doc_type,
                    name_zh: zh.into(),
                    name_en: en.into(),
                };
                Ok(vec![Effect::ToBooth(view.booth, msg)])
            }
            (P::Clerk(inviter), M::InviteToCall { call, clerk: invited, service }) => {
                let invitee = match (invited, service) {
                    (Some(id), None) => Invitee::Clerk(id),
                    (None, Some(code)) => Invitee::Service(code.as_str()),
                    _ => return Err(ErrorCode::InvalidField),
                };
                let at = now.at;
                self.decide_three_way(connected, |floor, three_way| {
                    three_way.invite(floor, inviter, *call, invitee, at)
                })
            }
            (P::Clerk(clerk), M::JoinCall { call }) => {
                self.three_way.may_join(&self.floor(connected), clerk, *call, now.at)?;
                // Not offered anything while assisting.
                self.take(Input::ClerkSetAway { clerk, reason: routing::AwayReason::Assisting }, now)
                    .map_err(|_| ErrorCode::WrongState)?;
                let ice_servers = std::mem::take(&mut self.staff.ice_servers);
                let effects = self.decide_three_way(connected, |floor, three_way| {
                    three_way.joined(floor, clerk, *call, &ice_servers)
                });
                self.staff.ice_servers = ice_servers;
                Ok(effects)
            }
            (P::Clerk(clerk), M::LeaveCall { call }) => {
                if self.three_way.guest_of(call.0) != Some(clerk) {
                    return Err(ErrorCode::NotFound);
                }
                Ok(self.decide_three_way(connected, |floor, three_way| three_way.leave(floor, call.0, true)))
            }
            (P::Clerk(clerk), M::TransferCall { call, clerk: to }) => {
                let to = crate::transfer::check(&self.floor(connected), &self.three_way, call.0, to)?;
                self.take(Input::TransferCall { call: routing::CallId(call.0), from: clerk, to }, now)
            }
            (P::Clerk(clerk), M::RequeueCall { call, service }) => {
                let service = self.engine.directory().service_idx(service.as_str()).ok_or(ErrorCode::UnknownService)?;
                self.take(Input::RequeueCall { call: routing::CallId(call.0), clerk, service }, now)
            }
            (P::Booth(_) | P::Clerk(_), M::Sdp { .. } | M::IceCandidate { .. }) => self.signal(who, msg),
            _ => Err(ErrorCode::Forbidden),
        }
    }

    /// A clerk's verdict on `doc`, a document of its live call: written, and the booth told
    /// (`document_reviewed`) once the write is committed.
    pub fn review_document(
        &mut self,
        clerk: ClerkIdx,
        doc: &DocumentRef,
        accepted: bool,
        reason: Option<String>,
        now: Now,
    ) -> Result<Write, ErrorCode> {
        let view = self.clerk_call(clerk, doc.call)?;
        if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
            return Err(ErrorCode::InvalidField);
        }
        let msg = ServerMessage::DocumentReviewed {
            call: protocol::CallId(doc.call),
            document: protocol::DocumentId::new(doc.id.clone()),
            doc_type: doc.doc_type,
            accepted,
            reason: reason.clone(),
        };
        let review = Review { document: doc.id.clone(), call: doc.call, accepted, reason, at_ms: now.wall_ms };
        Ok(Write { record: Written::Review(review), then: Some((Party::Booth(view.booth), msg)) })
    }

    /// An input the message gives the engine; its actions follow from the next drain.
    fn take(&mut self, input: Input, now: Now) -> Result<Vec<Effect>, ErrorCode> {
        self.input(input, now.at).map_err(reject_code)?;
        Ok(Vec::new())
    }

    /// The clerk's live call, or the error to answer with.
    fn clerk_call(&self, clerk: ClerkIdx, call: u64) -> Result<routing::CallView, ErrorCode> {
        match self.engine.call(routing::CallId(call)) {
            Some(v) if v.clerk == clerk => Ok(v),
            Some(_) => Err(ErrorCode::Forbidden),
            None => Err(ErrorCode::NotFound),
        }
    }

    /// A supervisor sets a clerk of their scope available or away (`supervisor`), with a reason.
    fn force_clerk_state(
        &mut self,
        sup: usize,
        clerk: &str,
        state: ClerkTargetState,
        why: &str,
        now: Now,
    ) -> Result<Vec<Effect>, ErrorCode> {
        let supervisor = self.staff.supervisors.get(sup).ok_or(ErrorCode::Forbidden)?;
        let dir = self.engine.directory();
        let idx = dir.clerk_idx(clerk).ok_or(ErrorCode::NotFound)?;
        if !dir.is_within(dir.clerk(idx).hall, supervisor.scope) {
            return Err(ErrorCode::Forbidden);
        }
        let why = why.trim();
        if why.is_empty() || why.chars().count() > MAX_REASON_CHARS {
            return Err(ErrorCode::InvalidField);
        }
        let record = ForcedState {
            supervisor: supervisor.id.clone(),
            clerk: clerk.to_owned(),
            state,
            why: why.to_owned(),
            at_unix: now.unix(),
        };
        let input = match state {
            ClerkTargetState::Available => Input::ClerkSetAvailable { clerk: idx },
            ClerkTargetState::Away => Input::ClerkSetAway { clerk: idx, reason: routing::AwayReason::Supervisor },
        };
        self.take(input, now)?;
        let write = Write { record: Written::ForcedState(record), then: None };
        Ok(vec![Effect::Write(Box::new(write)), Effect::LoadChanged])
    }

    /// SDP or an ICE candidate from a party of a live call (or its guest), checked: through the
    /// relay it goes to the relay (offers come only from the relay: a party's is `wrong_state`);
    /// peer to peer, to the call's other party.
    fn signal(&self, who: Principal, msg: &ClientMessage) -> Result<Vec<Effect>, ErrorCode> {
        let call = crate::signal::call_of(msg).expect("sdp or ice_candidate");
        let view = self.engine.call(routing::CallId(call.0));
        let guest = matches!(who, Principal::Clerk(c) if self.three_way.guest_call(c).is_some());
        let party = match (who, view) {
            (Principal::Clerk(c), _) if guest => {
                if self.three_way.guest_of(call.0) != Some(c) {
                    return Err(ErrorCode::Forbidden);
                }
                GUEST
            }
            (_, None) => return Err(ErrorCode::NotFound),
            (Principal::Booth(b), Some(v)) if b == v.booth => BOOTH,
            (Principal::Clerk(c), Some(v)) if c == v.clerk => CLERK,
            _ => return Err(ErrorCode::Forbidden),
        };
        let out = crate::signal::validate(msg).map_err(|_| ErrorCode::InvalidField)?;
        if guest || self.relayed {
            if matches!(msg, ClientMessage::Sdp { kind: SdpKind::Offer, .. }) {
                return Err(ErrorCode::WrongState);
            }
            return Ok(vec![Effect::ToRelay { call: call.0, party: party.into(), signal: msg.clone() }]);
        }
        let view = view.expect("a party of a live call");
        Ok(vec![match party {
            BOOTH => Effect::ToClerk(view.clerk, out),
            _ => Effect::ToBooth(view.booth, out),
        }])
    }
}
