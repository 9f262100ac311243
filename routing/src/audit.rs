//! Self-checks for tests: the engine's invariants, and a per-decision audit of ordering and
//! widening. Off by default (it costs a scan per decision); property tests switch it on.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::directory::ClerkIdx;
use crate::engine::{Engine, Phase};
use crate::model::*;

impl Engine {
    /// Turns on the per-decision audit; violations are collected for [`Engine::audit_violations`].
    pub fn enable_audit(&mut self) {
        self.audit = Some(Vec::new());
    }

    pub fn audit_violations(&self) -> &[String] {
        self.audit.as_deref().unwrap_or(&[])
    }

    fn record(&mut self, violation: String) {
        if let Some(log) = &mut self.audit {
            log.push(violation);
        }
    }

    /// Audit of an offer about to be made: no better eligible ticket may be waiting for the clerk.
    pub(crate) fn audit_offer(&mut self, ticket: TicketId, clerk: ClerkIdx) {
        if self.audit.is_none() {
            return;
        }
        let info = self.dir.clerk(clerk);
        let key = self.tickets[&ticket].key();
        let better = self.tickets.iter().find(|(id, t)| {
            **id != ticket
                && t.is_matchable()
                && t.key() < key
                && info.skills.contains(&t.service())
                && !t.excluded.contains(&clerk)
                && t.steps()[..=t.step()].iter().flatten().any(|h| *h == info.hall)
        });
        if let Some((id, _)) = better {
            let msg = format!("offer of {ticket:?} to {clerk:?} skipped better waiting {id:?}");
            self.record(msg);
        }
    }

    /// Audit of a widening: by threshold only once it is due; otherwise only past an empty step.
    pub(crate) fn audit_widen(&mut self, ticket: TicketId, cause: WidenCause, now: Instant) {
        if self.audit.is_none() {
            return;
        }
        let t = &self.tickets[&ticket];
        let ok = match cause {
            WidenCause::Threshold => {
                let th = &self.dir.service(t.service()).widen_after;
                let due = t.enqueued_at + th[t.step().min(th.len() - 1)];
                now >= due
            }
            WidenCause::EmptyStep => !t.steps()[t.step()]
                .iter()
                .any(|h| self.idx.signed_in.get(&(t.service(), *h)).copied().unwrap_or(0) > 0),
        };
        if !ok {
            let msg = format!("{ticket:?} widened from step {} by {cause:?} too early", t.step());
            self.record(msg);
        }
    }

    /// Checks that every record and index agrees with every other. `Err` names the first break.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut offered_clerks = BTreeSet::new();
        for (offer, rec) in &self.offers {
            match self.tickets.get(&rec.ticket).map(|t| t.phase()) {
                Some(Phase::Offered { offer: o, clerk }) if o == *offer && clerk == rec.clerk => {}
                other => return Err(format!("{offer:?} points at ticket in phase {other:?}")),
            }
            if !offered_clerks.insert(rec.clerk) {
                return Err(format!("{:?} holds two offers", rec.clerk));
            }
        }
        let mut calling_clerks = BTreeSet::new();
        for (call, rec) in &self.calls {
            match self.tickets.get(&rec.ticket).map(|t| t.phase()) {
                Some(Phase::Connected { call: c, clerk }) if c == *call && clerk == rec.clerk => {}
                other => return Err(format!("{call:?} points at ticket in phase {other:?}")),
            }
            if !calling_clerks.insert(rec.clerk) || offered_clerks.contains(&rec.clerk) {
                return Err(format!("{:?} holds two calls or a call and an offer", rec.clerk));
            }
        }
        for (i, c) in self.clerks.iter().enumerate() {
            let clerk = ClerkIdx(i as u32);
            if (c.state == ClerkState::Offered) != offered_clerks.contains(&clerk) {
                return Err(format!("{clerk:?} in {:?} disagrees with the offers", c.state));
            }
            if (c.state == ClerkState::InCall) != calling_clerks.contains(&clerk) {
                return Err(format!("{clerk:?} in {:?} disagrees with the calls", c.state));
            }
        }
        for (id, t) in self.tickets.iter() {
            if self.booths[t.booth.0 as usize].ticket != Some(*id) {
                return Err(format!("{id:?} is not its booth's ticket"));
            }
            let in_index = t.steps()[..=t.step()]
                .iter()
                .flatten()
                .all(|h| self.tickets.waiting_at((t.service(), *h)).is_some_and(|s| s.contains(&(t.key(), *id))));
            // Worked out here from the booth, not asked of the ticket: its own flag must agree.
            let matchable = t.phase() == Phase::Waiting && self.booths[t.booth.0 as usize].connected;
            if matchable != t.is_matchable() {
                return Err(format!("{id:?} disagrees with its booth on whether the booth is there"));
            }
            if matchable != in_index {
                return Err(format!("{id:?} in {:?} disagrees with the waiting index", t.phase()));
            }
            if matches!(t.phase(), Phase::Offered { .. }) && !self.booths[t.booth.0 as usize].connected {
                return Err(format!("{id:?} is offered while its booth is away"));
            }
            if matchable {
                for h in t.steps()[..=t.step()].iter().flatten() {
                    let free = self.idx.available.get(&(t.service(), *h)).into_iter().flatten();
                    if let Some((_, _, c)) = free.into_iter().find(|(_, _, c)| !t.excluded.contains(c)) {
                        return Err(format!("{id:?} waits while {c:?} is available in its pool"));
                    }
                }
            }
        }
        let indexed: usize = self.tickets.waiting().values().map(|s| s.len()).sum();
        let expected: usize = self
            .tickets
            .values()
            .filter(|t| t.is_matchable())
            .map(|t| t.steps()[..=t.step()].iter().map(Vec::len).sum::<usize>())
            .sum();
        if indexed != expected {
            return Err(format!("waiting index holds {indexed} entries, expected {expected}"));
        }
        for (b, rec) in self.booths.iter().enumerate() {
            if let Some(t) = rec.ticket {
                if self.tickets.get(&t).map(|t| t.booth.0 as usize) != Some(b) {
                    return Err(format!("booth {b} points at {t:?} which is not its own"));
                }
            }
        }
        Ok(())
    }
}
