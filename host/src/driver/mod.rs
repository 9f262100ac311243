//! The driver: the desk's shell, the one loop that feeds the desk (and through it the routing
//! engine), on an OS thread of its own (`host.rs`). Connections send it [`Command`]s; it turns them
//! into inputs for the desk, drains the desk's effects and carries each out (a message to the right
//! connection, a record, a relay command). Time comes from [`clock::Clock`]: one timeline in
//! microseconds that the applied log records, so that a replay gives the desk the very same
//! instants.
//!
//! Per loop turn, in fixed priority order: a batch of commands (up to 64 that are ready), else a
//! due engine timer, else the periodic tick (supervisor load feed). Every input that changes state
//! is applied through [`Driver::apply`] — the same path a replay takes — and appended to the
//! applied log (`routing_log`); the desk is drained after each. At the end of the batch the log is
//! committed (one `fdatasync`, or one fenced append in Redis), and only then do the batch's
//! messages go out: through this node's hub, or for a connection on another gateway of a cluster,
//! through the bus. A connection too slow to take its messages is closed by the hub, and its
//! gateway reports the disconnect like any other. What a replay or a standby may touch of the
//! world is read in one place, `reach.rs`.
//!
//! - `connections.rs`: who is on which connection (and gateway), sending, replacing and dropping;
//! - `messages.rs`: client messages to desk inputs (and documents);
//! - `effects.rs`: the desk's effects carried out; `actions.rs`: the engine's actions noted;
//! - `supervisors.rs`, `wrap_up.rs`: the supervisors' feed, case records and ratings;
//! - `events.rs`: the desk's ticket event log, its facts and counts, handed on;
//! - `clock.rs`: the timeline; `replay.rs`: rebuilding state from the applied log; `reach.rs`:
//!   what of the world the driver reaches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::ServerMessage;
use routing::{BoothIdx, ClerkIdx, Engine, Input, Party, RegionIdx, ServiceIdx};
use tokio::sync::mpsc;
use tracing::{debug, info};

mod actions;
mod alerts;
pub mod clock;
mod connections;
mod effects;
mod events;
mod media;
mod messages;
mod monitor;
mod reach;
mod replay;
mod snapshot;
mod supervisors;
mod takeover;
mod writes;

pub use crate::commands::{CallInfo, Command, Principal};
pub use crate::hub::{CloseSignal, ConnHandle, ConnId, Outbound};
use connections::Conn;
pub use snapshot::DriverSnapshot;

use crate::bus::{GatewayInput, RemoteBus, RemoteOut};
use crate::history::WaitingHistory;
use crate::routing_log::{changes_state, AppliedLog, Entry, Logged};
use crate::state::Shared;

pub struct Driver {
    /// The routing engine and every decision above it.
    desk: desk::Desk,
    shared: Arc<Shared>,
    conns: HashMap<ConnId, Conn>,
    booth_conn: HashMap<BoothIdx, ConnId>,
    clerk_conn: HashMap<ClerkIdx, ConnId>,
    history: WaitingHistory,
    answered_today: crate::history::AnsweredToday,
    load_dirty: bool,
    ticks: u64,
    /// Outcomes that found their booth away (or went to a gateway found dead), delivered when it
    /// reconnects.
    outcomes: desk::booth_outcomes::BoothOutcomes,
    /// The boot number of the run that began the engine's history (its ids' prefix): the runs
    /// replayed from one log share it, and their answered counts are saved under it.
    lineage: i64,
    /// This start's answered counts as last saved, per (China date, hall, service).
    saved_answered: HashMap<(String, RegionIdx, ServiceIdx), (u32, u32)>,
    clock: clock::Clock,
    /// Wall time (Unix ms) at `t = 0`: records get their times from the timeline, so a replay
    /// writes the same ones.
    wall_base_ms: u64,
    /// The current input's time on the log's timeline, and the engine's instant for it.
    t: u64,
    now: std::time::Instant,
    /// The applied log; while it is on, messages wait in `outbox` until it is committed.
    log: Option<Box<dyn AppliedLog>>,
    outbox: Vec<(ConnId, ServerMessage)>,
    /// For connections on other gateways: published after the batch is committed.
    remote: Vec<RemoteOut>,
    bus: Option<Box<dyn RemoteBus>>,
    /// The input-stream id of the last gateway input taken, until an entry logs it.
    pending_src: Option<String>,
    /// The input-stream id the log last recorded (a new router resumes after it).
    last_src: Option<String>,
    /// When a gateway first held a connection here without a heartbeat seen yet (Unix ms).
    gateway_first_seen: HashMap<String, u64>,
    /// The log's first ticket and call ids (its header's).
    first_ids: (u64, u64),
    /// Entries appended since the last snapshot.
    since_snapshot: u64,
    /// A standby's replayed records, written if it takes over (`replay.rs`).
    deferred: std::cell::RefCell<std::collections::VecDeque<crate::records::Record>>,
    /// Rebuilding state from the log (see `reach.rs`).
    rebuilding: bool,
    /// Relay mode: the calls whose rooms this driver opened, for their recordings' index rows.
    media_calls: HashMap<u64, media::MediaCall>,
    /// Supervisors' connections monitoring a live call, and which.
    monitors: HashMap<ConnId, u64>,
    /// `signaling-server replay`: each applied entry and action, printed.
    trace: Option<Box<dyn FnMut(String) + Send>>,
}

impl Driver {
    /// A driver around a new engine whose clock starts at `t = 0`.
    pub fn new(shared: Arc<Shared>, engine_cfg: routing::EngineConfig) -> Self {
        let clock = clock::Clock::default();
        let lineage = (engine_cfg.first_ticket >> 32) as i64;
        let first_ids = (engine_cfg.first_ticket, engine_cfg.first_call);
        let engine = Engine::new(shared.directory.clone(), engine_cfg, clock.engine_base());
        let history = WaitingHistory::new(shared.history_sample_secs);
        Self {
            lineage,
            now: clock.engine_base(),
            t: 0,
            clock,
            wall_base_ms: store::now_ms() as u64,
            log: None,
            outbox: Vec::new(),
            remote: Vec::new(),
            bus: None,
            pending_src: None,
            last_src: None,
            gateway_first_seen: HashMap::new(),
            first_ids,
            since_snapshot: 0,
            deferred: Default::default(),
            rebuilding: false,
            media_calls: HashMap::new(),
            monitors: HashMap::new(),
            trace: None,
            desk: {
                let mut desk = desk::Desk::new(engine, shared.media.relayed());
                let supervisors = shared
                    .supervisors
                    .iter()
                    .map(|s| desk::staff::Supervisor { id: s.id.clone(), scope: s.scope })
                    .collect();
                desk.set_staff(desk::staff::Staff { supervisors, ice_servers: shared.ice_servers.clone() });
                desk
            },
            shared,
            conns: HashMap::new(),
            booth_conn: HashMap::new(),
            clerk_conn: HashMap::new(),
            history,
            answered_today: Default::default(),
            load_dirty: true,
            ticks: 0,
            outcomes: desk::booth_outcomes::BoothOutcomes::new(connections::LOST_GATEWAY_WINDOW),
            saved_answered: HashMap::new(),
        }
    }

    /// Turns on the applied log: from now on every state-changing input is appended to `log`,
    /// and messages go out only once it is committed.
    pub fn set_log(&mut self, log: Box<dyn AppliedLog>) {
        self.log = Some(log);
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Only the router fires timers: a standby applies the router's logged `Timeout`s, at
            // the router's times, and firing its own would run its timeline ahead of the log.
            let deadline = if self.reach().routing { self.desk.poll_timeout() } else { None };
            let deadline = deadline.map(|d| self.clock.tokio_deadline(d));
            let mut shutdown = None;
            tokio::select! {
                biased;
                cmd = commands.recv() => match cmd {
                    Some(Command::Shutdown { reply }) => shutdown = Some(reply),
                    Some(cmd) => {
                        self.on_command(cmd);
                        // Group commit: what else is ready joins this batch (one log sync).
                        for _ in 0..63 {
                            match commands.try_recv() {
                                Ok(Command::Shutdown { reply }) => {
                                    shutdown = Some(reply);
                                    break;
                                }
                                Ok(cmd) => self.on_command(cmd),
                                Err(_) => break,
                            }
                        }
                    }
                    None => break,
                },
                _ = sleep_until(deadline) => self.on_timeout(),
                _ = tick.tick() => {
                    self.on_tick();
                    self.check_gateways();
                }
            }
            self.end_batch();
            if let Some(reply) = shutdown {
                self.shutdown();
                let _ = reply.send(());
                break;
            }
        }
        info!("driver stopped");
    }

    /// The wall time the routing log started at (its header's); records' times follow from it.
    pub fn set_wall_base(&mut self, unix_ms: u64) {
        self.wall_base_ms = unix_ms;
    }

    /// The current input's wall time, Unix seconds.
    fn wall_unix(&self) -> u64 {
        (self.wall_base_ms + self.t / 1000) / 1000
    }

    /// The current input's wall time on the log's timeline, Unix ms (what records are stamped
    /// with, so a replay stamps the same).
    fn timeline_ms(&self) -> i64 {
        (self.wall_base_ms + self.t / 1000) as i64
    }

    /// Starts a turn: the time of the input about to be handled.
    fn begin_turn(&mut self) {
        self.t = self.clock.t_now().max(self.t);
        self.now = self.clock.instant(self.t);
    }

    /// Handles a state-changing input live: stamped, logged, applied.
    fn record(&mut self, entry: Entry) {
        self.begin_turn();
        let src = self.pending_src.take();
        if let Some(log) = self.log.as_mut() {
            if let Err(e) = log.append(&Logged { t: self.t, src: src.clone(), entry: entry.for_log() }) {
                fatal_log_error(&e.to_string());
            }
            self.since_snapshot += 1;
        }
        if src.is_some() {
            self.last_src = src;
        }
        self.apply(&entry);
    }

    /// Applies one input — live or replayed, the same way — and routes what it caused.
    fn apply(&mut self, entry: &Entry) {
        if let Some(trace) = self.trace.as_mut() {
            let line = match entry {
                Entry::Snapshot { snapshot } => snapshot.summary(),
                other => serde_json::to_string(other).unwrap_or_default(),
            };
            trace(format!("t={} {line}", self.t));
        }
        self.expire_missed(self.now);
        if let Some(role) = &self.shared.cluster {
            role.applied_one();
        }
        match entry {
            Entry::Header { .. } => {}
            Entry::Connect { conn, role, id, gateway } => {
                if let Some(who) = self.principal(*role, id) {
                    self.connect(*conn, who, gateway.clone());
                }
            }
            Entry::Disconnect { conn } => self.disconnect(*conn),
            Entry::GatewayLost { gateway } => self.gateway_lost(gateway),
            Entry::MediaLost { call } => self.media_lost(*call),
            Entry::Consumed {} => {}
            Entry::Message { conn, msg } => self.on_message(*conn, msg.clone()),
            Entry::Timeout {} => {
                self.apply_event(desk::Event::Timeout);
            }
            Entry::Shutdown {} => {
                self.apply_event(desk::Event::Input(&Input::Shutdown));
            }
            // Live, the snapshot is this very state; a replay takes it over.
            Entry::Snapshot { snapshot } if self.rebuilding => self.restore_snapshot(snapshot),
            Entry::Snapshot { .. } => {}
        }
        self.route_all();
    }

    /// The account of a logged connect (`None` if the configuration no longer has it).
    fn principal(&self, role: protocol::Role, id: &str) -> Option<Principal> {
        let dir = &self.shared.directory;
        match role {
            protocol::Role::Booth => dir.booth_idx(id).map(Principal::Booth),
            protocol::Role::Clerk => dir.clerk_idx(id).map(Principal::Clerk),
            protocol::Role::Supervisor => self.shared.supervisor_idx(id).map(Principal::Supervisor),
        }
    }

    fn on_timeout(&mut self) {
        self.record(Entry::Timeout {});
    }

    pub fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Input { src, input } => {
                if src.is_some() {
                    self.pending_src = src;
                }
                self.on_input(input);
            }
            Command::Probe { reply } => {
                let _ = reply.send(());
            }
            Command::CallInfo { call, reply } => {
                let info = self.desk.engine().call(routing::CallId(call)).map(|v| CallInfo {
                    booth: v.booth,
                    clerk: v.clerk,
                    service: v.service,
                    ticket: v.ticket.0,
                });
                let _ = reply.send(info);
            }
            Command::Deliver { to: Party::Booth(b), msg } => self.send_to_booth(b, msg),
            Command::Deliver { to: Party::Clerk(c), msg } => self.send_to_clerk(c, msg),
            Command::Snapshot { scope, reply } => {
                if self.reach().routing {
                    self.begin_turn();
                }
                let _ = reply.send(self.current_load_rows(scope));
            }
            Command::Replay { entries } => {
                self.replay(&entries);
                self.flush_records();
            }
            Command::Promote { epoch, log, bus } => self.take_over(epoch, log, bus),
            Command::Relay(event) => self.on_relay_event(event),
            Command::LiveCalls { scope, reply } => {
                let _ = reply.send(self.live_calls(scope));
            }
            Command::StaffedFor { booth, reply } => {
                let services = self.shared.directory.services.len() as u32;
                let counts = (0..services)
                    .map(|s| self.desk.engine().clerks_signed_in_for(booth, routing::ServiceIdx(s)) as u32)
                    .collect();
                let _ = reply.send(counts);
            }
            Command::Shutdown { .. } => unreachable!("handled in run"),
        }
    }

    fn on_input(&mut self, input: GatewayInput) {
        match input {
            GatewayInput::Connect { conn, role, id, gateway } => {
                self.record(Entry::Connect { conn, role, id, gateway });
            }
            GatewayInput::Disconnect { conn } => {
                if self.conns.contains_key(&conn) {
                    self.record(Entry::Disconnect { conn });
                }
            }
            GatewayInput::Message { conn, msg } if writes_a_record(&msg) && self.shared.records.health().is_full() => {
                // The records writer is at its bound: this would be answered only once its record
                // is written. Refused, and not logged: it changed nothing.
                self.begin_turn();
                tracing::warn!(kind = msg.kind(), "records writer at its bound: request refused");
                self.send(conn, ServerMessage::error(protocol::ErrorCode::ServerBusy, Some(msg.kind())));
            }
            GatewayInput::Message { conn, msg } if changes_state(&msg) => self.record(Entry::Message { conn, msg }),
            GatewayInput::Message { conn, msg } => {
                // Answered from the current state, changing nothing: not logged.
                self.begin_turn();
                self.on_message(conn, msg);
            }
            GatewayInput::DocumentStored { meta } => {
                self.begin_turn();
                self.document_stored(meta);
            }
        }
    }

    /// What of the world this driver reaches now (see `reach.rs`).
    fn reach(&self) -> reach::Reach {
        let routing = self.shared.cluster.as_ref().is_none_or(|r| r.is_router());
        reach::Reach { rebuilding: self.rebuilding, routing }
    }

    /// Feeds one event to the desk at the current input's time (its one entry point) and carries
    /// out what it caused; for a refused message, the code to answer with.
    fn apply_event(&mut self, event: desk::Event<'_>) -> Option<protocol::ErrorCode> {
        let applied = self.desk.apply(event, self.turn_now(), &self.clerk_conn);
        self.carry_out_effects(applied.effects);
        applied.refused
    }

    /// The current input's time, as the desk takes it.
    fn turn_now(&self) -> desk::Now {
        desk::Now { at: self.now, wall_ms: self.timeline_ms() }
    }

    /// Drains the desk: every action the last input queued, and what those gave rise to, as
    /// effects, carried out in order.
    fn route_all(&mut self) {
        let effects = self.desk.drain(self.turn_now(), &self.clerk_conn);
        self.carry_out_effects(effects);
        self.count_actions();
    }

    /// The end of a batch: the log is committed, then the batch's messages go out — to this node's
    /// connections through the hub, to other gateways' through the bus.
    fn end_batch(&mut self) {
        if self.pending_src.is_some() && self.log.is_some() {
            // Gateway inputs were taken that changed nothing: the log still says how far.
            self.record(Entry::Consumed {});
        }
        self.flush_events();
        if let Some(log) = self.log.as_mut() {
            if let Err(e) = log.commit() {
                fatal_log_error(&e);
            }
        }
        self.deliver_outbox();
        let remote = std::mem::take(&mut self.remote);
        if let Some(bus) = self.bus.as_mut().filter(|_| !remote.is_empty()) {
            if let Err(e) = bus.publish(remote) {
                fatal_log_error(&e);
            }
        }
        if self.since_snapshot >= self.shared.snapshot_every {
            self.write_snapshot();
        }
    }

    /// Appends a snapshot of the state as it is after the committed batch.
    fn write_snapshot(&mut self) {
        self.since_snapshot = 0;
        let snapshot = self.take_snapshot();
        let header = Entry::Header {
            version: crate::routing_log::LOG_VERSION,
            first_ticket: snapshot.first_ticket,
            first_call: snapshot.first_call,
            started_unix_ms: snapshot.started_unix_ms,
        };
        let logged = Logged { t: self.t, src: None, entry: Entry::Snapshot { snapshot: Box::new(snapshot) } };
        if let Some(log) = self.log.as_mut() {
            if let Err(e) = log.snapshot(header, &logged) {
                fatal_log_error(&e);
            }
            debug!(t = self.t, "routing state snapshot written");
        }
    }

    /// One input and all it caused, as a batch of its own (the server's driver tests feed it
    /// commands one at a time this way).
    pub fn flush(&mut self) {
        self.route_all();
        self.end_batch();
    }

    // ---- shutdown -----------------------------------------------------------------------

    /// Tells every waiting citizen and every clerk, then closes all connections.
    fn shutdown(&mut self) {
        let cluster = self.shared.cluster.is_some();
        // This node's connections close with the process; another gateway's stay with the next
        // router.
        let local: Vec<ConnId> = self.conns.iter().filter(|(_, c)| self.is_local(c)).map(|(id, _)| *id).collect();
        if cluster {
            // A router of a cluster hands over instead: tickets, calls and wrap-ups go on with the
            // next router. This node's clients reconnect to another node within their graces.
            info!(open_tickets = self.desk.engine().open_ticket_count(), "stopping: handing the routing over");
            for &conn in &local {
                self.record(Entry::Disconnect { conn });
            }
            self.end_batch();
            if let Some(log) = self.log.as_mut() {
                log.release();
            }
        } else {
            info!(
                open_tickets = self.desk.engine().open_ticket_count(),
                "shutting down: closing tickets with a reason"
            );
            self.record(Entry::Shutdown {});
            // Calls still in wrap-up are recorded with their drafts, and all is on disk before exit.
            for clerk in self.desk.cases.pending_clerks() {
                self.close_case_with_draft(clerk);
            }
            self.end_batch();
        }
        // Bounded: with the database away, shutdown must not hang (what is not committed by then
        // is logged as lost).
        if !self.shared.records.sync_within(Duration::from_secs(5)) {
            tracing::error!("shutting down with case records not yet committed: the database is away");
        }
        // Last, after every answer of the batches above.
        let retry_after_ms = if cluster { 1_000 } else { 5_000 };
        for conn in local {
            self.shared.hub.deliver(conn, shutdown_notice(retry_after_ms));
            self.shared.hub.close_after_queued(conn, protocol::CloseReason::ServerShutdown);
        }
        self.conns.clear();
    }
}

/// `server_shutdown`: reconnect after `retry_after_ms` (a cluster's next router is up at once; a
/// single node takes a moment).
pub fn shutdown_notice(retry_after_ms: u64) -> ServerMessage {
    ServerMessage::ServerShutdown {
        retry_after_ms,
        message_zh: "系统维护中，请稍后重新连接".into(),
        message_en: "The server is restarting; please reconnect shortly.".into(),
    }
}

/// The applied log could not be written: the driver cannot promise anything it would say, so the
/// process ends (the service manager restarts it and the log is replayed up to its last commit).
fn fatal_log_error(e: &str) -> ! {
    tracing::error!(error = %e, "the routing log cannot be written; exiting");
    std::process::exit(71)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// An action's debug text with the directory's indexes (`BoothIdx(0)`) replaced by the ids people
/// know (`booth-gudao-1`), for `signaling-server replay`. Ticket, offer and call ids are the wire
/// ids already.
fn with_names(debug: &str, dir: &routing::Directory) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(at) = rest.find("Idx(") {
        let kind_start = rest[..at].rfind(|c: char| !c.is_ascii_alphanumeric()).map_or(0, |i| i + 1);
        let kind = &rest[kind_start..at];
        let Some(close) = rest[at + 4..].find(')') else { break };
        let number = rest[at + 4..at + 4 + close].parse::<u32>().ok();
        let name = number.and_then(|n| match kind {
            "Booth" => dir.booths.get(n as usize).map(|b| b.id.as_str()),
            "Clerk" => dir.clerks.get(n as usize).map(|c| c.id.as_str()),
            "Service" => dir.services.get(n as usize).map(|s| s.code.as_str()),
            "Region" => dir.regions.get(n as usize).map(|r| r.id.as_str()),
            _ => None,
        });
        match name {
            Some(name) => {
                out.push_str(&rest[..kind_start]);
                out.push_str(name);
            }
            None => out.push_str(&rest[..at + 4 + close + 1]),
        }
        rest = &rest[at + 4 + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Messages whose answer waits for a record of their own (refused while the records writer is at
/// its bound).
fn writes_a_record(msg: &protocol::ClientMessage) -> bool {
    use protocol::ClientMessage as M;
    matches!(msg, M::EndWrapUp { .. } | M::RateService { .. } | M::ReviewDocument { .. } | M::ForceClerkState { .. })
}
