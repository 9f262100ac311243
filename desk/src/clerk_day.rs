//! Each clerk's day so far, for the supervisors' clerk list: calls handled, the average handling
//! time (talk + wrap-up), offers missed, ratings received and how many were bad (不满意 or worse).
//! Counted from the routed actions on the driver's timeline and reset at China midnight; a display
//! figure (a restart counts from the log it replays), not a record — the reports are the record.

use std::collections::HashMap;
use std::time::Instant;

use routing::{Action, CallEndReason, ClerkIdx, ClerkState, OfferRevokeReason, TicketId};

/// One clerk's figures so far today.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub calls: u32,
    pub handle_ms: u64,
    pub missed: u32,
    pub ratings: u32,
    pub bad_ratings: u32,
    call_started: Option<Instant>,
    wrap_started: Option<Instant>,
}

impl Tally {
    /// Average handling time of the day's calls (talk + wrap-up), seconds.
    pub fn avg_handle_secs(&self) -> Option<u32> {
        (self.calls > 0).then(|| (self.handle_ms / u64::from(self.calls) / 1000) as u32)
    }
}

/// Every clerk's day, counted from the engine's actions.
#[derive(Default)]
pub struct ClerkDay {
    day: String,
    by_clerk: HashMap<ClerkIdx, Tally>,
    /// Served tickets not rated yet, by who finished them.
    served_by: HashMap<TicketId, ClerkIdx>,
}

impl ClerkDay {
    pub fn get(&self, clerk: ClerkIdx) -> Tally {
        self.by_clerk.get(&clerk).copied().unwrap_or_default()
    }

    /// Starts a new day's counts when the China date changed.
    pub fn roll(&mut self, day: String) {
        if day != self.day {
            self.day = day;
            for t in self.by_clerk.values_mut() {
                *t = Tally { call_started: t.call_started, wrap_started: t.wrap_started, ..Tally::default() };
            }
            self.served_by.clear();
        }
    }

    fn end_part(&mut self, clerk: ClerkIdx, now: Instant) {
        let t = self.by_clerk.entry(clerk).or_default();
        if let Some(at) = t.call_started.take() {
            t.calls += 1;
            t.handle_ms += now.saturating_duration_since(at).as_millis() as u64;
            t.wrap_started = Some(now);
        }
    }

    pub fn on_action(&mut self, action: &Action, now: Instant) {
        match *action {
            Action::CallStarted { clerk, .. } => self.by_clerk.entry(clerk).or_default().call_started = Some(now),
            Action::CallEnded { clerk, ticket, reason, .. } => {
                if matches!(reason, CallEndReason::ClerkLost | CallEndReason::MediaFailed) {
                    self.by_clerk.entry(clerk).or_default().call_started = None;
                } else {
                    self.end_part(clerk, now);
                    self.served_by.insert(ticket, clerk);
                }
            }
            Action::CallTransferred { from, to, .. } => {
                self.end_part(from, now);
                self.by_clerk.entry(to).or_default().call_started = Some(now);
            }
            Action::ClerkStateChanged { clerk, state } if state != ClerkState::WrapUp => {
                let t = self.by_clerk.entry(clerk).or_default();
                if let Some(at) = t.wrap_started.take() {
                    t.handle_ms += now.saturating_duration_since(at).as_millis() as u64;
                }
            }
            Action::OfferRevoked { clerk, reason: OfferRevokeReason::Timeout, .. } => {
                self.by_clerk.entry(clerk).or_default().missed += 1;
            }
            _ => {}
        }
    }

    /// A served ticket was rated.
    pub fn rated(&mut self, ticket: TicketId, bad: bool) {
        if let Some(clerk) = self.served_by.remove(&ticket) {
            let t = self.by_clerk.entry(clerk).or_default();
            t.ratings += 1;
            t.bad_ratings += u32::from(bad);
        }
    }
}
