//! The engine's timers: a min-heap of deadlines, invalidated lazily.
//!
//! Cancelling a timer would need a search of the heap; instead every timer names the state it
//! was set for (an offer id, a booth epoch, a step number) and is ignored when it fires if that
//! state has moved on. Stale entries cost one pop each.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
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

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    seq: u64,
}

impl Timers {
    pub fn schedule(&mut self, at: Instant, timer: Timer) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, timer)));
    }

    /// Timers scheduled and not yet popped (stale ones included).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Pops the earliest timer due at or before `now`, in deadline then insertion order.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse((_, _, t))| t),
            _ => None,
        }
    }

    /// Every scheduled timer (stale ones included) with its insertion number, and the next
    /// number: what a snapshot keeps.
    pub fn entries(&self) -> (Vec<(Instant, u64, Timer)>, u64) {
        let mut all: Vec<(Instant, u64, Timer)> = self.heap.iter().map(|Reverse(e)| *e).collect();
        all.sort();
        (all, self.seq)
    }

    /// Timers as [`Timers::entries`] gave them.
    pub fn from_entries(entries: impl IntoIterator<Item = (Instant, u64, Timer)>, seq: u64) -> Self {
        Self { heap: entries.into_iter().map(Reverse).collect(), seq }
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }
}
