//! Open tickets and the index of waiting ones, behind one gate — as clerks have
//! `set_clerk_state`. A ticket is in the waiting index exactly while it is waiting and its booth
//! is connected, under every (service, hall) of its pool so far (steps `0..=step`), with its queue
//! key. Its phase, its presence, its pool, its service and its key change only through the
//! methods here, so no caller can leave the index behind: those fields are private to this module.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use crate::directory::{BoothIdx, ClerkIdx, RegionIdx, ServiceIdx};
use crate::fxhash::FxMap;
use crate::model::*;

/// Sort key of a waiting ticket: higher priority class first, then lower `order` (arrival).
/// A ticket put back at the head after its clerk was lost gets a negative order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueueKey {
    class: u8,
    order: i64,
}

impl QueueKey {
    pub fn new(priority: Priority, order: i64) -> Self {
        let class = match priority {
            Priority::Appointment => 0,
            Priority::Elderly => 1,
            Priority::Normal => 2,
        };
        Self { class, order }
    }

    /// Its class and order (a snapshot writes them as numbers).
    pub(crate) fn parts(self) -> (u8, i64) {
        (self.class, self.order)
    }

    pub(crate) fn from_parts(class: u8, order: i64) -> Self {
        Self { class, order }
    }

    pub fn at_head(self, order: i64) -> Self {
        Self { class: self.class, order }
    }
}

/// A (service, hall) pair: the unit of every index.
pub(crate) type HallKey = (ServiceIdx, RegionIdx);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Waiting,
    Offered { offer: OfferId, clerk: ClerkIdx },
    Connected { call: CallId, clerk: ClerkIdx },
}

#[derive(Debug, Clone)]
pub(crate) struct TicketRec {
    pub booth: BoothIdx,
    pub priority: Priority,
    pub enqueued_at: Instant,
    /// Clerks who declined or missed this ticket; it is not offered to them again.
    pub excluded: Vec<ClerkIdx>,
    pub expiry_epoch: u64,
    /// Counted in the service level already (at its first answer; a re-queue does not recount).
    pub answered: bool,
    service: ServiceIdx,
    key: QueueKey,
    steps: Arc<[Vec<RegionIdx>]>,
    /// Its home hall: the first hall of its first step (kept beside the steps, which are two
    /// pointers away: a whole item's refresh reads it for every ticket).
    home: RegionIdx,
    /// Index of the widest step reached; the pool is steps `0..=step`.
    step: usize,
    phase: Phase,
    /// Its booth is connected (a ticket whose booth is away is held out of matching).
    present: bool,
}

impl TicketRec {
    /// A new ticket: waiting at its first step, its booth connected.
    pub fn new(
        booth: BoothIdx,
        service: ServiceIdx,
        priority: Priority,
        key: QueueKey,
        enqueued_at: Instant,
        steps: Arc<[Vec<RegionIdx>]>,
    ) -> Self {
        Self {
            booth,
            priority,
            enqueued_at,
            excluded: Vec::new(),
            expiry_epoch: 0,
            answered: false,
            service,
            key,
            home: home_of(&steps),
            steps,
            step: 0,
            phase: Phase::Waiting,
            present: true,
        }
    }

    /// A ticket as a snapshot holds it (`present`: whether its booth is connected).
    pub fn restored(mut base: Self, step: usize, phase: Phase, present: bool) -> Self {
        base.step = step;
        base.phase = phase;
        base.present = present;
        base
    }

    pub fn service(&self) -> ServiceIdx {
        self.service
    }

    pub fn key(&self) -> QueueKey {
        self.key
    }

    pub fn steps(&self) -> &Arc<[Vec<RegionIdx>]> {
        &self.steps
    }

    /// The hall whose queue its position is counted in.
    pub fn home(&self) -> RegionIdx {
        self.home
    }

    pub fn step(&self) -> usize {
        self.step
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The halls of its pool so far, step by step.
    pub fn pool(&self) -> &[Vec<RegionIdx>] {
        &self.steps[..=self.step]
    }

    /// Whether it is in the waiting index: waiting, and its booth connected.
    pub fn is_matchable(&self) -> bool {
        self.phase == Phase::Waiting && self.present
    }
}

/// The first hall of the first step (an open ticket always has one: a request no hall may serve is
/// refused before a ticket opens).
fn home_of(steps: &[Vec<RegionIdx>]) -> RegionIdx {
    steps.first().and_then(|step| step.first()).copied().unwrap_or(RegionIdx(0))
}

/// The open tickets, the waiting index and the open tickets per service.
#[derive(Debug, Default)]
pub(crate) struct Tickets {
    recs: FxMap<TicketId, TicketRec>,
    /// Waiting tickets whose pool includes the hall, best first.
    waiting: FxMap<HallKey, BTreeSet<(QueueKey, TicketId)>>,
    /// Open tickets per service, in ticket order (for sign-out checks and status updates).
    by_service: FxMap<ServiceIdx, BTreeSet<TicketId>>,
}

impl std::ops::Index<&TicketId> for Tickets {
    type Output = TicketRec;
    fn index(&self, id: &TicketId) -> &TicketRec {
        &self.recs[id]
    }
}

impl Tickets {
    pub fn get(&self, id: &TicketId) -> Option<&TicketRec> {
        self.recs.get(id)
    }

    /// The ticket's fields that no index depends on.
    pub fn get_mut(&mut self, id: &TicketId) -> Option<&mut TicketRec> {
        self.recs.get_mut(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&TicketId, &TicketRec)> {
        self.recs.iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &TicketId> {
        self.recs.keys()
    }

    pub fn values(&self) -> impl Iterator<Item = &TicketRec> {
        self.recs.values()
    }

    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// The waiting tickets whose pool includes `key`'s hall, best first.
    pub fn waiting_at(&self, key: HallKey) -> Option<&BTreeSet<(QueueKey, TicketId)>> {
        self.waiting.get(&key)
    }

    /// The whole waiting index (snapshots, the audit).
    pub fn waiting(&self) -> &FxMap<HallKey, BTreeSet<(QueueKey, TicketId)>> {
        &self.waiting
    }

    /// Open tickets per service (snapshots).
    pub fn by_service(&self) -> &FxMap<ServiceIdx, BTreeSet<TicketId>> {
        &self.by_service
    }

    /// Open tickets of `service`, in ticket order.
    pub fn of_service(&self, service: ServiceIdx) -> Option<&BTreeSet<TicketId>> {
        self.by_service.get(&service)
    }

    pub fn open(&mut self, id: TicketId, rec: TicketRec) {
        self.by_service.entry(rec.service).or_default().insert(id);
        self.recs.insert(id, rec);
        self.index(id, 0);
    }

    /// Removes an open ticket for good.
    pub fn close(&mut self, id: TicketId) -> TicketRec {
        self.unindex(id);
        let t = self.recs.remove(&id).expect("only open tickets are closed");
        if let Some(set) = self.by_service.get_mut(&t.service) {
            set.remove(&id);
        }
        t
    }

    /// The phase gate.
    pub fn set_phase(&mut self, id: TicketId, phase: Phase) {
        self.change(id, |t| t.phase = phase);
    }

    /// Its booth came back or went away.
    pub fn set_present(&mut self, id: TicketId, present: bool) {
        self.change(id, |t| t.present = present);
    }

    /// Puts it back at the head of its class.
    pub fn set_key(&mut self, id: TicketId, key: QueueKey) {
        self.change(id, |t| t.key = key);
    }

    /// Widens its pool by one step; returns the new step.
    pub fn widen(&mut self, id: TicketId) -> usize {
        let t = self.recs.get_mut(&id).expect("only open tickets widen");
        t.step += 1;
        let step = t.step;
        self.index(id, step);
        step
    }

    /// Moves it to another service's queue with that service's pool, from its first step.
    pub fn move_to_service(&mut self, id: TicketId, service: ServiceIdx, steps: Arc<[Vec<RegionIdx>]>) {
        let from = self.recs[&id].service;
        if let Some(set) = self.by_service.get_mut(&from) {
            set.remove(&id);
        }
        self.by_service.entry(service).or_default().insert(id);
        self.change(id, |t| {
            t.service = service;
            t.home = home_of(&steps);
            t.steps = steps;
            t.step = 0;
        });
    }

    /// The tickets and indexes a snapshot holds, taken as they are (an index set left empty
    /// stays, so the next snapshot is the same) once the index is checked against the tickets:
    /// the same entries as the gate would have made, else what differs.
    pub fn restore(
        &mut self,
        recs: Vec<(TicketId, TicketRec)>,
        by_service: FxMap<ServiceIdx, BTreeSet<TicketId>>,
        waiting: FxMap<HallKey, BTreeSet<(QueueKey, TicketId)>>,
    ) -> Result<(), String> {
        let mut rebuilt = Self::default();
        for (id, rec) in recs {
            rebuilt.by_service.entry(rec.service).or_default().insert(id);
            rebuilt.recs.insert(id, rec);
            rebuilt.index(id, 0);
        }
        let entries = |m: &FxMap<HallKey, BTreeSet<(QueueKey, TicketId)>>| {
            let mut all: Vec<(HallKey, QueueKey, TicketId)> =
                m.iter().flat_map(|(k, set)| set.iter().map(move |(q, t)| (*k, *q, *t))).collect();
            all.sort();
            all
        };
        if entries(&rebuilt.waiting) != entries(&waiting) {
            return Err("the waiting index does not match the waiting tickets".into());
        }
        let open = |m: &FxMap<ServiceIdx, BTreeSet<TicketId>>| {
            let mut all: Vec<(ServiceIdx, TicketId)> =
                m.iter().flat_map(|(s, set)| set.iter().map(move |t| (*s, *t))).collect();
            all.sort();
            all
        };
        if open(&rebuilt.by_service) != open(&by_service) {
            return Err("the open tickets per service do not match the tickets".into());
        }
        *self = Self { recs: rebuilt.recs, waiting, by_service };
        Ok(())
    }

    /// Applies `edit` to the ticket, keeping the index equal to what the ticket now is.
    fn change(&mut self, id: TicketId, edit: impl FnOnce(&mut TicketRec)) {
        self.unindex(id);
        edit(self.recs.get_mut(&id).expect("only open tickets change"));
        self.index(id, 0);
    }

    /// Adds a matchable ticket to the index for its steps `from..=step`.
    fn index(&mut self, id: TicketId, from: usize) {
        let t = &self.recs[&id];
        if !t.is_matchable() {
            return;
        }
        for hall in t.steps[from..=t.step].iter().flatten() {
            self.waiting.entry((t.service, *hall)).or_default().insert((t.key, id));
        }
    }

    fn unindex(&mut self, id: TicketId) {
        let t = &self.recs[&id];
        if !t.is_matchable() {
            return;
        }
        for hall in t.pool().iter().flatten() {
            if let Some(set) = self.waiting.get_mut(&(t.service, *hall)) {
                set.remove(&(t.key, id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens ticket `id` at `at` (the phase gate never looks at the time: any instant will do).
    fn ticket(tickets: &mut Tickets, at: Instant, id: u64, halls: &[u32]) -> TicketId {
        let steps: Arc<[Vec<RegionIdx>]> = halls.iter().map(|h| vec![RegionIdx(*h)]).collect::<Vec<_>>().into();
        let key = QueueKey::new(Priority::Normal, id as i64);
        let rec = TicketRec::new(BoothIdx(id as u32), ServiceIdx(0), Priority::Normal, key, at, steps);
        tickets.open(TicketId(id), rec);
        TicketId(id)
    }

    fn waiting(tickets: &Tickets, hall: u32) -> Vec<TicketId> {
        tickets.waiting_at((ServiceIdx(0), RegionIdx(hall))).into_iter().flatten().map(|(_, t)| *t).collect()
    }

    /// Every change through the gate leaves the index at "waiting and its booth there", over the
    /// steps reached so far.
    #[test]
    fn the_index_follows_phase_presence_and_pool() {
        // The test's timeline origin (the only clock read: the gate itself takes no time).
        let t0 = Instant::now();
        let mut tickets = Tickets::default();
        let a = ticket(&mut tickets, t0, 1, &[10, 20]);
        let b = ticket(&mut tickets, t0, 2, &[10]);
        assert_eq!(waiting(&tickets, 10), [a, b]);
        assert_eq!(waiting(&tickets, 20), []);
        assert_eq!(tickets.widen(a), 1);
        assert_eq!(waiting(&tickets, 20), [a]);
        tickets.set_phase(a, Phase::Offered { offer: OfferId(1), clerk: ClerkIdx(0) });
        assert_eq!((waiting(&tickets, 10), waiting(&tickets, 20)), (vec![b], vec![]));
        tickets.set_present(a, false);
        tickets.set_phase(a, Phase::Waiting);
        assert_eq!(waiting(&tickets, 20), [], "held while its booth is away");
        tickets.set_present(a, true);
        assert_eq!(waiting(&tickets, 20), [a]);
        tickets.set_key(a, tickets[&a].key().at_head(-1));
        assert_eq!(waiting(&tickets, 10), [a, b], "at the head");
        tickets.close(a);
        assert_eq!((waiting(&tickets, 10), waiting(&tickets, 20)), (vec![b], vec![]));
    }

    /// A snapshot whose index disagrees with its tickets is refused.
    #[test]
    fn a_restored_index_must_match_the_tickets() {
        let t0 = Instant::now();
        let mut live = Tickets::default();
        let a = ticket(&mut live, t0, 1, &[10]);
        let recs = vec![(a, live[&a].clone())];
        let mut restored = Tickets::default();
        assert!(restored.restore(recs.clone(), live.by_service().clone(), live.waiting().clone()).is_ok());
        assert_eq!(waiting(&restored, 10), [a]);
        let mut wrong = live.waiting().clone();
        wrong.clear();
        assert!(Tickets::default().restore(recs, live.by_service().clone(), wrong).is_err());
    }
}
