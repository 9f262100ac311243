//! Retransmissions (RFC 4588 RTX) turned back into the packets they repair before the NACK
//! generator sees them.
//!
//! webrtc-rs unwraps an RTX packet only at the application end of the chain, so its NACK generator
//! never learns that a lost packet came back: it asks again every interval until it gives up, and
//! the sender resends the same packet many times (measured: 323 retransmissions for 35 lost
//! packets). It also keeps a receive log for the RTX stream itself. This interceptor sits just
//! below the generator and rewrites an RTX packet into the original one — the primary stream's
//! SSRC and payload type, the original sequence number from the first two bytes of the payload —
//! so the generator, the receiver reports and the application all see the repaired stream. The
//! retransmission statistics are counted before the chain, on the RTX stream, as before. An RTX
//! packet without an original sequence number (a bandwidth probe of padding) is dropped.
//! Used by the relay's connections and by the clients' (`xiaowu-media`).

use std::collections::HashMap;

use rtc::interceptor::{Packet as InterceptorPacket, StreamInfo, TaggedPacket};

use crate::intercept::{OnRead, ReadStep};

/// Just below the NACK generator (7,000), above the FEC decoder (6,000).
pub const SLOT: usize = 6_900;

/// Rewrites RTX packets into the packets they repair (an interceptor: [`RtxUnwrap::interceptor`]).
#[derive(Default)]
pub struct RtxUnwrap {
    /// RTX SSRC → (primary SSRC, primary payload type).
    repairs: HashMap<u32, (u32, u8)>,
}

impl RtxUnwrap {
    pub fn interceptor() -> OnRead<Self> {
        OnRead::new(Self::default())
    }
}

/// The original packet inside an RTX packet; None for one without an original sequence number.
pub fn unwrap(mut packet: rtc::rtp::Packet, primary_ssrc: u32, primary_payload_type: u8) -> Option<rtc::rtp::Packet> {
    if packet.payload.len() < 2 {
        return None;
    }
    let original = u16::from_be_bytes([packet.payload[0], packet.payload[1]]);
    packet.payload = packet.payload.slice(2..);
    packet.header.ssrc = primary_ssrc;
    packet.header.payload_type = primary_payload_type;
    packet.header.sequence_number = original;
    // Padding belonged to the RTX packet, not to the original.
    packet.header.padding = false;
    Some(packet)
}

impl ReadStep for RtxUnwrap {
    fn read(&mut self, mut msg: TaggedPacket) -> Option<TaggedPacket> {
        if let InterceptorPacket::Rtp(packet) = &msg.message.packet {
            if let Some(&(ssrc, payload_type)) = self.repairs.get(&packet.header.ssrc) {
                let InterceptorPacket::Rtp(packet) =
                    std::mem::replace(&mut msg.message.packet, InterceptorPacket::Rtcp(vec![]))
                else {
                    unreachable!("matched above")
                };
                msg.message.packet = InterceptorPacket::Rtp(unwrap(packet, ssrc, payload_type)?);
            }
        }
        Some(msg)
    }

    fn bind_remote(&mut self, info: &StreamInfo) {
        if let (Some(rtx), Some(_)) = (info.ssrc_rtx, info.payload_type_rtx) {
            self.repairs.insert(rtx, (info.ssrc, info.payload_type));
        }
    }

    fn unbind_remote(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.repairs.remove(&rtx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rtx_packet_becomes_the_packet_it_repairs() {
        let rtx = rtc::rtp::Packet {
            header: rtc::rtp::Header {
                ssrc: 2222,
                payload_type: 97,
                sequence_number: 5,
                timestamp: 90_000,
                marker: true,
                ..Default::default()
            },
            payload: bytes::Bytes::from_static(&[0x12, 0x34, 0xAA, 0xBB]),
        };
        let original = unwrap(rtx, 1111, 96).expect("an original sequence number");
        let h = &original.header;
        assert_eq!(
            (h.ssrc, h.payload_type, h.sequence_number, h.timestamp, h.marker),
            (1111, 96, 0x1234, 90_000, true)
        );
        assert_eq!(&original.payload[..], &[0xAA, 0xBB]);
        // A padding-only probe has nothing to give back.
        let probe = rtc::rtp::Packet { payload: bytes::Bytes::from_static(&[0x00]), ..Default::default() };
        assert!(unwrap(probe, 1111, 96).is_none());
    }
}
