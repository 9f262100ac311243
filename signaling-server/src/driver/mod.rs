//! The driver: the one task that owns the routing engine. Connections send it [`Command`]s; it
//! turns them into engine inputs, drains the engine's actions and routes each to the right
//! connection. Time comes from tokio's clock, so paused-time tests stay consistent.
//!
//! Per loop turn, in fixed priority order: a command, else a due engine timer, else the
//! periodic tick (supervisor load feed). After each, every queued action is routed; only then
//! are connections whose sends failed dropped (their sign-out is a new input, never one nested
//! inside the routing of another's actions).
//!
//! - `connections.rs`: the registry, sending, replacing and dropping connections;
//! - `messages.rs`: client messages to engine inputs (and documents);
//! - `actions.rs`: engine actions to client messages;
//! - `supervisors.rs`, `wrap_up.rs`: the supervisors' feed, case records and ratings;
//! - `events.rs`: the per-ticket event log.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use protocol::{ClientMessage, QueueLoadRow, ServerMessage};
use routing::{BoothIdx, ClerkIdx, Engine, Input, Party, RegionIdx, ServiceIdx, TicketId};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};

mod actions;
mod connections;
mod events;
mod messages;
mod supervisors;
#[cfg(test)]
mod tests;
mod wrap_up;

use connections::Conn;
pub use connections::{CloseSignal, ConnHandle};

use crate::history::WaitingHistory;
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

/// What the driver asks a connection's writer to do, in order.
#[derive(Debug)]
pub enum Outbound {
    Msg(ServerMessage),
    /// Close after the messages queued before it (graceful shutdown).
    Close(protocol::CloseReason),
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
    /// A record the driver answers for is committed: send the answer to the party's connection.
    Deliver {
        to: Party,
        msg: ServerMessage,
    },
    /// A document of a live call was stored: tell the clerk.
    DocumentStored {
        meta: crate::documents::DocMeta,
    },
    Connect {
        conn: ConnId,
        who: Principal,
        handle: ConnHandle,
    },
    /// Liveness probe for `/healthz`: answered at once by a driver that is running.
    Probe {
        reply: oneshot::Sender<()>,
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
    pending_cases: HashMap<ClerkIdx, crate::records::CaseRecord>,
    history: WaitingHistory,
    answered_today: crate::history::AnsweredToday,
    load_dirty: bool,
    ticks: u64,
    /// Connections whose last send failed, dropped after the current batch of actions.
    failed: Vec<ConnId>,
    /// Outcomes that found their booth away, delivered when it reconnects.
    missed: HashMap<BoothIdx, Vec<(std::time::Instant, ServerMessage)>>,
    events: events::EventLog,
    /// This start's answered counts as last saved, per (China date, hall, service).
    saved_answered: HashMap<(String, RegionIdx, ServiceIdx), (u32, u32)>,
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
            failed: Vec::new(),
            missed: HashMap::new(),
            events: Default::default(),
            saved_answered: HashMap::new(),
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
                _ = tick.tick() => {
                    self.on_tick();
                    self.expire_missed(now());
                }
            }
            self.flush();
        }
        info!("driver stopped");
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Connect { conn, who, handle } => self.connect(conn, who, handle),
            Command::Probe { reply } => {
                let _ = reply.send(());
            }
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
            Command::Deliver { to: Party::Booth(b), msg } => self.send_to_booth(b, msg),
            Command::Deliver { to: Party::Clerk(c), msg } => self.send_to_clerk(c, msg),
            Command::Snapshot { scope, reply } => {
                let _ = reply.send(self.current_load_rows(scope));
            }
            Command::Shutdown { .. } => unreachable!("handled in run"),
        }
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

    /// Routes every queued action, then drops the connections whose sends failed and routes what
    /// their sign-outs caused, until nothing is left.
    fn flush(&mut self) {
        loop {
            while let Some(action) = self.engine.poll_action() {
                self.log_action(&action);
                self.route(action);
            }
            for service in std::mem::take(&mut self.dirty_services) {
                let tickets: Vec<TicketId> = self.engine.open_tickets(service).collect();
                for ticket in tickets {
                    self.push_status(ticket, None);
                }
            }
            if !self.drop_failed() {
                break;
            }
        }
        self.flush_events();
    }

    // ---- shutdown -----------------------------------------------------------------------

    /// Tells every waiting citizen and every clerk, then closes all connections.
    fn shutdown(&mut self) {
        info!(open_tickets = self.engine.open_ticket_count(), "shutting down: closing tickets with a reason");
        let _ = self.input(Input::Shutdown);
        self.flush();
        // Calls still in wrap-up are recorded without an outcome, and all is on disk before exit.
        let clerks: Vec<ClerkIdx> = self.pending_cases.keys().copied().collect();
        for clerk in clerks {
            self.close_case(clerk, protocol::CaseOutcome::NotRecorded, None);
        }
        // Bounded: with the database away, shutdown must not hang (what is not committed by then
        // is logged as lost).
        if !self.shared.records.sync_within(Duration::from_secs(5)) {
            tracing::error!("shutting down with case records not yet committed: the database is away");
        }
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
                if c.handle.tx.try_send(Outbound::Close(protocol::CloseReason::ServerShutdown)).is_err() {
                    c.handle.close.close(protocol::CloseReason::ServerShutdown);
                }
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
