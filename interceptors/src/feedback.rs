//! An interceptor at the application end of a connection's chain: it hands received keyframe
//! requests (PLI, FIR) and bitrate limits (REMB) to the application, and keeps the connection's
//! congestion-control estimate where the application can read it. All other RTCP goes on as
//! before. By default webrtc-rs consumes every RTCP packet: without this a relay never sees a
//! receiver ask for a keyframe (a receiver that joined between two keyframes then shows nothing
//! until the publisher's next one), a sender of recorded media cannot restart at a keyframe, and
//! nobody learns how much a receiver's link carries.
//! Used by the relay's connections and by the clients' (`xiaowu-media`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rtc::interceptor::{Attribute, Packet as InterceptorPacket, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;

use crate::intercept::{OnRead, ReadStep};

/// Its place in the interceptor chain: above every built-in one (nearest the application), so
/// they have seen the packets first — the congestion controller, wire-most, has attached its
/// estimate to the feedback that moved it by the time a packet gets here.
pub const SLOT: usize = 14_000;

/// Whether an RTCP packet asks for a keyframe.
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// The bitrate an RTCP packet asks the sender to stay under (REMB), in bits per second.
pub fn bitrate_limit(packet: &dyn rtc::rtcp::Packet) -> Option<f64> {
    packet.as_any().downcast_ref::<ReceiverEstimatedMaximumBitrate>().map(|r| f64::from(r.bitrate))
}

/// A connection's latest congestion-control estimate of what its path carries towards the
/// remote side, in bits per second (0: none yet). Shared between the interceptor and the
/// application.
#[derive(Debug, Clone, Default)]
pub struct PathEstimate(Arc<AtomicU64>);

impl PathEstimate {
    pub fn bits_per_second(&self) -> Option<f64> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            bps => Some(bps as f64),
        }
    }

    fn set(&self, bits_per_second: f64) {
        self.0.store(bits_per_second.max(1.0) as u64, Ordering::Relaxed);
    }
}

/// Marks received keyframe requests (PLI, FIR) and bitrate limits (REMB) for delivery to the
/// application, and records the congestion controller's estimate in a [`PathEstimate`].
#[derive(Default)]
pub struct FeedbackToApp {
    estimate: PathEstimate,
}

impl FeedbackToApp {
    /// Records the connection's estimate in `estimate` (where a congestion controller runs).
    pub fn new(estimate: PathEstimate) -> OnRead<Self> {
        OnRead::new(Self { estimate })
    }

    /// Without an estimate to keep (a client's connection).
    pub fn interceptor() -> OnRead<Self> {
        OnRead::new(Self::default())
    }
}

impl ReadStep for FeedbackToApp {
    fn read(&mut self, mut msg: TaggedPacket) -> Option<TaggedPacket> {
        if let Some(Attribute::TargetBitrateChanged { bits_per_second }) =
            msg.message.get(&Attribute::TargetBitrateChanged { bits_per_second: 0.0 })
        {
            self.estimate.set(*bits_per_second);
        }
        if let InterceptorPacket::Rtcp(packets) = &msg.message.packet {
            let wanted: Vec<Box<dyn rtc::rtcp::Packet>> = packets
                .iter()
                .filter(|p| is_keyframe_request(p.as_ref()) || bitrate_limit(p.as_ref()).is_some())
                .cloned()
                .collect();
            if wanted.is_empty() {
                return None;
            }
            msg.message.packet = InterceptorPacket::Rtcp(wanted);
            msg.message.add(Attribute::DeliverToApplication);
        }
        Some(msg)
    }
}
