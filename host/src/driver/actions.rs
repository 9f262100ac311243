//! The engine's actions as the shell sees them (the desk has turned them into effects already):
//! one log line each, the trace of `signaling-server replay`, the per-ticket event log, and the
//! recording's list of clerks after a transfer. And the `call_started` messages, built with this
//! node's STUN/TURN servers and per-call credentials.

use protocol::{Peer, Role, ServerMessage};
use routing::Action;
use tracing::{debug, info};

use super::{with_names, Driver};

impl Driver {
    /// An action the engine took, noted before the effects it leads to are carried out.
    pub(super) fn note_action(&mut self, action: &Action) {
        if self.trace.is_some() {
            let line = format!("  {}", with_names(&format!("{action:?}"), &self.shared.directory));
            if let Some(trace) = self.trace.as_mut() {
                trace(line);
            }
        }
        log_line(action, &self.shared.directory);
        if let Action::CallTransferred { call, to, .. } = *action {
            if let Some(media) = self.media_calls.get_mut(&call.0) {
                media.clerks.push(to);
            }
        }
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

/// The action's line in the server's log (ids and reasons only, never a citizen's data).
fn log_line(action: &Action, dir: &routing::Directory) {
    match *action {
        Action::TicketOpened { ticket, booth, service, priority } => {
            info!(ticket = ticket.0, booth = %dir.booth(booth).id, service = %dir.service(service).code,
                  ?priority, "ticket opened");
        }
        Action::QueueChanged { .. } => {}
        Action::TicketWidened { ticket, step, cause } => info!(ticket = ticket.0, step, ?cause, "ticket pool widened"),
        Action::OfferMade { offer, ticket, clerk, .. } => {
            info!(ticket = ticket.0, offer = offer.0, clerk = %dir.clerk(clerk).id, "offer made");
        }
        Action::OfferRevoked { offer, ticket, clerk, reason } => {
            info!(ticket = ticket.0, offer = offer.0, clerk = %dir.clerk(clerk).id, ?reason, "offer revoked");
        }
        Action::TicketRequeued { ticket, cause, .. } => info!(ticket = ticket.0, ?cause, "ticket re-queued"),
        Action::CallStarted { call, ticket, booth, clerk, .. } => {
            info!(ticket = ticket.0, call = call.0, booth = %dir.booth(booth).id, clerk = %dir.clerk(clerk).id,
                  "call started");
        }
        Action::CallEnded { call, ticket, reason, .. } => {
            info!(ticket = ticket.0, call = call.0, ?reason, "call ended")
        }
        Action::CallTransferred { call, ticket, from, to, .. } => {
            info!(ticket = ticket.0, call = call.0, from = %dir.clerk(from).id, to = %dir.clerk(to).id,
                  "call transferred");
        }
        Action::TicketServiceChanged { ticket, from, to, .. } => {
            info!(ticket = ticket.0, from = %dir.service(from).code, to = %dir.service(to).code,
                  "ticket moved to another service");
        }
        Action::TicketClosed { ticket, booth, reason, .. } => {
            info!(ticket = ticket.0, booth = %dir.booth(booth).id, ?reason, "ticket closed");
        }
        Action::ClerkStateChanged { clerk, state } => debug!(clerk = %dir.clerk(clerk).id, ?state, "clerk state"),
    }
}
