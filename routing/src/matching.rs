//! Matching: the indexes that make it cheap, clerk state transitions that keep them true, and
//! the two directions of matching (a ticket looks for a clerk; a clerk looks for a ticket).
//!
//! Invariant kept after every input: no waiting ticket has an available clerk in its pool who
//! has not declined or missed it. So matching only ever runs for the one ticket or clerk that
//! just changed, never as a scan.

use std::time::Instant;

use crate::clerk_index::{is_working, ClerkIndex};
use crate::directory::ClerkIdx;
use crate::engine::{Engine, OfferRec};
use crate::model::*;
use crate::tickets::{Phase, QueueKey, TicketRec};
use crate::timers::Timer;

impl Engine {
    /// The one place a clerk's state changes: keeps every index and count in step.
    pub(crate) fn set_clerk_state(&mut self, clerk: ClerkIdx, new: ClerkState, now: Instant) {
        // A clerk whose connection is down is never available: it is held until it returns.
        let new = match new {
            ClerkState::Available if !self.clerks[clerk.0 as usize].connected => {
                self.clerks[clerk.0 as usize].resume_available = true;
                ClerkState::Away(AwayReason::Disconnected)
            }
            other => other,
        };
        let old = self.clerks[clerk.0 as usize].state;
        let dir = self.dir.clone();
        let info = dir.clerk(clerk);
        if old == ClerkState::Available {
            let rec = &self.clerks[clerk.0 as usize];
            let entry = (rec.since, rec.idle_seq, clerk);
            for s in &info.skills {
                if let Some(set) = self.idx.available.get_mut(&(*s, info.hall)) {
                    set.remove(&entry);
                }
            }
        }
        let seq = if new == ClerkState::Available { self.next_idle_seq() } else { 0 };
        let rec = &mut self.clerks[clerk.0 as usize];
        rec.state = new;
        rec.since = now;
        rec.idle_seq = seq;
        rec.epoch += 1;
        if new == ClerkState::Available {
            for s in &info.skills {
                self.idx.available.entry((*s, info.hall)).or_default().insert((now, seq, clerk));
            }
        }
        let (was_in, is_in) = (old != ClerkState::Offline, new != ClerkState::Offline);
        let (was_working, now_working) = (is_working(old), is_working(new));
        for s in &info.skills {
            let key = (*s, info.hall);
            if was_in != is_in {
                ClerkIndex::bump(&mut self.idx.signed_in, key, is_in);
            }
            if was_working != now_working {
                ClerkIndex::bump(&mut self.idx.working, key, now_working);
            }
        }
        if old != new {
            self.emit(Action::ClerkStateChanged { clerk, state: new });
        }
    }

    /// Offers a waiting ticket to the available clerk idle longest at the nearest step of its pool.
    pub(crate) fn try_match_ticket(&mut self, ticket: TicketId, now: Instant) {
        let Some(t) = self.tickets.get(&ticket) else {
            return;
        };
        if !t.is_matchable() {
            return;
        }
        for step in t.pool() {
            let mut best: Option<(Instant, u64, ClerkIdx)> = None;
            for hall in step {
                let Some(set) = self.idx.available.get(&(t.service(), *hall)) else {
                    continue;
                };
                if let Some(c) = set.iter().find(|(_, _, c)| !t.excluded.contains(c)) {
                    if best.is_none_or(|b| *c < b) {
                        best = Some(*c);
                    }
                }
            }
            if let Some((_, _, clerk)) = best {
                self.make_offer(ticket, clerk, now);
                return;
            }
        }
    }

    /// Offers an available clerk the best waiting ticket across all its skills.
    pub(crate) fn try_match_clerk(&mut self, clerk: ClerkIdx, now: Instant) {
        if self.clerks[clerk.0 as usize].state != ClerkState::Available {
            return;
        }
        let info = self.dir.clerk(clerk);
        let mut best: Option<(QueueKey, TicketId)> = None;
        for s in &info.skills {
            let Some(set) = self.tickets.waiting_at((*s, info.hall)) else {
                continue;
            };
            let found = set.iter().find(|(_, id)| !self.tickets[id].excluded.contains(&clerk));
            if let Some(entry) = found {
                if best.is_none_or(|b| *entry < b) {
                    best = Some(*entry);
                }
            }
        }
        if let Some((_, ticket)) = best {
            self.make_offer(ticket, clerk, now);
        }
    }

    fn make_offer(&mut self, ticket: TicketId, clerk: ClerkIdx, now: Instant) {
        self.audit_offer(ticket, clerk);
        let offer = self.next_offer_id();
        self.tickets.set_phase(ticket, Phase::Offered { offer, clerk });
        let t = &self.tickets[&ticket];
        let (booth, service) = (t.booth, t.service());
        self.offers.insert(offer, OfferRec { ticket, clerk });
        self.set_clerk_state(clerk, ClerkState::Offered, now);
        self.timers.schedule(now + self.cfg.offer_timeout, Timer::OfferExpiry { offer });
        self.emit(Action::OfferMade { offer, ticket, clerk, booth, service });
        self.emit(Action::QueueChanged { service });
    }

    /// Puts an offered or connected ticket back to waiting, in its place or at the head.
    pub(crate) fn return_to_waiting(&mut self, ticket: TicketId, cause: RequeueCause, now: Instant) {
        let head = if cause.at_head() { Some(self.next_head_order()) } else { None };
        self.tickets.set_phase(ticket, Phase::Waiting);
        if let Some(order) = head {
            let key = self.tickets[&ticket].key().at_head(order);
            self.tickets.set_key(ticket, key);
            // A re-queued citizen gets a fresh waiting allowance.
            let t = self.tickets.get_mut(&ticket).expect("only open tickets return to waiting");
            t.expiry_epoch += 1;
            let epoch = t.expiry_epoch;
            self.timers.schedule(now + self.cfg.max_wait, Timer::TicketExpiry { ticket, epoch });
        }
        let (booth, service) = (self.tickets[&ticket].booth, self.tickets[&ticket].service());
        self.emit(Action::TicketRequeued { ticket, booth, cause });
        self.emit(Action::QueueChanged { service });
        self.resume_widening(ticket, now);
        self.skip_empty_steps(ticket, now);
        if !self.pool_has_signed_in(ticket) {
            self.timers.schedule(now + self.cfg.no_clerk_grace, Timer::NoClerk { ticket });
        }
        self.try_match_ticket(ticket, now);
    }

    /// Moves the ticket's pool one step wider.
    pub(crate) fn widen(&mut self, ticket: TicketId, cause: WidenCause, now: Instant) {
        self.audit_widen(ticket, cause, now);
        let step = self.tickets.widen(ticket);
        self.emit(Action::TicketWidened { ticket, step, cause });
    }

    /// Widens at once past steps where nobody with the skill is signed in.
    pub(crate) fn skip_empty_steps(&mut self, ticket: TicketId, now: Instant) {
        loop {
            let t = &self.tickets[&ticket];
            if t.step() + 1 >= t.steps().len() || self.step_has_signed_in(t, t.step()) {
                return;
            }
            self.widen(ticket, WidenCause::EmptyStep, now);
        }
    }

    /// A ticket waits again (an offer declined or lost, a call requeued): it widens now to every
    /// step its wait has reached — the timers that came while it was offered or in a call were
    /// ignored — and the timer for the next step is set.
    pub(crate) fn resume_widening(&mut self, ticket: TicketId, now: Instant) {
        loop {
            let t = &self.tickets[&ticket];
            let to_step = t.step() + 1;
            if to_step >= t.steps().len() {
                return;
            }
            let thresholds = &self.dir.service(t.service()).widen_after;
            if t.enqueued_at + thresholds[(to_step - 1).min(thresholds.len() - 1)] > now {
                break;
            }
            self.widen(ticket, WidenCause::Threshold, now);
        }
        self.schedule_widen(ticket);
    }

    /// Sets the timer for the ticket's next threshold widening, if there is a next step.
    pub(crate) fn schedule_widen(&mut self, ticket: TicketId) {
        let t = &self.tickets[&ticket];
        let to_step = t.step() + 1;
        if to_step >= t.steps().len() {
            return;
        }
        let thresholds = &self.dir.service(t.service()).widen_after;
        let after = thresholds[(to_step - 1).min(thresholds.len() - 1)];
        let at = t.enqueued_at + after;
        self.timers.schedule(at, Timer::Widen { ticket, to_step });
    }

    fn step_has_signed_in(&self, t: &TicketRec, step: usize) -> bool {
        t.steps()[step].iter().any(|hall| ClerkIndex::count(&self.idx.signed_in, (t.service(), *hall)) > 0)
    }

    /// Whether anyone who could ever serve the ticket (at any step) is signed in.
    pub(crate) fn pool_has_signed_in(&self, ticket: TicketId) -> bool {
        let t = &self.tickets[&ticket];
        (0..t.steps().len()).any(|s| self.step_has_signed_in(t, s))
    }

    /// After a clerk signs out, waiting tickets whose current step emptied widen at once, and
    /// tickets left with nobody at all start their no-clerk grace period.
    pub(crate) fn after_sign_out(&mut self, clerk: ClerkIdx, now: Instant) {
        let dir = self.dir.clone();
        let info = dir.clerk(clerk);
        for s in &info.skills {
            if ClerkIndex::count(&self.idx.signed_in, (*s, info.hall)) > 0 {
                continue;
            }
            let affected: Vec<TicketId> = self
                .tickets
                .of_service(*s)
                .map(|set| {
                    set.iter()
                        .copied()
                        .filter(|id| {
                            let t = &self.tickets[id];
                            t.phase() == Phase::Waiting && t.steps()[t.step()].contains(&info.hall)
                        })
                        .collect()
                })
                .unwrap_or_default();
            for ticket in affected {
                let before = self.tickets[&ticket].step();
                self.skip_empty_steps(ticket, now);
                if self.tickets[&ticket].step() != before {
                    self.schedule_widen(ticket);
                    self.try_match_ticket(ticket, now);
                }
                if self.tickets.get(&ticket).is_some_and(|t| t.phase() == Phase::Waiting)
                    && !self.pool_has_signed_in(ticket)
                {
                    self.timers.schedule(now + self.cfg.no_clerk_grace, Timer::NoClerk { ticket });
                }
            }
        }
    }
}
