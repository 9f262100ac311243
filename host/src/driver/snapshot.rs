//! The driver's state as one applied-log entry, so that a replay starts from the last snapshot
//! instead of from the first input: the engine's snapshot plus what the driver keeps beside it
//! (who is on which connection and gateway, what each booth was last told, what each booth may
//! rate, the wrap-ups awaiting an outcome, outcomes kept for away booths, three-way calls' guests
//! and open invitations, open tickets' event logs and facts, clerks' open state stretches, the
//! input stream's position). It also carries the log's header, so a log may begin with it.
//!
//! The router writes one every `[server] snapshot_every` entries, after a commit (nothing of the
//! batch is pending): a single node starts a new file with it, a cluster's router appends it to
//! the stream and trims what is older than the snapshot before. A live driver ignores a snapshot
//! entry (it is its own state); a replay restores it, which makes a replay from the very first
//! entry check, at every snapshot, that the state rebuilt so far is the one logged.

use routing::{BoothIdx, Engine, EngineSnapshot};

use super::connections::Conn;
use super::Driver;
pub use crate::snapshot::{ConnSnap, DriverSnapshot};

impl Driver {
    /// The driver's state now (between batches: nothing pending).
    pub fn take_snapshot(&self) -> DriverSnapshot {
        let base = self.clock.engine_base();
        let mut conns: Vec<ConnSnap> = self
            .conns
            .iter()
            .map(|(conn, c)| {
                let (role, id) = self.shared.account_of(c.who);
                ConnSnap { conn: *conn, role, id, gateway: c.gateway.clone() }
            })
            .collect();
        conns.sort_by_key(|c| c.conn);
        let last_status: Vec<_> =
            self.desk.shown.list().into_iter().map(|(t, s)| (t, s.state, s.position, s.estimate)).collect();
        let desk::cases::CasesSnapshot { rateable, pending: pending_cases } = self.desk.cases.snapshot();
        let missed = self.outcomes.snapshot(base);
        let desk::three_way::ThreeWaySnapshot { guests, invitations } = self.desk.three_way.snapshot(base);
        DriverSnapshot {
            first_ticket: self.first_ids.0,
            first_call: self.first_ids.1,
            started_unix_ms: self.wall_base_ms,
            engine: self.desk.engine().snapshot(base).to_words(),
            conns,
            last_status,
            rateable,
            pending_cases,
            missed,
            last_src: self.last_src.clone(),
            guests,
            invitations,
            booth_devices: {
                let mut d: Vec<_> = self.desk.alerts.devices.iter().map(|(b, (c, m))| (b.0, *c, *m)).collect();
                d.sort_by_key(|x| x.0);
                d
            },
            ticket_logs: self.desk.ticket_log.open_list(),
            clerk_stretches: self.desk.clerk_time.open_list(),
            status_pace: self.desk.pace.snapshot(base),
        }
    }

    /// Replaces the driver's state with `snap` (a replay reaching a snapshot entry).
    pub fn restore_snapshot(&mut self, snap: &DriverSnapshot) {
        // What the replay produced so far goes to the records writer first.
        self.flush_events();
        let base = self.clock.engine_base();
        let dir = self.shared.directory.clone();
        let cfg = self.desk.engine().config().clone();
        match EngineSnapshot::from_words(&snap.engine).and_then(|e| Engine::restore(dir, cfg, base, &e)) {
            Ok(engine) => self.desk.set_engine(engine),
            Err(e) => {
                // The configuration changed under a running log: nothing can be trusted.
                tracing::error!(error = %e, "the routing log's snapshot does not fit this configuration; exiting");
                std::process::exit(78);
            }
        }
        self.conns.clear();
        self.booth_conn.clear();
        self.clerk_conn.clear();
        for c in &snap.conns {
            let Some(who) = self.principal(c.role, &c.id) else { continue };
            match who {
                super::Principal::Booth(b) => {
                    self.booth_conn.insert(b, c.conn);
                }
                super::Principal::Clerk(k) => {
                    self.clerk_conn.insert(k, c.conn);
                }
                super::Principal::Supervisor(_) => {}
            }
            self.conns.insert(c.conn, Conn { who, gateway: c.gateway.clone() });
        }
        self.desk.shown = desk::shown::Shown::restore(snap.last_status.iter().map(|(t, state, position, estimate)| {
            (*t, desk::shown::SentStatus { state: *state, position: *position, estimate: *estimate })
        }));
        self.desk.cases = desk::cases::Cases::restore(&desk::cases::CasesSnapshot {
            rateable: snap.rateable.clone(),
            pending: snap.pending_cases.clone(),
        });
        self.outcomes.restore(base, &snap.missed);
        self.last_src.clone_from(&snap.last_src);
        let three_way =
            desk::three_way::ThreeWaySnapshot { guests: snap.guests.clone(), invitations: snap.invitations.clone() };
        self.desk.three_way = desk::three_way::ThreeWay::restore(base, &three_way);
        self.desk.alerts.devices = snap.booth_devices.iter().map(|(b, c, m)| (BoothIdx(*b), (*c, *m))).collect();
        self.desk.ticket_log.restore(&snap.ticket_logs);
        self.desk.clerk_time.restore(&snap.clerk_stretches);
        self.desk.pace = desk::status_pace::StatusPace::restore(base, &snap.status_pace);
        self.load_dirty = true;
    }
}
