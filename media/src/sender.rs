//! Sends the bundled sample media on local tracks: VP8 frames from an IVF file and Opus pages
//! from an Ogg file, paced in real time and looped until the call ends.
//!
//! The samples (`media/assets/`, made by `make-samples.sh` with ffmpeg): a 4 s 320×240 15 fps
//! VP8 test pattern with a keyframe every second (126 KB), and a 4 s 440 Hz stereo Opus tone in
//! 20 ms pages (29 KB). A keyframe request (PLI or FIR: a receiver joined, or lost a packet)
//! starts the video again at its first frame, a keyframe, as a camera's encoder would send one.
//! A bitrate limit (REMB, from the relay) is recorded for the call's report; the samples are
//! fixed files (about 250 kb/s together), so there is nothing to adapt.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::media::io::ivf_reader::IVFReader;
use rtc::media::io::ogg_reader::OggReader;
use rtc::media::Sample;
use rtc::rtp_transceiver::PayloadType;
use tokio::sync::watch;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::Track;

use crate::counters::Counters;
use crate::MediaError;

pub static TEST_PATTERN_IVF: &[u8] = include_bytes!("../assets/test-pattern.ivf");
pub static TONE_OGG: &[u8] = include_bytes!("../assets/tone.ogg");

/// Sends VP8 frames until `stop` turns true or a write fails (the peer is gone).
pub async fn send_video(
    track: Arc<TrackLocalStaticSample>,
    payload_type: PayloadType,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Result<u64, MediaError> {
    let ssrc = *track.ssrcs().await.first().ok_or(MediaError::Negotiation("video track has no SSRC"))?;
    let mut sent = 0u64;
    let keyframe_wanted = Arc::new(AtomicBool::new(false));
    tokio::spawn(watch_feedback(track.clone(), keyframe_wanted.clone(), counters, stop.clone()));
    loop {
        let (mut ivf, header) =
            IVFReader::new(Cursor::new(TEST_PATTERN_IVF)).map_err(|e| MediaError::Sample(e.to_string()))?;
        let frame_time = Duration::from_millis(
            (1000 * header.timebase_numerator as u64) / header.timebase_denominator.max(1) as u64,
        );
        let mut ticker = tokio::time::interval(frame_time);
        while let Ok((frame, _)) = ivf.parse_next_frame() {
            if keyframe_wanted.swap(false, Ordering::Relaxed) {
                break; // the file's first frame is a keyframe
            }
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => return Ok(sent),
            }
            if *stop.borrow() {
                return Ok(sent);
            }
            let sample = Sample { data: frame.freeze(), duration: frame_time, ..Sample::new(Instant::now()) };
            // After the peer closes every write fails: stop at the first failure.
            if track.sample_writer(ssrc, payload_type).write_sample(&sample).await.is_err() {
                return Ok(sent);
            }
            sent += 1;
        }
    }
}

/// Sets `wanted` whenever the receiver asks for a keyframe; records bitrate limits.
async fn watch_feedback(
    track: Arc<TrackLocalStaticSample>,
    wanted: Arc<AtomicBool>,
    counters: Arc<Counters>,
    stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        match track.poll().await {
            Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                if packets.iter().any(|p| interceptors::feedback::is_keyframe_request(p.as_ref())) {
                    wanted.store(true, Ordering::Relaxed);
                }
                if let Some(limit) = packets.iter().find_map(|p| interceptors::feedback::bitrate_limit(p.as_ref())) {
                    counters.bitrate_limit(limit);
                }
            }
            Some(_) => {}
            // Not bound to a connection (yet, or any more).
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Sends Opus pages until `stop` turns true or a write fails.
pub async fn send_audio(
    track: Arc<TrackLocalStaticSample>,
    payload_type: PayloadType,
    mut stop: watch::Receiver<bool>,
) -> Result<u64, MediaError> {
    let ssrc = *track.ssrcs().await.first().ok_or(MediaError::Negotiation("audio track has no SSRC"))?;
    let mut sent = 0u64;
    loop {
        let (mut ogg, _) =
            OggReader::new(Cursor::new(TONE_OGG), true).map_err(|e| MediaError::Sample(e.to_string()))?;
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        let mut last_granule = 0u64;
        while let Ok((page, header)) = ogg.parse_next_page() {
            let samples = header.granule_position.saturating_sub(last_granule);
            last_granule = header.granule_position;
            if samples == 0 {
                continue; // header pages carry no audio
            }
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => return Ok(sent),
            }
            if *stop.borrow() {
                return Ok(sent);
            }
            let duration = Duration::from_micros(samples * 1_000_000 / 48_000);
            let sample = Sample { data: page.freeze(), duration, ..Sample::new(Instant::now()) };
            if track.sample_writer(ssrc, payload_type).write_sample(&sample).await.is_err() {
                return Ok(sent);
            }
            sent += 1;
        }
    }
}
