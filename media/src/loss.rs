//! Simulated packet loss on the receiving side, for exercising loss repair on a machine whose
//! loopback never loses anything: every Nth video packet of a primary stream is dropped where it
//! enters the connection, before the NACK generator sees it, exactly as a lossy link would drop
//! it. Retransmissions on an RTX stream are never dropped, so the repair path is what the test
//! observes (`agent-console --simulate-loss N`).

use std::collections::HashSet;

use interceptors::intercept::{OnRead, ReadStep};
use rtc::interceptor::{Packet as InterceptorPacket, StreamInfo, TaggedPacket};

/// Nearer the wire than every built-in interceptor (the congestion controller is at 1,000).
pub const SLOT: usize = 500;

/// Drops every `every`th packet of the remote video streams.
pub struct SimulatedLoss {
    every: u32,
    seen: u32,
    video: HashSet<u32>,
    /// Repair (RTX) streams, never dropped.
    repair: HashSet<u32>,
}

impl SimulatedLoss {
    pub fn every(every: u32) -> OnRead<Self> {
        OnRead::new(Self { every: every.max(2), seen: 0, video: HashSet::new(), repair: HashSet::new() })
    }
}

impl ReadStep for SimulatedLoss {
    fn read(&mut self, msg: TaggedPacket) -> Option<TaggedPacket> {
        if let InterceptorPacket::Rtp(packet) = &msg.message.packet {
            if self.video.contains(&packet.header.ssrc) {
                self.seen += 1;
                if self.seen.is_multiple_of(self.every) {
                    return None;
                }
            }
        }
        Some(msg)
    }

    fn bind_remote(&mut self, info: &StreamInfo) {
        // A primary stream names its repair stream, which is then bound on its own (with the
        // primary's codec): that one is never dropped.
        if let Some(rtx) = info.ssrc_rtx {
            self.repair.insert(rtx);
            self.video.remove(&rtx);
        }
        if info.mime_type.to_ascii_lowercase().starts_with("video/") && !self.repair.contains(&info.ssrc) {
            self.video.insert(info.ssrc);
        }
    }

    fn unbind_remote(&mut self, info: &StreamInfo) {
        self.video.remove(&info.ssrc);
    }
}
