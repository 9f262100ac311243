//! Where each clerk's signed-in time goes: every clerk state change the engine routes closes the
//! clerk's current stretch (available, offered, in a call, wrap-up, away) and opens the next; the
//! closed stretches are handed to the caller ([`ClerkTime::take_closed`]; the server writes them to
//! the records store, where they add up per hour for the per-clerk reports and occupancy). Times
//! are the caller's timeline (Unix ms), so a replay hands over the very same stretches (and the
//! store counts each once).
//!
//! Each tick cuts open stretches at the last hour boundary, so an hour's sums are complete soon
//! after it ends even for a clerk who stays in one state for hours. The store cuts stretches at
//! the hours as well, so where a cut happens does not change what is counted.

use std::collections::HashMap;

use routing::{Action, AwayReason, ClerkIdx, ClerkState, Directory};
use serde::{Deserialize, Serialize};

/// What a clerk was doing (signed-out time is not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClerkActivity {
    Available,
    Offered,
    InCall,
    WrapUp,
    Away,
}

/// A closed stretch of one activity. `call_finished`: a call that ended handled (the clerk went on
/// to wrap-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stretch {
    pub clerk: String,
    /// The clerk's hall.
    pub hall: String,
    pub activity: ClerkActivity,
    pub start_ms: i64,
    pub end_ms: i64,
    pub call_finished: bool,
}

/// Open stretches and those closed but not yet handed to the records writer.
#[derive(Default)]
pub struct ClerkTime {
    /// Per clerk: what it has been doing since when (Unix ms on the driver's timeline).
    open: HashMap<ClerkIdx, (ClerkActivity, i64)>,
    pending: Vec<Stretch>,
}

/// The activity a state counts as; signed out or disconnected counts as nothing.
fn activity(state: ClerkState) -> Option<ClerkActivity> {
    match state {
        ClerkState::Offline | ClerkState::Away(AwayReason::Disconnected) => None,
        ClerkState::Available => Some(ClerkActivity::Available),
        ClerkState::Offered => Some(ClerkActivity::Offered),
        ClerkState::InCall => Some(ClerkActivity::InCall),
        ClerkState::WrapUp => Some(ClerkActivity::WrapUp),
        ClerkState::Away(_) => Some(ClerkActivity::Away),
    }
}

impl ClerkTime {
    /// Follows a clerk state change at `now_ms`.
    pub fn on_action(&mut self, action: &Action, now_ms: i64, dir: &Directory) {
        let Action::ClerkStateChanged { clerk, state } = *action else { return };
        let next = activity(state);
        if let Some((was, since)) = self.open.remove(&clerk) {
            let call_finished = was == ClerkActivity::InCall && next == Some(ClerkActivity::WrapUp);
            self.close(dir, clerk, was, since, now_ms, call_finished);
        }
        if let Some(next) = next {
            self.open.insert(clerk, (next, now_ms));
        }
    }

    fn close(&mut self, dir: &Directory, clerk: ClerkIdx, was: ClerkActivity, since: i64, end: i64, done: bool) {
        if end <= since {
            return;
        }
        let c = dir.clerk(clerk);
        self.pending.push(Stretch {
            clerk: c.id.clone(),
            hall: dir.region(c.hall).id.clone(),
            activity: was,
            start_ms: since,
            end_ms: end,
            call_finished: done,
        });
    }

    /// Closes every open stretch at the last hour boundary before `now_ms` and opens it again
    /// there, so the hours gone by are complete in the store.
    pub fn cut_hours(&mut self, now_ms: i64, dir: &Directory) {
        let boundary = china_time::hour_start_ms(now_ms);
        let due: Vec<(ClerkIdx, ClerkActivity, i64)> =
            self.open.iter().filter(|(_, (_, since))| *since < boundary).map(|(c, (a, s))| (*c, *a, *s)).collect();
        for (clerk, was, since) in due {
            self.close(dir, clerk, was, since, boundary, false);
            self.open.insert(clerk, (was, boundary));
        }
    }

    /// The stretches closed since the last call.
    pub fn take_closed(&mut self) -> Vec<Stretch> {
        std::mem::take(&mut self.pending)
    }

    /// The open stretches, for the driver's snapshot: (clerk index, activity, since), by clerk.
    pub fn open_list(&self) -> Vec<(u32, ClerkActivity, i64)> {
        let mut list: Vec<_> = self.open.iter().map(|(c, (a, s))| (c.0, *a, *s)).collect();
        list.sort_by_key(|(c, _, _)| *c);
        list
    }

    /// Restores the open stretches of a snapshot.
    pub fn restore(&mut self, list: &[(u32, ClerkActivity, i64)]) {
        self.open = list.iter().map(|(c, a, s)| (ClerkIdx(*c), (*a, *s))).collect();
        self.pending.clear();
    }
}
