//! VP8 RTP depacketizing (RFC 7741 §4): strips each packet's payload descriptor and joins the
//! packets of one frame (same timestamp, consecutive sequence numbers, ending at the marker bit).
//! Duplicates and late retransmissions (at or before the newest sequence number) are ignored.
//! A gap drops the frame, and then every frame until the next keyframe, since later inter frames
//! would reference a picture the decoder never saw.

/// A whole VP8 frame, ready for the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub timestamp: u32,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Depacketizer {
    current: Option<(u32, Vec<u8>)>,
    last_sequence: Option<u16>,
    need_keyframe: bool,
    seen_keyframe: bool,
    /// Frames dropped because a packet was missing or malformed.
    pub frames_lost: u64,
    /// Frames that came before the stream's first keyframe (joining a stream in the middle, as a
    /// relay's receiver does): skipped, not lost.
    pub frames_before_keyframe: u64,
}

/// Length of the payload descriptor at the start of `payload`, and whether the packet starts a
/// frame (S bit with partition id 0). `None` if the descriptor is truncated.
fn descriptor(payload: &[u8]) -> Option<(usize, bool)> {
    let first = *payload.first()?;
    let extended = first & 0x80 != 0;
    let start = first & 0x10 != 0 && first & 0x07 == 0;
    let mut len = 1;
    if extended {
        let x = *payload.get(1)?;
        len = 2;
        if x & 0x80 != 0 {
            // PictureID: 7 or 15 bits (M flag).
            len += if *payload.get(len)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            len += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            len += 1; // TID / Y / KEYIDX
        }
    }
    (payload.len() > len).then_some((len, start))
}

impl Depacketizer {
    /// Whether frames are being dropped until a keyframe (the sender should be asked for one).
    pub fn needs_keyframe(&self) -> bool {
        self.need_keyframe || !self.seen_keyframe
    }

    /// After a decode error: drop frames until a keyframe.
    pub fn wait_for_keyframe(&mut self) {
        self.need_keyframe = true;
    }

    /// Feeds one packet; returns a frame when this packet completes one.
    pub fn push(&mut self, sequence: u16, timestamp: u32, marker: bool, payload: &[u8]) -> Option<Frame> {
        // A packet at or before the newest one seen is a duplicate or a late retransmission.
        if let Some(last) = self.last_sequence {
            if (sequence.wrapping_sub(last) as i16) <= 0 {
                return None;
            }
        }
        let in_order = self.last_sequence.is_none_or(|last| sequence == last.wrapping_add(1));
        self.last_sequence = Some(sequence);
        if payload.is_empty() {
            // Padding only (bandwidth probing): takes a sequence number, carries no video.
            return None;
        }
        let Some((skip, start)) = descriptor(payload) else {
            self.lose();
            return None;
        };
        if start {
            if self.current.is_some() {
                self.lose(); // the previous frame never saw its marker
            }
            self.current = Some((timestamp, Vec::with_capacity(payload.len() * 4)));
        } else if !in_order || self.current.as_ref().is_none_or(|(ts, _)| *ts != timestamp) {
            if self.current.take().is_some() || !in_order {
                self.lose();
            }
            return None;
        }
        let (_, data) = self.current.as_mut()?;
        data.extend_from_slice(&payload[skip..]);
        if !marker {
            return None;
        }
        let (timestamp, data) = self.current.take()?;
        // Bit 0 of the frame tag is the inverse key-frame flag.
        let keyframe = data.first().is_some_and(|b| b & 0x01 == 0);
        if !self.seen_keyframe && !keyframe {
            // Nothing decodes before a stream's first keyframe.
            self.frames_before_keyframe += 1;
            return None;
        }
        self.seen_keyframe = true;
        if self.need_keyframe && !keyframe {
            self.frames_lost += 1;
            return None;
        }
        self.need_keyframe = false;
        Some(Frame { timestamp, keyframe, data })
    }

    fn lose(&mut self) {
        self.current = None;
        self.frames_lost += 1;
        self.need_keyframe = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet with a 3-byte extended descriptor (X, I with a 7-bit PictureID).
    fn packet(start: bool, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80 | if start { 0x10 } else { 0 }, 0x80, 0x05];
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn joins_the_packets_of_a_frame_and_strips_descriptors() {
        let mut d = Depacketizer::default();
        assert_eq!(d.push(1, 900, false, &packet(true, &[0x10, 0xaa])), None);
        assert_eq!(d.push(2, 900, false, &packet(false, &[0xbb])), None);
        let f = d.push(3, 900, true, &packet(false, &[0xcc])).unwrap();
        assert_eq!(f, Frame { timestamp: 900, keyframe: true, data: vec![0x10, 0xaa, 0xbb, 0xcc] });
        // A one-packet inter frame with the short (1-byte) descriptor.
        let f = d.push(4, 1800, true, &[0x10, 0x01, 0xdd]).unwrap();
        assert_eq!(f, Frame { timestamp: 1800, keyframe: false, data: vec![0x01, 0xdd] });
    }

    #[test]
    fn a_gap_drops_frames_until_the_next_keyframe() {
        let mut d = Depacketizer::default();
        assert!(d.push(9, 0, true, &packet(true, &[0x00, 0])).is_some_and(|f| f.keyframe));
        assert_eq!(d.push(10, 0, false, &packet(true, &[0x00, 1])), None);
        // Sequence 11 is lost.
        assert_eq!(d.push(12, 0, true, &packet(false, &[2])), None);
        assert_eq!(d.push(13, 90, true, &packet(true, &[0x01, 3])), None, "inter frame after loss");
        let f = d.push(14, 180, true, &packet(true, &[0x00, 4])).unwrap();
        assert!(f.keyframe);
        assert_eq!(d.frames_lost, 2);
    }

    #[test]
    fn a_stream_joined_in_the_middle_starts_at_its_first_keyframe() {
        let mut d = Depacketizer::default();
        assert!(d.needs_keyframe(), "ask for a keyframe from the start");
        assert_eq!(d.push(40, 90, true, &packet(true, &[0x01, 1])), None, "an inter frame first");
        assert!(d.push(41, 180, true, &packet(true, &[0x00, 2])).is_some_and(|f| f.keyframe));
        assert!(!d.needs_keyframe());
        assert_eq!((d.frames_before_keyframe, d.frames_lost), (1, 0));
    }

    #[test]
    fn duplicates_and_late_retransmissions_are_ignored() {
        let mut d = Depacketizer::default();
        assert_eq!(d.push(65534, 0, false, &packet(true, &[0x00, 1])), None);
        assert_eq!(d.push(65534, 0, false, &packet(true, &[0x00, 1])), None, "duplicate");
        let f = d.push(65535, 0, true, &packet(false, &[2])).unwrap();
        assert_eq!(f.data, vec![0x00, 1, 2]);
        assert_eq!(d.push(65535, 0, true, &packet(false, &[2])), None, "retransmission of a used packet");
        assert!(d.push(0, 90, true, &packet(true, &[0x01, 3])).is_some(), "across the wrap");
        assert_eq!(d.frames_lost, 0);
    }

    #[test]
    fn padding_packets_between_frames_are_skipped() {
        let mut d = Depacketizer::default();
        assert!(d.push(1, 0, true, &packet(true, &[0x00, 1])).is_some());
        assert_eq!(d.push(2, 0, false, &[]), None);
        assert_eq!(d.push(3, 0, false, &[]), None);
        assert!(d.push(4, 90, true, &packet(true, &[0x01, 2])).is_some());
        assert_eq!(d.frames_lost, 0);
    }

    #[test]
    fn malformed_descriptors_are_dropped_not_panicked_on() {
        let mut d = Depacketizer::default();
        for bad in [&[][..], &[0x80], &[0x80, 0x80], &[0x80, 0x80, 0x80], &[0x90]] {
            assert_eq!(d.push(1, 0, true, bad), None);
        }
    }
}
