//! A snapshot of the engine's whole state, so a replay can start from it instead of from the
//! first input: what the engine holds, with every instant written as nanoseconds after a base
//! instant the caller names (the start of its timeline). Restoring it gives an engine that
//! behaves exactly as the one it was taken from — the same actions for the same inputs — which
//! the tests check with [`Engine::describe`] and the audit.
//!
//! Derived data is rebuilt, not stored: each ticket's widening steps (from the directory).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clerk_index::ClerkIndex;
use crate::directory::{BoothIdx, ClerkIdx, Directory, RegionIdx, ServiceIdx};
use crate::engine::{BoothRec, CallRec, ClerkRec, Engine, EngineConfig, OfferRec, Phase, TicketRec};
use crate::fxhash::FxMap;
use crate::model::{CallId, ClerkState, OfferId, Priority, TicketId};
use crate::tickets::QueueKey;
use crate::timers::{Timer, Timers};

/// A queue: (service, hall).
pub(super) type HallKey = (ServiceIdx, RegionIdx);
/// An available clerk in a queue's index: idle since (nanoseconds), tie-breaker, clerk.
pub(super) type IdleClerk = (u64, u64, ClerkIdx);

/// The engine's state at one instant. Opaque: take it with [`Engine::snapshot`], write it as
/// numbers ([`EngineSnapshot::to_words`]), give it back to [`Engine::restore`].
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSnapshot {
    pub(super) tickets: Vec<(TicketId, TicketSnap)>,
    pub(super) open_by_service: Vec<(ServiceIdx, Vec<TicketId>)>,
    pub(super) clerks: Vec<ClerkSnap>,
    pub(super) booths: Vec<(Option<TicketId>, bool, u64)>,
    pub(super) offers: Vec<(OfferId, TicketId, ClerkIdx)>,
    pub(super) calls: Vec<(CallId, CallSnap)>,
    pub(super) waiting: Vec<(HallKey, Vec<(QueueKey, TicketId)>)>,
    pub(super) available: Vec<(HallKey, Vec<IdleClerk>)>,
    pub(super) signed_in: Vec<(HallKey, u32)>,
    pub(super) working: Vec<(HallKey, u32)>,
    pub(super) timers: Vec<(u64, u64, Timer)>,
    pub(super) timer_seq: u64,
    /// Handling-time averages as their bits: a float through text is not always the same float.
    pub(super) aht_bits: Vec<u64>,
    pub(super) answered: Vec<((RegionIdx, ServiceIdx), (u32, u32))>,
    pub(super) next: [i64; 6],
    pub(super) last_now: Option<u64>,
    pub(super) shut_down: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct TicketSnap {
    pub(super) booth: BoothIdx,
    pub(super) service: ServiceIdx,
    pub(super) priority: Priority,
    pub(super) key: QueueKey,
    pub(super) enqueued_at: u64,
    pub(super) step: usize,
    pub(super) phase: Phase,
    pub(super) excluded: Vec<ClerkIdx>,
    pub(super) expiry_epoch: u64,
    pub(super) answered: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ClerkSnap {
    pub(super) state: ClerkState,
    pub(super) since: u64,
    pub(super) idle_seq: u64,
    pub(super) missed: u32,
    pub(super) epoch: u64,
    pub(super) wrapping: Option<(ServiceIdx, u64)>,
    pub(super) connected: bool,
    pub(super) grace_epoch: u64,
    pub(super) resume_available: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct CallSnap {
    pub(super) ticket: TicketId,
    pub(super) booth: BoothIdx,
    pub(super) clerk: ClerkIdx,
    pub(super) started_at: u64,
    pub(super) booth_media: bool,
    pub(super) clerk_media: bool,
    pub(super) handovers: u32,
}

/// Why a snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("the snapshot was taken with another directory ({what} differ)")]
    Directory { what: &'static str },
    #[error("the snapshot is inconsistent: {0}")]
    Inconsistent(String),
}

fn nanos(base: Instant, at: Instant) -> u64 {
    at.saturating_duration_since(base).as_nanos() as u64
}

fn at(base: Instant, nanos: u64) -> Instant {
    base + Duration::from_nanos(nanos)
}

/// A map's entries, in key order.
fn sorted<K: Ord + Copy, V: Copy>(map: &FxMap<K, V>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = map.iter().map(|(k, x)| (*k, *x)).collect();
    v.sort_by_key(|(k, _)| *k);
    v
}

impl Engine {
    /// The whole state, instants as nanoseconds after `base`. Taken between inputs (no action
    /// may be pending).
    pub fn snapshot(&self, base: Instant) -> EngineSnapshot {
        debug_assert!(self.actions.is_empty(), "a snapshot is taken with every action drained");
        let mut tickets: Vec<(TicketId, TicketSnap)> = self
            .tickets
            .iter()
            .map(|(id, t)| {
                let snap = TicketSnap {
                    booth: t.booth,
                    service: t.service(),
                    priority: t.priority,
                    key: t.key(),
                    enqueued_at: nanos(base, t.enqueued_at),
                    step: t.step(),
                    phase: t.phase(),
                    excluded: t.excluded.clone(),
                    expiry_epoch: t.expiry_epoch,
                    answered: t.answered,
                };
                (*id, snap)
            })
            .collect();
        tickets.sort_by_key(|(id, _)| *id);
        let mut open_by_service: Vec<(ServiceIdx, Vec<TicketId>)> =
            self.tickets.by_service().iter().map(|(s, set)| (*s, set.iter().copied().collect())).collect();
        open_by_service.sort_by_key(|(s, _)| *s);
        let clerks = self
            .clerks
            .iter()
            .map(|c| ClerkSnap {
                state: c.state,
                since: nanos(base, c.since),
                idle_seq: c.idle_seq,
                missed: c.missed,
                epoch: c.epoch,
                wrapping: c.wrapping.map(|(s, d)| (s, d.as_nanos() as u64)),
                connected: c.connected,
                grace_epoch: c.grace_epoch,
                resume_available: c.resume_available,
            })
            .collect();
        let mut offers: Vec<(OfferId, TicketId, ClerkIdx)> =
            self.offers.iter().map(|(id, o)| (*id, o.ticket, o.clerk)).collect();
        offers.sort_by_key(|o| o.0);
        let mut calls: Vec<(CallId, CallSnap)> = self
            .calls
            .iter()
            .map(|(id, c)| {
                let snap = CallSnap {
                    ticket: c.ticket,
                    booth: c.booth,
                    clerk: c.clerk,
                    started_at: nanos(base, c.started_at),
                    booth_media: c.booth_media,
                    clerk_media: c.clerk_media,
                    handovers: c.handovers,
                };
                (*id, snap)
            })
            .collect();
        calls.sort_by_key(|(id, _)| *id);
        let mut waiting: Vec<(HallKey, Vec<(QueueKey, TicketId)>)> =
            self.tickets.waiting().iter().map(|(k, set)| (*k, set.iter().copied().collect())).collect();
        waiting.sort_by_key(|(k, _)| *k);
        let mut available: Vec<(HallKey, Vec<IdleClerk>)> = self
            .idx
            .available
            .iter()
            .map(|(k, set)| (*k, set.iter().map(|(t, seq, c)| (nanos(base, *t), *seq, *c)).collect()))
            .collect();
        available.sort_by_key(|(k, _)| *k);
        let (timers, timer_seq) = self.timers.entries();
        EngineSnapshot {
            tickets,
            open_by_service,
            clerks,
            booths: self.booths.iter().map(|b| (b.ticket, b.connected, b.epoch)).collect(),
            offers,
            calls,
            waiting,
            available,
            signed_in: sorted(&self.idx.signed_in),
            working: sorted(&self.idx.working),
            timers: timers.into_iter().map(|(t, seq, timer)| (nanos(base, t), seq, timer)).collect(),
            timer_seq,
            aht_bits: self.aht_secs.iter().map(|a| a.to_bits()).collect(),
            answered: sorted(&self.answered),
            next: [
                self.next_ticket as i64,
                self.next_offer as i64,
                self.next_call as i64,
                self.next_order,
                self.next_head_order,
                self.next_idle_seq as i64,
            ],
            last_now: self.last_now.map(|t| nanos(base, t)),
            shut_down: self.shut_down,
        }
    }

    /// An engine in the state `snap` describes, over `dir` (the directory it was taken with) and
    /// `cfg`, instants counted from `base`.
    pub fn restore(
        dir: Arc<Directory>,
        cfg: EngineConfig,
        base: Instant,
        snap: &EngineSnapshot,
    ) -> Result<Engine, SnapshotError> {
        if snap.clerks.len() != dir.clerks.len() {
            return Err(SnapshotError::Directory { what: "clerks" });
        }
        if snap.booths.len() != dir.booths.len() {
            return Err(SnapshotError::Directory { what: "booths" });
        }
        if snap.aht_bits.len() != dir.services.len() {
            return Err(SnapshotError::Directory { what: "services" });
        }
        let mut engine = Engine::new(dir.clone(), cfg, base);
        let mut tickets = Vec::with_capacity(snap.tickets.len());
        for (id, t) in &snap.tickets {
            if t.booth.0 as usize >= dir.booths.len() || t.service.0 as usize >= dir.services.len() {
                return Err(SnapshotError::Inconsistent(format!("ticket {} names an unknown booth or service", id.0)));
            }
            let steps = engine.steps_for(dir.booth(t.booth).region, t.service);
            if t.step >= steps.len() {
                return Err(SnapshotError::Inconsistent(format!("ticket {} is past its last step", id.0)));
            }
            let present = snap.booths.get(t.booth.0 as usize).is_some_and(|(_, connected, _)| *connected);
            let new = TicketRec::new(t.booth, t.service, t.priority, t.key, at(base, t.enqueued_at), steps);
            let mut rec = TicketRec::restored(new, t.step, t.phase, present);
            rec.excluded = t.excluded.clone();
            rec.expiry_epoch = t.expiry_epoch;
            rec.answered = t.answered;
            tickets.push((*id, rec));
        }
        let by_service =
            snap.open_by_service.iter().map(|(s, ids)| (*s, ids.iter().copied().collect::<BTreeSet<_>>())).collect();
        let waiting = snap.waiting.iter().map(|(k, v)| (*k, v.iter().copied().collect())).collect();
        engine.tickets.restore(tickets, by_service, waiting).map_err(SnapshotError::Inconsistent)?;
        engine.clerks = snap
            .clerks
            .iter()
            .map(|c| ClerkRec {
                state: c.state,
                since: at(base, c.since),
                idle_seq: c.idle_seq,
                missed: c.missed,
                epoch: c.epoch,
                wrapping: c.wrapping.map(|(s, d)| (s, Duration::from_nanos(d))),
                connected: c.connected,
                grace_epoch: c.grace_epoch,
                resume_available: c.resume_available,
            })
            .collect();
        engine.booths = snap
            .booths
            .iter()
            .map(|(ticket, connected, epoch)| BoothRec { ticket: *ticket, connected: *connected, epoch: *epoch })
            .collect();
        engine.offers =
            snap.offers.iter().map(|(id, ticket, clerk)| (*id, OfferRec { ticket: *ticket, clerk: *clerk })).collect();
        engine.calls = snap
            .calls
            .iter()
            .map(|(id, c)| {
                let rec = CallRec {
                    ticket: c.ticket,
                    booth: c.booth,
                    clerk: c.clerk,
                    started_at: at(base, c.started_at),
                    booth_media: c.booth_media,
                    clerk_media: c.clerk_media,
                    handovers: c.handovers,
                };
                (*id, rec)
            })
            .collect();
        engine.idx = ClerkIndex {
            available: snap
                .available
                .iter()
                .map(|(k, v)| (*k, v.iter().map(|(t, seq, c)| (at(base, *t), *seq, *c)).collect()))
                .collect(),
            signed_in: snap.signed_in.iter().copied().collect(),
            working: snap.working.iter().copied().collect(),
        };
        engine.timers = Timers::from_entries(
            snap.timers.iter().map(|(t, seq, timer)| (at(base, *t), *seq, *timer)),
            snap.timer_seq,
        );
        engine.aht_secs = snap.aht_bits.iter().map(|b| f64::from_bits(*b)).collect();
        engine.answered = snap.answered.iter().copied().collect();
        let [ticket, offer, call, order, head_order, idle_seq] = snap.next;
        engine.next_ticket = ticket as u64;
        engine.next_offer = offer as u64;
        engine.next_call = call as u64;
        engine.next_order = order;
        engine.next_head_order = head_order;
        engine.next_idle_seq = idle_seq as u64;
        engine.last_now = snap.last_now.map(|t| at(base, t));
        engine.shut_down = snap.shut_down;
        engine.actions = VecDeque::new();
        Ok(engine)
    }
}
