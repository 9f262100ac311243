//! When the waiting citizens' positions and estimates are refreshed. A queue change of an item
//! (a ticket taken, a clerk's state moving the estimate, a call's end moving the average handling
//! time) can change what every waiting ticket of that item shows; recomputing all of them on every
//! change makes a busy floor's cost grow with the square of its queue. So the item is marked, and
//! the marked items' waiting tickets are refreshed at once if the last refresh was at least
//! [`STATUS_REFRESH_EVERY`] ago, else when that much has passed since it (the shell wakes the desk
//! then: [`crate::Desk::poll_timeout`]). On a quiet floor every change is shown at once; on a busy
//! one each waiting booth is told at most once a second. A ticket's own change (opened, offered,
//! connected, re-queued, resumed) is never paced: it goes out with the input that caused it.
//!
//! The pace is decided by the times passed in, so a replay of the same inputs refreshes at the
//! same points; a snapshot keeps the marked items and the last refresh.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use routing::ServiceIdx;

/// The shortest time between two refreshes of waiting tickets' positions and estimates.
pub const STATUS_REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The items whose waiting tickets' statuses are due, and when they were last refreshed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatusPace {
    marked: BTreeSet<ServiceIdx>,
    last: Option<Instant>,
}

/// [`StatusPace`] in a snapshot: the marked items' indexes, and the last refresh in nanoseconds
/// after the timeline's base.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusPaceSnapshot {
    pub marked: Vec<u32>,
    pub last_ns: Option<u64>,
}

impl StatusPace {
    /// The item's queue changed.
    pub fn mark(&mut self, service: ServiceIdx) {
        self.marked.insert(service);
    }

    /// The marked items, if their refresh is due at `at` (which then counts as the last refresh);
    /// none otherwise.
    pub fn take_due(&mut self, at: Instant) -> BTreeSet<ServiceIdx> {
        let due = self.last.is_none_or(|last| at >= last + STATUS_REFRESH_EVERY);
        if !due || self.marked.is_empty() {
            return BTreeSet::new();
        }
        self.last = Some(at);
        std::mem::take(&mut self.marked)
    }

    /// When the marked items' refresh is due: `None` when nothing is marked, or when nothing was
    /// ever refreshed (then the next [`StatusPace::take_due`] takes them, whatever the time).
    pub fn deadline(&self) -> Option<Instant> {
        let last = self.last.filter(|_| !self.marked.is_empty())?;
        Some(last + STATUS_REFRESH_EVERY)
    }

    /// Forgets the marks (a restored engine has nothing pending); the last refresh stays.
    pub fn clear_marks(&mut self) {
        self.marked.clear();
    }

    pub fn snapshot(&self, base: Instant) -> StatusPaceSnapshot {
        StatusPaceSnapshot {
            marked: self.marked.iter().map(|s| s.0).collect(),
            last_ns: self.last.map(|l| l.saturating_duration_since(base).as_nanos() as u64),
        }
    }

    /// Back from a snapshot taken with the same `base`.
    pub fn restore(base: Instant, snap: &StatusPaceSnapshot) -> Self {
        Self {
            marked: snap.marked.iter().map(|s| ServiceIdx(*s)).collect(),
            last: snap.last_ns.map(|ns| base + Duration::from_nanos(ns)),
        }
    }
}
