//! From RTP packets to what a recording stores: whole VP8 frames (RFC 7741 payload descriptors
//! removed, packets joined until the marker bit) and Opus packets as they are, each with its
//! time in milliseconds from the start of the recording.
//!
//! Times come from the RTP timestamps, anchored at the arrival of a stream's first packet (and
//! anchored again when a publisher comes back with a new SSRC), so a stream keeps its own even
//! pace; a track's times never go backwards. A video frame with a packet missing is dropped and
//! the track waits for the next keyframe (a frame decoded against a missing one is garbage).

use std::time::Duration;

use rtc::rtp::Packet;

/// A stream's clock anchor: the RTP timestamp and its time in the recording.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    ssrc: u32,
    rtp: u32,
    ms: u64,
}

/// Maps RTP timestamps of one track to recording milliseconds.
#[derive(Debug)]
pub struct TrackClock {
    clock_khz: u32,
    anchor: Option<Anchor>,
    last_ms: u64,
}

impl TrackClock {
    pub fn new(clock_rate: u32) -> Self {
        Self { clock_khz: clock_rate / 1000, anchor: None, last_ms: 0 }
    }

    /// The time of a packet that arrived `since_start` after the recording began.
    pub fn ms(&mut self, ssrc: u32, rtp: u32, since_start: Duration) -> u64 {
        let arrived = since_start.as_millis() as u64;
        let anchor = match self.anchor {
            Some(a) if a.ssrc == ssrc => a,
            _ => {
                let a = Anchor { ssrc, rtp, ms: arrived.max(self.last_ms) };
                self.anchor = Some(a);
                a
            }
        };
        let ticks = rtp.wrapping_sub(anchor.rtp) as i32;
        let ms = if ticks >= 0 { anchor.ms + (ticks as u64) / u64::from(self.clock_khz.max(1)) } else { self.last_ms };
        self.last_ms = self.last_ms.max(ms);
        self.last_ms
    }
}

/// A complete VP8 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp8Frame {
    pub rtp_timestamp: u32,
    pub ssrc: u32,
    pub keyframe: bool,
    /// Width and height, from a keyframe's header.
    pub size: Option<(u16, u16)>,
    pub data: Vec<u8>,
}

/// Joins VP8 RTP packets into frames.
#[derive(Debug, Default)]
pub struct Vp8Assembler {
    frame: Vec<u8>,
    timestamp: u32,
    ssrc: u32,
    next_seq: Option<u16>,
    in_frame: bool,
    broken: bool,
    waiting_for_keyframe: bool,
    /// Frames dropped because a packet was missing.
    pub dropped: u64,
}

impl Vp8Assembler {
    pub fn new() -> Self {
        Self { waiting_for_keyframe: true, ..Self::default() }
    }

    /// True while frames are being dropped until a keyframe (ask the publisher for one).
    pub fn needs_keyframe(&self) -> bool {
        self.waiting_for_keyframe
    }

    /// Feeds one packet; returns a frame when this packet completed one.
    pub fn push(&mut self, packet: &Packet) -> Option<Vp8Frame> {
        let h = &packet.header;
        if h.ssrc != self.ssrc {
            *self = Self { ssrc: h.ssrc, dropped: self.dropped, ..Self::new() };
        }
        if let Some(expected) = self.next_seq {
            let ahead = h.sequence_number.wrapping_sub(expected) as i16;
            if ahead < 0 {
                return None; // a duplicate or a late retransmission of a frame already handled
            }
            if ahead > 0 && self.in_frame {
                self.broken = true;
            }
        }
        self.next_seq = Some(h.sequence_number.wrapping_add(1));
        let (start, body) = descriptor(&packet.payload)?;
        if start {
            if self.in_frame {
                self.dropped += 1; // the previous frame never got its last packet
                self.waiting_for_keyframe = true;
            }
            self.frame.clear();
            self.in_frame = true;
            self.broken = false;
            self.timestamp = h.timestamp;
        } else if !self.in_frame || h.timestamp != self.timestamp {
            self.in_frame = false;
            return None;
        }
        self.frame.extend_from_slice(body);
        if !h.marker {
            return None;
        }
        self.in_frame = false;
        if self.broken || self.frame.is_empty() {
            self.dropped += 1;
            self.waiting_for_keyframe = true;
            return None;
        }
        let keyframe = self.frame[0] & 0x01 == 0;
        if self.waiting_for_keyframe && !keyframe {
            return None;
        }
        self.waiting_for_keyframe = false;
        let size = (keyframe && self.frame.len() >= 10 && self.frame[3..6] == [0x9d, 0x01, 0x2a]).then(|| {
            let w = u16::from_le_bytes([self.frame[6], self.frame[7]]) & 0x3fff;
            let h = u16::from_le_bytes([self.frame[8], self.frame[9]]) & 0x3fff;
            (w, h)
        });
        Some(Vp8Frame {
            rtp_timestamp: self.timestamp,
            ssrc: self.ssrc,
            keyframe,
            size,
            data: std::mem::take(&mut self.frame),
        })
    }
}

/// Splits an RFC 7741 payload into (starts a frame, VP8 bytes).
fn descriptor(payload: &[u8]) -> Option<(bool, &[u8])> {
    let first = *payload.first()?;
    let mut at = 1;
    if first & 0x80 != 0 {
        let x = *payload.get(at)?;
        at += 1;
        if x & 0x80 != 0 {
            // Picture id: 7 or 15 bits.
            at += if payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    let start = first & 0x10 != 0 && first & 0x0f == 0;
    payload.get(at..).filter(|b| !b.is_empty()).map(|b| (start, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vp8(seq: u16, ts: u32, start: bool, marker: bool, body: &[u8]) -> Packet {
        let mut p = Packet::default();
        p.header.ssrc = 5;
        p.header.sequence_number = seq;
        p.header.timestamp = ts;
        p.header.marker = marker;
        // X set, picture id 15 bits.
        let mut payload = vec![if start { 0x90 } else { 0x80 }, 0x80, 0x81, 0x02];
        payload.extend_from_slice(body);
        p.payload = payload.into();
        p
    }

    const KEY: [u8; 10] = [0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];

    #[test]
    fn frames_join_and_a_gap_waits_for_the_next_keyframe() {
        let mut a = Vp8Assembler::new();
        assert_eq!(a.push(&vp8(1, 100, true, false, &[0x01, 2])), None);
        assert_eq!(a.push(&vp8(2, 100, false, true, &[3])), None, "no keyframe yet: not recorded");
        assert_eq!(a.push(&vp8(3, 200, true, false, &KEY[..5])), None);
        let key = a.push(&vp8(4, 200, false, true, &KEY[5..])).expect("a keyframe");
        assert!(key.keyframe);
        assert_eq!(key.size, Some((640, 480)));
        assert_eq!(key.data, KEY);
        let delta = a.push(&vp8(5, 300, true, true, &[0x01, 9])).expect("a delta frame after the keyframe");
        assert!(!delta.keyframe);
        // Packet 7 lost: the frame it belonged to and the next delta frame are dropped.
        assert_eq!(a.push(&vp8(6, 400, true, false, &[0x01])), None);
        assert_eq!(a.push(&vp8(8, 400, false, true, &[1])), None);
        assert!(a.needs_keyframe());
        assert_eq!(a.push(&vp8(9, 500, true, true, &[0x01])), None);
        assert!(a.push(&vp8(10, 600, true, true, &KEY)).is_some_and(|f| f.keyframe));
    }

    #[test]
    fn clock_follows_rtp_time_and_re_anchors_on_a_new_source() {
        let mut c = TrackClock::new(90_000);
        assert_eq!(c.ms(1, 1_000, Duration::from_millis(40)), 40);
        assert_eq!(c.ms(1, 1_000 + 9_000, Duration::from_millis(500)), 140);
        assert_eq!(c.ms(1, 500, Duration::from_millis(501)), 140, "never backwards");
        assert_eq!(c.ms(2, 7, Duration::from_millis(900)), 900, "a new source anchors at its arrival");
    }
}
