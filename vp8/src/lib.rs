//! The receive side of VP8 video for the Rust clients: [`Depacketizer`] turns RTP payloads
//! (RFC 7741) into whole frames, and [`Decoder`] decodes them with the system's libvpx, so a
//! client can prove it *decoded* the other side's video (size and picture content), not only
//! that packets arrived.
//!
//! [`Receiver`] puts them together for one video track, behind a [`Reorder`] buffer that waits
//! briefly for a lost packet's retransmission.

mod decoder;
mod depacketizer;
pub mod reorder;

pub use decoder::{DecodedFrame, Decoder, Vp8Error};
pub use depacketizer::{Depacketizer, Frame};
pub use reorder::Reorder;

/// How long packets after a gap wait for the missing one: webrtc-rs's NACK generator runs every
/// 100 ms, so a retransmission comes within about 100 ms plus a round trip; this leaves room for a
/// second NACK and a loaded machine.
pub const REORDER_WAIT: std::time::Duration = std::time::Duration::from_millis(400);

/// Reorder buffer, depacketizer and decoder for one incoming VP8 track.
pub struct Receiver {
    reorder: Reorder,
    depacketizer: Depacketizer,
    decoder: Decoder,
    /// Frames that failed to decode (after loss; decoding resumes at the next keyframe).
    pub errors: u64,
}

impl Receiver {
    pub fn new() -> Result<Self, Vp8Error> {
        Ok(Self {
            reorder: Reorder::new(REORDER_WAIT),
            depacketizer: Depacketizer::default(),
            decoder: Decoder::new()?,
            errors: 0,
        })
    }

    /// Feeds one RTP packet (arrived at `now`); returns the pictures it completed (none while a
    /// gap is waited for; several when a repaired gap completes the frames held behind it).
    pub fn push(
        &mut self,
        sequence: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
        now: std::time::Instant,
    ) -> Vec<DecodedFrame> {
        let packet = reorder::Packet { sequence, timestamp, marker, payload: payload.to_vec() };
        let mut pictures = vec![];
        for p in self.reorder.push(packet, now) {
            let Some(frame) = self.depacketizer.push(p.sequence, p.timestamp, p.marker, &p.payload) else { continue };
            match self.decoder.decode(&frame.data) {
                Ok(picture) => pictures.extend(picture),
                Err(_) => {
                    self.errors += 1;
                    self.depacketizer.wait_for_keyframe();
                }
            }
        }
        pictures
    }

    /// Whether the sender should be asked for a keyframe (RTCP PLI): frames are being dropped.
    pub fn needs_keyframe(&self) -> bool {
        self.depacketizer.needs_keyframe()
    }

    /// Frames dropped before decoding because packets were missing.
    pub fn frames_lost(&self) -> u64 {
        self.depacketizer.frames_lost
    }
}
