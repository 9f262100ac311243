//! The engine's timers: deadlines in the order they come due, invalidated lazily.
//!
//! Cancelling a timer would need a search; instead every timer names the state it was set for (an
//! offer id, a booth epoch, a step number) and is ignored when it fires if that state has moved on.
//! Stale entries cost one pop each.
//!
//! Most timers of one kind are set a fixed delay after the input that sets them (an offer's 30 s,
//! a call's media 15 s), and the engine's time never runs backwards, so they come due in the order
//! they were set: each kind has a first-in-first-out lane (widenings one per step), and a pop
//! compares only the lanes' fronts (a pop from one heap of every timer moved about 48 bytes per level of a heap tens of
//! thousands deep: a quarter of the engine bench's time). A timer that would come due before the
//! last of its lane (a widening of an item whose thresholds differ from the last one's; every
//! timer restored from a snapshot) goes to a min-heap beside them. Lanes are sorted by (deadline, insertion
//! number) as the heap is, so timers pop in exactly the order one heap of all of them would give.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use crate::directory::{BoothIdx, ClerkIdx};
use crate::model::{CallId, OfferId, TicketId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Widen the ticket's pool to `to_step` (if it is still at `to_step - 1`).
    Widen {
        ticket: TicketId,
        to_step: usize,
    },
    OfferExpiry {
        offer: OfferId,
    },
    /// The booth has been gone since the disconnect that set `epoch`.
    BoothGrace {
        booth: BoothIdx,
        epoch: u64,
    },
    /// The clerk has been gone since the disconnect that set `epoch`.
    ClerkGrace {
        clerk: ClerkIdx,
        epoch: u64,
    },
    /// Wrap-up started at `epoch` reached its maximum.
    WrapUpEnd {
        clerk: ClerkIdx,
        epoch: u64,
    },
    TicketExpiry {
        ticket: TicketId,
        epoch: u64,
    },
    /// The call's media must be up on both sides by now.
    MediaTimeout {
        call: CallId,
    },
    /// Nobody who could serve the ticket has been signed in for the grace period.
    NoClerk {
        ticket: TicketId,
    },
}

impl Timer {
    /// Its lane: one per kind, and widenings one per step (the first three; items that share
    /// their thresholds keep one lane's order).
    fn lane(&self) -> usize {
        match self {
            Timer::OfferExpiry { .. } => 0,
            Timer::BoothGrace { .. } => 1,
            Timer::ClerkGrace { .. } => 2,
            Timer::WrapUpEnd { .. } => 3,
            Timer::TicketExpiry { .. } => 4,
            Timer::MediaTimeout { .. } => 5,
            Timer::NoClerk { .. } => 6,
            Timer::Widen { to_step, .. } => 6 + (*to_step).clamp(1, 3),
        }
    }
}

const LANES: usize = 10;

/// A deadline, its insertion number, the timer.
type Entry = (Instant, u64, Timer);

#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// Per kind, in (deadline, insertion) order.
    lanes: [VecDeque<Entry>; LANES],
    /// What fits no lane's order.
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl Timers {
    pub fn schedule(&mut self, at: Instant, timer: Timer) {
        self.seq += 1;
        let entry = (at, self.seq, timer);
        let lane = &mut self.lanes[timer.lane()];
        if lane.back().is_none_or(|last| last.0 <= at) {
            lane.push_back(entry);
        } else {
            self.heap.push(Reverse(entry));
        }
    }

    /// Timers scheduled and not yet popped (stale ones included).
    pub fn len(&self) -> usize {
        self.heap.len() + self.lanes.iter().map(VecDeque::len).sum::<usize>()
    }

    /// The earliest timer: its lane (`None`: the heap) and its entry.
    fn first(&self) -> Option<(Option<usize>, Entry)> {
        let mut first = self.heap.peek().map(|Reverse(e)| (None, *e));
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(front) = lane.front() {
                if first.is_none_or(|(_, f)| (front.0, front.1) < (f.0, f.1)) {
                    first = Some((Some(i), *front));
                }
            }
        }
        first
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.first().map(|(_, (at, _, _))| at)
    }

    /// Pops the earliest timer due at or before `now`, in deadline then insertion order.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let (lane, (at, _, timer)) = self.first()?;
        if at > now {
            return None;
        }
        match lane {
            Some(i) => {
                self.lanes[i].pop_front();
            }
            None => {
                self.heap.pop();
            }
        }
        Some(timer)
    }

    /// Every scheduled timer (stale ones included) with its insertion number, and the next
    /// number: what a snapshot keeps.
    pub fn entries(&self) -> (Vec<Entry>, u64) {
        let lanes = self.lanes.iter().flatten().copied();
        let mut all: Vec<Entry> = self.heap.iter().map(|Reverse(e)| *e).chain(lanes).collect();
        all.sort();
        (all, self.seq)
    }

    /// Timers as [`Timers::entries`] gave them (all in the heap; the lanes fill again as timers
    /// are set).
    pub fn from_entries(entries: impl IntoIterator<Item = Entry>, seq: u64) -> Self {
        Self { lanes: Default::default(), heap: entries.into_iter().map(Reverse).collect(), seq }
    }

    pub fn clear(&mut self) {
        self.heap.clear();
        self.lanes.iter_mut().for_each(VecDeque::clear);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    /// (kind, delay in ms, time step in ms) per timer set; restored at the given step.
    fn schedules() -> impl Strategy<Value = (Vec<(u8, u64, u64)>, usize)> {
        (prop::collection::vec((0u8..10, 0u64..50, 0u64..20), 1..200), 0usize..200)
    }

    fn timer(kind: u8, n: u64) -> Timer {
        let ticket = TicketId(n);
        match kind {
            0 => Timer::Widen { ticket, to_step: 1 },
            8 => Timer::Widen { ticket, to_step: 2 },
            9 => Timer::Widen { ticket, to_step: 5 },
            1 => Timer::OfferExpiry { offer: OfferId(n) },
            2 => Timer::BoothGrace { booth: BoothIdx(1), epoch: n },
            3 => Timer::ClerkGrace { clerk: ClerkIdx(1), epoch: n },
            4 => Timer::WrapUpEnd { clerk: ClerkIdx(1), epoch: n },
            5 => Timer::TicketExpiry { ticket, epoch: n },
            6 => Timer::MediaTimeout { call: CallId(n) },
            _ => Timer::NoClerk { ticket },
        }
    }

    proptest! {
        /// Timers pop in exactly the order one heap of all of them gives, set at times that
        /// never run backwards with any delays, with pops between sets and a snapshot's restore
        /// in the middle.
        #[test]
        fn timers_pop_in_deadline_then_insertion_order((sets, restore_at) in schedules()) {
            let t0 = Instant::now();
            let mut timers = Timers::default();
            let mut reference: BinaryHeap<Reverse<Entry>> = BinaryHeap::new();
            let mut now = t0;
            for (n, (kind, delay, step)) in sets.iter().enumerate() {
                if n == restore_at {
                    let (entries, seq) = timers.entries();
                    timers = Timers::from_entries(entries, seq);
                }
                now += Duration::from_millis(*step);
                while let Some(popped) = timers.pop_due(now) {
                    let Reverse((at, _, expected)) = reference.pop().expect("the reference has it too");
                    prop_assert!(at <= now);
                    prop_assert_eq!(popped, expected);
                }
                prop_assert!(reference.peek().is_none_or(|Reverse(e)| e.0 > now));
                prop_assert_eq!(timers.next_deadline(), reference.peek().map(|Reverse(e)| e.0));
                let at = now + Duration::from_millis(*delay);
                timers.schedule(at, timer(*kind, n as u64));
                reference.push(Reverse((at, n as u64 + 1, timer(*kind, n as u64))));
                prop_assert_eq!(timers.len(), reference.len());
            }
            let far = now + Duration::from_secs(3600);
            while let Some(popped) = timers.pop_due(far) {
                prop_assert_eq!(Some(popped), reference.pop().map(|Reverse(e)| e.2));
            }
            prop_assert!(reference.is_empty());
        }
    }
}
