//! Engine actions turned into messages for the right connections: ticket status to booths
//! (only when it changed), offers, call set-up with per-call TURN credentials, clerk states.

use protocol::{Peer, Role, ServerMessage, TicketNotice};
use routing::{Action, ClerkIdx, TicketId};
use tracing::{debug, info};

use super::{region_path, Driver, SentStatus};
use crate::convert::*;

impl Driver {
    pub(super) fn route(&mut self, action: Action) {
        let dir = self.shared.directory.clone();
        match action {
            Action::TicketOpened { ticket, booth, service, priority } => {
                info!(ticket = ticket.0, booth = %dir.booth(booth).id, service = %dir.service(service).code,
                      ?priority, "ticket opened");
                self.push_status(ticket, None);
            }
            Action::QueueChanged { service } => {
                self.dirty_services.insert(service);
                self.load_dirty = true;
            }
            Action::TicketWidened { ticket, step, cause } => {
                info!(ticket = ticket.0, step, ?cause, "ticket pool widened");
            }
            Action::OfferMade { offer, ticket, clerk, .. } => {
                info!(ticket = ticket.0, offer = offer.0, clerk = %dir.clerk(clerk).id, "offer made");
                self.send_offer(offer, ticket, clerk);
                self.push_status(ticket, None);
            }
            Action::OfferRevoked { offer, ticket, clerk, reason } => {
                info!(ticket = ticket.0, offer = offer.0, clerk = %dir.clerk(clerk).id, ?reason, "offer revoked");
                let msg = ServerMessage::OfferRevoked { offer: protocol::OfferId(offer.0), reason: revoke_out(reason) };
                self.send_to_clerk(clerk, msg);
            }
            Action::TicketRequeued { ticket, cause, .. } => {
                info!(ticket = ticket.0, ?cause, "ticket re-queued");
                let notice = match cause {
                    routing::RequeueCause::OfferNotTaken => None,
                    routing::RequeueCause::ClerkLost => Some(TicketNotice::ClerkLostRequeued),
                    routing::RequeueCause::MediaFailed => Some(TicketNotice::MediaFailedRequeued),
                    routing::RequeueCause::Transferred => Some(TicketNotice::Transferred),
                };
                self.last_status.remove(&ticket);
                self.push_status(ticket, notice);
            }
            Action::CallStarted { call, ticket, booth, clerk, .. } => {
                info!(ticket = ticket.0, call = call.0, booth = %dir.booth(booth).id, clerk = %dir.clerk(clerk).id,
                      "call started");
                // The call is live unless a later input already ended it (then its end follows).
                if let Some(view) = self.engine.call(call) {
                    self.send_call_started(view, true, true);
                }
                self.push_status(ticket, None);
            }
            Action::CallEnded { call, ticket, booth, clerk, service, reason } => {
                info!(ticket = ticket.0, call = call.0, ?reason, "call ended");
                self.relay_call_ended(call);
                self.monitors_end(call.0);
                self.open_case(call, ticket, booth, clerk, service, call_end_out(reason));
                let msg = ServerMessage::CallEnded {
                    call: protocol::CallId(call.0),
                    ticket: protocol::TicketId(ticket.0),
                    reason: call_end_out(reason),
                };
                self.send_to_booth(booth, msg.clone());
                if let Some(guest) = self.three_way.guest_of(call.0) {
                    self.send_to_clerk(guest, msg.clone());
                    self.leave_call(call.0, true);
                }
                self.send_to_clerk(clerk, msg);
            }
            Action::CallTransferred { call, ticket, booth, service, from, to } => {
                info!(ticket = ticket.0, call = call.0, from = %dir.clerk(from).id, to = %dir.clerk(to).id,
                      "call transferred");
                self.on_call_transferred(call, ticket, booth, service, from, to);
            }
            Action::TicketServiceChanged { ticket, from, to, .. } => {
                info!(ticket = ticket.0, from = %dir.service(from).code, to = %dir.service(to).code,
                      "ticket moved to another service");
            }
            Action::TicketClosed { ticket, booth, reason, .. } => {
                if reason == routing::TicketEndReason::Served {
                    self.cases.served(booth, ticket);
                }
                info!(ticket = ticket.0, booth = %dir.booth(booth).id, ?reason, "ticket closed");
                self.last_status.remove(&ticket);
                let mut msg = ServerMessage::ticket_closed(protocol::TicketId(ticket.0), ticket_end_out(reason));
                if let ServerMessage::TicketClosed { case, .. } = &mut msg {
                    // The case the call opened (its clerk is in wrap-up): its number goes on the
                    // citizen's receipt.
                    *case = self.cases.receipt_case(ticket);
                }
                self.send_to_booth(booth, msg);
            }
            Action::ClerkStateChanged { clerk, state } => {
                debug!(clerk = %dir.clerk(clerk).id, ?state, "clerk state");
                if state != routing::ClerkState::WrapUp {
                    self.close_case_with_draft(clerk);
                }
                self.load_dirty = true;
                // The state this action carries, not the engine's current one: an available clerk
                // may already hold the next offer, and the console must see both steps.
                let wrap_up_ends_in_secs =
                    (state == routing::ClerkState::WrapUp).then(|| self.engine.config().wrap_up_max.as_secs() as u32);
                let (state, reason) = clerk_state_out(state);
                self.send_to_clerk(clerk, ServerMessage::ClerkState { state, reason, wrap_up_ends_in_secs });
            }
        }
    }

    /// Sends the booth its ticket's status if it changed since the last one (or a notice is due).
    pub(super) fn push_status(&mut self, ticket: TicketId, notice: Option<TicketNotice>) {
        let Some(view) = self.engine.ticket_view(ticket, self.now) else {
            return;
        };
        let sent = SentStatus {
            state: ticket_state_out(view.state),
            position: view.position,
            estimate: view.estimated_wait.map(|d| d.as_secs() as u32),
        };
        if notice.is_none() && self.last_status.get(&ticket) == Some(&sent) {
            return;
        }
        self.last_status.insert(ticket, sent);
        if let (Some(secs), protocol::TicketState::Waiting) = (sent.estimate, sent.state) {
            self.events.note_estimate(ticket, secs);
        }
        let msg = ServerMessage::TicketStatus {
            ticket: protocol::TicketId(ticket.0),
            number: crate::records::short_number(ticket.0),
            service: protocol::ServiceCode::new(self.shared.directory.service(view.service).code.clone()),
            state: sent.state,
            position: sent.position,
            estimated_wait_secs: sent.estimate,
            waited_secs: view.waited.as_secs() as u32,
            notice,
        };
        self.send_to_booth(view.booth, msg);
    }

    pub(super) fn send_clerk_state(&mut self, clerk: ClerkIdx) {
        let engine_state = self.engine.clerk_state(clerk);
        let wrap_up_ends_in_secs = (engine_state == routing::ClerkState::WrapUp).then(|| {
            let elapsed = self.now.saturating_duration_since(self.engine.clerk_state_since(clerk));
            self.engine.config().wrap_up_max.saturating_sub(elapsed).as_secs() as u32
        });
        let (state, reason) = clerk_state_out(engine_state);
        self.send_to_clerk(clerk, ServerMessage::ClerkState { state, reason, wrap_up_ends_in_secs });
    }

    pub(super) fn send_offer(&mut self, offer: routing::OfferId, ticket: TicketId, clerk: ClerkIdx) {
        let Some(view) = self.engine.ticket_view(ticket, self.now) else {
            return;
        };
        let dir = self.shared.directory.clone();
        let booth = dir.booth(view.booth);
        let service = dir.service(view.service);
        let msg = ServerMessage::Offer {
            offer: protocol::OfferId(offer.0),
            ticket: protocol::TicketId(ticket.0),
            service: protocol::ServiceCode::new(service.code.clone()),
            service_name: service.name.clone(),
            booth: protocol::BoothId::new(booth.id.clone()),
            booth_region: protocol::RegionId::new(dir.region(booth.region).id.clone()),
            booth_region_name: region_path(&dir, booth.region),
            priority: priority_out(view.priority),
            waited_secs: view.waited.as_secs() as u32,
            expires_in_ms: self.engine.config().offer_timeout.as_millis() as u64,
        };
        self.send_to_clerk(clerk, msg);
    }

    /// Tells the parties (`to_clerk`, `to_booth`) that their call is up, then lets the relay
    /// offer them their media connection.
    pub(super) fn send_call_started(&mut self, call: routing::CallView, to_clerk: bool, to_booth: bool) {
        self.tell_call_started(call, to_clerk, to_booth);
        // After the parties were told, so the relay's first offer follows `call_started`.
        self.relay_call_started(&call, to_clerk, to_booth);
    }

    /// The `call_started` messages alone.
    pub(super) fn tell_call_started(&mut self, call: routing::CallView, to_clerk: bool, to_booth: bool) {
        let dir = self.shared.directory.clone();
        let (booth, clerk) = (dir.booth(call.booth), dir.clerk(call.clerk));
        // Static STUN/TURN entries, plus TURN credentials minted for this party of this call.
        let shared = self.shared.clone();
        // The credentials' expiry counts from the input's time on the log's timeline, so a replay
        // mints the same ones.
        let now_unix = self.wall_unix();
        let ice_for = |user: &str| {
            let mut servers = shared.ice_servers.clone();
            if let Some(turn) = &shared.turn {
                servers.push(turn.mint(user, now_unix));
            }
            servers
        };
        let media = shared.media.mode;
        let recording = shared.media.recorded();
        let make = |peer: Peer, initiator: bool, ice_servers: Vec<protocol::IceServer>| ServerMessage::CallStarted {
            call: protocol::CallId(call.call.0),
            ticket: protocol::TicketId(call.ticket.0),
            service: protocol::ServiceCode::new(dir.service(call.service).code.clone()),
            peer,
            ice_servers,
            initiator,
            media,
            recording,
        };
        // Peer to peer, the clerk's side makes the SDP offer: its console is the better-connected
        // peer. Through the relay, the relay offers to both.
        let clerk_offers = !shared.media.relayed();
        if to_clerk {
            let peer = Peer { role: Role::Booth, id: booth.id.clone(), display_name: booth.name.clone() };
            let msg = make(peer, clerk_offers, ice_for(&clerk.id));
            self.send_to_clerk(call.clerk, msg);
        }
        if to_booth {
            let peer = Peer { role: Role::Clerk, id: clerk.id.clone(), display_name: clerk.name.clone() };
            let msg = make(peer, false, ice_for(&booth.id));
            self.send_to_booth(call.booth, msg);
        }
    }
}
