//! A canonical description of the engine's whole state, for checking that a replay of the same
//! inputs at the same instants rebuilt the same engine (the cluster's standby routers and the
//! single node's restart rely on it). Every map is listed in key order and every instant as its
//! distance from `base`, so two engines compare equal exactly when their states do.

use std::fmt::Write;
use std::time::Instant;

use crate::engine::Engine;

impl Engine {
    /// The engine's state as text, instants measured from `base`.
    pub fn describe(&self, base: Instant) -> String {
        let at = |i: Instant| i.saturating_duration_since(base).as_nanos();
        let mut out = String::new();
        let mut tickets: Vec<_> = self.tickets.iter().collect();
        tickets.sort_by_key(|(id, _)| **id);
        for (id, t) in tickets {
            let _ = writeln!(
                out,
                "ticket {} booth {} service {} {:?} key {:?} enqueued {} steps {:?} step {} {:?} excluded {:?} \
                 expiry {} answered {}",
                id.0,
                t.booth.0,
                t.service().0,
                t.priority,
                t.key(),
                at(t.enqueued_at),
                t.steps(),
                t.step(),
                t.phase(),
                t.excluded,
                t.expiry_epoch,
                t.answered
            );
        }
        for (i, c) in self.clerks.iter().enumerate() {
            let _ = writeln!(
                out,
                "clerk {i} {:?} since {} idle {} missed {} epoch {} wrapping {:?} connected {} grace {} resume {}",
                c.state,
                at(c.since),
                c.idle_seq,
                c.missed,
                c.epoch,
                c.wrapping,
                c.connected,
                c.grace_epoch,
                c.resume_available
            );
        }
        for (i, b) in self.booths.iter().enumerate() {
            let _ = writeln!(out, "booth {i} {b:?}");
        }
        let mut offers: Vec<_> = self.offers.iter().collect();
        offers.sort_by_key(|(id, _)| **id);
        for (id, o) in offers {
            let _ = writeln!(out, "offer {} {o:?}", id.0);
        }
        let mut calls: Vec<_> = self.calls.iter().collect();
        calls.sort_by_key(|(id, _)| **id);
        for (id, c) in calls {
            let _ = writeln!(
                out,
                "call {} ticket {} booth {} clerk {} started {} media {} {} handovers {}",
                id.0,
                c.ticket.0,
                c.booth.0,
                c.clerk.0,
                at(c.started_at),
                c.booth_media,
                c.clerk_media,
                c.handovers
            );
        }
        let mut answered: Vec<_> = self.answered.iter().collect();
        answered.sort();
        let _ = writeln!(out, "answered {answered:?}");
        let aht: Vec<u64> = self.aht_secs.iter().map(|a| a.to_bits()).collect();
        let _ = writeln!(out, "aht {aht:?}");
        let _ = writeln!(out, "counters {}", self.counters());
        let _ = writeln!(out, "timers next {:?} pending {}", self.timers.next_deadline().map(at), self.timers.len());
        out
    }
}
