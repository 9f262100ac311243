//! Rebuilding the driver from the applied log. A replay applies every logged entry at its logged
//! time through [`Driver::apply`], the path live inputs take, with the world cut off: nothing is
//! sent (the connections of the old run have no handle). Records are written again, and found
//! already there unless the old run died before its records writer committed them (their ids and
//! times come from the log, so they are the same records). Engine, tickets, calls, wrap-ups and
//! what each booth may rate come back as they were.
//!
//! After a restart every connection of the old run is gone: [`Driver::resume_after_restart`] logs
//! a disconnect for each, so booths keep their tickets for the grace period and find them again
//! when they reconnect, and clerks are signed out (a call in progress goes back to the head of
//! the queue, and a wrap-up is recorded as `not_recorded`).

use std::sync::Arc;

use super::{ConnId, Driver};
use crate::state::Shared;

/// Records a standby's replica holds back at most: older ones were committed by the router long
/// ago (its writer retries until the database takes them).
pub(super) const DEFERRED_RECORDS: usize = 20_000;
use crate::records::{OnCommit, Record};
use crate::routing_log::{AppliedLog, Entry, Logged};

impl Driver {
    /// Hands a record to the records writer. A replay writes too — what the logged run had not
    /// committed yet when it died must not be lost; what it had is found there and skipped (ids
    /// are the same) — but tells nobody.
    ///
    /// A cluster standby's replica holds its records back instead (the last
    /// [`DEFERRED_RECORDS`]): the live router writes them, with what the log does not hold (a
    /// wrap-up's note), and a replica writing first would keep the note out. They are written when
    /// the standby takes over ([`Driver::write_deferred`]), found there unless the old router died
    /// before committing them.
    pub(super) fn write_record(&self, record: Record, done: Option<OnCommit>) {
        if self.reach().holds_records() {
            let mut deferred = self.deferred.borrow_mut();
            if deferred.len() == DEFERRED_RECORDS {
                deferred.pop_front();
            }
            deferred.push_back(record);
            return;
        }
        match done.filter(|_| self.reach().answers()) {
            Some(done) => self.shared.records.append_then(record, done),
            None => self.shared.records.append(record),
        }
    }

    /// A new router writes what its replica held back.
    pub(super) fn write_deferred(&mut self) {
        for record in self.deferred.get_mut().drain(..) {
            self.shared.records.append(record);
        }
    }

    /// Re-applies `entries` (a log read back, header first).
    pub fn replay(&mut self, entries: &[Logged]) {
        self.rebuilding = true;
        for e in entries {
            if e.src.is_some() {
                self.last_src.clone_from(&e.src);
            }
            self.t = e.t;
            self.now = self.clock.instant(e.t);
            self.apply(&e.entry);
        }
        self.rebuilding = false;
        self.outbox.clear();
        self.remote.clear();
    }

    /// Prints each applied entry and action to `out` (the `replay` command).
    pub fn trace_to(&mut self, out: Box<dyn FnMut(String) + Send>) {
        self.trace = Some(out);
    }

    /// After a replay at start: the timeline goes on at `t` (the log's last time plus the time the
    /// server was down), the log is continued with `log`, and every connection of the old run is
    /// logged as gone. Returns how many there were.
    pub fn resume_after_restart(&mut self, t: u64, log: Box<dyn AppliedLog>) -> usize {
        self.clock.resume_at(t.max(self.t));
        self.log = Some(log);
        let mut gone: Vec<u64> = self.conns.keys().copied().collect();
        gone.sort_unstable();
        for &conn in &gone {
            self.record(Entry::Disconnect { conn });
        }
        self.end_batch();
        gone.len()
    }

    /// The last applied entry's time and the wall time at `t = 0` (Unix ms).
    pub fn timeline(&self) -> (u64, u64) {
        (self.t, self.wall_base_ms)
    }

    /// The boot number that began this engine's history (see the grid's saved counts).
    pub fn lineage(&self) -> i64 {
        self.lineage
    }

    /// Hands replayed records to the writer now (a standby replays without end of batch).
    pub fn flush_records(&mut self) {
        self.flush_events();
    }

    /// Open tickets (for the start-up log line and tests).
    pub fn open_tickets(&self) -> usize {
        self.desk.engine().open_ticket_count()
    }
}

/// Read access to the driver's state, for the server's driver tests and the replay tool.
impl Driver {
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn desk(&self) -> &desk::Desk {
        &self.desk
    }

    /// The engine's instant at `t = 0` (what snapshots' times count from).
    pub fn engine_base(&self) -> std::time::Instant {
        self.clock.engine_base()
    }

    /// The current input's instant.
    pub fn now(&self) -> std::time::Instant {
        self.now
    }

    /// Whether `conn` is a connection the driver knows.
    pub fn has_conn(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }
}
