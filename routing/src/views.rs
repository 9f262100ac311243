//! Read-only views for the driver: a ticket's position and estimated wait, calls, clerk states,
//! and the per-(hall, service) load snapshot for supervisors.
//!
//! Position and estimate (documented in ARCHITECTURE.md):
//! - position = 1 + the number of waiting tickets ahead of this one (higher class, or same class
//!   and earlier) among those eligible for its home hall (the first step of its pool);
//! - estimate = 0 when a clerk in the pool is available; otherwise position × AHT ÷ n, where n is
//!   the number of clerks in the pool taking calls (available, offered, in call, wrap-up) and AHT
//!   is the service's moving average of talk + wrap-up time (starting at its expected value);
//!   unknown when n = 0.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clerk_index::ClerkIndex;
use crate::directory::{BoothIdx, ClerkIdx, RegionIdx, ServiceIdx};
use crate::engine::{Engine, Phase};
use crate::fxhash::FxMap;
use crate::model::*;

/// A pool's widening steps (shared by the tickets of one booth region) and how far a ticket has
/// widened along them.
/// (The steps' address: they are one `Arc` per booth region and item.)
type PoolStep = (usize, usize);

/// A ticket as the booth sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketView {
    pub ticket: TicketId,
    pub booth: BoothIdx,
    pub service: ServiceIdx,
    pub priority: Priority,
    pub state: TicketState,
    /// 1 = next; `None` unless waiting.
    pub position: Option<u32>,
    pub estimated_wait: Option<Duration>,
    pub waited: Duration,
    /// Widest step reached (0 = home hall).
    pub step: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallView {
    pub call: CallId,
    pub ticket: TicketId,
    pub booth: BoothIdx,
    pub clerk: ClerkIdx,
    pub service: ServiceIdx,
    /// Times the call was handed to another clerk so far.
    pub handovers: u32,
}

/// Load of one (hall, service) queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadRow {
    pub hall: Option<RegionIdx>,
    pub service: Option<ServiceIdx>,
    /// Open, not yet connected tickets whose home hall this is.
    pub waiting: u32,
    pub longest_wait: Duration,
    /// Of those, how many have widened beyond the home hall.
    pub overflowing: u32,
    pub clerks_signed_in: u32,
    pub available: u32,
    pub offered: u32,
    pub in_call: u32,
    pub wrap_up: u32,
    pub away: u32,
    /// Tickets of this queue answered since the engine started (first answer of each ticket)…
    pub answered: u32,
    /// …and of those, answered within the service's target answer time.
    pub answered_within_target: u32,
}

impl Engine {
    pub fn ticket_view(&self, ticket: TicketId, now: Instant) -> Option<TicketView> {
        let t = self.tickets.get(&ticket)?;
        let state = match t.phase() {
            Phase::Waiting => TicketState::Waiting,
            Phase::Offered { .. } => TicketState::Offered,
            Phase::Connected { .. } => TicketState::Connected,
        };
        let (position, estimated_wait) = if t.phase() == Phase::Waiting {
            let home = t.home();
            let ahead = self
                .tickets
                .waiting_at((t.service(), home))
                .map(|set| set.range(..(t.key(), ticket)).count())
                .unwrap_or(0);
            let position = ahead as u32 + 1;
            (Some(position), self.estimate(ticket, position))
        } else {
            (None, None)
        };
        Some(TicketView {
            ticket,
            booth: t.booth,
            service: t.service(),
            priority: t.priority,
            state,
            position,
            estimated_wait,
            waited: now.saturating_duration_since(t.enqueued_at),
            step: t.step(),
        })
    }

    fn estimate(&self, ticket: TicketId, position: u32) -> Option<Duration> {
        let t = &self.tickets[&ticket];
        let pool = self.pool_counts(t.service(), &t.steps()[..=t.step()]);
        self.estimate_from(t.service(), pool, position)
    }

    /// (working, available) clerks of `service` in the halls of `steps`.
    fn pool_counts(&self, service: ServiceIdx, steps: &[Vec<RegionIdx>]) -> (usize, usize) {
        let mut working = 0;
        let mut available = 0;
        for hall in steps.iter().flatten() {
            working += ClerkIndex::count(&self.idx.working, (service, *hall)) as usize;
            available += self.idx.available.get(&(service, *hall)).map_or(0, |s| s.len());
        }
        (working, available)
    }

    fn estimate_from(
        &self,
        service: ServiceIdx,
        (working, available): (usize, usize),
        position: u32,
    ) -> Option<Duration> {
        if available > 0 {
            return Some(Duration::ZERO);
        }
        if working == 0 {
            return None;
        }
        let aht = self.aht_secs[service.0 as usize];
        Some(Duration::from_secs_f64(position as f64 * aht / working as f64))
    }

    /// The views of every open ticket of `service`, the same as [`Engine::ticket_view`] gives one
    /// by one, with one walk of each home hall's queue: a waiting ticket's position is counted as
    /// the walk passes it (instead of a count of the tickets ahead per ticket, which makes a whole
    /// item's refresh quadratic), and the pool's clerk counts are looked up once per pool step.
    /// Ordered by home hall, then position; last, the others (offered, connected, or waiting for a
    /// booth that is away).
    pub fn open_views(&self, service: ServiceIdx, now: Instant) -> Vec<TicketView> {
        let mut homes: Vec<RegionIdx> = Vec::new();
        let mut unqueued: Vec<TicketId> = Vec::new();
        for id in self.open_tickets(service) {
            let t = &self.tickets[&id];
            if t.is_matchable() {
                homes.push(t.home());
            } else {
                unqueued.push(id);
            }
        }
        let mut views = Vec::with_capacity(homes.len() + unqueued.len());
        homes.sort_unstable();
        homes.dedup();
        // Tickets of one booth region share their widening steps: counts per (steps, step).
        let mut pools: FxMap<PoolStep, (usize, usize)> = FxMap::default();
        for home in homes {
            let Some(queue) = self.tickets.waiting_at((service, home)) else { continue };
            for (ahead, (_, id)) in queue.iter().enumerate() {
                let t = &self.tickets[id];
                if t.home() != home {
                    continue; // widened here from another home hall: counted, not shown here
                }
                let key = (Arc::as_ptr(t.steps()) as *const () as usize, t.step());
                let pool = *pools.entry(key).or_insert_with(|| self.pool_counts(service, &t.steps()[..=t.step()]));
                let position = ahead as u32 + 1;
                views.push(TicketView {
                    ticket: *id,
                    booth: t.booth,
                    service,
                    priority: t.priority,
                    state: TicketState::Waiting,
                    position: Some(position),
                    estimated_wait: self.estimate_from(service, pool, position),
                    waited: now.saturating_duration_since(t.enqueued_at),
                    step: t.step(),
                });
            }
        }
        views.extend(unqueued.into_iter().filter_map(|id| self.ticket_view(id, now)));
        views
    }

    /// Open tickets of a service, in ticket order.
    pub fn open_tickets(&self, service: ServiceIdx) -> impl Iterator<Item = TicketId> + '_ {
        self.tickets.of_service(service).into_iter().flatten().copied()
    }

    pub fn booth_ticket(&self, booth: BoothIdx) -> Option<TicketId> {
        self.booths.get(booth.0 as usize)?.ticket
    }

    pub fn is_booth_connected(&self, booth: BoothIdx) -> bool {
        self.booths.get(booth.0 as usize).is_some_and(|b| b.connected)
    }

    pub fn clerk_state(&self, clerk: ClerkIdx) -> ClerkState {
        self.clerks[clerk.0 as usize].state
    }

    /// When the clerk entered its current state.
    pub fn clerk_state_since(&self, clerk: ClerkIdx) -> Instant {
        self.clerks[clerk.0 as usize].since
    }

    pub fn call(&self, call: CallId) -> Option<CallView> {
        let c = self.calls.get(&call)?;
        let service = self.tickets[&c.ticket].service();
        Some(CallView { call, ticket: c.ticket, booth: c.booth, clerk: c.clerk, service, handovers: c.handovers })
    }

    /// Every live call, by call id.
    pub fn live_calls(&self) -> Vec<CallView> {
        let mut ids: Vec<CallId> = self.calls.keys().copied().collect();
        ids.sort();
        ids.into_iter().filter_map(|c| self.call(c)).collect()
    }

    /// The booth's live call, if any.
    pub fn call_of_booth(&self, booth: BoothIdx) -> Option<CallView> {
        let ticket = self.booth_ticket(booth)?;
        match self.tickets[&ticket].phase() {
            Phase::Connected { call, .. } => self.call(call),
            _ => None,
        }
    }

    /// The clerk's outstanding offer: (offer, ticket).
    pub fn offer_of(&self, clerk: ClerkIdx) -> Option<(OfferId, TicketId)> {
        let offer = self.offer_of_clerk(clerk)?;
        Some((offer, self.offers[&offer].ticket))
    }

    pub fn call_of(&self, clerk: ClerkIdx) -> Option<CallView> {
        self.call(self.call_of_clerk(clerk)?)
    }

    /// How many clerks are signed in who could serve `service` for a ticket from `booth` — in
    /// any step of its widening (what decides `no_clerk`). 0 when the item is not offered there.
    pub fn clerks_signed_in_for(&self, booth: BoothIdx, service: ServiceIdx) -> usize {
        let region = self.dir.booth(booth).region;
        let steps = self.dir.widening_steps(region, service);
        steps.iter().flatten().map(|hall| ClerkIndex::count(&self.idx.signed_in, (service, *hall)) as usize).sum()
    }

    pub fn open_ticket_count(&self) -> usize {
        self.tickets.len()
    }

    /// Load per (hall, service), for every pair that has open tickets, signed-in clerks or answered
    /// tickets.
    /// Sorted by hall then service index.
    pub fn load_snapshot(&self, now: Instant) -> Vec<LoadRow> {
        let mut rows: BTreeMap<(RegionIdx, ServiceIdx), LoadRow> = BTreeMap::new();
        fn row(
            rows: &mut BTreeMap<(RegionIdx, ServiceIdx), LoadRow>,
            hall: RegionIdx,
            service: ServiceIdx,
        ) -> &mut LoadRow {
            rows.entry((hall, service)).or_insert_with(|| LoadRow {
                hall: Some(hall),
                service: Some(service),
                ..LoadRow::default()
            })
        }
        for t in self.tickets.values() {
            if matches!(t.phase(), Phase::Connected { .. }) {
                continue;
            }
            let r = row(&mut rows, t.home(), t.service());
            r.waiting += 1;
            r.longest_wait = r.longest_wait.max(now.saturating_duration_since(t.enqueued_at));
            if t.step() > 0 {
                r.overflowing += 1;
            }
        }
        for (i, c) in self.clerks.iter().enumerate() {
            if c.state == ClerkState::Offline {
                continue;
            }
            let info = self.dir.clerk(ClerkIdx(i as u32));
            for s in &info.skills {
                let r = row(&mut rows, info.hall, *s);
                r.clerks_signed_in += 1;
                match c.state {
                    ClerkState::Available => r.available += 1,
                    ClerkState::Offered => r.offered += 1,
                    ClerkState::InCall => r.in_call += 1,
                    ClerkState::WrapUp => r.wrap_up += 1,
                    ClerkState::Away(_) => r.away += 1,
                    ClerkState::Offline => {}
                }
            }
        }
        for (&(hall, service), &(answered, within)) in &self.answered {
            let r = row(&mut rows, hall, service);
            r.answered = answered;
            r.answered_within_target = within;
        }
        rows.into_values().collect()
    }
}
