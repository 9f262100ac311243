//! Counters of received media, shared between the track readers and the client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Counters {
    video_packets: AtomicU64,
    audio_packets: AtomicU64,
    /// Video frames, counted by the RTP marker bit (last packet of a frame).
    video_frames: AtomicU64,
    bytes: AtomicU64,
    chat_received: AtomicU64,
    first_video: OnceLock<Instant>,
    first_frame: OnceLock<Instant>,
    decoded: Mutex<DecodedVideo>,
    /// Per remote stream (through the relay: per party, `booth` / `clerk`): video frames decoded
    /// and audio packets received.
    by_stream: Mutex<std::collections::BTreeMap<String, StreamCounts>>,
    /// The last bitrate limit (REMB) the other side asked this side's video to keep under,
    /// bits per second (0: none).
    bitrate_limit: AtomicU64,
    /// The lowest of them (0: none).
    bitrate_limit_lowest: AtomicU64,
}

/// What one remote stream delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StreamCounts {
    pub frames_decoded: u64,
    pub audio_packets: u64,
}

/// What this side's VP8 decoder (libvpx) made of the received video.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct DecodedVideo {
    /// Pictures decoded.
    pub frames: u64,
    /// Size of the last picture.
    pub width: u32,
    pub height: u32,
    /// Mean luma (0–255) of the last picture: real content, not a blank.
    pub luma_mean: f64,
    /// The highest mean luma of any picture decoded. A source whose pictures darken and brighten
    /// (Chromium's fake camera draws a growing and shrinking figure on black) may end on a
    /// nearly black one; this says whether real content came at all.
    pub luma_max: f64,
    /// Frames that failed to decode, or were dropped for missing packets.
    pub errors: u64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CountersSnapshot {
    pub video_packets: u64,
    pub audio_packets: u64,
    pub video_frames: u64,
    pub bytes: u64,
    pub chat_received: u64,
    pub first_video: Option<Instant>,
    /// When the first complete video frame (its marker packet) arrived.
    pub first_frame: Option<Instant>,
    pub decoded: DecodedVideo,
    pub bitrate_limit_bps: Option<u64>,
    pub bitrate_limit_lowest_bps: Option<u64>,
}

impl Counters {
    pub fn video_packet(&self, bytes: usize, marker: bool) {
        self.first_video.get_or_init(Instant::now);
        self.video_packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        if marker {
            self.first_frame.get_or_init(Instant::now);
            self.video_frames.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a decoded picture (`Some`) or the decoder's running error count (`None`).
    pub fn video_decoded(&self, picture: Option<(u32, u32, f64)>, errors: u64) {
        let mut d = self.decoded.lock().expect("decoded-video lock is never poisoned");
        if let Some((width, height, luma_mean)) = picture {
            d.frames += 1;
            (d.width, d.height, d.luma_mean) = (width, height, luma_mean);
            d.luma_max = d.luma_max.max(luma_mean);
        }
        d.errors = errors;
    }

    /// Counts a decoded picture or an audio packet of the remote stream `stream`.
    pub fn stream(&self, stream: &str, decoded_frame: bool, audio_packet: bool) {
        let mut m = self.by_stream.lock().expect("stream-count lock is never poisoned");
        if !m.contains_key(stream) {
            m.insert(stream.to_owned(), StreamCounts::default());
        }
        let c = m.get_mut(stream).expect("inserted above");
        c.frames_decoded += u64::from(decoded_frame);
        c.audio_packets += u64::from(audio_packet);
    }

    pub fn by_stream(&self) -> std::collections::BTreeMap<String, StreamCounts> {
        self.by_stream.lock().expect("stream-count lock is never poisoned").clone()
    }

    pub fn audio_packet(&self, bytes: usize) {
        self.audio_packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Records a bitrate limit (REMB) received for this side's video.
    pub fn bitrate_limit(&self, bits_per_second: f64) {
        let bps = bits_per_second.max(1.0) as u64;
        self.bitrate_limit.store(bps, Ordering::Relaxed);
        let _ = self
            .bitrate_limit_lowest
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |lowest| (lowest == 0 || bps < lowest).then_some(bps));
    }

    pub fn chat(&self) {
        self.chat_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            video_packets: self.video_packets.load(Ordering::Relaxed),
            audio_packets: self.audio_packets.load(Ordering::Relaxed),
            video_frames: self.video_frames.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            chat_received: self.chat_received.load(Ordering::Relaxed),
            first_video: self.first_video.get().copied(),
            first_frame: self.first_frame.get().copied(),
            decoded: *self.decoded.lock().expect("decoded-video lock is never poisoned"),
            bitrate_limit_bps: Some(self.bitrate_limit.load(Ordering::Relaxed)).filter(|b| *b > 0),
            bitrate_limit_lowest_bps: Some(self.bitrate_limit_lowest.load(Ordering::Relaxed)).filter(|b| *b > 0),
        }
    }
}
