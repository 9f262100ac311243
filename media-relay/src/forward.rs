//! Forwarding one publisher's track to one receiver: RTP out as it comes in, rewritten for the
//! receiver's connection, and keyframe requests back to the publisher.
//!
//! - [`Rewriter`] gives the receiver one continuous stream: its own SSRC, the payload type it
//!   negotiated, and sequence numbers and timestamps that go on smoothly when the publisher's
//!   source changes (a party that reconnected publishes with a new SSRC and new bases). A gap
//!   from loss stays a gap, so the receiver's NACKs name real packets.
//! - [`PublisherFeedback`] sends a PLI to the publisher at most every [`PLI_INTERVAL`]: on a
//!   receiver's PLI or FIR, when a receiver starts (it cannot decode before a keyframe), and when
//!   a receiver's queue overflowed. It also carries the room's bitrate limit to the publisher
//!   (REMB, see [`crate::bitrate`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtp::Packet;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::{broadcast, watch};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::rtp_transceiver::RtpSender;

/// Keyframe requests reach a publisher at most this often, however many receivers ask.
pub const PLI_INTERVAL: Duration = Duration::from_millis(500);

/// Rewrites a forwarded packet's header for one receiver.
#[derive(Debug, Clone)]
pub struct Rewriter {
    ssrc: u32,
    clock_step: u32,
    source: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    last: Option<(u16, u32)>,
}

impl Rewriter {
    /// `clock_step`: the timestamp advance assumed across a change of source (one frame: 3000
    /// at 90 kHz for video, 960 at 48 kHz for 20 ms of audio).
    pub fn new(ssrc: u32, clock_step: u32) -> Self {
        Self { ssrc, clock_step, source: None, seq_offset: 0, ts_offset: 0, last: None }
    }

    pub fn for_kind(ssrc: u32, kind: RtpCodecKind) -> Self {
        Self::new(ssrc, if kind == RtpCodecKind::Video { 3000 } else { 960 })
    }

    /// The receiver's copy of `packet` with payload type `pt`.
    pub fn rewrite(&mut self, mut packet: Packet, pt: u8) -> Packet {
        let h = &mut packet.header;
        if self.source != Some(h.ssrc) {
            // A new source: continue from where the receiver's stream stopped.
            let (next_seq, next_ts) = match self.last {
                Some((seq, ts)) => (seq.wrapping_add(1), ts.wrapping_add(self.clock_step)),
                None => (h.sequence_number, h.timestamp),
            };
            self.seq_offset = next_seq.wrapping_sub(h.sequence_number);
            self.ts_offset = next_ts.wrapping_sub(h.timestamp);
            self.source = Some(h.ssrc);
        }
        h.ssrc = self.ssrc;
        h.payload_type = pt;
        h.sequence_number = h.sequence_number.wrapping_add(self.seq_offset);
        h.timestamp = h.timestamp.wrapping_add(self.ts_offset);
        // The publisher's header extensions carry ids negotiated on its own connection.
        h.extension = false;
        h.extensions.clear();
        h.extensions_padding = 0;
        let newer = self.last.is_none_or(|(seq, _)| (h.sequence_number.wrapping_sub(seq) as i16) > 0);
        if newer {
            self.last = Some((h.sequence_number, h.timestamp));
        }
        packet
    }
}

/// Feedback to one publisher's video: keyframe requests, rate-limited, and bitrate limits.
#[derive(Default)]
pub struct PublisherFeedback {
    track: Mutex<Option<(Arc<dyn TrackRemote>, u32)>>,
    last: Mutex<Option<Instant>>,
    sent: std::sync::atomic::AtomicU64,
}

impl PublisherFeedback {
    /// The publisher's current video track (replaced when it reconnects).
    pub fn set_track(&self, track: Arc<dyn TrackRemote>, ssrc: u32) {
        *self.track.lock().expect("keyframe lock is never poisoned") = Some((track, ssrc));
        *self.last.lock().expect("keyframe lock is never poisoned") = None;
    }

    /// Asks the publisher for a keyframe unless one was asked for within [`PLI_INTERVAL`].
    pub async fn request_keyframe(&self) {
        let target = {
            let mut last = self.last.lock().expect("keyframe lock is never poisoned");
            if last.is_some_and(|at| at.elapsed() < PLI_INTERVAL) {
                return;
            }
            let target = self.track.lock().expect("keyframe lock is never poisoned").clone();
            if target.is_some() {
                *last = Some(Instant::now());
            }
            target
        };
        if let Some((track, media_ssrc)) = target {
            self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc };
            if let Err(e) = track.write_rtcp(vec![Box::new(pli)]).await {
                tracing::debug!(error = %e, "keyframe request not sent");
            }
        }
    }

    /// Asks the publisher to keep under `bits_per_second` (REMB, RFC draft-alvestrand-rmcat-remb:
    /// a sender's bandwidth estimate takes it as an upper bound). Nothing happens before the
    /// publisher's video has arrived.
    pub async fn limit_bitrate(&self, bits_per_second: f64) {
        let target = self.track.lock().expect("keyframe lock is never poisoned").clone();
        if let Some((track, media_ssrc)) = target {
            let remb = ReceiverEstimatedMaximumBitrate {
                sender_ssrc: 0,
                bitrate: bits_per_second as f32,
                ssrcs: vec![media_ssrc],
            };
            if let Err(e) = track.write_rtcp(vec![Box::new(remb)]).await {
                tracing::debug!(error = %e, "bitrate limit not sent");
            }
        }
    }

    /// Keyframe requests sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Counts what the relay forwarded (for the benchmark and the logs).
#[derive(Debug, Default)]
pub struct ForwardCounters {
    pub packets: std::sync::atomic::AtomicU64,
    pub bytes: std::sync::atomic::AtomicU64,
}

/// One receiver's copy of one publisher's track.
pub struct Forward {
    pub kind: RtpCodecKind,
    pub source: broadcast::Receiver<Packet>,
    pub track: Arc<TrackLocalStaticRTP>,
    pub sender: Arc<dyn RtpSender>,
    pub ssrc: u32,
    pub keyframes: Arc<PublisherFeedback>,
    pub counters: Arc<ForwardCounters>,
    /// The receiver's connection is up: before (and while it is down) packets are dropped, as
    /// they could not be encrypted for it anyway.
    pub receiver_up: watch::Receiver<bool>,
}

impl Forward {
    /// Forwards until `stop` or until the receiver's connection refuses packets.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let is_video = self.kind == RtpCodecKind::Video;
        if is_video {
            tokio::spawn(relay_feedback(self.track.clone(), self.keyframes.clone(), stop.clone()));
        }
        let mut rewriter = Rewriter::for_kind(self.ssrc, self.kind);
        let mut pt = None;
        let mut asked_first_keyframe = false;
        loop {
            let packet = tokio::select! {
                _ = stop.changed() => return,
                p = self.source.recv() => p,
            };
            let packet = match packet {
                Ok(p) => p,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(skipped = n, "receiver fell behind; asking for a keyframe");
                    if is_video {
                        self.keyframes.request_keyframe().await;
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if !*self.receiver_up.borrow() {
                continue;
            }
            if pt.is_none() {
                // Negotiated once the receiver answered; until then there is nowhere to send.
                pt = payload_type(&self.sender, self.kind).await;
                if pt.is_none() {
                    continue;
                }
            }
            if is_video && !asked_first_keyframe {
                asked_first_keyframe = true;
                self.keyframes.request_keyframe().await;
            }
            let len = packet.payload.len() as u64;
            let out = rewriter.rewrite(packet, pt.expect("checked above"));
            if self.track.write_rtp(out).await.is_err() {
                // The receiver's connection is gone: every further packet would fail the same way.
                return;
            }
            self.counters.packets.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.counters.bytes.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// A receiver's keyframe requests (PLI, FIR) about a forwarded video go to its publisher.
async fn relay_feedback(
    track: Arc<TrackLocalStaticRTP>,
    keyframes: Arc<PublisherFeedback>,
    stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let Some(TrackLocalEvent::OnRtcpPacket(packets)) = track.poll().await else {
            // Not bound yet, or unbound: look again shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let wants_keyframe = packets.iter().any(|p| crate::feedback::is_keyframe_request(p.as_ref()));
        if wants_keyframe {
            keyframes.request_keyframe().await;
        }
    }
}

/// The payload type the receiver negotiated for the track's codec, by codec name.
pub async fn payload_type(sender: &Arc<dyn RtpSender>, kind: RtpCodecKind) -> Option<u8> {
    let want = crate::participant::codec(kind).mime_type;
    let params = sender.get_parameters().await.ok()?;
    params
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&want))
        .map(|c| c.payload_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(ssrc: u32, seq: u16, ts: u32) -> Packet {
        let mut p = Packet::default();
        p.header.ssrc = ssrc;
        p.header.sequence_number = seq;
        p.header.timestamp = ts;
        p.header.payload_type = 120;
        p
    }

    #[test]
    fn a_new_source_continues_the_receivers_stream_and_gaps_stay_gaps() {
        let mut r = Rewriter::new(77, 3000);
        let a = r.rewrite(packet(1, 100, 9_000), 96);
        assert_eq!(
            (a.header.ssrc, a.header.payload_type, a.header.sequence_number, a.header.timestamp),
            (77, 96, 100, 9_000)
        );
        let b = r.rewrite(packet(1, 103, 12_000), 96);
        assert_eq!((b.header.sequence_number, b.header.timestamp), (103, 12_000), "loss stays visible");
        // The publisher reconnected: new SSRC, new bases near the wrap point.
        let c = r.rewrite(packet(2, 65_535, 4_294_967_000), 96);
        assert_eq!((c.header.sequence_number, c.header.timestamp), (104, 15_000));
        let d = r.rewrite(packet(2, 0, 4_294_967_000u32.wrapping_add(3000)), 96);
        assert_eq!((d.header.sequence_number, d.header.timestamp), (105, 18_000));
        // A late (reordered) packet keeps its place and does not move the stream's end.
        let late = r.rewrite(packet(2, 65_534, 4_294_964_000), 96);
        assert_eq!(late.header.sequence_number, 103);
        let e = r.rewrite(packet(2, 1, 4_294_967_000u32.wrapping_add(6000)), 96);
        assert_eq!(e.header.sequence_number, 106);
    }
}
