//! The driver: the one task that owns the routing engine. Connections send it [`Command`]s; it
//! turns them into engine inputs, drains the engine's actions and routes each to the right
//! connection. Time comes from tokio's clock, so paused-time tests stay consistent.
//!
//! Per loop turn, in fixed priority order: a command, else a due engine timer, else the
//! periodic tick (supervisor load feed). After each, every queued action is routed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use protocol::{ClientMessage, ErrorCode, Peer, QueueLoadRow, Role, ServerMessage, TicketNotice};
use routing::{Action, BoothIdx, ClerkIdx, Engine, Input, Party, RegionIdx, ServiceIdx, TicketId};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

mod supervisors;
mod wrap_up;

use crate::convert::*;
use crate::history::WaitingHistory;
use crate::relay::{self, RelayError};
use crate::state::Shared;

pub type ConnId = u64;

/// Who is on a connection, resolved from a verified token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Booth(BoothIdx),
    Clerk(ClerkIdx),
    /// Index into the configured supervisors.
    Supervisor(usize),
}

/// What the driver asks a connection's writer to do.
#[derive(Debug)]
pub enum Outbound {
    Msg(ServerMessage),
    Close { reason: &'static str },
}

/// The parties and service of a live call, for the document endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallInfo {
    pub booth: BoothIdx,
    pub clerk: ClerkIdx,
    pub service: ServiceIdx,
    pub ticket: u64,
}

pub enum Command {
    /// The live call's parties, or `None` when no such call is live.
    CallInfo {
        call: u64,
        reply: oneshot::Sender<Option<CallInfo>>,
    },
    /// A document of a live call was stored: tell the clerk.
    DocumentStored {
        meta: crate::documents::DocMeta,
    },
    Connect {
        conn: ConnId,
        who: Principal,
        tx: mpsc::Sender<Outbound>,
    },
    Disconnect {
        conn: ConnId,
    },
    Message {
        conn: ConnId,
        msg: ClientMessage,
    },
    Snapshot {
        scope: RegionIdx,
        reply: oneshot::Sender<Vec<QueueLoadRow>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

struct Conn {
    who: Principal,
    tx: mpsc::Sender<Outbound>,
}

/// What the booth was last told, to send a status only when something changed.
#[derive(PartialEq, Eq, Clone, Copy)]
struct SentStatus {
    state: protocol::TicketState,
    position: Option<u32>,
    estimate: Option<u32>,
}

pub struct Driver {
    engine: Engine,
    shared: Arc<Shared>,
    conns: HashMap<ConnId, Conn>,
    booth_conn: HashMap<BoothIdx, ConnId>,
    clerk_conn: HashMap<ClerkIdx, ConnId>,
    last_status: HashMap<TicketId, SentStatus>,
    dirty_services: BTreeSet<ServiceIdx>,
    /// Each booth's last served ticket, which it may rate once.
    rateable: HashMap<BoothIdx, TicketId>,
    /// Each clerk's call awaiting its wrap-up outcome (办件 not yet recorded).
    pending_cases: HashMap<ClerkIdx, crate::cases::CaseRecord>,
    history: WaitingHistory,
    answered_today: crate::history::AnsweredToday,
    load_dirty: bool,
    ticks: u64,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    pub fn new(shared: Arc<Shared>, engine: Engine) -> Self {
        let history = WaitingHistory::new(shared.history_sample_secs);
        Self {
            engine,
            shared,
            conns: HashMap::new(),
            booth_conn: HashMap::new(),
            clerk_conn: HashMap::new(),
            last_status: HashMap::new(),
            dirty_services: BTreeSet::new(),
            rateable: HashMap::new(),
            pending_cases: HashMap::new(),
            history,
            answered_today: Default::default(),
            load_dirty: true,
            ticks: 0,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.engine.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                biased;
                cmd = commands.recv() => match cmd {
                    Some(Command::Shutdown { reply }) => {
                        self.shutdown();
                        let _ = reply.send(());
                        break;
                    }
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                _ = sleep_until(deadline) => self.engine.handle_timeout(now()),
                _ = tick.tick() => self.on_tick(),
            }
            self.flush();
        }
        info!("driver stopped");
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Connect { conn, who, tx } => self.connect(conn, who, tx),
            Command::Disconnect { conn } => self.disconnect(conn),
            Command::Message { conn, msg } => self.on_message(conn, msg),
            Command::CallInfo { call, reply } => {
                let info = self.engine.call(routing::CallId(call)).map(|v| CallInfo {
                    booth: v.booth,
                    clerk: v.clerk,
                    service: v.service,
                    ticket: v.ticket.0,
                });
                let _ = reply.send(info);
            }
            Command::DocumentStored { meta } => self.document_stored(meta),
            Command::Snapshot { scope, reply } => {
                let _ = reply.send(self.current_load_rows(scope));
            }
            Command::Shutdown { .. } => unreachable!("handled in run"),
        }
    }

    // ---- connections --------------------------------------------------------------------

    fn connect(&mut self, conn: ConnId, who: Principal, tx: mpsc::Sender<Outbound>) {
        let dir = self.shared.directory.clone();
        let (role, id, name) = match who {
            Principal::Booth(b) => (Role::Booth, dir.booth(b).id.clone(), dir.booth(b).name.clone()),
            Principal::Clerk(c) => (Role::Clerk, dir.clerk(c).id.clone(), dir.clerk(c).name.clone()),
            Principal::Supervisor(s) => {
                let sup = &self.shared.supervisors[s];
                (Role::Supervisor, sup.id.clone(), sup.name.clone())
            }
        };
        self.conns.insert(conn, Conn { who, tx });
        self.send(
            conn,
            ServerMessage::Welcome {
                protocol_version: protocol::PROTOCOL_VERSION,
                role,
                id: id.clone(),
                display_name: name,
                heartbeat_interval_ms: self.shared.heartbeat_interval.as_millis() as u64,
            },
        );
        info!(conn, role = role.as_str(), id = %id, "connected");
        match who {
            Principal::Booth(booth) => {
                if let Some(old) = self.booth_conn.insert(booth, conn) {
                    self.replace(old);
                }
                self.lifecycle(Input::BoothConnected { booth });
                if let Some(ticket) = self.engine.booth_ticket(booth) {
                    self.last_status.remove(&ticket);
                    self.push_status(ticket, Some(TicketNotice::Resumed));
                    if let Some(call) = self.engine.call_of_booth(booth) {
                        self.send_call_started(call, false, true);
                    }
                }
            }
            Principal::Clerk(clerk) => {
                if let Some(old) = self.clerk_conn.insert(clerk, conn) {
                    self.replace(old);
                }
                let returning = self.engine.clerk_state(clerk) != routing::ClerkState::Offline;
                self.lifecycle(Input::ClerkSignIn { clerk });
                if returning {
                    // A first sign-in announces its state through the engine's action.
                    self.send_clerk_state(clerk);
                }
                if let Some((offer, ticket)) = self.engine.offer_of(clerk) {
                    self.send_offer(offer, ticket, clerk);
                }
                if let Some(call) = self.engine.call_of(clerk) {
                    self.send_call_started(call, true, false);
                }
            }
            Principal::Supervisor(s) => {
                let scope = self.shared.supervisors[s].scope;
                self.greet_supervisor(conn, scope);
            }
        }
    }

    /// A newer connection of the same account took over: close the old one without signing out.
    fn replace(&mut self, old: ConnId) {
        if let Some(c) = self.conns.remove(&old) {
            let _ = c.tx.try_send(Outbound::Close { reason: "replaced by a newer connection" });
            info!(conn = old, "connection replaced");
        }
    }

    fn disconnect(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        info!(conn, "disconnected");
        match c.who {
            Principal::Booth(booth) if self.booth_conn.get(&booth) == Some(&conn) => {
                self.booth_conn.remove(&booth);
                self.lifecycle(Input::BoothDisconnected { booth });
            }
            Principal::Clerk(clerk) if self.clerk_conn.get(&clerk) == Some(&conn) => {
                self.clerk_conn.remove(&clerk);
                self.lifecycle(Input::ClerkSignOut { clerk });
            }
            _ => {}
        }
    }

    fn send(&mut self, conn: ConnId, msg: ServerMessage) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if let Err(e) = c.tx.try_send(Outbound::Msg(msg)) {
            // A client that cannot keep up is disconnected rather than allowed to grow memory.
            warn!(conn, error = %e, "outbound queue full or closed; dropping connection");
            self.disconnect(conn);
        }
    }

    fn send_to_booth(&mut self, booth: BoothIdx, msg: ServerMessage) {
        if let Some(conn) = self.booth_conn.get(&booth).copied() {
            self.send(conn, msg);
        }
    }

    fn send_to_clerk(&mut self, clerk: ClerkIdx, msg: ServerMessage) {
        if let Some(conn) = self.clerk_conn.get(&clerk).copied() {
            self.send(conn, msg);
        }
    }

    fn reply_error(&mut self, conn: ConnId, code: ErrorCode, msg: &ClientMessage) {
        debug!(conn, ?code, kind = msg.kind(), "request refused");
        self.send(conn, ServerMessage::error(code, Some(msg.kind())));
    }

    /// Connection lifecycle inputs name accounts from verified tokens, so they only fail once
    /// the engine is shut down; that is logged, not answered.
    fn lifecycle(&mut self, input: Input) {
        if let Err(e) = self.input(input) {
            debug!(error = %e, "lifecycle input refused");
        }
    }

    fn input(&mut self, input: Input) -> Result<(), routing::Reject> {
        self.engine.handle_input(input, now())
    }

    // ---- messages -----------------------------------------------------------------------

    fn on_message(&mut self, conn: ConnId, msg: ClientMessage) {
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
            (Principal::Clerk(clerk), ClientMessage::SetState { state, reason }) => match state {
                protocol::ClerkTargetState::Available => {
                    self.input(Input::ClerkSetAvailable { clerk }).map_err(reject_code)
                }
                protocol::ClerkTargetState::Away => {
                    let reason = away_in(reason.unwrap_or(protocol::AwayReason::Break));
                    self.input(Input::ClerkSetAway { clerk, reason }).map_err(reject_code)
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
                self.input(input).map_err(reject_code)
            }
            (Principal::Supervisor(sup), ClientMessage::ForceClerkState { clerk, state, why }) => {
                self.force_clerk_state(sup, clerk, *state, why)
            }
            (Principal::Booth(booth), ClientMessage::RateService { ticket, rating }) => {
                self.rate_service(booth, *ticket, *rating)
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
        let view = self.engine.call(routing::CallId(call.0)).ok_or(ErrorCode::NotFound)?;
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
        match self.engine.call(routing::CallId(call.0)) {
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
        let review = crate::documents::Review { accepted, reason: reason.clone(), at_unix: crate::auth::unix_now() };
        let docs = self.shared.docs.clone();
        let id = meta.id.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = docs.set_review(&id, review) {
                tracing::error!(error = %e, "recording a document review failed");
            }
        });
        let msg = ServerMessage::DocumentReviewed {
            call: protocol::CallId(meta.call),
            document: document.clone(),
            doc_type: meta.doc_type,
            accepted,
            reason,
        };
        self.send_to_booth(view.booth, msg);
        Ok(())
    }

    fn document_stored(&mut self, meta: crate::documents::DocMeta) {
        let Some(view) = self.engine.call(routing::CallId(meta.call)) else { return };
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

    // ---- actions ------------------------------------------------------------------------

    fn flush(&mut self) {
        while let Some(action) = self.engine.poll_action() {
            self.route(action);
        }
        for service in std::mem::take(&mut self.dirty_services) {
            let tickets: Vec<TicketId> = self.engine.open_tickets(service).collect();
            for ticket in tickets {
                self.push_status(ticket, None);
            }
        }
    }

    fn route(&mut self, action: Action) {
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
                };
                self.last_status.remove(&ticket);
                self.push_status(ticket, notice);
            }
            Action::CallStarted { call, ticket, booth, clerk, .. } => {
                info!(ticket = ticket.0, call = call.0, booth = %dir.booth(booth).id, clerk = %dir.clerk(clerk).id,
                      "call started");
                let view = self.engine.call(call).expect("the call just started");
                self.send_call_started(view, true, true);
                self.push_status(ticket, None);
            }
            Action::CallEnded { call, ticket, booth, clerk, service, reason } => {
                info!(ticket = ticket.0, call = call.0, ?reason, "call ended");
                self.open_case(call, ticket, booth, clerk, service, reason);
                let msg = ServerMessage::CallEnded {
                    call: protocol::CallId(call.0),
                    ticket: protocol::TicketId(ticket.0),
                    reason: call_end_out(reason),
                };
                self.send_to_booth(booth, msg.clone());
                self.send_to_clerk(clerk, msg);
            }
            Action::TicketClosed { ticket, booth, reason, .. } => {
                if reason == routing::TicketEndReason::Served {
                    self.rateable.insert(booth, ticket);
                }
                info!(ticket = ticket.0, booth = %dir.booth(booth).id, ?reason, "ticket closed");
                self.last_status.remove(&ticket);
                self.send_to_booth(
                    booth,
                    ServerMessage::ticket_closed(protocol::TicketId(ticket.0), ticket_end_out(reason)),
                );
            }
            Action::ClerkStateChanged { clerk, state } => {
                debug!(clerk = %dir.clerk(clerk).id, ?state, "clerk state");
                if state != routing::ClerkState::WrapUp {
                    self.close_case(clerk, protocol::CaseOutcome::NotRecorded, None);
                }
                self.load_dirty = true;
                // The state this action carries, not the engine's current one: an available clerk
                // may already hold the next offer, and the console must see both steps.
                let (state, reason) = clerk_state_out(state);
                self.send_to_clerk(clerk, ServerMessage::ClerkState { state, reason });
            }
        }
    }

    /// Sends the booth its ticket's status if it changed since the last one (or a notice is due).
    fn push_status(&mut self, ticket: TicketId, notice: Option<TicketNotice>) {
        let Some(view) = self.engine.ticket_view(ticket, now()) else {
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
        let msg = ServerMessage::TicketStatus {
            ticket: protocol::TicketId(ticket.0),
            service: protocol::ServiceCode::new(self.shared.directory.service(view.service).code.clone()),
            state: sent.state,
            position: sent.position,
            estimated_wait_secs: sent.estimate,
            waited_secs: view.waited.as_secs() as u32,
            notice,
        };
        self.send_to_booth(view.booth, msg);
    }

    fn send_clerk_state(&mut self, clerk: ClerkIdx) {
        let (state, reason) = clerk_state_out(self.engine.clerk_state(clerk));
        self.send_to_clerk(clerk, ServerMessage::ClerkState { state, reason });
    }

    fn send_offer(&mut self, offer: routing::OfferId, ticket: TicketId, clerk: ClerkIdx) {
        let Some(view) = self.engine.ticket_view(ticket, now()) else {
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

    fn send_call_started(&mut self, call: routing::CallView, to_clerk: bool, to_booth: bool) {
        let dir = self.shared.directory.clone();
        let (booth, clerk) = (dir.booth(call.booth), dir.clerk(call.clerk));
        // Static STUN/TURN entries, plus TURN credentials minted for this party of this call.
        let shared = self.shared.clone();
        let ice_for = |user: &str| {
            let mut servers = shared.ice_servers.clone();
            if let Some(turn) = &shared.turn {
                servers.push(turn.mint(user, crate::auth::unix_now()));
            }
            servers
        };
        let make = |peer: Peer, initiator: bool, ice_servers: Vec<protocol::IceServer>| ServerMessage::CallStarted {
            call: protocol::CallId(call.call.0),
            ticket: protocol::TicketId(call.ticket.0),
            service: protocol::ServiceCode::new(dir.service(call.service).code.clone()),
            peer,
            ice_servers,
            initiator,
        };
        // The clerk's side makes the SDP offer: its console is the better-connected peer.
        if to_clerk {
            let peer = Peer { role: Role::Booth, id: booth.id.clone(), display_name: booth.name.clone() };
            let msg = make(peer, true, ice_for(&clerk.id));
            self.send_to_clerk(call.clerk, msg);
        }
        if to_booth {
            let peer = Peer { role: Role::Clerk, id: clerk.id.clone(), display_name: clerk.name.clone() };
            let msg = make(peer, false, ice_for(&booth.id));
            self.send_to_booth(call.booth, msg);
        }
    }

    // ---- shutdown -----------------------------------------------------------------------

    /// Tells every waiting citizen and every clerk, then closes all connections.
    fn shutdown(&mut self) {
        info!(open_tickets = self.engine.open_ticket_count(), "shutting down: closing tickets with a reason");
        let _ = self.input(Input::Shutdown);
        while let Some(action) = self.engine.poll_action() {
            self.route(action);
        }
        // Calls still in wrap-up are recorded without an outcome, and all is on disk before exit.
        let clerks: Vec<ClerkIdx> = self.pending_cases.keys().copied().collect();
        for clerk in clerks {
            self.close_case(clerk, protocol::CaseOutcome::NotRecorded, None);
        }
        self.shared.cases.sync();
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in ids {
            self.send(
                conn,
                ServerMessage::ServerShutdown {
                    retry_after_ms: 5_000,
                    message_zh: "系统维护中，请稍后重新连接".into(),
                    message_en: "The server is restarting; please reconnect shortly.".into(),
                },
            );
            if let Some(c) = self.conns.get(&conn) {
                let _ = c.tx.try_send(Outbound::Close { reason: "server shutting down" });
            }
        }
        self.conns.clear();
    }
}

fn party(who: Principal) -> Option<Party> {
    match who {
        Principal::Booth(b) => Some(Party::Booth(b)),
        Principal::Clerk(c) => Some(Party::Clerk(c)),
        Principal::Supervisor(_) => None,
    }
}

/// "东营市 河口区 孤岛镇": the region and its ancestors below the province, top down.
fn region_path(dir: &routing::Directory, r: RegionIdx) -> String {
    let mut names: Vec<&str> = dir
        .ancestry(r)
        .filter(|a| dir.region(*a).level != routing::Level::Province)
        .map(|a| dir.region(a).name.as_str())
        .collect();
    names.reverse();
    names.join(" ")
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
