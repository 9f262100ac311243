//! The engine snapshot as a flat list of numbers, so that this crate needs no serialization
//! library: every field is a number (ids, indices, nanoseconds, flags, a float's bits), written in
//! a fixed order — a list as its length then its items, an option as 0 or 1 then the value, an
//! enum as its variant's number then its fields. The server stores the list (as JSON) in its log.

use super::snapshot::{CallSnap, ClerkSnap, EngineSnapshot, SnapshotError, TicketSnap};
use super::Phase;
use crate::directory::{BoothIdx, ClerkIdx, RegionIdx, ServiceIdx};
use crate::model::{AwayReason, CallId, ClerkState, OfferId, Priority, TicketId};
use crate::tickets::QueueKey;
use crate::timers::Timer;

/// The layout's version: the first word. Version 2 added a call's `handovers`; a version 1
/// list still reads (its calls had none).
const FORMAT: u64 = 2;

/// Reads words back, failing on a short or malformed list.
pub(super) struct Reader<'a> {
    words: &'a [u64],
    /// The list's layout version.
    format: u64,
}

impl Reader<'_> {
    fn next(&mut self) -> Result<u64, SnapshotError> {
        let (first, rest) = self.words.split_first().ok_or_else(|| bad("the list ends early"))?;
        self.words = rest;
        Ok(*first)
    }
}

fn bad(what: &str) -> SnapshotError {
    SnapshotError::Inconsistent(format!("snapshot words: {what}"))
}

/// A value written as words and read back.
pub(super) trait Words: Sized {
    fn put(&self, w: &mut Vec<u64>);
    fn take(r: &mut Reader) -> Result<Self, SnapshotError>;
}

macro_rules! number {
    ($($t:ty),*) => {$(
        impl Words for $t {
            fn put(&self, w: &mut Vec<u64>) {
                w.push(*self as u64);
            }
            fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
                Ok(r.next()? as $t)
            }
        }
    )*};
}
number!(u64, i64, u32, u8, usize);

impl Words for bool {
    fn put(&self, w: &mut Vec<u64>) {
        w.push(u64::from(*self));
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        Ok(r.next()? != 0)
    }
}

macro_rules! id {
    ($($t:ident: $inner:ty),*) => {$(
        impl Words for $t {
            fn put(&self, w: &mut Vec<u64>) {
                self.0.put(w);
            }
            fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
                Ok($t(<$inner>::take(r)?))
            }
        }
    )*};
}
id!(TicketId: u64, OfferId: u64, CallId: u64, BoothIdx: u32, ClerkIdx: u32, RegionIdx: u32, ServiceIdx: u32);

impl<T: Words> Words for Option<T> {
    fn put(&self, w: &mut Vec<u64>) {
        match self {
            None => w.push(0),
            Some(v) => {
                w.push(1);
                v.put(w);
            }
        }
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        Ok(if r.next()? == 0 { None } else { Some(T::take(r)?) })
    }
}

impl<T: Words> Words for Vec<T> {
    fn put(&self, w: &mut Vec<u64>) {
        w.push(self.len() as u64);
        for v in self {
            v.put(w);
        }
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        let n = r.next()? as usize;
        if n > r.words.len() {
            return Err(bad("a list longer than the words left"));
        }
        (0..n).map(|_| T::take(r)).collect()
    }
}

impl<A: Words, B: Words> Words for (A, B) {
    fn put(&self, w: &mut Vec<u64>) {
        self.0.put(w);
        self.1.put(w);
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        Ok((A::take(r)?, B::take(r)?))
    }
}

impl<A: Words, B: Words, C: Words> Words for (A, B, C) {
    fn put(&self, w: &mut Vec<u64>) {
        self.0.put(w);
        self.1.put(w);
        self.2.put(w);
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        Ok((A::take(r)?, B::take(r)?, C::take(r)?))
    }
}

impl Words for [i64; 6] {
    fn put(&self, w: &mut Vec<u64>) {
        for v in self {
            v.put(w);
        }
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        let mut a = [0i64; 6];
        for v in &mut a {
            *v = i64::take(r)?;
        }
        Ok(a)
    }
}

impl Words for Priority {
    fn put(&self, w: &mut Vec<u64>) {
        w.push(match self {
            Priority::Normal => 0,
            Priority::Elderly => 1,
            Priority::Appointment => 2,
        });
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        match r.next()? {
            0 => Ok(Priority::Normal),
            1 => Ok(Priority::Elderly),
            2 => Ok(Priority::Appointment),
            _ => Err(bad("priority")),
        }
    }
}

const AWAY: [AwayReason; 10] = [
    AwayReason::SignedIn,
    AwayReason::Break,
    AwayReason::Meal,
    AwayReason::Meeting,
    AwayReason::Training,
    AwayReason::Paperwork,
    AwayReason::MissedOffers,
    AwayReason::Supervisor,
    AwayReason::Disconnected,
    AwayReason::Assisting,
];

impl Words for ClerkState {
    fn put(&self, w: &mut Vec<u64>) {
        match self {
            ClerkState::Offline => w.push(0),
            ClerkState::Available => w.push(1),
            ClerkState::Offered => w.push(2),
            ClerkState::InCall => w.push(3),
            ClerkState::WrapUp => w.push(4),
            ClerkState::Away(why) => {
                w.push(5);
                w.push(AWAY.iter().position(|a| a == why).expect("every away reason is listed") as u64);
            }
        }
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        Ok(match r.next()? {
            0 => ClerkState::Offline,
            1 => ClerkState::Available,
            2 => ClerkState::Offered,
            3 => ClerkState::InCall,
            4 => ClerkState::WrapUp,
            5 => ClerkState::Away(*AWAY.get(r.next()? as usize).ok_or_else(|| bad("away reason"))?),
            _ => return Err(bad("clerk state")),
        })
    }
}

impl Words for Phase {
    fn put(&self, w: &mut Vec<u64>) {
        match self {
            Phase::Waiting => w.push(0),
            Phase::Offered { offer, clerk } => (1u64, *offer, *clerk).put(w),
            Phase::Connected { call, clerk } => (2u64, *call, *clerk).put(w),
        }
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        Ok(match r.next()? {
            0 => Phase::Waiting,
            1 => Phase::Offered { offer: OfferId::take(r)?, clerk: ClerkIdx::take(r)? },
            2 => Phase::Connected { call: CallId::take(r)?, clerk: ClerkIdx::take(r)? },
            _ => return Err(bad("ticket phase")),
        })
    }
}

impl Words for Timer {
    fn put(&self, w: &mut Vec<u64>) {
        match *self {
            Timer::Widen { ticket, to_step } => (0u64, ticket, to_step).put(w),
            Timer::OfferExpiry { offer } => (1u64, offer).put(w),
            Timer::BoothGrace { booth, epoch } => (2u64, booth, epoch).put(w),
            Timer::ClerkGrace { clerk, epoch } => (3u64, clerk, epoch).put(w),
            Timer::WrapUpEnd { clerk, epoch } => (4u64, clerk, epoch).put(w),
            Timer::TicketExpiry { ticket, epoch } => (5u64, ticket, epoch).put(w),
            Timer::MediaTimeout { call } => (6u64, call).put(w),
            Timer::NoClerk { ticket } => (7u64, ticket).put(w),
        }
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        Ok(match r.next()? {
            0 => Timer::Widen { ticket: Words::take(r)?, to_step: Words::take(r)? },
            1 => Timer::OfferExpiry { offer: Words::take(r)? },
            2 => Timer::BoothGrace { booth: Words::take(r)?, epoch: Words::take(r)? },
            3 => Timer::ClerkGrace { clerk: Words::take(r)?, epoch: Words::take(r)? },
            4 => Timer::WrapUpEnd { clerk: Words::take(r)?, epoch: Words::take(r)? },
            5 => Timer::TicketExpiry { ticket: Words::take(r)?, epoch: Words::take(r)? },
            6 => Timer::MediaTimeout { call: Words::take(r)? },
            7 => Timer::NoClerk { ticket: Words::take(r)? },
            _ => return Err(bad("timer")),
        })
    }
}

impl Words for QueueKey {
    fn put(&self, w: &mut Vec<u64>) {
        let (class, order) = self.parts();
        (class, order).put(w);
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        let (class, order) = <(u8, i64)>::take(r)?;
        Ok(QueueKey::from_parts(class, order))
    }
}

/// Writes and reads a struct's fields in the order listed.
macro_rules! record {
    ($t:ident { $($f:ident),* }) => {
        impl Words for $t {
            fn put(&self, w: &mut Vec<u64>) {
                $(self.$f.put(w);)*
            }
            fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
                Ok($t { $($f: Words::take(r)?),* })
            }
        }
    };
}
record!(TicketSnap { booth, service, priority, key, enqueued_at, step, phase, excluded, expiry_epoch, answered });
record!(ClerkSnap { state, since, idle_seq, missed, epoch, wrapping, connected, grace_epoch, resume_available });
impl Words for CallSnap {
    fn put(&self, w: &mut Vec<u64>) {
        (self.ticket, self.booth, self.clerk).put(w);
        (self.started_at, self.booth_media, self.clerk_media).put(w);
        self.handovers.put(w);
    }
    fn take(r: &mut Reader) -> Result<Self, SnapshotError> {
        let (ticket, booth, clerk) = Words::take(r)?;
        let (started_at, booth_media, clerk_media) = Words::take(r)?;
        let handovers = if r.format >= 2 { u32::take(r)? } else { 0 };
        Ok(CallSnap { ticket, booth, clerk, started_at, booth_media, clerk_media, handovers })
    }
}
record!(EngineSnapshot {
    tickets,
    open_by_service,
    clerks,
    booths,
    offers,
    calls,
    waiting,
    available,
    signed_in,
    working,
    timers,
    timer_seq,
    aht_bits,
    answered,
    next,
    last_now,
    shut_down
});

impl EngineSnapshot {
    /// The snapshot as a flat list of numbers (see the module's summary).
    pub fn to_words(&self) -> Vec<u64> {
        let mut w = vec![FORMAT];
        self.put(&mut w);
        w
    }

    /// A snapshot from [`EngineSnapshot::to_words`]'s list; a short, long or malformed list is
    /// refused.
    pub fn from_words(words: &[u64]) -> Result<Self, SnapshotError> {
        let mut r = Reader { words, format: 0 };
        r.format = r.next()?;
        if !(1..=FORMAT).contains(&r.format) {
            return Err(bad("an unknown format"));
        }
        let snap = Self::take(&mut r)?;
        if !r.words.is_empty() {
            return Err(bad("words left over"));
        }
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_of_a_version_1_list_reads_with_no_handovers() {
        let call = CallSnap {
            ticket: TicketId(7),
            booth: BoothIdx(1),
            clerk: ClerkIdx(2),
            started_at: 99,
            booth_media: true,
            clerk_media: false,
            handovers: 3,
        };
        let mut now = vec![];
        call.put(&mut now);
        let back = CallSnap::take(&mut Reader { words: &now, format: FORMAT }).unwrap();
        assert_eq!(back, call);
        // Version 1 wrote the same fields without `handovers`.
        let v1 = &now[..now.len() - 1];
        let old = CallSnap::take(&mut Reader { words: v1, format: 1 }).unwrap();
        assert_eq!(old, CallSnap { handovers: 0, ..call });
    }
}
