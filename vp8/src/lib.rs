//! The receive side of VP8 video for the Rust clients: [`Depacketizer`] turns RTP payloads
//! (RFC 7741) into whole frames, and [`Decoder`] decodes them with the system's libvpx, so a
//! client can prove it *decoded* the other side's video (size and picture content), not only
//! that packets arrived.
//!
//! [`Receiver`] puts the two together for one video track.

mod decoder;
mod depacketizer;

pub use decoder::{DecodedFrame, Decoder, Vp8Error};
pub use depacketizer::{Depacketizer, Frame};

/// Depacketizer and decoder for one incoming VP8 track.
pub struct Receiver {
    depacketizer: Depacketizer,
    decoder: Decoder,
    /// Frames that failed to decode (after loss; decoding resumes at the next keyframe).
    pub errors: u64,
}

impl Receiver {
    pub fn new() -> Result<Self, Vp8Error> {
        Ok(Self { depacketizer: Depacketizer::default(), decoder: Decoder::new()?, errors: 0 })
    }

    /// Feeds one RTP packet; returns the picture when it completes a frame that decodes.
    pub fn push(&mut self, sequence: u16, timestamp: u32, marker: bool, payload: &[u8]) -> Option<DecodedFrame> {
        let frame = self.depacketizer.push(sequence, timestamp, marker, payload)?;
        match self.decoder.decode(&frame.data) {
            Ok(picture) => picture,
            Err(_) => {
                self.errors += 1;
                self.depacketizer.wait_for_keyframe();
                None
            }
        }
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
