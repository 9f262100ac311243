//! RTP packets back in sequence order before depacketizing. A packet after a gap is held until
//! the missing one arrives — a retransmission the receiver asked for (NACK) — or until the gap is
//! given up: when the oldest held packet has waited `max_wait`, or when a packet comes more than
//! [`MAX_HELD`] sequence numbers ahead. What is given up stays a gap for the depacketizer, which
//! then drops frames until a keyframe. Sans-IO: the caller passes the time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The most packets held behind a gap (a second of 500 kb/s video is about 50).
pub const MAX_HELD: usize = 128;

/// One RTP packet's parts the depacketizer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub sequence: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

#[derive(Debug)]
pub struct Reorder {
    /// The sequence number expected next (None before the first packet).
    next: Option<u16>,
    /// Slot i holds sequence `next + i`, with when it arrived.
    slots: VecDeque<Option<(Instant, Packet)>>,
    max_wait: Duration,
    /// Sequence numbers given up (never arrived in time).
    pub given_up: u64,
}

impl Reorder {
    pub fn new(max_wait: Duration) -> Self {
        Self { next: None, slots: VecDeque::new(), max_wait, given_up: 0 }
    }

    /// Takes one packet; returns the packets now in order (none while a gap is waited for).
    pub fn push(&mut self, packet: Packet, now: Instant) -> Vec<Packet> {
        let Some(next) = self.next else {
            self.next = Some(packet.sequence.wrapping_add(1));
            return vec![packet];
        };
        let ahead = packet.sequence.wrapping_sub(next) as i16;
        if ahead < 0 {
            return vec![]; // a duplicate, or a retransmission of a gap already given up
        }
        let ahead = ahead as usize;
        if ahead >= MAX_HELD {
            // Too far ahead to wait: give up every gap before it.
            let mut out = self.release_all();
            self.next = Some(packet.sequence.wrapping_add(1));
            out.push(packet);
            return out;
        }
        while self.slots.len() <= ahead {
            self.slots.push_back(None);
        }
        if self.slots[ahead].is_none() {
            self.slots[ahead] = Some((now, packet));
        }
        self.release(now)
    }

    fn advance(&mut self) {
        self.next = self.next.map(|n| n.wrapping_add(1));
    }

    /// In-order packets from the front; a gap is waited for until its oldest follower is too old.
    fn release(&mut self, now: Instant) -> Vec<Packet> {
        let mut out = vec![];
        while let Some(front) = self.slots.front() {
            if front.is_none() {
                let oldest = self.slots.iter().flatten().map(|(at, _)| *at).min();
                if oldest.is_none_or(|at| now.duration_since(at) < self.max_wait) {
                    break;
                }
                self.given_up += 1;
            }
            if let Some((_, p)) = self.slots.pop_front().flatten() {
                out.push(p);
            }
            self.advance();
        }
        out
    }

    fn release_all(&mut self) -> Vec<Packet> {
        let held = self.slots.drain(..).collect::<Vec<_>>();
        self.given_up += held.iter().filter(|s| s.is_none()).count() as u64;
        held.into_iter().flatten().map(|(_, p)| p).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(sequence: u16) -> Packet {
        Packet { sequence, timestamp: 0, marker: false, payload: vec![] }
    }

    fn seqs(v: Vec<Packet>) -> Vec<u16> {
        v.into_iter().map(|p| p.sequence).collect()
    }

    #[test]
    fn a_repaired_gap_comes_out_in_order_and_an_old_one_is_given_up() {
        let t = Instant::now();
        let ms = |n| t + Duration::from_millis(n);
        let mut r = Reorder::new(Duration::from_millis(200));
        assert_eq!(seqs(r.push(p(65_534), ms(0))), [65_534]);
        assert_eq!(seqs(r.push(p(65_535), ms(1))), [65_535]);
        // 0 is lost; 1 and 2 wait for it, across the wrap.
        assert!(r.push(p(1), ms(2)).is_empty());
        assert!(r.push(p(2), ms(3)).is_empty());
        // The retransmission of 0 arrives: all three in order.
        assert_eq!(seqs(r.push(p(0), ms(50))), [0, 1, 2]);
        // A duplicate is dropped.
        assert!(r.push(p(1), ms(51)).is_empty());
        // 3 never comes: 4 waits until it has waited 200 ms, then the gap is given up.
        assert!(r.push(p(4), ms(60)).is_empty());
        assert!(r.push(p(5), ms(100)).is_empty());
        assert_eq!(seqs(r.push(p(6), ms(260))), [4, 5, 6]);
        assert_eq!(r.given_up, 1);
        // Too late now: 3 is dropped.
        assert!(r.push(p(3), ms(270)).is_empty());
        // A jump far ahead gives up everything before it at once.
        assert!(r.push(p(8), ms(280)).is_empty());
        assert_eq!(seqs(r.push(p(8 + MAX_HELD as u16 + 1), ms(281))), [8, 8 + MAX_HELD as u16 + 1]);
    }
}
