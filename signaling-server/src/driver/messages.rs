//! Client messages turned into engine inputs (or answered directly), and the document
//! messages of a live call. A refused request is answered with an `error` and changes nothing.

use protocol::{ClientMessage, ErrorCode, ServerMessage};
use routing::{ClerkIdx, Input, Party, TicketId};
use tracing::{debug, info, warn};

use super::{party, ConnId, Driver, Principal};
use crate::relay::{self, RelayError};
use desk::convert::*;

impl Driver {
    pub(super) fn on_message(&mut self, conn: ConnId, msg: ClientMessage) {
        let started = std::time::Instant::now();
        let kind = msg.kind();
        self.handle_message(conn, msg);
        if self.reach().counts() {
            let h = crate::metrics::METRICS.messages.get_or_create(&vec![("kind", kind.to_owned())]);
            crate::metrics::observe(&h, started.elapsed());
        }
    }

    fn handle_message(&mut self, conn: ConnId, msg: ClientMessage) {
        let Some(who) = self.conns.get(&conn).map(|c| c.who) else {
            return;
        };
        let result = match (who, &msg) {
            (Principal::Booth(booth), ClientMessage::RequestService { service, priority }) => {
                match self.shared.directory.service_idx(service.as_str()) {
                    Some(service) => self
                        .input(Input::RequestService { booth, service, priority: priority_in(*priority) })
                        .map_err(reject_code),
                    None => Err(ErrorCode::UnknownService),
                }
            }
            (Principal::Booth(booth), ClientMessage::CancelTicket { ticket }) => {
                self.input(Input::CancelTicket { booth, ticket: TicketId(ticket.0) }).map_err(reject_code)
            }
            // A third party changes its state by leaving the call.
            (Principal::Clerk(clerk), ClientMessage::SetState { .. }) if self.guest_call(clerk).is_some() => {
                Err(ErrorCode::WrongState)
            }
            (Principal::Clerk(clerk), ClientMessage::SetState { state, reason }) => match state {
                protocol::ClerkTargetState::Available => {
                    self.input(Input::ClerkSetAvailable { clerk }).map_err(reject_code)
                }
                protocol::ClerkTargetState::Away => {
                    let reason = reason.unwrap_or(protocol::AwayReason::Break);
                    if reason.clerk_may_claim() {
                        self.input(Input::ClerkSetAway { clerk, reason: away_in(reason) }).map_err(reject_code)
                    } else {
                        // `supervisor`, `missed_offers` and `signed_in` are the server's to set.
                        Err(ErrorCode::InvalidField)
                    }
                }
            },
            (Principal::Clerk(clerk), ClientMessage::AcceptOffer { offer }) => {
                self.input(Input::AcceptOffer { clerk, offer: routing::OfferId(offer.0) }).map_err(reject_code)
            }
            (Principal::Clerk(clerk), ClientMessage::DeclineOffer { offer }) => {
                self.input(Input::DeclineOffer { clerk, offer: routing::OfferId(offer.0) }).map_err(reject_code)
            }
            (Principal::Clerk(clerk), ClientMessage::EndWrapUp { outcome, note }) => {
                self.end_wrap_up(clerk, *outcome, note.as_deref())
            }
            (Principal::Clerk(clerk), ClientMessage::WrapUpDraft { outcome, note }) => {
                self.wrap_up_draft(clerk, *outcome, note.as_deref())
            }
            (Principal::Booth(_) | Principal::Clerk(_), ClientMessage::HangUp { call }) => {
                let by = party(who).expect("matched booth or clerk");
                self.input(Input::HangUp { call: routing::CallId(call.0), by }).map_err(reject_code)
            }
            (Principal::Booth(_) | Principal::Clerk(_), ClientMessage::MediaState { call, state }) => {
                let by = party(who).expect("matched booth or clerk");
                let call = routing::CallId(call.0);
                let input = match state {
                    protocol::MediaState::Connected => Input::MediaConnected { call, by },
                    protocol::MediaState::Failed => Input::MediaFailed { call, by },
                };
                let done = self.input(input).map_err(reject_code);
                if done.is_ok() && *state == protocol::MediaState::Connected {
                    self.log_media_up(call, by);
                }
                done
            }
            (Principal::Supervisor(sup), ClientMessage::ForceClerkState { clerk, state, why }) => {
                self.force_clerk_state(sup, clerk, *state, why)
            }
            (Principal::Booth(booth), ClientMessage::DeviceStatus { camera, microphone }) => {
                self.alerts.booth_devices(booth, *camera, *microphone);
                Ok(())
            }
            (Principal::Booth(booth), ClientMessage::RateService { ticket, rating, reason }) => {
                self.rate_service(booth, *ticket, *rating, *reason)
            }
            (Principal::Clerk(clerk), ClientMessage::RequestDocument { call, doc_type }) => {
                self.request_document(clerk, *call, *doc_type)
            }
            (Principal::Clerk(clerk), ClientMessage::ReviewDocument { document, accepted, reason }) => {
                self.review_document(clerk, document, *accepted, reason.clone())
            }
            (
                Principal::Booth(_) | Principal::Clerk(_),
                ClientMessage::Sdp { .. } | ClientMessage::IceCandidate { .. },
            ) if self.is_guest(who) => match who {
                Principal::Clerk(c) => self.guest_signal(c, &msg),
                _ => unreachable!("guests are clerks"),
            },
            (
                Principal::Booth(_) | Principal::Clerk(_),
                ClientMessage::Sdp { .. } | ClientMessage::IceCandidate { .. },
            ) if self.shared.media.relayed() => self.signal_relay(who, &msg),
            (Principal::Clerk(clerk), ClientMessage::InviteToCall { call, clerk: invited, service }) => {
                match (invited, service) {
                    (Some(id), None) => self.invite(clerk, *call, desk::three_way::Invitee::Clerk(id)),
                    (None, Some(code)) => self.invite(clerk, *call, desk::three_way::Invitee::Service(code.as_str())),
                    _ => Err(ErrorCode::InvalidField),
                }
            }
            (Principal::Clerk(clerk), ClientMessage::JoinCall { call }) => self.join_call(clerk, *call),
            (Principal::Clerk(clerk), ClientMessage::LeaveCall { call }) => {
                if self.desk.three_way.guest_of(call.0) == Some(clerk) {
                    self.leave_call(call.0, true);
                    Ok(())
                } else {
                    Err(ErrorCode::NotFound)
                }
            }
            (Principal::Clerk(clerk), ClientMessage::TransferCall { call, clerk: to }) => {
                self.transfer_call(clerk, *call, to)
            }
            (Principal::Clerk(clerk), ClientMessage::RequeueCall { call, service }) => {
                self.requeue_call(clerk, *call, service)
            }
            (Principal::Supervisor(sup), ClientMessage::MonitorCall { call }) => self.monitor_call(conn, sup, *call),
            (Principal::Supervisor(_), ClientMessage::StopMonitoring { call }) => self.stop_monitoring(conn, *call),
            (Principal::Supervisor(_), ClientMessage::Sdp { .. } | ClientMessage::IceCandidate { .. }) => {
                self.monitor_signal(conn, &msg)
            }
            (
                Principal::Booth(_) | Principal::Clerk(_),
                ClientMessage::Sdp { .. } | ClientMessage::IceCandidate { .. },
            ) => self.relay(who, &msg),
            _ => Err(ErrorCode::Forbidden),
        };
        if let Err(code) = result {
            self.reply_error(conn, code, &msg);
        }
    }

    /// Relays SDP and ICE between the two parties of a live call, and only between them.
    fn relay(&mut self, who: Principal, msg: &ClientMessage) -> Result<(), ErrorCode> {
        let call = relay::call_of(msg).expect("only sdp and ice_candidate are relayed");
        let view = self.desk.engine().call(routing::CallId(call.0)).ok_or(ErrorCode::NotFound)?;
        let target = match who {
            Principal::Booth(b) if b == view.booth => Principal::Clerk(view.clerk),
            Principal::Clerk(c) if c == view.clerk => Principal::Booth(view.booth),
            _ => {
                warn!(call = call.0, "signaling from a non-party refused");
                return Err(ErrorCode::Forbidden);
            }
        };
        let out = relay::validate(msg).map_err(|e: RelayError| {
            debug!(call = call.0, error = %e, "relay payload refused");
            ErrorCode::InvalidField
        })?;
        match target {
            Principal::Booth(b) => self.send_to_booth(b, out),
            Principal::Clerk(c) => self.send_to_clerk(c, out),
            Principal::Supervisor(_) => unreachable!("calls are between a booth and a clerk"),
        }
        Ok(())
    }

    // ---- documents ----------------------------------------------------------------------

    /// The clerk's live call, or the error to answer with.
    fn clerk_call(&self, clerk: ClerkIdx, call: protocol::CallId) -> Result<routing::CallView, ErrorCode> {
        match self.desk.engine().call(routing::CallId(call.0)) {
            Some(v) if v.clerk == clerk => Ok(v),
            Some(_) => Err(ErrorCode::Forbidden),
            None => Err(ErrorCode::NotFound),
        }
    }

    fn request_document(
        &mut self,
        clerk: ClerkIdx,
        call: protocol::CallId,
        doc_type: protocol::DocType,
    ) -> Result<(), ErrorCode> {
        let view = self.clerk_call(clerk, call)?;
        let (zh, en) = doc_type.names();
        info!(call = call.0, doc_type = doc_type.as_str(), "document requested");
        let msg = ServerMessage::DocumentRequested { call, doc_type, name_zh: zh.into(), name_en: en.into() };
        self.send_to_booth(view.booth, msg);
        Ok(())
    }

    fn review_document(
        &mut self,
        clerk: ClerkIdx,
        document: &protocol::DocumentId,
        accepted: bool,
        reason: Option<String>,
    ) -> Result<(), ErrorCode> {
        let meta = self.shared.docs.get(document.as_str()).ok_or(ErrorCode::NotFound)?;
        let view = self.clerk_call(clerk, protocol::CallId(meta.call))?;
        if reason.as_ref().is_some_and(|r| r.chars().count() > 200) {
            return Err(ErrorCode::InvalidField);
        }
        info!(call = meta.call, document = %meta.id, accepted, "document reviewed");
        // Times and the review's id come from the log's timeline, so a replay writes the same
        // record (and finds it there).
        let at_ms = self.timeline_ms();
        let review = host::doc_meta::Review { accepted, reason: reason.clone(), at_unix: (at_ms / 1000) as u64 };
        let row = store::DocumentReviewRow {
            id: format!("{}-review-{}", meta.id, self.t),
            document_id: meta.id.clone(),
            accepted,
            reason: reason.clone(),
            at_ms,
        };
        let msg = ServerMessage::DocumentReviewed {
            call: protocol::CallId(meta.call),
            document: document.clone(),
            doc_type: meta.doc_type,
            accepted,
            reason,
        };
        // The booth is told once the review is committed, through the records writer like cases
        // and ratings: what a citizen is told is saved, is saved.
        let tell = self.deliver_on_commit(Party::Booth(view.booth), msg);
        let (docs, id) = (self.shared.docs.clone(), meta.id.clone());
        let done: crate::records::OnCommit = Box::new(move || {
            docs.reviewed(&id, review);
            tell();
        });
        self.write_record(crate::records::Record::Review(row), Some(done));
        Ok(())
    }

    pub(super) fn document_stored(&mut self, meta: host::doc_meta::DocMeta) {
        self.shared.docs.remember(&meta);
        let Some(view) = self.desk.engine().call(routing::CallId(meta.call)) else { return };
        let url = format!("/api/documents/{}", meta.id);
        let msg = ServerMessage::DocumentReady {
            call: protocol::CallId(meta.call),
            document: protocol::DocumentId::new(meta.id.clone()),
            doc_type: meta.doc_type,
            width: meta.width,
            height: meta.height,
            bytes: meta.bytes,
            sha256_original: meta.sha256_original.clone(),
            sha256_result: meta.sha256_result.clone(),
            thumbnail_url: format!("{url}/thumbnail"),
            url,
            expires_at_unix: meta.created_unix + self.shared.docs.config.link_ttl_secs,
        };
        self.send_to_clerk(view.clerk, msg);
    }
}
